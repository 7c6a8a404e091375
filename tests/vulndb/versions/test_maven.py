"""Maven versions and ranges, checked against tables and against Maven's own maven-artifact jar."""

from __future__ import annotations

import glob
import itertools
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion, maven, scheme_for

# --- ordering tables (from Maven's ComparableVersionTest and docs) ---------------------------

# Each list is strictly increasing.
QUALIFIER_ORDER = [
    "1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2", "1-m11",
    "1-rc", "1-cr2", "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc", "1-def",
    "1-pom-1", "1-1-snapshot", "1-1", "1-2", "1-123",
]  # fmt: skip
NUMBER_ORDER = [
    "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1",
    "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11", "11",
    "11.a", "11b", "11c", "11m",
]  # fmt: skip

EQUAL = [
    ("1", "1.0"), ("1", "1.0.0"), ("1.0", "1.0.0"), ("1", "1-0"), ("1", "1.0-0"),
    ("1.0", "1.0-0"), ("1a", "1-a"), ("1a", "1.0-a"), ("1a", "1.0.0-a"), ("1.0a", "1-a"),
    ("1.0.0a", "1-a"), ("1x", "1-x"), ("1x", "1.0-x"), ("1.0.0x", "1-x"), ("1ga", "1"),
    ("1release", "1"), ("1final", "1"), ("1cr", "1rc"), ("1a1", "1-alpha-1"),
    ("1b2", "1-beta-2"), ("1m3", "1-milestone-3"), ("1X", "1x"), ("1A", "1a"),
    ("1-GA", "1"), ("1.0.RELEASE", "1"), ("1.0.Final", "1-ga"), ("1-SNAPSHOT", "1-snapshot"),
    ("1-Cr", "1-rc"), ("1.0.0.X1", "1-x-1"), ("1.0-0.1", "1-0.1"), ("001", "1"),
    ("1.0.0-alpha.0", "1-alpha"), ("1..0", "1"),
]  # fmt: skip

LESS = [
    ("1.0-alpha1", "1.0"), ("1.0-SNAPSHOT", "1.0"), ("1.0", "1.0-sp1"),
    ("1.0-rc1", "1.0-SNAPSHOT"), ("1.0-beta1", "1.0-milestone1"), ("1.0-alpha-1", "1.0-alpha-2"),
    ("1.0-alpha-2", "1.0-alpha-15"),
    ("1.0-SNAPSHOT", "1.0-1"), ("1.0", "1.0-1"), ("1.0-1", "1.0.1"), ("1.0.1", "1.1"),
    ("1.0-jre", "1.0-jre1"), ("1.0-sp", "1.0-abc"), ("1-abc", "1-abd"), ("2.0.0.M1", "2.0.0.RC1"),
    ("2.0.0.RC1", "2.0.0.RELEASE"), ("2.0.0.RELEASE", "2.0.0.SR1"), ("3.0.0-RC1", "3.0.0"),
    ("31.1-android", "31.1-jre"), ("31.1-jre", "32.0.0-android"), ("9.4.51.v20230217", "9.4.52"),
    ("2.9.10.8", "2.10.0"), ("2.10.0", "2.10.0.pr1"), ("1.0.0.X1", "1.0.0-X2"),
    ("1", "99999999999999999999999"), ("999999999", "1000000000"),
    ("9999999999999999999", "10000000000000000000"),
]  # fmt: skip

# Maven itself is not transitive for these shapes: 1.sp.1 > 1 > 1-alpha > 1.sp.1. Our key keeps
# every comparison with the plain release (the ones advisories make) and gives up the third.
CYCLE = ("1.sp.1", "1", "1-alpha")


def test_scheme_for_maven() -> None:
    assert scheme_for("maven") is maven


@pytest.mark.parametrize("ordered", [QUALIFIER_ORDER, NUMBER_ORDER], ids=["qualifier", "number"])
def test_known_orders(ordered: list[str]) -> None:
    for lower, higher in itertools.pairwise(ordered):
        assert maven.compare(lower, higher) == -1, (lower, higher)
        assert maven.compare(higher, lower) == 1, (lower, higher)
    shuffled = ordered[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=maven.parse) == ordered


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal(a: str, b: str) -> None:
    assert maven.compare(a, b) == 0
    assert maven.parse(a) == maven.parse(b)


@pytest.mark.parametrize(("a", "b"), LESS)
def test_less(a: str, b: str) -> None:
    assert maven.compare(a, b) == -1
    assert maven.compare(b, a) == 1


def test_cycle_is_broken_in_favour_of_release_comparisons() -> None:
    sp, release, alpha = CYCLE
    assert maven.compare(sp, release) == 1  # as Maven
    assert maven.compare(release, alpha) == 1  # as Maven
    assert maven.compare(sp, alpha) == 1  # Maven says -1: no total order can keep all three


