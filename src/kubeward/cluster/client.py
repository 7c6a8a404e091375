"""Talking to a live cluster: connect with the official `kubernetes` client, list in pages.

The official client does the connection work (kubeconfig and its auth plugins, contexts,
in-cluster service account, TLS, proxies); kubeward asks it for raw JSON and decodes pages
itself with orjson. The client's typed models would cost several times the listing itself
and turn every field name to snake_case, while the checks read objects as the API (and
kubectl) writes them. Each list is read page by page (`limit`/`continue`), so only one page
of one resource type is ever held at a time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import yaml

from kubeward.errors import KubewardError

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500
REQUEST_TIMEOUT = 60.0  # seconds per request (connect and read)
MAX_PAGE_BYTES = 256 * 1024 * 1024  # a page larger than this is not a page of objects
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


class ClusterError(KubewardError):
    """The cluster cannot be reached, refuses the credentials or answers nonsense."""


class ListDenied(Exception):
    """One resource type cannot be listed (403, 404 ...): a warning, the audit goes on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A resource kubeward lists: API group version, plural, the kind of its items."""

    group_version: str  # "v1", "apps/v1"
    plural: str
    kind: str
    namespaced: bool

    @property
    def name(self) -> str:
        """What warnings call it: "secrets", "apps/deployments", as RBAC names it."""
        group = self.group_version.rpartition("/")[0]
        return f"{group}/{self.plural}" if group else self.plural

    def path(self, namespace: str | None = None) -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if namespace is not None and self.namespaced:
            return f"{base}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{base}/{self.plural}"


# Everything a built-in check reads. Namespaces first (their labels and the namespace
# filter), then the cluster-scoped kinds, then namespaced ones.
RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType("v1", "namespaces", "Namespace", False),
    ResourceType("v1", "nodes", "Node", False),
    ResourceType("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    ResourceType(
        "rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False
    ),
    ResourceType("rbac.authorization.k8s.io/v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True),
    ResourceType("v1", "serviceaccounts", "ServiceAccount", True),
    ResourceType("v1", "services", "Service", True),
    ResourceType("v1", "configmaps", "ConfigMap", True),
    ResourceType("v1", "secrets", "Secret", True),
    ResourceType("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", True),
    ResourceType("networking.k8s.io/v1", "ingresses", "Ingress", True),
    ResourceType("apps/v1", "deployments", "Deployment", True),
    ResourceType("apps/v1", "daemonsets", "DaemonSet", True),
    ResourceType("apps/v1", "statefulsets", "StatefulSet", True),
    ResourceType("apps/v1", "replicasets", "ReplicaSet", True),
    ResourceType("v1", "replicationcontrollers", "ReplicationController", True),
    ResourceType("batch/v1", "cronjobs", "CronJob", True),
    ResourceType("batch/v1", "jobs", "Job", True),
    ResourceType("v1", "pods", "Pod", True),
)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    continue_token: str | None


class Cluster:
    """A connection to one API server (an `ApiClient` of the official client)."""

    def __init__(self, api_client: Any, context: str, server: str) -> None:
        self.api = api_client
        self.context = context
        self.server = server

    def close(self) -> None:
        self.api.close()

    def get_json(self, path: str, query: list[tuple[str, str]] | None = None) -> Any:
        """GET `path` and decode the JSON answer; ListDenied for an error status,
        ClusterError when the server cannot be reached or answers something else."""
        data = self._get(path, query, auth=True)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ClusterError(f"{self.server}{path}: the answer is not JSON") from None

    def _get(self, path: str, query: list[tuple[str, str]] | None, *, auth: bool) -> bytes:
        from kubernetes.client.exceptions import ApiException

        try:
            request = self.api.param_serialize(
                "GET",
                path,
                query_params=query or [],
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"] if auth else [],
            )
            response = self.api.call_api(*request, _request_timeout=REQUEST_TIMEOUT)
            status = int(response.status)
            data = _read_capped(response.response, MAX_PAGE_BYTES)
        except _TooLarge:
            raise ClusterError(
                f"{self.server}{path}: answer larger than {MAX_PAGE_BYTES} bytes"
            ) from None
        except ApiException as exc:  # status 0: the client could not send the request
            raise ClusterError(f"cannot reach the cluster at {self.server}: {exc.reason}") from None
        except Exception as exc:  # urllib3 and ssl errors: one line, never a traceback
            raise ClusterError(
                f"cannot reach the cluster at {self.server}: {_cause(exc)}"
            ) from None
        if not isinstance(data, bytes):
            raise ClusterError(f"{self.server}{path}: empty answer")
        if status == 401 and auth:
            raise ClusterError(
                f"the cluster at {self.server} refused the credentials of context "
                f"{self.context!r} (401 Unauthorized)"
            )
        if not 200 <= status <= 299:
            raise ListDenied(status, _status_reason(status, data))
        return data

    def probe_status(self, path: str) -> int:
        """The status of an unauthenticated GET `path` (no token, no client certificate),
        or 0 when it cannot be sent (the API server may demand a client certificate)."""
        from kubernetes.client import ApiClient

        anonymous = _without_credentials(self.api.configuration)
        client: Any = ApiClient(configuration=anonymous)
        try:
            request = client.param_serialize("GET", path, header_params={"Accept": "*/*"})
            response = client.call_api(*request, _request_timeout=REQUEST_TIMEOUT)
            response.read()
            return int(response.status)
        except Exception:  # TLS refused without a certificate etc.: not judged
            log.debug("anonymous probe of %s failed", path, exc_info=True)
            return 0
        finally:
            client.close()

    def version(self) -> dict[str, Any]:
        """`GET /version` (gitVersion "v1.30.2" ...)."""
        try:
            value = self.get_json("/version")
        except ListDenied as exc:
            raise ClusterError(
                f"the cluster at {self.server} answered /version with {exc.reason}"
            ) from None
        return value if isinstance(value, dict) else {}

    def list_pages(
        self, resource: ResourceType, namespace: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Page]:
        """Every page of a list of `resource` (in `namespace` when given). Items get the
        `kind` and `apiVersion` the list omits. ListDenied on an error status."""
        token: str | None = None
        seen: set[str] = set()
        path = resource.path(namespace)
        while True:
            query = [("limit", str(limit))]
            if token:
                query.append(("continue", token))
            document = self.get_json(path, query)
            if not isinstance(document, dict):
                raise ClusterError(f"{self.server}{path}: the answer is not a list")
            items = document.get("items")
            kept = []
            for item in items if isinstance(items, list) else ():
                if isinstance(item, dict):
                    item["kind"] = resource.kind
                    item["apiVersion"] = resource.group_version
                    kept.append(item)
            metadata = document.get("metadata")
            token = metadata.get("continue") if isinstance(metadata, dict) else None
            token = token if isinstance(token, str) and token else None
            if token is not None:
                if token in seen:  # a server that would page forever
                    raise ClusterError(f"{self.server}{path}: the server repeats a continue token")
                seen.add(token)
            yield Page(kept, token)
            if token is None:
                return


class _TooLarge(Exception):
    pass


def _read_capped(raw: Any, cap: int) -> bytes:
    """The body of an urllib3 response read in chunks, refused past `cap` bytes before it
    is all in memory (a page is at most `limit` objects; a server may still send anything)."""
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in raw.stream(1 << 16):
            total += len(chunk)
            if total > cap:
                raise _TooLarge
            chunks.append(chunk)
    finally:
        raw.release_conn()
    return b"".join(chunks)


def _cause(exc: BaseException) -> str:
    """The deepest reason of a urllib3 error ("connection refused", "certificate verify
    failed ..."), in one line."""
    seen: set[int] = set()
    current: BaseException | None = exc
    text = str(exc)
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            text = str(reason)
            continue
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        current = current.__cause__ or current.__context__
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    text = text.rsplit(": ", 1)[-1] if "object at 0x" in text else text
    return " ".join(text.split())[:300] or type(exc).__name__


def _status_reason(status: int, data: bytes) -> str:
    """`forbidden (secrets is forbidden: User "x" cannot list ...)` from a Status body."""
    words = {403: "forbidden", 404: "not found", 410: "expired", 429: "too many requests"}
    head = words.get(status, f"HTTP {status}")
    message = ""
    try:
        body = orjson.loads(data)
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            message = " ".join(body["message"].split())[:300]
    except orjson.JSONDecodeError:
        pass
    return f"{head} ({message})" if message else head


def _without_credentials(configuration: Any) -> Any:
    import copy

    anonymous = copy.copy(configuration)
    anonymous.api_key = {}
    anonymous.api_key_prefix = {}
    anonymous.refresh_api_key_hook = None
    anonymous.username = None
    anonymous.password = None
    anonymous.cert_file = None
    anonymous.key_file = None
    return anonymous


def connect(kubeconfig: str | None, context: str | None) -> Cluster:
    """Connect as kubectl would: `kubeconfig` (else $KUBECONFIG, else ~/.kube/config) and
    `context` (else its current context); with no kubeconfig at all inside a pod, the pod's
    service account (in-cluster configuration)."""
    from kubernetes import config as kube_config
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.config.config_exception import ConfigException

    config: Any = kube_config  # the client's functions carry no type hints
    configuration = Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    first = path.split(os.pathsep)[0] if path else ""
    in_cluster = (
        kubeconfig is None
        and not os.environ.get("KUBECONFIG")
        and not Path(first).exists()
        and "KUBERNETES_SERVICE_HOST" in os.environ
    )
    try:
        if in_cluster:
            if context is not None:
                raise ClusterError("--context needs a kubeconfig (none found; running in a pod)")
            config.load_incluster_config(client_configuration=configuration)
            name = "in-cluster"
        else:
            if kubeconfig is not None and not Path(kubeconfig).is_file():
                raise ClusterError(f"--kubeconfig {kubeconfig}: no such file")
            if not any(Path(p).is_file() for p in path.split(os.pathsep) if p):
                raise ClusterError(
                    f"no kubeconfig at {path} (give --kubeconfig FILE, or run inside a pod)"
                )
            config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration,
                persist_config=False,
            )  # fmt: skip
            name = context or _current_context(path)
    except ConfigException as exc:
        raise ClusterError(f"kubeconfig: {' '.join(str(exc).split())[:300]}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ClusterError(f"kubeconfig {path}: not valid YAML{line}") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise ClusterError(f"kubeconfig {path}: cannot be used: {_cause(exc)}") from None
    configuration.retries = 1  # an unreachable server is reported at once, not after backoff
    return Cluster(ApiClient(configuration=configuration), name, str(configuration.host))


def _current_context(path: str) -> str:
    from kubernetes import config as kube_config

    config: Any = kube_config
    try:
        _, active = config.list_kube_config_contexts(config_file=path)
    except Exception:  # already loaded once: only the name is missing
        return "current"
    name = active.get("name") if isinstance(active, dict) else None
    return str(name) if name else "current"
