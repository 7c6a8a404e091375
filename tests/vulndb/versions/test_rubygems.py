"""RubyGems versions and requirements: tables from RubyGems' own tests, plus properties.

Ruby is not installed here, so the oracle for ordering is a line-by-line port of
Gem::Version#<=> (the padding loop over canonical segments) written below.
"""

from __future__ import annotations

import glob
import itertools
import random
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion, rubygems, scheme_for

# (a, b, a <=> b), from RubyGems' test_gem_version.rb test_spaceship and its docs
SPACESHIP = [
    ("1.0", "1.0.0", 0),
    ("1.0", "1.0.a", 1),
    ("1.8.2", "0.0.0", 1),
    ("1.8.2", "1.8.2.a", 1),
    ("1.8.2.b", "1.8.2.a", 1),
    ("1.8.2.a", "1.8.2", -1),
    ("1.8.2.a10", "1.8.2.a9", 1),
    ("0.beta.1", "0.0.beta.1", 0),
    ("0.0.beta", "0.0.beta.1", -1),
    ("0.0.beta", "0.beta.1", -1),
    ("5.a", "5.0.0.rc2", -1),
    ("5.x", "5.0.0.rc2", 1),
    ("1.0.0.pre", "1.0.0", -1),
    ("1.0.0-rc1", "1.0.0", -1),
    ("1.0.0-rc1", "1.0.0.pre.rc1", 0),
    ("1.0.0-1", "1.0.0", -1),
    ("1.0.0", "1.0.0.1", -1),
    ("1.0.0.A", "1.0.0.a", -1),  # strings compare by bytes
    ("1.01", "1.1", 0),
    ("1.a.0.b", "1.a", -1),
    ("1.a.0", "1.a", 0),
    ("1.0a1", "1.0.a.1", 0),
    (" 1.0 ", "1.0", 0),
    ("2.2.8.1", "2.2.8", 1),
    ("5.0.0.beta1.1", "5.0.0.beta1", 1),
    ("5.0.0.beta1.1", "5.0.0", -1),
    ("99999999999999999999.0", "99999999999999999998", 1),
]

# (version, requirement, satisfied?), from test_gem_requirement.rb and rubysec advisories
REQUIREMENTS = [
    ("2.2.1", "~> 2.2.1", True),
    ("2.2.9", "~> 2.2.1", True),
    ("2.3", "~> 2.2.1", False),
    ("2.2.0", "~> 2.2.1", False),
    ("2.2", "~> 2.2", True),
    ("2.9.9", "~> 2.2", True),
    ("3.0", "~> 2.2", False),
    ("2.1", "~> 2.2", False),
    ("0.0.2", "~> 0.0.1", True),
    ("0.1", "~> 0.0.1", False),
    ("1.9", "~> 1", True),
    ("2.0", "~> 1", False),
    ("3.0.0.pre", "~> 2.2", False),  # its release, 3.0.0, is not below 3
    ("2.3.0.pre", "~> 2.2.1", False),
    ("2.2.5.pre", "~> 2.2.1", True),
    ("1.0.0", "~> 1.0.0.rc1", True),
    ("1.0.0.rc2", "~> 1.0.0.rc1", True),
    ("1.0.0.rc0", "~> 1.0.0.rc1", False),
    ("1.1.0", "~> 1.0.0.rc1", False),
    ("3.1.9", "~> 3.1.0.rc5", True),
    ("3.2.0", "~> 3.1.0.rc5", False),
    ("1.0.0", "= 1.0", True),
    ("1.0.0", "1.0", True),
    ("1.0.1", "1.0", False),
    ("1.2.0", "!= 1.2", False),
    ("1.2.1", "!= 1.2", True),
    ("1.0.0", "> 1.0", False),
    ("1.0.0.1", "> 1.0", True),
    ("1.0.a", "< 1.0", True),
    ("1.0", "<= 1.0.0", True),
    ("0.0.1", ">= 0", True),
    ("1.0", ">=1.0", True),
    ("5.2.4.3", "~> 5.2.4, >= 5.2.4.3", True),
    ("5.2.4.2", "~> 5.2.4, >= 5.2.4.3", False),
    ("5.2.5", "~> 5.2.4, >= 5.2.4.3", True),
    ("5.3.0", "~> 5.2.4, >= 5.2.4.3", False),
    ("6.0.3.1", "~> 5.2.4, >= 5.2.4.3", False),
    ("2.47.0", "~> 2.47, >= 2.47", True),
    ("5.0.0.beta1.1", ">= 5.0.0.beta1.1", True),
    ("5.0.0.beta1", ">= 5.0.0.beta1.1", False),
    ("0.0.1.alpha2", "< 0.0.1.alpha3", True),
    ("3.0.0", "< 3.0.0.beta1", False),
    ("1.0", "  >=  1.0  ,  <  2  ", True),
]


