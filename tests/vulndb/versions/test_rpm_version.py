"""versions.rpm against rpm 4.18 itself (`rpm.vercmp` in rpm's Lua), known orderings, bad input.

rpm is the Debian peer of PEERS.md.
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
import subprocess
import time
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeward.vulndb.versions import InvalidVersion, scheme_for
from kubeward.vulndb.versions.rpm import MAX_LENGTH, compare, parse

needs_rpm = pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm not installed")


def rpm_signs(pairs: list[tuple[str, str]]) -> list[int]:
    """rpm.vercmp(a, b) for each pair, from one rpm process."""
    for a, b in pairs:
        # Only characters that need no quoting in a Lua string nor in an rpm macro.
        assert re.fullmatch(r"[A-Za-z0-9._+~^:-]+", a + b), (a, b)
    table = ",".join(f'{{"{a}","{b}"}}' for a, b in pairs)
    script = (
        f"%{{lua: local out = {{}} for i, p in ipairs({{{table}}}) do"
        ' out[i] = rpm.vercmp(p[1], p[2]) end print(table.concat(out, " "))}'
    )
    proc = subprocess.run(
        ["rpm", "--eval", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stderr == ""
    signs = [int(word) for word in proc.stdout.split()]
    assert len(signs) == len(pairs)
    return signs


def rpmvercmp(a: str, b: str) -> int:
    """A plain port of rpm's rpmvercmp loop, to check large sorts without a subprocess."""
    if a == b:
        return 0
    i = j = 0

    def skip(text: str, k: int) -> int:
        while (
            k < len(text) and not (text[k].isascii() and text[k].isalnum()) and text[k] not in "~^"
        ):
            k += 1
        return k

    while i < len(a) or j < len(b):
        i, j = skip(a, i), skip(b, j)
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        if "~" in (ca, cb):
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if "^" in (ca, cb):
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        kind = str.isdigit if ca.isdigit() else str.isalpha
        ei, ej = i, j
        while ei < len(a) and kind(a[ei]):
            ei += 1
        while ej < len(b) and kind(b[ej]):
            ej += 1
        if ej == j:
            return 1 if kind is str.isdigit else -1
        sa, sb = a[i:ei], b[j:ej]
        if kind is str.isdigit:
            sa, sb = sa.lstrip("0"), sb.lstrip("0")
            if len(sa) != len(sb):
                return 1 if len(sa) > len(sb) else -1
        if sa != sb:
            return 1 if sa > sb else -1
        i, j = ei, ej
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def reference_compare(a: str, b: str) -> int:
    """rpmverCmp over the port above: epoch, version, then release (missing < any)."""

    def split(text: str) -> tuple[str, str, str | None]:
        match = re.match(r"([0-9]*):", text)
        epoch, rest = (match[1] or "0", text[match.end() :]) if match else ("0", text)
        version, hyphen, release = rest.rpartition("-")
        return (epoch, version, release) if hyphen else (epoch, rest, None)

    ea, va, ra = split(a)
    eb, vb, rb = split(b)
    result = rpmvercmp(ea, eb) or rpmvercmp(va, vb)
    if result == 0 and (ra, rb) != (None, None):
        if ra is None or rb is None:
            return -1 if ra is None else 1
        result = rpmvercmp(ra, rb)
    return result


