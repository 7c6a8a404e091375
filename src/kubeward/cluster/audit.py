"""Audit a live cluster: every Kubernetes check on its objects, plus the cluster-level checks.

Objects stream through: each page of a list is decoded, its objects are checked as they
arrive, and the page is dropped before the next is asked for. What outlives a page is
small and bounded by what the report needs: findings, and a compact stand-in per workload
and NetworkPolicy (kind, name, namespace, the `kubeward.io/ignore` annotations, the policy's
selector and whether its rules are empty) for the namespace checks KW-K8S-130..132, which
relate objects; the distinct images; the nodes' kubelet versions.

Pods that a listed controller manages (a ReplicaSet's pods, a Deployment's ReplicaSets, a
CronJob's Jobs) are not checked again: their controller's template is, so one mistake is
one finding, not one per replica. They still count as workloads of their namespace and
their images are still scanned. Findings name the object as `Kind/namespace/name` with the
path "cluster" and no line.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kubeward.cluster import checks_cluster as cc
from kubeward.cluster.client import RESOURCE_TYPES, Cluster, ListDenied, ResourceType
from kubeward.cluster.images import ImageBook
from kubeward.misconfig.engine import (
    CheckMeta,
    CheckRun,
    Selection,
    Violation,
    load_metadata,
    misconfiguration,
    run_checks,
)
from kubeward.misconfig.kubernetes.exceptions import ANNOTATION, ExceptionBook
from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.misconfig.kubernetes.scan import CHECKED_KINDS
from kubeward.misconfig.kubernetes.workload import TEMPLATE_PATHS, pod_view
from kubeward.model import Finding, Location

log = logging.getLogger(__name__)

CLUSTER_PATH = "cluster"
# owner kinds whose objects kubeward lists and checks: what they own is not checked again
CHECKED_OWNERS = {
    "Pod": frozenset({"ReplicaSet", "ReplicationController", "DaemonSet", "StatefulSet", "Job"}),
    "ReplicaSet": frozenset({"Deployment"}),
    "Job": frozenset({"CronJob"}),
}
# the path an unauthenticated probe asks for: listing namespaces is never public by default
ANONYMOUS_PROBE = "/api/v1/namespaces?limit=1"


@dataclass
class AuditOptions:
    namespaces: frozenset[str] | None = None  # only these (None: every namespace)
    exclude: frozenset[str] = frozenset()
    page_size: int = 500
    selection: Selection = field(default_factory=Selection)
    cve_feed: cc.CveFeed | None = None
    anonymous_probe: bool = True
    collect_images: bool = False
    today: date = field(default_factory=date.today)


@dataclass
class Denied:
    resource: str
    namespace: str | None
    status: int
    reason: str

    @property
    def message(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"cannot list {self.resource}{where}: {self.reason}"


@dataclass
class AuditResult:
    context: str
    server: str
    version: str = ""
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    denied: list[Denied] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # kind -> objects listed
    checked: int = 0  # objects the per-object checks ran on
    ran: set[str] = field(default_factory=set)  # ids of the checks that ran
    images: ImageBook = field(default_factory=ImageBook)
    kubelets: dict[str, list[str]] = field(default_factory=dict)  # version -> node names

    def document(self) -> dict[str, Any]:
        """The `cluster` section of the JSON report."""
        return {
            "context": self.context,
            "server": self.server,
            "version": self.version,
            "objects": dict(sorted(self.counts.items())),
            "checked": self.checked,
            "kubelets": {v: len(n) for v, n in sorted(self.kubelets.items())},
            "denied": [
                {
                    "resource": d.resource,
                    "namespace": d.namespace,
                    "status": d.status,
                    "reason": d.reason,
                }
                for d in self.denied
            ],
        }


def _controlled(obj: K8sObject) -> bool:
    """True when a controller kubeward also checks owns `obj`."""
    owners = CHECKED_OWNERS.get(obj.kind)
    refs = obj.metadata.get("ownerReferences")
    if owners is None or not isinstance(refs, list):
        return False
    return any(
        isinstance(ref, dict) and ref.get("controller") is True and ref.get("kind") in owners
        for ref in refs
    )


def _ignore_only(metadata: Any) -> dict[str, Any]:
    """Name, namespace and the `kubeward.io/ignore` annotation of a metadata mapping."""
    if not isinstance(metadata, dict):
        return {}
    out = {k: metadata[k] for k in ("name", "namespace") if k in metadata}
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict) and ANNOTATION in annotations:
        out["annotations"] = {ANNOTATION: annotations[ANNOTATION]}
    return out


def _rules_shape(rules: Any) -> Any:
    """What the namespace checks read of a policy's rules: absent, empty, or not empty."""
    if isinstance(rules, list):
        return [{}] if rules else []
    return rules if rules is None else [{}]


