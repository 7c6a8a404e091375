"""Cargo versions and requirements: the Cargo book's tables ("Specifying dependencies"), RustSec's
"patched" forms, the semver crate's pre-release rule, and hypothesis equivalences between the
requirement operators and plain >=/< bounds."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion, cargo, scheme_for, semver

# (requirement, versions that match, versions that do not)
BOOK = [
    # caret, the default: "1.2.3" := >=1.2.3, <2.0.0 ...
    ("1.2.3", ["1.2.3", "1.9.0", "1.99.99"], ["1.2.2", "2.0.0", "0.9.0"]),
    ("1.2", ["1.2.0", "1.99.0"], ["1.1.9", "2.0.0"]),
    ("1", ["1.0.0", "1.99.99"], ["0.9.9", "2.0.0"]),
    ("0.2.3", ["0.2.3", "0.2.99"], ["0.2.2", "0.3.0"]),
    ("0.2", ["0.2.0", "0.2.9"], ["0.1.9", "0.3.0"]),
    ("0.0.3", ["0.0.3"], ["0.0.2", "0.0.4"]),
    ("0.0", ["0.0.0", "0.0.99"], ["0.1.0"]),
    ("0", ["0.0.0", "0.99.0"], ["1.0.0"]),
    ("^1.2.3", ["1.2.3", "1.9.0"], ["1.2.2", "2.0.0"]),
    # tilde
    ("~1.2.3", ["1.2.3", "1.2.99"], ["1.2.2", "1.3.0"]),
    ("~1.2", ["1.2.0", "1.2.9"], ["1.1.9", "1.3.0"]),
    ("~1", ["1.0.0", "1.99.0"], ["0.9.0", "2.0.0"]),
    # wildcards
    ("*", ["0.0.0", "1.2.3", "99.0.0"], ["1.0.0-alpha"]),
    ("1.*", ["1.0.0", "1.99.0"], ["0.9.0", "2.0.0"]),
    ("1.2.*", ["1.2.0", "1.2.99"], ["1.1.0", "1.3.0"]),
    ("1.x", ["1.0.0", "1.5.0"], ["2.0.0"]),
    ("1.2.X", ["1.2.7"], ["1.3.0"]),
    ("x", ["0.1.0", "7.0.0"], ["7.0.0-rc.1"]),
    # comparisons
    (">= 1.2.0", ["1.2.0", "9.0.0"], ["1.1.99"]),
    ("> 1", ["2.0.0"], ["1.99.0", "1.0.0"]),
    ("< 2", ["1.99.99", "0.0.1"], ["2.0.0", "2.0.1"]),
    ("= 1.2.3", ["1.2.3", "1.2.3+build.7"], ["1.2.4", "1.2.2"]),
    (">= 1.2, < 1.5", ["1.2.0", "1.4.99"], ["1.5.0", "1.1.0"]),
    ("<= 1.2", ["1.2.99", "0.5.0"], ["1.3.0"]),
    ("> 1.2", ["1.3.0"], ["1.2.99"]),
    ("=1.2", ["1.2.0", "1.2.7"], ["1.3.0", "1.2.7-alpha"]),
    # RustSec "patched" / "unaffected" forms
    (">= 1.2.3", ["1.2.3", "2.0.0"], ["1.2.2"]),
    ("^0.9.4", ["0.9.4", "0.9.9"], ["0.9.3", "0.10.0"]),
    (">= 0.5.0, < 0.6.0", ["0.5.0", "0.5.17"], ["0.6.0", "0.4.9"]),
    ("<0.1.3", ["0.1.2", "0.0.1"], ["0.1.3"]),
    ("  >=1.0.0 ,  <1.5.0  ", ["1.4.0"], ["1.5.0"]),
    # pre-releases: only where the requirement names one of the same major.minor.patch
    (">=1.0.0-alpha", ["1.0.0-alpha", "1.0.0-beta", "1.0.0", "1.0.1"], ["1.0.1-alpha"]),
    ("1.2.3", [], ["1.3.0-alpha", "1.2.3-alpha"]),
    ("<1.2.3", ["1.2.2"], ["1.2.3-alpha", "1.2.2-rc.1"]),
    (">1.2.3-alpha.3", ["1.2.3-alpha.7", "3.4.5"], ["3.4.5-alpha.9", "1.2.3-alpha.3"]),
    ("~1.2.3-beta", ["1.2.3-beta", "1.2.3-beta.2", "1.2.5"], ["1.2.3-alpha", "1.2.4-beta"]),
    ("^0.0.3-beta", ["0.0.3-beta", "0.0.3-pr.2", "0.0.3"], ["0.0.4", "0.0.3-alpha"]),
    ("=1.2.3-rc.1", ["1.2.3-rc.1"], ["1.2.3", "1.2.3-rc.2"]),
    (">=1.2.3-rc.1, <1.2.3", ["1.2.3-rc.1", "1.2.3-rc.2"], ["1.2.3", "1.2.2"]),
]

INVALID_REQUIREMENTS = [
    "",
    " ",
    ">=",
    "1.2.3.4",
    "01",
    "1.02",
    "1.*.3",
    "*, 1.2",
    "1.2, *",
    "* 1.2",
    "1.2 2.0",
    "1.2.3,",
    "~>1.2",
    "=>1.2",
    "v1.2.3",
    "\t1.2.3",
    "1.2.3-",
    "1.2.3-01",
    "1.2.3-a..b",
    "1.2-alpha",
    "1.2.*-alpha",
    "18446744073709551616",
    ",".join(["1"] * 33),
    ">=1.0.0 || <0.5.0",
    "x" * 100_000,
]

# ascending; equal neighbours are in EQUAL
ORDERED = [
    "0.0.0",
    "0.9.4",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.2.3",
    "1.10.0",
    "18446744073709551615.0.0",
]
EQUAL = [("1.0.0+build", "1.0.0"), ("1.0.0-rc.1+a", "1.0.0-rc.1+b")]

INVALID_VERSIONS = [
    "",
    "1",
    "1.2",
    "v1.2.3",
    "=1.2.3",
    " 1.2.3",
    "1.2.3 ",
    "01.2.3",
    "1.2.3-01",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-a..b",
    "18446744073709551616.0.0",
    "x" * 100_000,
    "1" * 100_000 + ".0.0",
]


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


@pytest.mark.parametrize(("requirement", "matching", "failing"), BOOK, ids=[r for r, _, _ in BOOK])
def test_book_requirements(requirement: str, matching: list[str], failing: list[str]) -> None:
    assert [cargo.satisfies(v, requirement) for v in matching] == [True] * len(matching)
    assert [cargo.satisfies(v, requirement) for v in failing] == [False] * len(failing)


@pytest.mark.parametrize("requirement", INVALID_REQUIREMENTS, ids=lambda r: r[:20])
def test_invalid_requirements(requirement: str) -> None:
    start = time.process_time()
    with pytest.raises(InvalidConstraint):
        cargo.satisfies("1.2.3", requirement)
    assert time.process_time() - start < 0.05


def test_comparator_limit() -> None:
    assert cargo.satisfies("1.5.0", ",".join(["1"] * 32)) is True


@pytest.mark.parametrize("text", INVALID_VERSIONS, ids=lambda t: t[:20])
def test_invalid_versions(text: str) -> None:
    start = time.process_time()
    with pytest.raises(InvalidVersion):
        cargo.parse(text)
    assert time.process_time() - start < 0.05


def test_invalid_version_in_satisfies() -> None:
    with pytest.raises(InvalidVersion):
        cargo.satisfies("v1.0.0", "*")


def test_ordering_and_equality() -> None:
    assert sorted(reversed(ORDERED), key=cargo.parse) == ORDERED
    for i, a in enumerate(ORDERED):
        for j, b in enumerate(ORDERED):
            assert cargo.compare(a, b) == _sign(i - j), (a, b)
    for a, b in EQUAL:
        assert cargo.compare(a, b) == 0
    assert cargo.parse("1.2.3-rc.1+b") == semver.Key(1, 2, 3, False, ((1, 0, "rc"), (0, 1, "")))


def test_scheme_for_cargo() -> None:
    assert scheme_for("cargo") is cargo


def test_sort_100k_under_a_second() -> None:
    best = float("inf")
    for run in range(3):  # fresh strings each run, so the parse cache cannot help
        versions = [
            f"{run}.{i // 1000}.{i % 1000}" + (f"-alpha.{i % 3}" if i % 5 == 0 else "")
            for i in range(100_000)
        ]
        start = time.process_time()
        ordered = sorted(versions, key=cargo.parse)
        best = min(best, time.process_time() - start)
    assert ordered[:3] == ["2.0.0-alpha.0", "2.0.1", "2.0.2"]
    assert best < 1.0


# --- properties: each operator against the >=/< bounds the Cargo book gives for it ---

N = st.integers(0, 4)
RELEASES = st.builds(lambda a, b, c: f"{a}.{b}.{c}", N, N, N)


def _bounds(version: str, low: str, high: str) -> bool:
    return cargo.satisfies(version, f">={low}, <{high}")


@settings(max_examples=400, deadline=None)
@given(version=RELEASES, major=N, minor=N, patch=N)
def test_operators_match_their_bounds(version: str, major: int, minor: int, patch: int) -> None:
    low = f"{major}.{minor}.{patch}"
    if major > 0:
        caret_high = f"{major + 1}.0.0"
    elif minor > 0:
        caret_high = f"0.{minor + 1}.0"
    else:
        caret_high = f"0.0.{patch + 1}"
    assert cargo.satisfies(version, low) is _bounds(version, low, caret_high)
    assert cargo.satisfies(version, f"~{low}") is _bounds(version, low, f"{major}.{minor + 1}.0")
    assert cargo.satisfies(version, f"{major}.{minor}.*") is _bounds(
        version, f"{major}.{minor}.0", f"{major}.{minor + 1}.0"
    )
    assert cargo.satisfies(version, f"{major}.*") is _bounds(
        version, f"{major}.0.0", f"{major + 1}.0.0"
    )
    v = cargo.parse(version)
    k = cargo.parse(low)
    assert cargo.satisfies(version, f">={low}") is (v >= k)
    assert cargo.satisfies(version, f"> {low}") is (v > k)
    assert cargo.satisfies(version, f"<{low}") is (v < k)
    assert cargo.satisfies(version, f"<= {low}") is (v <= k)
    assert cargo.satisfies(version, f"={low}") is (v == k)


PRE = st.lists(st.sampled_from(["alpha", "beta", "0", "1", "rc"]), min_size=1, max_size=2)


@settings(max_examples=300, deadline=None)
@given(a=RELEASES, b=RELEASES, pre_a=st.none() | PRE, pre_b=st.none() | PRE)
def test_compare_agrees_with_semver(
    a: str, b: str, pre_a: list[str] | None, pre_b: list[str] | None
) -> None:
    if pre_a:
        a += "-" + ".".join(pre_a)
    if pre_b:
        b += "-" + ".".join(pre_b)
    assert cargo.compare(a, b) == semver.compare(a, b) == -cargo.compare(b, a)
