"""--severity parsing, severity and unfixed filtering, and the exit code that follows."""

from __future__ import annotations

import pytest

from kubeward.errors import UsageError
from kubeward.findings_filter import (
    exit_code_for,
    filter_findings,
    parse_severities,
    severities_at_or_above,
)
from kubeward.model import Finding, Location, Severity

C, H, M, L, U = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
    Severity.UNKNOWN,
)


def finding(
    rule_id: str, severity: Severity, kind: str = "vulnerability", fixed: str | None = None
) -> Finding:
    return Finding(
        kind=kind,
        rule_id=rule_id,
        title="t",
        severity=severity,
        location=Location(path="p"),
        message="m",
        fixed_version=fixed,
    )


FINDINGS = (
    finding("CVE-C-fixed", C, fixed="1.2"),
    finding("CVE-H-unfixed", H),
    finding("CVE-M-empty-fix", M, fixed=""),
    finding("secret-H", H, kind="secret"),
    finding("KW-L", L, kind="misconfiguration"),
    finding("CVE-U-fixed", U, fixed="2"),
)


NAMES = "UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL"


def ids(findings: tuple[Finding, ...]) -> list[str]:
    return [f.rule_id for f in findings]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CRITICAL", {C}),
        ("HIGH", {H, C}),
        ("medium", {M, H, C}),
        (" Low ", {L, M, H, C}),
        ("UNKNOWN", {U, L, M, H, C}),
        ("HIGH,CRITICAL", {H, C}),
        ("critical, high", {H, C}),
        ("LOW,CRITICAL", {L, C}),
        ("MEDIUM,", {M}),
        ("UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL", {U, L, M, H, C}),
        ("HIGH,HIGH", {H}),
    ],
)
def test_parse_severities(text: str, expected: set[Severity]) -> None:
    assert parse_severities(text) == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--severity needs a severity name (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL), not ''"),
        (
            " , ",
            "--severity needs a severity name (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL), not ' , '",
        ),
        (
            "SEVERE",
            f"unknown severity 'SEVERE' in --severity (choose from {NAMES})",
        ),
        (
            "HIGH,urgent",
            f"unknown severity 'urgent' in --severity (choose from {NAMES})",
        ),
        (
            "HIGH+",
            f"unknown severity 'HIGH+' in --severity (choose from {NAMES})",
        ),
    ],
)
def test_parse_severities_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_severities(text)
    assert str(caught.value) == message


def test_severities_at_or_above() -> None:
    assert severities_at_or_above(M) == frozenset({M, H, C})
    assert severities_at_or_above(U) == frozenset(Severity)


@pytest.mark.parametrize(
    ("severities", "ignore_unfixed", "expected"),
    [
        (None, False, ids(FINDINGS)),
        (H, False, ["CVE-C-fixed", "CVE-H-unfixed", "secret-H"]),
        (frozenset({H}), False, ["CVE-H-unfixed", "secret-H"]),
        (frozenset({L, C}), False, ["CVE-C-fixed", "KW-L"]),
        ({U}, False, ["CVE-U-fixed"]),
        (frozenset(), False, []),
        (None, True, ["CVE-C-fixed", "secret-H", "KW-L", "CVE-U-fixed"]),
        (H, True, ["CVE-C-fixed", "secret-H"]),
        (parse_severities("MEDIUM,"), True, []),
    ],
)
def test_filter_findings(
    severities: Severity | frozenset[Severity] | set[Severity] | None,
    ignore_unfixed: bool,
    expected: list[str],
) -> None:
    assert ids(filter_findings(FINDINGS, severities, ignore_unfixed)) == expected


def test_filter_findings_takes_any_iterable() -> None:
    assert ids(filter_findings(iter(FINDINGS), C, False)) == ["CVE-C-fixed"]


@pytest.mark.parametrize(
    ("findings", "exit_code", "expected"),
    [
        (FINDINGS, 1, 1),
        (FINDINGS, 0, 0),
        (FINDINGS, 255, 255),
        ((), 1, 0),
        ((), 42, 0),
        (filter_findings(FINDINGS, C, False), 3, 3),
        (filter_findings(FINDINGS, frozenset({M}), True), 3, 0),
    ],
)
def test_exit_code_for(findings: tuple[Finding, ...], exit_code: int, expected: int) -> None:
    assert exit_code_for(findings, exit_code) == expected


def test_exit_code_for_consumes_iterators_once() -> None:
    assert exit_code_for(iter(FINDINGS), 4) == 4
    assert exit_code_for(iter(()), 4) == 0


@pytest.mark.parametrize("exit_code", [-1, 256, 1000])
def test_exit_code_out_of_range(exit_code: int) -> None:
    with pytest.raises(UsageError) as caught:
        exit_code_for(FINDINGS, exit_code)
    assert str(caught.value) == f"--exit-code must be between 0 and 255, not {exit_code}"
