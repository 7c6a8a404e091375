"""versions.dpkg against dpkg itself: policy orderings, dpkg's refusals, real Debian versions.

dpkg is the Debian peer of PEERS.md; the real versions are the Debian security tracker's DSA
and DLA lists in ../shared/data (read in place).
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeward.vulndb.versions import InvalidVersion, scheme_for
from kubeward.vulndb.versions.dpkg import MAX_LENGTH, compare, parse

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg not installed")
TRACKER = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "debian" / "security-tracker"
)

# One shell for a whole batch: dpkg exits 0 when the relation holds, 1 when not, 2 on errors
# (which print to stderr, so callers assert on it).
_BATCH = """
while read -r a b; do
  if dpkg --compare-versions "$a" lt "$b"; then echo -1
  elif dpkg --compare-versions "$a" eq "$b"; then echo 0
  else echo 1; fi
done
"""


def dpkg_signs(pairs: Iterable[tuple[str, str]]) -> tuple[list[int], str]:
    """dpkg's -1/0/1 for each pair, and what it printed to stderr."""
    pairs = list(pairs)
    proc = subprocess.run(
        ["sh", "-c", _BATCH],
        input="".join(f"{a} {b}\n" for a, b in pairs),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    signs = [int(line) for line in proc.stdout.split()]
    assert len(signs) == len(pairs)
    return signs, proc.stderr


def verrevcmp(a: str, b: str) -> int:
    """A plain port of dpkg's character loop, to check large sorts without a subprocess each."""

    def order(char: str) -> int:
        if char.isalpha():
            return ord(char)
        return -1 if char == "~" else ord(char) + 256

    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return ac - bc
            i, j = i + 1, j + 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i, j = i + 1, j + 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def reference_compare(a: str, b: str) -> int:
    """dpkg's dpkg_version_compare over the port above, for valid versions."""

    def split(text: str) -> tuple[int, str, str]:
        epoch, colon, rest = text.partition(":")
        if not colon:
            epoch, rest = "0", text
        upstream, hyphen, revision = rest.rpartition("-")
        return (int(epoch), upstream, revision) if hyphen else (int(epoch), rest, "")

    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    result = (ea > eb) - (ea < eb) or verrevcmp(ua, ub) or verrevcmp(ra, rb)
    return (result > 0) - (result < 0)


# (lower, higher): policy 5.6.12's rules, each row also checked against dpkg below.
ORDERED = [
    ("1.0~rc1", "1.0"),  # '~' sorts before the end
    ("1.0~~", "1.0~"),
    ("1.0~~a", "1.0~"),
    ("2.0~beta1", "2.0~rc1"),
    ("3.0.0~git20240101", "3.0.0"),
    ("2.0", "1:0.1"),  # the epoch wins
    ("0:9.9", "1:0.1"),
    ("1.0-1", "1.0-1+deb11u1"),
    ("2.36-9+deb12u4", "2.36-9+deb12u7"),
    ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),  # digit runs compare as numbers
    ("1.9", "1.10"),
    ("1.0-9", "1.0-10"),
    ("1.0-1~bpo11+1", "1.0-1"),
    ("1.2.3~rc1-1", "1.2.3-1"),
    ("1.0", "1.0-1"),
    ("1.0-0.1", "1.0-1"),
    ("1.0", "1.0a"),  # the end sorts before a letter
    ("1.0Z", "1.0a"),  # letters by ASCII
    ("1.0a", "1.0+"),  # letters sort before non-letters
    ("1.0+", "1.0."),
    ("1.0+dfsg-1", "1.0.1-1"),
    ("9.2.1-1ubuntu1", "9.2.1-1+b1"),
    ("1.0~", "1.0"),
    ("0~", "0"),  # a text starting with "0" still pads correctly
    ("1.2.3-4-1", "1.2.3-5-1"),  # upstream may hold '-' when there is a revision
    ("1:2:3", "1:2:4"),  # and ':' when there is an epoch
    ("99999999999999999999", "100000000000000000000"),  # past 64 bits
]

EQUAL = [
    ("1.0", "1.0-0"),
    ("1.0", "0:1.0"),
    ("1.0", "1.00"),
    ("01.0", "1.0"),
    ("1:1.0", "01:1.0"),
    ("1.0-01", "1.0-1"),
    ("1.0-0", "1.0-00"),
    ("1.0~rc1", "1.0~rc01"),
]


@pytest.mark.parametrize(("low", "high"), ORDERED)
def test_policy_orderings(low: str, high: str) -> None:
    assert compare(low, high) == -1
    assert compare(high, low) == 1
    assert parse(low) < parse(high)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_spellings(a: str, b: str) -> None:
    assert compare(a, b) == 0
    assert parse(a) == parse(b)


@needs_dpkg
def test_tables_agree_with_dpkg() -> None:
    pairs = ORDERED + EQUAL
    signs, stderr = dpkg_signs(pairs)
    assert stderr == ""
    assert signs == [-1] * len(ORDERED) + [0] * len(EQUAL)


