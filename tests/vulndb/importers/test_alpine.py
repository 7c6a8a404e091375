"""Alpine secdb against the real alpine-secdb YAML files (read in place), JSON and hostile input."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from kubeward.vulndb.importers.alpine import load_yaml, parse_secdb, secfix_ids
from kubeward.vulndb.model import Advisory, Affected, Range

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
SECDB = SHARED / "alpine" / "alpine-secdb"
needs_data = pytest.mark.skipif(not SECDB.is_dir(), reason="shared data not present")


def fixed(*versions: str) -> tuple[Range, ...]:
    return tuple(Range("ECOSYSTEM", (("introduced", "0"), ("fixed", v))) for v in versions)


def run(data: bytes, origin: str = "test") -> tuple[list[Advisory], list[str]]:
    bad: list[str] = []
    return list(parse_secdb(data, origin, bad.append)), bad


def by_id(path: str) -> dict[str, Advisory]:
    advisories, bad = run((SECDB / path).read_bytes(), path)
    assert bad == []
    return {a.id: a for a in advisories}


@needs_data
def test_v3_11_main_facts() -> None:
    advisories = by_id("v3.11/main.yaml")
    assert advisories["CVE-2019-14904"] == Advisory(
        id="CVE-2019-14904",
        source="alpine-secdb",
        affected=(Affected("apk", "ansible", fixed("2.9.3-r0"), distro="alpine:3.11"),),
    )
    # "CVE-2019-19577 XSA-311": the XSA id is an alias
    assert advisories["CVE-2019-19577"].aliases == ("XSA-311",)
    assert advisories["CVE-2019-19577"].affected == (
        Affected("apk", "xen", fixed("4.13.0-r0"), distro="alpine:3.11"),
    )
    # listed under two ghostscript revisions: affected below the newer one
    assert advisories["CVE-2019-6116"].affected == (
        Affected("apk", "ghostscript", fixed("9.26-r2", "9.26-r1"), distro="alpine:3.11"),
    )
    # "CVE-????-?????  XSA-295": no CVE yet, the XSA id names the advisory
    assert advisories["XSA-295"].affected[0].name == "xen"
    # "CVE-2017-17434-1" and "-2" (two patches) are one CVE
    assert advisories["CVE-2017-17434"].affected == (
        Affected("apk", "rsync", fixed("3.1.2-r7"), distro="alpine:3.11"),
    )
    # grep -oE 'CVE[-_ ][0-9]{4}-[0-9]+' main.yaml | sort -u -> 1109 CVEs, plus 14 XSA-only
    # entries (13 "- XSA-n" lines and XSA-295 from the "CVE-????-?????" line).
    assert len(advisories) == 1109 + 14
    assert sum(1 for a in advisories if a.startswith("XSA-")) == 14


@needs_data
def test_odd_spellings_and_not_affected() -> None:
    # "CVE_2019-2426" under openjdk7 7.211.2.6.17-r0 in v3.11/community (openjdk8 spells it
    # "CVE-2019-2426": one advisory)
    community = by_id("v3.11/community.yaml")
    assert community["CVE-2019-2426"].affected == (
        Affected("apk", "openjdk7", fixed("7.211.2.6.17-r0"), distro="alpine:3.11"),
        Affected("apk", "openjdk8", fixed("8.201.08-r0"), distro="alpine:3.11"),
    )
    # "CVE 2018-16859" in v3.9/main
    assert "CVE-2018-16859" in by_id("v3.9/main.yaml")
    # v3.8/main: db lists five Berkeley DB CVEs under "0" (never affected); nothing else does.
    v38 = by_id("v3.8/main.yaml")
    assert "CVE-2016-0682" not in v38
    assert all(x.name != "db" for a in v38.values() for x in a.affected)


@needs_data
def test_all_files_totals_and_speed() -> None:
    counts: dict[str, int] = {}
    bad: list[str] = []
    start = time.perf_counter()
    for path in sorted(SECDB.glob("v3.*/*.yaml")):
        advisories = list(parse_secdb(path.read_bytes(), str(path), bad.append))
        counts[f"{path.parent.name}/{path.name}"] = len(advisories)
        assert {x.distro for a in advisories for x in a.affected} == (
            {f"alpine:{path.parent.name[1:]}"} if advisories else set()
        )
    assert time.perf_counter() - start < 5
    assert bad == []
    assert len(counts) == 18
    assert counts["v3.3/community.yaml"] == 0  # "packages:" is empty
    assert counts["v3.11/main.yaml"] == 1123
    assert sum(counts.values()) == 11449


def test_secfix_ids() -> None:
    assert secfix_ids("CVE-2019-1234") == [("CVE-2019-1234", ())]
    assert secfix_ids("CVE-2019-1234  XSA-300") == [("CVE-2019-1234", ("XSA-300",))]
    assert secfix_ids("XSA-300") == [("XSA-300", ())]
    assert secfix_ids("CVE-2017-1 XSA-5") == [("XSA-5", ())]  # too short for a CVE number
    assert secfix_ids("CVE-2017-1000 CVE-2017-2000 XSA-5 XPTI") == [
        ("CVE-2017-1000", ("XSA-5",)),
        ("CVE-2017-2000", ("XSA-5",)),
    ]
    assert secfix_ids("CVE-2016-1234 TALOS-2016-0123") == [("CVE-2016-1234", ("TALOS-2016-0123",))]
    assert secfix_ids("wnpa-sec-2017-18") == [("wnpa-sec-2017-18", ())]
    assert secfix_ids("CVE-2018-5712 (SMB - too unreliably reproduced)") == [("CVE-2018-5712", ())]
    assert secfix_ids("CVE-????-?????") == []
    assert secfix_ids("nothing here") == []


SECDB_JSON: dict[str, Any] = {
    "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
    "archs": ["x86_64", "aarch64"],
    "reponame": "main",
    "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
    "distroversion": "v3.18",
    "packages": [
        {"pkg": {"name": "openssl", "secfixes": {
            "3.1.0-r2": ["CVE-2023-0464"],
            "3.0.7-r2": ["CVE-2022-3996"],
            "0": ["CVE-2022-1292"],
        }}},
        {"pkg": {"name": "openssl1.1-compat", "secfixes": {"1.1.1t-r2": ["CVE-2023-0464"]}}},
        {"pkg": {"name": "busybox"}},
        {"pkg": {"name": "bad", "secfixes": ["not", "a", "mapping"]}},
        {"pkg": {"name": "curl", "secfixes": {
            "8.1.0-r0": "CVE-2023-28319", "8.0.1-r0": [5, None]}}},
        {"pkg": {"name": "zlib", "secfixes": {"not a version": ["CVE-2022-37434"]}}},
        {"pkg": {"name": None}},
        "not an object",
    ],
}  # fmt: skip


def test_json_form_and_record_errors() -> None:
    advisories, bad = run(json.dumps(SECDB_JSON).encode(), "v3.18/main.json")
    assert advisories == [
        Advisory(
            id="CVE-2023-0464",
            source="alpine-secdb",
            affected=(
                Affected("apk", "openssl", fixed("3.1.0-r2"), distro="alpine:3.18"),
                Affected("apk", "openssl1.1-compat", fixed("1.1.1t-r2"), distro="alpine:3.18"),
            ),
        ),
        Advisory(
            id="CVE-2022-3996",
            source="alpine-secdb",
            affected=(Affected("apk", "openssl", fixed("3.0.7-r2"), distro="alpine:3.18"),),
        ),
    ]
    assert bad == [
        "v3.18/main.json: packages[3] (bad): secfixes is list, not a mapping",
        "v3.18/main.json: packages[4] (curl) 8.1.0-r0: str instead of a list of ids",
        "v3.18/main.json: packages[4] (curl) 8.0.1-r0: no advisory id in 5",
        "v3.18/main.json: packages[4] (curl) 8.0.1-r0: no advisory id in None",
        "v3.18/main.json: packages[5] (zlib): 'not a version' is not an apk version",
        "v3.18/main.json: packages[6]: no pkg with a package name",
        "v3.18/main.json: packages[7]: no pkg with a package name",
    ]


BOMB = b"""\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
distroversion: v3.11
packages: [*f]
"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BOMB, "aliases are refused"),
        (b"\x00\xff\xfe\x80garbage", "not UTF-8"),
        ("distroversion: v3.11\nnote: caf\u00e9\n".encode("latin-1"), "not UTF-8"),
        (bytes(random.Random(3).randrange(256) for _ in range(5000)), ""),
        (b"- just\n- a list\n", "not a secdb object"),
        (b"distroversion: [1, 2]\npackages: []\n", "is not a release"),
        (b"distroversion: v3.11\npackages: {a: 1}\n", "packages is dict"),
        (b"distroversion: v3.11\npackages: [\n", "YAML error"),
        (b"!!python/object/apply:os.system ['true']\n", "YAML error"),
        (b"[" * 50000, "not JSON"),
        (b"{" * 50000, "not JSON"),
        (b"a:\n" + b"".join(b" " * i + b"b:\n" for i in range(1, 3000)), "YAML error"),
        (b"---\na: 1\n---\nb: 2\n", "YAML error"),
        (b"x" * (9 * 1024 * 1024), "byte limit"),
    ],
)
def test_hostile_inputs_never_raise(data: bytes, message: str) -> None:
    start = time.perf_counter()
    advisories, bad = run(data)
    assert time.perf_counter() - start < 2
    assert advisories == []
    assert len(bad) == 1 and message in bad[0]


def test_load_yaml_allows_star_in_text_and_anchors_alone() -> None:
    assert load_yaml(b"a: 'x * y'\nb: &anchor 1\n") == {"a": "x * y", "b": 1}
