"""Read an image from a running Docker daemon through the Engine API (DOCKER_HOST).

The daemon only exports whole images (`GET /images/{name}/get`, a `docker save` tar) and the
walker needs random access to layers (it reads the top layer first), so the export is streamed
into a temp file in the cache dir, read in place by docker_archive, and deleted when the Image
is closed.

Decision: `manifest_digest` comes from the inspect's RepoDigests, which are registry digests
("repo@sha256:..."): the one whose repository is the one the user named, else the only distinct
digest listed; None when there is none or the choice is ambiguous (a local build, an image
tagged into several repositories with different digests, a bare image ID).
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from kubeward.artifact import docker_archive
from kubeward.artifact.image import Image
from kubeward.errors import ArtifactError

DEFAULT_HOST = "unix:///var/run/docker.sock"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0  # a large export can go quiet while the daemon assembles layers
CHUNK = 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,511}")


def _client(host: str) -> tuple[httpx.Client, str]:
    """An httpx client for DOCKER_HOST and the base URL to use with it."""
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    url = urlsplit(host)
    if url.scheme == "unix":
        if not url.path:
            raise ArtifactError(f"DOCKER_HOST={host} names no socket path")
        transport = httpx.HTTPTransport(uds=url.path)
        return httpx.Client(transport=transport, timeout=timeout), "http://docker"
    if url.scheme in ("tcp", "http", "https") and url.hostname:
        tls = url.scheme == "https" or bool(os.environ.get("DOCKER_TLS_VERIFY"))
        address = f"{url.hostname}:{url.port or (2376 if tls else 2375)}"
        if tls:
            certs = Path(os.environ.get("DOCKER_CERT_PATH") or Path.home() / ".docker")
            context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
            context.load_cert_chain(str(certs / "cert.pem"), str(certs / "key.pem"))
            return httpx.Client(verify=context, timeout=timeout), f"https://{address}"
        return httpx.Client(timeout=timeout), f"http://{address}"
    raise ArtifactError(f"DOCKER_HOST={host} is not supported (use unix:// or tcp://)")


def _repository(ref: str) -> str:
    ref = ref.partition("@")[0]
    head, _, last = ref.rpartition("/")
    if ":" in last:
        ref = f"{head}/{last.rpartition(':')[0]}" if head else last.rpartition(":")[0]
    return docker_archive.familiar(ref).rpartition(":")[0]


def repo_digest(name: str, repo_digests: list[str]) -> str | None:
    """The registry manifest digest for `name` among an inspect's RepoDigests."""
    pairs = [d.rpartition("@")[::2] for d in repo_digests if "@sha256:" in d]
    mine = {digest for repo, digest in pairs if _repository(repo) == _repository(name)}
    if len(mine) == 1:
        return mine.pop()
    every = {digest for _, digest in pairs}
    return every.pop() if not mine and len(every) == 1 else None


def _error(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
    except ValueError:
        message = response.text
    return " ".join(message.split())[:200]


def open_image(name: str, cache_dir: Path, host: str | None = None) -> Image:
    """The image `name` (tag, name@digest or ID) from the Docker daemon at DOCKER_HOST."""
    if not _NAME.fullmatch(name) or {".", ".."} & set(name.split("/")):
        raise ArtifactError(f"{name!r} is not a valid Docker image name or ID")
    host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    try:
        client, base = _client(host)
    except (OSError, ssl.SSLError) as e:
        raise ArtifactError(f"cannot set up TLS for DOCKER_HOST={host}: {e}") from None
    path = quote(name, safe="/:@")
    with client:
        try:
            ping = client.get(f"{base}/_ping")
        except httpx.HTTPError as e:
            raise ArtifactError(
                f"cannot reach the Docker daemon at DOCKER_HOST={host}: "
                f"{' '.join(str(e).split()) or type(e).__name__}"
            ) from None
        if ping.status_code != 200:
            raise ArtifactError(
                f"the Docker daemon at DOCKER_HOST={host} answered {ping.status_code} to /_ping"
            )
        try:
            inspect = client.get(f"{base}/images/{path}/json")
            if inspect.status_code == 404:
                raise ArtifactError(f"image {name!r} not found in the Docker daemon ({host})")
            if inspect.status_code != 200:
                raise ArtifactError(
                    f"the Docker daemon could not inspect {name!r}: {inspect.status_code} "
                    f"{_error(inspect)}"
                )
            try:
                info = inspect.json()
            except ValueError:
                info = None
            if not isinstance(info, dict):
                raise ArtifactError(f"the Docker daemon's inspect of {name!r} is not an object")
            cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix="docker-save-", suffix=".tar", dir=cache_dir)
            try:
                with (
                    os.fdopen(fd, "wb") as out,
                    client.stream("GET", f"{base}/images/{path}/get") as response,
                ):
                    if response.status_code != 200:
                        response.read()
                        raise ArtifactError(
                            f"the Docker daemon could not export {name!r}: "
                            f"{response.status_code} {_error(response)}"
                        )
                    for chunk in response.iter_raw(CHUNK):
                        out.write(chunk)
                image = docker_archive.open_image(Path(tmp), name=name)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        except httpx.HTTPError as e:
            raise ArtifactError(
                f"the Docker daemon at DOCKER_HOST={host} failed while reading {name!r}: "
                f"{' '.join(str(e).split()) or type(e).__name__}"
            ) from None

    tags = info.get("RepoTags")
    digests = info.get("RepoDigests")
    image.kind = "docker-daemon"
    image.repo_tags = tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
    image.manifest_digest = (
        repo_digest(name, [d for d in digests if isinstance(d, str)])
        if isinstance(digests, list)
        else None
    )
    image.closers.append(lambda: _remove(tmp))
    return image


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
