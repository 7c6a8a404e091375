"""Kubernetes best-practice checks (KW-K8S-060..078): resources, images, probes, service
accounts, namespaces, secrets, exposure and sensitive host paths.

Each check is a function over one object; rationale and mappings are in
`kubeward/data/checks/kubernetes_practice.yaml`. A check only looks at fields the API lets
that container kind have: ephemeral containers may not set resources, ports or probes, so
those checks skip them; init containers run to completion, so probe checks skip them too.
Messages name the container and the field, never a secret value.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from kubeward.misconfig.engine import FieldFix, Violation, check
from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.misconfig.kubernetes.workload import ContainerView, PodView, pod_view

# The lists that may carry resources and ports (the API forbids both on ephemeral ones).
RESOURCE_LISTS = ("initContainers", "containers")
_LIST_WORD = {"initContainers": "init container ", "ephemeralContainers": "ephemeral container "}
_MAX_SHOWN = 5  # names listed in a message before "+N more"
_MAX_TEXT = 120  # characters of a written value (image, key name) quoted in a message


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _quote(text: str) -> str:
    """A written value as messages show it (double quotes, control characters escaped),
    the way the other Kubernetes checks show them."""
    return json.dumps(_short(text), ensure_ascii=False)


def _who(container: ContainerView) -> str:
    return f"{_LIST_WORD.get(container.list_name, 'container ')}{_quote(container.name)}"


def _listed(names: list[str]) -> str:
    shown = ", ".join(_short(n) for n in names[:_MAX_SHOWN])
    more = len(names) - _MAX_SHOWN
    return f"{shown} +{more} more" if more > 0 else shown


def _object_name(obj: K8sObject) -> str:
    return f"{obj.kind} {_quote(obj.name or '?')}"


def _is_windows(view: PodView) -> bool:
    os_spec = view.spec.get("os")
    return isinstance(os_spec, dict) and os_spec.get("name") == "windows"


# ---------------------------------------------------------------- resources (060-063)


def _resource(container: ContainerView, section: str, name: str) -> Any:
    value = container.get("resources", section, name)
    return None if value == "" else value


def _missing_resource(
    obj: K8sObject, section: str, name: str, what: str, limit_counts: bool
) -> Iterator[Violation]:
    """One violation per container without `resources.<section>.<name>`. A request is
    defaulted from the limit by the API server, so with `limit_counts` a limit satisfies it."""
    view = pod_view(obj)
    if view is None:
        return
    for container in view.containers(*RESOURCE_LISTS):
        if _resource(container, section, name) is not None:
            continue
        if limit_counts and _resource(container, "limits", name) is not None:
            continue
        yield Violation(
            f"{_who(container)} has no {what} (resources.{section}.{name})",
            line=container.line_of("resources", section, name),
        )


@check("KW-K8S-060", "kubernetes")
def no_memory_limit(obj: K8sObject) -> Iterator[Violation]:
    """Without a memory limit one leaking container can push its node into OOM kills of
    its neighbours."""
    yield from _missing_resource(obj, "limits", "memory", "memory limit", limit_counts=False)


@check("KW-K8S-061", "kubernetes")
def no_cpu_limit(obj: K8sObject) -> Iterator[Violation]:
    """Without a CPU limit a busy container starves the others on its node."""
    yield from _missing_resource(obj, "limits", "cpu", "CPU limit", limit_counts=False)


@check("KW-K8S-062", "kubernetes")
def no_memory_request(obj: K8sObject) -> Iterator[Violation]:
    """The scheduler places pods by their requests; none means overcommitted nodes."""
    yield from _missing_resource(obj, "requests", "memory", "memory request", limit_counts=True)


@check("KW-K8S-063", "kubernetes")
def no_cpu_request(obj: K8sObject) -> Iterator[Violation]:
    """The scheduler places pods by their requests; none means no guaranteed CPU share."""
    yield from _missing_resource(obj, "requests", "cpu", "CPU request", limit_counts=True)


# ---------------------------------------------------------------- read-only root (064)


@check("KW-K8S-064", "kubernetes")
def writable_root_filesystem(obj: K8sObject) -> Iterator[Violation]:
    """A writable root filesystem lets an intruder drop tools and alter the application.
    Windows pods are skipped: the field is not supported there."""
    view = pod_view(obj)
    if view is None or _is_windows(view):
        return
    for container in view.containers():
        value = container.security_context.get("readOnlyRootFilesystem")
        if value is True:
            continue
        field = ("securityContext", "readOnlyRootFilesystem")
        said = "sets" if value is False else "does not set"
        wanted = "false" if value is False else "true"
        yield Violation(
            f"{_who(container)} {said} readOnlyRootFilesystem: {wanted} (root filesystem writable)",
            line=container.line_of(*field),
            fixes=(FieldFix((*container.path, *field), True),),
        )


# ---------------------------------------------------------------- images (065, 066)

_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image reference split as the container runtime reads it: `name` is registry and
    repository, `tag` what follows the last `:` after the last `/` (so the port of
    `localhost:5000/app` is not a tag), `digest` what follows `@`."""

    name: str
    tag: str | None
    digest: str | None

    @property
    def digest_valid(self) -> bool:
        """True for a digest of the OCI grammar (a known algorithm with its hex length)."""
        digest = self.digest
        if digest is None or not _DIGEST.fullmatch(digest):
            return False
        algorithm, _, encoded = digest.partition(":")
        length = _HEX_LENGTH.get(algorithm)
        return length is None or (len(encoded) == length and bool(_HEX.fullmatch(encoded)))


