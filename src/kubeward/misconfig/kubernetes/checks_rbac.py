"""RBAC checks: what a Role or ClusterRole grants, and whom a binding grants it to.

Rules are matched the way the Kubernetes RBAC authorizer matches a request
(`pkg/apis/rbac/v1/evaluation_helpers.go`), so a finding means the permission is really
granted: names compare exactly, `*` matches every verb, API group and resource (subresources
included), `*/exec` matches the `exec` subresource of every resource, a resource rule
without `apiGroups` matches nothing, and a rule with `resourceNames` never authorizes
`create` (the new object's name is unknown when the request is authorized). Only objects of
the `rbac.authorization.k8s.io` group are read, so custom resources named Role are left
alone. A ClusterRole with an `aggregationRule` is skipped: the controller replaces its
rules with those of the ClusterRoles it selects, which are checked where they are written.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from kubeward.misconfig.engine import Violation, check
from kubeward.misconfig.kubernetes.objects import K8sObject

RBAC_GROUP = "rbac.authorization.k8s.io"
AUTHENTICATION_GROUP = "authentication.k8s.io"
ROLE_KINDS = frozenset({"Role", "ClusterRole"})
BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})
READ_VERBS = ("get", "list", "watch")
MAX_SHOWN = 8  # items of a rule field shown in a message
# `kubectl exec/attach/port-forward` POST over SPDY (verb create) up to kubectl 1.29; from
# 1.30 they open a WebSocket with GET (verb get), which API servers authorize with `get`
# alone unless the AuthorizePodWebsocketUpgradeCreatePermission gate (beta in 1.35) is on.
POD_SESSION_VERBS = ("create", "get")
POD_SESSION_RESOURCES = ("pods/exec", "pods/attach", "pods/portforward")
# workload resources whose creation runs a pod of the creator's choosing, per API group;
# `extensions` served Deployments, DaemonSets and ReplicaSets until Kubernetes 1.16
WORKLOAD_RESOURCES: dict[str, tuple[str, ...]] = {
    "": ("pods", "replicationcontrollers", "podtemplates"),
    "apps": ("deployments", "daemonsets", "statefulsets", "replicasets"),
    "batch": ("jobs", "cronjobs"),
    "extensions": ("deployments", "daemonsets", "replicasets"),
    "apps.openshift.io": ("deploymentconfigs",),
}
IMPERSONATE_RESOURCES: dict[str, tuple[str, ...]] = {
    "": ("users", "groups", "serviceaccounts"),
    AUTHENTICATION_GROUP: ("uids", "userextras/*"),
}
# groups every caller, or every unauthenticated caller, belongs to
PUBLIC_SUBJECTS = {
    "system:anonymous": "every unauthenticated request",
    "system:unauthenticated": "every unauthenticated request",
    "system:authenticated": "every authenticated user and service account",
}
# the ClusterRoles Kubernetes itself binds to the public groups (discovery, version, the
# caller's own permissions): re-declaring those bindings grants nothing new
DEFAULT_PUBLIC_ROLES = frozenset(
    {"system:public-info-viewer", "system:discovery", "system:basic-user"}
)
# kubeadm lets anonymous callers read the cluster-info ConfigMap of kube-public (bootstrap
# token discovery) through this Role and RoleBinding: a default of every kubeadm cluster.
KUBEADM_CLUSTER_INFO = ("kube-public", "kubeadm:bootstrap-signer-clusterinfo")


def _strings(value: Any) -> tuple[str, ...]:
    """The string items of a list field; anything else is what the API would reject."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _show(items: Collection[str]) -> str:
    """`[a, b, ""]`, cut after MAX_SHOWN items: the rule's line holds the full list."""
    shown = [item or '""' for item in list(items)[:MAX_SHOWN]]
    if len(items) > MAX_SHOWN:
        shown.append(f"{len(items) - MAX_SHOWN} more")
    return "[" + ", ".join(shown) + "]"


