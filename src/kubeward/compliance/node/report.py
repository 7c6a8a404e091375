"""Writers for a node benchmark's results: table, JSON, JUnit XML and SARIF 2.1.0.

A BenchReport is not a ScanResult (its results are controls in four states, not findings),
so it has its own writers; they keep the repo's rules: same input, same bytes (no clock),
text from the node (flags, paths) shown with control characters escaped, and UNKNOWN never
counted as a failure (JUnit `skipped`, absent from SARIF).
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from kubeward import __version__
from kubeward.compliance.node.result import BenchReport, ControlResult, Status

SCHEMA_VERSION = 1
FORMATS = ("table", "json", "junit", "sarif")
Writer = Callable[[BenchReport, BinaryIO], None]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# XML 1.0 allows tab, newline, carriage return and these ranges; anything else is replaced.
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SECURITY_SEVERITY = {"CRITICAL": "9.0", "HIGH": "7.0", "MEDIUM": "4.0", "LOW": "0.1"}
_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "warning"}


def _safe(text: str) -> str:
    """`text` with control and bidi-override characters shown as escapes (a hostile
    command line must not move the cursor or recolour the terminal)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def sections(report: BenchReport) -> Iterator[tuple[str, str, list[ControlResult]]]:
    """(section id, section text, results) in the order the results came."""
    order: dict[str, tuple[str, list[ControlResult]]] = {}
    for result in report.results:
        entry = order.setdefault(result.section_id, (result.section_text, []))
        entry[1].append(result)
    for section_id, (text, results) in order.items():
        yield section_id, text, results


def totals_line(report: BenchReport) -> str:
    totals = report.totals()
    return ", ".join(f"{totals[s.value]} {s.value}" for s in Status)


# -- table ----------------------------------------------------------------------------------


def write_table(report: BenchReport, out: BinaryIO) -> None:
    """Results grouped by section; every result has its reason, FAIL and WARN their fix."""
    lines = [f"{report.title} ({report.benchmark}) on {_safe(report.node_root)}"]
    if report.components:
        found = ", ".join(f"{name} ({_safe(path)})" for name, path in report.components.items())
        lines.append(f"components: {found}")
    else:
        lines.append("components: none found")
    for section_id, text, results in sections(report):
        lines += ["", f"[{section_id}] {_safe(text)}"]
        for result in results:
            mark = "" if result.scored else " (not scored)"
            lines.append(f"  [{result.status.value}] {result.id} {_safe(result.text)}{mark}")
            if result.reason:
                lines.append(f"      {_safe(result.reason)}")
            if result.status in (Status.FAIL, Status.WARN) and result.remediation:
                lines.append(f"      fix: {_safe(result.remediation)}")
    lines += ["", f"== {totals_line(report)} =="]
    out.write(("\n".join(lines) + "\n").encode("utf-8", "replace"))


# -- JSON -----------------------------------------------------------------------------------