def parse_image(reference: str) -> ImageRef:
    """Split `registry/repository[:tag][@digest]`; never raises."""
    name, at, digest = reference.strip().partition("@")
    tag: str | None = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
    return ImageRef(name, tag or None, digest if at else None)


def _is_placeholder(image: str) -> bool:
    """An image still holding a template or variable (`$(IMAGE)`, `{{ .Values.x }}`) is
    filled in later: nothing can be said about its tag yet."""
    return not image.strip() or "$" in image or "{{" in image


def _images(obj: K8sObject) -> Iterator[tuple[ContainerView, str, ImageRef]]:
    view = pod_view(obj)
    if view is None:
        return
    for container in view.containers():
        image = container.image
        if not _is_placeholder(image):
            yield container, image, parse_image(image)


@check("KW-K8S-065", "kubernetes")
def image_latest_tag(obj: K8sObject) -> Iterator[Violation]:
    """`latest` (which no tag means) moves with every push: what runs depends on when the
    node pulled. A digest pins the image whatever the tag says."""
    for container, image, ref in _images(obj):
        if ref.digest is not None:
            continue
        if ref.tag is None:
            problem = "has no tag (means latest)"
        elif ref.tag == "latest":
            problem = "uses the latest tag"
        else:
            continue
        yield Violation(
            f"{_who(container)} image {_quote(image)} {problem}", line=container.line_of("image")
        )


@check("KW-K8S-066", "kubernetes")
def image_not_pinned(obj: K8sObject) -> Iterator[Violation]:
    """Only a digest names one immutable image; a tag can be moved to another one."""
    for container, image, ref in _images(obj):
        if ref.digest_valid:
            continue
        problem = "has a malformed digest" if ref.digest is not None else "is not pinned by digest"
        yield Violation(
            f"{_who(container)} image {_quote(image)} {problem}", line=container.line_of("image")
        )


# ---------------------------------------------------------------- probes (067, 068)


def _runs_to_completion(view: PodView) -> bool:
    """Jobs, CronJobs and pods with restartPolicy Never/OnFailure (which every pod of a Job
    has) finish on their own: a probe has nothing to keep alive or to route to."""
    if view.obj.kind in ("Job", "CronJob"):
        return True
    return view.spec.get("restartPolicy") in ("Never", "OnFailure")


def _missing_probe(obj: K8sObject, probe: str) -> Iterator[Violation]:
    view = pod_view(obj)
    if view is None or _runs_to_completion(view):
        return
    for container in view.containers("containers"):
        value = container.data.get(probe)
        if isinstance(value, dict) and value:
            continue
        yield Violation(f"{_who(container)} has no {probe}", line=container.line_of(probe))


@check("KW-K8S-067", "kubernetes")
def no_liveness_probe(obj: K8sObject) -> Iterator[Violation]:
    """Without a liveness probe a hung process keeps its pod forever."""
    yield from _missing_probe(obj, "livenessProbe")


@check("KW-K8S-068", "kubernetes")
def no_readiness_probe(obj: K8sObject) -> Iterator[Violation]:
    """Without a readiness probe traffic reaches a pod before it can answer."""
    yield from _missing_probe(obj, "readinessProbe")


