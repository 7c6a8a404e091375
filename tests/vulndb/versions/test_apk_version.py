"""versions.apk: apk-tools' ordering rules as tables, a token-by-token model, real Alpine data.

No apk binary runs here, so the checks are (1) orderings that follow from apk-tools' rules
(its version.c and its test vectors' kinds of cases; the rows are written here), (2) a plain
model of apk's token loop that the sort key must agree with on generated versions, and (3) the
Alpine secdb in ../shared/data, whose versions must all parse except its known typos.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.vulndb.versions import InvalidVersion, scheme_for
from kubeward.vulndb.versions.apk import MAX_LENGTH, compare, parse

SECDB = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "alpine" / "alpine-secdb"

# (lower, higher), each with the rule it shows.
ORDERED = [
    ("1.2.3-r0", "1.2.3-r1"),  # revisions compare as numbers
    ("1.2.3-r9", "1.2.3-r10"),
    ("1.2.3", "1.2.3-r0"),  # no revision is lower than -r0
    ("1.2.3_rc1", "1.2.3"),  # pre-release suffixes sort before none ...
    ("1.2.3", "1.2.3_p1"),  # ... post-release ones after
    ("1.0_alpha", "1.0_beta"),  # alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p
    ("1.0_beta", "1.0_pre"),
    ("1.0_pre", "1.0_rc"),
    ("1.0_rc", "1.0"),
    ("1.0", "1.0_cvs"),
    ("1.0_cvs", "1.0_svn"),
    ("1.0_svn", "1.0_git"),
    ("1.0_git", "1.0_hg"),
    ("1.0_hg", "1.0_p"),
    ("1.0_alpha", "1.0_alpha1"),  # a suffix number is more than none
    ("1.0_alpha0", "1.0_alpha1"),
    ("1.0_rc9", "1.0_rc10"),
    ("1.0_p9-r0", "1.0_p10-r0"),
    ("1.0_alpha_pre1", "1.0_alpha"),  # a further pre-release suffix is lower
    ("1.0_alpha", "1.0_alpha_p1"),
    ("1.0.0_pre20191002222144-r0", "1.0.0_pre20210530193627-r0"),
    ("1.2.3a", "1.2.3b"),  # one letter after the digits
    ("1.2.3", "1.2.3a"),
    ("1.2.3_p1", "1.2.3a"),  # a letter outranks any suffix
    ("1.2.3a", "1.2.3.1"),  # another digit group outranks a letter
    ("1.2.3z", "1.2.4"),
    ("2.36-r1", "2.36.1-r0"),  # another digit group outranks a revision
    ("2.36_p1-r9", "2.36.1"),
    ("1.9", "1.10"),  # numbers, not text
    ("1.10", "1.11"),
    ("9", "10"),
    ("1.2", "1.2.0"),  # more groups is higher, even a zero
    ("1.0", "1.00"),  # a leading zero compares as text
    ("1.00", "1.01"),
    ("1.01", "1.1"),  # text: '0' < '1'
    ("1.09", "1.1"),
    ("1.02.07", "1.02.10"),
    ("1.005", "1.05"),
    ("1.009", "1.01"),  # "009" < "01" as text
    ("006", "7"),  # but the first group is always a number
    ("3.0.20060720", "20060720"),
    ("1.0-r5", "1.0_p1"),  # a suffix outranks a revision
    ("1.0~abc", "1.0~abd"),  # commit hashes compare as text
    ("1.0~abc", "1.0~abcd"),
    ("1.0", "1.0~abc"),  # a hash outranks the end ...
    ("1.0-r1", "1.0~abc"),  # ... and a revision
    ("1.0~abc", "1.0_p1"),  # but not a suffix
    ("1.0~abc-r1", "1.0~abc-r2"),
    ("1.0_rc1~abc", "1.0"),
    ("99999999999999999999", "100000000000000000000"),  # past 64 bits
]

EQUAL = [
    ("1.0", "1.0"),
    ("01.0", "1.0"),  # the first group is a number
    ("1.0-r01", "1.0-r1"),
    ("1.0_p01", "1.0_p1"),
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


def test_parse_gives_ranked_tokens() -> None:
    assert parse("1.02b_rc3~ab-r4") == (8, 1, 7, (0, "02"), 6, "b", 0, 4, 4, 3, 3, "ab", 2, 4, 1, 0)
    assert scheme_for("apk").parse is parse


# apk-tools calls these invalid (apk_version_validate fails).
INVALID = [
    "",
    " ",
    "1.0 ",
    " 1.0",
    "1.0\n",
    "1.0\x00",
    "1.0\x1b[31m",
    "a1.0",  # must start with a digit
    "١.0",  # an Arabic-Indic digit
    ".1",
    "1.",
    "1..2",
    "1.0bc",  # one letter only
    "1.0a.1",  # no digit group after the letter
    "1.0a1",
    "1.0A",  # lowercase letters only
    "1.0_foo",  # unknown suffix
    "1.0_",
    "1.0_RC1",
    "1.0_rc1a",
    "1.0-1",  # '-' must start a revision "-r<digits>"
    "1.0-r",
    "1.0-ra",
    "1.0-r1-r2",
    "1.0-r1_p1",  # nothing after the revision
    "1.0-r1~ab",
    "1.0~",  # an empty hash
    "1.0~xyz",  # not hex
    "1.0~ABC",  # apk's hex digits are lowercase
    "1.0~ab_p1",  # suffixes come before the hash
    "1.0~ab~cd",
    "1:1.0",  # no epochs
]


@pytest.mark.parametrize("text", INVALID)
def test_refuses_what_apk_calls_invalid(text: str) -> None:
    with pytest.raises(InvalidVersion, match=r"not an Alpine version|unknown suffix|is empty"):
        parse(text)
    with pytest.raises(InvalidVersion, match=re.escape(repr(text)) if text else "empty"):
        compare("1.0", text)


def test_unknown_suffix_is_named() -> None:
    with pytest.raises(InvalidVersion, match=re.escape("unknown suffix _foo in Alpine version")):
        parse("1.0_foo")
    with pytest.raises(InvalidVersion, match="version string is empty"):
        parse("")


def test_refuses_non_strings() -> None:
    with pytest.raises(InvalidVersion, match="not a version string: NoneType"):
        parse(cast(Any, None))


@pytest.mark.parametrize(
    "text", ["1" * 100_000, "1." * 50_000, "1" + "_p" * 50_000, "\x00" * 100_000]
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


# --- a model of apk-tools' token loop ---------------------------------------------------------

# apk-tools' token kinds, in its order.
INITIAL, DIGIT, LETTER, SUFFIX, SUFFIX_NO, HASH, REVISION, END = range(8)
SUFFIXES = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4}  # then NONE, then the post-releases
SUFFIXES |= {"cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}
NONE = 5


@dataclass
class Token:
    kind: int
    text: str = ""
    number: int = 0
    suffix: int = 0


def tokens(version: str) -> list[Token]:
    """apk's tokens of a version this module accepts, ending with END."""
    first = re.match(r"[0-9]+", version)
    assert first is not None
    found = [Token(INITIAL, first[0], int(first[0]))]
    pattern = re.compile(r"\.([0-9]+)|([a-z])|_([a-z]+)([0-9]*)|~([0-9a-f]+)|-r([0-9]+)")
    for match in pattern.finditer(version, first.end()):
        digits, letter, suffix, suffix_no, commit, revision = match.groups()
        if digits is not None:
            found.append(Token(DIGIT, digits, int(digits)))
        elif letter is not None:
            found.append(Token(LETTER, letter))
        elif suffix is not None:
            found.append(Token(SUFFIX, suffix, suffix=SUFFIXES[suffix]))
            if suffix_no:
                found.append(Token(SUFFIX_NO, suffix_no, int(suffix_no)))
        elif commit is not None:
            found.append(Token(HASH, commit))
        else:
            found.append(Token(REVISION, revision, int(revision)))
    return [*found, Token(END)]


