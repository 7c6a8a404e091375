"""docker_archive: real skopeo-written archives, Docker 25+ style archives, hostile archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

import imagebuild as ib
from kubeward.artifact import docker_archive
from kubeward.artifact.docker_archive import MemberReader, TarIndex
from kubeward.artifact.image import Image, Layer
from kubeward.errors import ArtifactError, DigestMismatchError

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
    """sha256 of the layer's tar, decompressing gzip (what the walker does)."""
    with layer.open() as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return ib.sha256(data)


def write_tar(path: Path, members: list[tuple[str, bytes | str]]) -> Path:
    """A tar of regular files (bytes) and symlinks (str target), in the order given."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def tar_members(path: Path) -> list[tuple[str, bytes | str]]:
    out: list[tuple[str, bytes | str]] = []
    with tarfile.open(path) as tar:
        for info in tar:
            if info.issym():
                out.append((info.name, info.linkname))
            elif info.isreg():
                f = tar.extractfile(info)
                assert f is not None
                out.append((info.name, f.read()))
    return out


def docker25_archive(
    out: Path, built: ib.BuiltImage, repo_tag: str, with_manifest_json: bool = True
) -> Path:
    """The layout `docker save` writes since Docker 25: an OCI layout plus manifest.json."""
    blobs = sorted((built.layout / "blobs" / "sha256").iterdir())
    members: list[tuple[str, bytes | str]] = [
        (f"blobs/sha256/{p.name}", p.read_bytes()) for p in blobs
    ]
    index = json.loads((built.layout / "index.json").read_text())
    for desc in index["manifests"]:
        desc["annotations"] = {
            "io.containerd.image.name": f"docker.io/{repo_tag}",
            "org.opencontainers.image.ref.name": repo_tag.rpartition(":")[2],
        }
    members.append(("index.json", json.dumps(index).encode()))
    if with_manifest_json:
        manifest = [
            {
                "Config": "blobs/sha256/" + built.config_digest[7:],
                "RepoTags": [repo_tag],
                "Layers": ["blobs/sha256/" + d[7:] for d in built.layer_digests],
            }
        ]
        members.append(("manifest.json", json.dumps(manifest).encode()))
    members.append(("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'))
    return write_tar(out, members)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("docker-archive")
    a = ib.write_oci_layout(root / "layout", LAYERS_A, tag="a")
    b = ib.write_oci_layout(root / "layout", LAYERS_B, tag="b")
    skopeo_copy(f"oci:{root / 'layout'}:a", f"docker-archive:{root / 'a.tar'}:ns/a:v1")
    skopeo_copy(f"oci:{root / 'layout'}:b", f"docker-archive:{root / 'b.tar'}:ns/b:v2")
    # A multi-image archive is what `docker save IMG1 IMG2` writes: members of both images
    # and one manifest.json listing them in order.
    members: list[tuple[str, bytes | str]] = []
    manifests: list[object] = []
    for part in ("a.tar", "b.tar"):
        for name, content in tar_members(root / part):
            if name == "manifest.json":
                assert isinstance(content, bytes)
                manifests.extend(json.loads(content))
            elif name != "repositories":
                members.append((name, content))
    members.append(("manifest.json", json.dumps(manifests).encode()))
    write_tar(root / "multi.tar", members)
    raw_a = ib.write_oci_layout(root / "raw-a", LAYERS_A, tag="v1", compression="none")
    gz_b = ib.write_oci_layout(root / "gz-b", LAYERS_B, tag="v2", compression="gzip")
    return {"root": root, "a": a, "b": b, "raw_a": raw_a, "gz_b": gz_b}


def built(images: dict[str, object], key: str) -> ib.BuiltImage:
    value = images[key]
    assert isinstance(value, ib.BuiltImage)
    return value


def root(images: dict[str, object]) -> Path:
    value = images["root"]
    assert isinstance(value, Path)
    return value


def assert_image(image: Image, expect: ib.BuiltImage, repo_tags: tuple[str, ...]) -> None:
    assert [layer.diff_id for layer in image.layers] == expect.diff_ids
    assert image.config_digest == expect.config_digest
    assert image.repo_tags == repo_tags
    assert image.manifest_digest is None
    assert [stream_diff_id(layer) for layer in image.layers] == expect.diff_ids
    assert [layer.created_by for layer in image.layers] == [
        f"kubeward-test layer {i}" for i in range(len(expect.diff_ids))
    ]


def test_skopeo_archive(images: dict[str, object]) -> None:
    path = root(images) / "a.tar"
    image = docker_archive.open_image(path)
    assert image.kind == "docker-archive"
    assert image.name == str(path)
    assert_image(image, built(images, "a"), ("docker.io/ns/a:v1",))
    # skopeo stores layers uncompressed, named by diff_id: not a blob digest to check
    assert [layer.digest for layer in image.layers] == [None, None]
    assert [layer.size for layer in image.layers] == [
        len(ib.layer_tar(entries)) for entries in LAYERS_A
    ]
    assert image.config["architecture"] == "amd64"
    assert image.info().image_id == built(images, "a").config_digest


def test_layer_streams_are_independent_bounded_views(images: dict[str, object]) -> None:
    image = docker_archive.open_image(root(images) / "b.tar")
    first, second = image.layers[0].open(), image.layers[0].open()
    with first, second:
        head = first.read(512)
        assert second.read(512) == head
        rest = first.read()
        assert len(head) + len(rest) == image.layers[0].size
        assert first.read() == b""
        assert ib.sha256(head + rest) == built(images, "b").diff_ids[0]


def test_member_reader_seek_and_bounds(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789abcdef")
    with MemberReader(path, 4, 6) as reader:
        assert reader.read() == b"456789"
        assert reader.seek(-2, os.SEEK_END) == 4
        assert reader.read(10) == b"89"
        assert reader.seek(100) == 6
        assert reader.read() == b""
        assert reader.seek(1) == 1
        assert reader.tell() == 1
        assert reader.read(2) == b"56"


@pytest.mark.parametrize(
    ("tag", "key", "repo_tags"),
    [
        (None, "a", ("docker.io/ns/a:v1",)),
        ("ns/b:v2", "b", ("docker.io/ns/b:v2",)),
        ("docker.io/ns/b:v2", "b", ("docker.io/ns/b:v2",)),
        ("ns/a:v1", "a", ("docker.io/ns/a:v1",)),
        ("@1", "b", ("docker.io/ns/b:v2",)),
    ],
)
def test_multi_image_selection(
    images: dict[str, object], tag: str | None, key: str, repo_tags: tuple[str, ...]
) -> None:
    image = docker_archive.open_image(root(images) / "multi.tar", tag)
    assert_image(image, built(images, key), repo_tags)
    assert image.name == f"{root(images) / 'multi.tar'}" + (f":{tag}" if tag else "")


def test_multi_image_unknown_tag_lists_tags(images: dict[str, object]) -> None:
    with pytest.raises(ArtifactError) as err:
        docker_archive.open_image(root(images) / "multi.tar", "ns/c:v3")
    assert "has no image tagged 'ns/c:v3' (tags in the archive: docker.io/ns/a:v1, " in str(
        err.value
    )
    assert str(err.value).endswith("docker.io/ns/b:v2)")
    with pytest.raises(ArtifactError, match=r"holds 2 images; there is no image @2"):
        docker_archive.open_image(root(images) / "multi.tar", "@2")


def test_docker25_archive_uncompressed(images: dict[str, object], tmp_path: Path) -> None:
    expect = built(images, "raw_a")
    path = docker25_archive(tmp_path / "d25.tar", expect, "ns/a:v1")
    image = docker_archive.open_image(path, "ns/a:v1")
    assert_image(image, expect, ("ns/a:v1",))
    # blobs/sha256/<hex> names are content addresses: the walker checks them
    assert [layer.digest for layer in image.layers] == expect.layer_digests
    assert [layer.verified for layer in image.layers] == [False, False]


def test_docker25_archive_gzip_layers(images: dict[str, object], tmp_path: Path) -> None:
    """With the containerd image store, `docker save` keeps the registry's gzip blobs."""
    expect = built(images, "gz_b")
    image = docker_archive.open_image(docker25_archive(tmp_path / "gz.tar", expect, "ns/b:v2"))
    assert_image(image, expect, ("ns/b:v2",))
    assert [layer.digest for layer in image.layers] == expect.layer_digests
    with image.layers[0].open() as f:
        assert f.read(2) == b"\x1f\x8b"