@pytest.mark.parametrize(
    "bad", ["", " ", "1.0 ", " 1.0", "1\t0", "1.0\n", "x" * 257, "1" * 100_000, "1." * 50_000]
)
def test_invalid_versions(bad: str) -> None:
    with pytest.raises(InvalidVersion):
        maven.parse(bad)


def test_invalid_versions_fail_fast() -> None:
    start = time.process_time()
    for _ in range(100):
        with pytest.raises(InvalidVersion):
            maven.parse("1.0-" + "a" * 100_000)
    assert time.process_time() - start < 0.5


def test_sorting_100k_versions_is_fast() -> None:
    rng = random.Random(1)
    qualifiers = ["", "", "", "-SNAPSHOT", "-alpha1", "-beta-2", "-RC3", ".Final", "-jre", ".v2023"]
    versions = [
        f"{rng.randrange(30)}.{rng.randrange(30)}.{i}{rng.choice(qualifiers)}"
        if i % 10
        else f"{rng.randrange(30)}.{i}-{rng.choice(qualifiers)}.1"  # the slow path
        for i in range(100_000)
    ]
    maven.parse.cache_clear()
    start = time.process_time()  # CPU time: other jobs on the machine do not count
    ordered = sorted(versions, key=maven.parse)
    elapsed = time.process_time() - start
    assert elapsed < 1.0, elapsed
    assert maven.compare(ordered[0], ordered[-1]) == -1
    assert maven.parse.cache_info().currsize == 16384


# --- ranges -----------------------------------------------------------------------------------

RANGES = [
    ("1.0", "[1.0,2.0)", True),
    ("2.0", "[1.0,2.0)", False),
    ("2.0-SNAPSHOT", "[1.0,2.0)", True),
    ("1.0", "(1.0,2.0)", False),
    ("1.0.0", "[1.0,2.0]", True),
    ("2.0.0", "[1.0,2.0]", True),
    ("0.9", "(,1.0]", True),
    ("1.0", "(,1.0]", True),
    ("1.0.1", "(,1.0]", False),
    ("1.0", "(,1.0)", False),
    ("1.0-beta", "(,1.0)", True),
    ("1.5", "[1.5]", True),
    ("1.5.0", "[1.5]", True),
    ("1.5.1", "[1.5]", False),
    ("1.5", "[1.5,)", True),
    ("999", "[1.5,)", True),
    ("1.4.99", "[1.5,)", False),
    ("0.1", "1.0", True),  # a bare version is a soft requirement
    ("9.9", "1.0", True),
    ("1.1", "[1.0,1.2),[1.3,)", True),
    ("1.2", "[1.0,1.2),[1.3,)", False),
    ("1.3", "[1.0,1.2),[1.3,)", True),
    ("0.5", "(,1.0],[1.2,)", True),
    ("1.1", "(,1.0],[1.2,)", False),
    ("1.1", "[1.0,1.2) , [1.3,)", True),
    ("1.0", "[ 1.0 , 2.0 )", True),
    ("1.0", "[1.0,1.0]", True),
    ("2.12.7.1", "[2.12.0,2.12.7.1)", False),
    ("2.12.7", "[2.12.0,2.12.7.1)", True),
]


@pytest.mark.parametrize(("version", "spec", "expected"), RANGES)
def test_ranges(version: str, spec: str, expected: bool) -> None:
    assert maven.satisfies(version, spec) is expected


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "[1.0,2.0",  # unbounded
        "(1.0)",  # a single version needs []
        "[1.0)",
        "[2.0,1.0]",  # defies ordering
        "[1.0,1.0)",
        "[1.0,2.0],[1.5,3.0]",  # overlap
        "[1.0,2.0),(,3.0]",  # overlap: open lower bound after an upper bound
        "[1.0,2.0),1.5",  # bare version in a union
        "[1.0, 2.0 x]",  # whitespace inside a bound
        "[]",
        "[" + "1," * 10_000 + "]",
    ],
)
def test_invalid_ranges(spec: str) -> None:
    with pytest.raises(InvalidConstraint):
        maven.satisfies("1.0", spec)


def test_invalid_version_in_satisfies() -> None:
    with pytest.raises(InvalidVersion):
        maven.satisfies("", "[1.0,2.0)")


# --- against Maven itself ---------------------------------------------------------------------

