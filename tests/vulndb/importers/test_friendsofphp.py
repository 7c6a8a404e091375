"""FriendsOfPHP against the real security-advisories files (read in place) and hostile input."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from kubeward.vulndb.importers.friendsofphp import parse_friendsofphp
from kubeward.vulndb.model import Advisory, Affected, Range

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
FOP = SHARED / "osv" / "packagist-friendsofphp"
needs_data = pytest.mark.skipif(not FOP.is_dir(), reason="shared data not present")


def run(
    data: bytes, origin: str = "vendor/name/2020-01-01.yaml"
) -> tuple[list[Advisory], list[str]]:
    bad: list[str] = []
    return list(parse_friendsofphp(data, origin, bad.append)), bad


def read(rel: str) -> Advisory:
    advisories, bad = run((FOP / rel).read_bytes(), rel)
    assert bad == [] and len(advisories) == 1
    return advisories[0]


def vulnerable(*expressions: str) -> tuple[Range, ...]:
    return (Range("CONSTRAINTS", tuple(("vulnerable", e) for e in expressions)),)


@needs_data
def test_symfony_cve_2013_1348() -> None:
    assert read("symfony/symfony/CVE-2013-1348.yaml") == Advisory(
        id="CVE-2013-1348",
        source="friendsofphp",
        summary="Ability to enable/disable PHP parsing in Yaml::parse()",
        references=("https://symfony.com/blog/security-release-symfony-2-0-22-and-2-1-7-released",),
        affected=(Affected("composer", "symfony/symfony", vulnerable(">=2.0.0,<2.0.22")),),
    )


@needs_data
def test_no_cve_and_ghsa_named_files() -> None:
    cake = read("cakephp/cakephp/2015-08-06.yaml")
    assert cake.id == "FRIENDSOFPHP-cakephp-cakephp-2015-08-06"
    assert cake.aliases == ()
    assert cake.affected == (
        Affected(
            "composer",
            "cakephp/cakephp",
            vulnerable(
                ">=2.0.0,<2.0.99", ">=2.1.0,<2.1.99", ">=2.2.0,<2.2.99", ">=2.3.0,<2.3.99",
                ">=2.4.0,<2.4.99", ">=2.5.0,<2.5.9", ">=2.6.0,<2.6.11", ">=2.7.0,<2.7.2",
            ),
        ),
    )  # fmt: skip
    easy = read("easycorp/easyadmin-bundle/GHSA-2wwr-9x6f-88gp.yaml")  # no cve key at all
    assert (easy.id, easy.aliases) == ("GHSA-2wwr-9x6f-88gp", ())
    assert easy.affected[0].ranges == vulnerable(">=4.0.0,<4.29.10", ">=5.0.0,<5.0.10")
    # composer-repository: false (not on packagist.org) is imported like the rest
    quote = read("cart2quote/module-quotation/2017-02-01.yaml")
    assert quote.id == "FRIENDSOFPHP-cart2quote-module-quotation-2017-02-01"
    assert quote.affected[0].ranges == vulnerable(">=4.1.6,<4.4.6", ">=5.0.0,<5.4.4")


@needs_data
def test_whole_database_totals_and_speed() -> None:
    files = sorted(FOP.glob("*/*/*.yaml"))
    bad: list[str] = []
    advisories: list[Advisory] = []
    start = time.perf_counter()
    for path in files:
        advisories.extend(parse_friendsofphp(path.read_bytes(), str(path), bad.append))
    assert time.perf_counter() - start < 5
    assert len(files) == 1592  # find . -name '*.yaml' | wc -l
    assert bad == []
    assert len(advisories) == 1592
    # grep -rlE "^cve: *'?CVE" -> 1160; of the rest 12 are named GHSA-*.yaml
    assert Counter(a.id.split("-")[0] for a in advisories) == {
        "CVE": 1160,
        "GHSA": 12,
        "FRIENDSOFPHP": 1592 - 1160 - 12,
    }
    assert len({a.id for a in advisories if a.id.startswith("FRIENDSOFPHP-")}) == 420
    assert all(a.affected[0].ranges[0].events for a in advisories)


BOMB = b"""\
reference: composer://a/b
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
branches: {x: {versions: *c}}
"""
GOOD_BRANCHES = b"branches: {1.x: {versions: ['<1.2']}}\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BOMB, "aliases are refused"),
        (b"\xff\xfe\x00\x80", "not UTF-8"),
        ("title: caf\u00e9\n".encode("latin-1"), "not UTF-8"),
        (bytes(random.Random(9).randrange(256) for _ in range(5000)), ""),
        (b"[1, 2]", "top level is list"),
        (b"reference: https://example.org\n" + GOOD_BRANCHES, "is not composer://vendor/name"),
        (b"reference: composer://only-vendor\n" + GOOD_BRANCHES, "is not composer://vendor/name"),
        (b"reference: composer://a/b\n", "no branches"),
        (b"reference: composer://a/b\nbranches: {}\n", "no branches"),
        (b"reference: composer://a/b\nbranches: {x: {versions: []}}\n", "no list of version"),
        (b"reference: composer://a/b\nbranches: {x: {versions: '<1'}}\n", "no list of version"),
        (b"reference: composer://a/b\nbranches: {x: {versions: [1.2]}}\n", "no list of version"),
        (b"reference: composer://a/b\nbranches: {x: [1]}\n", "no list of version"),
        (b"reference: composer://a/b\ncve: 2020-1\n" + GOOD_BRANCHES, "is not a CVE id"),
        (b"reference: [\n", "YAML error"),
    ],
)
def test_hostile_inputs_never_raise(data: bytes, message: str) -> None:
    advisories, bad = run(data)
    assert advisories == []
    assert len(bad) == 1 and message in bad[0]


def test_names_are_normalised_and_branches_deduplicated() -> None:
    data = (
        b"title: t\nreference: composer://Vendor/Package\ncve: ~\n"
        b"branches: {a: {versions: ['>=1.0', ' <1.2']}, b: {versions: ['>=1.0', '<1.2']}}\n"
    )
    advisories, bad = run(data, "Vendor/Package/2020-01-01.yaml")
    assert bad == []
    assert advisories == [
        Advisory(
            id="FRIENDSOFPHP-vendor-package-2020-01-01",
            source="friendsofphp",
            summary="t",
            affected=(Affected("composer", "vendor/package", vulnerable(">=1.0,<1.2")),),
        )
    ]
    assert run(data, "")[1] == [": no cve and no file name to name the advisory by"]
