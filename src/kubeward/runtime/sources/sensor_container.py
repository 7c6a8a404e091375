"""Container metadata for the sensor's events: name, image, labels, mounts and the pod, asked
once per container from whatever runtime can answer, then cached.

The container id itself always comes from /proc/PID/cgroup. The rest, in order: the Docker
Engine API on its unix socket (also carries the pod of a dockershim or cri-dockerd
container in its labels), then the OCI bundle ``config.json`` that containerd and cri-o write
under /run, whose annotations name the pod and the image. Nothing reachable: the event keeps
``container.id`` and the other fields stay absent, as in Falco while a lookup is pending.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

__all__ = ["BUNDLE_ROOTS", "ContainerResolver", "docker_socket", "split_image"]

BUNDLE_ROOTS: Final = (
    "/run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json",
    "/run/containerd/io.containerd.runtime.v2.task/moby/{id}/config.json",
    "/run/containerd/io.containerd.runtime.v2.task/default/{id}/config.json",
    "/run/containers/storage/overlay-containers/{id}/userdata/config.json",
    "/var/run/containers/storage/overlay-containers/{id}/userdata/config.json",
)
"""Where containerd (CRI and moby namespaces) and cri-o keep each container's OCI config."""

RETRY_SECONDS: Final = 2.0
"""A container no runtime knew is asked again after this long."""
TIMEOUT_SECONDS: Final = 1.0
MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024


def docker_socket(host: str | None = None) -> str | None:
    """The Docker socket path from ``host`` or DOCKER_HOST (``unix://PATH``), else the
    default; None for a TCP DOCKER_HOST (not asked: the sensor talks to local sockets only)."""
    value = host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if value.startswith("unix://"):
        return value[len("unix://") :]
    if value.startswith("/"):
        return value
    return None


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``registry/repo:tag@sha256:...`` into (repository, tag, digest), as the container plugin
    splits ``container.image``."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        image, tag = image[:colon], image[colon + 1 :]
    return image, tag, digest


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ContainerResolver:
    """container id (12 hex) -> the ``container.*`` and ``k8s.*`` keys of its events."""

    def __init__(
        self,
        docker_host: str | None = None,
        bundle_roots: Sequence[str] = BUNDLE_ROOTS,
        *,
        use_docker: bool = True,
    ) -> None:
        self._docker = docker_socket(docker_host) if use_docker else None
        self._bundle_roots = tuple(bundle_roots)
        self._cache: dict[str, dict[str, Any]] = {}
        self._misses: dict[str, float] = {}
        self._inflight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.lookups = 0

    def prefetch(self, container_id: str, full_id: str | None) -> None:
        """Start asking, in the background, about a container just seen: its processes may be
        gone (and a ``--rm`` container removed) by the time the consumer reads their events.
        Never blocks."""
        with self._lock:
            if container_id in self._cache or container_id in self._inflight:
                return
            missed = self._misses.get(container_id)
            if missed is not None and time.monotonic() - missed < RETRY_SECONDS:
                return
            done = threading.Event()
            self._inflight[container_id] = done
        thread = threading.Thread(
            target=self._lookup,
            args=(container_id, full_id, done),
            name="kubeward-sensor-container",
            daemon=True,
        )
        thread.start()

    def metadata(self, container_id: str, full_id: str | None) -> Mapping[str, Any] | None:
        """The container's keys, waiting up to ``TIMEOUT_SECONDS`` for a lookup in flight."""
        cached = self._cache.get(container_id)
        if cached is not None:
            return cached
        with self._lock:
            done = self._inflight.get(container_id)
        if done is not None:
            done.wait(TIMEOUT_SECONDS * 2)
            return self._cache.get(container_id)
        missed = self._misses.get(container_id)
        if missed is not None and time.monotonic() - missed < RETRY_SECONDS:
            return None
        self._lookup(container_id, full_id, None)
        return self._cache.get(container_id)

    def _lookup(self, container_id: str, full_id: str | None, done: threading.Event | None) -> None:
        try:
            self.lookups += 1
            found = self._from_docker(full_id or container_id) or (
                self._from_bundle(full_id) if full_id else None
            )
            with self._lock:
                if found is None:
                    self._misses[container_id] = time.monotonic()
                else:
                    self._misses.pop(container_id, None)
                    self._cache[container_id] = found
        finally:
            if done is not None:
                with self._lock:
                    self._inflight.pop(container_id, None)
                done.set()

    # -- Docker -----------------------------------------------------------------------------

    def _from_docker(self, ident: str) -> dict[str, Any] | None:
        if self._docker is None or not os.path.exists(self._docker):
            return None
        connection = _UnixHTTPConnection(self._docker, TIMEOUT_SECONDS)
        try:
            connection.request("GET", f"/containers/{ident}/json")
            response = connection.getresponse()
            body = response.read(MAX_RESPONSE_BYTES)
            if response.status != 200:
                return None
            data = json.loads(body)
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            connection.close()
        return _docker_fields(data) if isinstance(data, dict) else None

    # -- OCI bundles (containerd, cri-o) ----------------------------------------------------

    def _from_bundle(self, full_id: str) -> dict[str, Any] | None:
        for pattern in self._bundle_roots:
            path = Path(pattern.format(id=full_id))
            try:
                if path.stat().st_size > MAX_RESPONSE_BYTES:
                    continue
                data = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                return _bundle_fields(
                    data, full_id, "cri-o" if "overlay-containers" in pattern else "containerd"
                )
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _docker_fields(data: dict[str, Any]) -> dict[str, Any]:
    config, host = _dict(data.get("Config")), _dict(data.get("HostConfig"))
    labels = {str(k): str(v) for k, v in _dict(config.get("Labels")).items()}
    image = str(config.get("Image") or "")
    repository, tag, digest = split_image(image)
    image_id = str(data.get("Image") or "").removeprefix("sha256:")[:12] or None
    mounts = []
    for mount in data.get("Mounts") or ():
        if isinstance(mount, dict):
            mounts.append(
                (
                    str(mount.get("Source", "")),
                    str(mount.get("Destination", "")),
                    str(mount.get("Mode", "")),
                    "true" if mount.get("RW") else "false",
                    str(mount.get("Propagation", "")),
                )
            )
    health = _dict(config.get("Healthcheck")).get("Test")
    network = _dict(data.get("NetworkSettings"))
    out: dict[str, Any] = {
        "container.full_id": data.get("Id"),
        "container.name": str(data.get("Name") or "").lstrip("/") or None,
        "container.image": image or None,
        "container.image.id": image_id,
        "container.image.repository": repository or None,
        "container.image.tag": tag,
        "container.image.digest": digest,
        "container.type": "docker",
        "container.privileged": bool(host.get("Privileged")),
        "container.mount": mounts,
        "container.label": labels,
        "container.healthcheck": " ".join(str(x) for x in health[1:])
        if isinstance(health, list) and len(health) > 1 and health[0] != "NONE"
        else None,
        "container.ip": network.get("IPAddress") or None,
        "container.host_pid": host.get("PidMode") == "host",
        "container.host_network": host.get("NetworkMode") == "host",
        "container.host_ipc": host.get("IpcMode") == "host",
    }
    _pod_from_labels(labels, out)
    return out