HARNESS = """
import java.io.*;
import java.nio.charset.StandardCharsets;
import org.apache.maven.artifact.versioning.*;

public class Harness {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(
            new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) { out.flush(); continue; }
            String[] f = line.split("\\t", -1);
            if (f[0].equals("C")) {
                ComparableVersion a = new ComparableVersion(f[1]);
                out.println(Integer.signum(a.compareTo(new ComparableVersion(f[2]))));
            } else {
                try {
                    VersionRange r = VersionRange.createFromVersionSpec(f[1]);
                    out.println(r.containsVersion(new DefaultArtifactVersion(f[2])) ? "T" : "F");
                } catch (InvalidVersionSpecificationException e) {
                    out.println("E");
                }
            }
        }
        out.flush();
    }
}
"""

Oracle = Callable[[list[str]], list[str]]


@pytest.fixture(scope="module")
def maven_oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    """Maven's own ComparableVersion/VersionRange, one JVM for the whole module, over pipes."""
    jars = glob.glob("/usr/share/maven/lib/maven-artifact-*.jar")
    lang = glob.glob("/usr/share/maven/lib/commons-lang3*.jar")
    if not (shutil.which("javac") and shutil.which("java") and jars and lang):
        pytest.skip("needs a JDK and Maven (apt-get install default-jdk-headless maven)")
    work: Path = tmp_path_factory.mktemp("maven-oracle")
    (work / "Harness.java").write_text(HARNESS)
    classpath = f"{jars[0]}:{lang[0]}:{work}"
    subprocess.run(
        ["javac", "-cp", classpath, "-d", str(work), str(work / "Harness.java")], check=True
    )
    proc = subprocess.Popen(
        ["java", "-Xshare:auto", "-cp", classpath, "Harness"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def ask(lines: list[str]) -> list[str]:
        stdin.write("".join(f"{line}\n" for line in lines) + "\n")
        stdin.flush()
        return [stdout.readline().strip() for _ in lines]

    try:
        yield ask
    finally:
        stdin.close()
        proc.wait(timeout=10)


def _cycle_prone(version: str) -> bool:
    """The shapes where Maven's compare is not transitive: a qualifier after the first item of a
    list (1.sp.1, 1.0.alpha-1) or a list as the first item of a list (1--alpha, 1-ga-1)."""
    levels = maven._levels(version)
    return any(isinstance(atom, str) for atoms in levels for atom in atoms[1:]) or any(
        not atoms for atoms in levels[:-1]
    )


PARTS = ["0", "1", "2", "10", "007", "a", "b", "m", "alpha", "beta", "rc", "cr", "snapshot"]
PARTS += ["ga", "final", "release", "sp", "jre", "x", "SNAPSHOT", "Final", "RC", "99999999999"]

version_text = st.builds(
    lambda head, rest: head + "".join(sep + part for sep, part in rest),
    st.sampled_from(["0", "1", "2", "1.0", "v1"]),
    st.lists(st.tuples(st.sampled_from([".", "-", ""]), st.sampled_from(PARTS)), max_size=5),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(version_text, min_size=2, max_size=30))
def test_compare_matches_maven(maven_oracle: Oracle, versions: list[str]) -> None:
    pairs = [(a, b) for a in versions for b in versions]
    answers = maven_oracle([f"C\t{a}\t{b}" for a, b in pairs])
    for (a, b), answer in zip(pairs, answers, strict=True):
        if _cycle_prone(a) or _cycle_prone(b):
            continue
        assert maven.compare(a, b) == int(answer), (a, b)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(version_text, min_size=1, max_size=40))
def test_sort_is_a_total_order(versions: list[str]) -> None:
    ordered = sorted(versions, key=maven.parse)
    for low, high in itertools.pairwise(ordered):
        assert maven.compare(low, high) <= 0
    for a in versions:
        for b in versions:
            assert maven.compare(a, b) == -maven.compare(b, a)


BOUNDS = ["", "1", "1.0", "1.1", "1.2-SNAPSHOT", "1.2", "2.0-alpha1", "2.0", "2.0.1", "3", "0.9"]
restriction_text = st.builds(
    lambda o, lo, sep, hi, c: f"{o}{lo}{sep}{hi}{c}",
    st.sampled_from("[("),
    st.sampled_from(BOUNDS[1:]),
    st.sampled_from([",", ", ", ""]),
    st.sampled_from(BOUNDS),
    st.sampled_from(")]"),
)
range_text = st.one_of(
    st.lists(restriction_text, min_size=1, max_size=3).map(",".join),
    st.sampled_from(BOUNDS[1:]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(range_text, st.sampled_from(BOUNDS[1:])), min_size=1, max_size=20))
def test_ranges_match_maven(maven_oracle: Oracle, cases: list[tuple[str, str]]) -> None:
    answers = maven_oracle([f"R\t{spec}\t{version}" for spec, version in cases])
    for (spec, version), answer in zip(cases, answers, strict=True):
        try:
            ours = "T" if maven.satisfies(version, spec) else "F"
        except InvalidConstraint:
            ours = "E"
        assert ours == answer, (spec, version)