def test_parse_gives_epoch_and_encoded_parts() -> None:
    key = parse("2:1.0~rc1-3")
    assert key[0] == 2
    assert parse("1.0") == (0, "\x01\x011\u012e\x01\x00\x01\x00", "\x01\x00\x01\x00")
    assert scheme_for("deb").parse is parse


# Upstream not starting with a digit: dpkg warns, then orders it. So do we.
WARNED_BUT_ORDERED = [("a1", "1", 1), ("1", "a1", -1), ("1:a", "1:b", -1), ("abc-1", "abc-1", 0)]


@pytest.mark.parametrize(("a", "b", "expected"), WARNED_BUT_ORDERED)
def test_upstream_not_starting_with_digit_is_ordered(a: str, b: str, expected: int) -> None:
    assert compare(a, b) == expected


@needs_dpkg
def test_upstream_not_starting_with_digit_agrees_with_dpkg() -> None:
    signs, stderr = dpkg_signs((a, b) for a, b, _ in WARNED_BUT_ORDERED)
    assert signs == [expected for _, _, expected in WARNED_BUT_ORDERED]
    assert "version number does not start with digit" in stderr
    assert "error" not in stderr


# Where dpkg refuses a version, with dpkg's own reason.
DPKG_REFUSES = [
    (":1.0", "epoch in version is empty"),
    ("a:1.0", "epoch in version is empty"),  # dpkg's strtol read no number
    ("1a:1.0", "epoch in version is not number"),
    ("1:", "nothing after colon in version number"),
    ("1.0-", "revision number is empty"),
    ("1:1.0-", "revision number is empty"),
    ("1:-1", "version number is empty"),
    ("2147483648:1.0", "epoch in version is too big"),
    ("99999999999999999999:1.0", "epoch in version is too big"),
]


@pytest.mark.parametrize(("text", "reason"), DPKG_REFUSES)
def test_refuses_what_dpkg_refuses(text: str, reason: str) -> None:
    with pytest.raises(InvalidVersion, match=re.escape(reason)):
        parse(text)
    with pytest.raises(InvalidVersion, match=re.escape(reason)):
        compare("1.0", text)