def test_scheme_for_gem() -> None:
    assert scheme_for("gem") is rubygems


@pytest.mark.parametrize(("a", "b", "expected"), SPACESHIP)
def test_spaceship(a: str, b: str, expected: int) -> None:
    assert rubygems.compare(a, b) == expected
    assert rubygems.compare(b, a) == -expected


def test_sorted() -> None:
    ordered = ["0.9", "1.0.a", "1.0.b1", "1.0.b2", "1.0.b10", "1.0.pre", "1.0.rc1", "1.0"]
    ordered += ["1.0.0.1", "1.0.1", "1.1.a", "1.1", "10.0"]
    shuffled = ordered[:]
    random.Random(3).shuffle(shuffled)
    assert sorted(shuffled, key=rubygems.parse) == ordered


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.0", False), ("1.0.a", True), ("1.0-1", True), ("1.0.0.rc1", True), ("2", False)],
)
def test_is_prerelease(version: str, expected: bool) -> None:
    assert rubygems.is_prerelease(version) is expected


@pytest.mark.parametrize(("version", "requirement", "expected"), REQUIREMENTS)
def test_requirements(version: str, requirement: str, expected: bool) -> None:
    assert rubygems.satisfies(version, requirement) is expected


@pytest.mark.parametrize(
    "bad",
    [
        *["", "   ", "junk", "1.0.", ".1", "1..2", "1.0 beta", "-1", "1.0-", "1_0", "v1.0"],
        *["1.0\0", "x" * 257, "1" * 100_000, "1." * 50_000],
    ],
)
def test_invalid_versions(bad: str) -> None:
    with pytest.raises(InvalidVersion):
        rubygems.parse(bad)
    with pytest.raises(InvalidVersion):
        rubygems.satisfies(bad, ">= 0")


@pytest.mark.parametrize(
    "bad",
    [
        *["", " ", ">=", "~>", "=< 1.0", "=> 1.0", "1.0 || 2.0", ">= 1.0,", ",>= 1.0", "> > 1"],
        *["junk", "~> 1.0 2.0", ">= 1.0.", "^1.0", "~1.0", ">= " + "1." * 5000 + "1"],
    ],
)
def test_invalid_requirements(bad: str) -> None:
    with pytest.raises(InvalidConstraint):
        rubygems.satisfies("1.0", bad)


def test_invalid_input_fails_fast() -> None:
    start = time.process_time()
    for _ in range(100):
        with pytest.raises(InvalidVersion):
            rubygems.parse("1." + "a" * 100_000)
        with pytest.raises(InvalidConstraint):
            rubygems.satisfies("1.0", ">= 1.0, " * 20_000)
    assert time.process_time() - start < 1.0


def test_sorting_100k_versions_is_fast() -> None:
    rng = random.Random(1)
    suffixes = ["", "", "", ".1", ".pre", ".beta1", ".rc2", "-1"]
    versions = [
        f"{rng.randrange(10)}.{rng.randrange(30)}.{rng.randrange(300)}{rng.choice(suffixes)}.{i}"
        if i % 3 == 0
        else f"{rng.randrange(10)}.{rng.randrange(30)}.{i}"
        for i in range(100_000)
    ]
    rubygems.parse.cache_clear()
    start = time.process_time()
    ordered = sorted(versions, key=rubygems.parse)
    assert time.process_time() - start < 1.0
    assert rubygems.compare(ordered[0], ordered[-1]) == -1


# --- real advisories --------------------------------------------------------------------------

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
RUBYSEC = Path("/work/shared/data/osv/rubygems-rubysec/gems")


@pytest.mark.skipif(not RUBYSEC.is_dir(), reason="needs the rubysec advisory data")
def test_every_rubysec_requirement_parses() -> None:
    failures = []
    count = 0
    for path in glob.glob(str(RUBYSEC / "*" / "*.yml")):
        advisory = yaml.load(Path(path).read_text(), Loader=LOADER)
        for field in ("patched_versions", "unaffected_versions"):
            for requirement in advisory.get(field) or []:
                count += 1
                try:
                    rubygems.satisfies("1.0.0", requirement)
                except InvalidConstraint:
                    failures.append((path, requirement))
    assert count > 1000
    assert failures == []


