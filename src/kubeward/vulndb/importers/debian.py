"""Debian security tracker data: the DSA/DLA lists and the tracker's JSON export.

Debian images carry Debian's own builds (backported fixes, "+deb11u6" versions), so only
Debian's data says whether an installed package is fixed; upstream version ranges would be
wrong both ways. Releases are stored as "debian:<number>" (vulndb.distros) because images
identify themselves by number and the tracker by codename.

Decisions:
- DSA/DLA lists: one Advisory per DSA/DLA id, also when it lists no package (announcements
  such as "DSA-4205-1 jessie end-of-life"): it still carries its CVE aliases. The parenthesised
  notes after a version ("(bug #123; medium)") are ignored. "<end-of-life>" lines are skipped
  without a warning: Debian stopped supporting the package there, it says nothing about a fix.
- Tracker JSON: one Advisory per CVE (or TEMP-) id, all source packages merged. "open" and
  "undetermined" are both "unfixed"; an "end-of-life" urgency is still reported as unfixed
  (the package is vulnerable and will not be fixed). The severity is the most severe urgency
  over every release, as ("RATING", urgency); "unimportant" is stored as "negligible" (the
  cross-distro word for "no security impact worth a fix", Ubuntu's too), "not yet assigned"
  gives no rating. sid is skipped silently: it is not a release an image can pin. A CVE
  that leaves no affected release gives no Advisory (advisory ids are shared across
  sources in the store, so an empty record would only overwrite others' text).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from kubeward.vulndb.distros import DEBIAN_CODENAMES, DEBIAN_UNSTABLE
from kubeward.vulndb.model import Advisory, Affected, OnBadRecord, Range
from kubeward.vulndb.names import normalize

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_HEADER = re.compile(
    r"\[(\d{1,2}) ([A-Z][a-z]{2}) (\d{4})\]\s+((?:DSA|DLA|DTSA)-\d+(?:-\d+)?)\s*(.*)"
)
_ALIASES = re.compile(r"\s+\{([^{}]*)\}\s*")
_PACKAGE_LINE = re.compile(r"\s+\[([^\]]*)\]\s+-\s+(\S+)\s*(.*)")
_TAG = re.compile(r"<([a-z-]+)>")
_ID = re.compile(r"[A-Z][A-Z0-9]*-[A-Za-z0-9][A-Za-z0-9-]*")
_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]*")
# Debian policy 5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit.
_DEB_VERSION = re.compile(r"(?:\d+:)?\d[A-Za-z0-9.+~:_-]*")

_RATING_ORDER = {"negligible": 0, "low": 1, "medium": 2, "high": 3}

_OPEN = Range("ECOSYSTEM", (("introduced", "0"),))


@functools.lru_cache(maxsize=65536)
def _fixed(version: str) -> Range:
    return Range("ECOSYSTEM", (("introduced", "0"), ("fixed", version)))


def _decode(data: bytes, origin: str, on_bad: OnBadRecord) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        on_bad(
            f"{origin}: not UTF-8 ({exc.reason} at byte {exc.start}); undecodable bytes replaced"
        )
        return data.decode("utf-8", errors="replace")


class _Entry:
    """One DSA/DLA entry while its indented lines are read."""

    __slots__ = ("affected", "aliases", "id", "published", "seen", "summary")

    def __init__(self, adv_id: str, published: str, summary: str) -> None:
        self.id = adv_id
        self.published = published
        self.summary = summary
        self.aliases: list[str] = []
        self.affected: list[Affected] = []
        self.seen: set[Affected] = set()

    def advisory(self, source: str) -> Advisory:
        return Advisory(
            id=self.id,
            source=source,
            summary=self.summary,
            published=self.published,
            aliases=tuple(dict.fromkeys(self.aliases)),
            affected=tuple(self.affected),
        )


def parse_dsa_list(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
    """data/DSA/list of the security tracker: one Advisory per DSA id."""
    return _parse_list(data, origin, on_bad, "debian-dsa")


def parse_dla_list(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
    """data/DLA/list of the security tracker (Debian LTS): one Advisory per DLA id."""
    return _parse_list(data, origin, on_bad, "debian-dla")


def _parse_list(data: bytes, origin: str, on_bad: OnBadRecord, source: str) -> Iterator[Advisory]:
    text = _decode(data, origin, on_bad)
    entry: _Entry | None = None
    skipping = False  # inside an entry whose header was unreadable
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            if not line[0].isspace():
                if entry is not None:
                    yield entry.advisory(source)
                entry = _header(line)
                skipping = entry is None
                if entry is None:
                    on_bad(f"{origin}:{lineno}: unreadable advisory header {line[:100]!r}")
                continue
            if entry is None:
                if not skipping:
                    on_bad(f"{origin}:{lineno}: line outside any advisory {line[:100]!r}")
                continue
            _body_line(entry, line, f"{origin}:{lineno}: {entry.id}", on_bad)
        except Exception as exc:  # never let one record stop the import
            on_bad(f"{origin}:{lineno}: {type(exc).__name__} reading {line[:100]!r}")
    if entry is not None:
        yield entry.advisory(source)


def _header(line: str) -> _Entry | None:
    m = _HEADER.fullmatch(line.rstrip())
    if m is None:
        return None
    day, month, year = int(m.group(1)), _MONTHS.get(m.group(2)), int(m.group(3))
    if month is None or not 1 <= day <= 31:
        return None
    return _Entry(m.group(4), f"{year:04d}-{month:02d}-{day:02d}", m.group(5).strip())


def _body_line(entry: _Entry, line: str, where: str, on_bad: OnBadRecord) -> None:
    stripped = line.strip()
    if stripped.startswith("NOTE:"):
        return
    m = _ALIASES.fullmatch(line)
    if m is not None:
        for token in m.group(1).split():
            if _ID.fullmatch(token):
                entry.aliases.append(token)
            else:
                on_bad(f"{where}: not an advisory id {token[:60]!r}")
        return
    m = _PACKAGE_LINE.fullmatch(line)
    if m is None:
        on_bad(f"{where}: unreadable line {stripped[:100]!r}")
        return
    codename, package, rest = m.group(1).strip(), m.group(2), m.group(3).strip()
    if codename in DEBIAN_UNSTABLE:
        return
    release = DEBIAN_CODENAMES.get(codename)
    if release is None:
        on_bad(f"{where}: unknown release {codename[:40]!r}")
        return
    if _SOURCE_NAME.fullmatch(package) is None:
        on_bad(f"{where}: not a source package name {package[:60]!r}")
        return
    tag = _TAG.match(rest)
    if tag is not None:
        kind = tag.group(1)
        if kind in ("not-affected", "end-of-life"):
            return
        if kind != "unfixed":
            on_bad(f"{where}: unknown marker <{kind}> for {package}")
            return
        affected = Affected(
            ecosystem="deb",
            name=normalize("deb", package),
            ranges=(_OPEN,),
            distro=f"debian:{release}",
            status="unfixed",
        )
    else:
        version = rest.split(None, 1)[0] if rest else ""
        if _DEB_VERSION.fullmatch(version) is None:
            on_bad(f"{where}: [{codename}] {package}: not a Debian version {version[:60]!r}")
            return
        affected = Affected(
            ecosystem="deb",
            name=normalize("deb", package),
            ranges=(_fixed(version),),
            distro=f"debian:{release}",
        )
    if affected not in entry.seen:
        entry.seen.add(affected)
        entry.affected.append(affected)


def parse_tracker_json(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
    """https://security-tracker.debian.org/tracker/data/json: one Advisory per CVE id."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        on_bad(f"{origin}: not JSON ({type(exc).__name__}: {str(exc)[:100]})")
        return
    if not isinstance(document, dict):
        on_bad(f"{origin}: top level is {type(document).__name__}, not an object of packages")
        return
    merged: dict[str, _Merged] = {}
    for package, cves in document.items():
        if not isinstance(cves, dict) or _SOURCE_NAME.fullmatch(package) is None:
            on_bad(f"{origin}: package {package[:60]!r}: not a package name with an object")
            continue
        for cve_id, record in cves.items():
            try:
                _tracker_record(merged, package, cve_id, record, origin=origin, on_bad=on_bad)
            except Exception as exc:  # never let one record stop the import
                on_bad(f"{origin}: {package} {cve_id[:60]}: {type(exc).__name__}: {str(exc)[:100]}")
    for adv_id, m in merged.items():
        if not m.affected:
            continue  # affects no Debian release (not-affected everywhere, or only sid)
        yield Advisory(
            id=adv_id,
            source="debian-tracker",
            summary=m.description,
            severity=(("RATING", m.rating),) if m.rating else (),
            affected=tuple(m.affected),
        )