def stand_in(obj: K8sObject) -> K8sObject | None:
    """The few fields of a workload or NetworkPolicy the namespace checks read, or None
    for other objects."""
    from kubeward.misconfig.kubernetes.checks_network import is_network_policy

    head = {"kind": obj.kind, "apiVersion": obj.api_version, "metadata": _ignore_only(obj.metadata)}
    if is_network_policy(obj):
        spec = obj.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        small: dict[str, Any] = {"podSelector": spec.get("podSelector")}
        for key in ("policyTypes",):
            if key in spec:
                small[key] = spec[key]
        for key in ("ingress", "egress"):
            if key in spec:
                small[key] = _rules_shape(spec[key])
        return K8sObject({**head, "spec": small}, CLUSTER_PATH, origin="cluster")
    if obj.kind == "PodTemplate":
        return None
    view = pod_view(obj)
    if view is None:
        return None
    template: dict[str, Any] = {"metadata": _ignore_only(view.metadata), "spec": {}}
    path = TEMPLATE_PATHS[obj.kind]
    if not path:
        return K8sObject({**head, "spec": {}}, CLUSTER_PATH, origin="cluster")
    data: dict[str, Any] = dict(head)
    node = data
    for key in path[:-1]:
        node[key] = {}
        node = node[key]
    node[path[-1]] = template
    return K8sObject(data, CLUSTER_PATH, origin="cluster")


def _template_images(obj: K8sObject) -> list[str]:
    view = pod_view(obj)
    return [c.image for c in view.containers()] if view is not None else []


