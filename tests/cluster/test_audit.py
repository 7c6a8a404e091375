"""The live-cluster audit against the in-process fake API server: paging, a 403 on one
resource type, namespace filters, controllers' pods, annotations, exact findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fake_apiserver import FakeApiServer
from kubeward.cluster.audit import AuditOptions, AuditResult, audit, stand_in
from kubeward.cluster.client import ClusterError, connect
from kubeward.misconfig.engine import Selection
from kubeward.misconfig.kubernetes.objects import K8sObject

PSA = "pod-security.kubernetes.io/enforce"
RBAC = "rbac.authorization.k8s.io/v1"
CHECKS = frozenset(
    {"KW-K8S-012", "KW-K8S-107", "KW-K8S-130", "KW-K8S-131", "KW-K8S-200", "KW-K8S-201",
     "KW-K8S-202", "KW-K8S-203", "KW-K8S-212"}
)  # fmt: skip


def namespace(name: str, level: str | None = None) -> dict[str, Any]:
    labels = {PSA: level} if level else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def node(name: str, version: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"nodeInfo": {"kubeletVersion": version}},
    }


def pod(ns: str, name: str, *, privileged: bool = False, owner: str | None = None,
        annotations: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": "u",
             "controller": True}
        ]  # fmt: skip
    if annotations:
        meta["annotations"] = annotations
    container = {"name": "app", "image": "app:1", "securityContext": {"privileged": privileged}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [container]},
    }


def binding(kind: str, name: str, role: str, subject: str, ns: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role.split("/", maxsplit=1)[0],
                    "name": role.split("/")[1]},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": subject}],
    }  # fmt: skip


def small_cluster() -> list[dict[str, Any]]:
    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "secure"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    return [
        namespace("shop"),
        namespace("secure", "restricted"),
        namespace("legacy", "privileged"),
        namespace("kube-system"),
        node("cp", "v1.30.2"),
        node("old", "v1.26.1"),
        deny,
        pod("shop", "web", privileged=True),
        pod("shop", "web-abc", privileged=True, owner="web-rs"),  # its ReplicaSet is checked
        pod("secure", "api"),
        pod("legacy", "agent", privileged=True, annotations={"kubeward.io/ignore": "KW-K8S-012"}),
        pod("kube-system", "proxy", privileged=True),
        binding("ClusterRoleBinding", "anon-view", "ClusterRole/view", "system:anonymous"),
        binding("RoleBinding", "kubeadm:bootstrap-signer-clusterinfo",
                "Role/kubeadm:bootstrap-signer-clusterinfo", "system:anonymous", "kube-public"),
    ]  # fmt: skip


def run_audit(server: FakeApiServer, tmp_path: Path, **options: Any) -> AuditResult:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    cluster = connect(str(kubeconfig), None)
    try:
        return audit(cluster, AuditOptions(selection=Selection(CHECKS), **options))
    finally:
        cluster.close()


def summary(result: AuditResult) -> list[tuple[str, str]]:
    return [(f.rule_id, f.location.resource or "") for f in result.findings]


EXPECTED = [
    ("KW-K8S-107", "ClusterRoleBinding/anon-view"),
    ("KW-K8S-203", "Namespace/legacy"),
    ("KW-K8S-202", "Namespace/shop"),
    ("KW-K8S-012", "Pod/kube-system/proxy"),
    ("KW-K8S-130", "Pod/kube-system/proxy"),
    ("KW-K8S-130", "Pod/legacy/agent"),
    ("KW-K8S-012", "Pod/shop/web"),
    ("KW-K8S-130", "Pod/shop/web"),
    ("KW-K8S-212", "kubelet v1.26.1 (1 node: old)"),
]


def test_exact_findings_on_a_small_cluster(tmp_path: Path) -> None:
    with FakeApiServer(small_cluster()) as server:
        result = run_audit(server, tmp_path)
    assert summary(result) == EXPECTED
    assert result.warnings == []
    assert result.denied == []
    assert result.version == "v1.30.2"
    assert result.context == "fake"
    assert result.counts == {
        "Namespace": 4, "Node": 2, "ClusterRoleBinding": 1, "RoleBinding": 1,
        "NetworkPolicy": 1, "Pod": 5,
    }  # fmt: skip
    assert result.checked == 11  # web-abc is its ReplicaSet's: not checked again
    assert all(f.location.path == "cluster" and f.location.line is None for f in result.findings)
    [skew] = [f for f in result.findings if f.rule_id == "KW-K8S-212"]
    assert skew.message == (
        "kubelet v1.26.1 on Node/old is 4 minor versions older than the API server v1.30.2: "
        "the version skew policy allows at most 3"
    )
    assert {"KW-K8S-012", "KW-K8S-202", "KW-K8S-200"} <= result.ran
    assert "KW-K8S-210" not in result.ran  # no CVE feed given: not a pass


def test_paging_uses_limit_and_continue(tmp_path: Path) -> None:
    pods = [pod("shop", f"p{i:02}") for i in range(7)]
    with FakeApiServer([namespace("shop", "restricted"), *pods], max_page=500) as server:
        result = run_audit(server, tmp_path, page_size=3)
        requests = [(path, query) for method, path, query in server.requests if method == "GET"]
    assert result.counts["Pod"] == 7
    pod_requests = [query for path, query in requests if path == "/api/v1/pods"]
    assert [q.get("limit") for q in pod_requests] == ["3", "3", "3"]
    assert "continue" not in pod_requests[0]
    assert all(q.get("continue") for q in pod_requests[1:])
    assert len({q["continue"] for q in pod_requests[1:]}) == 2


def test_forbidden_resource_is_a_warning_and_the_audit_goes_on(tmp_path: Path) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}}
    with FakeApiServer([*small_cluster(), secret], forbidden=("secrets",)) as server:
        result = run_audit(server, tmp_path)
    assert summary(result) == EXPECTED
    [denied] = result.denied
    assert (denied.resource, denied.status, denied.namespace) == ("secrets", 403, None)
    assert result.warnings == [denied.message]
    assert denied.message.startswith("cannot list secrets: forbidden (")
    assert "Secret" not in result.counts
    assert result.document()["denied"][0]["resource"] == "secrets"


def test_namespace_filters(tmp_path: Path) -> None:
    with FakeApiServer(small_cluster()) as server:
        only = run_audit(server, tmp_path, namespaces=frozenset({"shop", "legacy"}))
        paths = {path for _, path, _ in server.requests}
        server.requests.clear()
        excluded = run_audit(server, tmp_path, exclude=frozenset({"shop", "kube-system"}))
    assert summary(only) == [
        ("KW-K8S-107", "ClusterRoleBinding/anon-view"),  # cluster-scoped: always audited
        ("KW-K8S-203", "Namespace/legacy"),
        ("KW-K8S-202", "Namespace/shop"),
        ("KW-K8S-130", "Pod/legacy/agent"),
        ("KW-K8S-012", "Pod/shop/web"),
        ("KW-K8S-130", "Pod/shop/web"),
        ("KW-K8S-212", "kubelet v1.26.1 (1 node: old)"),
    ]
    assert "/api/v1/namespaces/shop/pods" in paths and "/api/v1/pods" not in paths
    assert summary(excluded) == [
        ("KW-K8S-107", "ClusterRoleBinding/anon-view"),
        ("KW-K8S-203", "Namespace/legacy"),
        ("KW-K8S-130", "Pod/legacy/agent"),
        ("KW-K8S-212", "kubelet v1.26.1 (1 node: old)"),
    ]


@pytest.mark.parametrize(
    ("granted", "expected"),
    [(False, "KW-K8S-200"), (True, "KW-K8S-201")],
)
def test_anonymous_probe(tmp_path: Path, granted: bool, expected: str) -> None:
    objects = [namespace("secure", "restricted")]
    if granted:
        role = {
            "apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "ns-reader"},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}],
        }  # fmt: skip
        objects += [role, binding("ClusterRoleBinding", "anon", "ClusterRole/ns-reader",
                                  "system:anonymous")]  # fmt: skip
    with FakeApiServer(objects, anonymous=True) as server:
        result = run_audit(server, tmp_path)
        off = run_audit(server, tmp_path, anonymous_probe=False)
    assert [f.rule_id for f in result.findings if f.rule_id >= "KW-K8S-200"] == [expected]
    assert [f.rule_id for f in off.findings if f.rule_id >= "KW-K8S-200"] == []
    assert "KW-K8S-200" not in off.ran


def test_unreachable_and_refused(tmp_path: Path) -> None:
    with FakeApiServer([]) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        url = server.url
    with pytest.raises(ClusterError, match=f"^cannot reach the cluster at {url}: "):
        audit(connect(str(kubeconfig), None), AuditOptions())
    with FakeApiServer([], token="other") as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        text = kubeconfig.read_text().replace("other", "wrong")
        kubeconfig.write_text(text)
        with pytest.raises(ClusterError, match=r"refused the credentials .* \(401 Unauthorized\)"):
            audit(connect(str(kubeconfig), None), AuditOptions())


def test_hostile_server_answers_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page past the size cap is refused while it is read; a server that hands back a
    continue token it gave before would page forever: both end the audit in one line."""
    from kubeward.cluster import client

    pods = [pod("shop", f"p{i:02}") for i in range(7)]
    with FakeApiServer([namespace("shop", "restricted"), *pods]) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        monkeypatch.setattr(client, "MAX_PAGE_BYTES", 300)
        with pytest.raises(
            ClusterError, match=r"^http://127\.0\.0\.1:\d+/\S+: answer larger than 300 bytes$"
        ):
            audit(connect(str(kubeconfig), None), AuditOptions())
        monkeypatch.undo()
        cluster = connect(str(kubeconfig), None)
        real = cluster.get_json

        def looping(path: str, query: list[tuple[str, str]] | None = None) -> Any:
            document = real(path, [("limit", "3")])
            if isinstance(document, dict) and isinstance(document.get("metadata"), dict):
                document["metadata"]["continue"] = "again"  # the same token every page
            return document

        monkeypatch.setattr(cluster, "get_json", looping)
        with pytest.raises(ClusterError, match=r"the server repeats a continue token$"):
            audit(cluster, AuditOptions())


