"""Node.js security working group advisories (nodejs/security-wg, vuln/npm/<n>.json).

The frozen ecosystem advisories (formerly the Node Security Project) are the npm data
kubeward has offline. Their `vulnerable_versions` / `patched_versions` are npm (node-semver)
ranges and are kept verbatim as a CONSTRAINTS range for the semver scheme to evaluate.

Decisions:
- id "NSWG-ECO-<id>" (the WG's own public naming), CVEs as aliases.
- patched_versions "<0.0.0" is the WG's way of saying "no fix" and is dropped: it
  matches no version, and kept it would read as a fix to whoever displays it.
- Severity: the CVSS vector when present (CVSS_V3, or CVSS_V2 for a bare v2 vector), else
  the score as ("CVSS_V3_SCORE", "7.5").
- vuln/core and vuln/deps (Node.js itself and its bundled libraries) are skipped without a
  warning, recognised by their shape (no module_name, a "cve" list): kubeward does not
  inventory the node binary yet. So is an index.json (all advisories in one object keyed by
  id), since the per-id files already carry every record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from kubeward.vulndb.model import Advisory, Affected, OnBadRecord, Range
from kubeward.vulndb.names import normalize

MAX_JSON_BYTES = 8 * 1024 * 1024

# npm package names: optional @scope/, then URL-safe characters (legacy names may be upper case).
_MODULE = re.compile(r"(?:@[A-Za-z0-9][A-Za-z0-9._~-]*/)?[A-Za-z0-9._~-][A-Za-z0-9._~-]*")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_NO_FIX = {"<0.0.0", "<0.0.0-0"}


def parse_nodejs_wg(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
    """One vuln/npm/<n>.json file: zero (skipped or malformed) or one Advisory."""
    if len(data) > MAX_JSON_BYTES:
        on_bad(f"{origin}: {len(data)} bytes, over the {MAX_JSON_BYTES} byte limit")
        return
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        on_bad(f"{origin}: not JSON ({type(exc).__name__}: {str(exc)[:100]})")
        return
    try:
        advisory = _advisory(doc, origin, on_bad)
    except Exception as exc:  # never let one record stop the import
        on_bad(f"{origin}: {type(exc).__name__}: {str(exc)[:100]}")
        return
    if advisory is not None:
        yield advisory


def _is_index(doc: dict[str, Any]) -> bool:
    return (
        bool(doc)
        and "id" not in doc
        and all(k.isdigit() and isinstance(v, dict) for k, v in doc.items())
    )


def _advisory(doc: Any, origin: str, on_bad: OnBadRecord) -> Advisory | None:
    if not isinstance(doc, dict):
        on_bad(f"{origin}: top level is {type(doc).__name__}, not an advisory object")
        return None
    if "module_name" not in doc and ("cve" in doc or _is_index(doc)):
        return None  # Node.js core/deps advisory, or an index file
    raw_id, module = doc.get("id"), doc.get("module_name")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not str(raw_id).isdigit():
        on_bad(f"{origin}: id {raw_id!r:.40} is not a number")
        return None
    adv_id = f"NSWG-ECO-{int(raw_id)}"
    if not isinstance(module, str) or not _MODULE.fullmatch(module.strip()):
        on_bad(f"{origin}: {adv_id}: module_name {module!r:.60} is not an npm package name")
        return None
    vulnerable, patched = doc.get("vulnerable_versions"), doc.get("patched_versions")
    if not isinstance(vulnerable, str) or not vulnerable.strip():
        on_bad(f"{origin}: {adv_id}: no vulnerable_versions range")
        return None
    if patched is not None and not isinstance(patched, str):
        on_bad(f"{origin}: {adv_id}: patched_versions is {type(patched).__name__}, not a range")
        return None
    events: list[tuple[str, str]] = [("vulnerable", vulnerable.strip())]
    if patched and patched.strip() and patched.strip() not in _NO_FIX:
        events.append(("patched", patched.strip()))

    cves = doc.get("cves") or []
    if not isinstance(cves, list) or not all(isinstance(c, str) for c in cves):
        on_bad(f"{origin}: {adv_id}: cves is not a list of ids")
        return None
    aliases = tuple(dict.fromkeys(c.strip() for c in cves if _CVE.fullmatch(c.strip())))

    severity: tuple[tuple[str, str], ...] = ()
    vector, score = doc.get("cvss_vector"), doc.get("cvss_score")
    if isinstance(vector, str) and vector.strip():
        vector = vector.strip()
        severity = (("CVSS_V3" if vector.upper().startswith("CVSS:3") else "CVSS_V2", vector),)
    elif isinstance(score, int | float) and not isinstance(score, bool) and 0 <= score <= 10:
        severity = (("CVSS_V3_SCORE", str(float(score))),)

    references = doc.get("references") or []
    details = _text(doc.get("overview"))
    recommendation = _text(doc.get("recommendation"))
    if recommendation:
        details = f"{details}\n\nRecommendation: {recommendation}".strip()
    return Advisory(
        id=adv_id,
        source="nodejs-wg",
        summary=_text(doc.get("title")),
        details=details,
        published=_text(doc.get("publish_date")) or _text(doc.get("created_at")) or None,
        modified=_text(doc.get("updated_at")) or None,
        aliases=aliases,
        references=tuple(
            dict.fromkeys(r.strip() for r in references if isinstance(r, str) and r.strip())
        )
        if isinstance(references, list)
        else (),
        severity=severity,
        affected=(
            Affected(
                ecosystem="npm",
                name=normalize("npm", module),
                ranges=(Range("CONSTRAINTS", tuple(events)),),
            ),
        ),
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
