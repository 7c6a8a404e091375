"""RBAC checks: each fires on its own manifest at the rule's or subject's line, stays quiet on
lookalikes (wrong API group, resourceNames, aggregated roles), and matches RBAC's rules."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from kubeward.misconfig.engine import Selection
from kubeward.misconfig.kubernetes.load import load_text
from kubeward.misconfig.kubernetes.scan import check_loaded, find_manifests, scan_manifest_files

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "k8s-manifests"
RBAC_IDS = tuple(f"KW-K8S-{n}" for n in range(100, 108))


def found(check_id: str, *texts: str) -> list[tuple[str, int | None, str]]:
    """(file, line, message) of `check_id`'s findings on the manifests `texts`."""
    loaded = [load_text(text, f"m{i}.yaml") for i, text in enumerate(texts)]
    scan = check_loaded(loaded, Selection(enable=frozenset({check_id})))
    assert scan.warnings == []
    assert {f.rule_id for f in scan.findings} <= {check_id}
    return [(f.location.path or "", f.location.line, f.message) for f in scan.findings]


def role(rules: str, kind: str = "Role", api: str = "rbac.authorization.k8s.io/v1") -> str:
    """A role whose `rules:` key is on line 5, so rules[i] sits at line 6 + its offset."""
    return f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: r\nrules:\n{rules}"


WILDCARDS = role(
    """\
- apiGroups: [""]
  resources: [pods]
  verbs: ["*"]
- apiGroups: ["*"]
  resources: [deployments]
  verbs: [get]
- apiGroups: [apps]
  resources: ["*/scale"]
  verbs: [update]
- nonResourceURLs: [/metrics]
  verbs: ["*"]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
"""
)


def test_wildcards_one_finding_per_rule_at_its_line() -> None:
    assert found("KW-K8S-100", WILDCARDS) == [
        ("m0.yaml", 6, 'rules[0] uses a wildcard in verbs: verbs [*] on resources [pods] '
         'in apiGroups [""]'),
        ("m0.yaml", 9, "rules[1] uses a wildcard in apiGroups: verbs [get] on resources "
         "[deployments] in apiGroups [*]"),
        ("m0.yaml", 12, "rules[2] uses a wildcard in resources: verbs [update] on resources "
         "[*/scale] in apiGroups [apps]"),
        ("m0.yaml", 15, "rules[3] uses a wildcard in verbs: verbs [*] on nonResourceURLs "
         "[/metrics]"),
    ]  # fmt: skip


def test_all_three_wildcards_are_named_in_one_finding() -> None:
    text = role('- {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}\n', kind="ClusterRole")
    assert found("KW-K8S-100", text) == [
        ("m0.yaml", 6, "rules[0] uses a wildcard in verbs and resources and apiGroups: "
         "verbs [*] on resources [*] in apiGroups [*]"),
    ]  # fmt: skip


AGGREGATED = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: monitoring
aggregationRule:
  clusterRoleSelectors:
  - matchLabels:
      rbac.example.com/aggregate-to-monitoring: "true"
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
"""


def test_aggregated_cluster_roles_and_other_api_groups_are_not_checked() -> None:
    # the controller overwrites an aggregated role's rules; a CRD kind named Role is not RBAC
    custom = role('- {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}\n', api="example.com/v1")
    for check_id in RBAC_IDS:
        assert found(check_id, AGGREGATED, custom) == []


def test_malformed_rules_raise_nothing() -> None:
    texts = [
        role("- just a string\n- {apiGroups: x, resources: 3, verbs: null}\n"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: 7\n",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}"
        "\nroleRef: [cluster-admin]\nsubjects: [1, {kind: User}, {name: x}]\n",
    ]
    for check_id in RBAC_IDS:
        assert found(check_id, *texts) == []


CLUSTER_ADMIN = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: admins
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- {kind: Group, name: system:masters}
- {kind: User, name: system:kube-controller-manager}
- {kind: ServiceAccount, name: operator, namespace: kube-system}
- {kind: Group, name: system:serviceaccounts:kube-system}
- {kind: User, name: system:serviceaccount:kube-system:ci}
- {kind: User, name: alice}
- {kind: Group, name: system:authenticated}
- {kind: ServiceAccount, name: ci, namespace: default}
- {kind: User, name: system:serviceaccount:default:ci}
- {kind: Group, name: system:nodes}
- {kind: User, name: system:anonymous}
"""


