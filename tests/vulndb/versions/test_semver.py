"""npm versions and ranges: tables from semver.org and node-semver's README, and hypothesis
cross-checks against the real node `semver` package (installed with npm once per session)."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from node_semver import SEMVER_VERSION, NodeSemver, install

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion, semver


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> NodeSemver:
    peer = install(tmp_path_factory.getbasetemp() / f"node-semver-{SEMVER_VERSION}")
    if peer is None:
        pytest.skip("node and npm are needed for the node-semver cross-checks")
    return peer


# semver.org section 11, then the release line
ORDERED = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1-0",
    "1.0.1",
    "1.9.0",
    "1.10.0",
    "1.11.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
    "10.0.0",
    "9007199254740991.0.0",
]

EQUAL = [
    ("1.0.0+build.1", "1.0.0"),
    ("1.0.0-rc.1+build.1", "1.0.0-rc.1+other"),
    ("v1.2.3", "1.2.3"),
    ("=1.2.3", "1.2.3"),
    ("=v1.2.3", "1.2.3"),
    (" 1.2.3\n", "1.2.3"),
]

INVALID = [
    "",
    " ",
    "1",
    "1.2",
    "1.2.3.4",
    "01.2.3",
    "1.02.3",
    "1.2.3-01",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-alpha..1",
    "1.2.3-alpha_1",
    "a.b.c",
    "V1.2.3",
    "vv1.2.3",
    "==1.2.3",
    "1.2.3 4",
    "1.2.3alpha",
    "9007199254740992.0.0",
    "1.2.3-" + "a" * 251,  # 257 characters: over node's MAX_LENGTH
    "x" * 100_000,
    "1." * 50_000,
]

# (range, version, satisfies) from the node-semver README (the range grammar section)
README_CASES = [
    (">=1.2.7", "1.2.7", True),
    (">=1.2.7", "1.2.8", True),
    (">=1.2.7", "2.5.3", True),
    (">=1.2.7", "1.3.9", True),
    (">=1.2.7", "1.2.6", False),
    (">=1.2.7", "1.1.0", False),
    (">=1.2.7 <1.3.0", "1.2.7", True),
    (">=1.2.7 <1.3.0", "1.2.8", True),
    (">=1.2.7 <1.3.0", "1.2.99", True),
    (">=1.2.7 <1.3.0", "1.2.6", False),
    (">=1.2.7 <1.3.0", "1.3.0", False),
    (">=1.2.7 <1.3.0", "1.1.0", False),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.2.7", True),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.2.9", True),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.4.6", True),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.2.8", False),
    ("1.2.7 || >=1.2.9 <2.0.0", "2.0.0", False),
    (">1.2.3-alpha.3", "1.2.3-alpha.7", True),
    (">1.2.3-alpha.3", "3.4.5-alpha.9", False),
    (">1.2.3-alpha.3", "3.4.5", True),
    ("1.2.3 - 2.3.4", "2.3.4", True),
    ("1.2.3 - 2.3.4", "2.3.5", False),
    ("1.2 - 2.3.4", "1.2.0", True),
    ("1.2.3 - 2.3", "2.3.99", True),
    ("1.2.3 - 2.3", "2.4.0", False),
    ("1.2.3 - 2", "2.99.99", True),
    ("1.2.3 - 2", "3.0.0", False),
    ("*", "0.0.0", True),
    ("*", "1.0.0-beta", False),
    ("", "3.2.1", True),
    ("1.x", "1.99.0", True),
    ("1.x", "2.0.0", False),
    ("1.2.x", "1.2.9", True),
    ("1.2.x", "1.3.0", False),
    ("1", "1.5.2", True),
    ("1.2", "1.3.0", False),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2", "1.2.0", True),
    ("~1", "1.9.9", True),
    ("~1", "2.0.0", False),
    ("~0.2.3", "0.2.9", True),
    ("~0.2.3", "0.3.0", False),
    ("~0", "0.9.9", True),
    ("~1.2.3-beta.2", "1.2.3-beta.4", True),
    ("~1.2.3-beta.2", "1.2.4-beta.2", False),
    ("~1.2.3-beta.2", "1.2.9", True),
    ("^1.2.3", "1.9.9", True),
    ("^1.2.3", "2.0.0", False),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^1.2.3-beta.2", "1.2.3-beta.4", True),
    ("^1.2.3-beta.2", "1.2.4-beta.2", False),
    ("^0.0.3-beta", "0.0.3-pr.2", True),
    ("^1.2.x", "1.9.0", True),
    ("^0.0.x", "0.0.9", True),
    ("^0.0.x", "0.1.0", False),
    ("^0.0", "0.0.1", True),
    ("^1.x", "1.9.0", True),
    ("^0.x", "0.9.0", True),
    ("^0.x", "1.0.0", False),
    (">=1.0.0 <2.0.0 || 3.0.0-beta.1", "3.0.0-beta.1", True),
    ("* || 3.0.0-beta.1", "3.0.0-beta.1", False),  # node keeps only the "*" set
    ("<1.0.0", "1.0.0-rc.1", False),
    ("<1.0.0-0", "0.9.9", True),
    ("=1.2.3", "v1.2.3+build", True),
    ("> 1.2.3", "1.2.4", True),
    ("~ 1.2.3", "1.2.4", True),
    ("^ 1.2.3", "1.3.0", True),
    (">= 1.2.3 < 1.3.0", "1.2.5", True),
]

# (range, validRange) from the README's desugaring lines
CANONICAL = [
    ("1.2.3 - 2.3.4", ">=1.2.3 <=2.3.4"),
    ("1.2 - 2.3.4", ">=1.2.0 <=2.3.4"),
    ("1.2.3 - 2.3", ">=1.2.3 <2.4.0-0"),
    ("1.2.3 - 2", ">=1.2.3 <3.0.0-0"),
    ("*", "*"),
    ("", "*"),
    ("1.x", ">=1.0.0 <2.0.0-0"),
    ("1.2.x", ">=1.2.0 <1.3.0-0"),
    ("~1.2.3", ">=1.2.3 <1.3.0-0"),
    ("~1.2", ">=1.2.0 <1.3.0-0"),
    ("~1", ">=1.0.0 <2.0.0-0"),
    ("~0.2.3", ">=0.2.3 <0.3.0-0"),
    ("~0", "<1.0.0-0"),
    ("~1.2.3-beta.2", ">=1.2.3-beta.2 <1.3.0-0"),
    ("^1.2.3", ">=1.2.3 <2.0.0-0"),
    ("^0.2.3", ">=0.2.3 <0.3.0-0"),
    ("^0.0.3", ">=0.0.3 <0.0.4-0"),
    ("^1.2.3-beta.2", ">=1.2.3-beta.2 <2.0.0-0"),
    ("^0.0.3-beta", ">=0.0.3-beta <0.0.4-0"),
    ("^1.2.x", ">=1.2.0 <2.0.0-0"),
    ("^0.0.x", "<0.1.0-0"),
    ("^0.0", "<0.1.0-0"),
    ("^1.x", ">=1.0.0 <2.0.0-0"),
    ("^0.x", "<1.0.0-0"),
    (">1", ">=2.0.0"),
    ("<=1.2", "<1.3.0-0"),
    (">x", "<0.0.0-0"),
    ("1.2.3 || 1.2.3", "1.2.3||1.2.3"),
    (">=1.0.0 >=1.0.0 <2", ">=1.0.0 <2.0.0-0"),
    (">=0.0.0", "*"),
    (" >=1.2.3\t\t||\n<1.0.0 ", ">=1.2.3||<1.0.0"),
]

INVALID_RANGES = [
    ">>1.2.3",
    "blerg",
    "1.2.3.4",
    ">=1.2.3 <",
    "~1.2.3 garbage",
    "1.2.3 -",
    "=>1.0.0",
]


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def test_ordering_table() -> None:
    shuffled = ORDERED[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=semver.parse) == ORDERED
    for i, a in enumerate(ORDERED):
        for j, b in enumerate(ORDERED):
            assert semver.compare(a, b) == _sign(i - j), (a, b)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_versions(a: str, b: str) -> None:
    assert semver.compare(a, b) == 0
    assert semver.parse(a) == semver.parse(b)


def test_key_fields() -> None:
    assert semver.parse("v1.2.3-rc.10.x+b") == semver.Key(
        1, 2, 3, False, ((1, 0, "rc"), (0, 10, ""), (1, 0, "x"))
    )
    assert semver.parse("1.2.3") == semver.Key(1, 2, 3, True, ())


@pytest.mark.parametrize("text", INVALID, ids=lambda t: t[:20])
def test_invalid_versions(text: str) -> None:
    start = time.process_time()
    with pytest.raises(InvalidVersion):
        semver.parse(text)
    assert time.process_time() - start < 0.05


def test_parse_strict() -> None:
    assert semver.parse_strict("1.2.3-alpha.1+001") == semver.Key(
        1, 2, 3, False, ((1, 0, "alpha"), (0, 1, ""))
    )
    assert semver.parse_strict("99999999999999999999.0.0").major == 99999999999999999999
    for text in ("v1.2.3", "=1.2.3", " 1.2.3", "1.2.3-01", "1.2", "1" * 100_000):
        with pytest.raises(InvalidVersion):
            semver.parse_strict(text)


@pytest.mark.parametrize(("expression", "version", "expected"), README_CASES)
def test_readme_ranges(expression: str, version: str, expected: bool) -> None:
    assert semver.satisfies(version, expression) is expected


@pytest.mark.parametrize(("expression", "canonical"), CANONICAL)
def test_canonical_ranges(expression: str, canonical: str) -> None:
    assert semver.canonical_range(expression) == canonical


def test_include_prerelease() -> None:
    assert semver.satisfies("1.2.4-beta", "^1.2.3") is False
    assert semver.satisfies("1.2.4-beta", "^1.2.3", include_prerelease=True) is True
    assert semver.satisfies("2.0.0-rc.1", "^1.2.3", include_prerelease=True) is False
    assert semver.satisfies("0.0.3-alpha", "^0.0.3", include_prerelease=True) is True
    assert semver.canonical_range("^0.2.3", include_prerelease=True) == ">=0.2.3-0 <0.3.0-0"
    assert semver.canonical_range("^1.2.3", include_prerelease=True) == ">=1.2.3 <2.0.0-0"
    assert semver.canonical_range(">=0.0.0-0", include_prerelease=True) == "*"


@pytest.mark.parametrize("expression", INVALID_RANGES)
def test_invalid_ranges(expression: str) -> None:
    with pytest.raises(InvalidConstraint):
        semver.satisfies("1.2.3", expression)


def test_invalid_version_in_satisfies() -> None:
    with pytest.raises(InvalidVersion):
        semver.satisfies("1.2", ">=1.0.0")


def test_huge_range_is_rejected_fast() -> None:
    start = time.process_time()
    for text in ("v " * 50_000, "1.2.3 " * 20_000, "=" * 100_000):
        with pytest.raises(InvalidConstraint):
            semver.satisfies("1.2.3", text)
    # the worst case under the cap, quadratic in node's own expressions too
    with pytest.raises(InvalidConstraint):
        semver.canonical_range("v " * (semver.MAX_RANGE_LENGTH // 2))
    assert time.process_time() - start < 1.0


def test_sort_100k_under_a_second() -> None:
    best = float("inf")
    for run in range(3):  # fresh strings each run, so the parse cache cannot help
        versions = [
            f"{run}.{i // 1000}.{i % 1000}" + (f"-rc.{i % 3}" if i % 5 == 0 else "")
            for i in range(100_000)
        ]
        start = time.process_time()
        ordered = sorted(versions, key=semver.parse)
        best = min(best, time.process_time() - start)
    assert ordered[:4] == ["2.0.0-rc.0", "2.0.1", "2.0.2", "2.0.3"]
    assert best < 1.0


# --- the same tables, asked of node itself ---


def test_tables_agree_with_node(node: NodeSemver) -> None:
    answers = node.satisfies([(v, r) for r, v, _ in README_CASES])
    assert [a[2] for a in answers] == [expected for _, _, expected in README_CASES]
    assert node.valid_range([r for r, _ in CANONICAL]) == [c for _, c in CANONICAL]
    assert node.valid_range(INVALID_RANGES) == [None] * len(INVALID_RANGES)
    ordered_pairs = [(a, b) for a in ORDERED for b in ORDERED]
    expected = [_sign(ORDERED.index(a) - ORDERED.index(b)) for a, b in ordered_pairs]
    assert node.compare(ordered_pairs) == expected
    # node reads "=1.2.3" only in loose mode: the one place we are deliberately looser
    assert node.valid([v for v in INVALID if len(v) < 1000]) == [None] * (len(INVALID) - 2)
    assert node.valid(["=1.2.3", "v1.2.3", " 1.2.3\n"]) == [None, "1.2.3", "1.2.3"]


# --- hypothesis cross-checks: each example is one batch, one node process ---

SMALL = st.integers(0, 3)
NUMBER = st.one_of(SMALL, SMALL, st.integers(0, 2**53 - 1))
IDENT = st.one_of(
    SMALL.map(str),
    st.sampled_from(["alpha", "beta", "rc", "0a", "a-b", "-", "X1", "alpha1"]),
    st.integers(4, 2**53 - 2).map(str),
)
BUILD = st.lists(st.sampled_from(["build", "001", "sha-5114f85", "1"]), min_size=1, max_size=2)


@st.composite
def versions(draw: st.DrawFn, numbers: st.SearchStrategy[int] = NUMBER) -> str:
    text = f"{draw(numbers)}.{draw(numbers)}.{draw(numbers)}"
    if draw(st.booleans()):
        text += "-" + ".".join(draw(st.lists(IDENT, min_size=1, max_size=3)))
    if draw(st.integers(0, 4)) == 0:
        text += "+" + ".".join(draw(BUILD))
    if draw(st.integers(0, 4)) == 0:
        text = "v" + text
    return text


SMALL_PRE = st.lists(st.sampled_from(["alpha", "beta", "0", "1", "rc"]), min_size=1, max_size=2)
RANGE_VERSIONS = versions(SMALL)


@st.composite
def partials(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(st.sampled_from(["0", "1", "2", "3", "x", "X", "*"]), min_size=1, max_size=3)
    )
    text = ".".join(parts)
    if len(parts) == 3 and draw(st.integers(0, 3)) == 0:
        text += "-" + ".".join(draw(SMALL_PRE))
    if draw(st.integers(0, 9)) == 0:
        text = "v" + text
    return text


OPS = st.sampled_from(["", "", "=", "<", "<=", ">", ">=", "~", "~>", "^"])
COMPARATORS = st.builds(lambda o, s, p: o + s + p, OPS, st.sampled_from(["", "", " "]), partials())
HYPHENS = st.builds(lambda a, b: f"{a} - {b}", partials(), partials())
SETS = st.one_of(st.lists(COMPARATORS, min_size=1, max_size=3).map(" ".join), HYPHENS)
RANGES = st.one_of(
    st.builds(
        lambda sets, sep: sep.join(sets),
        st.lists(SETS, min_size=1, max_size=3),
        st.sampled_from([" || ", "||", " ||  "]),
    ),
    st.sampled_from(["", "*", "x", ">=0.0.0", "<0.0.0-0"]),
)
NOISE = st.text(alphabet="<>=~^ 0123.xX*-|v+a\t", max_size=16)

CROSS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)


def _mine_satisfies(
    version: str, expression: str, include_prerelease: bool
) -> tuple[str | None, bool]:
    try:
        canonical = semver.canonical_range(expression, include_prerelease=include_prerelease)
    except InvalidConstraint:
        return None, False
    return canonical, semver.satisfies(version, expression, include_prerelease=include_prerelease)


@CROSS
@given(pairs=st.lists(st.tuples(versions(), versions()), min_size=20, max_size=80))
def test_compare_matches_node(node: NodeSemver, pairs: list[tuple[str, str]]) -> None:
    mine = [semver.compare(a, b) for a, b in pairs]
    assert mine == node.compare(pairs)


@settings(CROSS, max_examples=20)
@given(
    pairs=st.lists(st.tuples(RANGE_VERSIONS, RANGES), min_size=20, max_size=60),
    include_prerelease=st.booleans(),
)
def test_satisfies_matches_node(
    node: NodeSemver, pairs: list[tuple[str, str]], include_prerelease: bool
) -> None:
    theirs = node.satisfies(pairs, include_prerelease)
    mine = [_mine_satisfies(v, r, include_prerelease) for v, r in pairs]
    assert mine == [(canonical, result) for canonical, _, result in theirs]


@settings(CROSS, max_examples=20)
@given(
    pairs=st.lists(st.tuples(RANGE_VERSIONS, NOISE), min_size=30, max_size=100),
    include_prerelease=st.booleans(),
)
def test_noisy_ranges_match_node(
    node: NodeSemver, pairs: list[tuple[str, str]], include_prerelease: bool
) -> None:
    theirs = node.satisfies(pairs, include_prerelease)
    mine = [_mine_satisfies(v, r, include_prerelease) for v, r in pairs]
    assert mine == [(canonical, result) for canonical, _, result in theirs]


def _valid(text: str) -> bool:
    try:
        semver.parse(text)
    except InvalidVersion:
        return False
    return True


@CROSS
@given(
    texts=st.lists(
        st.one_of(versions(), st.text(alphabet="0123.-+vVa ", max_size=14)),
        min_size=30,
        max_size=100,
    ).map(lambda ts: [t for t in ts if not t.strip().startswith("=")])
)
def test_validity_matches_node(node: NodeSemver, texts: list[str]) -> None:
    assert [_valid(t) for t in texts] == [v is not None for v in node.valid(texts)]