def to_document(report: BenchReport) -> dict[str, Any]:
    """The JSON report (schema: kubeward/data/schema/bench.schema.json)."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "kubeward", "version": __version__},
        "benchmark": {"id": report.benchmark, "title": report.title},
        "nodeRoot": report.node_root,
        "components": dict(report.components),
        "totals": report.totals(),
        "results": [
            {
                "id": r.id,
                "text": r.text,
                "section": {"id": r.section_id, "text": r.section_text},
                "status": r.status.value,
                "scored": r.scored,
                "severity": r.severity,
                "reason": r.reason,
                "audit": r.audit,
                "evidence": [{"name": name, "value": value} for name, value in r.evidence],
                "remediation": r.remediation,
            }
            for r in report.results
        ],
        "warnings": list(report.warnings),
    }


def write_json(report: BenchReport, out: BinaryIO) -> None:
    from kubeward.report.json_report import dump

    dump(to_document(report), out)


# -- JUnit ----------------------------------------------------------------------------------


def _xml(text: str) -> str:
    return _NOT_XML.sub("?", text)


def write_junit(report: BenchReport, out: BinaryIO) -> None:
    """One testsuite per section, one testcase per control: FAIL is a <failure>, WARN and
    UNKNOWN are <skipped> with the reason (CI then shows them without failing)."""
    totals = report.totals()
    suites = ET.Element(
        "testsuites",
        name=_xml(f"kubeward bench {report.benchmark}"),
        tests=str(len(report.results)),
        failures=str(totals[Status.FAIL.value]),
        skipped=str(totals[Status.WARN.value] + totals[Status.UNKNOWN.value]),
        errors="0",
    )
    for section_id, text, results in sections(report):
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=_xml(f"{section_id} {text}"),
            tests=str(len(results)),
            failures=str(sum(r.status is Status.FAIL for r in results)),
            skipped=str(sum(r.status in (Status.WARN, Status.UNKNOWN) for r in results)),
            errors="0",
        )
        for result in results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml(f"{report.benchmark}.{section_id}"),
                name=_xml(f"{result.id} {result.text}"),
            )
            if result.status is Status.FAIL:
                failure = ET.SubElement(
                    case, "failure", message=_xml(result.reason), type=result.severity
                )
                failure.text = _xml(f"{result.reason}\nfix: {result.remediation}".strip())
            elif result.status in (Status.WARN, Status.UNKNOWN):
                ET.SubElement(
                    case, "skipped", message=_xml(f"{result.status.value}: {result.reason}")
                )
    ET.indent(suites)
    out.write(ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n")


# -- SARIF ----------------------------------------------------------------------------------


def _file_of(result: ControlResult) -> str | None:
    """The node file a result is about, when its evidence names one."""
    for name, _value in result.evidence:
        if name.startswith("/"):
            return name.rsplit(" ", 1)[0]
    return None


def to_sarif(report: BenchReport) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one rule per failed control, one result per FAIL (WARN and
    UNKNOWN are not problems found, so they are left out)."""
    from kubeward.report.sarif import file_uri, sarif_log

    failed = [r for r in report.results if r.status is Status.FAIL]
    rule_ids = sorted({r.id for r in failed}, key=_id_key)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    first = {r.id: r for r in reversed(failed)}
    rules = []
    for rule_id in rule_ids:
        r = first[rule_id]
        rules.append(
            {
                "id": rule_id,
                "shortDescription": {"text": r.text},
                "fullDescription": {"text": f"{r.section_id} {r.section_text}: {r.text}"},
                "defaultConfiguration": {"level": _LEVEL[r.severity]},
                "help": {"text": r.remediation or r.text},
                "properties": {
                    "security-severity": _SECURITY_SEVERITY[r.severity],
                    "tags": ["security", "cis-kubernetes", r.severity],
                },
            }
        )
    results = []
    for r in failed:
        entry: dict[str, Any] = {
            "ruleId": r.id,
            "ruleIndex": index[r.id],
            "level": _LEVEL[r.severity],
            "message": {"text": r.reason or r.text},
        }
        location: dict[str, Any] = {
            "logicalLocations": [
                {"fullyQualifiedName": f"{report.benchmark}/{r.id}", "kind": "object"}
            ]
        }
        path = _file_of(r)
        if path is not None:
            location["physicalLocation"] = {"artifactLocation": {"uri": file_uri(path)}}
        entry["locations"] = [location]
        identity = "\x1f".join((report.benchmark, r.id, report.node_root))
        entry["partialFingerprints"] = {
            "kubeward/v1": hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()
        }
        entry["properties"] = {"severity": r.severity, "section": r.section_id}
        results.append(entry)
    return sarif_log(
        rules,
        results,
        {"benchmark": report.benchmark, "nodeRoot": report.node_root, "totals": report.totals()},
    )


def _id_key(control_id: str) -> tuple[tuple[int, int, str], ...]:
    """ "1.2.10" after "1.2.9"; ids that are not numbers (kube-bench folders) sort after."""
    return tuple(
        (0, int(p), "") if re.fullmatch(r"[0-9]{1,18}", p) else (1, 0, p)
        for p in control_id.split(".")
    )


def write_sarif(report: BenchReport, out: BinaryIO) -> None:
    from kubeward.report.json_report import dump

    dump(to_sarif(report), out)


WRITERS: dict[str, Writer] = {
    "table": write_table,
    "json": write_json,
    "junit": write_junit,
    "sarif": write_sarif,
}