def test_cluster_admin_bound_to_non_system_subjects() -> None:
    scope = "is bound to cluster-admin in every namespace"
    assert found("KW-K8S-101", CLUSTER_ADMIN) == [
        ("m0.yaml", 15, f"subjects[5] User alice {scope}"),
        ("m0.yaml", 16, f"subjects[6] Group system:authenticated {scope}"),
        ("m0.yaml", 17, f"subjects[7] ServiceAccount default/ci {scope}"),
        ("m0.yaml", 18, f"subjects[8] User system:serviceaccount:default:ci {scope}"),
        ("m0.yaml", 19, f"subjects[9] Group system:nodes {scope}"),
        ("m0.yaml", 20, f"subjects[10] User system:anonymous {scope}"),
    ]


def namespaced_binding(namespace: str, role_kind: str, role_name: str) -> str:
    return f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: b
  namespace: {namespace}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {role_kind}, name: {role_name}}}
subjects:
- kind: ServiceAccount
  name: deployer
"""


def test_cluster_admin_in_a_role_binding_uses_the_binding_namespace_for_service_accounts() -> None:
    # a RoleBinding's service account without a namespace lives in the binding's namespace
    assert found(
        "KW-K8S-101",
        namespaced_binding("shop", "ClusterRole", "cluster-admin"),
        namespaced_binding("kube-system", "ClusterRole", "cluster-admin"),
    ) == [
        ("m0.yaml", 8, "subjects[0] ServiceAccount shop/deployer is bound to cluster-admin in "
         "namespace shop"),
    ]  # fmt: skip


def test_other_roles_and_a_role_named_cluster_admin_are_not_cluster_admin() -> None:
    assert (
        found(
            "KW-K8S-101",
            namespaced_binding("shop", "Role", "cluster-admin"),
            namespaced_binding("shop", "ClusterRole", "admin"),
        )
        == []
    )


SECRETS = role(
    """\
- apiGroups: [""]
  resources: [configmaps, secrets]
  verbs: [get]
- apiGroups: ["*"]
  resources: ["*"]
  verbs: [list, watch, create]
- apiGroups: [""]
  resources: [secrets]
  verbs: ["*"]
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [app-tls]
  verbs: [get]
- apiGroups: [apps]
  resources: [secrets]
  verbs: [get]
- apiGroups: [""]
  resources: [secrets]
  verbs: [create, update, delete]
"""
)


def test_read_access_to_secrets() -> None:
    # resourceNames-restricted reads (rules[3]) are the least-privilege form: not reported
    assert found("KW-K8S-102", SECRETS) == [
        ("m0.yaml", 6, 'rules[0] can read Secrets (get): verbs [get] on resources '
         '[configmaps, secrets] in apiGroups [""]'),
        ("m0.yaml", 9, "rules[1] can read Secrets (list, watch): verbs [list, watch, create] "
         "on resources [*] in apiGroups [*]"),
        ("m0.yaml", 12, 'rules[2] can read Secrets (get, list, watch): verbs [*] on resources '
         '[secrets] in apiGroups [""]'),
    ]  # fmt: skip


POD_SESSIONS = role(
    """\
- apiGroups: [""]
  resources: [pods/exec]
  verbs: [create]
- apiGroups: [""]
  resources: ["*/attach", pods/portforward]
  resourceNames: [debug-0]
  verbs: [get]
- apiGroups: ["*"]
  resources: ["*"]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, create]
- apiGroups: [""]
  resources: [pods/exec]
  verbs: [list, watch]
- apiGroups: [""]
  resources: ["pods/*"]
  verbs: [create]
- apiGroups: [apps]
  resources: [pods/exec]
  verbs: [create]