@dataclass(frozen=True, slots=True)
class Rule:
    """One item of a role's `rules`, with the index that locates it."""

    index: int
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...]
    non_resource_urls: tuple[str, ...]

    def describe(self) -> str:
        """The rule as a reviewer reads it, for messages."""
        if self.non_resource_urls and not self.resources:
            return f"verbs {_show(self.verbs)} on nonResourceURLs {_show(self.non_resource_urls)}"
        text = (
            f"verbs {_show(self.verbs)} on resources {_show(self.resources)}"
            f" in apiGroups {_show(self.api_groups)}"
        )
        if self.resource_names:
            text += f" limited to resourceNames {_show(self.resource_names)}"
        return text

    def granted_verbs(self, wanted: Collection[str]) -> list[str]:
        if "*" in self.verbs:
            return list(wanted)
        return [verb for verb in wanted if verb in self.verbs]

    def grants_resource(self, resource: str) -> bool:
        """True when the rule's resources match `resource` ("pods", "pods/exec"; a trailing
        "/*" stands for any subresource of that resource)."""
        base, _, sub = resource.partition("/")
        for item in self.resources:
            if item in ("*", resource):
                return True
            if sub == "*" and item.startswith(base + "/"):
                return True
            if sub and item.startswith("*/") and (sub == "*" or item[2:] == sub):
                return True
        return False

    def grants(
        self, targets: dict[str, tuple[str, ...]], verbs: Collection[str]
    ) -> tuple[list[str], list[str]]:
        """(verbs of `verbs`, resources of `targets` {group: resources}) the rule grants;
        both empty when it grants none of them."""
        granted = self.granted_verbs(verbs)
        if not granted:
            return [], []
        resources: list[str] = []
        for group, names in targets.items():
            if group not in self.api_groups and "*" not in self.api_groups:
                continue
            for name in names:
                if name not in resources and self.grants_resource(name):
                    resources.append(name)
        return (granted, resources) if resources else ([], [])


def role_rules(obj: K8sObject) -> list[Rule]:
    """The rules a Role or ClusterRole grants as written (none for other objects, for other
    API groups and for aggregated ClusterRoles, whose rules the controller overwrites)."""
    cached = obj.cache.get("rbac_rules")
    if isinstance(cached, list):
        return cached
    rules: list[Rule] = []
    if (
        obj.kind in ROLE_KINDS
        and obj.api_version.startswith(RBAC_GROUP + "/")
        and not (obj.kind == "ClusterRole" and isinstance(obj.get("aggregationRule"), dict))
    ):
        items = obj.get("rules")
        for index, item in enumerate(items if isinstance(items, list) else ()):
            if isinstance(item, dict):
                rules.append(
                    Rule(
                        index,
                        _strings(item.get("apiGroups")),
                        _strings(item.get("resources")),
                        _strings(item.get("verbs")),
                        _strings(item.get("resourceNames")),
                        _strings(item.get("nonResourceURLs")),
                    )
                )
    obj.cache["rbac_rules"] = rules
    return rules


def _rule_violation(obj: K8sObject, rule: Rule, text: str) -> Violation:
    return Violation(
        f"rules[{rule.index}] {text}: {rule.describe()}", line=obj.line_of("rules", rule.index)
    )


@check("KW-K8S-100", "kubernetes")
def wildcard_rules(obj: K8sObject) -> Iterator[Violation]:
    for rule in role_rules(obj):
        fields = []
        if "*" in rule.verbs:
            fields.append("verbs")
        if any(r == "*" or r.startswith("*/") for r in rule.resources):
            fields.append("resources")
        if "*" in rule.api_groups:
            fields.append("apiGroups")
        if fields:
            yield _rule_violation(obj, rule, f"uses a wildcard in {' and '.join(fields)}")


@check("KW-K8S-102", "kubernetes")
def reads_secrets(obj: K8sObject) -> Iterator[Violation]:
    for rule in role_rules(obj):
        # naming the Secrets (resourceNames) is the least-privilege form this check asks for
        if rule.resource_names:
            continue
        verbs, _ = rule.grants({"": ("secrets",)}, READ_VERBS)
        if verbs:
            yield _rule_violation(obj, rule, f"can read Secrets ({', '.join(verbs)})")


@check("KW-K8S-103", "kubernetes")
def pod_sessions(obj: K8sObject) -> Iterator[Violation]:
    for rule in role_rules(obj):
        # resourceNames still count: a session in a named pod yields its credentials too
        verbs, resources = rule.grants({"": POD_SESSION_RESOURCES}, POD_SESSION_VERBS)
        if resources:
            yield _rule_violation(obj, rule, f"grants {', '.join(verbs)} on {', '.join(resources)}")


@check("KW-K8S-104", "kubernetes")
def escalation_verbs(obj: K8sObject) -> Iterator[Violation]:
    for rule in role_rules(obj):
        parts = []
        verbs, resources = rule.grants(
            {RBAC_GROUP: ("roles", "clusterroles")}, ("bind", "escalate")
        )
        if resources:
            parts.append(f"{' and '.join(verbs)} on {', '.join(resources)}")
        verbs, resources = rule.grants(IMPERSONATE_RESOURCES, ("impersonate",))
        if resources:
            parts.append(f"impersonate on {', '.join(resources)}")
        if parts:
            yield _rule_violation(obj, rule, f"grants {'; '.join(parts)}")