def model_compare(a: str, b: str) -> int:
    """apk_version_compare: walk tokens while their kinds agree, then apk's tail rule."""
    ta, tb = tokens(a), tokens(b)
    i = 0
    while ta[i].kind == tb[i].kind and ta[i].kind < END:
        x, y = ta[i], tb[i]
        if x.kind == DIGIT and "0" in (x.text[0], y.text[0]):
            left: Any = x.text
            right: Any = y.text
        elif x.kind in (LETTER, HASH):
            left, right = x.text, y.text
        elif x.kind == SUFFIX:
            left, right = x.suffix, y.suffix
        else:
            left, right = x.number, y.number
        if left != right:
            return -1 if left < right else 1
        i += 1
    x, y = ta[i], tb[i]
    if x.kind == y.kind:
        return 0
    if x.kind == SUFFIX and x.suffix < NONE:
        return -1
    if y.kind == SUFFIX and y.suffix < NONE:
        return 1
    return -1 if x.kind > y.kind else 1


@pytest.mark.parametrize(("low", "high"), ORDERED)
def test_model_agrees_with_the_table(low: str, high: str) -> None:
    assert model_compare(low, high) == -1
    assert model_compare(high, low) == 1


NUMBERS = st.sampled_from(["0", "00", "1", "01", "2", "9", "10", "010"])


