"""OSV records -> Advisory: hand-made JSON and YAML fixtures, real records read in place,
and malformed input reported with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeward.vulndb.importers.osv import parse_osv, split_ecosystem
from kubeward.vulndb.model import Advisory, Affected, Range

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
OSV = DATA / "osv"


def parse(data: bytes | str, origin: str = "rec") -> tuple[list[Advisory], list[str]]:
    bad: list[str] = []
    raw = data.encode() if isinstance(data, str) else data
    return list(parse_osv(raw, origin, bad.append)), bad


RECORD = {
    "schema_version": "1.6.0",
    "id": "GHSA-aaaa-bbbb-cccc",
    "modified": "2024-01-02T03:04:05Z",
    "published": "2023-12-01T00:00:00Z",
    "withdrawn": "2024-02-01T00:00:00Z",
    "aliases": ["CVE-2023-0001", "PYSEC-2023-9", "CVE-2023-0001"],
    "related": ["CVE-2023-0002"],
    "summary": "Injection in Demo_Pkg",
    "details": "Long text.",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "Demo_Pkg", "purl": "pkg:pypi/demo-pkg"},
            "ranges": [
                {"type": "GIT", "repo": "https://x", "events": [{"introduced": "abc"}]},
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "1.2.3"}, {"introduced": "2.0"}],
                    "database_specific": {"x": 1},
                },
                {"type": "SEMVER", "events": [{"introduced": "3.0.0"}, {"last_affected": "3.1.0"}]},
            ],
            "versions": ["1.0", "1.10"],
        },
        {"package": {"ecosystem": "Hex", "name": "phoenix"}, "ranges": []},
        {"ranges": [{"type": "GIT", "repo": "https://y", "events": [{"introduced": "0"}]}]},
        {
            "package": {"ecosystem": "npm", "name": "Left-Pad"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"limit": "9.9.9"}]}],
        },
    ],
    "references": [
        {"type": "WEB", "url": "https://example.com/a"},
        {"type": "ADVISORY", "url": "https://example.com/b"},
        {"type": "WEB", "url": "https://example.com/a"},
    ],
    "database_specific": {"severity": "HIGH", "cwe_ids": ["CWE-79"]},
}

EXPECTED = Advisory(
    id="GHSA-aaaa-bbbb-cccc",
    source="osv",
    summary="Injection in Demo_Pkg",
    details="Long text.",
    published="2023-12-01T00:00:00Z",
    modified="2024-01-02T03:04:05Z",
    withdrawn="2024-02-01T00:00:00Z",
    aliases=("CVE-2023-0001", "PYSEC-2023-9"),
    references=("https://example.com/a", "https://example.com/b"),
    severity=(
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        ("RATING", "high"),
    ),
    affected=(
        Affected(
            ecosystem="pypi",
            name="demo-pkg",
            ranges=(
                Range(
                    "ECOSYSTEM", (("introduced", "0"), ("fixed", "1.2.3"), ("introduced", "2.0"))
                ),
                Range("SEMVER", (("introduced", "3.0.0"), ("last_affected", "3.1.0"))),
            ),
            versions=("1.0", "1.10"),
        ),
        Affected(
            ecosystem="npm",
            name="left-pad",
            ranges=(Range("SEMVER", (("introduced", "0"), ("limit", "9.9.9"))),),
        ),
    ),
)


def test_json_record_maps_every_kept_field() -> None:
    assert parse(json.dumps(RECORD)) == ([EXPECTED], [])


def test_yaml_record_keeps_versions_and_dates_as_written() -> None:
    text = """\
id: PYSEC-2099-1
modified: 2024-01-02T03:04:05Z
published: 2023-12-01
aliases:
- CVE-2099-1
affected:
- package:
    name: Some.Package
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: 0
    - fixed: 1.10
  versions:
  - 1.0
  - 1.9
  - yes
references:
- type: WEB
  url: https://example.org/x