# ---------------------------------------------------------------- service accounts (069, 070)


def _service_account(view: PodView) -> tuple[str | None, tuple[str, ...]]:
    """The service account name the pod sets and its field (`serviceAccount` is the
    deprecated alias the API still honours when `serviceAccountName` is empty)."""
    for field in ("serviceAccountName", "serviceAccount"):
        value = view.spec.get(field)
        if isinstance(value, str) and value:
            return value, (field,)
    return None, ()


def _automount_said(value: object) -> str:
    if value is True:
        return "sets automountServiceAccountToken: true"
    return "does not set automountServiceAccountToken: false"


@check("KW-K8S-069", "kubernetes")
def token_automounted(obj: K8sObject) -> Iterator[Violation]:
    """A mounted token lets anyone who runs code in the pod call the API as its service
    account. A check sees one object at a time, so a workload passes only when its own pod
    spec says `automountServiceAccountToken: false`; a ServiceAccount object is flagged when
    it does not say false, because that is the default of every pod that uses it."""
    if obj.kind == "ServiceAccount":
        value = obj.data.get("automountServiceAccountToken")
        if value is False:
            return
        yield Violation(
            f"{_object_name(obj)} {_automount_said(value)} (pods using it get its token "
            "unless they opt out)",
            line=obj.line_of("automountServiceAccountToken"),
            fixes=(FieldFix(("automountServiceAccountToken",), False),),
        )
        return
    view = pod_view(obj)
    if view is None:
        return
    value = view.spec.get("automountServiceAccountToken")
    if value is False:
        return
    account = _service_account(view)[0] or "default"
    yield Violation(
        f"pod spec {_automount_said(value)} (token of service account {_quote(account)} mounted)",
        line=view.line_of("automountServiceAccountToken"),
        fixes=(FieldFix((*view.spec_path, "automountServiceAccountToken"), False),),
    )


@check("KW-K8S-070", "kubernetes")
def default_service_account(obj: K8sObject) -> Iterator[Violation]:
    """The default service account is shared by every pod of the namespace that names none:
    whatever it is granted, all of them get."""
    view = pod_view(obj)
    if view is None:
        return
    account, field = _service_account(view)
    if account is None:
        yield Violation(
            "pod runs as the default service account (serviceAccountName not set)",
            line=view.line_of("serviceAccountName"),
        )
    elif account == "default":
        yield Violation(
            f"pod runs as the default service account ({field[0]}: default)",
            line=view.line_of(*field),
        )


# ---------------------------------------------------------------- default namespace (071)

# Objects of the kinds we check that live outside namespaces.
_CLUSTER_SCOPED = frozenset({"ClusterRole", "ClusterRoleBinding", "Namespace"})
# Objects Kubernetes itself keeps in the default namespace.
_BUILT_IN_DEFAULT = frozenset(
    {("Service", "kubernetes"), ("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}
)


@check("KW-K8S-071", "kubernetes")
def default_namespace(obj: K8sObject) -> Iterator[Violation]:
    """Only an explicit `namespace: default` is flagged: a manifest without a namespace is
    placed by whoever applies it (`kubectl -n`, kustomize, Helm, Argo CD), and flagging
    every such base would bury the real choices."""
    if obj.kind in _CLUSTER_SCOPED or (obj.kind, obj.name) in _BUILT_IN_DEFAULT:
        return
    if obj.namespace == "default":
        yield Violation(
            f"{_object_name(obj)} is placed in the default namespace (namespace: default)",
            line=obj.line_of("metadata", "namespace"),
        )


# ---------------------------------------------------------------- literal secrets (072, 073)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SPLIT = re.compile(r"[^A-Z0-9]+")
_SECRET_WORDS = frozenset(
    {"PASSWORD", "PASSWORDS", "PASSWD", "PASS", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN",
     "TOKENS", "APIKEY", "PRIVATEKEY", "ACCESSKEY", "SECRETKEY", "CREDENTIAL", "CREDENTIALS"}
)  # fmt: skip
_SECRET_PAIRS = frozenset(
    {("API", "KEY"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"), ("AUTH", "KEY"),
     ("SIGNING", "KEY"), ("ENCRYPTION", "KEY"), ("MASTER", "KEY"), ("CLIENT", "KEY")}
)  # fmt: skip
# A last word that makes the variable about a secret rather than the secret itself.
_NOT_SECRET_LAST = frozenset(
    {"FILE", "PATH", "DIR", "NAME", "URL", "URI", "ENDPOINT", "HOST", "PORT", "ENV", "VAR",
     "LENGTH", "LEN", "TTL", "EXPIRY", "TIMEOUT", "TYPE", "ENABLED", "REF", "MOUNT",
     "LOCATION", "POLICY", "AUDIENCE", "ISSUER", "HEADER", "KEYREF"}
)  # fmt: skip
# Values that are switches, not secrets (MYSQL_ALLOW_EMPTY_PASSWORD: "yes").
_NOT_SECRET_VALUES = frozenset(
    {"", "yes", "no", "true", "false", "on", "off", "0", "1", "none", "null", "~"}
)
_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_.-]*\)|\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def secret_like_name(name: str) -> bool:
    """True when an environment variable name says it holds a secret (DB_PASSWORD,
    githubToken, AWS_SECRET_ACCESS_KEY), not when it names where one is (PASSWORD_FILE)."""
    words = [w for w in _WORD_SPLIT.split(_CAMEL.sub("_", name).upper()) if w]
    if not words or words[-1] in _NOT_SECRET_LAST:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in pairwise(words))