@st.composite
def parts(draw: st.DrawFn) -> tuple[str, ...]:
    """The five parts of an Alpine version, each drawn from a small alphabet."""
    groups = draw(NUMBERS) + "".join("." + n for n in draw(st.lists(NUMBERS, max_size=3)))
    letter = draw(st.sampled_from(["", "", "a", "b", "z"]))
    suffixes = ""
    for name in draw(st.lists(st.sampled_from(["alpha", "rc", "pre", "p", "git"]), max_size=2)):
        suffixes += "_" + name + draw(st.sampled_from(["", "0", "1", "2", "10"]))
    commit = draw(st.sampled_from(["", "", "~a", "~ab", "~b0"]))
    revision = draw(st.sampled_from(["", "-r0", "-r1", "-r10"]))
    return (groups, letter, suffixes, commit, revision)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two versions sharing a random subset of their parts, so that near-equal pairs are common."""
    a, other = draw(parts()), draw(parts())
    b = tuple(
        mine if draw(st.booleans()) else theirs for mine, theirs in zip(a, other, strict=True)
    )
    return "".join(a), "".join(b)


@settings(max_examples=1000, deadline=None)
@given(pairs(), parts().map("".join))
def test_key_order_is_apks_token_order(pair: tuple[str, str], third: str) -> None:
    a, b = pair
    expected = model_compare(a, b)
    assert compare(a, b) == expected == -compare(b, a)
    assert (parse(a) == parse(b)) == (expected == 0)
    ordered = sorted([a, b, third], key=parse)
    assert model_compare(ordered[0], ordered[1]) <= 0
    assert model_compare(ordered[1], ordered[2]) <= 0


# --- real versions ----------------------------------------------------------------------------


def secdb_versions() -> set[str]:
    if not SECDB.is_dir():
        pytest.skip("shared/data/alpine/alpine-secdb not present")
    found: set[str] = set()
    for path in sorted(SECDB.glob("v*/*.yaml")):
        # BaseLoader keeps every key a string: "1.10" must not become the float 1.1.
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
        for entry in document.get("packages") or []:
            found.update((entry["pkg"].get("secfixes") or {}).keys())
    return found


def test_alpine_secdb_versions_parse_except_its_typos() -> None:
    found = secdb_versions()
    refused = []
    for version in sorted(found):
        try:
            parse(version)
        except InvalidVersion:
            refused.append(version)
    assert len(found) == 1411
    # Typos in the secdb that apk-tools itself calls invalid.
    assert refused == [
        "0.12.5.-r0",
        "0.8.21.r2",
        "1.0.4.-r0",
        "1.11-20-r0",
        "1.18.-r2",
        "1.7.5.-r1",
        "10.2.22.r0",
        "10.2.24.r0",
        "10.2.26.r0",
        "2.15.r-r1",
        "2.7.16-33",
        "4.10-1-r1",
        "4.8.0.-r1",
        "57-1-r2",
        "6.6.2p1-r0",
    ]


def test_sorting_100k_versions_by_key_is_fast_and_right() -> None:
    rng = random.Random(2024)
    tails = ["", "_rc1", "_p2", "a", "_git20240101", "_alpha", "_pre3"]

    def one() -> str:
        version = ".".join(str(rng.randint(0, 30)) for _ in range(rng.randint(1, 4)))
        version += rng.choice(tails)
        return version + (f"-r{rng.randint(0, 12)}" if rng.random() < 0.9 else "")

    texts = [one() for _ in range(100_000)]
    keys = [(parse(text), text) for text in texts]
    started = time.process_time()
    keys.sort()
    elapsed = time.process_time() - started
    assert elapsed < 1.0, f"sorting 100,000 keys took {elapsed:.2f} s"
    ordered = [text for _, text in keys]
    for a, b in itertools.islice(itertools.pairwise(ordered), 0, None, 50):
        assert model_compare(a, b) <= 0, (a, b)
