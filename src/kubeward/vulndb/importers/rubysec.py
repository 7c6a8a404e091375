"""RubySec (rubysec/ruby-advisory-db): one YAML advisory per file, gems/<gem>/<id>.yml.

RubySec states affected versions the way bundler-audit evaluates them: a gem version is
vulnerable unless it satisfies one of `patched_versions` or `unaffected_versions`, each entry
a Gem::Requirement ("~> 5.2.4, >= 5.2.4.3"). They are kept verbatim as a CONSTRAINTS range
so the RubyGems scheme evaluates exactly what the advisory says; translating to OSV events
would lose the "~>" pessimistic branches.

Decisions:
- id: "CVE-<cve>" if the file has a cve, else "GHSA-<ghsa>", else "OSVDB-<osvdb>", else
  "RUBYSEC-<gem>-<file stem>"; the other ids become aliases. The content decides, not the
  file name (some GHSA-named files carry a CVE). Several gems can share a CVE (one file
  per gem), so the same id can come from several files.
- No patched and no unaffected versions means every version is affected: the range is
  ("vulnerable", ">= 0"), said explicitly rather than left empty (an empty range would
  depend on the matcher reading "no events" as "affected").
- Severity: the files hold numeric base scores only (cvss_v2/v3/v4: 6.8), stored as
  ("CVSS_V2_SCORE", "6.8") etc.; a full vector ("CVSS:3.1/...") would be stored as CVSS_V3.
- rubies/<engine>/ (the interpreters: ruby, jruby, ...) are skipped without a warning:
  kubeward does not inventory Ruby interpreters yet.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from kubeward.vulndb.importers.alpine import YAMLRefused, load_yaml
from kubeward.vulndb.model import Advisory, Affected, OnBadRecord, Range
from kubeward.vulndb.names import normalize

_GEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CVE_NUMBER = re.compile(r"(?:CVE-)?(\d{4}-\d{4,})", re.IGNORECASE)
_GHSA_NUMBER = re.compile(
    r"(?:GHSA-)?([2-9cfghjmpqrvwx]{4}-[2-9cfghjmpqrvwx]{4}-[2-9cfghjmpqrvwx]{4})"
)
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SCORE_KINDS = {"cvss_v4": "CVSS_V4", "cvss_v3": "CVSS_V3", "cvss_v2": "CVSS_V2"}


def parse_rubysec(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
    """One RubySec file: zero (skipped or malformed) or one Advisory."""
    try:
        doc = load_yaml(data)
    except YAMLRefused as exc:
        on_bad(f"{origin}: {exc}")
        return
    try:
        advisory = _advisory(doc, origin, on_bad)
    except Exception as exc:  # never let one record stop the import
        on_bad(f"{origin}: {type(exc).__name__}: {str(exc)[:100]}")
        return
    if advisory is not None:
        yield advisory


def _advisory(doc: Any, origin: str, on_bad: OnBadRecord) -> Advisory | None:
    if not isinstance(doc, dict):
        on_bad(f"{origin}: top level is {type(doc).__name__}, not an advisory mapping")
        return None
    gem = doc.get("gem")
    if gem is None and "engine" in doc:
        return None  # an interpreter advisory (rubies/): not inventoried yet
    if not isinstance(gem, str) or not _GEM.fullmatch(gem):
        on_bad(f"{origin}: no gem name ({gem!r:.40})")
        return None

    ids: list[str] = []
    cve, ghsa, osvdb = doc.get("cve"), doc.get("ghsa"), doc.get("osvdb")
    if cve is not None:
        m = _CVE_NUMBER.fullmatch(str(cve).strip())
        if m is None:
            on_bad(f"{origin}: cve {cve!r:.40} is not a CVE number")
            return None
        ids.append(f"CVE-{m.group(1)}")
    if ghsa is not None:
        m = _GHSA_NUMBER.fullmatch(str(ghsa).strip().lower())
        if m is None:
            on_bad(f"{origin}: ghsa {ghsa!r:.40} is not a GHSA id")
            return None
        ids.append(f"GHSA-{m.group(1)}")
    if osvdb is not None:
        if isinstance(osvdb, bool) or not str(osvdb).strip().isdigit():
            on_bad(f"{origin}: osvdb {osvdb!r:.40} is not a number")
            return None
        ids.append(f"OSVDB-{int(str(osvdb).strip())}")
    if not ids:
        stem = PurePosixPath(origin).stem
        if not _STEM.fullmatch(stem):
            on_bad(f"{origin}: no cve, ghsa or osvdb, and no file name to name it by")
            return None
        ids.append(f"RUBYSEC-{gem}-{stem}")

    events: list[tuple[str, str]] = []
    for key, kind in (("patched_versions", "patched"), ("unaffected_versions", "unaffected")):
        values = doc.get(key)
        if values is None:
            continue
        if not isinstance(values, list) or not all(
            isinstance(v, str) and v.strip() for v in values
        ):
            on_bad(f"{origin}: {key} is not a list of requirement strings")
            return None
        events.extend((kind, v.strip()) for v in values)
    if not events:
        events.append(("vulnerable", ">= 0"))  # never patched

    severity: list[tuple[str, str]] = []
    for key, kind in _SCORE_KINDS.items():
        value = doc.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.strip().upper().startswith("CVSS:"):
            severity.append((kind, value.strip()))
        elif isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 10:
            severity.append((f"{kind}_SCORE", str(float(value))))
        else:
            on_bad(f"{origin}: {key} {value!r:.40} is neither a score nor a vector (ignored)")

    references: list[str] = []
    url = doc.get("url")
    if isinstance(url, str) and url.strip():
        references.append(url.strip())
    related = doc.get("related")
    if isinstance(related, dict) and isinstance(related.get("url"), list):
        references.extend(u.strip() for u in related["url"] if isinstance(u, str) and u.strip())

    return Advisory(
        id=ids[0],
        source="rubysec",
        summary=_text(doc.get("title")),
        details=_text(doc.get("description")),
        published=_date(doc.get("date")),
        aliases=tuple(ids[1:]),
        references=tuple(dict.fromkeys(references)),
        severity=tuple(severity),
        affected=(
            Affected(
                ecosystem="gem",
                name=normalize("gem", gem),
                ranges=(Range("CONSTRAINTS", tuple(events)),),
            ),
        ),
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _date(value: Any) -> str | None:
    if isinstance(value, datetime.date):  # YAML timestamps (datetime is a date too)
        return value.isoformat()
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