def test_bad_kubeconfigs(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="no such file"):
        connect(str(tmp_path / "missing"), None)
    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nkind: Config\nclusters: 5\n")
    with pytest.raises(ClusterError, match=r"^kubeconfig"):
        connect(str(broken), None)
    broken.write_text("garbage: [\n")
    with pytest.raises(ClusterError, match=r"^kubeconfig .*broken: not valid YAML \(line 2\)$"):
        connect(str(broken), None)
    with FakeApiServer([]) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        with pytest.raises(ClusterError, match=r"kubeconfig: .*nope"):
            connect(str(kubeconfig), "nope")


def test_stand_ins_keep_only_what_namespace_checks_read() -> None:
    data = pod("shop", "web", annotations={"kubeward.io/ignore": "KW-K8S-130", "other": "x"})
    data["metadata"]["labels"] = {"a": "b"}
    small = stand_in(K8sObject(data, "cluster", origin="cluster"))
    assert small is not None
    assert small.data == {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "web", "namespace": "shop",
                     "annotations": {"kubeward.io/ignore": "KW-K8S-130"}},
        "spec": {},
    }  # fmt: skip
    cron = {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "n"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}},
    }  # fmt: skip
    small = stand_in(K8sObject(cron, "cluster", origin="cluster"))
    assert small is not None
    assert small.data["spec"] == {
        "jobTemplate": {"spec": {"template": {"metadata": {}, "spec": {}}}}
    }
    policy = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}], "egress": []},
    }  # fmt: skip
    small = stand_in(K8sObject(policy, "cluster", origin="cluster"))
    assert small is not None
    assert small.data["spec"] == {"podSelector": {}, "ingress": [{}], "egress": []}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    assert stand_in(K8sObject(service, "cluster", origin="cluster")) is None
