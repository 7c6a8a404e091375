"""Checks only a live cluster can answer: who anonymous requests are, the versions the API
server and the kubelets run (against the Kubernetes CVE feed) and their skew, and the Pod
Security Admission level of each namespace.

These are pure functions over what the audit collected (a probe status, version strings,
namespace labels); the audit turns their `Violation`s into findings with the metadata of
`kubeward/data/checks/kubernetes_cluster.yaml`. They are not engine-registered: a manifest
scan has no API server, nodes or cluster-wide namespace defaults to judge.

The CVE feed is the Kubernetes SIG Security OSV feed (ecosystem "kubernetes", SEMVER
ranges), read from a directory the user names with `--k8s-cve-feed`: the vulnerability
database does not import that ecosystem, and the feed is small (tens of records), so it is
read whole per run. Versions are compared with kubeward's semver scheme and OSV range
evaluation (`vulndb.match.decide`), the same code that matches image packages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeward.misconfig.engine import Violation
from kubeward.model import Severity

ANONYMOUS_AUTH_ID = "KW-K8S-200"
ANONYMOUS_READ_ID = "KW-K8S-201"
PSA_MISSING_ID = "KW-K8S-202"
PSA_PRIVILEGED_ID = "KW-K8S-203"
APISERVER_CVE_ID = "KW-K8S-210"
KUBELET_CVE_ID = "KW-K8S-211"
KUBELET_SKEW_ID = "KW-K8S-212"
CLUSTER_CHECK_IDS = (
    ANONYMOUS_AUTH_ID, ANONYMOUS_READ_ID, PSA_MISSING_ID, PSA_PRIVILEGED_ID,
    APISERVER_CVE_ID, KUBELET_CVE_ID, KUBELET_SKEW_ID,
)  # fmt: skip

# Namespaces of Kubernetes itself: their components need privileges, and Pod Security
# Admission exempts nothing by default, so they are not held to a level.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
PSA_LEVELS = ("privileged", "baseline", "restricted")

# Feed packages that the API server's version stands for (the control plane release), and
# those a node's kubelet version stands for.
APISERVER_PACKAGES = ("k8s.io/kubernetes", "k8s.io/apiserver")
KUBELET_PACKAGES = ("k8s.io/kubernetes", "k8s.io/kubelet")
MAX_FEED_FILES = 10_000
MAX_FEED_FILE_BYTES = 4 * 1024 * 1024
MAX_LISTED = 5  # nodes named in one message

# ASCII digits, at most 9 each: a version is never longer, and int() refuses 4300+ digits
_CORE = re.compile(r"^v?([0-9]{1,9})\.([0-9]{1,9})\.([0-9]{1,9})(-(?:alpha|beta|rc)\.?[0-9]*)?")


def psa_violations(name: str, labels: Any) -> Iterator[tuple[str, Violation]]:
    """(check id, violation) for a namespace's Pod Security Admission labels: no `enforce`
    label (pods are admitted at the privileged level unless the API server's admission
    configuration sets a default, which the API does not show), or `enforce: privileged`."""
    if name in SYSTEM_NAMESPACES:
        return
    level = labels.get(PSA_ENFORCE) if isinstance(labels, dict) else None
    if not isinstance(level, str) or level not in PSA_LEVELS:
        written = f" (written {level!r}, not a level)" if level is not None else ""
        yield (
            PSA_MISSING_ID,
            Violation(
                f"namespace {name} has no valid {PSA_ENFORCE} label{written}: its pods are "
                "admitted at the privileged level unless the API server's admission configuration "
                "sets another default"
            ),
        )
    elif level == "privileged":
        yield (
            PSA_PRIVILEGED_ID,
            Violation(
                f"namespace {name} enforces the privileged Pod Security level "
                f"({PSA_ENFORCE}: privileged): any pod, privileged or on the host's namespaces, "
                "is admitted"
            ),
        )


def anonymous_violations(status: int, probed: str) -> Iterator[tuple[str, Violation]]:
    """Judge an unauthenticated GET of `probed`: 401 means anonymous requests are refused
    (pass); 403 means they are accepted as system:anonymous but not allowed this; 2xx means
    anonymous requests read cluster objects. 0 (no answer) cannot be judged."""
    if status == 403:
        yield (
            ANONYMOUS_AUTH_ID,
            Violation(
                f"an unauthenticated GET {probed} was authenticated as system:anonymous "
                "(403 Forbidden, not 401 Unauthorized): anonymous authentication is enabled"
            ),
        )
    elif 200 <= status <= 299:
        yield (
            ANONYMOUS_READ_ID,
            Violation(
                f"an unauthenticated GET {probed} succeeded ({status}): anonymous requests can "
                "read cluster objects"
            ),
        )


def core_version(text: str) -> str | None:
    """The upstream release of a version as clusters report it: "v1.29.3-eks-ae9a62a" and
    "v1.27.3-gke.100" -> "1.29.3" and "1.27.3" (vendor builds carry upstream fixes of their
    base release), "v1.31.0-rc.1" stays a pre-release, "v1.28.5+k3s1" -> "1.28.5". None
    for text that is not a version."""
    m = _CORE.match(text.strip())
    if m is None:
        return None
    return f"{int(m[1])}.{int(m[2])}.{int(m[3])}{m[4] or ''}"


def minor_of(version: str) -> tuple[int, int] | None:
    core = core_version(version)
    if core is None:
        return None
    major, minor, _ = core.split(".", 2)
    return int(major), int(minor)


def skew_violation(apiserver: str, kubelet: str, nodes: list[str]) -> Violation | None:
    """The kubelet/API server version skew policy: a kubelet never newer than the API server,
    and at most three minor versions older (two before Kubernetes 1.28)."""
    server, node = minor_of(apiserver), minor_of(kubelet)
    if server is None or node is None:
        return None
    allowed = 3 if server >= (1, 28) else 2
    where = _nodes_text(nodes)
    if node[0] != server[0] or node[1] > server[1]:
        return Violation(
            f"kubelet {kubelet} on {where} is newer than the API server {apiserver}: the "
            "version skew policy allows kubelets of the same or an older minor version only"
        )
    if server[1] - node[1] > allowed:
        return Violation(
            f"kubelet {kubelet} on {where} is {server[1] - node[1]} minor versions older than "
            f"the API server {apiserver}: the version skew policy allows at most {allowed}"
        )
    return None


def _nodes_text(nodes: list[str]) -> str:
    shown = [f"Node/{n}" for n in nodes[:MAX_LISTED]]
    if len(nodes) > MAX_LISTED:
        shown.append(f"{len(nodes) - MAX_LISTED} more")
    return ", ".join(shown)


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One record of the Kubernetes CVE feed, kept to what matching and reports need."""

    id: str
    summary: str
    severity: Severity
    references: tuple[str, ...]
    aliases: tuple[str, ...]
    affected: tuple[Any, ...]  # vulndb.model.Affected (ecosystem "kubernetes")


