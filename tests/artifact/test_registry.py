"""Pulls against a real docker-registry (distribution 2.8), plus a tiny in-test HTTP server for
what a well-behaved registry never sends (Bearer challenges, hostile or broken manifests)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard

import imagebuild as ib
import peers
from kubeward.artifact import registry as registry_module
from kubeward.artifact.cache import BlobCache
from kubeward.artifact.image import Image
from kubeward.artifact.reference import parse_reference
from kubeward.artifact.registry import RegistryOptions, open_image
from kubeward.errors import DigestMismatchError, RegistryError, UsageError

USER, PASSWORD = "alice", "s3cret-pw"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peers.Registry]:
    with peers.start_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peers.Registry]:
    with peers.start_registry(tmp_path_factory.mktemp("auth"), auth=(USER, PASSWORD)) as reg:
        yield reg


@pytest.fixture
def cache(tmp_path: Path) -> BlobCache:
    return BlobCache(tmp_path / "cache")


def opts(tmp_path: Path, **kw: Any) -> RegistryOptions:
    # never read the real ~/.docker/config.json
    kw.setdefault("docker_config", tmp_path / "no-docker-config.json")
    return RegistryOptions(insecure=True, **kw)


def pull(text: str, tmp_path: Path, cache: BlobCache, **kw: Any) -> Image:
    return open_image(parse_reference(text), opts(tmp_path, **kw), cache)


def build(tmp_path: Path, salt: str, compression: str = "gzip", **kw: Any) -> ib.BuiltImage:
    """A 3-layer image whose blobs are unique to `salt` (so tests can damage them freely)."""
    layers = [
        [ib.dir_("etc"), ib.file("etc/os-release", f"ID={salt}\n")],
        [ib.dir_("app"), ib.file("app/data.bin", (salt * 5000).encode())],
        [ib.whiteout("etc/os-release"), ib.file("app/run.sh", "#!/bin/sh\n", 0o755)],
    ]
    return ib.write_oci_layout(
        tmp_path / f"layout-{salt}", layers, tag="v1", compression=compression, **kw
    )


def blob(built: ib.BuiltImage, digest: str) -> bytes:
    return (built.layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def decompress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.decompress(data)
    if compression == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def cache_is_clean(cache: BlobCache) -> bool:
    """Every file in the cache is a complete blob named by its own digest."""
    files = [p for p in cache.root.rglob("*") if p.is_file()]
    return all(
        p.parent == cache.blob_dir and sha(p.read_bytes()) == f"sha256:{p.name}" for p in files
    )


# -- real registry: formats, platforms, digests ------------------------------------------------


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_pull_exact_digests_and_bytes(
    registry: peers.Registry, tmp_path: Path, cache: BlobCache, compression: str
) -> None:
    built = build(tmp_path, f"pull-{compression}", compression)
    ref = peers.push(built.layout, "v1", registry, f"ns/img-{compression}")
    seen: list[tuple[str, int, int | None]] = []
    image = open_image(parse_reference(ref), opts(tmp_path), cache, lambda *a: seen.append(a))

    assert image.kind == "registry"
    assert image.name == ref == f"{registry.host}/ns/img-{compression}:v1"
    assert image.repo_tags == (ref,)
    assert image.manifest_digest == built.manifest_digest
    assert image.config_digest == built.config_digest
    assert image.config == json.loads(blob(built, built.config_digest))
    assert [layer.diff_id for layer in image.layers] == built.diff_ids
    assert [layer.digest for layer in image.layers] == built.layer_digests
    assert [layer.created_by for layer in image.layers] == [
        "kubeward-test layer 0",
        "kubeward-test layer 1",
        "kubeward-test layer 2",
    ]
    for layer, diff_id in zip(image.layers, built.diff_ids, strict=True):
        assert layer.digest is not None
        assert layer.verified is True
        assert layer.media_type == ib.LAYER_MEDIA[compression]
        with layer.open() as stream:
            data = stream.read()
        assert data == blob(built, layer.digest)
        assert layer.size == len(data)
        assert sha(decompress(data, compression)) == diff_id
    # progress: one start and one finish per blob, in pull order, with exact sizes
    finals = [(what.split()[0], done, total) for what, done, total in seen if done == total]
    sizes = [len(blob(built, d)) for d in [built.config_digest, *built.layer_digests]]
    assert finals == [
        ("config", sizes[0], sizes[0]),
        *[("layer", s, s) for s in sizes[1:]],
    ]
    assert cache_is_clean(cache)


def test_cached_blobs_are_not_downloaded_again(
    registry: peers.Registry, tmp_path: Path, cache: BlobCache
) -> None:
    built = build(tmp_path, "cached")
    ref = peers.push(built.layout, "v1", registry, "ns/cached")
    first = pull(ref, tmp_path, cache)
    # the registry loses the blobs; the cache alone must serve them now
    for digest in [built.config_digest, *built.layer_digests]:
        registry.blob_path(digest).unlink()
    again = pull(ref, tmp_path, cache)
    assert [layer.digest for layer in again.layers] == built.layer_digests
    assert again.layers[1].open().read() == first.layers[1].open().read()
    assert again.manifest_digest == built.manifest_digest


@pytest.fixture(scope="module")
def multiarch(
    registry: peers.Registry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ib.BuiltImage, str, str, str]:
    """(built amd64 image, index digest, arm64 manifest digest, pushed ref)."""
    tmp = tmp_path_factory.mktemp("multiarch")
    built = build(
        tmp,
        "multi",
        extra_platforms=[("arm64", [[ib.file("arch", "arm64\n")]])],
    )
    top = json.loads((built.layout / "index.json").read_text())["manifests"][0]
    index = json.loads(blob(built, top["digest"]))
    arm = [m for m in index["manifests"] if m["platform"]["architecture"] == "arm64"]
    ref = peers.push(built.layout, "v1", registry, "ns/multi", all=True)
    return built, top["digest"], arm[0]["digest"], ref


def test_index_default_platform_is_linux_amd64(
    multiarch: tuple[ib.BuiltImage, str, str, str], tmp_path: Path, cache: BlobCache
) -> None:
    built, _, _, ref = multiarch
    image = pull(ref, tmp_path, cache)
    assert image.manifest_digest == built.manifest_digest
    assert image.config_digest == built.config_digest
    assert image.config["architecture"] == "amd64"
    assert [layer.diff_id for layer in image.layers] == built.diff_ids


@pytest.mark.parametrize("platform", ["linux/arm64", "linux/arm64/v8", "linux/aarch64"])
def test_index_arm64(
    multiarch: tuple[ib.BuiltImage, str, str, str],
    tmp_path: Path,
    cache: BlobCache,
    platform: str,
) -> None:
    _, _, arm_digest, ref = multiarch
    image = pull(ref, tmp_path, cache, platform=platform)
    assert image.manifest_digest == arm_digest
    assert image.config["architecture"] == "arm64"
    assert [layer.diff_id for layer in image.layers] == [
        sha(ib.layer_tar([ib.file("arch", "arm64\n")]))
    ]


def test_index_without_the_platform_lists_what_it_has(
    multiarch: tuple[ib.BuiltImage, str, str, str], tmp_path: Path, cache: BlobCache
) -> None:
    ref = multiarch[3]
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache, platform="linux/s390x")
    assert str(info.value) == (
        f"{ref} has no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8"
    )
    with pytest.raises(UsageError) as usage:
        pull(ref, tmp_path, cache, platform="linux")
    assert str(usage.value) == "invalid platform 'linux': want os/arch[/variant], e.g. linux/arm64"


def test_pull_by_digest(
    multiarch: tuple[ib.BuiltImage, str, str, str], tmp_path: Path, cache: BlobCache
) -> None:
    built, index_digest, arm_digest, _ = multiarch
    repo = multiarch[3].rsplit(":", 1)[0]
    by_manifest = pull(f"{repo}@{built.manifest_digest}", tmp_path, cache)
    assert by_manifest.manifest_digest == built.manifest_digest
    assert by_manifest.repo_tags == ()
    assert by_manifest.name == f"{repo}@{built.manifest_digest}"
    by_index = pull(f"{repo}@{index_digest}", tmp_path, cache, platform="linux/arm64")
    assert by_index.manifest_digest == arm_digest
    # tag and digest: the digest is what gets pulled, the tag is kept for display
    both = pull(f"{repo}:whatever@{built.manifest_digest}", tmp_path, cache)
    assert both.manifest_digest == built.manifest_digest
    assert both.repo_tags == (f"{repo}:whatever",)


def test_unknown_tag_repo_and_digest(
    registry: peers.Registry,
    multiarch: tuple[ib.BuiltImage, str, str, str],
    tmp_path: Path,
    cache: BlobCache,
) -> None:
    host = registry.host
    for text in (
        f"{host}/ns/multi:nope",
        f"{host}/ns/nothing-here:v1",
        f"{host}/ns/multi@{sha(b'x')}",
    ):
        with pytest.raises(RegistryError) as info:
            pull(text, tmp_path, cache)
        assert str(info.value) == f"manifest unknown: {text} not found on {host}"


# -- real registry: damage ---------------------------------------------------------------------


def test_corrupt_blob_is_a_digest_mismatch_and_not_cached(
    registry: peers.Registry, tmp_path: Path, cache: BlobCache
) -> None:
    built = build(tmp_path, "corrupt")
    ref = peers.push(built.layout, "v1", registry, "ns/corrupt")
    victim = built.layer_digests[1]
    path = registry.blob_path(victim)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same length: only the hash can tell
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value) == (
        f"layer 2/3 of {ref} from {registry.host}: blob content does not match its digest: "
        f"expected {victim}, got {sha(bytes(data))}"
    )
    assert not cache.has(victim)
    assert cache_is_clean(cache)


def test_manifest_naming_a_missing_blob(
    registry: peers.Registry, tmp_path: Path, cache: BlobCache
) -> None:
    built = build(tmp_path, "missing")
    ref = peers.push(built.layout, "v1", registry, "ns/missing")
    victim = built.layer_digests[2]
    registry.blob_path(victim).unlink()
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value) == (
        f"layer 3/3 of {ref} ({victim}) named by the manifest is missing on {registry.host}"
    )
    assert cache_is_clean(cache)


def test_size_caps(registry: peers.Registry, tmp_path: Path, cache: BlobCache) -> None:
    built = build(tmp_path, "caps")
    ref = peers.push(built.layout, "v1", registry, "ns/caps")
    manifest_size = len(blob(built, built.manifest_digest))
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache, max_manifest_bytes=100)
    assert str(info.value) == (
        f"the manifest of {ref} is {manifest_size} bytes, over the 100 byte limit"
    )
    size = len(blob(built, built.layer_digests[1]))
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache, max_blob_bytes=size - 1)
    assert str(info.value) == (
        f"layer 2/3 of {ref} ({built.layer_digests[1]}) is {size} bytes, "
        f"over the {size - 1} byte limit"
    )
    assert not cache.has(built.layer_digests[1])


# -- real registry: Basic auth -----------------------------------------------------------------


@pytest.fixture(scope="module")
def private(
    auth_registry: peers.Registry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ib.BuiltImage, str]:
    built = build(tmp_path_factory.mktemp("private"), "private")
    return built, peers.push(
        built.layout, "v1", auth_registry, "ns/private", creds=(USER, PASSWORD)
    )


def test_basic_auth_with_options(
    private: tuple[ib.BuiltImage, str], tmp_path: Path, cache: BlobCache
) -> None:
    built, ref = private
    image = pull(ref, tmp_path, cache, username=USER, password=PASSWORD)
    assert image.manifest_digest == built.manifest_digest
    assert [layer.digest for layer in image.layers] == built.layer_digests


@pytest.mark.parametrize("style", ["auth", "fields", "url-key"])
def test_basic_auth_from_docker_config(
    private: tuple[ib.BuiltImage, str], tmp_path: Path, cache: BlobCache, style: str
) -> None:
    built, ref = private
    host = ref.split("/")[0]
    entry: dict[str, str] = (
        {"username": USER, "password": PASSWORD}
        if style == "fields"
        else {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    )
    key = f"http://{host}/v2/" if style == "url-key" else host
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {"other.example:5000": {"auth": "eDp5"}, key: entry}}))
    image = pull(ref, tmp_path, cache, docker_config=config)
    assert image.manifest_digest == built.manifest_digest


def test_docker_config_from_environment(
    private: tuple[ib.BuiltImage, str],
    tmp_path: Path,
    cache: BlobCache,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built, ref = private
    host = ref.split("/")[0]
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {host: {"username": USER, "password": PASSWORD}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    image = open_image(parse_reference(ref), RegistryOptions(insecure=True), cache)
    assert image.config_digest == built.config_digest


def test_basic_auth_refused(
    private: tuple[ib.BuiltImage, str], tmp_path: Path, cache: BlobCache
) -> None:
    _, ref = private
    host = ref.split("/")[0]
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache, username=USER, password="wrong")
    assert (
        str(info.value) == f"authentication failed for {host}: credentials refused for ns/private"
    )
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value) == (
        f"registry {host} requires authentication to pull ns/private: "
        "pass --username/--password or log in with docker login"
    )


def test_credential_helpers_warn_once_and_go_anonymous(
    private: tuple[ib.BuiltImage, str],
    tmp_path: Path,
    cache: BlobCache,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, ref = private
    monkeypatch.setattr(registry_module, "_warned_helpers", False)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {ref.split("/")[0]: {}}, "credsStore": "secretservice"}))
    caplog.set_level(logging.WARNING, logger="kubeward.artifact.registry")
    for _ in range(2):
        with pytest.raises(RegistryError, match="requires authentication"):
            pull(ref, tmp_path, cache, docker_config=config)
    helper_warnings = [r for r in caplog.records if "credential helpers" in r.getMessage()]
    assert len(helper_warnings) == 1


# -- transport errors ---------------------------------------------------------------------------


def test_connection_refused(tmp_path: Path, cache: BlobCache) -> None:
    host = f"127.0.0.1:{peers.free_port()}"
    with pytest.raises(RegistryError) as info:
        pull(f"{host}/ns/app:v1", tmp_path, cache)
    assert str(info.value) == f"cannot connect to registry {host}: [Errno 111] Connection refused"


def test_tls_to_a_plain_http_registry_suggests_insecure(
    registry: peers.Registry, tmp_path: Path, cache: BlobCache
) -> None:
    options = RegistryOptions(docker_config=tmp_path / "none.json")
    with pytest.raises(RegistryError) as info:
        open_image(parse_reference(f"{registry.host}/ns/x:v1"), options, cache)
    message = str(info.value)
    assert message.startswith(f"TLS connection to {registry.host} failed (")
    assert message.endswith("if this registry serves plain HTTP, use --insecure")


# -- a tiny server for what a real registry will not send --------------------------------------

Reply = tuple[int, dict[str, str], bytes]


class FakeServer:
    """Answers GETs with `handler(path, headers)`; records every request."""

    def __init__(self, handler: Callable[[str, dict[str, str]], Reply]) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append((self.path, headers))
                status, reply_headers, body = handler(self.path, headers)
                self.send_response(status)
                # "X-No-Length": send a close-delimited body (HTTP/1.0), size unknown up front
                close_delimited = reply_headers.pop("X-No-Length", None) is not None
                for key, value in reply_headers.items():
                    self.send_header(key, value)
                if not close_delimited:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer]]:
    servers: list[FakeServer] = []

    def start(handler: Callable[[str, dict[str, str]], Reply]) -> FakeServer:
        servers.append(FakeServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


TOKEN = "tok-123"


def test_bearer_token_flow_and_redirect_drops_authorization(
    registry: peers.Registry,
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
) -> None:
    """A token server in front of the real registry; blobs redirect to another origin."""
    built = build(tmp_path, "bearer")
    peers.push(built.layout, "v1", registry, "ns/app")
    port: list[int] = []

    def handle(path: str, headers: dict[str, str]) -> Reply:
        if path.startswith("/token?"):
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if headers.get("authorization") != expected:
                return 401, {}, b"{}"
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({"access_token": TOKEN}).encode(),
            )
        if path.startswith("/storage/"):  # reached through a redirect to another origin
            real = httpx.get(f"{registry.url}/v2/ns/app/blobs/{path.rsplit('/', 1)[1]}")
            return real.status_code, {}, real.content
        if headers.get("authorization") != f"Bearer {TOKEN}":
            challenge = (
                f'Bearer realm="http://127.0.0.1:{port[0]}/token",service="fake",'
                'scope="repository:ns/app:pull"'
            )
            return 401, {"WWW-Authenticate": challenge}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'
        if "/blobs/" in path:
            return (
                307,
                {"Location": f"http://localhost:{port[0]}/storage/{path.rsplit('/', 1)[1]}"},
                b"",
            )
        real = httpx.get(f"{registry.url}{path}", headers={"Accept": headers["accept"]})
        keep = {k: real.headers[k] for k in ("content-type", "docker-content-digest")}
        return real.status_code, keep, real.content

    server = fake(handle)
    port.append(server.port)
    ref = f"{server.host}/ns/app:v1"
    image = pull(ref, tmp_path, cache, username=USER, password=PASSWORD)
    assert image.manifest_digest == built.manifest_digest
    assert [layer.digest for layer in image.layers] == built.layer_digests
    assert image.layers[0].open().read() == blob(built, built.layer_digests[0])

    token_requests = [(p, h) for p, h in server.requests if p.startswith("/token")]
    assert len(token_requests) == 1  # the token is reused for every later request
    assert "scope=repository%3Ans%2Fapp%3Apull" in token_requests[0][0]
    assert "service=fake" in token_requests[0][0]
    storage = [h for p, h in server.requests if p.startswith("/storage/")]
    assert len(storage) == 4  # config + 3 layers
    assert all("authorization" not in h for h in storage)

    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, BlobCache(tmp_path / "c2"), username=USER, password="nope")
    assert str(info.value) == (
        f"authentication failed for {server.host}: credentials refused for ns/app"
    )
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, BlobCache(tmp_path / "c3"))
    assert str(info.value).startswith(f"registry {server.host} requires authentication")


@pytest.mark.parametrize(
    ("realm", "token_body", "message"),
    [
        ("/token", b'{"expires_in": 60}', "token server for {host} sent no usable token"),
        ("/token", b"<html>", "token server for {host} sent no usable token"),
        ("/token", b'{"token": "has space"}', "token server for {host} sent no usable token"),
        ("", b"", "registry {host} sent a Bearer challenge without realm"),
    ],
)
def test_unusable_token_answers(
    *,
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
    realm: str,
    token_body: bytes,
    message: str,
) -> None:
    port: list[int] = []

    def handle(path: str, headers: dict[str, str]) -> Reply:
        if path.startswith("/token"):
            return 200, {}, token_body
        where = f"http://127.0.0.1:{port[0]}{realm}" if realm else ""
        return 401, {"WWW-Authenticate": f'Bearer realm="{where}",service="s"'}, b""

    server = fake(handle)
    port.append(server.port)
    with pytest.raises(RegistryError) as info:
        pull(f"{server.host}/x/app:v1", tmp_path, cache)
    assert str(info.value) == message.format(host=server.host)
    # no scope in the challenge: we ask for pull on the repository we want
    tokens = [p for p, _ in server.requests if p.startswith("/token")]
    assert tokens == (["/token?scope=repository%3Ax%2Fapp%3Apull&service=s"] if realm else [])


def serve_manifest(
    manifest: bytes | dict[str, Any],
    blobs: dict[str, bytes] | None = None,
    headers: dict[str, str] | None = None,
    status: int = 200,
) -> Callable[[str, dict[str, str]], Reply]:
    body = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()

    def handle(path: str, _: dict[str, str]) -> Reply:
        if "/manifests/" in path:
            return status, {"Content-Type": ib.OCI_MANIFEST, **(headers or {})}, body
        digest = path.rsplit("/", 1)[1]
        if blobs and digest in blobs:
            return 200, {}, blobs[digest]
        return 404, {}, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}'

    return handle


CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": []}}).encode()
CONFIG_DESC = {"mediaType": ib.OCI_CONFIG, "digest": sha(CONFIG), "size": len(CONFIG)}


def manifest_with(
    layers: list[dict[str, Any]], config: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": ib.OCI_MANIFEST,
        "config": config or CONFIG_DESC,
        "layers": layers,
    }


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("sha256:../../etc", "'sha256:../../etc'"),
        ("sha256:" + "A" * 64, "'sha256:" + "A" * 64 + "'"),
        (None, "None"),
        ("sha512:" + "a" * 128, "'sha512:" + "a" * 92 + "..."),
    ],
)
def test_hostile_layer_digest_is_rejected_before_any_request(
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
    hostile: str | None,
    shown: str,
) -> None:
    server = fake(
        serve_manifest(
            manifest_with([{"mediaType": ib.LAYER_MEDIA["gzip"], "digest": hostile, "size": 3}])
        )
    )
    ref = f"{server.host}/x/app:v1"
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value) == (
        f"layer 1/1 of {ref} names an invalid or unsupported digest {shown} (want sha256:<64 hex>)"
    )
    assert [p for p, _ in server.requests] == ["/v2/x/app/manifests/v1"]
    assert not cache.root.exists()


def test_hostile_config_digest(
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
) -> None:
    server = fake(
        serve_manifest(manifest_with([], {**CONFIG_DESC, "digest": "sha256:../../../../tmp/x"}))
    )
    with pytest.raises(
        RegistryError,
        match=r"the config of .* names an invalid or unsupported digest 'sha256:\.\./",
    ):
        pull(f"{server.host}/x/app:v1", tmp_path, cache)


def test_huge_manifest_without_content_length(
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
) -> None:
    def endless(path: str, _: dict[str, str]) -> Reply:
        # HTTP/1.0 close-delimited body: the client only learns the size by reading it
        return 200, {"Content-Type": ib.OCI_MANIFEST, "X-No-Length": "1"}, b" " * (5 * 1024 * 1024)

    server = fake(endless)
    ref = f"{server.host}/x/app:v1"
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value) == f"the manifest of {ref} is over the 4194304 byte limit"


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"{not json", {}, 200, "the manifest of {ref} is not valid JSON"),
        (b"[1, 2]", {}, 200, "the manifest of {ref} is not a JSON object"),
        (b"[" * 100000, {}, 200, "the manifest of {ref} is not valid JSON"),
        (
            json.dumps({"schemaVersion": 1, "name": "x/app", "fsLayers": []}).encode(),
            {},
            200,
            "{ref} has a Docker schema 1 manifest, which is deprecated and not supported; "
            "re-push the image with a current client",
        ),
        (
            json.dumps(
                {"schemaVersion": 2, "mediaType": "application/vnd.oci.artifact.manifest.v1+json"}
            ).encode(),
            {},
            200,
            "{ref} is not a container image (manifest media type "
            "'application/vnd.oci.artifact.manifest.v1+json')",
        ),
        (
            b"{}",
            {"Docker-Content-Digest": "sha256:" + "0" * 64},
            200,
            "the manifest of {ref} (Docker-Content-Digest) does not match its digest: "
            "expected sha256:"
            + "0" * 64
            + ", got "
            + "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        ),
        (
            b"{}",
            {},
            429,
            "registry {host} is rate limiting pulls (429 Too Many Requests); "
            "wait and retry, or log in for a higher limit",
        ),
        (b"{}", {}, 403, "access to x/app denied by {host} (403)"),
        (
            b'{"errors":[{"code":"UNAVAILABLE","message":"try\\nlater"}]}',
            {},
            503,
            "registry {host} answered 503 Service Unavailable for the manifest of {ref}: "
            "UNAVAILABLE try later",
        ),
        (
            b"{}",
            {"WWW-Authenticate": 'Negotiate realm="x"'},
            401,
            "registry {host} asks for unsupported authentication (negotiate)",
        ),
    ],
)
def test_broken_manifests_and_statuses(
    *,
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
    body: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    server = fake(serve_manifest(body, headers=headers, status=status))
    ref = f"{server.host}/x/app:v1"
    error = DigestMismatchError if "Docker-Content-Digest" in headers else RegistryError
    with pytest.raises(error) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value) == message.format(ref=ref, host=server.host)


def test_foreign_layer_is_refused_with_a_warning(
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer = {
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": "sha256:" + "1" * 64,
        "size": 10,
        "urls": ["https://mcr.microsoft.com/v2/windows/blobs/sha256:" + "1" * 64],
    }
    server = fake(serve_manifest(manifest_with([layer])))
    ref = f"{server.host}/x/app:v1"
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value).startswith(
        f"layer 1/1 of {ref} (sha256:{'1' * 64}) is a foreign (non-distributable) layer served "
        "from https://mcr.microsoft.com/v2/windows/blobs/"
    )
    assert any("foreign layer" in r.getMessage() for r in caplog.records)


def test_not_a_container_image_config(
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
) -> None:
    helm = {**CONFIG_DESC, "mediaType": "application/vnd.cncf.helm.config.v1+json"}
    server = fake(serve_manifest(manifest_with([], helm)))
    ref = f"{server.host}/x/app:v1"
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value) == (
        f"{ref} is not a container image "
        "(config media type 'application/vnd.cncf.helm.config.v1+json')"
    )


def test_config_and_manifest_disagree_on_layer_count(
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
) -> None:
    data = b"layer"
    layer = {"mediaType": ib.LAYER_MEDIA["none"], "digest": sha(data), "size": len(data)}
    server = fake(serve_manifest(manifest_with([layer]), {sha(CONFIG): CONFIG, sha(data): data}))
    ref = f"{server.host}/x/app:v1"
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value) == f"{ref}: image config lists 0 diff_ids but the manifest has 1 layers"


def test_blob_longer_than_its_descriptor(
    fake: Callable[[Callable[[str, dict[str, str]], Reply]], FakeServer],
    tmp_path: Path,
    cache: BlobCache,
) -> None:
    config = {**CONFIG_DESC, "size": 10}
    server = fake(serve_manifest(manifest_with([], config), {sha(CONFIG): CONFIG}))
    ref = f"{server.host}/x/app:v1"
    with pytest.raises(RegistryError) as info:
        pull(ref, tmp_path, cache)
    assert str(info.value) == (
        f"the config of {ref} from {server.host}: "
        f"blob {sha(CONFIG)} is longer than the 10 bytes declared"
    )
    assert cache_is_clean(cache)