def _pod_from_labels(labels: Mapping[str, str], out: dict[str, Any]) -> None:
    """dockershim and cri-dockerd label each container with its pod."""
    if "io.kubernetes.pod.name" not in labels:
        return
    out["k8s.pod.name"] = labels.get("io.kubernetes.pod.name")
    out["k8s.ns.name"] = labels.get("io.kubernetes.pod.namespace")
    out["k8s.pod.uid"] = labels.get("io.kubernetes.pod.uid")
    sandbox = labels.get("io.kubernetes.sandbox.id")
    if sandbox:
        out["k8s.pod.full_sandbox_id"], out["k8s.pod.sandbox_id"] = sandbox, sandbox[:12]


def _bundle_fields(data: dict[str, Any], full_id: str, kind: str) -> dict[str, Any]:
    notes = {str(k): str(v) for k, v in _dict(data.get("annotations")).items()}
    if kind == "containerd":
        image = notes.get("io.kubernetes.cri.image-name")
        pod = notes.get("io.kubernetes.cri.sandbox-name")
        namespace = notes.get("io.kubernetes.cri.sandbox-namespace")
        uid = notes.get("io.kubernetes.cri.sandbox-uid")
        sandbox = notes.get("io.kubernetes.cri.sandbox-id")
        name = notes.get("io.kubernetes.cri.container-name")
        labels: dict[str, str] = {}
    else:
        image = notes.get("io.kubernetes.cri-o.ImageName")
        pod = notes.get("io.kubernetes.pod.name")
        namespace = notes.get("io.kubernetes.pod.namespace")
        uid = notes.get("io.kubernetes.pod.uid")
        sandbox = notes.get("io.kubernetes.cri-o.SandboxID")
        name = notes.get("io.kubernetes.container.name")
        try:
            raw = json.loads(notes.get("io.kubernetes.cri-o.Labels", "{}"))
            labels = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        except ValueError:
            labels = {}
    out: dict[str, Any] = {
        "container.full_id": full_id,
        "container.type": kind,
        "container.name": name,
    }
    if image:
        repository, tag, digest = split_image(image)
        out.update(
            {
                "container.image": image,
                "container.image.repository": repository,
                "container.image.tag": tag,
                "container.image.digest": digest,
            }
        )
    mounts = []
    for mount in data.get("mounts") or ():
        if isinstance(mount, dict):
            options = [str(o) for o in mount.get("options") or ()]
            propagation = next(
                (
                    o
                    for o in options
                    if o.endswith("private") or o.endswith("shared") or o.endswith("slave")
                ),
                "",
            )
            mounts.append(
                (
                    str(mount.get("source", "")),
                    str(mount.get("destination", "")),
                    "",
                    "false" if "ro" in options else "true",
                    propagation,
                )
            )
    out["container.mount"] = mounts
    out["container.label"] = labels
    if pod:
        out["k8s.pod.name"], out["k8s.ns.name"], out["k8s.pod.uid"] = pod, namespace, uid
        out["k8s.pod.label"] = labels
        if sandbox:
            out["k8s.pod.full_sandbox_id"], out["k8s.pod.sandbox_id"] = sandbox, sandbox[:12]
    return out