def literal_secret_value(value: object) -> bool:
    """True for a value that holds text of its own: not empty, not a yes/no switch, not only
    `$(VAR)` / `${VAR}` references to other variables."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    text = str(value).strip()
    if text.lower() in _NOT_SECRET_VALUES:
        return False
    return bool(_REFERENCE.sub("", text).strip(" :/@,;"))


@check("KW-K8S-072", "kubernetes")
def literal_secret_env(obj: K8sObject) -> Iterator[Violation]:
    """A secret written in `env[].value` is readable by anyone who can read the manifest,
    the repository or the object. Only the variable's name is ever reported."""
    view = pod_view(obj)
    if view is None:
        return
    for container in view.containers():
        env = container.data.get("env")
        if not isinstance(env, list):
            continue
        for index, item in enumerate(env):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            name = item["name"]
            if "value" not in item or not secret_like_name(name):
                continue
            if not literal_secret_value(item["value"]):
                continue
            yield Violation(
                f"{_who(container)} sets env {_short(name)} to a literal value "
                "(the name says it is a secret; value not shown)",
                line=container.line_of("env", index, "value"),
            )


@check("KW-K8S-073", "kubernetes")
def secret_with_data(obj: K8sObject) -> Iterator[Violation]:
    """A Secret manifest with data puts the secret (base64 is not encryption) wherever the
    manifest goes. Objects read from a cluster are where Secrets belong and are skipped."""
    if obj.kind != "Secret" or obj.origin == "cluster":
        return
    for field in ("data", "stringData"):
        values = obj.data.get(field)
        if not isinstance(values, dict):
            continue
        keys = [str(k) for k, v in values.items() if v not in (None, "")]
        if not keys:
            continue
        count = f"{len(keys)} value{'s' if len(keys) != 1 else ''}"
        yield Violation(
            f"{_object_name(obj)} carries {count} in {field} ({_listed(keys)}) in the manifest",
            line=obj.line_of(field),
        )


# ---------------------------------------------------------------- port 22 (074)


def _port_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


@check("KW-K8S-074", "kubernetes")
def ssh_port(obj: K8sObject) -> Iterator[Violation]:
    """An SSH server in a container is a second way in that bypasses `kubectl exec` audit."""
    view = pod_view(obj)
    if view is None:
        return
    for container in view.containers(*RESOURCE_LISTS):
        ports = container.data.get("ports")
        if not isinstance(ports, list):
            continue
        for index, port in enumerate(ports):
            if not isinstance(port, dict) or _port_number(port.get("containerPort")) != 22:
                continue
            if str(port.get("protocol") or "TCP").upper() != "TCP":
                continue
            yield Violation(
                f"{_who(container)} exposes containerPort 22 (SSH)",
                line=container.line_of("ports", index, "containerPort"),
            )


# ---------------------------------------------------------------- services (075, 076)


def _service_ports(obj: K8sObject, with_node_port: bool) -> str:
    ports = obj.get("spec", "ports")
    shown: list[str] = []
    for port in ports if isinstance(ports, list) else ():
        if not isinstance(port, dict):
            continue
        text = f"{port.get('port', '?')}/{port.get('protocol') or 'TCP'}"
        node_port = port.get("nodePort")
        if with_node_port and node_port is not None:
            text += f" (nodePort {node_port})"
        shown.append(text)
    return f" (ports {_listed(shown)})" if shown else ""


