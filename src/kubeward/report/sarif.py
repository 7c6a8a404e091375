"""SARIF 2.1.0 report of a scan's findings, the format code-scanning services ingest.

Shaped for GitHub code scanning: one rule per rule_id with a numeric `security-severity`,
results pointing at relative, percent-escaped file URIs, and a fingerprint that survives
rebuilds and line shifts, so re-uploading a scan updates alerts instead of duplicating them.
Equal ScanResults give equal bytes: rules are sorted by id and nothing depends on the clock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

from packageurl import PackageURL

from kubeward import __version__
from kubeward.model import Finding, Location, Package, ScanResult, Severity
from kubeward.report.json_report import dump

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/kubeward/kubeward"

# Key of our entry in result.partialFingerprints; bump the suffix if the recipe changes.
FINGERPRINT_KEY = "kubeward/v1"

# GitHub code scanning reads `security-severity` as a CVSS-like score and buckets it:
# >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. UNKNOWN gets none.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.0",
    Severity.HIGH: "7.0",
    Severity.MEDIUM: "4.0",
    Severity.LOW: "0.1",
}
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.UNKNOWN: "note",
}
# Kept verbatim in file URIs besides letters, digits and "-._~": the RFC 3986 sub-delims and
# "@" (npm scopes). ":" is always escaped so a first segment never reads as a URI scheme.
_PATH_SAFE = "/!$&'()*+,;=@"
# Kept verbatim in reference URLs: what RFC 3986 allows in every part after the scheme, and
# "%" so that existing escapes are not escaped twice ("%" not starting one is escaped first).
_URL_SAFE = ":/?@!$&'()*+,;=%"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=-]+")  # an RFC 3986 reg-name or IPv4 address
_WORD = re.compile(r"[A-Za-z0-9]+")


def level(severity: Severity) -> str:
    """The SARIF result level for a severity."""
    return _LEVEL[severity]


def file_uri(path: str) -> str:
    """`path` (POSIX, relative) as a relative URI reference with every unsafe byte escaped.

    Undecodable file names arrive as surrogate escapes and are written as their original
    bytes; other lone surrogates, which have no bytes, become "?".
    """
    path = path.lstrip("/")  # "//x" would be read as a host name
    try:
        return quote(path, safe=_PATH_SAFE, encoding="utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return quote(path, safe=_PATH_SAFE, encoding="utf-8", errors="replace")


def _help_uri(references: Sequence[str]) -> str | None:
    # A reference is text from an advisory: only an http(s) URL is offered as the help link,
    # escaped so that a stray space, "%", "#" or control character cannot make it invalid.
    if not references:
        return None
    raw = _STRAY_PERCENT.sub("%25", references[0].strip())
    base, hash_mark, fragment = raw.partition("#")
    uri = quote(base, safe=_URL_SAFE, errors="replace")
    if hash_mark:
        uri += "#" + quote(fragment, safe=_URL_SAFE, errors="replace")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    if parts.hostname is None or not _HOST.fullmatch(parts.hostname):
        return None
    return uri


def _identity_purl(pkg: Package) -> str:
    """The package's purl without version, qualifiers and subpath.

    A rebuild that changes the distro point release, or an upgrade that still does not fix
    the problem, must not look like a new alert.
    """
    if pkg.purl:
        try:
            parsed = PackageURL.from_string(pkg.purl)
        except ValueError:
            return pkg.purl
        return str(PackageURL(type=parsed.type, namespace=parsed.namespace, name=parsed.name))
    return f"{pkg.ecosystem}/{pkg.name}"


def fingerprint(finding: Finding) -> str:
    """A stable identity: rule, package (without version), path and resource, not the line."""
    parts = (
        finding.rule_id,
        "" if finding.package is None else _identity_purl(finding.package),
        finding.location.path or "",
        finding.location.resource or "",
    )
    text = "\x1f".join(parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _rule_name(kind: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in _WORD.findall(kind)) or "Finding"


def _help_text(finding: Finding) -> str:
    lines = [finding.remediation or finding.title or finding.rule_id]
    if finding.references:
        lines.append("")
        lines.append("References:")
        lines.extend(f"- {ref}" for ref in finding.references)
    return "\n".join(lines)


def _rule(rule_id: str, findings: Sequence[Finding]) -> dict[str, Any]:
    """The rule for `rule_id`, described by its first finding, rated by its worst one."""
    first = findings[0]
    severity = max(f.severity for f in findings)
    title = first.title or rule_id
    properties: dict[str, Any] = {}
    if severity in _SECURITY_SEVERITY:
        properties["security-severity"] = _SECURITY_SEVERITY[severity]
    properties["tags"] = _unique([first.kind, "security", severity.name])
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": _rule_name(first.kind),
        "shortDescription": {"text": title},
        "fullDescription": {"text": title},
        "defaultConfiguration": {"level": level(severity)},
    }
    help_uri = _help_uri(first.references)
    if help_uri is not None:
        rule["helpUri"] = help_uri
    rule["help"] = {"text": _help_text(first)}
    rule["properties"] = properties
    return rule


def _unique(items: Iterable[str]) -> list[str]:
    # The schema asks for distinct tags; a kind spelled like a severity must not break it.
    return list(dict.fromkeys(item for item in items if item))


def _locations(location: Location) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {}
    if location.path:
        artifact: dict[str, Any] = {"uri": file_uri(location.path)}
        if location.layer:
            artifact["properties"] = {"layer": location.layer}
        physical: dict[str, Any] = {"artifactLocation": artifact}
        if location.line is not None and location.line >= 1:
            region: dict[str, Any] = {"startLine": location.line}
            if location.end_line is not None and location.end_line >= location.line:
                region["endLine"] = location.end_line
            physical["region"] = region
        entry["physicalLocation"] = physical
    if location.resource:
        entry["logicalLocations"] = [{"fullyQualifiedName": location.resource, "kind": "object"}]
    return [entry] if entry else []


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": {"text": finding.message or finding.title or finding.rule_id},
    }
    locations = _locations(finding.location)
    if locations:
        result["locations"] = locations
    result["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint(finding)}
    properties: dict[str, Any] = {"kind": finding.kind, "severity": finding.severity.name}
    pkg = finding.package
    if pkg is not None:
        properties["packageName"] = pkg.name
        properties["packageVersion"] = pkg.version
        if pkg.purl:
            properties["packagePurl"] = pkg.purl
    if finding.fixed_version:
        properties["fixedVersion"] = finding.fixed_version
    result["properties"] = properties
    return result


def to_document(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as plain JSON-ready data."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    rule_ids = sorted(by_rule)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    artifact = result.artifact
    run_properties: dict[str, Any] = {"artifactName": artifact.name, "artifactKind": artifact.kind}
    if artifact.image_id:
        run_properties["imageId"] = artifact.image_id
    return sarif_log(
        [_rule(rule_id, by_rule[rule_id]) for rule_id in rule_ids],
        [_result(f, index[f.rule_id]) for f in result.findings],
        run_properties,
    )


def sarif_log(
    rules: list[dict[str, Any]], results: list[dict[str, Any]], properties: dict[str, Any]
) -> dict[str, Any]:
    """The SARIF 2.1.0 log of one kubeward run (shared by every report that speaks SARIF)."""
    return {
        "$schema": SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kubeward",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "results": results,
                "properties": properties,
            }
        ],
    }


def write(result: ScanResult, out: BinaryIO) -> None:
    """Write `result` as a SARIF 2.1.0 log."""
    dump(to_document(result), out)
