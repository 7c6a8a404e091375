"""Network checks: namespace coverage across the files of one scan (KW-K8S-130..132) and
NetworkPolicy peers open to every address (KW-K8S-133)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from kubeward.misconfig.engine import Selection
from kubeward.misconfig.kubernetes.load import load_text
from kubeward.misconfig.kubernetes.scan import (
    ManifestScan,
    check_loaded,
    find_manifests,
    scan_manifest_files,
)

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "k8s-manifests"
NETWORK_IDS = ("KW-K8S-130", "KW-K8S-131", "KW-K8S-132", "KW-K8S-133")


def scan_of(*texts: str, ids: tuple[str, ...] = NETWORK_IDS) -> ManifestScan:
    loaded = [load_text(text, f"m{i}.yaml") for i, text in enumerate(texts)]
    scan = check_loaded(loaded, Selection(enable=frozenset(ids)))
    assert scan.warnings == []
    return scan


def found(*texts: str, ids: tuple[str, ...] = NETWORK_IDS) -> list[tuple[str, str, int, str]]:
    """(rule, file, line, message) of the findings of `ids` on the manifests `texts`."""
    return [
        (f.rule_id, f.location.path or "", f.location.line or 0, f.message)
        for f in scan_of(*texts, ids=ids).findings
    ]


def deployment(name: str, namespace: str | None = None, annotations: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}{ns}{annotations}
spec:
  template:
    spec:
      containers:
      - {{name: app, image: nginx:1.27}}
"""


def policy(name: str, namespace: str | None, spec: str) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}{ns}
spec:
{spec}"""


DENY_ALL = "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"
ALLOW_WEB = """\
  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - podSelector: {}
"""


def test_namespace_without_policy_is_reported_once_at_its_first_workload() -> None:
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
    # the policy of namespace "other" covers neither "shop" nor the objects without namespace
    assert found(
        "# shop\n---\n" + deployment("api", "shop") + "---\n" + deployment("worker", "shop"),
        pod + "---\n" + deployment("web", "other"),
        policy("deny", "other", DENY_ALL),
        ids=("KW-K8S-130",),
    ) == [
        ("KW-K8S-130", "m0.yaml", 3, "namespace shop has workloads (Deployment/api, "
         "Deployment/worker) and no NetworkPolicy: its pods accept traffic from anywhere and "
         "connect anywhere"),
        ("KW-K8S-130", "m1.yaml", 1, "namespace default (no metadata.namespace: assumed "
         "default) has workloads (Pod/p) and no NetworkPolicy: its pods accept traffic from "
         "anywhere and connect anywhere"),
    ]  # fmt: skip


def test_policy_in_another_file_and_pod_templates_leave_no_namespace_uncovered() -> None:
    template = "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: t, namespace: tpl}\n"
    template += "template:\n  spec:\n    containers: [{name: a}]\n"
    # a NetworkPolicy without namespace counts for default, like the workload without one
    assert found(
        deployment("api", "shop") + "---\n" + deployment("web"),
        policy("deny", "shop", DENY_ALL) + "---\n" + policy("deny", None, DENY_ALL),
        template,
        ids=("KW-K8S-130",),
    ) == []  # fmt: skip


def test_cni_policies_are_not_kubernetes_network_policies() -> None:
    calico = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
    calico += "metadata: {name: deny, namespace: shop}\nspec: {selector: all()}\n"
    assert [f[:3] for f in found(deployment("api", "shop"), calico)] == [
        ("KW-K8S-130", "m0.yaml", 1)
    ]


def test_ignore_annotation_on_the_first_workload_silences_the_namespace_finding() -> None:
    note = '\n  annotations:\n    kubeward.io/ignore: "KW-K8S-130 shared sandbox"'
    scan = scan_of(deployment("api", "shop", note), ids=("KW-K8S-130",))
    assert scan.findings == []
    assert scan.suppressed == [("KW-K8S-130", "m0.yaml", 1)]


def test_namespace_with_policies_but_no_default_deny() -> None:
    assert found(deployment("web", "shop"), policy("allow-web", "shop", ALLOW_WEB)) == [
        ("KW-K8S-131", "m0.yaml", 1, "namespace shop has workloads (Deployment/web) and "
         "NetworkPolicies (allow-web) but none denies all ingress by default (podSelector {}, "
         "policyTypes [Ingress], no ingress rules)"),
        ("KW-K8S-132", "m0.yaml", 1, "namespace shop has workloads (Deployment/web) and "
         "NetworkPolicies (allow-web) but none denies all egress by default (podSelector {}, "
         "policyTypes [Egress], no egress rules)"),
    ]  # fmt: skip


def test_ingress_is_denied_by_default_without_policy_types_but_egress_needs_them() -> None:
    # no policyTypes: the API defaults to Ingress only (Egress only when egress rules exist)
    implicit = policy("deny-ingress", "shop", "  podSelector: {}\n")
    assert [f[:3] for f in found(deployment("web", "shop"), implicit)] == [
        ("KW-K8S-132", "m0.yaml", 1)
    ]
    empty_types = policy("deny", "shop", "  podSelector: {}\n  policyTypes: []\n  egress: []\n")
    assert [f[:3] for f in found(deployment("web", "shop"), empty_types)] == [
        ("KW-K8S-132", "m0.yaml", 1)
    ]


def test_separate_default_deny_policies_for_each_direction() -> None:
    ingress = policy("deny-in", "shop", "  podSelector: {}\n  policyTypes: [Ingress]\n")
    egress = policy(
        "deny-out", "shop", "  podSelector: {}\n  policyTypes: [Egress]\n  egress: []\n"
    )
    assert found(deployment("web", "shop"), ingress, egress, policy("a", "shop", ALLOW_WEB)) == []


def test_policies_that_allow_something_or_select_some_pods_are_not_default_deny() -> None:
    allow_all = policy("allow-all", "shop", DENY_ALL + "  ingress: [{}]\n  egress: [{}]\n")
    some_pods = policy(
        "deny-web",
        "shop",
        "  podSelector:\n    matchLabels: {app: web}\n  policyTypes: [Ingress, Egress]\n",
    )
    no_selector = policy("no-selector", "shop", "  policyTypes: [Ingress, Egress]\n")
    assert [f[:3] for f in found(deployment("web", "shop"), allow_all, some_pods, no_selector)] == [
        ("KW-K8S-131", "m0.yaml", 1),
        ("KW-K8S-132", "m0.yaml", 1),
    ]


OPEN_PEERS = policy(
    "open",
    "shop",
    """\
  podSelector: {}
  ingress:
  - from:
    - podSelector: {}
    - ipBlock:
        cidr: 0.0.0.0/0
        except: [10.0.0.0/8, 192.168.0.0/16]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8}
    - ipBlock: {cidr: "::/0"}
  - to:
    - ipBlock:
        cidr: 172.16.0.0/0