_INTERNAL_LB = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": None,
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "networking.gke.io/load-balancer-type": "Internal",
    "cloud.google.com/load-balancer-type": "Internal",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
    "service.beta.kubernetes.io/oci-load-balancer-internal": "true",
}
_ANY_ADDRESS = frozenset({"0.0.0.0/0", "::/0"})


def _internal_annotation(obj: K8sObject) -> str | None:
    """The annotation that makes the cloud provision an internal load balancer, if any."""
    annotations = obj.metadata.get("annotations")
    if not isinstance(annotations, dict):
        return None
    for key, wanted in _INTERNAL_LB.items():
        value = annotations.get(key)
        if value is None or value is False:
            continue
        text = str(value).strip()
        if wanted is None:
            if text.lower() not in ("false", "0", ""):
                return key
        elif text.lower() == wanted.lower():
            return key
    return None


@check("KW-K8S-075", "kubernetes")
def node_port_service(obj: K8sObject) -> Iterator[Violation]:
    """A NodePort opens the service on every node's address, past most firewalls' view."""
    if obj.kind != "Service" or obj.get("spec", "type") != "NodePort":
        return
    yield Violation(
        f"{_object_name(obj)} is type NodePort{_service_ports(obj, True)}: open on every "
        "node's address",
        line=obj.line_of("spec", "type"),
    )


@check("KW-K8S-076", "kubernetes")
def load_balancer_service(obj: K8sObject) -> Iterator[Violation]:
    """A LoadBalancer gets a public address by default. An internal load balancer (by the
    cloud's annotation) or `loadBalancerSourceRanges` without 0.0.0.0/0 is not flagged."""
    if obj.kind != "Service" or obj.get("spec", "type") != "LoadBalancer":
        return
    if _internal_annotation(obj) is not None:
        return
    ranges = obj.get("spec", "loadBalancerSourceRanges")
    if isinstance(ranges, list) and ranges:
        written = {str(r).strip() for r in ranges}
        if not written & _ANY_ADDRESS:
            return
        reach = "loadBalancerSourceRanges allow any address"
    else:
        reach = "no loadBalancerSourceRanges"
    yield Violation(
        f"{_object_name(obj)} is type LoadBalancer{_service_ports(obj, False)}: {reach}",
        line=obj.line_of("spec", "type"),
    )


# ---------------------------------------------------------------- ingress TLS (077)