def test_archive_without_manifest_json_is_read_as_oci(
    images: dict[str, object], tmp_path: Path
) -> None:
    expect = built(images, "gz_b")
    path = docker25_archive(tmp_path / "oci.tar", expect, "ns/b:v2", with_manifest_json=False)
    image = docker_archive.open_image(path)
    assert image.kind == "docker-archive"
    assert [layer.diff_id for layer in image.layers] == expect.diff_ids
    assert image.config_digest == expect.config_digest
    assert image.manifest_digest == expect.manifest_digest
    assert image.repo_tags == ("docker.io/ns/b:v2",)
    assert [stream_diff_id(layer) for layer in image.layers] == expect.diff_ids


def test_docker25_config_digest_mismatch(images: dict[str, object], tmp_path: Path) -> None:
    expect = built(images, "raw_a")
    path = docker25_archive(tmp_path / "d25.tar", expect, "ns/a:v1")
    members = tar_members(path)
    config_name = "blobs/sha256/" + expect.config_digest[7:]
    members = [
        (n, c.replace(b"amd64", b"arm64") if n == config_name and isinstance(c, bytes) else c)
        for n, c in members
    ]
    write_tar(path, members)
    with pytest.raises(DigestMismatchError, match=r"does not match its digest"):
        docker_archive.open_image(path)


