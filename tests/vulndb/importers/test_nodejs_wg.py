"""Node.js security WG npm advisories against the real files (read in place), hostile input."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from kubeward.vulndb.importers.nodejs_wg import parse_nodejs_wg
from kubeward.vulndb.model import Advisory, Affected, Range

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
VULN = SHARED / "osv" / "npm-nodejs-security-wg" / "vuln"
needs_data = pytest.mark.skipif(not VULN.is_dir(), reason="shared data not present")


def run(data: bytes, origin: str = "vuln/npm/1.json") -> tuple[list[Advisory], list[str]]:
    bad: list[str] = []
    return list(parse_nodejs_wg(data, origin, bad.append)), bad


def read(n: int) -> Advisory:
    advisories, bad = run((VULN / "npm" / f"{n}.json").read_bytes(), f"vuln/npm/{n}.json")
    assert bad == [] and len(advisories) == 1
    return advisories[0]


@needs_data
def test_bassmaster() -> None:
    assert read(1) == Advisory(
        id="NSWG-ECO-1",
        source="nodejs-wg",
        summary="Arbitrary JavaScript Execution",
        details="A vulnerability exists in bassmaster <= 1.5.1 that allows for an attacker to "
        "provide arbitrary JavaScript that is then executed server side via eval.\n\n"
        "Recommendation: Update to bassmaster version 1.5.2 or greater.",
        published="2014-09-27",
        modified="2016-04-28",
        aliases=("CVE-2014-7205",),
        references=(
            "https://www.npmjs.org/package/bassmaster",
            "https://github.com/hapijs/bassmaster/commit/b751602d8cb7194ee62a61e085069679525138c4",
        ),
        severity=(("CVSS_V3", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N"),),
        affected=(
            Affected(
                "npm",
                "bassmaster",
                (Range("CONSTRAINTS", (("vulnerable", "<=1.5.1"), ("patched", ">=1.5.2"))),),
            ),
        ),
    )


@needs_data
def test_no_fix_and_no_score() -> None:
    # patched_versions "<0.0.0" (no fix) is dropped
    apk_parser2 = read(223)
    assert apk_parser2.affected == (
        Affected(
            "npm", "apk-parser2", (Range("CONSTRAINTS", (("vulnerable", "<=99.999.99999"),)),)
        ),
    )
    # patched_versions null, cvss_vector null, cvss_score -1: no fix, no severity
    featurebook = read(358)
    assert featurebook.affected[0].ranges == (Range("CONSTRAINTS", (("vulnerable", "<=0.0.32"),)),)
    assert featurebook.severity == ()
    assert featurebook.aliases == ()


@needs_data
def test_whole_directory_totals_and_speed() -> None:
    files = sorted(VULN.glob("*/*.json"))
    bad: list[str] = []
    advisories: list[Advisory] = []
    start = time.perf_counter()
    for path in files:
        advisories.extend(parse_nodejs_wg(path.read_bytes(), str(path), bad.append))
    assert time.perf_counter() - start < 5
    # npm: 467 numbered files + index.json; core: 172 files, deps: 7 (each with an index.json)
    assert len(files) == 468 + 172 + 7
    assert bad == []
    assert len(advisories) == 467  # ls npm | grep -c '^[0-9]*\.json$'
    assert len({a.id for a in advisories}) == 467
    events = [a.affected[0].ranges[0].events for a in advisories]
    # 55 have patched_versions null and 137 "<0.0.0" (grep -l): 275 keep a patched range
    assert sum(1 for e in events if len(e) == 2) == 467 - 55 - 137
    # 9 have cvss_vector null, all with cvss_score null or -1
    assert sum(1 for a in advisories if not a.severity) == 9
    assert {a.affected[0].name for a in advisories} >= {"jquery", "morris.js"}  # "jQuery"


RECORD: dict[str, Any] = {
    "id": 9001,
    "created_at": "2020-01-01",
    "updated_at": "2020-01-02",
    "title": "Prototype Pollution",
    "module_name": "@Scope/Pkg",
    "publish_date": "2020-01-03",
    "cves": ["CVE-2020-0001", "not-a-cve", "CVE-2020-0001"],
    "vulnerable_versions": "<1.2.3 || >=2.0.0 <2.0.1",
    "patched_versions": ">=1.2.3 <2.0.0 || >=2.0.1",
    "overview": "o",
    "recommendation": None,
    "references": None,
    "cvss_vector": None,
    "cvss_score": 7,
}


def test_score_only_and_scoped_names() -> None:
    advisories, bad = run(json.dumps(RECORD).encode())
    assert bad == []
    assert advisories == [
        Advisory(
            id="NSWG-ECO-9001",
            source="nodejs-wg",
            summary="Prototype Pollution",
            details="o",
            published="2020-01-03",
            modified="2020-01-02",
            aliases=("CVE-2020-0001",),
            severity=(("CVSS_V3_SCORE", "7.0"),),
            affected=(
                Affected(
                    "npm",
                    "@scope/pkg",
                    (
                        Range(
                            "CONSTRAINTS",
                            (
                                ("vulnerable", "<1.2.3 || >=2.0.0 <2.0.1"),
                                ("patched", ">=1.2.3 <2.0.0 || >=2.0.1"),
                            ),
                        ),
                    ),
                ),
            ),
        )
    ]


def test_core_deps_and_index_skipped_silently() -> None:
    core = {
        "cve": ["CVE-2017-1000381"],
        "vulnerable": "8.x",
        "patched": "^8.1.4",
        "severity": "high",
    }
    deps = {"cve": ["CVE-2023-45853"], "reason": "vulnerable_code_not_present"}
    index = {"1": RECORD, "2": RECORD}
    for doc in (core, deps, index):
        assert run(json.dumps(doc).encode()) == ([], [])


def with_(**changes: Any) -> bytes:
    return json.dumps({**RECORD, **changes}).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe\x00\x80garbage", "not JSON"),
        ('{"title": "caf\u00e9"}'.encode("latin-1"), "not JSON"),
        (bytes(random.Random(11).randrange(256) for _ in range(5000)), "not JSON"),
        (b"[" * 100000, "not JSON"),
        (b"[1, 2]", "top level is list"),
        (b"{}", "id None is not a number"),
        (with_(id="x"), "is not a number"),
        (with_(id=True), "is not a number"),
        (with_(module_name=None), "is not an npm package name"),
        (with_(module_name="bad name"), "is not an npm package name"),
        (with_(vulnerable_versions=None), "no vulnerable_versions"),
        (with_(vulnerable_versions=" "), "no vulnerable_versions"),
        (with_(patched_versions=[">=1"]), "patched_versions is list"),
        (with_(cves="CVE-2020-0001"), "cves is not a list"),
        (b"x" * (9 * 1024 * 1024), "byte limit"),
    ],
)
def test_hostile_inputs_never_raise(data: bytes, message: str) -> None:
    advisories, bad = run(data)
    assert advisories == []
    assert len(bad) == 1 and message in bad[0]