""",
)


def test_any_address_peers_one_finding_per_peer_at_its_cidr() -> None:
    assert found(OPEN_PEERS, ids=("KW-K8S-133",)) == [
        ("KW-K8S-133", "m0.yaml", 12, "ingress[0].from[1] allows traffic from any address "
         "(ipBlock cidr 0.0.0.0/0 except 10.0.0.0/8, 192.168.0.0/16)"),
        ("KW-K8S-133", "m0.yaml", 17, "egress[0].to[1] allows traffic to any address (ipBlock "
         "cidr ::/0)"),
        ("KW-K8S-133", "m0.yaml", 20, "egress[1].to[0] allows traffic to any address (ipBlock "
         "cidr 172.16.0.0/0)"),
    ]  # fmt: skip


def test_rules_of_a_direction_left_out_of_policy_types_are_ignored() -> None:
    spec = """\
  podSelector: {}
  policyTypes: [Ingress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
  ingress:
  - from: [{ipBlock: {cidr: 203.0.113.0/24}}, {ipBlock: {cidr: 7}}, {ipBlock: {cidr: bad/0}}]
"""
    calico = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: c}\n"
    calico += "spec:\n  ingress:\n  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]\n"
    assert found(policy("p", "shop", spec), calico, ids=("KW-K8S-133",)) == []


def test_malformed_policies_and_workloads_raise_nothing() -> None:
    texts = [
        policy("a", "shop", "  podSelector: 3\n  policyTypes: Ingress\n  ingress: {from: 1}\n"),
        policy("b", "shop", "  podSelector: {}\n  egress: [1, {to: [2, {ipBlock: []}]}]\n"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: c}\nspec: 5\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: shop}\nspec: 1\n",
    ]
    assert found(*texts) == []


def test_network_counts_on_the_manifest_corpus() -> None:
    scan = scan_manifest_files(
        list(find_manifests(CORPUS)), Selection(enable=frozenset(NETWORK_IDS))
    )
    counts = Counter(f.rule_id for f in scan.findings)
    assert {i: counts[i] for i in NETWORK_IDS} == {
        "KW-K8S-130": 11,
        "KW-K8S-131": 2,
        "KW-K8S-132": 2,
        "KW-K8S-133": 0,
    }
    namespaces = sorted(f.message.split()[1] for f in scan.findings if f.rule_id == "KW-K8S-130")
    assert namespaces == [
        "database", "db", "deployer", "dev", "example", "foo", "kube-system", "loadtest",
        "sock-shop", "spark-cluster", "test",
    ]  # fmt: skip


def test_every_check_runs_without_error_on_the_manifest_corpus() -> None:
    scan = scan_manifest_files(list(find_manifests(CORPUS)))
    assert [w for w in scan.warnings if "failed on" in w] == []
    assert scan.files == 645
