"""A deterministic, realistic fake cluster: the objects FakeApiServer serves in tests/benchmarks.

`generate_cluster(n)` returns exactly n API objects (full JSON, as `kubectl get -o json`
shows them) in proportions like a real cluster's (pods about a third, replica sets a tenth,
config maps, services, RBAC...), with the variety the audit's checks look at: privileged and
host-namespace pods next to restricted ones, images repeating from a small pool (by tag and
by digest, so deduplication matters), namespaces with and without Pod Security Admission
labels, NetworkPolicies in some namespaces only, risky RBAC (wildcards, bindings to
system:anonymous / system:unauthenticated) and old kubelets. Same n and seed, same objects.
"""

from __future__ import annotations

import base64
import hashlib
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

__all__ = ["KIND_WEIGHTS", "generate_cluster", "kind_counts"]

# Share of each kind among the objects that are not namespaces (in output order).
KIND_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("Node", 1.0),
    ("ClusterRole", 3.0),
    ("ClusterRoleBinding", 2.0),
    ("ServiceAccount", 6.0),
    ("ConfigMap", 9.0),
    ("Secret", 3.0),
    ("Deployment", 7.0),
    ("ReplicaSet", 10.0),
    ("StatefulSet", 1.5),
    ("DaemonSet", 0.2),
    ("CronJob", 1.0),
    ("Job", 2.0),
    ("Pod", 35.0),
    ("Service", 6.0),
    ("Ingress", 2.0),
    ("NetworkPolicy", 2.0),
    ("Role", 3.0),
    ("RoleBinding", 4.0),
)
_API_VERSIONS = {
    "Namespace": "v1",
    "Node": "v1",
    "ServiceAccount": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Pod": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Ingress": "networking.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
}


def _digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


# A small pool so images repeat across workloads (the audit scans each distinct one once).
IMAGES: tuple[str, ...] = (
    "docker.io/library/nginx:1.25",
    "docker.io/library/nginx:latest",
    "nginx",
    "docker.io/library/redis:7.2",
    "docker.io/library/postgres:16.2",
    "docker.io/library/mysql:8.0",
    "docker.io/library/busybox:1.36",
    "docker.io/library/python:3.12-slim",
    "docker.io/library/alpine:3.19",
    "docker.io/bitnami/kafka:3.6",
    "docker.io/grafana/grafana:10.4.1",
    "quay.io/prometheus/node-exporter:v1.7.0",
    "quay.io/jetstack/cert-manager-controller:v1.14.4",
    "gcr.io/distroless/static:nonroot",
    "ghcr.io/example/api:2.3.1",
    "registry.example/payments/api:v4.1.0",
    "registry.example/app@" + _digest("registry.example/app"),
    "registry.example/worker@" + _digest("registry.example/worker"),
    "registry.example/frontend@" + _digest("registry.example/frontend"),
)
_SIDECARS = ("docker.io/envoyproxy/envoy:v1.29.1", "docker.io/fluent/fluent-bit:2.2")
_SYSTEM_IMAGES = (
    "registry.k8s.io/kube-proxy:v1.30.2",
    "registry.k8s.io/coredns/coredns:v1.11.1",
    "quay.io/prometheus/node-exporter:v1.7.0",
)
KUBELET_VERSIONS = (("v1.30.2", 60), ("v1.29.6", 25), ("v1.27.3", 10), ("v1.24.17", 5))
_TEAMS = ("payments", "checkout", "search", "identity", "billing", "catalog", "ml", "data")
_ENVS = ("prod", "staging", "dev", "qa")
_APPS = ("api", "web", "worker", "cache", "db", "gateway", "scheduler", "ingest", "auth", "ui")
_SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def _full_image(image: str) -> str:
    """Docker's normalization: `nginx` -> `docker.io/library/nginx`."""
    name = image.split("@", maxsplit=1)[0]
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name


def _image_id(image: str) -> str:
    """status.containerStatuses[].imageID: repository@digest (tags resolve to a fixed one)."""
    digest = image.split("@", 1)[1] if "@" in image else _digest(image)
    return f"{_full_image(image)}@{digest}"


