"""An in-process fake Kubernetes API server for tests and benchmarks of `kubeward k8s`.

There is no API server on the build machines, so the live-cluster audit is exercised against
this one: a ThreadingHTTPServer on 127.0.0.1 that answers the official Python client and
kubectl the way kube-apiserver does (discovery, typed lists with `limit`/`continue` paging,
label and field selectors, single GETs, 401/403/404/410 Status bodies, bearer-token and
anonymous authentication, RBAC for anonymous users evaluated from the served objects, and
(Self)SubjectAccessReview / SelfSubjectRulesReview).

Speed matters (benchmarks list 5,000+ objects): every item is serialized with orjson once at
start-up, a list page is a join of pre-serialized bytes.

Deliberate differences from the real server, all documented where they occur: read-only
(writes get 405), no watch (405), no protobuf (JSON is always answered, which clients accept),
no OpenAPI (404, as a server with it disabled; kubectl's get does not need it), no gzip.
"""

from __future__ import annotations

import atexit
import base64
import bisect
import contextlib
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import yaml

from tlscert import self_signed

__all__ = ["RESOURCES", "FakeApiServer", "Resource"]


@dataclass(frozen=True)
class Resource:
    """One served resource type, as it appears in discovery."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`deployments.apps` (used by the real server in its error messages)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def selector_name(self) -> str:
        """The name used in `forbidden=`: `apps/deployments`, core ones bare (`secrets`)."""
        return f"{self.group}/{self.plural}" if self.group else self.plural


_ALL = ("all",)
RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "pods", "pod", "Pod", True, ("po",), _ALL),
    Resource("", "v1", "services", "service", "Service", True, ("svc",), _ALL),
    Resource("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",)),
    Resource("", "v1", "nodes", "node", "Node", False, ("no",)),
    Resource("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ("sa",)),
    Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    Resource("", "v1", "secrets", "secret", "Secret", True),
    Resource(
        "",
        "v1",
        "replicationcontrollers",
        "replicationcontroller",
        "ReplicationController",
        True,
        ("rc",),
        _ALL,
    ),
    Resource("", "v1", "podtemplates", "podtemplate", "PodTemplate", True),
    Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",), _ALL),
    Resource("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, ("sts",), _ALL),
    Resource("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, ("ds",), _ALL),
    Resource("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",), _ALL),
    Resource("batch", "v1", "jobs", "job", "Job", True, (), _ALL),
    Resource("batch", "v1", "cronjobs", "cronjob", "CronJob", True, ("cj",), _ALL),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", True),
    Resource(
        "rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", False
    ),
    Resource(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        False,
    ),
    Resource(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        True,
        ("netpol",),
    ),
    Resource("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True, ("ing",)),
)
# Create-only review endpoints (served for the audit's "what can anonymous do" questions).
_REVIEWS: tuple[Resource, ...] = (
    Resource(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
    Resource(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "",
        "SelfSubjectRulesReview",
        False,
        verbs=("create",),
    ),
    Resource(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "",
        "SubjectAccessReview",
        False,
        verbs=("create",),
    ),
)
_BY_KIND = {r.kind: r for r in RESOURCES}
_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES + _REVIEWS}
_BY_SELECTOR = {r.selector_name: r for r in RESOURCES + _REVIEWS}
_GROUP_VERSIONS: dict[str, list[Resource]] = {}
for _r in RESOURCES + _REVIEWS:
    _GROUP_VERSIONS.setdefault(_r.group_version, []).append(_r)

# Field selectors each resource accepts (the real server's field-label conversion functions;
# anything else is a 400 "field label not supported", as there).
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "pods": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "secrets": ("type",),
    "nodes": ("spec.unschedulable",),
    "namespaces": ("status.phase",),
    "replicasets": ("status.replicas",),
    "replicationcontrollers": ("status.replicas",),
    "jobs": ("status.successful",),
}
_BOOL_FIELDS = {"spec.hostNetwork", "spec.unschedulable"}

_EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)
_NOT_FOUND_MESSAGE = "the server could not find the requested resource"
# Bootstrap policy the real server always reconciles: system:public-info-viewer, bound to
# system:authenticated and system:unauthenticated, so anonymous users can read the version
# and health endpoints even when the served objects hold no RBAC at all.
_PUBLIC_INFO_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/version/")
_ADMIN_GROUPS = ("system:masters", "system:authenticated")
_ANONYMOUS = "system:anonymous"
_ANONYMOUS_GROUPS = ("system:unauthenticated",)


class _HttpError(Exception):
    """An API Status answer (raised anywhere below the handler, turned into a response)."""

    def __init__(self, code: int, body: bytes) -> None:
        super().__init__(code)
        self.code = code
        self.body = body


def _status(
    code: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> _HttpError:
    """A real `Status` body (kind, apiVersion, metadata, status, message, reason, details)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata or {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return _HttpError(code, orjson.dumps(body))


def _not_found(res: Resource | None = None, name: str = "") -> _HttpError:
    if res is None:
        return _status(404, "NotFound", _NOT_FOUND_MESSAGE, {})
    details: dict[str, Any] = {"name": name}
    if res.group:
        details["group"] = res.group
    details["kind"] = res.plural
    return _status(404, "NotFound", f'{res.qualified} "{name}" not found', details)


def _bad_request(message: str) -> _HttpError:
    return _status(400, "BadRequest", message)


# --- selectors ---------------------------------------------------------------------------

_Predicate = Callable[[dict[str, Any]], bool]


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b` -> two requirements)."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _label_requirement(req: str) -> _Predicate:
    """One label-selector requirement: =, ==, !=, in, notin, exists, !exists."""
    words = req.split(None, 1)
    if len(words) == 2 and words[1].split(None, 1)[0] in ("in", "notin"):
        key = words[0]
        op, rest = words[1].split(None, 1) if " " in words[1] else (words[1], "")
        rest = rest.strip()
        if not (rest.startswith("(") and rest.endswith(")")):
            raise _bad_request(f"unable to parse requirement: found '{rest}', expected: '('")
        values = frozenset(v.strip() for v in rest[1:-1].split(",") if v.strip())
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in req:
            key, value = (s.strip() for s in req.split(op, 1))
            if not key:
                raise _bad_request(f"unable to parse requirement: {req!r}")
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if any(c in req for c in "<>() "):
        # Real selectors also have gt/lt on integers; nothing in kubeward uses them.
        raise _bad_request(f"unable to parse requirement: {req!r}")
    if req.startswith("!"):
        key = req[1:]
        return lambda labels: key not in labels
    return lambda labels: req in labels


def _field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if path in _BOOL_FIELDS:
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _on_labels(pred: _Predicate) -> _Predicate:
    return lambda obj: pred(obj["metadata"].get("labels") or {})


def _field_test(field: str, value: str, *, equal: bool) -> _Predicate:
    return lambda obj: (_field_value(obj, field) == value) == equal


def _parse_selectors(res: Resource, query: dict[str, str]) -> _Predicate | None:
    """labelSelector and fieldSelector as one predicate on the object (None: no filtering)."""
    preds: list[_Predicate] = []
    label_sel = query.get("labelSelector", "")
    for req in _split_top_level(label_sel):
        preds.append(_on_labels(_label_requirement(req)))
    field_sel = query.get("fieldSelector", "")
    allowed = _COMMON_FIELDS + _EXTRA_FIELDS.get(res.plural, ())
    for req in _split_top_level(field_sel):
        for op in ("!=", "==", "="):
            if op in req:
                field, value = (s.strip() for s in req.split(op, 1))
                break
        else:
            raise _bad_request(f"invalid selector: '{field_sel}'; can't understand '{req}'")
        if field not in allowed:
            raise _bad_request(f"field label not supported: {field}")
        preds.append(_field_test(field, value, equal=op != "!="))
    if not preds:
        return None
    return lambda obj: all(p(obj) for p in preds)


# --- storage -----------------------------------------------------------------------------


class _Store:
    """All objects of one resource, sorted by etcd key order (namespace/name)."""

    def __init__(self, res: Resource) -> None:
        self.res = res
        self.keys: list[str] = []
        self.objects: list[dict[str, Any]] = []  # without kind/apiVersion, as in lists
        self.blobs: list[bytes] = []
        self.by_key: dict[str, int] = {}
        self.ns_ranges: dict[str, tuple[int, int]] = {}

    def freeze(self, pairs: list[tuple[str, dict[str, Any]]]) -> None:
        pairs.sort(key=lambda p: p[0])
        self.keys = [k for k, _ in pairs]
        self.objects = [o for _, o in pairs]
        self.blobs = [orjson.dumps(o) for o in self.objects]
        self.by_key = {k: i for i, k in enumerate(self.keys)}
        if self.res.namespaced:
            for i, obj in enumerate(self.objects):
                ns = obj["metadata"]["namespace"]
                lo, _ = self.ns_ranges.get(ns, (i, i))
                self.ns_ranges[ns] = (lo, i + 1)


def _encode_continue(rv: int, start: str) -> str:
    """The real server's token format: base64url (no padding) JSON {v, rv, start}."""
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_continue(token: str) -> tuple[int, str]:
    """Garbage is a 400 BadRequest "invalid continue token", as in the real etcd3 store."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise _bad_request(f"invalid continue token: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise _bad_request("invalid continue token: server does not recognize this encoded key")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or rv <= 0 or not isinstance(start, str) or not start:
        raise _bad_request("invalid continue token: continue key is not valid")
    return rv, start


# --- RBAC --------------------------------------------------------------------------------


def _rule_allows(rule: dict[str, Any], verb: str, group: str, plural: str, name: str) -> bool:
    if "resources" not in rule:
        return False
    verbs, groups = rule.get("verbs") or [], rule.get("apiGroups") or []
    resources, names = rule.get("resources") or [], rule.get("resourceNames") or []
    return (
        (verb in verbs or "*" in verbs)
        and (group in groups or "*" in groups)
        and (plural in resources or "*" in resources)
        and (not names or name in names)
    )


def _rule_allows_path(rule: dict[str, Any], verb: str, path: str) -> bool:
    verbs, urls = rule.get("verbs") or [], rule.get("nonResourceURLs") or []
    if not (verb in verbs or "*" in verbs):
        return False
    return any(u == path or (u.endswith("*") and path.startswith(u[:-1])) for u in urls)


@dataclass
class _Subject:
    """Who is asking: the token's admin user, system:anonymous, or a SubjectAccessReview's."""

    user: str
    groups: tuple[str, ...]
    admin: bool = False


class FakeApiServer:
    """Serve `objects` over HTTP like kube-apiserver; use as a context manager.

    `token`: the bearer token the admin user (`kubernetes-admin`, group system:masters)
    presents; a wrong token is always 401, a missing one is 401 unless `anonymous` (then the
    request runs as system:anonymous, authorized by the RBAC objects served). `token=None`
    turns authentication off: every request is the admin user.
    `forbidden`: resources (`secrets`, `apps/deployments`...) the admin user may not touch.
    `tls`: serve HTTPS with a throw-away self-signed certificate (its CA goes in the
    kubeconfig). kubectl needs it to send a token: client-go reads a kubeconfig's
    credentials only for TLS servers, so over plain HTTP kubectl is always anonymous.
    """

    user = "kubernetes-admin"

    def __init__(
        self,
        objects: Iterable[dict[str, Any]],
        *,
        forbidden: Iterable[str] = (),
        max_page: int = 500,
        version: str = "v1.30.2",
        token: str | None = "fake-token",
        anonymous: bool = False,
        tls: bool = False,
    ) -> None:
        self.version = version
        self.tls = tls
        self.token = token
        self.anonymous = anonymous
        self.max_page = max_page
        self.forbidden: frozenset[Resource] = frozenset(self._resource(n) for n in forbidden)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        # Time spent answering (from the request's headers read to its answer written).
        self.server_seconds = 0.0
        self.url = ""
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[Any] = set()
        self._rbac_cache: dict[tuple[str, tuple[str, ...]], list[tuple[str, dict[str, Any]]]] = {}
        self._stores = {r: _Store(r) for r in RESOURCES}
        self._rv, self._compacted_rv = self._load(objects), 0

    @staticmethod
    def _resource(name: str) -> Resource:
        try:
            return _BY_SELECTOR[name]
        except KeyError:
            raise ValueError(
                f"unknown resource {name!r} (expected e.g. secrets, apps/deployments)"
            ) from None

    def _load(self, objects: Iterable[dict[str, Any]]) -> int:
        """Copy, complete and index the objects; returns the highest resourceVersion."""
        pairs: dict[Resource, list[tuple[str, dict[str, Any]]]] = {r: [] for r in RESOURCES}
        seen: set[tuple[Resource, str]] = set()
        rv = 1000
        for given in objects:
            # A shallow copy (a deep one costs more than the serialization): the caller's dicts
            # are not modified, and lists are served from bytes made here.
            obj = dict(given)
            kind = obj.pop("kind", None)
            res = _BY_KIND.get(kind) if isinstance(kind, str) else None
            if res is None:
                raise ValueError(f"the fake API server does not serve kind {kind!r}")
            api_version = obj.pop("apiVersion", res.group_version)
            if api_version != res.group_version:
                raise ValueError(f"{kind} must have apiVersion {res.group_version}")
            meta = obj["metadata"] = dict(obj.get("metadata") or {})
            name = meta.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"a {kind} has no metadata.name")
            if res.namespaced:
                # As `kubectl create` does without --namespace: the default namespace.
                meta.setdefault("namespace", "default")
                key = f"{meta['namespace']}/{name}"
            else:
                meta.pop("namespace", None)
                key = name
            if (res, key) in seen:
                raise ValueError(f"duplicate {kind} {key}")
            seen.add((res, key))
            # Hand-written test objects need not carry server-set fields: fill them.
            meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{res.plural}/{key}")))
            meta.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
            if "resourceVersion" not in meta:
                rv += 1
                meta["resourceVersion"] = str(rv)
            elif str(meta["resourceVersion"]).isdigit():
                rv = max(rv, int(meta["resourceVersion"]))
            pairs[res].append((key, obj))
        for res, store in self._stores.items():
            store.freeze(pairs[res])
        return rv + 1

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> FakeApiServer:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        httpd = _Server(("127.0.0.1", 0), Handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*_certificate())
            # The handshake runs in the connection's thread (Handler.setup), not the accept loop.
            httpd.socket = context.wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._httpd = httpd
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:  # idle keep-alive connections: end them, freeing their threads
            with contextlib.suppress(OSError):
                sock.shutdown(2)
        if self._thread is not None:
            self._thread.join(5)
        self._httpd = None

    def write_kubeconfig(
        self,
        path: Path,
        *,
        context: str = "fake",
        namespace: str | None = None,
        anonymous: bool = False,
    ) -> Path:
        """A kubeconfig for this server (token user; no credentials when `anonymous`)."""
        if not self.url:
            raise RuntimeError("start the server (with ...) before writing its kubeconfig")
        user: dict[str, Any] = {}
        if self.token is not None and not anonymous:
            user["token"] = self.token
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            pem = Path(_certificate()[0]).read_bytes()
            cluster["certificate-authority-data"] = base64.b64encode(pem).decode()
        ctx: dict[str, Any] = {"cluster": context, "user": f"{context}-user"}
        if namespace is not None:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": f"{context}-user", "user": user}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }
        path = Path(path)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def expire_continue_tokens(self) -> None:
        """Simulate an etcd compaction: continue tokens issued so far now get 410 Expired."""
        with self._lock:
            self._compacted_rv = self._rv
            self._rv += 1

    # --- request handling ----------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, str]:
        """Answer one request: (status code, body, content type)."""
        split = urlsplit(raw_path)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append((method, path, query))
        try:
            subject = self._authenticate(headers.get("authorization"))
            code, payload = self._route(
                method, path, query=query, headers=headers, body=body, subject=subject
            )
            ctype = "text/plain; charset=utf-8" if isinstance(payload, str) else "application/json"
            out = payload.encode() if isinstance(payload, str) else payload
        except _HttpError as err:
            code, out, ctype = err.code, err.body, "application/json"
        except Exception as exc:  # a bug here: answer it, so a test fails rather than hangs
            internal = _status(500, "InternalError", f"fake API server error: {exc!r}")
            code, out, ctype = internal.code, internal.body, "application/json"
        return code, out, ctype

    def _authenticate(self, authorization: str | None) -> _Subject:
        if self.token is None:
            return _Subject(self.user, _ADMIN_GROUPS, admin=True)
        if authorization is not None:
            if authorization == f"Bearer {self.token}":
                return _Subject(self.user, _ADMIN_GROUPS, admin=True)
            # A presented but invalid credential is 401 even with anonymous auth on (real).
            raise _status(401, "Unauthorized", "Unauthorized")
        if self.anonymous:
            return _Subject(_ANONYMOUS, _ANONYMOUS_GROUPS)
        raise _status(401, "Unauthorized", "Unauthorized")

    def _rules(self, subject: _Subject) -> list[tuple[str, dict[str, Any]]]:
        """(namespace or "" for cluster-wide, rule) granted to a non-admin subject."""
        cache_key = (subject.user, subject.groups)
        with self._lock:
            cached = self._rbac_cache.get(cache_key)
        if cached is not None:
            return cached

        def bound(binding: dict[str, Any]) -> bool:
            for s in binding.get("subjects") or []:
                kind, name = s.get("kind"), s.get("name")
                if (kind == "User" and name == subject.user) or (
                    kind == "Group" and name in subject.groups
                ):
                    return True
            return False

        def role_rules(plural: str, key: str) -> list[dict[str, Any]]:
            store = self._stores[_BY_PATH[("rbac.authorization.k8s.io", "v1", plural)]]
            i = store.by_key.get(key)
            return list(store.objects[i].get("rules") or []) if i is not None else []

        rules: list[tuple[str, dict[str, Any]]] = [
            ("", {"verbs": ["get"], "nonResourceURLs": list(_PUBLIC_INFO_PATHS)})
        ]
        rbac = "rbac.authorization.k8s.io"
        for crb in self._stores[_BY_PATH[(rbac, "v1", "clusterrolebindings")]].objects:
            ref = crb.get("roleRef") or {}
            if bound(crb) and ref.get("kind") == "ClusterRole":
                rules += [("", r) for r in role_rules("clusterroles", ref.get("name", ""))]
        for rb in self._stores[_BY_PATH[(rbac, "v1", "rolebindings")]].objects:
            ns, ref = rb["metadata"]["namespace"], rb.get("roleRef") or {}
            if not bound(rb):
                continue
            if ref.get("kind") == "ClusterRole":
                rules += [(ns, r) for r in role_rules("clusterroles", ref.get("name", ""))]
            elif ref.get("kind") == "Role":
                rules += [(ns, r) for r in role_rules("roles", f"{ns}/{ref.get('name', '')}")]
        with self._lock:
            self._rbac_cache[cache_key] = rules
        return rules

    def _allowed(
        self, subject: _Subject, verb: str, group: str, resource: str, *, namespace: str, name: str
    ) -> bool:
        """RBAC's answer; `resource` may name a subresource (`pods/exec`) or an unserved one."""
        plural = resource.split("/", 1)[0]
        if any(r.group == group and r.plural == plural for r in self.forbidden):
            return False
        if subject.admin:
            return True
        return any(
            (not ns or ns == namespace) and _rule_allows(rule, verb, group, resource, name)
            for ns, rule in self._rules(subject)
        )

    def _allowed_path(self, subject: _Subject, verb: str, path: str) -> bool:
        if subject.admin:
            return True
        return any(not ns and _rule_allows_path(r, verb, path) for ns, r in self._rules(subject))

    def _authorize(
        self, subject: _Subject, verb: str, res: Resource, namespace: str, name: str = ""
    ) -> None:
        """403 with the real message: `pods is forbidden: User "x" cannot list resource ...`."""
        if self._allowed(subject, verb, res.group, res.plural, namespace=namespace, name=name):
            return
        what = f'{res.qualified} "{name}"' if name else res.qualified
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        message = (
            f'{what} is forbidden: User "{subject.user}" cannot {verb} resource '
            f'"{res.plural}" in API group "{res.group}" {scope}'
        )
        details: dict[str, Any] = {"name": name} if name else {}
        if res.group:
            details["group"] = res.group
        details["kind"] = res.plural
        raise _status(403, "Forbidden", message, details)

    def _route(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        subject: _Subject,
    ) -> tuple[int, bytes | str]:
        parts = path.strip("/").split("/") if path != "/" else []
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            group, version, rest = "", "", []
        if not rest:  # a non-resource path: discovery, version, health, anything else
            verb = "get" if method in ("GET", "HEAD") else method.lower()
            if not self._allowed_path(subject, verb, path):
                raise _status(
                    403,
                    "Forbidden",
                    f'forbidden: User "{subject.user}" cannot {verb} path "{path}"',
                    {},
                )
            if method != "GET":
                raise _method_not_allowed(method)
            return 200, self._non_resource(path)
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        res = _BY_PATH.get((group, version, rest[0]))
        if res is None or len(rest) > 2 or (namespace and not res.namespaced):
            raise _not_found()
        if res in _REVIEWS:
            if method != "POST" or len(rest) != 1:
                raise _method_not_allowed(method)
            self._authorize(subject, "create", res, namespace)
            return 201, self._review(res, body, subject)
        name = rest[1] if len(rest) == 2 else ""
        watch = query.get("watch", "").lower() in ("1", "true")
        if method == "GET":
            verb = "watch" if watch else ("get" if name else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
                method, method.lower()
            )
        self._authorize(subject, verb, res, namespace, name)
        if method != "GET" or watch:
            # Read-only fake: no writes, no watch (the audit lists; it never watches).
            raise _method_not_allowed(method if not watch else "WATCH")
        store = self._stores[res]
        if name:
            i = store.by_key.get(f"{namespace}/{name}" if res.namespaced else name)
            if i is None:
                raise _not_found(res, name)
            head = orjson.dumps({"kind": res.kind, "apiVersion": res.group_version})
            return 200, head[:-1] + b"," + store.blobs[i][1:]
        return 200, self._list(store, namespace, query, headers.get("accept", ""))

    def _list(self, store: _Store, namespace: str, query: dict[str, str], accept: str) -> bytes:
        """One page. `resourceVersion`/`resourceVersionMatch` are accepted and ignored: the
        store never changes, so every read is consistent (the real server's watch-cache
        quirk of ignoring `limit` when resourceVersion=0 is not copied)."""
        res = store.res
        if namespace:
            lo, hi = store.ns_ranges.get(namespace, (0, 0))
        else:
            lo, hi = 0, len(store.keys)
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise _bad_request(f"invalid limit: {query.get('limit')!r}") from None
        limit = self.max_page if limit > self.max_page else max(limit, 0)
        with self._lock:
            rv, compacted = self._rv, self._compacted_rv
        pos = lo
        token = query.get("continue", "")
        if token:
            token_rv, start = _decode_continue(token)
            if token_rv <= compacted:
                fresh = _encode_continue(rv, start)
                raise _status(410, "Expired", _EXPIRED_MESSAGE, metadata={"continue": fresh})
            pos = max(lo, bisect.bisect_left(store.keys, start, lo, hi))
        pred = _parse_selectors(res, query)
        if pred is None:
            end = hi if limit == 0 else min(hi, pos + limit)
            indices: Iterable[int] = range(pos, end)
            last = end
            remaining: int | None = hi - end
        else:
            # Filtered: scan until `limit` matches; remainingItemCount is not known (real).
            picked: list[int] = []
            last = hi
            for i in range(pos, hi):
                if pred(store.objects[i]):
                    picked.append(i)
                    if limit and len(picked) == limit:
                        last = i + 1
                        break
            indices, remaining = picked, None
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if last < hi:
            meta["continue"] = _encode_continue(rv, store.keys[last - 1] + "\x00")
            if remaining:
                meta["remainingItemCount"] = remaining
        if "as=Table" in accept:
            return _table(store, indices, meta)
        head = orjson.dumps(
            {"kind": f"{res.kind}List", "apiVersion": res.group_version, "metadata": meta}
        )
        return head[:-1] + b',"items":[' + b",".join(store.blobs[i] for i in indices) + b"]}"

    def _non_resource(self, path: str) -> bytes | str:
        if path in ("/healthz", "/livez", "/readyz"):
            return "ok"
        if path == "/version":
            return orjson.dumps(_version_info(self.version))
        if path == "/api":
            host = self.url.split("://", 1)[1]
            return orjson.dumps(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": host}
                    ],
                }
            )
        if path == "/api/v1":
            return _resource_list("v1")
        if path == "/apis":
            groups = [_api_group(gv.split("/")[0]) for gv in _GROUP_VERSIONS if "/" in gv]
            return orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2 and f"{parts[1]}/v1" in _GROUP_VERSIONS:
            return orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **_api_group(parts[1])})
        if parts[0] == "apis" and len(parts) == 3 and f"{parts[1]}/{parts[2]}" in _GROUP_VERSIONS:
            return _resource_list(f"{parts[1]}/{parts[2]}")
        # /openapi/v2, /openapi/v3 and everything else: 404, as on a server without OpenAPI.
        raise _not_found()

    def _review(self, res: Resource, body: bytes, subject: _Subject) -> bytes:
        """SelfSubjectAccessReview, SubjectAccessReview, SelfSubjectRulesReview (RBAC only)."""
        try:
            review = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _bad_request(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(review, dict) or not isinstance(review.get("spec"), dict):
            raise _bad_request(f"{res.kind} needs a spec")
        spec: dict[str, Any] = review["spec"]
        out: dict[str, Any] = {
            "kind": res.kind,
            "apiVersion": res.group_version,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
        }
        who = subject
        if res.plural == "subjectaccessreviews":
            user, groups = spec.get("user", ""), tuple(spec.get("groups") or ())
            who = _Subject(user, groups, admin="system:masters" in groups)
        if res.plural == "selfsubjectrulesreviews":
            namespace = str(spec.get("namespace") or "")
            if who.admin:
                resource_rules = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
                non_resource = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
            else:
                granted = [r for ns, r in self._rules(who) if not ns or ns == namespace]
                resource_rules = [r for r in granted if "resources" in r]
                non_resource = [r for r in granted if "nonResourceURLs" in r]
            out["status"] = {
                "resourceRules": resource_rules,
                "nonResourceRules": non_resource,
                "incomplete": False,
            }
            return orjson.dumps(out)
        attrs = spec.get("resourceAttributes")
        if isinstance(attrs, dict):
            resource = str(attrs.get("resource") or "")
            if attrs.get("subresource"):
                resource += f"/{attrs['subresource']}"
            allowed = self._allowed(
                who,
                str(attrs.get("verb") or ""),
                str(attrs.get("group") or ""),
                resource,
                namespace=str(attrs.get("namespace") or ""),
                name=str(attrs.get("name") or ""),
            )
        else:
            nra = spec.get("nonResourceAttributes") or {}
            allowed = self._allowed_path(who, nra.get("verb", ""), nra.get("path", ""))
        out["status"] = {"allowed": allowed}
        if allowed:
            out["status"]["reason"] = "RBAC: allowed"
        return orjson.dumps(out)


_CERT: tuple[str, str] | None = None
_CERT_LOCK = threading.Lock()


def _certificate() -> tuple[str, str]:
    """(cert file, key file) of a self-signed 127.0.0.1 certificate, made once per process.

    Made with the openssl command (the `cryptography` package is not a dependency); the key
    lives only in a temporary directory removed at exit.
    """
    global _CERT
    with _CERT_LOCK:
        if _CERT is None:
            folder = Path(tempfile.mkdtemp(prefix="fake-apiserver-"))
            atexit.register(shutil.rmtree, folder, True)
            cert, key = self_signed(folder, "fake-apiserver")
            _CERT = (str(cert), str(key))
        return _CERT


def _method_not_allowed(method: str) -> _HttpError:
    return _status(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested "
        f"resource ({method} is not supported by the read-only fake API server)",
        {},
    )


def _version_info(version: str) -> dict[str, str]:
    core, _, suffix = version.lstrip("v").partition("-")
    numbers = [*core.split("."), "0", "0"][:2]
    return {
        "major": numbers[0],
        "minor": numbers[1] + ("+" if suffix else ""),  # EKS/GKE style "29+"
        "gitVersion": version,
        "gitCommit": "0123456789abcdef0123456789abcdef01234567",
        "gitTreeState": "clean",
        "buildDate": "2024-06-11T20:20:00Z",
        "goVersion": "go1.22.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _api_group(group: str) -> dict[str, Any]:
    gv = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def _resource_list(group_version: str) -> bytes:
    resources = []
    for r in _GROUP_VERSIONS[group_version]:
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
    return orjson.dumps(
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        }
    )


def _table(store: _Store, indices: Iterable[int], meta: dict[str, Any]) -> bytes:
    """The server-side Table kubectl asks for: the real default (Name, Created At) columns."""
    rows = []
    for i in indices:
        obj_meta = store.objects[i]["metadata"]
        rows.append(
            {
                "cells": [obj_meta["name"], obj_meta.get("creationTimestamp")],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj_meta,
                },
            }
        )
    columns = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name must be unique within a namespace.",
            "priority": 0,
        },
        {
            "name": "Created At",
            "type": "date",
            "format": "",
            "description": "CreationTimestamp "
            "is a timestamp representing the server time when this object was created.",
            "priority": 0,
        },
    ]
    return orjson.dumps(
        {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "columnDefinitions": columns,
            "rows": rows,
        }
    )


class _Server(ThreadingHTTPServer):
    """Daemon connection threads; a client hanging up mid-request is not an error to print."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (the clients pool connections); all logic in FakeApiServer."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without TCP_NODELAY the client's delayed
    # ACK holds the body back about 40 ms per request (Nagle).
    disable_nagle_algorithm = True
    server_fake: FakeApiServer
    timeout = 60  # an idle keep-alive connection's thread ends after this

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()
        with self.server_fake._lock:
            self.server_fake._sockets.add(self.connection)

    def finish(self) -> None:
        with self.server_fake._lock:
            self.server_fake._sockets.discard(self.connection)
        super().finish()

    def _serve(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        code, out, ctype = self.server_fake.handle(self.command, self.path, headers, body)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)
        elapsed = time.perf_counter() - started
        with self.server_fake._lock:
            self.server_fake.server_seconds += elapsed

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests print nothing
        return


def main(argv: list[str] | None = None) -> int:
    """Serve a generated cluster until interrupted: `kubeward k8s` measured in its own process.

        python tests/fake_apiserver.py --objects 5000 --kubeconfig /tmp/kc [--tls]

    Prints the URL once listening (the kubeconfig is written first), then serves until
    SIGINT/SIGTERM.
    """
    import argparse
    import signal

    from cluster_objects import generate_cluster

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-page", type=int, default=500)
    parser.add_argument("--forbidden", action="append", default=[])
    parser.add_argument("--version", default="v1.30.2")
    parser.add_argument("--anonymous", action="store_true")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fake = FakeApiServer(
        generate_cluster(args.objects, seed=args.seed),
        forbidden=args.forbidden,
        max_page=args.max_page,
        version=args.version,
        anonymous=args.anonymous,
        tls=args.tls,
    )
    with fake:
        fake.write_kubeconfig(args.kubeconfig)
        print(fake.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