"""
)


def test_exec_attach_portforward_with_create_or_get() -> None:
    # "pods/*" is not an RBAC pattern (only "*/sub" is) and matches nothing; list/watch do
    # not open sessions; pods/exec exists only in the core group
    assert found("KW-K8S-103", POD_SESSIONS) == [
        ("m0.yaml", 6, 'rules[0] grants create on pods/exec: verbs [create] on resources '
         '[pods/exec] in apiGroups [""]'),
        ("m0.yaml", 9, "rules[1] grants get on pods/attach, pods/portforward: verbs [get] on "
         'resources [*/attach, pods/portforward] in apiGroups [""] limited to resourceNames '
         "[debug-0]"),
        ("m0.yaml", 13, "rules[2] grants get on pods/exec, pods/attach, pods/portforward: "
         "verbs [get, list, watch] on resources [*] in apiGroups [*]"),
    ]  # fmt: skip


ESCALATION = role(
    """\
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  verbs: [bind]
  resourceNames: [view]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: ["*"]
- apiGroups: [""]
  resources: [serviceaccounts, users]
  verbs: [impersonate]
- apiGroups: [authentication.k8s.io]
  resources: [userextras/scopes, uids]
  verbs: [impersonate]
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
- apiGroups: [""]
  resources: [roles, clusterroles]
  verbs: [bind, escalate]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [users]
  verbs: [impersonate]
- apiGroups: [""]
  resources: [pods]
  verbs: ["*"]
""",
    kind="ClusterRole",
)


def test_escalate_bind_impersonate_in_their_api_groups() -> None:
    assert found("KW-K8S-104", ESCALATION) == [
        ("m0.yaml", 6, "rules[0] grants bind on clusterroles: verbs [bind] on resources "
         "[clusterroles] in apiGroups [rbac.authorization.k8s.io] limited to resourceNames "
         "[view]"),
        ("m0.yaml", 10, "rules[1] grants bind and escalate on roles: verbs [*] on resources "
         "[roles, rolebindings] in apiGroups [rbac.authorization.k8s.io]"),
        ("m0.yaml", 13, "rules[2] grants impersonate on users, serviceaccounts: verbs "
         '[impersonate] on resources [serviceaccounts, users] in apiGroups [""]'),
        ("m0.yaml", 16, "rules[3] grants impersonate on uids, userextras/*: verbs [impersonate] "
         "on resources [userextras/scopes, uids] in apiGroups [authentication.k8s.io]"),
        ("m0.yaml", 19, "rules[4] grants bind and escalate on roles, clusterroles; impersonate "
         "on users, groups, serviceaccounts, uids, userextras/*: verbs [*] on resources [*] in "
         "apiGroups [*]"),
    ]  # fmt: skip


WORKLOADS = role(
    """\
- apiGroups: [""]
  resources: [pods, services]
  verbs: [create]
- apiGroups: [apps, batch]
  resources: [deployments, cronjobs, jobs]
  verbs: ["*"]
- apiGroups: [extensions]
  resources: [daemonsets]
  verbs: [create]
- apiGroups: [""]
  resources: [deployments, jobs]
  verbs: [create]
- apiGroups: [apps]
  resources: [deployments]
  resourceNames: [web]
  verbs: [create, update]
- apiGroups: [apps]
  resources: [statefulsets, deployments/scale]
  verbs: [get, update, patch]
"""
)


def test_create_pods_or_workloads_in_their_api_groups() -> None:
    # deployments in the core group do not exist; a resourceNames rule cannot authorize create
    assert found("KW-K8S-105", WORKLOADS) == [
        ("m0.yaml", 6, 'rules[0] can create pods: verbs [create] on resources [pods, services] '
         'in apiGroups [""]'),
        ("m0.yaml", 9, "rules[1] can create deployments, jobs, cronjobs: verbs [*] on resources "
         "[deployments, cronjobs, jobs] in apiGroups [apps, batch]"),
        ("m0.yaml", 12, "rules[2] can create daemonsets: verbs [create] on resources "
         "[daemonsets] in apiGroups [extensions]"),
    ]  # fmt: skip


def test_wildcard_create_names_every_workload_resource() -> None:
    text = role('- {apiGroups: ["*"], resources: ["*"], verbs: [create]}\n')
    assert found("KW-K8S-105", text) == [
        ("m0.yaml", 6, "rules[0] can create pods, replicationcontrollers, podtemplates, "
         "deployments, daemonsets, statefulsets, replicasets, jobs, cronjobs, "
         "deploymentconfigs: verbs [create] on resources [*] in apiGroups [*]"),
    ]  # fmt: skip


NODE_PROXY = role(
    """\