def _covers(pattern: str, host: str) -> bool:
    """Ingress host matching: `*.example.com` covers exactly one more label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


@check("KW-K8S-077", "kubernetes")
def ingress_without_tls(obj: K8sObject) -> Iterator[Violation]:
    """Without TLS, credentials and cookies cross the network in clear text. With `spec.tls`,
    each rule host must be covered by a TLS entry (an entry without hosts covers all)."""
    if obj.kind != "Ingress":
        return
    spec = obj.data.get("spec")
    if not isinstance(spec, dict):
        return
    rules = spec.get("rules")
    rules = rules if isinstance(rules, list) else []
    hosts = [(i, r["host"]) for i, r in enumerate(rules) if isinstance(r, dict) and r.get("host")]
    tls = spec.get("tls")
    entries = [t for t in tls if isinstance(t, dict)] if isinstance(tls, list) else []
    if not entries:
        served = _listed([str(h) for _, h in hosts]) if hosts else "every host"
        yield Violation(
            f"{_object_name(obj)} has no spec.tls: {served} served over plain HTTP",
            line=obj.line_of("spec", "tls"),
        )
        return
    patterns: list[str] = []
    for entry in entries:
        entry_hosts = entry.get("hosts")
        if not isinstance(entry_hosts, list) or not entry_hosts:
            return  # an entry without hosts takes the controller's wildcard certificate
        patterns.extend(str(h) for h in entry_hosts if h)
    for index, host in hosts:
        if not any(_covers(p, str(host)) for p in patterns):
            yield Violation(
                f"{_object_name(obj)} host {_quote(str(host))} is not covered by any "
                "spec.tls hosts: served over plain HTTP",
                line=obj.line_of("spec", "rules", index, "host"),
            )


# ---------------------------------------------------------------- sensitive host paths (078)

_RUNTIME_SOCKETS = frozenset(
    {"/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd/containerd.sock",
     "/run/containerd/containerd.sock", "/var/run/crio/crio.sock", "/run/crio/crio.sock",
     "/var/run/cri-dockerd.sock", "/run/cri-dockerd.sock"}
)  # fmt: skip
_WINDOWS_PIPES = frozenset({r"\\.\pipe\docker_engine", r"\\.\pipe\containerd-containerd"})
# Files under sensitive folders that carry nothing an attacker can use (time zone, the
# iptables lock kube-proxy and CNI agents share, the syslog socket).
_HARMLESS_FILES = frozenset(
    {"/etc/localtime", "/etc/timezone", "/run/xtables.lock", "/var/run/xtables.lock",
     "/dev/log"}
)  # fmt: skip
# Public CA bundles: reading them is harmless, writing them plants a trusted CA on the node.
_PUBLIC_WHEN_READ_ONLY = (
    "/etc/ssl/certs", "/etc/pki/tls/certs", "/etc/pki/ca-trust/extracted",
    "/etc/ca-certificates",
)  # fmt: skip
_SENSITIVE_DIRS = (
    "/etc", "/proc", "/sys", "/root", "/var/run", "/run", "/var/lib/kubelet",
    "/var/lib/docker", "/var/lib/containerd", "/var/lib/etcd", "/boot", "/dev",
)  # fmt: skip


def normalise_host_path(path: str) -> str:
    """`path` with duplicate and trailing slashes, `.` and `..` resolved (`//etc/` -> /etc)."""
    return posixpath.normpath("/" + path.strip().lstrip("/"))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def sensitive_host_path(path: str, read_only: bool = False) -> str | None:
    """Why mounting host `path` is dangerous, or None. A path inside a sensitive folder is
    its content; a parent of one (`/var` holds /var/run) exposes it too. `read_only`: every
    container mounts it read-only (which makes public CA bundles harmless)."""
    raw = path.strip()
    if raw.lower() in _WINDOWS_PIPES:
        return "container runtime named pipe"
    if not raw.startswith("/"):
        return None
    normal = normalise_host_path(raw)
    if normal in _HARMLESS_FILES:
        return None
    if read_only and any(_within(normal, f) for f in _PUBLIC_WHEN_READ_ONLY):
        return None
    if normal == "/":
        return "the host's root filesystem"
    if normal in _RUNTIME_SOCKETS:
        return "container runtime socket"
    if any(s.startswith(normal + "/") for s in _RUNTIME_SOCKETS):
        return "contains the container runtime socket"
    for folder in _SENSITIVE_DIRS:
        if _within(normal, folder):
            return f"host {folder}"
        if folder.startswith(normal + "/"):
            return f"contains host {folder}"
    return None


def _mounted_by(view: PodView, volume: str) -> tuple[list[str], bool]:
    """The containers that mount `volume`, and whether every one of their mounts of it is
    read-only."""
    names: list[str] = []
    read_only = True
    for container in view.containers():
        mounts = container.data.get("volumeMounts")
        uses = [
            m for m in mounts if isinstance(m, dict) and m.get("name") == volume
        ] if isinstance(mounts, list) else []  # fmt: skip
        if uses:
            names.append(_who(container))
            read_only = read_only and all(m.get("readOnly") is True for m in uses)
    return names, read_only


@check("KW-K8S-078", "kubernetes")
def sensitive_host_path_mount(obj: K8sObject) -> Iterator[Violation]:
    """A runtime socket is root on the node; /etc, /proc, /var/lib/kubelet ... hold its
    credentials and kernel controls."""
    view = pod_view(obj)
    if view is None:
        return
    for index, volume in view.volumes():
        host_path = volume.get("hostPath")
        path = host_path.get("path") if isinstance(host_path, dict) else None
        if not isinstance(path, str):
            continue
        name = str(volume.get("name") or f"volumes[{index}]")
        users, read_only = _mounted_by(view, name)
        why = sensitive_host_path(path, read_only)
        if why is None:
            continue
        into = f"mounted by {_listed(users)}" if users else "not mounted by any container"
        yield Violation(
            f"volume {_quote(name)} is hostPath {_quote(path)} ({why}), {into}",
            line=view.line_of("volumes", index, "hostPath", "path"),
        )