@dataclass(frozen=True, slots=True)
class CveHit:
    record: FeedRecord
    package: str
    version: str  # the core version compared
    affected_text: str
    fixed: str | None


@dataclass
class CveFeed:
    """The Kubernetes CVE feed, read from an OSV directory; bad files are warnings."""

    records: list[FeedRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, directory: Path) -> CveFeed:
        from kubeward.errors import UsageError

        if not directory.is_dir():
            raise UsageError(f"--k8s-cve-feed {directory}: not a directory")
        feed = cls()
        folder = directory / "vulns" if (directory / "vulns").is_dir() else directory
        files = sorted(p for p in folder.iterdir() if p.suffix == ".json" and p.is_file())
        if len(files) > MAX_FEED_FILES:
            feed.warnings.append(
                f"k8s CVE feed {folder}: {len(files)} files, only the first {MAX_FEED_FILES} read"
            )
        for path in files[:MAX_FEED_FILES]:
            feed._read(path)
        return feed

    def _read(self, path: Path) -> None:
        try:
            if path.stat().st_size > MAX_FEED_FILE_BYTES:
                self.warnings.append(f"k8s CVE feed {path.name}: larger than 4 MiB, skipped")
                return
            document = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError) as exc:
            self.warnings.append(
                f"k8s CVE feed {path.name}: skipped: {' '.join(str(exc).split())[:200]}"
            )
            return
        record = parse_record(document, self.warnings.append, path.name)
        if record is not None:
            self.records.append(record)

    def affecting(self, version_text: str, packages: Iterable[str]) -> list[CveHit]:
        """The records whose entries for `packages` include `version_text`, one hit per
        record (the first package that matches), in id order."""
        from kubeward.vulndb.match import NotComparable, _Versions, decide
        from kubeward.vulndb.versions import semver

        version = core_version(version_text)
        if version is None:
            return []
        versions = _Versions(semver)
        wanted = tuple(packages)
        hits: list[CveHit] = []
        for record in sorted(self.records, key=lambda r: r.id):
            for affected in record.affected:
                if affected.name not in wanted:
                    continue
                try:
                    decided = decide(version, affected, versions)
                except NotComparable:
                    continue
                if decided is not None:
                    hits.append(CveHit(record, affected.name, version, *decided))
                    break
        return hits


