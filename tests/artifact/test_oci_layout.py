"""oci_layout: layouts written by imagebuild, oci-archives written by skopeo, hostile layouts."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

import imagebuild as ib
from kubeward.artifact import oci_layout
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
LAYERS_ARM = [[ib.dir_("etc"), ib.file("etc/arch", "arm64\n")]]


def skopeo_copy(src: str, dest: str) -> None:
    done = subprocess.run(["skopeo", "copy", "--quiet", src, dest], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def stream_diff_id(layer: Layer) -> str:
    with layer.open() as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    return ib.sha256(data)


def stream_digest(layer: Layer) -> str:
    with layer.open() as f:
        return ib.sha256(f.read())


def assert_image(image: Image, expect: ib.BuiltImage, media: str) -> None:
    assert [layer.diff_id for layer in image.layers] == expect.diff_ids
    assert [layer.digest for layer in image.layers] == expect.layer_digests
    assert image.config_digest == expect.config_digest
    assert image.manifest_digest == expect.manifest_digest
    assert [layer.verified for layer in image.layers] == [False] * len(expect.diff_ids)
    assert [layer.media_type for layer in image.layers] == [media] * len(expect.diff_ids)
    assert [stream_diff_id(layer) for layer in image.layers] == expect.diff_ids
    assert [stream_digest(layer) for layer in image.layers] == expect.layer_digests
    sizes = [
        (expect.layout / "blobs" / "sha256" / d[7:]).stat().st_size for d in expect.layer_digests
    ]
    assert [layer.size for layer in image.layers] == sizes


def blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest[7:]


def set_index(layout: Path, manifests: list[dict[str, object]]) -> None:
    index = {"schemaVersion": 2, "mediaType": ib.OCI_INDEX, "manifests": manifests}
    (layout / "index.json").write_text(json.dumps(index))


def put_json_blob(layout: Path, doc: object) -> tuple[str, int]:
    raw = json.dumps(doc).encode()
    digest = ib.sha256(raw)
    blob(layout, digest).write_bytes(raw)
    return digest, len(raw)


def index_entry(layout: Path, i: int = 0) -> dict[str, object]:
    entry = json.loads((layout / "index.json").read_text())["manifests"][i]
    assert isinstance(entry, dict)
    return entry


@pytest.fixture
def two_tags(tmp_path: Path) -> tuple[ib.BuiltImage, ib.BuiltImage]:
    a = ib.write_oci_layout(tmp_path / "L", LAYERS_A, tag="v1")
    b = ib.write_oci_layout(tmp_path / "L", LAYERS_B, tag="v2")
    return a, b


def test_layout_by_tag(two_tags: tuple[ib.BuiltImage, ib.BuiltImage]) -> None:
    a, b = two_tags
    image = oci_layout.open_layout(a.layout, "v1")
    assert image.kind == "oci"
    assert image.name == f"{a.layout}:v1"
    assert image.repo_tags == ()
    assert_image(image, a, ib.LAYER_MEDIA["gzip"])
    assert [layer.created_by for layer in image.layers] == [
        "kubeward-test layer 0",
        "kubeward-test layer 1",
    ]
    assert_image(oci_layout.open_layout(b.layout, "v2"), b, ib.LAYER_MEDIA["gzip"])
    by_digest = oci_layout.open_layout(b.layout, f"@{b.manifest_digest}")
    assert by_digest.config_digest == b.config_digest


def test_layout_needs_a_tag_when_several(two_tags: tuple[ib.BuiltImage, ib.BuiltImage]) -> None:
    a, _ = two_tags
    with pytest.raises(ArtifactError, match=r"lists 2 images; choose one by tag \(tags: v1, v2\)"):
        oci_layout.open_layout(a.layout)
    with pytest.raises(ArtifactError, match=r"has no image tagged 'v3' \(tags: v1, v2\)"):
        oci_layout.open_layout(a.layout, "v3")


def test_only_image_needs_no_tag(tmp_path: Path) -> None:
    a = ib.write_oci_layout(tmp_path / "L", LAYERS_A, tag="v1", compression="zstd")
    image = oci_layout.open_layout(a.layout, name="oci:L")
    assert image.name == "oci:L"
    assert_image(image, a, ib.LAYER_MEDIA["zstd"])


@pytest.mark.parametrize("tag", ["v3", "app:v3", "docker.io/library/app:v3"])
def test_full_name_ref_annotation(tmp_path: Path, tag: str) -> None:
    """Some tools write the full "name:tag" into org.opencontainers.image.ref.name."""
    a = ib.write_oci_layout(tmp_path / "L", LAYERS_A, tag="v1", compression="none")
    ib.write_oci_layout(tmp_path / "L", LAYERS_B, tag="other")
    entry = index_entry(a.layout, 0)
    entry["annotations"] = {"org.opencontainers.image.ref.name": "docker.io/library/app:v3"}
    set_index(a.layout, [entry, index_entry(a.layout, 1)])
    image = oci_layout.open_layout(a.layout, tag)
    assert_image(image, a, ib.LAYER_MEDIA["none"])


def test_platform_index(tmp_path: Path) -> None:
    a = ib.write_oci_layout(
        tmp_path / "L", LAYERS_A, tag="v1", extra_platforms=[("arm64", LAYERS_ARM)]
    )
    amd = oci_layout.open_layout(a.layout, "v1")
    assert_image(amd, a, ib.LAYER_MEDIA["gzip"])
    arm = oci_layout.open_layout(a.layout, "v1", platform="linux/arm64")
    assert arm.config["architecture"] == "arm64"
    assert [layer.diff_id for layer in arm.layers] == [ib.sha256(ib.layer_tar(LAYERS_ARM[0]))]
    assert [stream_diff_id(layer) for layer in arm.layers] == [arm.layers[0].diff_id]
    v8 = oci_layout.open_layout(a.layout, "v1", platform="linux/arm64/v8")
    assert v8.config_digest == arm.config_digest
    with pytest.raises(ArtifactError, match=r"no image for platform linux/arm64/v7"):
        oci_layout.open_layout(a.layout, "v1", platform="linux/arm64/v7")
    with pytest.raises(
        ArtifactError,
        match=r"has no image for platform linux/s390x \(platforms: linux/amd64, linux/arm64\)",
    ):
        oci_layout.open_layout(a.layout, "v1", platform="linux/s390x")
    with pytest.raises(ArtifactError, match=r"platform 'amd64' is not os/arch"):
        oci_layout.open_layout(a.layout, "v1", platform="amd64")


def test_nested_index(tmp_path: Path) -> None:
    """index.json -> index -> index -> manifest, resolved by platform at each level."""
    a = ib.write_oci_layout(
        tmp_path / "L", LAYERS_A, tag="v1", extra_platforms=[("arm64", LAYERS_ARM)]
    )
    inner = index_entry(a.layout)
    digest, size = put_json_blob(
        a.layout,
        {
            "schemaVersion": 2,
            "mediaType": ib.OCI_INDEX,
            "manifests": [{**inner, "platform": {"os": "linux", "architecture": "amd64"}}],
        },
    )
    set_index(a.layout, [{"mediaType": ib.OCI_INDEX, "digest": digest, "size": size}])
    assert_image(oci_layout.open_layout(a.layout), a, ib.LAYER_MEDIA["gzip"])


def test_oci_archive_from_skopeo(tmp_path: Path) -> None:
    a = ib.write_oci_layout(tmp_path / "L", LAYERS_A, tag="v1")
    b = ib.write_oci_layout(tmp_path / "L", LAYERS_B, tag="v2")
    skopeo_copy(f"oci:{a.layout}:v1", f"oci-archive:{tmp_path / 'a.tar'}")
    skopeo_copy(f"oci:{b.layout}:v2", f"oci-archive:{tmp_path / 'b.tar'}:v2")
    image = oci_layout.open_archive(tmp_path / "a.tar")
    assert image.kind == "oci-archive"
    assert image.name == str(tmp_path / "a.tar")
    assert_image(image, a, ib.LAYER_MEDIA["gzip"])
    assert_image(oci_layout.open_archive(tmp_path / "b.tar", "v2"), b, ib.LAYER_MEDIA["gzip"])
    with pytest.raises(ArtifactError, match=r"has no image tagged 'v1' \(tags: v2\)"):
        oci_layout.open_archive(tmp_path / "b.tar", "v1")


def test_oci_archive_without_index(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tar:
        tar.addfile(tarfile.TarInfo("oci-layout"), io.BytesIO(b""))
    with pytest.raises(ArtifactError, match=r"is not an OCI archive: it has no index.json"):
        oci_layout.open_archive(path)


# --- hostile layouts --------------------------------------------------------------------------


@pytest.fixture
def one(tmp_path: Path) -> ib.BuiltImage:
    return ib.write_oci_layout(tmp_path / "L", LAYERS_A, tag="v1")


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:../../../etc/passwd",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 128,
        "sha256:" + "a" * 64 + "/../../x",
        42,
    ],
)
def test_index_digest_refused(one: ib.BuiltImage, digest: object) -> None:
    entry = index_entry(one.layout)
    entry["digest"] = digest
    set_index(one.layout, [entry])
    with pytest.raises(ArtifactError) as err:
        oci_layout.open_layout(one.layout, "v1")
    assert type(err.value) is ArtifactError
    assert "refusing blob digest" in str(err.value)
    assert "not sha256 and 64 lowercase hex" in str(err.value)


def test_layer_digest_traversal_refused(one: ib.BuiltImage) -> None:
    manifest = json.loads(blob(one.layout, one.manifest_digest).read_bytes())
    manifest["layers"][1]["digest"] = "sha256:../../../../etc/passwd"
    digest, size = put_json_blob(one.layout, manifest)
    set_index(one.layout, [{**index_entry(one.layout), "digest": digest, "size": size}])
    with pytest.raises(ArtifactError, match=r"refusing blob digest 'sha256:\.\./\.\./"):
        oci_layout.open_layout(one.layout, "v1")


def test_oci_archive_traversal_digest_refused(one: ib.BuiltImage, tmp_path: Path) -> None:
    entry = index_entry(one.layout)
    entry["digest"] = "sha256:../../../etc/passwd"
    set_index(one.layout, [entry])
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(one.layout, arcname=".")
    with pytest.raises(ArtifactError, match=r"refusing blob digest 'sha256:../../../etc/passwd'"):
        oci_layout.open_archive(path, "v1")


def test_symlinked_layer_escaping_layout_refused(one: ib.BuiltImage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(blob(one.layout, one.layer_digests[1]).read_bytes())
    path = blob(one.layout, one.layer_digests[1])
    path.unlink()
    path.symlink_to(outside)
    with pytest.raises(ArtifactError) as err:
        oci_layout.open_layout(one.layout, "v1")
    assert type(err.value) is ArtifactError
    assert str(err.value) == (
        f"{one.layout}: blobs/sha256/{one.layer_digests[1][7:]} is a symlink that leads "
        "outside the layout"
    )


def test_symlinked_manifest_and_blobs_dir_escaping_refused(
    one: ib.BuiltImage, tmp_path: Path
) -> None:
    path = blob(one.layout, one.manifest_digest)
    path.unlink()
    path.symlink_to("/etc/passwd")
    with pytest.raises(ArtifactError, match=r"is a symlink that leads outside the layout"):
        oci_layout.open_layout(one.layout, "v1")
    shutil.move(one.layout / "blobs", tmp_path / "elsewhere")
    (one.layout / "blobs").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ArtifactError, match=r"is a symlink that leads outside the layout"):
        oci_layout.open_layout(one.layout, "v1")


def test_symlink_inside_layout_is_followed(one: ib.BuiltImage) -> None:
    """Some tools (debuerreotype) link blobs to named files inside the layout."""
    path = blob(one.layout, one.layer_digests[0])
    path.rename(one.layout / "rootfs.tar.gz")
    path.symlink_to("../../rootfs.tar.gz")
    assert_image(oci_layout.open_layout(one.layout, "v1"), one, ib.LAYER_MEDIA["gzip"])


def test_fifo_blob_refused(one: ib.BuiltImage) -> None:
    path = blob(one.layout, one.layer_digests[0])
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(ArtifactError, match=f"{one.layer_digests[0][7:]} is not a regular file"):
        oci_layout.open_layout(one.layout, "v1")


def test_missing_layer_blob(one: ib.BuiltImage) -> None:
    blob(one.layout, one.layer_digests[1]).unlink()
    with pytest.raises(
        ArtifactError, match=f"{one.layer_digests[1][7:]} is missing from the layout"
    ):
        oci_layout.open_layout(one.layout, "v1")


@pytest.mark.parametrize("which", ["manifest", "config"])
def test_tampered_json_blob(one: ib.BuiltImage, which: str) -> None:
    digest = one.manifest_digest if which == "manifest" else one.config_digest
    path = blob(one.layout, digest)
    path.write_bytes(path.read_bytes().replace(b"amd64", b"arm64").replace(b'"size"', b'"size" '))
    with pytest.raises(
        DigestMismatchError, match=f"{which} blob {digest} does not match its digest"
    ):
        oci_layout.open_layout(one.layout, "v1")


def test_oversize_index_json(one: ib.BuiltImage) -> None:
    raw = (one.layout / "index.json").read_bytes()
    (one.layout / "index.json").write_bytes(b" " * (4 << 20) + raw)
    with pytest.raises(ArtifactError, match=r"index.json is larger than the 4 MiB cap"):
        oci_layout.open_layout(one.layout, "v1")


def test_oversize_manifest_blob(one: ib.BuiltImage) -> None:
    manifest = json.loads(blob(one.layout, one.manifest_digest).read_bytes())
    manifest["padding"] = "x" * (4 << 20)
    digest, size = put_json_blob(one.layout, manifest)
    set_index(one.layout, [{**index_entry(one.layout), "digest": digest, "size": size}])
    with pytest.raises(ArtifactError, match=f"manifest {digest} is larger than the 4 MiB cap"):
        oci_layout.open_layout(one.layout, "v1")


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (b"[1, 2", "index.json is not valid JSON"),
        (b"[]", "index.json is not a JSON object"),
        (b'{"manifests": {}}', "index.json has no list of manifest descriptors"),
        (b'{"manifests": []}', "index.json lists no images"),
    ],
)
def test_bad_index_json(one: ib.BuiltImage, index: bytes, message: str) -> None:
    (one.layout / "index.json").write_bytes(index)
    with pytest.raises(ArtifactError, match=message):
        oci_layout.open_layout(one.layout)


def test_index_json_symlink_escaping_refused(one: ib.BuiltImage, tmp_path: Path) -> None:
    (tmp_path / "evil.json").write_bytes((one.layout / "index.json").read_bytes())
    (one.layout / "index.json").unlink()
    (one.layout / "index.json").symlink_to(tmp_path / "evil.json")
    with pytest.raises(
        ArtifactError, match=r"index.json is a symlink that leads outside the layout"
    ):
        oci_layout.open_layout(one.layout)


def test_not_an_image(one: ib.BuiltImage) -> None:
    manifest = json.loads(blob(one.layout, one.manifest_digest).read_bytes())
    manifest["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
    digest, size = put_json_blob(one.layout, manifest)
    set_index(one.layout, [{**index_entry(one.layout), "digest": digest, "size": size}])
    with pytest.raises(
        ArtifactError, match=r"is not a container image .config type 'application/vnd.cncf.helm"
    ):
        oci_layout.open_layout(one.layout, "v1")


def test_schema1_manifest_refused(one: ib.BuiltImage) -> None:
    media = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    digest, size = put_json_blob(one.layout, {"schemaVersion": 1, "mediaType": media})
    set_index(one.layout, [{"mediaType": media, "digest": digest, "size": size}])
    with pytest.raises(
        ArtifactError, match=re.escape(f"manifest {digest} has unsupported type {media!r}")
    ):
        oci_layout.open_layout(one.layout)


def test_index_loop_capped(one: ib.BuiltImage) -> None:
    """An index can't name itself (digests), but a deep chain must still end."""
    desc: dict[str, object] = index_entry(one.layout)
    for _ in range(5):
        digest, size = put_json_blob(
            one.layout,
            {"schemaVersion": 2, "mediaType": ib.OCI_INDEX, "manifests": [desc]},
        )
        desc = {"mediaType": ib.OCI_INDEX, "digest": digest, "size": size}
    set_index(one.layout, [desc])
    with pytest.raises(ArtifactError, match=r"indexes nest deeper than 4 levels"):
        oci_layout.open_layout(one.layout)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"is not a directory holding an OCI layout"):
        oci_layout.open_layout(tmp_path / "nope")
    with pytest.raises(ArtifactError, match=r"index.json is missing from the layout"):
        oci_layout.open_layout(tmp_path)
