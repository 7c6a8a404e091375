"""Compliance reports as a plain table for people and a stable JSON shape for tools.

The table is plain aligned text (no rich): one row per control, then the findings of each
failed control, then a one-line summary, so it reads the same on a terminal, in CI logs
and in a diff. Text from manifests (names, messages) is shown as data only: control and
bidi characters are escaped so a manifest cannot drive the terminal.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

from kubeward.compliance.evaluate import ComplianceReport, ComplianceSummary, ControlResult
from kubeward.model import Finding

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_HEADERS = ("ID", "Status", "Findings", "Name")


def _safe(text: str | None) -> str:
    if not text:
        return ""
    return _CONTROL_CHARS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def summary_line(summary: ComplianceSummary) -> str:
    """ "N pass, M fail, K manual", plus the skipped count when the selection skipped any."""
    line = f"{summary.passed} pass, {summary.failed} fail, {summary.manual} manual"
    if summary.skipped:
        line += f", {summary.skipped} skipped"
    return line


def _count(control: ControlResult) -> str:
    # manual and skipped controls were not judged: "0" would read as "checked, clean"
    return str(len(control.findings)) if control.status in ("pass", "fail") else "-"


def _where(finding: Finding) -> str:
    loc = finding.location
    where = loc.path or ""
    if loc.line is not None:
        where = f"{where}:{loc.line}"
    return where


def write_compliance_table(report: ComplianceReport, out: TextIO) -> None:
    """Write `report` as a table: controls, the findings of failed ones, the summary."""
    objects = report.summary.objects
    noun = "object" if objects == 1 else "objects"
    lines = [
        f"{_safe(report.title)} ({_safe(report.spec_id)}, version {_safe(report.version)}): "
        f"{objects} {noun} scanned",
        "",
    ]
    # specs whose ids are the control names (the Pod Security Standards) need no Name column
    named = any(c.id != c.name for c in report.controls)
    headers = _HEADERS if named else _HEADERS[:-1]
    rows = [headers] + [
        (_safe(c.id), c.status, _count(c), _safe(c.name))[: len(headers)] for c in report.controls
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    for control in report.controls:
        if control.status != "fail":
            continue
        title = _safe(control.id)
        if control.name != control.id:
            title += f" {_safe(control.name)}"
        count = len(control.findings)
        lines.append("")
        lines.append(
            f"FAIL {title} ({control.severity.name}, {count} "
            f"{'finding' if count == 1 else 'findings'})"
        )
        for finding in control.findings:
            lines.append(
                f"  {_safe(finding.location.resource) or '-'}  {_safe(_where(finding)) or '-'}  "
                f"{_safe(finding.rule_id)}: {_safe(finding.message)}"
            )
    lines.append("")
    lines.append(summary_line(report.summary))
    out.write("\n".join(lines) + "\n")


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "ruleId": finding.rule_id,
        "path": finding.location.path,
        "line": finding.location.line,
        "resource": finding.location.resource,
        "message": finding.message,
    }


def compliance_json(report: ComplianceReport) -> dict[str, Any]:
    """`report` as plain JSON data; every key always present, in a fixed order."""
    summary = report.summary
    return {
        "spec": {"id": report.spec_id, "title": report.title, "version": report.version},
        "controls": [
            {
                "id": control.id,
                "name": control.name,
                "severity": control.severity.name,
                "status": control.status,
                "findings": [_finding_json(finding) for finding in control.findings],
            }
            for control in report.controls
        ],
        "summary": {
            "pass": summary.passed,
            "fail": summary.failed,
            "manual": summary.manual,
            "skipped": summary.skipped,
            "objects": summary.objects,
        },
    }