# (lower, higher)
ORDERED = [
    ("1.0~rc1", "1.0"),  # '~' sorts before the end
    ("1.0~~", "1.0~"),
    ("1.0~rc1^git1", "1.0~rc2"),
    ("1.0", "1.0^git1"),  # '^' sorts after the end ...
    ("1.0^", "1.0.1"),  # ... but before any further segment
    ("1.0^git1", "1.0^git2"),
    ("1.0^git9", "1.0.1"),
    ("1.0", "1.0^"),
    ("1.0^", "1.0a"),
    ("1:9.9", "2:1.0"),  # the epoch wins
    ("0:9.9", "1:0.1"),
    ("9.9", "1:0.1"),  # a missing epoch is 0
    ("1.9", "1.10"),  # digit runs compare as numbers
    ("1.01", "1.2"),
    ("a", "1"),  # letters sort before digits
    ("1.0a", "1.0.1"),
    ("1.0", "1.0a"),  # what is left over wins
    ("1.0", "1.0.0"),
    ("Z", "a"),  # letters by ASCII
    ("abc", "abcd"),
    ("99999999999999999999", "100000000000000000000"),  # past 64 bits
    ("1.0", "1.0-1"),  # a missing release sorts before any release ...
    ("1.0", "1.0-~1"),  # ... even one that starts with '~'
    ("1.0-1", "1.0-2"),
    ("1.0-1", "1.0.1-0"),
    ("1.0-1.el8", "1.0-1.el9"),
    ("2.36-9.el9_2", "2.36-9.el9_3"),
    ("4.18.0-513.5.1.el8_9", "4.18.0-513.9.1.el8_9"),
    ("1.0-1~beta", "1.0-1"),
]

EQUAL = [
    ("1.0", "1_0"),  # any other character only separates
    ("1.0", "1..0"),
    ("1.0", "1.0."),
    ("1.0", "1.0+"),
    ("1.0", "0:1.0"),
    ("1.01", "1.1"),
    ("1.0-1", "1.0-01"),
    ("2:1.0-1.el9", "02:1.0-1.el9"),
]


@pytest.mark.parametrize(("low", "high"), ORDERED)
def test_known_orderings(low: str, high: str) -> None:
    assert compare(low, high) == -1
    assert compare(high, low) == 1
    assert parse(low) < parse(high)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_spellings(a: str, b: str) -> None:
    assert compare(a, b) == 0
    assert parse(a) == parse(b)


@needs_rpm
def test_tables_agree_with_rpm() -> None:
    signs = rpm_signs(ORDERED + EQUAL)
    assert signs == [-1] * len(ORDERED) + [0] * len(EQUAL)


def test_parse_gives_epoch_and_encoded_parts() -> None:
    assert parse("2:1.0a~-el9") == (
        2,
        "\x04\x011\x04\x00\x03a\x00\x00\x01",
        "\x03el\x00\x04\x019\x01",
    )
    assert parse("1.0") == (0, "\x04\x011\x04\x00\x01", "")
    assert scheme_for("rpm").parse is parse


