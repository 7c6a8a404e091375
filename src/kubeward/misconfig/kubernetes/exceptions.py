"""Exceptions written on the object itself: the `kubeward.io/ignore` annotation.

    metadata:
      annotations:
        kubeward.io/ignore: "KW-K8S-012,KW-K8S-064 until=2027-03-31 the CNI agent needs it"

The value is a comma list of check ids (or tags), then optionally `until=YYYY-MM-DD`, then
a free-text reason. It is honoured on the object's metadata and, for workloads, on the pod
template's metadata, because that is where Helm charts let users add annotations. An entry
that suppresses nothing, or whose date has passed (it then suppresses nothing either), is
reported so exceptions do not outlive their reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.misconfig.kubernetes.workload import pod_view

ANNOTATION = "kubeward.io/ignore"
_UNTIL = re.compile(r"until=(\d{4}-\d{2}-\d{2})$")


@dataclass(slots=True)
class ObjectException:
    """One `kubeward.io/ignore` annotation: where it is written and what it names."""

    obj: K8sObject
    names: frozenset[str]
    reason: str
    until: date | None
    line: int
    used: set[str] = field(default_factory=set)
    error: str | None = None

    @property
    def where(self) -> str:
        return f"{self.obj.report_path}:{self.line}"


def parse_annotation(value: str) -> tuple[frozenset[str], date | None, str, str | None]:
    """(names, until, reason, error) of an annotation value."""
    words = value.split()
    if not words:
        return frozenset(), None, "", "empty value"
    names = frozenset(n.strip() for n in words[0].split(",") if n.strip())
    until: date | None = None
    rest = words[1:]
    if rest and (m := _UNTIL.match(rest[0])):
        try:
            until = date.fromisoformat(m.group(1))
        except ValueError:
            return names, None, "", f"invalid date {m.group(1)!r}"
        rest = rest[1:]
    return names, until, " ".join(rest), None


def object_exceptions(obj: K8sObject) -> list[ObjectException]:
    """The annotations of `obj` (and of its pod template)."""
    if not obj.decoded and obj.kind:  # a lazily loaded kind: annotations only if decoded
        return []
    out: list[ObjectException] = []
    places: list[tuple[dict[str, object], tuple[str | int, ...]]] = [(obj.metadata, ("metadata",))]
    view = pod_view(obj)
    if view is not None and view.metadata_path != ("metadata",):
        places.append((view.metadata, view.metadata_path))
    for metadata, path in places:
        annotations = metadata.get("annotations")
        if not isinstance(annotations, dict) or ANNOTATION not in annotations:
            continue
        value = annotations[ANNOTATION]
        line = obj.line_of(*path, "annotations", ANNOTATION)
        if not isinstance(value, str):
            out.append(ObjectException(obj, frozenset(), "", None, line, error="not a string"))
            continue
        names, until, reason, error = parse_annotation(value)
        out.append(ObjectException(obj, names, reason, until, line, error=error))
    return out


@dataclass(slots=True)
class ExceptionBook:
    """Every annotation exception of a scan, to suppress findings and report the unused."""

    today: date
    entries: dict[int, list[ObjectException]] = field(default_factory=dict)

    def for_object(self, obj: K8sObject) -> list[ObjectException]:
        key = id(obj)
        if key not in self.entries:
            self.entries[key] = object_exceptions(obj)
        return self.entries[key]

    def suppresses(self, obj: K8sObject, check_id: str, tags: tuple[str, ...] = ()) -> bool:
        """True (and the entry marked used) when an active exception on `obj` names
        `check_id` or one of its tags."""
        for entry in self.for_object(obj):
            if entry.error or (entry.until is not None and entry.until < self.today):
                continue
            hit = (
                check_id
                if check_id in entry.names
                else next((t for t in tags if t in entry.names), None)
            )
            if hit is not None:
                entry.used.add(hit)
                return True
        return False

    def problems(self) -> list[str]:
        """One line per malformed, expired or unused exception, in file order."""
        lines: list[tuple[str, int, str]] = []
        for entries in self.entries.values():
            for e in entries:
                head = f"{e.where}: {ANNOTATION} on {e.obj.resource}"
                if e.error:
                    message = f"{head} is invalid ({e.error}), ignored"
                elif e.until is not None and e.until < self.today:
                    message = f"{head} expired on {e.until.isoformat()}, no longer applied"
                else:
                    unused = sorted(e.names - e.used)
                    if not unused:
                        continue
                    message = f"{head}: {', '.join(unused)} suppressed nothing (unused exception)"
                lines.append((e.obj.report_path, e.line, message))
        return [message for _, _, message in sorted(lines)]
