"""Pull an image from an OCI Distribution (v2) registry into the blob cache.

Registries and their manifests are strangers: every manifest and blob is checked against the
digest that named it (and held to a size cap) before anything reads it, auth behaves as docker's
does (anonymous first, then a Bearer token or Basic credentials from the options or the docker
config.json), and every failure a user can meet becomes a one-line RegistryError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from kubeward import __version__
from kubeward.artifact.cache import BlobCache, sha256_hex
from kubeward.artifact.image import Image, Layer, layers_from_config
from kubeward.artifact.reference import DIGEST_HEX_LENGTHS, Reference
from kubeward.errors import ArtifactError, DigestMismatchError, RegistryError, UsageError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_SCHEMA1 = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
_IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
_INDEXES = frozenset({OCI_INDEX, DOCKER_LIST})
_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST))
_DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_CHUNK = 256 * 1024
_SMALL_BODY = 1024 * 1024  # token and error responses

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    platform: str = "linux/amd64"  # "os/arch[/variant]": which image of a multi-arch index
    insecure: bool = False  # plain HTTP instead of HTTPS
    username: str | None = None  # explicit credentials win over the docker config
    password: str | None = None
    docker_config: Path | None = None  # None: $DOCKER_CONFIG/config.json or ~/.docker/config.json
    timeout: float = 30.0  # seconds, per connect / read / write
    max_manifest_bytes: int = 4 * 1024 * 1024
    max_config_bytes: int = 16 * 1024 * 1024
    max_blob_bytes: int = 10 * 1024**3
    max_layers: int = 1000


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm"}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}  # containerd's defaults when none is given


def normalise_platform(os_name: str, architecture: str, variant: str = "") -> Platform:
    arch = _ARCH_ALIASES.get(architecture.lower(), architecture.lower())
    var = variant.lower() or _DEFAULT_VARIANT.get(arch, "")
    if arch == "amd64" and var == "v1":
        var = ""
    return Platform(os_name.lower(), arch, var)


def parse_platform(text: str) -> Platform:
    parts = text.split("/")
    if not 2 <= len(parts) <= 3 or not all(re.fullmatch(r"[A-Za-z0-9_.-]+", p) for p in parts):
        raise UsageError(f"invalid platform {text!r}: want os/arch[/variant], e.g. linux/arm64")
    return normalise_platform(*parts)


@dataclass(frozen=True, slots=True)
class _Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...]
    platform: Platform | None


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


class _Session:
    """One repository on one registry: auth state, error mapping, streamed GETs."""

    def __init__(self, ref: Reference, options: RegistryOptions) -> None:
        import httpx

        self.ref = ref
        self.options = options
        self.host = ref.registry
        self.domain = ref.domain
        scheme = "http" if options.insecure else "https"
        self.base = f"{scheme}://{self.host}/v2/{ref.repository}"
        self.credentials = find_credentials(self.host, options)
        self.authorization: str | None = None
        self.sent_credentials = False
        self.http = httpx.Client(
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=True,  # blobs redirect to storage; httpx drops Authorization there
            # identity: what we hash must be the bytes as published (and no decompression bombs)
            headers={"User-Agent": f"kubeward/{__version__}", "Accept-Encoding": "identity"},
        )

    def close(self) -> None:
        self.http.close()

    # -- transport ---------------------------------------------------------------------------

    def _send(self, request: httpx.Request) -> httpx.Response:
        import httpx

        try:
            return self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, request.url.netloc.decode("ascii")) from None

    def _transport_error(self, exc: Exception, host: str | None = None) -> RegistryError:
        import ssl

        import httpx

        where = host or self.host
        cause: BaseException | None = exc
        for _ in range(10):  # the chain is short; the bound only guards against cycles
            if cause is None or isinstance(cause, ssl.SSLError):
                break
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, ssl.SSLError) or "SSL" in str(exc) or "certificate" in str(exc):
            return RegistryError(
                f"TLS connection to {where} failed ({_one_line(str(cause or exc), 120)}); "
                "if this registry serves plain HTTP, use --insecure"
            )
        if isinstance(exc, httpx.TimeoutException):
            return RegistryError(
                f"registry {where} did not answer within {self.options.timeout:g} s"
            )
        if isinstance(exc, httpx.ConnectError):
            return RegistryError(f"cannot connect to registry {where}: {_one_line(str(exc), 120)}")
        if isinstance(exc, httpx.TooManyRedirects):
            return RegistryError(f"registry {where} redirected too many times")
        return RegistryError(f"error talking to registry {where}: {_one_line(str(exc), 120)}")

    def iter_body(self, response: httpx.Response, raw: bool = False) -> Iterator[bytes]:
        import httpx

        try:
            if raw:
                yield from response.iter_raw(_CHUNK)
            else:
                yield from response.iter_bytes(_CHUNK)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, response.url.netloc.decode("ascii")) from None

    def read_capped(self, response: httpx.Response, cap: int, what: str) -> bytes:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            raise RegistryError(f"{what} is {int(length)} bytes, over the {cap} byte limit")
        body = bytearray()
        for chunk in self.iter_body(response):
            body += chunk
            if len(body) > cap:
                raise RegistryError(f"{what} is over the {cap} byte limit")
        return bytes(body)

    def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET with docker's auth dance: anonymous (or cached auth) first, one re-auth on 401.

        The response is streamed and not status-checked; the caller closes it.
        """
        reauthenticated = False
        while True:
            request_headers = dict(headers or {})
            if self.authorization:
                request_headers["Authorization"] = self.authorization
            response = self._send(self.http.build_request("GET", url, headers=request_headers))
            if response.status_code != 401 or reauthenticated:
                return response
            challenge = response.headers.get("www-authenticate", "")
            response.close()
            self._authenticate(challenge)
            reauthenticated = True

    # -- auth --------------------------------------------------------------------------------

    def _authenticate(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        if scheme == "bearer":
            realm = params.get("realm", "")
            if not realm.startswith(("https://", "http://")):
                raise RegistryError(f"registry {self.domain} sent a Bearer challenge without realm")
            scope = params.get("scope") or f"repository:{self.ref.repository}:pull"
            self.authorization = "Bearer " + self._fetch_token(realm, params.get("service"), scope)
        elif scheme == "basic":
            if self.credentials is None:
                raise self._auth_required()
            self.authorization = self._basic_header()
            self.sent_credentials = True
        else:
            shown = _one_line(scheme or challenge or "none", 40)
            raise RegistryError(
                f"registry {self.domain} asks for unsupported authentication ({shown})"
            )

    def _basic_header(self) -> str:
        user, password = self.credentials or ("", "")
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _auth_required(self) -> RegistryError:
        return RegistryError(
            f"registry {self.domain} requires authentication to pull {self.ref.repository}: "
            "pass --username/--password or log in with docker login"
        )

    def _auth_failed(self) -> RegistryError:
        return RegistryError(
            f"authentication failed for {self.domain}: "
            f"credentials refused for {self.ref.repository}"
        )

    def _fetch_token(self, realm: str, service: str | None, scope: str) -> str:
        import httpx

        params = {"scope": scope}
        if service:
            params["service"] = service
        headers: dict[str, str] = {}
        if self.credentials is not None:
            headers["Authorization"] = self._basic_header()
            self.sent_credentials = True
        try:
            request = self.http.build_request("GET", realm, params=params, headers=headers)
        except httpx.InvalidURL:
            shown = _one_line(realm, 80)
            raise RegistryError(
                f"registry {self.domain} sent an invalid token realm {shown}"
            ) from None
        response = self._send(request)
        try:
            if response.status_code in (401, 403):
                raise self._auth_failed() if self.credentials else self._auth_required()
            if response.status_code != 200:
                raise RegistryError(
                    f"token server for {self.domain} answered {response.status_code} "
                    f"{response.reason_phrase}"
                )
            body = self.read_capped(response, _SMALL_BODY, f"token from {request.url.host}")
        finally:
            response.close()
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise RegistryError(f"token server for {self.domain} sent no usable token")
        return token

    # -- status ------------------------------------------------------------------------------

    def check(self, response: httpx.Response, what: str) -> None:
        """Turn any non-2xx answer into a one-line RegistryError (404 is the caller's)."""
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 401:
            raise self._auth_failed() if self.sent_credentials else self._auth_required()
        if status == 403:
            raise RegistryError(f"access to {self.ref.repository} denied by {self.domain} (403)")
        if status == 429:
            raise RegistryError(
                f"registry {self.domain} is rate limiting pulls (429 Too Many Requests); "
                "wait and retry, or log in for a higher limit"
            )
        detail = self._error_detail(response)
        raise RegistryError(
            f"registry {self.domain} answered {status} {response.reason_phrase} for {what}"
            + (f": {detail}" if detail else "")
        )

    def _error_detail(self, response: httpx.Response) -> str:
        try:
            body = self.read_capped(response, 64 * 1024, "error body")
            errors = json.loads(body).get("errors")
            first = errors[0]
            return _one_line(f"{first.get('code', '')} {first.get('message', '')}".strip(), 160)
        except (ArtifactError, ValueError, RecursionError, AttributeError, TypeError, IndexError):
            return ""


_CHALLENGE_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """("bearer", {"realm": ..., "service": ..., "scope": ...}) from a WWW-Authenticate value."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params.setdefault(match.group(1).lower(), value)
    return scheme.lower(), params


_warned_helpers = False


def _docker_config_path(options: RegistryOptions) -> Path:
    if options.docker_config is not None:
        return options.docker_config
    env = os.environ.get("DOCKER_CONFIG")
    if env:
        return Path(env) / "config.json"
    return Path.home() / ".docker" / "config.json"


def _auth_key_host(key: str) -> str:
    host = key.strip().lower()
    for prefix in ("https://", "http://"):
        host = host.removeprefix(prefix)
    return host.split("/", 1)[0]


def find_credentials(host: str, options: RegistryOptions) -> tuple[str, str] | None:
    """Explicit options first, then `auths` in the docker config.json; None for anonymous."""
    global _warned_helpers  # noqa: PLW0603 - warn once per process, not once per pull
    if options.username is not None:
        return options.username, options.password or ""
    path = _docker_config_path(options)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        log.warning("ignoring unreadable docker config %s: %s", path, _one_line(str(exc), 120))
        return None
    if not isinstance(data, dict):
        return None
    wanted = _DOCKER_HUB_HOSTS if host.lower() in _DOCKER_HUB_HOSTS else {host.lower()}
    auths = data.get("auths")
    for key, entry in (auths if isinstance(auths, dict) else {}).items():
        if not isinstance(key, str) or not isinstance(entry, dict):
            continue
        if _auth_key_host(key) not in wanted:
            continue
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                user, sep, password = (
                    base64.b64decode(encoded, validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                sep = ""
            if sep:
                return user, password
            log.warning("ignoring malformed auth for %s in %s", key, path)
        name, secret = entry.get("username"), entry.get("password")
        if isinstance(name, str) and name:
            return name, secret if isinstance(secret, str) else ""
    helpers = data.get("credHelpers")
    uses_helper = bool(data.get("credsStore")) or (
        isinstance(helpers, dict) and any(_auth_key_host(str(k)) in wanted for k in helpers)
    )
    if uses_helper and not _warned_helpers:
        _warned_helpers = True
        log.warning(
            "docker credential helpers are not supported; pulling from %s anonymously "
            "(pass --username/--password to authenticate)",
            host,
        )
    return None


# -- manifests ---------------------------------------------------------------------------------


def _verify_bytes(body: bytes, digest: str, what: str) -> None:
    algorithm, _, expected = digest.partition(":")
    actual = hashlib.new(algorithm, body).hexdigest()
    if actual != expected:
        raise DigestMismatchError(
            f"{what} does not match its digest: expected {digest}, got {algorithm}:{actual}"
        )


def _fetch_manifest(
    session: _Session, target: str, expected_digest: str | None, what: str
) -> tuple[dict[str, Any], str, str]:
    """(manifest JSON, media type, digest of the bytes received), digest-verified."""
    response = session.get(f"{session.base}/manifests/{target}", headers={"Accept": _ACCEPT})
    try:
        if response.status_code == 404:
            raise RegistryError(f"manifest unknown: {what} not found on {session.domain}")
        session.check(response, f"the manifest of {what}")
        body = session.read_capped(
            response, session.options.max_manifest_bytes, f"the manifest of {what}"
        )
        header_digest = response.headers.get("docker-content-digest", "").strip()
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
    finally:
        response.close()

    if expected_digest is not None:
        _verify_bytes(body, expected_digest, f"the manifest of {what}")
        digest = expected_digest
    else:
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
    # The header is only a cross-check: what we hashed ourselves is what we trust.
    if header_digest:
        algorithm = header_digest.partition(":")[0]
        if algorithm in DIGEST_HEX_LENGTHS:
            _verify_bytes(body, header_digest, f"the manifest of {what} (Docker-Content-Digest)")

    try:
        manifest = json.loads(body)
    except (ValueError, RecursionError):
        raise RegistryError(f"the manifest of {what} is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise RegistryError(f"the manifest of {what} is not a JSON object")
    media_type = manifest.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        media_type = content_type
    if manifest.get("schemaVersion") == 1 or media_type in _SCHEMA1:
        raise RegistryError(
            f"{what} has a Docker schema 1 manifest, which is deprecated and not supported; "
            "re-push the image with a current client"
        )
    if media_type not in _IMAGE_MANIFESTS | _INDEXES:
        if "manifests" in manifest and "layers" not in manifest:
            media_type = OCI_INDEX
        elif (
            "config" in manifest and "layers" in manifest and media_type in ("", "application/json")
        ):
            media_type = OCI_MANIFEST
        else:
            raise RegistryError(
                f"{what} is not a container image "
                f"(manifest media type {_one_line(media_type, 80)!r})"
            )
    return manifest, media_type, digest


def _descriptor(raw: object, what: str) -> _Descriptor:
    if not isinstance(raw, dict):
        raise RegistryError(f"{what} is not a descriptor object")
    digest = raw.get("digest")
    try:
        sha256_hex(digest if isinstance(digest, str) else "")
    except ArtifactError:
        shown = _one_line(repr(digest), 100)
        raise RegistryError(
            f"{what} names an invalid or unsupported digest {shown} (want sha256:<64 hex>)"
        ) from None
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RegistryError(f"{what} ({digest}) has an invalid size {_one_line(repr(size), 40)}")
    media_type = raw.get("mediaType")
    urls = raw.get("urls") or ()
    if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
        raise RegistryError(f"{what} ({digest}) has invalid urls")
    platform = None
    plat = raw.get("platform")
    if isinstance(plat, dict):
        platform = normalise_platform(
            str(plat.get("os", "")), str(plat.get("architecture", "")), str(plat.get("variant", ""))
        )
    return _Descriptor(
        media_type if isinstance(media_type, str) else "", str(digest), size, tuple(urls), platform
    )


def _choose_platform(index: dict[str, Any], wanted: Platform, what: str) -> _Descriptor:
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise RegistryError(f"the image index of {what} has no manifests list")
    available: list[str] = []
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict) or not isinstance(raw.get("platform"), dict):
            continue
        desc = _descriptor(raw, f"entry {i} of the image index of {what}")
        if desc.platform is None or desc.platform.os in ("", "unknown"):
            continue  # attestations and other non-image entries
        if desc.platform == wanted:
            if desc.media_type in _INDEXES:
                raise RegistryError(f"{what} nests image indexes, which is not supported")
            return desc
        available.append(str(desc.platform))
    listed = ", ".join(sorted(set(available))) or "none"
    raise RegistryError(f"{what} has no image for platform {wanted}; available: {listed}")


# -- blobs -------------------------------------------------------------------------------------


def _progress_chunks(
    chunks: Iterator[bytes], progress: Progress | None, label: str, total: int
) -> Iterator[bytes]:
    done = 0
    if progress:
        progress(label, 0, total)
    for chunk in chunks:
        done += len(chunk)
        if progress:
            progress(label, done, total)
        yield chunk


def _fetch_blob(
    session: _Session,
    cache: BlobCache,
    desc: _Descriptor,
    *,
    cap: int,
    what: str,
    label: str,
    progress: Progress | None,
) -> Path:
    if desc.size > cap:
        raise RegistryError(
            f"{what} ({desc.digest}) is {desc.size} bytes, over the {cap} byte limit"
        )
    if cache.has(desc.digest):
        if progress:
            progress(label, desc.size, desc.size)
        return cache.path(desc.digest)
    response = session.get(f"{session.base}/blobs/{desc.digest}")
    try:
        if response.status_code == 404:
            raise RegistryError(
                f"{what} ({desc.digest}) named by the manifest is missing on {session.domain}"
            )
        session.check(response, f"{what} ({desc.digest})")
        # Raw bytes: a storage backend's Content-Encoding must not change what gets hashed.
        chunks = _progress_chunks(session.iter_body(response, raw=True), progress, label, desc.size)
        return cache.store(desc.digest, chunks, cap, size=desc.size)
    except DigestMismatchError as exc:
        raise DigestMismatchError(f"{what} from {session.domain}: {exc}") from None
    except RegistryError:
        raise
    except ArtifactError as exc:
        raise RegistryError(f"{what} from {session.domain}: {exc}") from None
    finally:
        response.close()


def _opener(path: Path) -> Callable[[], BinaryIO]:
    def open_blob() -> BinaryIO:
        return path.open("rb")

    return open_blob


def _image_from_manifest(
    session: _Session,
    cache: BlobCache,
    manifest: dict[str, Any],
    what: str,
    progress: Progress | None,
) -> tuple[dict[str, Any], str, list[Layer]]:
    options = session.options
    config_desc = _descriptor(manifest.get("config"), f"the config of {what}")
    if config_desc.media_type not in _CONFIGS:
        shown = _one_line(config_desc.media_type or "none", 80)
        raise RegistryError(f"{what} is not a container image (config media type {shown!r})")
    raw_layers = manifest.get("layers")
    if not isinstance(raw_layers, list):
        raise RegistryError(f"the manifest of {what} has no layers list")
    if len(raw_layers) > options.max_layers:
        raise RegistryError(
            f"{what} has {len(raw_layers)} layers, over the limit of {options.max_layers}"
        )
    count = len(raw_layers)
    layer_descs = [
        _descriptor(raw, f"layer {i}/{count} of {what}") for i, raw in enumerate(raw_layers, 1)
    ]
    for i, desc in enumerate(layer_descs, 1):
        if desc.urls:
            log.warning("%s has a foreign layer %s at %s", what, desc.digest, desc.urls[0])
            raise RegistryError(
                f"layer {i}/{count} of {what} ({desc.digest}) is a foreign (non-distributable) "
                f"layer served from {_one_line(desc.urls[0], 80)}; only layers the registry "
                "itself serves are pulled"
            )
        if desc.media_type.endswith("+encrypted"):
            raise RegistryError(f"layer {i}/{count} of {what} is encrypted, which is not supported")

    config_path = _fetch_blob(
        session,
        cache,
        config_desc,
        cap=options.max_config_bytes,
        what=f"the config of {what}",
        label=f"config {config_desc.digest[7:19]}",
        progress=progress,
    )
    try:
        config = json.loads(config_path.read_bytes())
    except (ValueError, RecursionError):
        raise RegistryError(f"the config of {what} is not valid JSON") from None
    if not isinstance(config, dict):
        raise RegistryError(f"the config of {what} is not a JSON object")
    try:
        pairs = layers_from_config(config, [(d.digest, d.size, d.media_type) for d in layer_descs])
    except ValueError as exc:
        raise RegistryError(f"{what}: {exc}") from None

    layers: list[Layer] = []
    for i, (desc, (diff_id, created_by)) in enumerate(zip(layer_descs, pairs, strict=True), 1):
        path = _fetch_blob(
            session,
            cache,
            desc,
            cap=options.max_blob_bytes,
            what=f"layer {i}/{count} of {what}",
            label=f"layer {i}/{count} {desc.digest[7:19]}",
            progress=progress,
        )
        layers.append(
            Layer(
                diff_id=diff_id,
                open=_opener(path),
                digest=desc.digest,
                size=desc.size,
                media_type=desc.media_type,
                verified=True,
                created_by=created_by,
            )
        )
    return config, config_desc.digest, layers


def open_image(
    ref: Reference,
    options: RegistryOptions,
    cache: BlobCache,
    progress: Progress | None = None,
) -> Image:
    """Resolve `ref` (choosing `options.platform` from an index), pull config and layers into
    `cache` (skipping blobs already there) and return the verified image."""
    wanted = parse_platform(options.platform)
    what = str(ref)
    session = _Session(ref, options)
    try:
        manifest, media_type, digest = _fetch_manifest(session, ref.pull_target, ref.digest, what)
        if media_type in _INDEXES:
            entry = _choose_platform(manifest, wanted, what)
            child = f"{what} ({wanted})"
            manifest, media_type, digest = _fetch_manifest(
                session, entry.digest, entry.digest, child
            )
            if media_type not in _IMAGE_MANIFESTS:
                raise RegistryError(f"the {wanted} entry of {what} is not an image manifest")
        config, config_digest, layers = _image_from_manifest(
            session, cache, manifest, what, progress
        )
    finally:
        session.close()
    return Image(
        name=what,
        kind="registry",
        config=config,
        layers=layers,
        config_digest=config_digest,
        manifest_digest=digest,
        repo_tags=(f"{ref.name}:{ref.tag}",) if ref.tag else (),
    )