withdrawn: ~
"""
    assert parse(text) == (
        [
            Advisory(
                id="PYSEC-2099-1",
                source="osv",
                published="2023-12-01",
                modified="2024-01-02T03:04:05Z",
                aliases=("CVE-2099-1",),
                references=("https://example.org/x",),
                affected=(
                    Affected(
                        ecosystem="pypi",
                        name="some-package",
                        ranges=(Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "1.10"))),),
                        versions=("1.0", "1.9", "yes"),
                    ),
                ),
            )
        ],
        [],
    )


@pytest.mark.parametrize(
    ("ecosystem", "expected"),
    [
        ("Debian:11", ("deb", "debian:11")),
        ("Debian:12", ("deb", "debian:12")),
        ("Alpine:v3.16", ("apk", "alpine:3.16")),
        ("Ubuntu:22.04", ("deb", "ubuntu:22.04")),
        ("Ubuntu:22.04:LTS", ("deb", "ubuntu:22.04")),
        ("Ubuntu:Pro:18.04:LTS", ("deb", "ubuntu:pro:18.04")),
        ("Debian", ("deb", "debian")),
        ("Go", ("golang", None)),
        ("crates.io", ("cargo", None)),
        ("Maven", ("maven", None)),
        ("Hex", None),
        ("kubernetes", None),
        ("", None),
    ],
)
def test_ecosystem_suffixes_become_distros(
    ecosystem: str, expected: tuple[str, str | None] | None
) -> None:
    assert split_ecosystem(ecosystem) == expected


def test_distro_record() -> None:
    record = {
        "id": "DSA-5000-1",
        "modified": "2023-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Debian:11", "name": "openssl"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "1.1.1n-0+deb11u1"}],
                    }
                ],
            },
            {
                "package": {"ecosystem": "Alpine:v3.16", "name": "openssl"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.1q-r0"}]}
                ],
            },
        ],
    }
    [advisory], bad = parse(json.dumps(record))
    assert bad == []
    assert advisory.affected == (
        Affected(
            "deb",
            "openssl",
            (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "1.1.1n-0+deb11u1"))),),
            distro="debian:11",
        ),
        Affected(
            "apk",
            "openssl",
            (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "1.1.1q-r0"))),),
            distro="alpine:3.16",
        ),
    )


def test_record_with_no_matchable_package_is_kept_without_affected() -> None:
    record = {
        "id": "PSF-2017-1",
        "modified": "x",
        "affected": [{"ranges": [{"type": "GIT", "events": []}]}],
    }
    assert parse(json.dumps(record)) == (
        [Advisory(id="PSF-2017-1", source="osv", modified="x")],
        [],
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[1, 2]", "rec: malformed OSV record: not an object but list"),
        (b'"text"', "rec: malformed OSV record: not an object but str"),
        (b"{}", "rec: malformed OSV record: no 'id'"),
        (b'{"id": 5}', "rec: malformed OSV record: no 'id'"),
        (b'{"id": "  "}', "rec: malformed OSV record: no 'id'"),
        (
            b'{"id": "X-1", "affected": "all"}',
            "rec (X-1): malformed OSV record: 'affected' is not a list",
        ),
        (
            b'{"id": "X-1", "affected": [5]}',
            "rec (X-1): malformed OSV record: an 'affected' entry is not an object",
        ),
        (
            b'{"id": "X-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"},'
            b' "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": 1}]}]}]}',
            "rec (X-1): malformed OSV record: range event 'fixed' is not text",
        ),
        (
            b'{"id": "X-1", "affected": [{"package": {"ecosystem": "PyPI"}}]}',
            "rec (X-1): malformed OSV record: 'package' without ecosystem or name",
        ),
        (
            b'{"id": "X-1", "summary": ["a"]}',
            "rec (X-1): malformed OSV record: 'summary' is not text",
        ),
        (
            b'{"id": "X-1", "aliases": [1]}',
            "rec (X-1): malformed OSV record: 'aliases' holds something other than text",
        ),
        (
            b'{"id": "X-1", "severity": ["CVSS"]}',
            "rec (X-1): malformed OSV record: a 'severity' entry is not an object",
        ),
        (
            b'{"id": "X-1", "references": "https://x"}',
            "rec (X-1): malformed OSV record: 'references' is not a list",
        ),
        (
            b'{"id": "X-1"',
            "rec: not valid JSON or YAML: Expecting ',' delimiter: line 1 column 13 (char 12)",
        ),
        (b"id: [unclosed", None),
        (b"\xff\xfe\x00garbage", None),
        (b"[" * 100_000 + b"]" * 100_000, None),
        (b"- a\n- b\n", "rec: malformed OSV record: not an object but list"),
        (b"", "rec: malformed OSV record: not an object but NoneType"),
        (b"id: a\n---\nid: b\n", None),
    ],
)
def test_malformed_records_give_one_line_and_nothing(data: bytes, reason: str | None) -> None:
    advisories, bad = parse(data)
    assert advisories == []
    assert len(bad) == 1
    assert "\n" not in bad[0]
    if reason is None:
        assert bad[0].startswith("rec: ")
    else:
        assert bad[0] == reason


def test_real_pysec_yaml() -> None:
    path = OSV / "pypi" / "vulns" / "jinja2" / "PYSEC-2019-217.yaml"
    [advisory], bad = parse(path.read_bytes(), str(path))
    assert bad == []
    assert advisory.id == "PYSEC-2019-217"
    assert (
        advisory.details
        == "In Pallets Jinja before 2.10.1, str.format_map allows a sandbox escape."
    )
    [affected] = advisory.affected
    assert affected.ecosystem == "pypi"
    assert affected.name == "jinja2"
    assert affected.distro is None
    assert affected.ranges == (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "2.10.1"))),)
    assert affected.versions[:5] == ("2.0", "2.0rc1", "2.1", "2.1.1", "2.10")
    assert len(affected.versions) == 31
    assert affected.versions[-1] == "2.9.6"


def test_real_go_json() -> None:
    path = OSV / "go" / "osv" / "GO-2024-2916.json"
    [advisory], bad = parse(path.read_bytes(), str(path))
    assert bad == []
    assert advisory.aliases == ("CVE-2024-22261", "GHSA-vw63-824v-qf2j")
    assert advisory.summary == "SQL Injection in Harbor scan log API in github.com/goharbor/harbor"
    assert advisory.affected == (
        Affected(
            "golang",
            "github.com/goharbor/harbor",
            (
                Range(
                    "SEMVER",
                    (
                        ("introduced", "0"),
                        ("fixed", "2.8.6+incompatible"),
                        ("introduced", "2.9.0+incompatible"),
                        ("fixed", "2.9.4+incompatible"),
                        ("introduced", "2.10.0+incompatible"),
                        ("fixed", "2.10.2+incompatible"),
                    ),
                ),
            ),
        ),
    )
    assert advisory.references == (
        "https://github.com/goharbor/harbor/security/advisories/GHSA-vw63-824v-qf2j",
        "https://nvd.nist.gov/vuln/detail/CVE-2024-22261",
    )


def test_real_rustsec_json() -> None:
    path = OSV / "crates" / "crates" / "RUSTSEC-2023-0090.json"
    [advisory], bad = parse(path.read_bytes(), str(path))
    assert bad == []
    assert advisory.published == "2023-03-02T12:00:00Z"
    assert advisory.severity == (("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H"),)
    assert advisory.affected == (
        Affected(
            "cargo",
            "wasmtime",
            (
                Range(
                    "SEMVER",
                    (
                        ("introduced", "0.0.0-0"),
                        ("fixed", "4.0.1"),
                        ("introduced", "5.0.0"),
                        ("fixed", "5.0.1"),
                        ("introduced", "6.0.0"),
                        ("fixed", "6.0.1"),
                    ),
                ),
            ),
        ),
    )


def test_real_psf_record_has_only_git_ranges() -> None:
    path = OSV / "cpython-psf" / "advisories" / "python" / "PSF-2017-1.json"
    [advisory], bad = parse(path.read_bytes(), str(path))
    assert (advisory.id, advisory.aliases, advisory.affected, bad) == (
        "PSF-2017-1",
        ("CVE-2014-4616",),
        (),
        [],
    )
