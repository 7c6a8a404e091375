"""The fake Kubernetes API server answers the official client and kubectl like a real one.

`kubeward k8s` is tested and benchmarked against it, so its paging, errors, discovery and
RBAC must be what a real kube-apiserver does; and the generated cluster must be exact and
deterministic, since those tests count findings on it.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from cluster_objects import IMAGES, generate_cluster, kind_counts
from fake_apiserver import FakeApiServer

KUBECTL = "/usr/bin/kubectl"
CLUSTER = generate_cluster(1200, seed=1)
# In etcd key order (`namespace/name` as a string: `shop-2/x` sorts before `shop/x`), the
# order a real server lists in.
PODS = sorted(
    ((o["metadata"]["namespace"], o["metadata"]["name"]) for o in CLUSTER if o["kind"] == "Pod"),
    key="/".join,
)


def _request(
    server: FakeApiServer,
    path: str,
    *,
    token: str | None = "fake-token",
    method: str = "GET",
    body: dict[str, Any] | None = None,
    accept: str = "application/json",
) -> tuple[int, Any]:
    headers = {"Accept": accept}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = orjson.dumps(body) if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req) as resp:
            raw = resp.read()
            code = resp.status
    except urllib.error.HTTPError as err:
        raw, code = err.read(), err.code
    return code, json.loads(raw)


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(CLUSTER, max_page=100, forbidden=["secrets"]) as fake:
        yield fake


@pytest.fixture
def api(server: FakeApiServer, tmp_path: Path) -> Iterator[client.ApiClient]:
    kubeconfig = server.write_kubeconfig(tmp_path / "config")
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    yield api_client
    api_client.close()


def _status(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


# --- the official client ------------------------------------------------------------------


def test_client_pages_through_every_pod(server: FakeApiServer, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    seen: list[tuple[str, str]] = []
    pages: list[int] = []
    remaining: list[int | None] = []
    token: str | None = None
    while True:
        # 150 asked, the server's cap (max_page=100) wins, as a real server's own limit would.
        page = core.list_pod_for_all_namespaces(limit=150, _continue=token)
        seen += [(p.metadata.namespace, p.metadata.name) for p in page.items]
        pages.append(len(page.items))
        remaining.append(page.metadata.remaining_item_count)
        token = page.metadata._continue
        if not token:
            break
    assert len(PODS) == kind_counts(1200)["Pod"] == 413
    assert seen == PODS  # every pod once, in etcd key order (namespace, name)
    assert pages == [100, 100, 100, 100, 13]
    assert remaining == [313, 213, 113, 13, None]
    lists = [q for m, p, q in server.requests if p == "/api/v1/pods"]
    assert [q["limit"] for q in lists] == ["150"] * 5
    assert ["continue" in q for q in lists] == [False, True, True, True, True]
    assert all(m == "GET" for m, _, _ in server.requests)


def test_load_kube_config_and_namespaced_lists(server: FakeApiServer, tmp_path: Path) -> None:
    ns = "checkout-qa"
    kubeconfig = server.write_kubeconfig(tmp_path / "config", context="lab", namespace=ns)
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    assert cfg.host == server.url
    with client.ApiClient(cfg) as api_client:
        apps = client.AppsV1Api(api_client)
        expected = sorted(
            o["metadata"]["name"]
            for o in CLUSTER
            if o["kind"] == "Deployment" and o["metadata"]["namespace"] == ns
        )
        names = [d.metadata.name for d in apps.list_namespaced_deployment(ns).items]
        assert names == expected == ["auth", "cache", "scheduler", "worker"]
        all_deployments = apps.list_deployment_for_all_namespaces()
        assert len(all_deployments.items) == kind_counts(1200)["Deployment"] == 82
        one = apps.read_namespaced_deployment("cache", ns)
        assert (one.kind, one.api_version, one.metadata.name) == ("Deployment", "apps/v1", "cache")
        with pytest.raises(ApiException) as missing:
            apps.read_namespaced_deployment("nope", ns)
        assert missing.value.status == 404
        assert _status(missing.value) == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'deployments.apps "nope" not found',
            "reason": "NotFound",
            "details": {"name": "nope", "group": "apps", "kind": "deployments"},
            "code": 404,
        }
        # Cluster-scoped kinds.
        nodes = client.CoreV1Api(api_client).list_node()
        assert len(nodes.items) == kind_counts(1200)["Node"] == 12
        rbac = client.RbacAuthorizationV1Api(api_client)
        assert len(rbac.list_cluster_role().items) == 35
        assert rbac.read_cluster_role("cluster-admin").rules[0].verbs == ["*"]
        assert client.VersionApi(api_client).get_code().git_version == "v1.30.2"


def test_lists_are_real_list_objects(server: FakeApiServer) -> None:
    code, body = _request(server, "/apis/apps/v1/namespaces/checkout-qa/deployments?limit=2")
    assert code == 200
    assert (body["kind"], body["apiVersion"]) == ("DeploymentList", "apps/v1")
    assert set(body["metadata"]) == {"resourceVersion", "continue", "remainingItemCount"}
    assert body["metadata"]["remainingItemCount"] == 2
    # As on the real server, list items carry neither kind nor apiVersion.
    assert [sorted(item) for item in body["items"]] == [["metadata", "spec", "status"]] * 2
    meta = body["items"][0]["metadata"]
    assert {"uid", "resourceVersion", "creationTimestamp", "namespace"} <= set(meta)
    # A single GET has them; an empty namespace lists nothing (no 404, as real).
    code, one = _request(server, "/api/v1/namespaces/kube-system")
    assert (code, one["kind"], one["apiVersion"]) == (200, "Namespace", "v1")
    code, empty = _request(server, "/api/v1/namespaces/absent/pods")
    assert (code, empty["items"], "continue" in empty["metadata"]) == (200, [], False)
    code, whole = _request(server, "/api/v1/pods")  # no limit: everything, one answer
    assert (code, len(whole["items"]), "continue" in whole["metadata"]) == (200, 413, False)


def test_forbidden_resources_get_the_real_403(tmp_path: Path) -> None:
    forbidden = ["secrets", "apps/deployments", "rbac.authorization.k8s.io/clusterroles"]
    with FakeApiServer(CLUSTER, forbidden=forbidden) as fake:
        kubeconfig = fake.write_kubeconfig(tmp_path / "config")
        with config.new_client_from_config(config_file=str(kubeconfig)) as api_client:
            core = client.CoreV1Api(api_client)
            with pytest.raises(ApiException) as exc:
                core.list_secret_for_all_namespaces()
            assert exc.value.status == 403
            assert _status(exc.value) == {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": 'secrets is forbidden: User "kubernetes-admin" cannot list resource '
                '"secrets" in API group "" at the cluster scope',
                "reason": "Forbidden",
                "details": {"kind": "secrets"},
                "code": 403,
            }
            with pytest.raises(ApiException) as exc:
                client.AppsV1Api(api_client).list_namespaced_deployment("default")
            assert _status(exc.value)["message"] == (
                'deployments.apps is forbidden: User "kubernetes-admin" cannot list resource '
                '"deployments" in API group "apps" in the namespace "default"'
            )
            assert _status(exc.value)["details"] == {"group": "apps", "kind": "deployments"}
            with pytest.raises(ApiException) as exc:
                client.RbacAuthorizationV1Api(api_client).read_cluster_role("view")
            assert _status(exc.value)["message"] == (
                'clusterroles.rbac.authorization.k8s.io "view" is forbidden: User '
                '"kubernetes-admin" cannot get resource "clusterroles" in API group '
                '"rbac.authorization.k8s.io" at the cluster scope'
            )
            # Everything else still answers.
            assert len(core.list_namespace().items) == 48
            replica_sets = client.AppsV1Api(api_client).list_replica_set_for_all_namespaces()
            assert len(replica_sets.items) == kind_counts(1200)["ReplicaSet"] == 118
    with pytest.raises(ValueError, match="unknown resource 'deployments'"):
        FakeApiServer([], forbidden=["deployments"])  # apps ones need their group


def test_authentication(tmp_path: Path) -> None:
    with FakeApiServer(CLUSTER) as fake:
        no_token = fake.write_kubeconfig(tmp_path / "config", anonymous=True)
        with (
            config.new_client_from_config(config_file=str(no_token)) as api_client,
            pytest.raises(ApiException) as exc,
        ):
            client.CoreV1Api(api_client).list_namespace()
        assert exc.value.status == 401
        assert _status(exc.value) == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
        assert _request(fake, "/version", token="wrong")[0] == 401
        assert _request(fake, "/version", token=None)[0] == 401
        assert _request(fake, "/version")[0] == 200


def test_anonymous_requests_follow_the_served_rbac() -> None:
    rbac = "rbac.authorization.k8s.io/v1"
    objects = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "other"}},
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "anon-pods"},
            "roleRef": {"kind": "ClusterRole", "name": "pod-reader"},
            "subjects": [{"kind": "User", "name": "system:anonymous"}],
        },
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": {"name": "all", "namespace": "shop"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": {"name": "b", "namespace": "shop"},
            "roleRef": {"kind": "Role", "name": "all"},
            "subjects": [{"kind": "Group", "name": "system:unauthenticated"}],
        },
    ]
    with FakeApiServer(objects, anonymous=True) as fake:
        assert _request(fake, "/api/v1/pods", token=None)[0] == 200
        assert _request(fake, "/api/v1/namespaces/shop/secrets", token=None)[0] == 200
        code, body = _request(fake, "/api/v1/namespaces/other/secrets", token=None)
        assert (code, body["message"]) == (
            403,
            'secrets is forbidden: User "system:anonymous" cannot list resource "secrets" in '
            'API group "" in the namespace "other"',
        )
        assert _request(fake, "/version", token=None)[0] == 200  # system:public-info-viewer
        code, body = _request(fake, "/apis", token=None)
        assert (code, body["message"]) == (
            403,
            'forbidden: User "system:anonymous" cannot get path "/apis"',
        )
        assert _request(fake, "/api/v1/pods", token="wrong")[0] == 401

        # The audit's question, asked by the admin: what may system:anonymous do?
        def review(verb: str, resource: str, namespace: str = "", sub: str = "") -> bool:
            code, body = _request(
                fake,
                "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                method="POST",
                body={
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SubjectAccessReview",
                    "spec": {
                        "user": "system:anonymous",
                        "groups": ["system:unauthenticated"],
                        "resourceAttributes": {
                            "verb": verb,
                            "resource": resource,
                            "namespace": namespace,
                            "subresource": sub,
                        },
                    },
                },
            )
            assert (code, body["kind"]) == (201, "SubjectAccessReview")
            allowed: bool = body["status"]["allowed"]
            return allowed

        assert [review("list", "pods"), review("delete", "pods"), review("get", "secrets")] == [
            True,
            False,
            False,
        ]
        assert review("delete", "secrets", "shop") is True
        assert (review("create", "pods", "shop", "exec"), review("create", "pods", "", "exec")) == (
            True,
            False,
        )
        code, body = _request(
            fake,
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            method="POST",
            body={"spec": {"namespace": "shop"}},
        )
        assert code == 201
        assert body["status"] == {  # the admin's own rules
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
        # SelfSubjectAccessReview as anonymous: the real default RBAC does not allow it.
        code, body = _request(
            fake,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            token=None,
            method="POST",
            body={"spec": {"resourceAttributes": {"verb": "list", "resource": "pods"}}},
        )
        assert (code, body["reason"]) == (403, "Forbidden")


def test_self_subject_reviews_for_the_token_user() -> None:
    with FakeApiServer([], forbidden=["secrets"]) as fake:

        def ssar(resource: str) -> bool:
            code, body = _request(
                fake,
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                method="POST",
                body={"spec": {"resourceAttributes": {"verb": "list", "resource": resource}}},
            )
            assert code == 201
            allowed: bool = body["status"]["allowed"]
            return allowed

        assert (ssar("pods"), ssar("secrets")) == (True, False)
        code, body = _request(
            fake,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            method="POST",
            body={"nospec": 1},
        )
        assert (code, body["reason"], body["message"]) == (
            400,
            "BadRequest",
            "SelfSubjectAccessReview needs a spec",
        )


def test_bad_and_expired_continue_tokens(server: FakeApiServer, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as exc:
        core.list_pod_for_all_namespaces(limit=10, _continue="not-a-token")
    # Garbage: the real etcd3 store's 400 "invalid continue token".
    assert exc.value.status == 400
    assert _status(exc.value)["reason"] == "BadRequest"
    assert _status(exc.value)["message"].startswith("invalid continue token: ")

    first = core.list_pod_for_all_namespaces(limit=10)
    server.expire_continue_tokens()  # an etcd compaction happened
    with pytest.raises(ApiException) as exc:
        core.list_pod_for_all_namespaces(limit=10, _continue=first.metadata._continue)
    status = _status(exc.value)
    assert (exc.value.status, status["reason"], status["code"]) == (410, "Expired", 410)
    assert status["message"].startswith("The provided continue parameter is too old")
    # The 410's own token continues (inconsistently, as documented) after the same item.
    code, rest = _request(
        server, f"/api/v1/pods?limit=10&continue={status['metadata']['continue']}"
    )
    assert code == 200
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in rest["items"]] == PODS[
        10:20
    ]
    # Fresh tokens work again.
    fresh = core.list_pod_for_all_namespaces(limit=10)
    after = core.list_pod_for_all_namespaces(limit=10, _continue=fresh.metadata._continue)
    assert [(p.metadata.namespace, p.metadata.name) for p in after.items] == PODS[10:20]


def test_selectors_with_paging(server: FakeApiServer) -> None:
    def collect(query: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        token = ""
        while True:
            code, body = _request(server, f"/api/v1/pods?limit=40&{query}&continue={token}")
            assert code == 200
            assert "remainingItemCount" not in body["metadata"]  # unknown when filtering
            assert len(body["items"]) <= 40
            out += [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in body["items"]]
            token = body["metadata"].get("continue", "")
            if not token:
                return out

    pods = sorted(
        (o for o in CLUSTER if o["kind"] == "Pod"),
        key=lambda o: f"{o['metadata']['namespace']}/{o['metadata']['name']}",
    )
    keys = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods]

    def expect(pred: Any) -> list[tuple[str, str]]:
        return [key for key, p in zip(keys, pods, strict=True) if pred(p)]

    not_system = collect("fieldSelector=metadata.namespace!%3Dkube-system")
    assert not_system == expect(lambda p: p["metadata"]["namespace"] != "kube-system")
    assert len(not_system) == 389
    assert collect("fieldSelector=metadata.namespace%3Dkube-system") == expect(
        lambda p: p["metadata"]["namespace"] == "kube-system"
    )
    assert collect("fieldSelector=status.phase%3DRunning,spec.hostNetwork%3Dtrue") == expect(
        lambda p: p["status"]["phase"] == "Running" and p["spec"].get("hostNetwork")
    )
    web = collect("labelSelector=app%3Dweb")
    assert web == expect(lambda p: p["metadata"]["labels"].get("app") == "web")
    assert len(web) == 30
    assert collect("labelSelector=app+in+(web,db),!run") == expect(
        lambda p: (
            p["metadata"]["labels"].get("app") in ("web", "db")
            and "run" not in p["metadata"]["labels"]
        )
    )
    assert collect("labelSelector=app+notin+(web),pod-template-hash") == expect(
        lambda p: (
            p["metadata"]["labels"].get("app") != "web"
            and "pod-template-hash" in p["metadata"]["labels"]
        )
    )
    code, body = _request(server, "/api/v1/pods?fieldSelector=spec.image%3Dnginx")
    assert (code, body["message"]) == (400, "field label not supported: spec.image")
    code, body = _request(server, "/api/v1/pods?labelSelector=app+in+web")
    assert (code, body["reason"]) == (400, "BadRequest")


def test_discovery_and_unknown_paths(server: FakeApiServer) -> None:
    code, versions = _request(server, "/api")
    assert (code, versions["kind"], versions["versions"]) == (200, "APIVersions", ["v1"])
    code, core = _request(server, "/api/v1")
    pods = next(r for r in core["resources"] if r["name"] == "pods")
    assert pods == {
        "name": "pods",
        "singularName": "pod",
        "namespaced": True,
        "kind": "Pod",
        "verbs": [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        "shortNames": ["po"],
        "categories": ["all"],
    }
    assert len(core["resources"]) == 9
    code, groups = _request(server, "/apis")
    assert [g["name"] for g in groups["groups"]] == [
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "authorization.k8s.io",
    ]
    code, apps = _request(server, "/apis/apps/v1")
    assert (apps["kind"], apps["groupVersion"]) == ("APIResourceList", "apps/v1")
    assert [r["name"] for r in apps["resources"]] == [
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
    ]
    code, group = _request(server, "/apis/rbac.authorization.k8s.io")
    assert (code, group["preferredVersion"]["groupVersion"]) == (
        200,
        "rbac.authorization.k8s.io/v1",
    )
    code, version = _request(server, "/version")
    assert (version["major"], version["minor"], version["gitVersion"]) == ("1", "30", "v1.30.2")
    not_found = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }
    for path in (
        "/openapi/v2",
        "/openapi/v3",
        "/nothing",
        "/api/v1/widgets",
        "/apis/apps/v1/namespaces/x/nodes",
        "/api/v1/namespaces/x/pods/y/status",
    ):
        assert _request(server, path) == (404, not_found), path
    code, body = _request(server, "/api/v1/namespaces/default/pods", method="POST", body={})
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, body = _request(server, "/api/v1/pods?watch=true")
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, table = _request(
        server, "/api/v1/pods?limit=5", accept="application/json;as=Table;v=v1;g=meta.k8s.io"
    )
    assert (table["kind"], [c["name"] for c in table["columnDefinitions"]]) == (
        "Table",
        ["Name", "Created At"],
    )
    assert [r["cells"][0] for r in table["rows"]] == [name for _, name in PODS[:5]]


def test_version_variants_and_bad_objects() -> None:
    with FakeApiServer([], version="v1.29.4-eks-036c24b", token=None) as fake:
        code, version = _request(fake, "/version", token=None)  # token=None: no authentication
        assert (code, version["minor"], version["gitVersion"]) == (
            200,
            "29+",
            "v1.29.4-eks-036c24b",
        )
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    with FakeApiServer([pod]) as fake:
        code, body = _request(fake, "/api/v1/namespaces/default/pods/p")
        assert (code, body["metadata"]["namespace"]) == (200, "default")  # filled, as kubectl
    assert pod == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}  # untouched
    with pytest.raises(ValueError, match="does not serve kind 'Widget'"):
        FakeApiServer([{"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}}])
    with pytest.raises(ValueError, match="duplicate Pod default/p"):
        FakeApiServer([pod, pod])
    with pytest.raises(ValueError, match="Deployment must have apiVersion apps/v1"):
        FakeApiServer([{"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "d"}}])
    with pytest.raises(ValueError, match=r"a Pod has no metadata\.name"):
        FakeApiServer([{"apiVersion": "v1", "kind": "Pod", "metadata": {}}])
    unstarted = FakeApiServer([])
    with pytest.raises(RuntimeError, match="start the server"):
        unstarted.write_kubeconfig(Path("unused"))


def test_stopped_server_refuses_connections() -> None:
    with FakeApiServer([]) as fake:
        assert _request(fake, "/version")[0] == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(fake.url + "/version", timeout=2)


# --- kubectl --------------------------------------------------------------------------------


def _kubectl(fake: FakeApiServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_kubectl(tmp_path: Path) -> None:
    # tls: kubectl sends a kubeconfig's token only to https servers.
    with FakeApiServer(CLUSTER, forbidden=["secrets"], tls=True, max_page=500) as fake:
        got = _kubectl(fake, tmp_path, "get", "pods", "-A", "-o", "json")
        assert got.returncode == 0, got.stderr
        items = json.loads(got.stdout)["items"]
        assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == PODS
        pages = [q for _, p, q in fake.requests if p == "/api/v1/pods"]
        assert [(q.get("limit"), "continue" in q) for q in pages] == [("500", False)]

        got = _kubectl(fake, tmp_path, "get", "deployments", "-n", "checkout-qa", "-o", "name")
        assert (got.returncode, got.stdout) == (
            0,
            "deployment.apps/auth\ndeployment.apps/cache\ndeployment.apps/scheduler\n"
            "deployment.apps/worker\n",
        )
        got = _kubectl(fake, tmp_path, "get", "deployments", "-n", "checkout-qa")
        assert got.returncode == 0, got.stderr
        assert [line.split()[0] for line in got.stdout.splitlines()] == [
            "NAME",
            "auth",
            "cache",
            "scheduler",
            "worker",
        ]

        got = _kubectl(fake, tmp_path, "version", "-o", "json")
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["serverVersion"]["gitVersion"] == "v1.30.2"

        got = _kubectl(fake, tmp_path, "get", "secrets", "-A")
        assert got.returncode == 1
        assert got.stderr.strip() == (
            'Error from server (Forbidden): secrets is forbidden: User "kubernetes-admin" '
            'cannot list resource "secrets" in API group "" at the cluster scope'
        )
    # Small pages: kubectl follows the continue tokens (its --chunk-size is the limit).
    with FakeApiServer(CLUSTER, tls=True, max_page=500) as fake:
        got = _kubectl(fake, tmp_path, "get", "pods", "-A", "-o", "json", "--chunk-size=100")
        assert got.returncode == 0, got.stderr
        assert len(json.loads(got.stdout)["items"]) == len(PODS)
        pages = [q for _, p, q in fake.requests if p == "/api/v1/pods"]
        assert [("continue" in q) for q in pages] == [False, True, True, True, True]


# --- generated cluster ------------------------------------------------------------------------


def test_generate_cluster_is_exact_and_deterministic() -> None:
    objects = generate_cluster(1000)
    assert objects == generate_cluster(1000, seed=0)
    assert objects != generate_cluster(1000, seed=1)
    assert len(objects) == 1000
    assert dict(Counter(o["kind"] for o in objects)) == {
        "Namespace": 40,
        "Node": 10,
        "ClusterRole": 29,
        "ClusterRoleBinding": 20,
        "ServiceAccount": 59,
        "ConfigMap": 88,
        "Secret": 29,
        "Deployment": 69,
        "ReplicaSet": 98,
        "StatefulSet": 15,
        "DaemonSet": 2,
        "CronJob": 10,
        "Job": 20,
        "Pod": 344,
        "Service": 59,
        "Ingress": 20,
        "NetworkPolicy": 20,
        "Role": 29,
        "RoleBinding": 39,
    }
    five_k = kind_counts(5000)
    assert sum(five_k.values()) == 5000
    assert (five_k["Pod"], five_k["ReplicaSet"], five_k["Namespace"]) == (1773, 507, 50)
    assert generate_cluster(0) == []
    assert [o["kind"] for o in generate_cluster(1)] == ["Namespace"]
    assert len(generate_cluster(37, namespaces=3)) == 37

    keys = [(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects]
    assert len(set(keys)) == 1000
    uids = {o["metadata"]["uid"] for o in objects}
    assert len(uids) == 1000
    for o in objects:
        assert {"uid", "resourceVersion", "creationTimestamp"} <= set(o["metadata"])
        for ref in o["metadata"].get("ownerReferences", []):
            assert ref["uid"] in uids
    pods = [o for o in objects if o["kind"] == "Pod"]
    containers = [c for p in pods for c in p["spec"]["containers"]]
    assert sum(bool((c.get("securityContext") or {}).get("privileged")) for c in containers) == 21
    assert sum(bool(p["spec"].get("hostNetwork")) for p in pods) == 45
    assert sum(bool(p["spec"]["securityContext"].get("runAsNonRoot")) for p in pods) == 92
    images = {c["image"] for c in containers}
    assert len(images) == 22
    assert len(images & set(IMAGES)) == 19
    assert len({s["imageID"] for p in pods for s in p["status"]["containerStatuses"]}) == 22
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    enforce = Counter(
        n["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") for n in namespaces
    )
    assert enforce == {None: 17, "restricted": 11, "baseline": 10, "privileged": 2}
    assert Counter(o["spec"]["type"] for o in objects if o["kind"] == "Service") == {
        "ClusterIP": 54,
        "NodePort": 4,
        "LoadBalancer": 1,
    }
    assert len({o["metadata"]["namespace"] for o in objects if o["kind"] == "NetworkPolicy"}) == 17
    kubelets = Counter(
        o["status"]["nodeInfo"]["kubeletVersion"] for o in objects if o["kind"] == "Node"
    )
    assert kubelets == {"v1.30.2": 7, "v1.29.6": 1, "v1.24.17": 1, "v1.26.15": 1}
    risky = sorted(
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        for o in objects
        if o["kind"] in ("ClusterRoleBinding", "RoleBinding")
        and any(s["name"] in ("system:anonymous", "system:unauthenticated") for s in o["subjects"])
    )
    assert risky == [
        ("ClusterRoleBinding", "", "anonymous-reader"),
        ("ClusterRoleBinding", "", "data-gateway-role-binding"),
        ("ClusterRoleBinding", "", "payments-ui-role-binding"),
        ("ClusterRoleBinding", "", "system:public-info-viewer"),
        ("ClusterRoleBinding", "", "system:public-info-viewer-binding-2"),
        ("RoleBinding", "billing-prod", "admin-binding"),
        ("RoleBinding", "catalog-qa", "ingest-config-binding"),
    ]
    assert any(
        r.get("verbs") == ["*"] for o in objects if o["kind"] == "ClusterRole" for r in o["rules"]
    )


def test_listing_five_thousand_objects_is_fast(tmp_path: Path) -> None:
    objects = generate_cluster(5000)
    started = time.perf_counter()
    with FakeApiServer(objects, max_page=500) as fake:
        startup = time.perf_counter() - started
        kubeconfig = fake.write_kubeconfig(tmp_path / "config")
        with config.new_client_from_config(config_file=str(kubeconfig)) as api_client:
            core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
            rbac = client.RbacAuthorizationV1Api(api_client)
            networking = client.NetworkingV1Api(api_client)
            batch = client.BatchV1Api(api_client)
            calls = [
                core.list_namespace,
                core.list_node,
                core.list_pod_for_all_namespaces,
                core.list_service_for_all_namespaces,
                core.list_config_map_for_all_namespaces,
                core.list_secret_for_all_namespaces,
                core.list_service_account_for_all_namespaces,
                apps.list_deployment_for_all_namespaces,
                apps.list_replica_set_for_all_namespaces,
                apps.list_stateful_set_for_all_namespaces,
                apps.list_daemon_set_for_all_namespaces,
                batch.list_job_for_all_namespaces,
                batch.list_cron_job_for_all_namespaces,
                rbac.list_cluster_role,
                rbac.list_cluster_role_binding,
                rbac.list_role_for_all_namespaces,
                rbac.list_role_binding_for_all_namespaces,
                networking.list_ingress_for_all_namespaces,
                networking.list_network_policy_for_all_namespaces,
            ]
            started = time.perf_counter()
            raw_total = 0
            for call in calls:
                token = None
                while True:
                    resp = call(limit=500, _continue=token, _preload_content=False)
                    body = orjson.loads(resp.data)
                    raw_total += len(body["items"])
                    token = body["metadata"].get("continue")
                    if not token:
                        break
            raw_seconds = time.perf_counter() - started
            started = time.perf_counter()
            typed_pods, token = 0, None
            while True:
                page = core.list_pod_for_all_namespaces(limit=500, _continue=token)
                typed_pods += len(page.items)
                token = page.metadata._continue
                if not token:
                    break
            typed_seconds = time.perf_counter() - started
    assert raw_total == 5000
    assert typed_pods == 1773
    lists = sum(1 for _, p, _ in fake.requests if p != "/version")
    assert lists == sum(math.ceil(n / 500) for n in kind_counts(5000).values()) + 4
    print(
        f"\nfake API server, 5,000 objects: start-up {startup:.3f} s; all {len(calls)} kinds "
        f"paged raw {raw_seconds:.3f} s; 1,773 pods typed {typed_seconds:.3f} s; server-side "
        f"{fake.server_seconds:.3f} s over {len(fake.requests)} requests"
    )
    assert fake.server_seconds < 2.0


def test_standalone_server_process(tmp_path: Path) -> None:
    """`python tests/fake_apiserver.py`: a benchmark's server outside the measured process."""
    script = Path(__file__).with_name("fake_apiserver.py")
    kubeconfig = tmp_path / "kubeconfig"
    args = ["--objects", "60", "--max-page", "10", "--forbidden", "secrets"]
    with subprocess.Popen(
        [sys.executable, str(script), *args, "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        try:
            assert url.startswith("http://127.0.0.1:")
            with config.new_client_from_config(config_file=str(kubeconfig)) as api_client:
                core = client.CoreV1Api(api_client)
                page = core.list_pod_for_all_namespaces(limit=50)
                assert (len(page.items), page.metadata.remaining_item_count) == (10, 11)
                with pytest.raises(ApiException) as exc:
                    core.list_secret_for_all_namespaces()
                assert exc.value.status == 403
        finally:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
