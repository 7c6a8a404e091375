"""A compliance spec judged against the findings of one scan: one status per control.

Statuses are three-state plus "skipped": a control is "fail" when any of its checks found
something, "pass" when at least one of its checks ran and found nothing, "manual" when no
manifest check can judge it (never "fail": silence is not evidence either way), and
"skipped" when the user's selection turned off every check it relies on, so that a
disabled check is never reported as a pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from kubeward.compliance.spec import ComplianceSpec
from kubeward.misconfig.engine import Selection, checks_for, load_metadata
from kubeward.model import Finding, Severity

Status = Literal["pass", "fail", "manual", "skipped"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "manual", "skipped")


@dataclass(frozen=True, slots=True)
class ControlResult:
    id: str
    name: str
    severity: Severity
    status: Status
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class ComplianceSummary:
    passed: int
    failed: int
    manual: int
    skipped: int
    objects: int  # objects scanned: a "pass" over zero objects proves nothing


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    spec_id: str
    title: str
    version: str
    controls: tuple[ControlResult, ...]
    summary: ComplianceSummary


def _finding_key(finding: Finding) -> tuple[str, int, str, str, str]:
    loc = finding.location
    return (loc.path or "", loc.line or 0, loc.resource or "", finding.rule_id, finding.message)


def evaluate(
    spec: ComplianceSpec, findings: Iterable[Finding], ran: Iterable[str], objects: int
) -> ComplianceReport:
    """Judge every control of `spec` from `findings` (after the ignore file and annotations
    have removed accepted ones), `ran` (ids of the checks that ran) and the object count."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    ran_ids = frozenset(ran)
    results: list[ControlResult] = []
    for control in spec.controls:
        status: Status
        found: tuple[Finding, ...] = ()
        if control.manual:
            status = "manual"
        else:
            found = tuple(
                sorted(
                    (f for check in control.checks for f in by_rule.get(check, ())),
                    key=_finding_key,
                )
            )
            # a finding proves its check ran, even if the caller's `ran` forgot it
            if found:
                status = "fail"
            elif ran_ids.intersection(control.checks):
                status = "pass"
            else:
                status = "skipped"
        results.append(
            ControlResult(
                id=control.id,
                name=control.name,
                severity=control.severity,
                status=status,
                findings=found,
            )
        )
    counts = {status: sum(1 for r in results if r.status == status) for status in STATUSES}
    return ComplianceReport(
        spec_id=spec.id,
        title=spec.title,
        version=spec.version,
        controls=tuple(results),
        summary=ComplianceSummary(
            passed=counts["pass"],
            failed=counts["fail"],
            manual=counts["manual"],
            skipped=counts["skipped"],
            objects=objects,
        ),
    )


def selected_kubernetes_checks(selection: Selection | None = None) -> frozenset[str]:
    """Ids of the Kubernetes checks a manifest scan with `selection` runs: the registered
    per-object and set-level checks plus the load checks, minus what the selection turns
    off. Registered, not merely described: metadata without code must not count as a pass."""
    from kubeward.misconfig.kubernetes.scan import LOAD_CHECK_IDS

    selection = selection or Selection()
    metadata = load_metadata()
    metas = [meta for target in ("kubernetes", "kubernetes-set") for meta, _ in checks_for(target)]
    metas.extend(metadata[check_id] for check_id in LOAD_CHECK_IDS if check_id in metadata)
    return frozenset(meta.id for meta in metas if selection.wants(meta))
