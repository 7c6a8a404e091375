"""OSV records (JSON, or the YAML of PyPA's advisory-database) -> Advisory.

Kept: ECOSYSTEM and SEMVER ranges, explicit `versions`, `aliases` (not `related`: those
name different, merely connected problems), severity vectors and GHSA's
database_specific.severity rating, reference URLs. Dropped: GIT ranges (kubeward matches
package versions, not commits) and affected entries of ecosystems kubeward cannot match.
A record that does not follow the schema is reported with one line and skipped, whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

from kubeward.vulndb.model import OSV_ECOSYSTEMS, Advisory, Affected, OnBadRecord, Range
from kubeward.vulndb.names import normalize

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # PyYAML built without libyaml: same results, slower
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_NULL_TAG = "tag:yaml.org,2002:null"
_EVENTS = ("introduced", "fixed", "last_affected", "limit")
_KEPT_RANGES = ("ECOSYSTEM", "SEMVER")
_DISTROS = {"deb": ("Debian", "Ubuntu"), "apk": ("Alpine",)}


class TextLoader(_BaseLoader):
    """YAML loader that leaves every plain scalar as text (only null is resolved): a
    version `1.10` must not become the float 1.1, nor a timestamp a datetime."""


TextLoader.yaml_implicit_resolvers = {
    first: kept
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    if (kept := [(tag, rx) for tag, rx in resolvers if tag == _NULL_TAG])
}


class _Malformed(Exception):
    pass


def load_document(data: bytes) -> Any:
    """JSON when it looks like JSON (fast path), otherwise YAML with TextLoader."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.lstrip()[:1] in (b"{", b"["):
        return json.loads(data)
    return yaml.load(data, Loader=TextLoader)  # noqa: S506 (a safe loader)


def parse_osv(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
    """The one OSV record in `data` (JSON or YAML); nothing and one on_bad line if it is
    malformed. Never raises."""
    try:
        document = load_document(data)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        on_bad(f"{origin}: not valid JSON or YAML: {_one_line(exc)}")
        return
    advisory = advisory_from_osv(document, origin, on_bad)
    if advisory is not None:
        yield advisory


def advisory_from_osv(record: object, origin: str, on_bad: OnBadRecord) -> Advisory | None:
    """An already decoded OSV record -> Advisory, or None (after on_bad) if malformed."""
    try:
        return _advisory(record)
    except _Malformed as exc:
        advisory_id = record.get("id") if isinstance(record, dict) else None
        named = isinstance(advisory_id, str) and advisory_id.strip()
        where = f"{origin} ({advisory_id})" if named else origin
        on_bad(f"{where}: malformed OSV record: {exc}")
    except (RecursionError, TypeError, ValueError, AttributeError) as exc:
        on_bad(f"{origin}: malformed OSV record: {_one_line(exc)}")
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _text(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _Malformed(f"{key!r} is not text")


def _list(record: dict[str, Any], key: str) -> list[Any]:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Malformed(f"{key!r} is not a list")
    return value


def _texts(record: dict[str, Any], key: str) -> tuple[str, ...]:
    values = _list(record, key)
    if not all(isinstance(v, str) for v in values):
        raise _Malformed(f"{key!r} holds something other than text")
    return tuple(values)


def _advisory(record: object) -> Advisory:
    if not isinstance(record, dict):
        raise _Malformed(f"not an object but {type(record).__name__}")
    advisory_id = record.get("id")
    if not isinstance(advisory_id, str) or not advisory_id.strip():
        raise _Malformed("no 'id'")
    severity: list[tuple[str, str]] = []
    for entry in _list(record, "severity"):
        if not isinstance(entry, dict):
            raise _Malformed("a 'severity' entry is not an object")
        kind, score = _text(entry, "type"), _text(entry, "score")
        if kind and score:
            severity.append((kind, score))
    database_specific = record.get("database_specific")
    if isinstance(database_specific, dict):
        rating = database_specific.get("severity")
        if isinstance(rating, str) and rating.strip():
            severity.append(("RATING", rating.strip().lower()))
    references: list[str] = []
    for entry in _list(record, "references"):
        if not isinstance(entry, dict):
            raise _Malformed("a 'references' entry is not an object")
        url = _text(entry, "url")
        if url:
            references.append(url)
    affected: list[Affected] = []
    for entry in _list(record, "affected"):
        affected.extend(_affected(entry))
    return Advisory(
        id=advisory_id.strip(),
        source="osv",
        summary=_text(record, "summary") or "",
        details=_text(record, "details") or "",
        published=_text(record, "published"),
        modified=_text(record, "modified"),
        withdrawn=_text(record, "withdrawn"),
        aliases=tuple(dict.fromkeys(_texts(record, "aliases"))),
        references=tuple(dict.fromkeys(references)),
        severity=tuple(severity),
        affected=tuple(affected),
    )


def split_ecosystem(osv_ecosystem: str) -> tuple[str, str | None] | None:
    """("deb", "debian:11") for "Debian:11", ("apk", "alpine:3.16") for "Alpine:v3.16",
    ("deb", "ubuntu:22.04") for "Ubuntu:22.04:LTS", ("pypi", None) for "PyPI"; None for
    ecosystems kubeward does not match. Ubuntu Pro releases stay apart ("ubuntu:pro:18.04")
    since their fixes are not in the public archive."""
    base, _, suffix = osv_ecosystem.partition(":")
    ecosystem = OSV_ECOSYSTEMS.get(base)
    if ecosystem is None:
        return None
    if base not in _DISTROS.get(ecosystem, ()):
        return ecosystem, None
    family = base.lower()
    release = suffix.strip().lower()
    if family == "alpine":
        release = release.removeprefix("v")
    elif family == "ubuntu":
        release = release.removesuffix(":lts")
    return ecosystem, f"{family}:{release}" if release else family


def _affected(entry: object) -> list[Affected]:
    if not isinstance(entry, dict):
        raise _Malformed("an 'affected' entry is not an object")
    package = entry.get("package")
    if package is None:
        return []  # commit-only entries (GIT ranges on a repository)
    if not isinstance(package, dict):
        raise _Malformed("'package' is not an object")
    osv_ecosystem, name = _text(package, "ecosystem"), _text(package, "name")
    if not osv_ecosystem or not name or not name.strip():
        raise _Malformed("'package' without ecosystem or name")
    split = split_ecosystem(osv_ecosystem)
    if split is None:
        return []
    ecosystem, distro = split
    ranges: list[Range] = []
    for rng in _list(entry, "ranges"):
        if not isinstance(rng, dict):
            raise _Malformed("a 'ranges' entry is not an object")
        kind = _text(rng, "type")
        events: list[tuple[str, str]] = []
        for event in _list(rng, "events"):
            if not isinstance(event, dict):
                raise _Malformed("a range event is not an object")
            for key, value in event.items():
                if key in _EVENTS:
                    if not isinstance(value, str):
                        raise _Malformed(f"range event {key!r} is not text")
                    events.append((key, value))
        if kind in _KEPT_RANGES and events:
            ranges.append(Range(kind, tuple(events)))
    versions = _texts(entry, "versions")
    if not ranges and not versions:
        return []  # nothing kubeward could compare a package version with
    return [
        Affected(
            ecosystem=ecosystem,
            name=normalize(ecosystem, name),
            ranges=tuple(ranges),
            versions=versions,
            distro=distro,
        )
    ]
