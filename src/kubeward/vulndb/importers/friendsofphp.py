"""FriendsOfPHP security-advisories: one YAML file per advisory, <vendor>/<name>/<id>.yaml.

The database `composer audit` and Symfony's checker read. Each branch lists the Composer
constraints that together (AND) make a version vulnerable on that branch; the branches are
alternatives (OR). They are kept verbatim as CONSTRAINTS "vulnerable" expressions, joined
with "," (Composer's AND), for the Composer scheme to evaluate.

Decisions:
- id: the cve when present; else the file name when it is a GHSA id; else
  "FRIENDSOFPHP-<vendor>-<name>-<file stem>" (files are named by date or by the vendor's
  own id, e.g. "2016-03-31.yaml", "ZF2016-01.yaml"). Many CVEs have one file per package
  (symfony/symfony and symfony/http-kernel), so the same id can come from several files.
- A branch whose versions are missing or not strings rejects the whole file: dropping one
  branch would understate, and with none left the range would mean "every version".
- "composer-repository: false" (packages not on packagist.org) is imported like the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from kubeward.vulndb.importers.alpine import YAMLRefused, load_yaml
from kubeward.vulndb.model import Advisory, Affected, OnBadRecord, Range
from kubeward.vulndb.names import normalize

_REFERENCE = re.compile(r"composer://([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_GHSA = re.compile(r"GHSA(-[2-9cfghjmpqrvwx]{4}){3}")
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def parse_friendsofphp(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
    """One FriendsOfPHP file: zero (malformed) or one Advisory."""
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
    reference = doc.get("reference")
    m = _REFERENCE.fullmatch(reference.strip()) if isinstance(reference, str) else None
    if m is None:
        on_bad(f"{origin}: reference {reference!r:.60} is not composer://vendor/name")
        return None
    vendor, package = m.group(1), m.group(2)

    branches = doc.get("branches")
    if not isinstance(branches, dict) or not branches:
        on_bad(f"{origin}: no branches")
        return None
    events: list[tuple[str, str]] = []
    for branch, body in branches.items():
        versions = body.get("versions") if isinstance(body, dict) else None
        if (
            not isinstance(versions, list)
            or not versions
            or not all(isinstance(v, str) and v.strip() for v in versions)
        ):
            on_bad(f"{origin}: branch {branch!r:.40} has no list of version constraints")
            return None
        expression = ",".join(v.strip() for v in versions)
        if ("vulnerable", expression) not in events:
            events.append(("vulnerable", expression))

    stem = PurePosixPath(origin).stem
    aliases: list[str] = []
    cve = doc.get("cve")
    if cve is not None and (not isinstance(cve, str) or not _CVE.fullmatch(cve.strip())):
        on_bad(f"{origin}: cve {cve!r:.40} is not a CVE id")
        return None
    if _GHSA.fullmatch(stem):
        aliases.append(stem)
    if isinstance(cve, str):
        adv_id = cve.strip()
    elif aliases:
        adv_id = aliases.pop()
    elif _STEM.fullmatch(stem):
        adv_id = f"FRIENDSOFPHP-{vendor.lower()}-{package.lower()}-{stem}"
    else:
        on_bad(f"{origin}: no cve and no file name to name the advisory by")
        return None

    link = doc.get("link")
    title = doc.get("title")
    return Advisory(
        id=adv_id,
        source="friendsofphp",
        summary=title.strip() if isinstance(title, str) else "",
        aliases=tuple(aliases),
        references=(link.strip(),) if isinstance(link, str) and link.strip() else (),
        affected=(
            Affected(
                ecosystem="composer",
                name=normalize("composer", f"{vendor}/{package}"),
                ranges=(Range("CONSTRAINTS", tuple(events)),),
            ),
        ),
    )