class Auditor:
    """One audit's state; `feed(obj)` checks an object and keeps only its summary."""

    def __init__(self, result: AuditResult, options: AuditOptions) -> None:
        self.result = result
        self.options = options
        self.metadata = load_metadata()
        self.tags = {check_id: meta.tags for check_id, meta in self.metadata.items()}
        self.run = CheckRun()
        self.summary: list[K8sObject] = []

    def wanted_namespace(self, namespace: str | None) -> bool:
        if namespace is None:
            return True
        if namespace in self.options.exclude:
            return False
        return self.options.namespaces is None or namespace in self.options.namespaces

    def feed(self, obj: K8sObject) -> None:
        result = self.result
        kind = obj.kind
        result.counts[kind] = result.counts.get(kind, 0) + 1
        if kind == "Namespace":
            self._namespace(obj)
        elif kind == "Node":
            self._node(obj)
        if self.options.collect_images:
            if kind == "Pod":
                result.images.add_pod(obj.data, obj.resource)
            elif kind in TEMPLATE_PATHS:
                result.images.add_template(_template_images(obj), obj.resource)
        small = stand_in(obj)
        if small is not None:
            self.summary.append(small)
        try:
            if kind in CHECKED_KINDS and not _controlled(obj):
                self._check(obj)
        finally:
            # checks memoize views that point back at the object (a reference cycle): break
            # it so the object is freed now, even while the cyclic collector is paused
            obj.cache.clear()

    def _check(self, obj: K8sObject) -> None:
        result = self.result
        result.checked += 1
        book = ExceptionBook(self.options.today)

        def suppressed(check_id: str, line: int | None) -> bool:
            return book.suppresses(obj, check_id, self.tags.get(check_id, ()))

        run_checks(
            "kubernetes", obj, path=CLUSTER_PATH, selection=self.options.selection,
            suppressed=suppressed, resource=obj.resource, run=self.run,
        )  # fmt: skip
        result.warnings.extend(book.problems())

    def _namespace(self, obj: K8sObject) -> None:
        for check_id, violation in cc.psa_violations(obj.name, obj.metadata.get("labels")):
            self.cluster_finding(check_id, violation, obj.resource, subject=obj)

    def _node(self, obj: K8sObject) -> None:
        version = obj.get("status", "nodeInfo", "kubeletVersion")
        if isinstance(version, str) and version:
            self.result.kubelets.setdefault(version, []).append(obj.name)

    def cluster_finding(
        self,
        check_id: str,
        violation: Violation,
        resource: str,
        *,
        subject: K8sObject | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """A finding of cluster check `check_id` on `resource` unless the selection or a
        `kubeward.io/ignore` annotation of `subject` turns it off; `changes` replace fields
        of the finding (a CVE's own severity, aliases and fix)."""
        meta: CheckMeta = self.metadata[check_id]
        if not self.options.selection.wants(meta):
            return
        if subject is not None:
            book = ExceptionBook(self.options.today)
            if book.suppresses(subject, check_id, meta.tags):
                return
        where = Location(path=CLUSTER_PATH, resource=resource)
        finding = misconfiguration(meta, where, violation.message)
        if changes:
            finding = dataclasses.replace(finding, **changes)
        self.result.findings.append(finding)

    def finish_objects(self) -> None:
        """The namespace checks on the stand-ins, then the per-object findings collected."""
        set_run = run_checks(
            "kubernetes-set", self.summary, selection=self.options.selection,
            keep_violations=True,
        )  # fmt: skip
        for finding, violation in set_run.violations:
            subject = violation.subject
            if isinstance(subject, K8sObject):
                book = ExceptionBook(self.options.today)
                if book.suppresses(subject, finding.rule_id, self.tags.get(finding.rule_id, ())):
                    continue
            self.run.findings.append(finding)
        self.run.errors.extend(set_run.errors)
        self.summary = []
        for finding in self.run.findings:
            location = dataclasses.replace(
                finding.location, path=CLUSTER_PATH, line=None, end_line=None
            )
            self.result.findings.append(dataclasses.replace(finding, location=location))
        self.result.warnings.extend(self.run.errors)
        self.run = CheckRun()

    def versions(self) -> None:
        """The API server and kubelet versions against the CVE feed, and the skew."""
        result, feed = self.result, self.options.cve_feed
        server = result.version
        if feed is not None and server:
            for hit in feed.affecting(server, cc.APISERVER_PACKAGES):
                self._cve(cc.APISERVER_CVE_ID, hit, f"the API server {server}", "API server")
        for version, nodes in sorted(result.kubelets.items()):
            nodes.sort()
            shown = ", ".join(nodes[: cc.MAX_LISTED])
            more = f" and {len(nodes) - cc.MAX_LISTED} more" if len(nodes) > cc.MAX_LISTED else ""
            count = "1 node" if len(nodes) == 1 else f"{len(nodes)} nodes"
            where = f"kubelet {version} ({count}: {shown}{more})"
            if feed is not None:
                for hit in feed.affecting(version, cc.KUBELET_PACKAGES):
                    self._cve(cc.KUBELET_CVE_ID, hit, f"kubelet {version}", where)
            if server:
                skew = cc.skew_violation(server, version, nodes)
                if skew is not None:
                    self.cluster_finding(cc.KUBELET_SKEW_ID, skew, where)

    def _cve(self, check_id: str, hit: cc.CveHit, component: str, resource: str) -> None:
        record = hit.record
        changes: dict[str, Any] = {"severity": record.severity} if record.severity else {}
        self.cluster_finding(
            check_id,
            cc.cve_violation(hit, component),
            resource,
            changes=changes
            | {
                "aliases": tuple(dict.fromkeys((record.id, *record.aliases))),
                "references": record.references or self.metadata[check_id].references,
                "fixed_version": hit.fixed,
                "evidence": (
                    ("affected", hit.affected_text),
                    ("installed", hit.version),
                    ("package", hit.package),
                    ("source", "kubernetes CVE feed"),
                ),
            },
        )


def list_objects(
    cluster: Cluster,
    resource: ResourceType,
    namespaces: list[str] | None,
    page_size: int,
    on_denied: Callable[[Denied], None],
) -> Iterator[K8sObject]:
    """Every object of `resource` (in `namespaces` when given), page by page."""
    targets: list[str | None] = (
        list(namespaces) if namespaces is not None and resource.namespaced else [None]
    )
    for namespace in targets:
        try:
            for page in cluster.list_pages(resource, namespace, page_size):
                for item in page.items:
                    yield K8sObject(item, CLUSTER_PATH, origin="cluster")
        except ListDenied as exc:
            on_denied(Denied(resource.name, namespace, exc.status, exc.reason))


def audit(cluster: Cluster, options: AuditOptions) -> AuditResult:
    """Audit `cluster`: list every resource type page by page, check each object as it
    arrives, then the namespace checks, the versions and anonymous access."""
    result = AuditResult(cluster.context, cluster.server)
    version = cluster.version().get("gitVersion")
    result.version = version if isinstance(version, str) else ""
    auditor = Auditor(result, options)
    denied = result.denied.append
    namespaces = sorted(options.namespaces) if options.namespaces is not None else None
    for resource in RESOURCE_TYPES:
        for obj in list_objects(cluster, resource, namespaces, options.page_size, denied):
            namespace = obj.name if obj.kind == "Namespace" else obj.namespace
            scoped = resource.namespaced or obj.kind == "Namespace"
            if scoped and not auditor.wanted_namespace(namespace):
                continue
            auditor.feed(obj)
    auditor.finish_objects()
    if options.anonymous_probe:
        status = cluster.probe_status(ANONYMOUS_PROBE)
        for check_id, violation in cc.anonymous_violations(status, ANONYMOUS_PROBE):
            auditor.cluster_finding(check_id, violation, f"API server {cluster.server}")
    auditor.versions()
    result.warnings[:0] = [d.message for d in result.denied]
    if options.cve_feed is not None:
        result.warnings.extend(options.cve_feed.warnings)
    result.ran = _ran_checks(options)
    result.findings.sort(key=lambda f: (f.location.resource or "", f.rule_id, f.message))
    return result


def _ran_checks(options: AuditOptions) -> set[str]:
    from kubeward.compliance import selected_kubernetes_checks

    ran = set(selected_kubernetes_checks(options.selection))
    ran -= {"KW-K8S-000", "KW-K8S-001"}  # load checks: objects from the API always decode
    metadata = load_metadata()
    cluster_ids = [i for i in cc.CLUSTER_CHECK_IDS if options.selection.wants(metadata[i])]
    skipped = set()
    if options.cve_feed is None:
        skipped |= {cc.APISERVER_CVE_ID, cc.KUBELET_CVE_ID}
    if not options.anonymous_probe:
        skipped |= {cc.ANONYMOUS_AUTH_ID, cc.ANONYMOUS_READ_ID}
    ran.update(i for i in cluster_ids if i not in skipped)
    return ran