@pytest.mark.skipif(not RUBYSEC.is_dir(), reason="needs the rubysec advisory data")
def test_actionpack_cve_2020_8164() -> None:
    advisory = yaml.safe_load((RUBYSEC / "actionpack" / "CVE-2020-8164.yml").read_text())
    assert advisory["patched_versions"] == ["~> 5.2.4, >= 5.2.4.3", ">= 6.0.3.1"]
    assert advisory["unaffected_versions"] == ["< 4.0.0"]

    def vulnerable(version: str) -> bool:
        safe = advisory["patched_versions"] + advisory["unaffected_versions"]
        return not any(rubygems.satisfies(version, r) for r in safe)

    verdicts = {v: vulnerable(v) for v in ["3.2.22", "4.2.11", "5.2.4.2", "5.2.4.3", "5.2.5"]}
    verdicts |= {v: vulnerable(v) for v in ["6.0.0", "6.0.3", "6.0.3.1", "6.1.0"]}
    assert verdicts == {
        "3.2.22": False,
        "4.2.11": True,
        "5.2.4.2": True,
        "5.2.4.3": False,
        "5.2.5": False,
        "6.0.0": True,
        "6.0.3": True,
        "6.0.3.1": False,
        "6.1.0": False,
    }


# --- properties -------------------------------------------------------------------------------


def ruby_spaceship(a: str, b: str) -> int:
    """Gem::Version#<=>, ported line by line from RubyGems (lib/rubygems/version.rb)."""

    def canonical(version: str) -> list[int | str]:
        version = version.strip().replace("-", ".pre.")
        segments: list[int | str] = [
            int(s) if s.isdigit() else s for s in re.findall(r"[0-9]+|[a-z]+", version, re.I)
        ]
        string_start = next(
            (i for i, s in enumerate(segments) if isinstance(s, str)), len(segments)
        )
        parts = [segments[:string_start], segments[string_start:]]
        out: list[int | str] = []
        for part in parts:
            while part and part[-1] == 0:
                part.pop()
            out += part
        return out

    lhs, rhs = canonical(a), canonical(b)
    if a == b or lhs == rhs:
        return 0
    for i in range(max(len(lhs), len(rhs))):
        left = lhs[i] if i < len(lhs) else 0
        right = rhs[i] if i < len(rhs) else 0
        if left == right:
            continue
        if isinstance(left, str) and isinstance(right, int):
            return -1
        if isinstance(left, int) and isinstance(right, str):
            return 1
        return (left > right) - (left < right)  # type: ignore[operator]
    return 0


segment = st.one_of(
    st.sampled_from(["0", "1", "2", "10", "007"]), st.sampled_from(["a", "b", "pre", "rc", "B"])
)
version_text = st.builds(
    lambda head, rest: head + "".join(sep + s for sep, s in rest),
    st.sampled_from(["0", "1", "2"]),
    st.lists(st.tuples(st.sampled_from([".", ".", "-"]), segment), max_size=6),
).filter(lambda v: "-" not in v or v.rsplit("-", 1)[1] != "")


@settings(max_examples=300, deadline=None)
@given(st.lists(version_text, min_size=2, max_size=12))
def test_compare_matches_ruby_algorithm(versions: list[str]) -> None:
    for a, b in itertools.product(versions, repeat=2):
        assert rubygems.compare(a, b) == ruby_spaceship(a, b), (a, b)


@settings(max_examples=200, deadline=None)
@given(version_text, version_text, version_text)
def test_total_order(a: str, b: str, c: str) -> None:
    assert rubygems.compare(a, b) == -rubygems.compare(b, a)
    if rubygems.compare(a, b) <= 0 and rubygems.compare(b, c) <= 0:
        assert rubygems.compare(a, c) <= 0
    assert (rubygems.compare(a, b) == 0) == (rubygems.parse(a) == rubygems.parse(b))


numbers = st.lists(st.integers(0, 12), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(numbers, numbers, st.sampled_from(["", ".a", ".pre.1", ".rc2"]))
def test_pessimistic_matches_its_expansion(bound: list[int], version: list[int], pre: str) -> None:
    text = ".".join(map(str, bound))
    upper = bound[:-1] if len(bound) > 1 else bound[:]
    upper[-1] += 1
    candidate = ".".join(map(str, version)) + pre
    expanded = f">= {text}, < {'.'.join(map(str, upper))}"
    if pre:  # a prerelease is judged by its release against the upper bound
        release_ok = rubygems.satisfies(
            ".".join(map(str, version)), f"< {'.'.join(map(str, upper))}"
        )
        expected = rubygems.satisfies(candidate, f">= {text}") and release_ok
    else:
        expected = rubygems.satisfies(candidate, expanded)
    assert rubygems.satisfies(candidate, f"~> {text}") is expected