def parse_record(document: Any, warn: Callable[[str], None], origin: str) -> FeedRecord | None:
    """A feed record from a decoded OSV document; None (and one warning) when it is not
    one, None silently when it has no "kubernetes" entry with SEMVER ranges."""
    from kubeward.vulndb.model import Affected, Range
    from kubeward.vulndb.severity import severity_of

    try:
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            raise ValueError("not an OSV record (no id)")
        entries: list[Affected] = []
        for entry in document.get("affected") or ():
            package = entry.get("package") or {}
            if package.get("ecosystem") != "kubernetes" or not isinstance(package.get("name"), str):
                continue
            ranges = []
            for rng in entry.get("ranges") or ():
                if rng.get("type") != "SEMVER":
                    continue
                events = tuple(
                    (str(kind), str(value).removeprefix("v"))
                    for event in rng.get("events") or ()
                    for kind, value in event.items()
                    if kind in ("introduced", "fixed", "last_affected", "limit")
                )
                ranges.append(Range(type="SEMVER", events=events))
            if ranges:
                entries.append(Affected("kubernetes", package["name"], tuple(ranges)))
        if not entries:
            return None
        scores = tuple(
            (str(s["type"]), str(s["score"]))
            for entry in document.get("affected") or ()
            for s in entry.get("severity") or ()
        ) + tuple((str(s["type"]), str(s["score"])) for s in document.get("severity") or ())
        severity, _ = severity_of(scores)
        references = tuple(
            str(r["url"]) for r in document.get("references") or () if isinstance(r, dict)
        )
        aliases = tuple(str(a) for a in document.get("aliases") or ())
        summary = document.get("summary")
        return FeedRecord(
            id=document["id"],
            summary=" ".join(summary.split()) if isinstance(summary, str) else "",
            severity=severity,
            references=tuple(dict.fromkeys(references)),
            aliases=aliases,
            affected=tuple(entries),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        warn(f"k8s CVE feed {origin}: skipped: malformed record ({exc})")
        return None


def cve_violation(hit: CveHit, component: str) -> Violation:
    """The message of one CVE that affects `component` ("the API server v1.27.1")."""
    fixed = f"; fixed in {hit.fixed}" if hit.fixed else "; no fixed release in the feed"
    summary = f": {hit.record.summary}" if hit.record.summary else ""
    return Violation(f"{hit.record.id}{summary} — {component} is affected ({hit.package}{fixed})")