# rpm itself compares any non-empty text; these are refused as no rpm header carries them.
REFUSED = [
    ("", "version string is empty"),
    (" ", "not an RPM"),
    ("1.0 ", "not an RPM"),
    (" 1.0", "not an RPM"),
    ("1.0\t1", "not an RPM"),
    ("1.0\n", "not an RPM"),
    ("1.0\x00", "not an RPM"),
    ("1.0\x1b[31m", "not an RPM"),
    ("1.0é", "not an RPM"),
    ("١.0", "not an RPM"),  # an Arabic-Indic digit
    (":1.0", "not an RPM"),  # empty epoch
    ("a:1.0", "not an RPM"),
    ("1:", "not an RPM"),
    ("-1", "not an RPM"),  # empty version
    ("1.0-", "not an RPM"),  # empty release
    ("1.0-1-2", "not an RPM"),  # '-' inside the version
    ("1.0-1:2", "not an RPM"),
    ("1.0%{?dist}", "not an RPM"),  # an unexpanded macro
    ("1,0", "not an RPM"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_refuses_text_no_package_carries(text: str, reason: str) -> None:
    with pytest.raises(InvalidVersion, match=re.escape(reason)):
        parse(text)
    with pytest.raises(InvalidVersion, match=re.escape(reason)):
        compare("1.0", text)


def test_refuses_non_strings() -> None:
    with pytest.raises(InvalidVersion, match="not a version string: int"):
        parse(cast(Any, 1))


@pytest.mark.parametrize(
    "text", ["1" * 100_000, "1." * 50_000, "~" * 100_000, "1:" + "a" * 100_000, "\x00" * 100_000]
)
def test_huge_input_is_refused_quickly(text: str) -> None:
    started = time.process_time()
    with pytest.raises(InvalidVersion, match=f"longer than {MAX_LENGTH} characters"):
        parse(text)
    assert time.process_time() - started < 0.01


def test_longest_accepted_version() -> None:
    longest = "1." * (MAX_LENGTH // 2 - 1) + "99"
    assert len(longest) == MAX_LENGTH
    assert compare(longest[:-1] + "8", longest) == -1
    with pytest.raises(InvalidVersion):
        parse(longest + "9")


# --- property tests ---------------------------------------------------------------------------

SEGMENTS = st.sampled_from(
    ["0", "00", "1", "01", "2", "9", "10", "010", "a", "b", "Z", "rc", "git", "el", "~", "^"]
)
SEPARATORS = st.sampled_from([".", "_", "+"])


def parts() -> st.SearchStrategy[str]:
    return st.lists(SEGMENTS | SEPARATORS, min_size=1, max_size=7).map("".join)


@st.composite
def versions(draw: st.DrawFn) -> str:
    """RPM-shaped versions from a small alphabet, so that near-equal pairs are common."""
    epoch = draw(st.sampled_from(["", "", "0:", "1:", "2:", "01:"]))
    release = draw(st.none() | parts())
    return epoch + draw(parts()) + ("" if release is None else "-" + release)


def near(version: str) -> st.SearchStrategy[str]:
    edits = ["~", "^", ".0", "a", "0", "1", "_", "~rc1", "^git1"]
    options = [version] + [version + edit for edit in edits]
    if "-" not in version:
        options += [version + "-1", version + "-~1"]
    if ":" not in version:
        options.append("1:" + version)
    return st.sampled_from(options)


PAIRS = st.one_of(
    st.tuples(versions(), versions()),
    versions().flatmap(lambda a: near(a).map(lambda b: (a, b))),
)


@needs_rpm
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(PAIRS, min_size=80, max_size=80))
def test_compare_agrees_with_rpm(pairs: list[tuple[str, str]]) -> None:
    assert [compare(a, b) for a, b in pairs] == rpm_signs(pairs)


@settings(max_examples=300, deadline=None)
@given(PAIRS, versions())
def test_key_order_is_the_reference_order(pair: tuple[str, str], third: str) -> None:
    a, b = pair
    assert compare(a, b) == reference_compare(a, b) == -compare(b, a)
    assert (parse(a) == parse(b)) == (compare(a, b) == 0)
    ordered = sorted([a, b, third], key=parse)
    assert reference_compare(ordered[0], ordered[1]) <= 0
    assert reference_compare(ordered[1], ordered[2]) <= 0


def test_sorting_100k_versions_by_key_is_fast_and_right() -> None:
    rng = random.Random(418)
    tails = ["", "~rc1", "^git20240101", "a", ".1", "_p1"]
    dists = ["el8", "el9_2", "el9_3", "fc40", "cm2", "1.1", "150400.3.1"]

    def one() -> str:
        epoch = f"{rng.randint(0, 3)}:" if rng.random() < 0.2 else ""
        version = ".".join(str(rng.randint(0, 30)) for _ in range(rng.randint(1, 4)))
        version += rng.choice(tails)
        release = f"-{rng.randint(0, 12)}.{rng.choice(dists)}" if rng.random() < 0.9 else ""
        return epoch + version + release

    texts = [one() for _ in range(100_000)]
    keys = [(parse(text), text) for text in texts]
    started = time.process_time()
    keys.sort()
    elapsed = time.process_time() - started
    assert elapsed < 1.0, f"sorting 100,000 keys took {elapsed:.2f} s"
    ordered = [text for _, text in keys]
    for a, b in itertools.islice(itertools.pairwise(ordered), 0, None, 50):
        assert reference_compare(a, b) <= 0, (a, b)