def kind_counts(n_objects: int, *, namespaces: int = 50) -> dict[str, int]:
    """Objects per kind for a cluster of n_objects (largest-remainder rounding: sums to n)."""
    if n_objects <= 0:
        return {}
    n_ns = min(namespaces, max(1, n_objects // 25))
    rest = n_objects - n_ns
    total = sum(w for _, w in KIND_WEIGHTS)
    shares = [(kind, rest * w / total) for kind, w in KIND_WEIGHTS]
    counts = {kind: int(share) for kind, share in shares}
    left = rest - sum(counts.values())
    by_fraction = sorted(
        shares,
        key=lambda s: (
            -(s[1] - int(s[1])),
            KIND_WEIGHTS.index(next(kw for kw in KIND_WEIGHTS if kw[0] == s[0])),
        ),
    )
    for kind, _ in by_fraction[:left]:
        counts[kind] += 1
    return {"Namespace": n_ns, **counts}


class _Gen:
    """One generation run: the random source, counters and what was made so far."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rv = 10_000
        self.objects: list[dict[str, Any]] = []
        self.names: set[tuple[str, str, str]] = set()

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def timestamp(self, after: str | None = None) -> str:
        start = datetime.fromisoformat(after) if after else _BASE_TIME
        moment = start + timedelta(
            seconds=self.rng.randint(60, 200 * 86400 if not after else 86400)
        )
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def suffix(self, length: int = 5) -> str:
        return "".join(self.rng.choice(_HASH_CHARS) for _ in range(length))

    def unique(self, kind: str, namespace: str, name: str) -> str:
        """name, or name-2, name-3... when taken (names are unique per kind and namespace)."""
        candidate, i = name, 1
        while (kind, namespace, candidate) in self.names:
            i += 1
            candidate = f"{name}-{i}"
        self.names.add((kind, namespace, candidate))
        return candidate

    def make(
        self,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        owner: dict[str, Any] | None = None,
        created: str | None = None,
        **body: Any,
    ) -> dict[str, Any]:
        self.rv += 1
        meta: dict[str, Any] = {"name": self.unique(kind, namespace or "", name)}
        if namespace is not None:
            meta["namespace"] = namespace
        meta["uid"] = self.uid()
        meta["resourceVersion"] = str(self.rv)
        meta["generation"] = 1
        meta["creationTimestamp"] = created or self.timestamp()
        if labels:
            meta["labels"] = labels
        if annotations:
            meta["annotations"] = annotations
        if owner is not None:
            meta["ownerReferences"] = [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        if kind in ("Pod", "Namespace", "Node", "ServiceAccount", "ConfigMap", "Secret"):
            del meta["generation"]  # only objects with a spec the controllers act on have it
        obj = {"apiVersion": _API_VERSIONS[kind], "kind": kind, "metadata": meta, **body}
        self.objects.append(obj)
        return obj


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


_PROFILES = (
    ("restricted", 25),
    ("default", 33),
    ("privileged", 8),
    ("host-namespaces", 6),
    ("host-path", 6),
    ("capabilities", 8),
    ("run-as-root", 6),
    ("privilege-escalation", 8),
)


def _container(rng: random.Random, name: str, image: str, profile: str) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image}
    if rng.random() < 0.3:
        c["imagePullPolicy"] = "Always" if image.endswith(":latest") else "IfNotPresent"
    if rng.random() < 0.7:
        c["ports"] = [
            {"containerPort": rng.choice((80, 8080, 8443, 9090, 6379, 5432)), "protocol": "TCP"}
        ]
    roll = rng.random()
    if roll < 0.6:
        c["resources"] = {
            "requests": {"cpu": rng.choice(("50m", "100m", "250m")), "memory": "128Mi"},
            "limits": {"cpu": rng.choice(("500m", "1")), "memory": rng.choice(("256Mi", "1Gi"))},
        }
    elif roll < 0.75:
        c["resources"] = {"requests": {"cpu": "100m", "memory": "64Mi"}}
    if rng.random() < 0.5:
        c["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}
        c["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
    if rng.random() < 0.25:
        c["env"] = [{"name": "LOG_LEVEL", "value": rng.choice(("info", "debug"))}]
    sc: dict[str, Any] = {}
    if profile == "restricted":
        sc = {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": rng.random() < 0.7,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    elif profile == "privileged":
        sc = {"privileged": True}
    elif profile == "capabilities":
        sc = {"capabilities": {"add": [rng.choice(("NET_ADMIN", "SYS_ADMIN", "NET_RAW"))]}}
    elif profile == "run-as-root":
        sc = {"runAsUser": 0}
    elif profile == "privilege-escalation":
        sc = {"allowPrivilegeEscalation": True}
    if sc:
        c["securityContext"] = sc
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "File"
    return c


def _pod_spec(
    rng: random.Random, app: str, profile: str, service_accounts: list[str], *, system: bool
) -> dict[str, Any]:
    image = rng.choice(_SYSTEM_IMAGES if system else IMAGES)
    containers = [_container(rng, app, image, profile)]
    if not system and rng.random() < 0.3:
        containers.append(_container(rng, "sidecar", rng.choice(_SIDECARS), "default"))
    spec: dict[str, Any] = {"containers": containers}
    if not system and rng.random() < 0.15:
        spec["initContainers"] = [
            _container(rng, "init", "docker.io/library/busybox:1.36", profile)
        ]
    if profile == "restricted":
        spec["securityContext"] = {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    else:
        spec["securityContext"] = {}
    if profile == "host-namespaces":
        spec["hostNetwork"] = True
        if rng.random() < 0.5:
            spec["hostPID"] = True
        if rng.random() < 0.3:
            spec["hostIPC"] = True
    if profile == "host-path":
        path = rng.choice(("/var/run/docker.sock", "/", "/var/log", "/etc"))
        spec["volumes"] = [{"name": "host", "hostPath": {"path": path, "type": ""}}]
        containers[0]["volumeMounts"] = [{"name": "host", "mountPath": "/host"}]
    elif rng.random() < 0.4:
        spec["volumes"] = [{"name": "config", "configMap": {"name": f"{app}-config"}}]
        containers[0]["volumeMounts"] = [
            {"name": "config", "mountPath": "/etc/app", "readOnly": True}
        ]
    if service_accounts:
        spec["serviceAccountName"] = rng.choice(service_accounts)
    if rng.random() < 0.2:
        spec["automountServiceAccountToken"] = False
    spec["restartPolicy"] = "Always"
    spec["dnsPolicy"] = "ClusterFirst"
    spec["schedulerName"] = "default-scheduler"
    spec["terminationGracePeriodSeconds"] = 30
    return spec


def generate_cluster(
    n_objects: int, *, seed: int = 0, namespaces: int = 50
) -> list[dict[str, Any]]:
    """Exactly n_objects API objects; counts per kind are `kind_counts(n_objects)`."""
    counts = kind_counts(n_objects, namespaces=namespaces)
    if not counts:
        return []
    g = _Gen(seed)
    rng = g.rng

    # Namespaces: the system ones, then team-env ones (with varied Pod Security labels).
    ns_names = list(_SYSTEM_NAMESPACES[: counts["Namespace"]])
    pairs = [f"{t}-{e}" for e in _ENVS for t in _TEAMS]
    i = 0
    while len(ns_names) < counts["Namespace"]:
        base = pairs[i % len(pairs)]
        ns_names.append(base if i < len(pairs) else f"{base}-{i // len(pairs) + 1}")
        i += 1
    for ns in ns_names:
        labels = {"kubernetes.io/metadata.name": ns}
        if ns not in _SYSTEM_NAMESPACES:
            psa = _weighted(
                rng,
                (("", 40), ("restricted", 25), ("baseline", 20), ("privileged", 10), ("warn", 5)),
            )
            if psa == "warn":
                labels["pod-security.kubernetes.io/warn"] = "restricted"
                labels["pod-security.kubernetes.io/audit"] = "restricted"
            elif psa:
                labels["pod-security.kubernetes.io/enforce"] = psa
                if rng.random() < 0.5:
                    labels["pod-security.kubernetes.io/enforce-version"] = "latest"
        g.make(
            "Namespace",
            ns,
            labels=labels,
            spec={"finalizers": ["kubernetes"]},
            status={"phase": "Active"},
        )
    app_namespaces = [ns for ns in ns_names if ns not in ("kube-public", "kube-node-lease")]

    # Nodes: control plane first; the last one runs an old kubelet (a finding to expect).
    node_names: list[str] = []
    for idx in range(counts["Node"]):
        control = idx < min(3, max(1, counts["Node"] // 4))
        name = f"cp-{idx}" if control else f"worker-{idx:03d}"
        version = _weighted(rng, KUBELET_VERSIONS)
        if idx == counts["Node"] - 1 and counts["Node"] > 1:
            version = "v1.26.15"
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
        }
        spec: dict[str, Any] = {"podCIDR": f"10.244.{idx % 256}.0/24"}
        if control:
            labels["node-role.kubernetes.io/control-plane"] = ""
            spec["taints"] = [
                {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
            ]
        ip = f"10.0.{idx // 250}.{idx % 250 + 2}"
        g.make(
            "Node",
            name,
            labels=labels,
            spec=spec,
            status={
                "capacity": {"cpu": "8", "memory": "32863356Ki", "pods": "110"},
                "allocatable": {"cpu": "7800m", "memory": "31712380Ki", "pods": "110"},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": "2024-08-01T00:00:00Z",
                        "lastTransitionTime": "2024-07-01T00:00:00Z",
                    }
                ],
                "addresses": [
                    {"type": "InternalIP", "address": ip},
                    {"type": "Hostname", "address": name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": hashlib.md5(name.encode()).hexdigest(),
                    "systemUUID": g.uid(),
                    "bootID": g.uid(),
                    "kernelVersion": "6.1.0-18-amd64",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "containerRuntimeVersion": "containerd://1.7.13",
                    "kubeletVersion": version,
                    "kubeProxyVersion": version,
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        )
        node_names.append(name)

    # Cluster RBAC: the bootstrap roles first, then team roles (some risky).
    builtin_roles: list[tuple[str, list[dict[str, Any]]]] = [
        (
            "cluster-admin",
            [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        ),
        ("admin", [{"apiGroups": ["", "apps", "batch"], "resources": ["*"], "verbs": ["*"]}]),
        (
            "edit",
            [
                {
                    "apiGroups": ["", "apps"],
                    "resources": ["pods", "deployments", "services", "configmaps", "secrets"],
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
            ],
        ),
        (
            "view",
            [
                {
                    "apiGroups": ["", "apps"],
                    "resources": ["pods", "deployments", "services", "configmaps"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        ),
        (
            "system:public-info-viewer",
            [
                {
                    "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
                    "verbs": ["get"],
                }
            ],
        ),
        (
            "system:discovery",
            [
                {
                    "nonResourceURLs": [
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/openapi",
                        "/openapi/*",
                        "/version",
                        "/version/",
                    ],
                    "verbs": ["get"],
                }
            ],
        ),
        (
            "system:basic-user",
            [
                {
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    "verbs": ["create"],
                }
            ],
        ),
        (
            "anonymous-reader",
            [{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list"]}],
        ),
    ]
    risky_rules = (
        [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}],
        [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}],
        [
            {
                "apiGroups": [""],
                "resources": ["users", "groups", "serviceaccounts"],
                "verbs": ["impersonate"],
            }
        ],
        [
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["clusterroles"],
                "verbs": ["escalate", "bind"],
            }
        ],
    )
    cluster_roles: list[str] = []
    for idx in range(counts["ClusterRole"]):
        if idx < len(builtin_roles):
            name, rules = builtin_roles[idx]
        else:
            name = f"{rng.choice(_TEAMS)}-{rng.choice(_APPS)}-role"
            if rng.random() < 0.15:
                rules = _copy(rng.choice(risky_rules))
            else:
                rules = [
                    {
                        "apiGroups": ["", "apps"],
                        "resources": rng.sample(
                            ["pods", "services", "configmaps", "deployments", "endpoints"], 2
                        ),
                        "verbs": ["get", "list", "watch"],
                    }
                ]
        obj = g.make("ClusterRole", name, rules=_copy(rules))
        cluster_roles.append(obj["metadata"]["name"])
    builtin_bindings: list[tuple[str, list[dict[str, str]]]] = [
        ("cluster-admin", [_group("system:masters")]),
        (
            "system:public-info-viewer",
            [_group("system:authenticated"), _group("system:unauthenticated")],
        ),
        ("system:discovery", [_group("system:authenticated")]),
        ("system:basic-user", [_group("system:authenticated")]),
        (
            "anonymous-reader",
            [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}],
        ),
    ]
    role_pool = cluster_roles or ["view"]
    for idx in range(counts["ClusterRoleBinding"]):
        if idx < len(builtin_bindings) and builtin_bindings[idx][0] in cluster_roles:
            role, subjects = builtin_bindings[idx]
            name = role
        else:
            role = rng.choice(role_pool)
            name = f"{role}-binding"
            kind_roll = rng.random()
            if kind_roll < 0.03:
                subjects = [_group("system:unauthenticated")]
            elif kind_roll < 0.5:
                ns = rng.choice(app_namespaces)
                subjects = [
                    {"kind": "ServiceAccount", "name": f"{rng.choice(_APPS)}-sa", "namespace": ns}
                ]
            else:
                subjects = [
                    {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "User",
                        "name": f"{rng.choice(('alice', 'bob', 'carol', 'dan'))}@example.com",
                    }
                ]
        g.make(
            "ClusterRoleBinding",
            name,
            subjects=subjects,
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        )

    # Service accounts: `default` in each namespace, then one per app.
    sa_by_ns: dict[str, list[str]] = {ns: [] for ns in ns_names}
    for idx in range(counts["ServiceAccount"]):
        if idx < len(ns_names):
            ns, name = ns_names[idx], "default"
        else:
            ns, name = rng.choice(app_namespaces), f"{rng.choice(_APPS)}-sa"
        body: dict[str, Any] = {}
        if name != "default" and rng.random() < 0.3:
            body["automountServiceAccountToken"] = False
        obj = g.make("ServiceAccount", name, ns, **body)
        sa_by_ns[ns].append(obj["metadata"]["name"])

    # Config maps: `kube-root-ca.crt` in each namespace, then app configuration.
    for idx in range(counts["ConfigMap"]):
        if idx < len(ns_names):
            ns, name = ns_names[idx], "kube-root-ca.crt"
            data = {
                "ca.crt": "-----BEGIN CERTIFICATE-----\nMIIBfakeclusterCA\n"
                "-----END CERTIFICATE-----\n"
            }
        else:
            ns, app = rng.choice(app_namespaces), rng.choice(_APPS)
            name = f"{app}-config"
            data = {"LOG_LEVEL": "info", "PORT": str(rng.choice((80, 8080)))}
            if rng.random() < 0.05:
                data["DATABASE_PASSWORD"] = f"pw-{rng.getrandbits(32):08x}"
        g.make("ConfigMap", name, ns, data=data)

    # Secrets (values are fixed fake bytes, base64 as the API returns them).
    for _ in range(counts["Secret"]):
        ns = rng.choice(app_namespaces)
        stype = _weighted(
            rng,
            (
                ("Opaque", 50),
                ("kubernetes.io/tls", 25),
                ("kubernetes.io/dockerconfigjson", 15),
                ("kubernetes.io/service-account-token", 10),
            ),
        )
        annotations = None
        if stype == "Opaque":
            name, data = f"{rng.choice(_APPS)}-credentials", {"password": _b64("fake-password")}
        elif stype == "kubernetes.io/tls":
            name = f"{rng.choice(_APPS)}-tls"
            data = {"tls.crt": _b64("fake certificate"), "tls.key": _b64("fake key")}
        elif stype == "kubernetes.io/dockerconfigjson":
            name = "registry-pull"
            data = {".dockerconfigjson": _b64('{"auths":{"registry.example":{"auth":"ZmFrZQ=="}}}')}
        else:
            sa = rng.choice(sa_by_ns[ns] or ["default"])
            name = f"{sa}-token-{g.suffix()}"
            annotations = {"kubernetes.io/service-account.name": sa}
            data = {"token": _b64("fake.jwt.token"), "namespace": _b64(ns)}
        g.make("Secret", name, ns, annotations=annotations, type=stype, data=data)

    def workload_ns() -> str:
        ns = rng.choice(app_namespaces)
        return ns if ns != "kube-system" or rng.random() < 0.3 else rng.choice(app_namespaces)

    def template(app: str, ns: str, system: bool = False, profile: str = "") -> dict[str, Any]:
        profile = profile or _weighted(rng, _PROFILES)
        return {
            "metadata": {"labels": {"app": app}},
            "spec": _pod_spec(rng, app, profile, sa_by_ns.get(ns, []), system=system),
        }

    # Pod owners: (owner object, template, replicas wanted, pod name maker).
    slots: list[tuple[dict[str, Any], dict[str, Any], str]] = []

    deployments: list[dict[str, Any]] = []
    dep: dict[str, Any] | None
    for _ in range(counts["Deployment"]):
        ns = workload_ns()
        app = f"{rng.choice(_APPS)}"
        replicas = rng.choice((1, 2, 3, 3, 5))
        tpl = template(app, ns)
        dep = g.make(
            "Deployment",
            app,
            ns,
            labels={"app": app},
            spec={
                "replicas": replicas,
                "selector": {"matchLabels": {"app": app}},
                "strategy": {"type": "RollingUpdate"},
                "template": tpl,
            },
            status={
                "replicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "observedGeneration": 1,
            },
        )
        deployments.append(dep)
    # Replica sets: the current one of each deployment, then older (scaled to 0) revisions.
    for idx in range(counts["ReplicaSet"]):
        if deployments:
            dep = deployments[idx] if idx < len(deployments) else rng.choice(deployments)
            ns, app = dep["metadata"]["namespace"], dep["metadata"]["name"]
            current = idx < len(deployments)
            replicas = dep["spec"]["replicas"] if current else 0
            tpl = _copy(dep["spec"]["template"])
        else:
            dep, ns, app, current = None, workload_ns(), rng.choice(_APPS), True
            replicas, tpl = 2, template(app, workload_ns())
        pod_hash = g.suffix(10)
        tpl["metadata"]["labels"]["pod-template-hash"] = pod_hash
        labels = {"app": app, "pod-template-hash": pod_hash}
        rs = g.make(
            "ReplicaSet",
            f"{app}-{pod_hash}",
            ns,
            labels=labels,
            owner=dep,
            annotations={"deployment.kubernetes.io/revision": str(1 if current else 0)},
            spec={"replicas": replicas, "selector": {"matchLabels": labels}, "template": tpl},
            status={"replicas": replicas, "readyReplicas": replicas, "observedGeneration": 1},
        )
        slots += [(rs, tpl, f"{rs['metadata']['name']}-")] * replicas
    for _ in range(counts["StatefulSet"]):
        ns, app = workload_ns(), rng.choice(("db", "cache", "kafka", "zookeeper", "etcd"))
        replicas = rng.choice((1, 3))
        tpl = template(app, ns)
        sts = g.make(
            "StatefulSet",
            app,
            ns,
            labels={"app": app},
            spec={
                "replicas": replicas,
                "serviceName": app,
                "selector": {"matchLabels": {"app": app}},
                "template": tpl,
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Gi"}},
                        },
                    }
                ],
            },
            status={"replicas": replicas, "readyReplicas": replicas},
        )
        slots += [(sts, tpl, f"{sts['metadata']['name']}-{i}") for i in range(replicas)]
    ds_names = ("kube-proxy", "node-exporter", "fluent-bit", "calico-node", "csi-node")
    for idx in range(counts["DaemonSet"]):
        system = idx < 2 or rng.random() < 0.5
        ns = "kube-system" if system and "kube-system" in ns_names else workload_ns()
        app = ds_names[idx % len(ds_names)]
        profile = rng.choice(("privileged", "host-namespaces", "host-path", "default"))
        tpl = template(app, ns, system=system, profile=profile)
        n_nodes = max(1, len(node_names))
        ds = g.make(
            "DaemonSet",
            app,
            ns,
            labels={"k8s-app": app},
            spec={"selector": {"matchLabels": {"app": app}}, "template": tpl},
            status={
                "desiredNumberScheduled": n_nodes,
                "numberReady": n_nodes,
                "currentNumberScheduled": n_nodes,
                "numberMisscheduled": 0,  # required by the API (and the client's models)
            },
        )
        slots += [(ds, tpl, f"{ds['metadata']['name']}-")] * n_nodes
    cronjobs: list[dict[str, Any]] = []
    for _ in range(counts["CronJob"]):
        ns, app = workload_ns(), rng.choice(("backup", "report", "cleanup", "sync"))
        tpl = template(app, ns)
        tpl["spec"]["restartPolicy"] = "OnFailure"
        cj = g.make(
            "CronJob",
            app,
            ns,
            spec={
                "schedule": rng.choice(("0 * * * *", "*/15 * * * *", "0 3 * * *")),
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {"spec": {"backoffLimit": 3, "template": tpl}},
            },
            status={"lastScheduleTime": "2024-08-01T03:00:00Z"},
        )
        cronjobs.append(cj)
    for idx in range(counts["Job"]):
        parent = cronjobs[idx % len(cronjobs)] if cronjobs and idx % 3 != 2 else None
        if parent is not None:
            ns = parent["metadata"]["namespace"]
            name = f"{parent['metadata']['name']}-{28_700_000 + rng.randint(0, 99_999)}"
            tpl = _copy(parent["spec"]["jobTemplate"]["spec"]["template"])
        else:
            ns, name = workload_ns(), f"migrate-{rng.choice(_APPS)}"
            tpl = template(name, ns)
            tpl["spec"]["restartPolicy"] = "Never"
        job = g.make(
            "Job",
            name,
            ns,
            owner=parent,
            spec={"backoffLimit": 3, "completions": 1, "parallelism": 1, "template": tpl},
            status={
                "succeeded": 1,
                "startTime": "2024-08-01T03:00:00Z",
                "completionTime": "2024-08-01T03:01:00Z",
            },
        )
        slots.append((job, tpl, f"{job['metadata']['name']}-"))

    # Pods: most from their controllers' templates, the rest bare.
    rng.shuffle(slots)
    n_owned = min(len(slots), counts["Pod"] * 9 // 10)
    for idx in range(counts["Pod"]):
        if idx < n_owned:
            owner, tpl, name = slots[idx]
            ns = owner["metadata"]["namespace"]
            if name.endswith("-"):
                name += g.suffix()
            spec = _copy(tpl["spec"])
            labels = dict(tpl["metadata"]["labels"])
        else:
            owner, ns, app = None, workload_ns(), rng.choice(_APPS)
            name, labels = f"{app}-debug", {"app": app, "run": app}
            spec = template(app, ns)["spec"]
        if node_names:
            spec["nodeName"] = rng.choice(node_names)
        spec.setdefault("serviceAccountName", "default")
        job_pod = owner is not None and owner["kind"] == "Job"
        phase = (
            "Succeeded"
            if job_pod
            else _weighted(rng, (("Running", 92), ("Pending", 5), ("Failed", 3)))
        )
        created = g.timestamp(owner["metadata"]["creationTimestamp"] if owner else None)
        statuses = [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": _image_id(c["image"]),
                "ready": phase == "Running",
                "restartCount": rng.choice((0, 0, 0, 1, 4)),
                "started": phase == "Running",
                "containerID": f"containerd://{hashlib.sha256(name.encode()).hexdigest()}",
                "state": {"running": {"startedAt": created}}
                if phase == "Running"
                else {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }
            for c in spec["containers"]
        ]
        g.make(
            "Pod",
            name,
            ns,
            labels=labels,
            owner=owner,
            created=created,
            spec=spec,
            status={
                "phase": phase,
                "qosClass": "Burstable",
                "startTime": created,
                "hostIP": "10.0.0.2",
                "podIP": f"10.244.{idx // 250 % 256}.{idx % 250 + 2}",
                "conditions": [{"type": "Ready", "status": str(phase == "Running")}],
                "containerStatuses": statuses,
            },
        )

    # Services (the API server's own `kubernetes` service first).
    apps_by_ns: dict[str, list[str]] = {}
    for dep in deployments:
        apps_by_ns.setdefault(dep["metadata"]["namespace"], []).append(dep["metadata"]["name"])
    services: list[tuple[str, str]] = []
    for idx in range(counts["Service"]):
        if idx == 0 and "default" in ns_names:
            ns, app, stype = "default", "kubernetes", "ClusterIP"
        else:
            ns = rng.choice(list(apps_by_ns) or app_namespaces)
            app = rng.choice(apps_by_ns.get(ns) or list(_APPS))
            stype = _weighted(rng, (("ClusterIP", 75), ("NodePort", 15), ("LoadBalancer", 10)))
        port: dict[str, Any] = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}
        if app == "kubernetes":
            port = {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}
        if stype != "ClusterIP":
            port["nodePort"] = 30000 + idx % 2768
        spec = {
            "type": stype,
            "ports": [port],
            "clusterIP": f"10.96.{idx // 250}.{idx % 250 + 1}",
            "sessionAffinity": "None",
        }
        spec["clusterIPs"] = [spec["clusterIP"]]
        if app != "kubernetes":
            spec["selector"] = {"app": app}
        status: dict[str, Any] = {"loadBalancer": {}}
        if stype == "LoadBalancer":
            status["loadBalancer"] = {"ingress": [{"ip": f"203.0.113.{idx % 250 + 1}"}]}
        svc = g.make(
            "Service",
            app,
            ns,
            labels={"app": app}
            if app != "kubernetes"
            else {"component": "apiserver", "provider": "kubernetes"},
            spec=spec,
            status=status,
        )
        services.append((ns, svc["metadata"]["name"]))
    for _ in range(counts["Ingress"]):
        ns, svc_name = rng.choice(services) if services else (workload_ns(), "web")
        host = f"{svc_name}.{ns}.example.com"
        spec = {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": svc_name, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        }
        if rng.random() < 0.6:
            spec["tls"] = [{"hosts": [host], "secretName": f"{svc_name}-tls"}]
        g.make(
            "Ingress",
            svc_name,
            ns,
            spec=spec,
            status={"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}},
        )

    # NetworkPolicies only in about half of the namespaces.
    policy_ns = [ns for ns in app_namespaces if rng.random() < 0.5] or app_namespaces[:1]
    policies = (
        ("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        (
            "allow-same-namespace",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
            },
        ),
        (
            "allow-from-ingress",
            {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                                }
                            }
                        ]
                    }
                ],
            },
        ),
    )
    for idx in range(counts["NetworkPolicy"]):
        ns = policy_ns[idx % len(policy_ns)]
        name, spec = policies[(idx // len(policy_ns)) % len(policies)]
        g.make("NetworkPolicy", name, ns, spec=_copy(spec))

    # Namespaced RBAC.
    roles_by_ns: dict[str, list[str]] = {}
    for _ in range(counts["Role"]):
        ns = rng.choice(app_namespaces)
        if rng.random() < 0.1:
            name, rules = (
                "namespace-owner",
                [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
            )
        else:
            name = f"{rng.choice(_APPS)}-{rng.choice(('reader', 'config', 'leader-election'))}"
            rules = [
                {
                    "apiGroups": [""],
                    "resources": [rng.choice(("configmaps", "pods", "endpoints", "secrets"))],
                    "verbs": ["get", "list", "watch"],
                }
            ]
        obj = g.make("Role", name, ns, rules=rules)
        roles_by_ns.setdefault(ns, []).append(obj["metadata"]["name"])
    for _ in range(counts["RoleBinding"]):
        ns = rng.choice(list(roles_by_ns) or app_namespaces)
        if roles_by_ns.get(ns) and rng.random() < 0.7:
            ref = {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": rng.choice(roles_by_ns[ns]),
            }
        else:
            ref = {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": rng.choice(("view", "edit", "admin")),
            }
        roll = rng.random()
        if roll < 0.02:
            subjects = [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": "system:anonymous",
                }
            ]
        elif roll < 0.04:
            subjects = [_group("system:unauthenticated")]
        else:
            subjects = [
                {
                    "kind": "ServiceAccount",
                    "namespace": ns,
                    "name": rng.choice(sa_by_ns.get(ns) or ["default"]),
                }
            ]
        g.make("RoleBinding", f"{ref['name']}-binding", ns, subjects=subjects, roleRef=ref)

    assert len(g.objects) == n_objects, (len(g.objects), n_objects)
    assert Counter(o["kind"] for o in g.objects) == Counter(counts)
    return g.objects


def _group(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