# --- hostile archives -------------------------------------------------------------------------


def rewrite_manifest(src: Path, out: Path, manifest: bytes) -> Path:
    members = [(n, manifest if n == "manifest.json" else c) for n, c in tar_members(src)]
    return write_tar(out, members)


def a_manifest(images: dict[str, object]) -> list[dict[str, object]]:
    with tarfile.open(root(images) / "a.tar") as tar:
        f = tar.extractfile("manifest.json")
        assert f is not None
        doc = json.load(f)
    assert isinstance(doc, list)
    return doc


def test_missing_layer_is_named(images: dict[str, object], tmp_path: Path) -> None:
    doc = a_manifest(images)
    doc[0]["Layers"] = [doc[0]["Layers"][0], "0123abcd/layer.tar"]  # type: ignore[index]
    path = rewrite_manifest(root(images) / "a.tar", tmp_path / "x.tar", json.dumps(doc).encode())
    with pytest.raises(ArtifactError) as err:
        docker_archive.open_image(path)
    assert str(err.value) == (
        f"{path}: manifest.json names layer '0123abcd/layer.tar', which is not in the archive"
    )
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("layer", ["../../etc/passwd", "/etc/passwd", "x/../../etc/passwd"])
def test_layer_path_outside_archive_refused(
    images: dict[str, object], tmp_path: Path, layer: str
) -> None:
    doc = a_manifest(images)
    doc[0]["Layers"] = [doc[0]["Layers"][0], layer]  # type: ignore[index]
    path = rewrite_manifest(root(images) / "a.tar", tmp_path / "x.tar", json.dumps(doc).encode())
    with pytest.raises(ArtifactError, match=r"names layer '.*', which is outside the archive"):
        docker_archive.open_image(path)


def test_layer_path_only_ever_names_a_member(images: dict[str, object], tmp_path: Path) -> None:
    """A layer called "etc/passwd" is the archive member of that name, never the host file."""
    doc = a_manifest(images)
    layers = doc[0]["Layers"]
    assert isinstance(layers, list)
    members = tar_members(root(images) / "a.tar")
    real = dict(members)[layers[1]]
    doc[0]["Layers"] = [layers[0], "./etc/passwd"]
    members = [(n, c) for n, c in members if n != "manifest.json"]
    members += [("etc/passwd", real), ("manifest.json", json.dumps(doc).encode())]
    image = docker_archive.open_image(write_tar(tmp_path / "x.tar", members))
    assert [stream_diff_id(layer) for layer in image.layers] == built(images, "a").diff_ids


def test_symlinked_member_resolves_inside_archive_only(
    images: dict[str, object], tmp_path: Path
) -> None:
    doc = a_manifest(images)
    doc[0]["Layers"] = [doc[0]["Layers"][0], "evil/layer.tar"]  # type: ignore[index]
    members = [(n, c) for n, c in tar_members(root(images) / "a.tar") if n != "manifest.json"]
    members += [("evil/layer.tar", "../../../../etc/passwd")]
    members += [("manifest.json", json.dumps(doc).encode())]
    with pytest.raises(ArtifactError, match=r"'evil/layer.tar', which is not in the archive"):
        docker_archive.open_image(write_tar(tmp_path / "x.tar", members))