- apiGroups: [""]
  resources: [nodes/proxy]
  verbs: [get]
- apiGroups: [""]
  resources: ["*/proxy"]
  resourceNames: [node-1]
  verbs: [get, create]
- apiGroups: [""]
  resources: [nodes, nodes/metrics, nodes/stats]
  verbs: [get, list]
- apiGroups: [""]
  resources: [nodes/proxy]
  verbs: []
""",
    kind="ClusterRole",
)


def test_nodes_proxy_with_any_verb() -> None:
    assert found("KW-K8S-106", NODE_PROXY) == [
        ("m0.yaml", 6, 'rules[0] grants get on nodes/proxy: verbs [get] on resources '
         '[nodes/proxy] in apiGroups [""]'),
        ("m0.yaml", 9, 'rules[1] grants get, create on nodes/proxy: verbs [get, create] on '
         'resources [*/proxy] in apiGroups [""] limited to resourceNames [node-1]'),
    ]  # fmt: skip


def public_binding(role_name: str, subjects: str) -> str:
    return f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: b
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role_name}}}
subjects:
{subjects}"""


def test_bindings_to_anonymous_unauthenticated_or_authenticated() -> None:
    subjects = (
        "- {kind: Group, name: system:authenticated}\n"
        "- {kind: User, name: system:anonymous}\n"
        "- {kind: Group, name: system:unauthenticated}\n"
        "- {kind: ServiceAccount, name: system:anonymous, namespace: default}\n"
        "- {kind: Group, name: developers}\n"
    )
    assert found("KW-K8S-107", public_binding("view", subjects)) == [
        ("m0.yaml", 7, "subjects[0] Group system:authenticated (every authenticated user and "
         "service account) is granted ClusterRole view"),
        ("m0.yaml", 8, "subjects[1] User system:anonymous (every unauthenticated request) is "
         "granted ClusterRole view"),
        ("m0.yaml", 9, "subjects[2] Group system:unauthenticated (every unauthenticated "
         "request) is granted ClusterRole view"),
    ]  # fmt: skip


def test_the_default_public_bindings_are_not_reported() -> None:
    subjects = "- {kind: Group, name: system:authenticated}\n"
    subjects += "- {kind: Group, name: system:unauthenticated}\n"
    assert found("KW-K8S-107", public_binding("system:public-info-viewer", subjects)) == []
    assert found("KW-K8S-107", public_binding("system:discovery", subjects)) == []
    cluster_info = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: "kubeadm:bootstrap-signer-clusterinfo", namespace: NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: "ROLE"}
subjects:
- {kind: User, name: system:anonymous}
"""
    kubeadm = cluster_info.replace("ROLE", "kubeadm:bootstrap-signer-clusterinfo")
    assert found("KW-K8S-107", kubeadm.replace("NS", "kube-public")) == []  # kubeadm's own
    # the same names elsewhere, or another role, are reported
    assert [line for _, line, _ in found("KW-K8S-107", kubeadm.replace("NS", "default"))] == [6]
    other = cluster_info.replace("ROLE", "edit").replace("NS", "kube-public")
    assert [line for _, line, _ in found("KW-K8S-107", other)] == [6]


def test_rbac_counts_on_the_manifest_corpus() -> None:
    files = list(find_manifests(CORPUS))
    scan = scan_manifest_files(files, Selection(enable=frozenset(RBAC_IDS)))
    assert [w for w in scan.warnings if "failed on" in w] == []
    counts = Counter(f.rule_id for f in scan.findings)
    assert {i: counts[i] for i in RBAC_IDS} == {
        "KW-K8S-100": 6,
        "KW-K8S-101": 1,
        "KW-K8S-102": 4,
        "KW-K8S-103": 0,
        "KW-K8S-104": 0,
        "KW-K8S-105": 2,
        "KW-K8S-106": 0,
        "KW-K8S-107": 0,
    }
    # kube-linter's own fixture for its cluster-admin-role-binding check
    assert [
        (f.location.path, f.location.line) for f in scan.findings if f.rule_id == "KW-K8S-101"
    ] == [("stackrox-kube-linter/tests/checks/cluster-admin-role-binding.yml", 22)]