@check("KW-K8S-105", "kubernetes")
def creates_workloads(obj: K8sObject) -> Iterator[Violation]:
    for rule in role_rules(obj):
        if rule.resource_names:  # never authorizes create
            continue
        _, resources = rule.grants(WORKLOAD_RESOURCES, ("create",))
        if resources:
            yield _rule_violation(obj, rule, f"can create {', '.join(resources)}")


@check("KW-K8S-106", "kubernetes")
def node_proxy(obj: K8sObject) -> Iterator[Violation]:
    for rule in role_rules(obj):
        verbs, resources = rule.grants({"": ("nodes/proxy",)}, rule.verbs)
        if resources:
            yield _rule_violation(obj, rule, f"grants {', '.join(verbs)} on nodes/proxy")


@dataclass(frozen=True, slots=True)
class Subject:
    index: int
    kind: str
    name: str
    namespace: str | None  # the service account's namespace as the authorizer resolves it


def binding_subjects(obj: K8sObject) -> list[Subject]:
    """The subjects of a RoleBinding or ClusterRoleBinding (none for other objects)."""
    if obj.kind not in BINDING_KINDS or not obj.api_version.startswith(RBAC_GROUP + "/"):
        return []
    items = obj.get("subjects")
    out = []
    for index, item in enumerate(items if isinstance(items, list) else ()):
        if not isinstance(item, dict):
            continue
        kind, name, namespace = item.get("kind"), item.get("name"), item.get("namespace")
        if not isinstance(kind, str) or not isinstance(name, str):
            continue
        if not isinstance(namespace, str) or not namespace:
            # a RoleBinding's service account defaults to the binding's namespace
            namespace = obj.namespace if obj.kind == "RoleBinding" else None
        out.append(Subject(index, kind, name, namespace))
    return out


def _role_ref(obj: K8sObject) -> tuple[str, str]:
    kind, name = obj.get("roleRef", "kind"), obj.get("roleRef", "name")
    return (kind if isinstance(kind, str) else "", name if isinstance(name, str) else "")


def is_system_subject(subject: Subject) -> bool:
    """True for the identities of Kubernetes itself, which are expected to hold
    cluster-admin: the system:masters group, control-plane users named `system:...` (not
    system:anonymous) and service accounts of kube-system (as ServiceAccount subjects,
    `system:serviceaccount:kube-system:...` users or the `system:serviceaccounts:kube-system`
    group). Groups such as system:authenticated, system:serviceaccounts or system:nodes
    are populations, not components, and are not system subjects."""
    name = subject.name
    if subject.kind == "Group":
        return name in ("system:masters", "system:serviceaccounts:kube-system")
    if subject.kind == "User":
        if not name.startswith("system:") or name in PUBLIC_SUBJECTS:
            return False
        return not name.startswith("system:serviceaccount:") or name.startswith(
            "system:serviceaccount:kube-system:"
        )
    if subject.kind == "ServiceAccount":
        return subject.namespace == "kube-system"
    return False


def _subject_text(subject: Subject) -> str:
    if subject.kind == "ServiceAccount":
        return f"ServiceAccount {subject.namespace or '?'}/{subject.name}"
    return f"{subject.kind} {subject.name}"


@check("KW-K8S-101", "kubernetes")
def cluster_admin_binding(obj: K8sObject) -> Iterator[Violation]:
    subjects = binding_subjects(obj)
    if not subjects or _role_ref(obj) != ("ClusterRole", "cluster-admin"):
        return
    if obj.kind == "ClusterRoleBinding":
        scope = "in every namespace"
    else:
        scope = f"in namespace {obj.namespace or '(the one applied to)'}"
    for subject in subjects:
        if not is_system_subject(subject):
            yield Violation(
                f"subjects[{subject.index}] {_subject_text(subject)} is bound to cluster-admin "
                f"{scope}",
                line=obj.line_of("subjects", subject.index),
            )


@check("KW-K8S-107", "kubernetes")
def public_subjects(obj: K8sObject) -> Iterator[Violation]:
    subjects = binding_subjects(obj)
    role_kind, role_name = _role_ref(obj)
    if role_kind == "ClusterRole" and role_name in DEFAULT_PUBLIC_ROLES:
        return
    if (obj.kind, role_kind, (obj.namespace, role_name)) == (
        "RoleBinding",
        "Role",
        KUBEADM_CLUSTER_INFO,
    ):
        return
    for subject in subjects:
        who = PUBLIC_SUBJECTS.get(subject.name)
        if who is not None and subject.kind in ("Group", "User"):
            yield Violation(
                f"subjects[{subject.index}] {subject.kind} {subject.name} ({who}) is granted "
                f"{role_kind or '?'} {role_name or '?'}",
                line=obj.line_of("subjects", subject.index),
            )
