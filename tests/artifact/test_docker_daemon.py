"""docker_daemon and real `docker save` archives, against a real dockerd started per module."""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import imagebuild as ib
import peers
import peers_docker
from kubeward.artifact import docker_archive, docker_daemon
from kubeward.artifact.image import Image, Layer
from kubeward.errors import ArtifactError

pytestmark = pytest.mark.e2e

LAYERS_A = [
    [ib.dir_("etc"), ib.file("etc/os-release", "ID=test\nVERSION_ID=1\n")],
    [ib.dir_("usr"), ib.dir_("usr/bin"), ib.file("usr/bin/app", b"\x7fELF" + bytes(5000), 0o755)],
]
LAYERS_B = [
    [ib.dir_("etc"), ib.file("etc/os-release", "ID=other\n")],
    [ib.file("etc/b", "b")],
    [ib.whiteout("etc/b"), ib.file("etc/c", "c" * 3000)],
]


def skopeo_copy(src: str, dest: str) -> None:
    done = subprocess.run(["skopeo", "copy", "--quiet", src, dest], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def stream_diff_id(layer: Layer) -> str:
    with layer.open() as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return ib.sha256(data)


class Env:
    def __init__(self, root: Path, daemon: peers_docker.DockerDaemon) -> None:
        self.root = root
        self.daemon = daemon
        self.a = ib.write_oci_layout(root / "layout", LAYERS_A, tag="a")
        self.b = ib.write_oci_layout(root / "layout", LAYERS_B, tag="b")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("docker-daemon")
    daemon = peers_docker.start(root / "dockerd")
    try:
        env = Env(root, daemon)
        for key, ref in (("a", "ns/app:v1"), ("b", "ns/app:v2")):
            archive = root / f"{key}.tar"
            skopeo_copy(f"oci:{root / 'layout'}:{key}", f"docker-archive:{archive}:{ref}")
            daemon.docker("load", "-i", str(archive))
        yield env
    finally:
        peers_docker.stop(daemon)


def assert_image(image: Image, expect: ib.BuiltImage) -> None:
    assert [layer.diff_id for layer in image.layers] == expect.diff_ids
    assert image.config_digest == expect.config_digest
    assert [stream_diff_id(layer) for layer in image.layers] == expect.diff_ids


def test_real_docker_save_archive(env: Env) -> None:
    """What this dockerd's `docker save` writes (legacy layout: <id>/layer.tar)."""
    path = env.root / "saved.tar"
    env.daemon.docker("save", "-o", str(path), "ns/app:v1")
    image = docker_archive.open_image(path)
    assert image.kind == "docker-archive"
    assert image.repo_tags == ("ns/app:v1",)
    assert image.manifest_digest is None
    assert_image(image, env.a)
    assert [layer.size for layer in image.layers] == [
        len(ib.layer_tar(entries)) for entries in LAYERS_A
    ]


def test_real_docker_save_multi_image(env: Env) -> None:
    path = env.root / "multi.tar"
    env.daemon.docker("save", "-o", str(path), "ns/app:v1", "ns/app:v2")
    b = docker_archive.open_image(path, "ns/app:v2")
    assert b.repo_tags == ("ns/app:v2",)
    assert_image(b, env.b)
    a = docker_archive.open_image(path, "docker.io/ns/app:v1")
    assert a.repo_tags == ("ns/app:v1",)
    assert_image(a, env.a)
    with pytest.raises(ArtifactError, match=r"has no image tagged 'ns/app:v3' \(tags in the"):
        docker_archive.open_image(path, "ns/app:v3")


def test_open_image_from_daemon(env: Env, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    image = docker_daemon.open_image("ns/app:v1", cache, host=env.daemon.host)
    try:
        assert image.name == "ns/app:v1"
        assert image.kind == "docker-daemon"
        assert image.repo_tags == ("ns/app:v1",)
        assert image.manifest_digest is None  # loaded, never pulled: no registry digest
        assert image.info().image_id == env.a.config_digest
        saved = list(cache.iterdir())
        assert [p.name.startswith("docker-save-") for p in saved] == [True]
        # the walker reads the top layer first: random access into the temp file
        assert stream_diff_id(image.layers[1]) == env.a.diff_ids[1]
        assert_image(image, env.a)
    finally:
        image.close()
    assert list(cache.iterdir()) == []


def test_open_image_by_id_and_docker_host_env(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", env.daemon.host)
    image = docker_daemon.open_image(env.b.config_digest, tmp_path)
    try:
        assert image.name == env.b.config_digest
        assert image.repo_tags == ("ns/app:v2",)
        assert_image(image, env.b)
    finally:
        image.close()
    assert list(tmp_path.iterdir()) == []


def test_repo_digest_after_pull(env: Env, tmp_path: Path) -> None:
    """A pulled image's RepoDigests give the registry's manifest digest."""
    with peers.start_registry(tmp_path) as registry:
        ref = peers.push(env.a.layout, "a", registry, "ns/pulled", dest_tag="v1")
        env.daemon.docker("pull", ref)
        image = docker_daemon.open_image(ref, tmp_path / "cache", host=env.daemon.host)
        try:
            assert image.manifest_digest == env.a.manifest_digest
            # the same image ID, so the daemon lists both tags
            assert sorted(image.repo_tags) == sorted([ref, "ns/app:v1"])
            assert_image(image, env.a)
        finally:
            image.close()
            env.daemon.docker("rmi", ref)


def test_image_not_found(env: Env, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as err:
        docker_daemon.open_image("ns/app:nope", tmp_path, host=env.daemon.host)
    assert str(err.value) == (
        f"image 'ns/app:nope' not found in the Docker daemon ({env.daemon.host})"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../../containers/json", "a?b", "x/./y", "", "a b"])
def test_invalid_name(env: Env, tmp_path: Path, name: str) -> None:
    with pytest.raises(ArtifactError, match="is not a valid Docker image name or ID"):
        docker_daemon.open_image(name, tmp_path, host=env.daemon.host)


def test_socket_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"unix://{tmp_path}/none.sock"
    monkeypatch.setenv("DOCKER_HOST", host)
    with pytest.raises(ArtifactError) as err:
        docker_daemon.open_image("alpine", tmp_path)
    assert str(err.value).startswith(f"cannot reach the Docker daemon at DOCKER_HOST={host}: ")
    assert "\n" not in str(err.value)


def test_connection_refused(tmp_path: Path) -> None:
    host = f"tcp://127.0.0.1:{peers.free_port()}"
    with pytest.raises(ArtifactError) as err:
        docker_daemon.open_image("alpine", tmp_path, host=host)
    assert str(err.value).startswith(f"cannot reach the Docker daemon at DOCKER_HOST={host}: ")
    assert "Connection refused" in str(err.value)


def test_unsupported_docker_host(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"DOCKER_HOST=ssh://me@host is not supported"):
        docker_daemon.open_image("alpine", tmp_path, host="ssh://me@host")


@pytest.mark.parametrize(
    ("name", "digests", "expect"),
    [
        ("alpine:3.19", ["alpine@sha256:" + "a" * 64], "sha256:" + "a" * 64),
        ("docker.io/library/alpine", ["alpine@sha256:" + "a" * 64], "sha256:" + "a" * 64),
        (
            "127.0.0.1:5000/ns/app:v1",
            ["127.0.0.1:5000/ns/app@sha256:" + "b" * 64, "ns/app@sha256:" + "c" * 64],
            "sha256:" + "b" * 64,
        ),
        ("sha256:" + "d" * 64, ["ns/app@sha256:" + "c" * 64], "sha256:" + "c" * 64),
        ("sha256:" + "d" * 64, ["a@sha256:" + "c" * 64, "b@sha256:" + "e" * 64], None),
        ("alpine", [], None),
    ],
)
def test_repo_digest_choice(name: str, digests: list[str], expect: str | None) -> None:
    assert docker_daemon.repo_digest(name, digests) == expect