class _Merged:
    __slots__ = ("affected", "description", "rating")

    def __init__(self) -> None:
        self.description = ""
        self.rating = ""
        self.affected: list[Affected] = []


def _tracker_record(
    merged: dict[str, _Merged],
    package: str,
    cve_id: str,
    record: Any,
    *,
    origin: str,
    on_bad: OnBadRecord,
) -> None:
    where = f"{origin}: {package} {cve_id[:60]}"
    if not isinstance(record, dict) or _ID.fullmatch(cve_id) is None:
        on_bad(f"{where}: not an id with an object")
        return
    releases = record.get("releases", {})
    description = record.get("description", "")
    if not isinstance(releases, dict) or not isinstance(description, str):
        on_bad(f"{where}: releases/description of the wrong type")
        return
    adv = merged.get(cve_id)
    if adv is None:
        adv = merged[cve_id] = _Merged()
    if description and not adv.description:
        adv.description = description.strip()
    name = normalize("deb", package)
    for codename, state in releases.items():
        distro = _DISTROS.get(codename)
        if distro is None:
            if codename not in DEBIAN_UNSTABLE:
                on_bad(f"{where}: unknown release {codename[:40]!r}")
            continue
        if not isinstance(state, dict):
            on_bad(f"{where} [{codename}]: release entry is not an object")
            continue
        status = state.get("status")
        urgency = state.get("urgency")
        if urgency is not None and urgency != _NOT_YET_ASSIGNED:
            rating = _rating(urgency)
            if rating and _RATING_ORDER[rating] > _RATING_ORDER.get(adv.rating, -1):
                adv.rating = rating
        if status == "resolved":
            fixed = state.get("fixed_version")
            if fixed == "0":
                continue  # not affected
            if not isinstance(fixed, str) or _DEB_VERSION.fullmatch(fixed) is None:
                on_bad(f"{where} [{codename}]: resolved without a Debian version ({fixed!r:.60})")
                continue
            adv.affected.append(_affected_fixed(name, fixed, distro))
        elif status in ("open", "undetermined"):
            adv.affected.append(_affected_open(name, distro))
        else:
            on_bad(f"{where} [{codename}]: unknown status {status!r:.40}")


_DISTROS = {codename: f"debian:{number}" for codename, number in DEBIAN_CODENAMES.items()}
_NOT_YET_ASSIGNED = "not yet assigned"


def _affected_fixed(name: str, version: str, distro: str) -> Affected:
    return Affected("deb", name, (_fixed(version),), distro=distro)


@functools.lru_cache(maxsize=65536)
def _affected_open(name: str, distro: str) -> Affected:
    return Affected("deb", name, (_OPEN,), distro=distro, status="unfixed")


_URGENCY_RATINGS = {"unimportant": "negligible", "low": "low", "medium": "medium", "high": "high"}


def _rating(urgency: Any) -> str:
    rating = _URGENCY_RATINGS.get(urgency) if isinstance(urgency, str) else ""
    if rating is None:  # rare spellings: "low*", "Medium ", "end-of-life"
        rating = _URGENCY_RATINGS.get(urgency.strip().rstrip("*").strip().lower(), "")
    return rating
