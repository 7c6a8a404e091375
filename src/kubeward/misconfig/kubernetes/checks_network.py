"""NetworkPolicy checks: namespaces whose workloads no policy isolates, and rules open to
every address.

The namespace checks see every object of a scan at once and relate workloads to the
NetworkPolicies of their namespace. An object without `metadata.namespace` is counted in
`default`: that is where `kubectl apply` puts it with the stock context, and a scan cannot
know the namespace `-n` or a kubeconfig would choose. Only Kubernetes NetworkPolicies
(`networking.k8s.io`, legacy `extensions`) are understood; CNI-specific kinds (Calico,
Cilium) are not, so clusters isolated only by those should disable these checks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubeward.misconfig.engine import Violation, check
from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.misconfig.kubernetes.workload import pod_view

POLICY_GROUPS = ("networking.k8s.io/", "extensions/")
DEFAULT_NAMESPACE = "default"
MAX_NAMED = 3  # workloads or policies named in one message


def is_network_policy(obj: K8sObject) -> bool:
    return obj.kind == "NetworkPolicy" and obj.api_version.startswith(POLICY_GROUPS)


def policy_types(obj: K8sObject) -> frozenset[str]:
    """The directions a NetworkPolicy isolates: `policyTypes` when written and not empty,
    otherwise Ingress, plus Egress when the policy has egress rules (the API's defaulting)."""
    written = obj.get("spec", "policyTypes")
    if isinstance(written, list) and written:
        return frozenset(t for t in written if isinstance(t, str))
    egress = obj.get("spec", "egress")
    return frozenset({"Ingress", "Egress"} if isinstance(egress, list) and egress else {"Ingress"})


def _selects_all_pods(obj: K8sObject) -> bool:
    """True for `podSelector: {}` (the field is required: a policy without it is invalid)."""
    selector = obj.get("spec", "podSelector")
    if not isinstance(selector, dict):
        return False
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def denies_by_default(obj: K8sObject, direction: str) -> bool:
    """True when the policy selects every pod of its namespace, isolates `direction`
    ("Ingress" or "Egress") and allows nothing in it: the default-deny policy. For Egress
    `policyTypes` must name it, as a policy without egress rules defaults to Ingress only."""
    rules = obj.get("spec", direction.lower())
    return (
        _selects_all_pods(obj) and direction in policy_types(obj) and (rules is None or rules == [])
    )


@dataclass
class _Namespace:
    workloads: list[K8sObject] = field(default_factory=list)
    policies: list[K8sObject] = field(default_factory=list)


def namespaces(objects: list[K8sObject]) -> dict[str, _Namespace]:
    """Workloads and NetworkPolicies per namespace, in the order the scan met them.
    A PodTemplate runs nothing, so it is not a workload here."""
    out: dict[str, _Namespace] = {}
    for obj in objects:
        if obj.kind != "PodTemplate" and pod_view(obj) is not None:
            out.setdefault(obj.namespace or DEFAULT_NAMESPACE, _Namespace()).workloads.append(obj)
        elif is_network_policy(obj):
            out.setdefault(obj.namespace or DEFAULT_NAMESPACE, _Namespace()).policies.append(obj)
    return out


def _names(objs: list[K8sObject], describe: Callable[[K8sObject], str]) -> str:
    """The distinct names of `objs` (the same object may be in several files), cut short."""
    names = list(dict.fromkeys(describe(o) for o in objs))
    shown = names[:MAX_NAMED]
    if len(names) > MAX_NAMED:
        shown.append(f"{len(names) - MAX_NAMED} more")
    return ", ".join(shown)


def _namespace_text(name: str, first: K8sObject) -> str:
    if first.namespace is None:
        return f"namespace {name} (no metadata.namespace: assumed {DEFAULT_NAMESPACE})"
    return f"namespace {name}"


def _at(obj: K8sObject, message: str) -> Violation:
    return Violation(
        message, line=obj.line, path=obj.report_path, resource=obj.report_resource, subject=obj
    )


def _workloads(ns: _Namespace) -> str:
    return _names(ns.workloads, lambda o: f"{o.kind}/{o.name or '?'}")


@check("KW-K8S-130", "kubernetes-set")
def namespace_without_policy(objects: list[K8sObject]) -> Iterator[Violation]:
    for name, ns in namespaces(objects).items():
        if ns.workloads and not ns.policies:
            first = ns.workloads[0]
            yield _at(
                first,
                f"{_namespace_text(name, first)} has workloads ({_workloads(ns)}) and no "
                "NetworkPolicy: its pods accept traffic from anywhere and connect anywhere",
            )


def _missing_default_deny(objects: list[K8sObject], direction: str) -> Iterator[Violation]:
    # a namespace with no policy at all is KW-K8S-130's finding: reporting it again here
    # would say the same thing three times
    for name, ns in namespaces(objects).items():
        if not ns.workloads or not ns.policies:
            continue
        if any(denies_by_default(p, direction) for p in ns.policies):
            continue
        first = ns.workloads[0]
        policies = _names(ns.policies, lambda o: o.name or "?")
        yield _at(
            first,
            f"{_namespace_text(name, first)} has workloads ({_workloads(ns)}) and "
            f"NetworkPolicies ({policies}) but none denies all {direction.lower()} by default "
            f"(podSelector {{}}, policyTypes [{direction}], no {direction.lower()} rules)",
        )


@check("KW-K8S-131", "kubernetes-set")
def namespace_without_default_deny_ingress(objects: list[K8sObject]) -> Iterator[Violation]:
    yield from _missing_default_deny(objects, "Ingress")


@check("KW-K8S-132", "kubernetes-set")
def namespace_without_default_deny_egress(objects: list[K8sObject]) -> Iterator[Violation]:
    yield from _missing_default_deny(objects, "Egress")


def _any_address(cidr: Any) -> bool:
    """True for a CIDR of prefix length 0 (0.0.0.0/0, ::/0, or 10.0.0.0/0, which the API
    accepts and which also means every address)."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


@check("KW-K8S-133", "kubernetes")
def any_address_peer(obj: K8sObject) -> Iterator[Violation]:
    if not is_network_policy(obj):
        return
    types = policy_types(obj)
    for direction, peers_key, word in (("ingress", "from", "from"), ("egress", "to", "to")):
        # rules of a direction that policyTypes leaves out have no effect
        rules = obj.get("spec", direction)
        if direction.capitalize() not in types or not isinstance(rules, list):
            continue
        for i, rule in enumerate(rules):
            peers = rule.get(peers_key) if isinstance(rule, dict) else None
            for j, peer in enumerate(peers if isinstance(peers, list) else ()):
                block = peer.get("ipBlock") if isinstance(peer, dict) else None
                if not isinstance(block, dict) or not _any_address(block.get("cidr")):
                    continue
                text = f"{direction}[{i}].{peers_key}[{j}] allows traffic {word} any address "
                text += f"(ipBlock cidr {block['cidr']}"
                excepted = block.get("except")
                if isinstance(excepted, list) and excepted:
                    text += f" except {', '.join(str(e) for e in excepted)}"
                yield Violation(
                    text + ")",
                    line=obj.line_of("spec", direction, i, peers_key, j, "ipBlock", "cidr"),
                )