@needs_dpkg
def test_dpkg_refuses_them_too() -> None:
    for text, reason in DPKG_REFUSES:
        proc = subprocess.run(
            ["dpkg", "--compare-versions", text, "eq", "1.0"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, text
        assert f"version '{text}' has bad syntax: {reason}" in proc.stderr


def test_epoch_at_int_max_is_accepted() -> None:
    assert parse("2147483647:1.0")[0] == 2147483647


# Stricter than dpkg, which trims, warns or reads a C long here.
STRICTER = [
    ("", "version string is empty"),
    (" ", "spaces"),
    ("1.0 1", "version string has embedded spaces"),
    ("1.0 -1", "version string has embedded spaces"),
    (" 1.0", "spaces"),
    ("1.0\t", "spaces"),
    ("1.0\n", "spaces"),
    ("1.0\u00a0", "spaces"),
    ("1.0\x00", "invalid character in version number"),
    ("1.0\x1b[31m", "invalid character in version number"),
    ("1.0\x7f", "invalid character in version number"),
    ("1.0_1", "invalid character in version number"),
    ("1.0é", "invalid character in version number"),
    ("١.0", "invalid character in version number"),  # an Arabic-Indic digit
    ("1.0-1_2", "invalid character in revision number"),
    ("1:1.0-1:2", "invalid character in revision number"),
    ("+1:1.0", "epoch in version is not number"),
    ("-1:1.0", "epoch in version is not number"),
    ("١:1.0", "epoch in version is empty"),
]


@pytest.mark.parametrize(("text", "reason"), STRICTER)
def test_refuses_text_no_package_carries(text: str, reason: str) -> None:
    with pytest.raises(InvalidVersion, match=re.escape(reason)):
        parse(text)


def test_refuses_non_strings() -> None:
    with pytest.raises(InvalidVersion, match="not a version string: bytes"):
        parse(cast(Any, b"1.0"))


@pytest.mark.parametrize(
    "text",
    ["1" * 100_000, "1." * 50_000, "~" * 100_000, "1:" + "a" * 100_000, "\x00" * 100_000],
)
def test_huge_input_is_refused_quickly(text: str) -> None:
    started = time.process_time()
    with pytest.raises(InvalidVersion, match=f"longer than {MAX_LENGTH} characters"):
        parse(text)
    assert time.process_time() - started < 0.01


def test_longest_accepted_version() -> None:
    longest = "1." * (MAX_LENGTH // 2 - 1) + "99"
    assert len(longest) == MAX_LENGTH
    assert compare(longest, longest) == 0
    assert compare(longest[:-1] + "8", longest) == -1
    with pytest.raises(InvalidVersion):
        parse(longest + "9")


# --- property tests ---------------------------------------------------------------------------

DIGITS = st.sampled_from(["0", "00", "1", "01", "2", "9", "10", "010", "12345678901234567890"])
RUNS = st.sampled_from(["a", "b", "z", "A", "Z", "~", "~~", "+", ".", "rc", "dfsg", "deb12u"])


@st.composite
def versions(draw: st.DrawFn) -> str:
    """Debian-shaped versions from a small alphabet, so that near-equal pairs are common."""
    epoch = draw(st.sampled_from(["", "", "0:", "1:", "2:", "01:"]))
    revision = draw(st.none() | st.lists(DIGITS | RUNS, min_size=1, max_size=5).map("".join))
    inner = [s for s, allowed in (("-", revision is not None), (":", bool(epoch))) if allowed]
    tokens = DIGITS | RUNS | st.sampled_from(inner) if inner else DIGITS | RUNS
    upstream = draw(DIGITS) + "".join(draw(st.lists(tokens, max_size=6)))
    return epoch + upstream + ("" if revision is None else "-" + revision)


def near(version: str) -> st.SearchStrategy[str]:
    edits = ["~", "~rc1", ".0", "a", "+1", "-0", "-1", ".", "0", "1"]
    return st.sampled_from([version, "1:" + version] + [version + edit for edit in edits])


PAIRS = st.one_of(
    st.tuples(versions(), versions()),
    versions().flatmap(lambda a: near(a).map(lambda b: (a, b))),
)


@needs_dpkg
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(PAIRS, min_size=40, max_size=40))
def test_compare_agrees_with_dpkg(pairs: list[tuple[str, str]]) -> None:
    signs, stderr = dpkg_signs(pairs)
    assert stderr == ""
    assert [compare(a, b) for a, b in pairs] == signs


@settings(max_examples=300, deadline=None)
@given(PAIRS, versions())
def test_key_order_is_the_reference_order(pair: tuple[str, str], third: str) -> None:
    a, b = pair
    assert compare(a, b) == reference_compare(a, b) == -compare(b, a)
    assert (parse(a) == parse(b)) == (compare(a, b) == 0)
    ordered = sorted([a, b, third], key=parse)
    assert reference_compare(ordered[0], ordered[1]) <= 0
    assert reference_compare(ordered[1], ordered[2]) <= 0
    assert compare(a + "~", a) == -1


# --- real versions ----------------------------------------------------------------------------

_TRACKER_LINE = re.compile(r"^\t\[\w+\] - \S+ (\S+)")


def tracker_versions() -> list[str]:
    data = TRACKER / "data"
    if not data.is_dir():
        pytest.skip("shared/data/debian/security-tracker not present")
    found: set[str] = set()
    for name in ("DSA/list", "DLA/list"):
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            match = _TRACKER_LINE.match(line)
            if match and not match[1].startswith("<"):  # <unfixed>, <not-affected> ...
                found.add(match[1])
    return sorted(found)


def test_every_security_tracker_version_parses() -> None:
    found = tracker_versions()
    assert len(found) == 10002
    refused = []
    for version in found:
        try:
            parse(version)
        except InvalidVersion:
            refused.append(version)
    assert refused == []


@needs_dpkg
def test_security_tracker_versions_sort_as_dpkg_sorts_them() -> None:
    sample = [v for v in tracker_versions() if v[0].isdigit()][::17]
    ordered = sorted(sample, key=parse)
    neighbours = list(itertools.pairwise(ordered))
    signs, stderr = dpkg_signs(neighbours)
    assert stderr == ""
    assert signs == [compare(a, b) for a, b in neighbours]
    assert set(signs) <= {-1, 0}
    assert len(neighbours) == 588


def test_sorting_100k_versions_by_key_is_fast_and_right() -> None:
    rng = random.Random(5612)
    tails = ["", "~rc1", "+dfsg", "a", "~bpo1", ".1"]
    revisions = ["", "+deb12u1", "ubuntu0.22.04.1", "~bpo11+1", "+b2"]

    def one() -> str:
        epoch = f"{rng.randint(0, 3)}:" if rng.random() < 0.2 else ""
        upstream = ".".join(str(rng.randint(0, 30)) for _ in range(rng.randint(1, 4)))
        upstream += rng.choice(tails)
        revision = f"-{rng.randint(0, 12)}{rng.choice(revisions)}" if rng.random() < 0.8 else ""
        return epoch + upstream + revision

    texts = [one() for _ in range(100_000)]
    keys = [(parse(text), text) for text in texts]
    started = time.process_time()
    keys.sort()
    elapsed = time.process_time() - started
    assert elapsed < 1.0, f"sorting 100,000 keys took {elapsed:.2f} s"
    ordered = [text for _, text in keys]
    for a, b in zip(ordered[::50], ordered[1::50], strict=True):
        assert reference_compare(a, b) <= 0, (a, b)
