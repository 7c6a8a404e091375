"""PEP 440 versions: the specification's orderings as a table, specifier matching, our error
mapping and caps, and a light hypothesis check that we order exactly as `packaging` does."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion, pep440, scheme_for

# Strictly increasing (PEP 440 "Summary of permitted suffixes and relative ordering").
ORDERED = [
    "0.9",
    "1.0.dev0",
    "1.0.dev456",
    "1.0a1",
    "1.0a2.dev456",
    "1.0a12.dev456",
    "1.0a12",
    "1.0b1.dev456",
    "1.0b2",
    "1.0b2.post345.dev456",
    "1.0b2.post345",
    "1.0rc1.dev456",
    "1.0rc1",
    "1.0",
    "1.0+abc.5",
    "1.0+abc.7",
    "1.0+5",
    "1.0.post456.dev34",
    "1.0.post456",
    "1.0.15",
    "1.1.dev1",
    "2.0",
    "1!0.1",
]

EQUAL = [
    ("1.0", "1.0.0"),
    ("1.0", "1.0.0.0"),
    ("v1.0", "1.0"),
    ("1.0a1", "1.0.alpha.1"),
    ("1.0c1", "1.0rc1"),
    ("1.0-1", "1.0.post1"),
    ("1.0.dev", "1.0.dev0"),
    ("1.0+ubuntu-1", "1.0+ubuntu.1"),
    ("0!1.0", "1.0"),
    (" 1.0 ", "1.0"),
]

INVALID = [
    "",
    "foo",
    "1.0+",
    "1.0.0-beta+",
    "1..0",
    "1.0-",
    "1.0 rc1 x",
    "=1.0",
    "x" * 100_000,
    "1" * 100_000,  # would overflow int() in packaging: ValueError, not InvalidVersion
    "1." * 50_000 + "0",
    "1" * 1025,
]

# (version, specifiers, include_prerelease, expected)
SPECIFIERS = [
    ("1.4.5", ">=1.0,<1.4.6", True, True),
    ("1.4.6", ">=1.0,<1.4.6", True, False),
    ("2.0rc1", ">=1.9", True, True),
    ("2.0rc1", ">=1.9", False, False),
    ("2.0rc1", "<2.0", True, False),  # PEP 440: <V excludes V's own pre-releases
    ("2.0rc1", "<2.0rc2", True, True),
    ("1.0+local.1", "==1.0", True, True),
    ("1.0+local.1", "==1.0+local.2", True, False),
    ("1.4.2", "~=1.4", True, True),
    ("2.0", "~=1.4", True, False),
    ("1.4.9", "~=1.4.5", True, True),
    ("1.5.0", "~=1.4.5", True, False),
    ("1.4.1", "==1.4.*", True, True),
    ("1.5", "==1.4.*", True, False),
    ("1.5", "!=1.5", True, False),
    ("1.5.post1", ">1.5", True, False),  # PEP 440: >V excludes V's post-releases
    ("1.5.1", ">1.5", True, True),
    ("1.5", "", True, True),
    ("3.0", "===3.0", True, True),
]

INVALID_SPECIFIERS = ["=>1.0", "~=1", "1.0", ">=1.0;", ">=" + "1" * 2000]


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def test_ordering_table() -> None:
    shuffled = ORDERED[:]
    random.Random(5).shuffle(shuffled)
    assert sorted(shuffled, key=pep440.parse) == ORDERED
    for i, a in enumerate(ORDERED):
        for j, b in enumerate(ORDERED):
            assert pep440.compare(a, b) == _sign(i - j), (a, b)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_versions(a: str, b: str) -> None:
    assert pep440.compare(a, b) == 0


def test_key_is_packaging_version() -> None:
    key = pep440.parse("1!2.0rc1.post3.dev4+Local.7")
    assert key == Version("1!2.0rc1.post3.dev4+local.7")
    assert str(key) == "1!2.0rc1.post3.dev4+local.7"
    assert scheme_for("pypi") is pep440


@pytest.mark.parametrize("text", INVALID, ids=lambda t: t[:20])
def test_invalid_versions(text: str) -> None:
    start = time.process_time()
    with pytest.raises(InvalidVersion):
        pep440.parse(text)
    assert time.process_time() - start < 0.05


@pytest.mark.parametrize(("version", "specifiers", "prerelease", "expected"), SPECIFIERS)
def test_satisfies(version: str, specifiers: str, prerelease: bool, expected: bool) -> None:
    assert pep440.satisfies(version, specifiers, include_prerelease=prerelease) is expected


@pytest.mark.parametrize("specifiers", INVALID_SPECIFIERS, ids=lambda s: s[:20])
def test_invalid_specifiers(specifiers: str) -> None:
    with pytest.raises(InvalidConstraint):
        pep440.satisfies("1.0", specifiers)


def test_invalid_version_in_satisfies() -> None:
    with pytest.raises(InvalidVersion):
        pep440.satisfies("not-a-version", ">=1.0")


def test_sort_100k_under_two_cpu_seconds() -> None:
    # CPU time, not wall time, so a busy machine does not fail it; packaging's Version is
    # the cost here (about 0.5-0.9 s on this kind of machine)
    best = float("inf")
    for run in range(3):  # fresh strings each run, so the parse cache cannot help
        versions = [
            f"{run}.{i // 1000}.{i % 1000}" + (f"rc{i % 3}" if i % 5 == 0 else "")
            for i in range(100_000)
        ]
        start = time.process_time()
        ordered = sorted(versions, key=pep440.parse)
        best = min(best, time.process_time() - start)
    assert ordered[:3] == ["2.0.0rc0", "2.0.1", "2.0.2"]
    assert best < 2.0


# --- light cross-check with packaging itself: we must neither reorder nor reject ---

SEGMENT = st.integers(0, 12)
VERSIONS = st.builds(
    lambda epoch, release, pre, post, dev, local: (
        (f"{epoch}!" if epoch else "")
        + ".".join(map(str, release))
        + pre
        + (f".post{post}" if post is not None else "")
        + (f".dev{dev}" if dev is not None else "")
        + (f"+{local}" if local else "")
    ),
    st.integers(0, 2),
    st.lists(SEGMENT, min_size=1, max_size=4),
    st.sampled_from(["", "a1", "b2", "rc1", "alpha3", "c1", "-pre4"]),
    st.none() | SEGMENT,
    st.none() | SEGMENT,
    st.sampled_from(["", "abc", "5", "abc.5", "ubuntu-1"]),
)


@settings(max_examples=200, deadline=None)
@given(a=VERSIONS, b=VERSIONS)
def test_compare_matches_packaging(a: str, b: str) -> None:
    va, vb = Version(a), Version(b)
    assert pep440.compare(a, b) == (va > vb) - (va < vb)
    assert pep440.parse(a) == va