def test_truncated_archive(images: dict[str, object], tmp_path: Path) -> None:
    data = (root(images) / "a.tar").read_bytes()
    path = tmp_path / "cut.tar"
    path.write_bytes(data[: 512 + 4000])  # inside the first member's data
    with pytest.raises(ArtifactError, match=r"is truncated: member '[0-9a-f]{64}\.tar' ends past"):
        docker_archive.open_image(path)
    path.write_bytes(data[: 1024 * 3 + 100])
    with pytest.raises(ArtifactError, match=r"is truncated: member"):
        docker_archive.open_image(path)


def test_truncated_before_manifest(images: dict[str, object], tmp_path: Path) -> None:
    data = (root(images) / "a.tar").read_bytes()
    index = TarIndex.build(root(images) / "a.tar")
    manifest = index.get("manifest.json")
    assert manifest is not None
    path = tmp_path / "cut.tar"
    path.write_bytes(data[: manifest.offset - 512])  # cut right before manifest.json's header
    with pytest.raises(ArtifactError, match=r"is not a docker-archive: it has no manifest.json"):
        docker_archive.open_image(path)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (b"{not json", "manifest.json is not valid JSON"),
        (b'{"Config": "x"}', "manifest.json is not a non-empty list of images"),
        (b"[]", "manifest.json is not a non-empty list of images"),
        (b'["x"]', "manifest.json entry 0 is not an object"),
        (b'[{"Config": 1, "Layers": []}]', "manifest.json entry 0 has no Config string"),
        (b'[{"Config": "c", "Layers": "l"}]', "entry 0 Layers is not a list of strings"),
        (b'[{"Config": "c", "Layers": [1]}]', "entry 0 Layers is not a list of strings"),
        (
            b'[{"Config": "c", "Layers": [], "RepoTags": "a:b"}]',
            "entry 0 RepoTags is not a list of strings",
        ),
        (b'[{"Config": "nope.json", "Layers": []}]', "names config 'nope.json', which is not"),
    ],
)
def test_bad_manifest_json(
    images: dict[str, object], tmp_path: Path, manifest: bytes, message: str
) -> None:
    path = rewrite_manifest(root(images) / "a.tar", tmp_path / "x.tar", manifest)
    with pytest.raises(ArtifactError) as err:
        docker_archive.open_image(path)
    assert type(err.value) is ArtifactError
    assert message in str(err.value)


def test_layer_count_disagrees_with_config(images: dict[str, object], tmp_path: Path) -> None:
    doc = a_manifest(images)
    doc[0]["Layers"] = doc[0]["Layers"][:1]  # type: ignore[index]
    path = rewrite_manifest(root(images) / "a.tar", tmp_path / "x.tar", json.dumps(doc).encode())
    with pytest.raises(ArtifactError, match=r"lists 2 diff_ids but the manifest has 1 layers"):
        docker_archive.open_image(path)


def test_legacy_config_digest_checked(images: dict[str, object], tmp_path: Path) -> None:
    """Legacy "<hex>.json" config names are image IDs, the sha256 of the config."""
    config_name = f"{built(images, 'a').config_digest[7:]}.json"
    members = [
        (n, b'{"rootfs": {"diff_ids": []}}' if n == config_name else c)
        for n, c in tar_members(root(images) / "a.tar")
    ]
    with pytest.raises(DigestMismatchError, match=f"config '{config_name}' does not match"):
        docker_archive.open_image(write_tar(tmp_path / "x.tar", members))


def test_oversize_manifest_json(images: dict[str, object], tmp_path: Path) -> None:
    path = rewrite_manifest(root(images) / "a.tar", tmp_path / "x.tar", b" " * (4 << 20) + b"[]")
    with pytest.raises(ArtifactError, match=r"manifest.json is larger than the 4 MiB cap"):
        docker_archive.open_image(path)


def test_compressed_archive_refused(images: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress((root(images) / "a.tar").read_bytes()))
    with pytest.raises(ArtifactError, match=r"is compressed; decompress it first"):
        docker_archive.open_image(path)


def test_not_a_tar_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar"
    path.write_bytes(hashlib.sha256(b"x").digest() * 100)
    with pytest.raises(ArtifactError, match=r"is not a readable tar archive"):
        docker_archive.open_image(path)
    path.write_bytes(b"")
    with pytest.raises(ArtifactError, match=r"is not a readable tar archive: empty file"):
        docker_archive.open_image(path)
    with pytest.raises(ArtifactError, match=r"cannot read .*nope.tar: No such file or directory"):
        docker_archive.open_image(tmp_path / "nope.tar")
