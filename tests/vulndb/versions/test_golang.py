"""Go module and toolchain versions: known orderings (pseudo-versions, +incompatible, Go release
names) and hypothesis properties, including agreement with the semver module on plain SemVer."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.vulndb.versions import InvalidVersion, golang, scheme_for, semver

# Strictly increasing.
MODULE_ORDER = [
    "v0.0.0-20170915032832-14c0d48ead0c",  # pseudo-version with no earlier tag
    "v0.0.0-20191109021931-daa7c04131f5",
    "v0.1.0",
    "v1.0.0-alpha",
    "v1.0.0-alpha.1",
    "v1.0.0-beta.2",
    "v1.0.0-beta.11",
    "v1.0.0-rc.1",
    "v1.0.0",
    "v1.2.3",
    "v1.2.4-0.20191109021931-daa7c04131f5",  # pseudo-version after v1.2.3
    "v1.2.4-0.20200101000000-abcdefabcdef",
    "v1.2.4-pre",
    "v1.2.4-pre.0.20191109021931-daa7c04131f5",  # pseudo-version after v1.2.4-pre
    "v1.2.4",
    "v1.10.0",
    "v2.0.0+incompatible",
    "v2.0.1-0.20191109021931-daa7c04131f5+incompatible",
    "v2.0.1",
    "v10.0.0",
]

# Go releases as kubeward reports the stdlib, with the OSV spelling beside them.
TOOLCHAIN_ORDER = [
    "v1.8beta1",
    "v1.8rc1",
    "v1.8",
    "v1.8.1",
    "v1.9rc2",
    "v1.20",
    "v1.20.1",
    "1.21.0-0",  # OSV's "introduced" for the whole 1.21 line
    "v1.21rc1",
    "v1.21rc2",
    "v1.21.0",
    "v1.21.5",
    "v1.22.0",
]

EQUAL = [
    ("v2.0.0+incompatible", "v2.0.0"),
    ("v1.2.3+meta", "1.2.3"),
    ("1.2.3", "v1.2.3"),
    ("v1", "v1.0.0"),
    ("v1.2", "v1.2.0"),
    ("v1.20", "1.20.0"),
    ("v1.21rc2", "v1.21.0-rc.2"),
    ("v1.21rc2", "1.21.0-rc.2"),
    ("go1.21rc2", "v1.21.0-rc.2"),
    ("go1.21.5", "v1.21.5"),
    ("v1.8beta1", "1.8.0-beta.1"),
]

INVALID = [
    "",
    "v",
    "go",
    "V1.2.3",
    "vv1.2.3",
    "v1.2.3.4",
    "v01.2.3",
    "v1.02",
    "v1.2.3-01",
    "v1.2-pre",  # x/mod: no pre-release on a short version
    "v1.2+meta",
    "v1.2.3-",
    "v1.2.3+",
    "v1.2.3-alpha..1",
    "v1.21rc0",
    "v1.21.5rc1",
    "v1.21alpha1",
    "1.21rc",
    "latest",
    "master",
    "devel go1.22-abcdef",
    " v1.2.3",
    "v1.2.3 ",
    "x" * 100_000,
    "v" + "1" * 100_000,
]


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


@pytest.mark.parametrize("ordered", [MODULE_ORDER, TOOLCHAIN_ORDER], ids=["module", "toolchain"])
def test_known_orderings(ordered: list[str]) -> None:
    shuffled = ordered[:]
    random.Random(3).shuffle(shuffled)
    assert sorted(shuffled, key=golang.parse) == ordered
    for i, a in enumerate(ordered):
        for j, b in enumerate(ordered):
            assert golang.compare(a, b) == _sign(i - j), (a, b)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_versions(a: str, b: str) -> None:
    assert golang.compare(a, b) == 0
    assert golang.parse(a) == golang.parse(b)


def test_keys() -> None:
    assert golang.parse("v1.21rc2") == semver.Key(1, 21, 0, False, ((1, 0, "rc"), (0, 2, "")))
    assert golang.parse("v1.2.4-0.20191109021931-daa7c04131f5") == semver.Key(
        1, 2, 4, False, ((0, 0, ""), (1, 0, "20191109021931-daa7c04131f5"))
    )
    assert golang.parse("v3") == semver.Key(3, 0, 0, True, ())
    # no upper bound on numbers, as in x/mod (it compares digit strings)
    assert golang.parse("v99999999999999999999.0.0").major == 99999999999999999999


def test_scheme_for_golang() -> None:
    assert scheme_for("golang") is golang


@pytest.mark.parametrize("text", INVALID, ids=lambda t: t[:20])
def test_invalid_versions(text: str) -> None:
    start = time.process_time()
    with pytest.raises(InvalidVersion):
        golang.parse(text)
    assert time.process_time() - start < 0.05


def test_sort_100k_under_a_second() -> None:
    best = float("inf")
    for run in range(3):  # fresh strings each run, so the parse cache cannot help
        versions = [
            f"v{run}.{i // 1000}.{i % 1000}"
            + (f"-0.2019{i:010d}-abcdefabcdef" if i % 5 == 0 else "")
            for i in range(100_000)
        ]
        start = time.process_time()
        ordered = sorted(versions, key=golang.parse)
        best = min(best, time.process_time() - start)
    assert ordered[:3] == ["v2.0.0-0.20190000000000-abcdefabcdef", "v2.0.1", "v2.0.2"]
    assert best < 1.0


# --- properties ---

NUMBER = st.one_of(st.integers(0, 3), st.integers(0, 10**12))
IDENT = st.one_of(
    st.integers(0, 3).map(str),
    st.sampled_from(["alpha", "beta", "rc", "pre", "0a", "-", "20191109021931-daa7c04131f5"]),
)


@st.composite
def semvers(draw: st.DrawFn) -> str:
    """Plain SemVer 2.0.0 text, no prefix."""
    text = f"{draw(NUMBER)}.{draw(NUMBER)}.{draw(NUMBER)}"
    if draw(st.booleans()):
        text += "-" + ".".join(draw(st.lists(IDENT, min_size=1, max_size=3)))
    if draw(st.integers(0, 3)) == 0:
        text += "+" + draw(st.sampled_from(["incompatible", "meta.1", "001"]))
    return text


@st.composite
def go_versions(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return f"v{draw(NUMBER)}" + draw(st.sampled_from(["", f".{draw(NUMBER)}"]))
    if kind == 1:
        return f"v{draw(NUMBER)}.{draw(NUMBER)}{draw(st.sampled_from(['rc', 'beta']))}" + str(
            draw(st.integers(1, 5))
        )
    return draw(st.sampled_from(["v", ""])) + draw(semvers())


@settings(max_examples=300, deadline=None)
@given(a=go_versions(), b=go_versions(), c=go_versions())
def test_compare_is_a_total_order(a: str, b: str, c: str) -> None:
    assert golang.compare(a, b) == -golang.compare(b, a)
    assert golang.compare(a, a) == 0
    x, y, z = sorted((a, b, c), key=golang.parse)
    assert golang.compare(x, y) <= 0
    assert golang.compare(y, z) <= 0
    assert golang.compare(x, z) <= 0
    if golang.compare(x, y) == 0 and golang.compare(y, z) == 0:
        assert golang.compare(x, z) == 0


@settings(max_examples=300, deadline=None)
@given(a=semvers(), b=semvers())
def test_plain_semver_agrees_with_the_semver_module(a: str, b: str) -> None:
    expected = semver.compare(a, b)
    assert golang.compare("v" + a, "v" + b) == expected
    assert golang.compare(a, b) == expected
    assert golang.parse(a) == semver.parse(a)


@settings(max_examples=200, deadline=None)
@given(major=NUMBER, minor=NUMBER, n=st.integers(1, 99))
def test_short_forms(major: int, minor: int, n: int) -> None:
    assert golang.parse(f"v{major}") == golang.parse(f"v{major}.0.0")
    assert golang.parse(f"v{major}.{minor}") == golang.parse(f"v{major}.{minor}.0")
    assert golang.parse(f"v{major}.{minor}rc{n}") == golang.parse(f"{major}.{minor}.0-rc.{n}")
    assert golang.compare(f"v{major}.{minor}beta{n}", f"v{major}.{minor}rc1") == -1
    assert golang.compare(f"v{major}.{minor}rc{n}", f"v{major}.{minor}") == -1


TIMESTAMPS = st.datetimes().map(lambda d: d.strftime("%Y%m%d%H%M%S")).filter(lambda s: len(s) == 14)


@settings(max_examples=200, deadline=None)
@given(major=NUMBER, minor=NUMBER, patch=NUMBER, t1=TIMESTAMPS, t2=TIMESTAMPS)
def test_pseudo_versions_sort_between_tags(
    major: int, minor: int, patch: int, t1: str, t2: str
) -> None:
    base = f"v{major}.{minor}.{patch}"
    nxt = f"v{major}.{minor}.{patch + 1}"
    p1 = f"{nxt}-0.{t1}-abcdefabcdef"
    p2 = f"{nxt}-0.{t2}-0123456789ab"
    assert golang.compare(base, p1) == -1
    assert golang.compare(p1, nxt) == -1
    if t1 != t2:  # same-second commits order by hash, which says nothing
        assert golang.compare(p1, p2) == (1 if t1 > t2 else -1)
    # after a pre-release tag: vX.Y.Z-pre.0.yyyymmddhhmmss-hash
    pre = f"{base}-rc.1"
    assert golang.compare(pre, f"{pre}.0.{t1}-abcdefabcdef") == -1
    assert golang.compare(f"{pre}.0.{t1}-abcdefabcdef", base) == -1
