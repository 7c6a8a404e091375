"""Build real, reproducible container images in pure Python for tests and benchmarks.

Layers are tar streams with sorted-or-given entry order, uid/gid 0, fixed mtime and gzip mtime
0, so digests are stable across runs. `write_oci_layout` writes a spec-conformant OCI image
layout (oci-layout, index.json, blobs/sha256) that skopeo and umoci read; skopeo then turns it
into docker-archive / oci-archive files or pushes it to a registry.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MTIME = 1_700_000_000

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


@dataclass
class Entry:
    """One tar member. kind: file, dir, symlink, hardlink, char, block, fifo."""

    name: str
    data: bytes = b""
    kind: str = "file"
    mode: int = 0o644
    linkname: str = ""
    size_override: int | None = None  # write a header claiming another size (hostile tests)


def file(name: str, data: bytes | str, mode: int = 0o644) -> Entry:
    return Entry(name, data.encode() if isinstance(data, str) else data, "file", mode)


def dir_(name: str, mode: int = 0o755) -> Entry:
    return Entry(name, b"", "dir", mode)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, b"", "symlink", 0o777, target)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, b"", "hardlink", 0o644, target)


def whiteout(path: str) -> Entry:
    """Delete `path` (from lower layers) in this layer."""
    parent, _, base = path.rstrip("/").rpartition("/")
    return file(f"{parent}/.wh.{base}" if parent else f".wh.{base}", b"")


def opaque(directory: str) -> Entry:
    """Hide everything lower layers put in `directory`."""
    return file(f"{directory.rstrip('/')}/.wh..wh..opq", b"")


_KINDS = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def layer_tar(entries: Iterable[Entry], tar_format: int = tarfile.PAX_FORMAT) -> bytes:
    """An uncompressed layer tar with the entries in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tar_format) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = _KINDS[e.kind]
            info.mode = e.mode
            info.mtime = MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.linkname = e.linkname
            if e.kind == "file":
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def compress(tar: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(tar, compresslevel=6, mtime=0)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).compress(tar)
    if compression == "none":
        return tar
    raise ValueError(compression)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tree_entries(root: Path, prefix: str = "") -> list[Entry]:
    """Entries for a real directory tree (files, dirs, symlinks), sorted, under `prefix`."""
    out: list[Entry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        base = prefix.strip("/") if rel == "." else f"{prefix.strip('/')}/{rel}".strip("/")
        if base:
            out.append(dir_(base))
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(Path(dirpath, d))]):
            full = Path(dirpath, name)
            arc = f"{base}/{name}" if base else name
            if full.is_symlink():
                out.append(symlink(arc, os.readlink(full)))
            elif full.is_file():
                st = full.stat()
                out.append(Entry(arc, full.read_bytes(), "file", st.st_mode & 0o7777))
        dirnames[:] = [d for d in dirnames if not os.path.islink(Path(dirpath, d))]
    return out


@dataclass
class BuiltImage:
    layout: Path
    tag: str
    manifest_digest: str
    config_digest: str
    diff_ids: list[str] = field(default_factory=list)
    layer_digests: list[str] = field(default_factory=list)


def _write_blob(layout: Path, data: bytes) -> str:
    digest = sha256(data)
    path = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(data)
    return digest


def _image_manifest(
    layout: Path,
    layers: Sequence[Sequence[Entry]],
    compression: str,
    architecture: str,
    config_extra: dict[str, object] | None,
) -> tuple[dict[str, object], BuiltImage]:
    diff_ids: list[str] = []
    descriptors: list[dict[str, object]] = []
    for entries in layers:
        tar = layer_tar(entries)
        blob = compress(tar, compression)
        diff_ids.append(sha256(tar))
        digest = _write_blob(layout, blob)
        descriptors.append(
            {"mediaType": LAYER_MEDIA[compression], "digest": digest, "size": len(blob)}
        )
    config: dict[str, object] = {
        "architecture": architecture,
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2023-11-14T22:13:20Z", "created_by": f"kubeward-test layer {i}"}
            for i in range(len(layers))
        ],
    }
    if config_extra:
        config.update(config_extra)
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = _write_blob(layout, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": descriptors,
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = _write_blob(layout, manifest_bytes)
    desc = {
        "mediaType": OCI_MANIFEST,
        "digest": manifest_digest,
        "size": len(manifest_bytes),
        "platform": {"architecture": architecture, "os": "linux"},
    }
    built = BuiltImage(
        layout,
        "",
        manifest_digest,
        config_digest,
        diff_ids,
        [str(d["digest"]) for d in descriptors],
    )
    return desc, built


def write_oci_layout(  # noqa: PLR0917
    layout: Path,
    layers: Sequence[Sequence[Entry]],
    tag: str = "latest",
    compression: str = "gzip",
    architecture: str = "amd64",
    config_extra: dict[str, object] | None = None,
    extra_platforms: Sequence[tuple[str, Sequence[Sequence[Entry]]]] = (),
) -> BuiltImage:
    """Write (or add a tag to) an OCI layout. With `extra_platforms` the tag names an image
    index holding this image plus one image per (architecture, layers)."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    desc, built = _image_manifest(layout, layers, compression, architecture, config_extra)
    top: dict[str, object] = desc
    if extra_platforms:
        manifests = [desc]
        for arch, arch_layers in extra_platforms:
            manifests.append(_image_manifest(layout, arch_layers, compression, arch, None)[0])
        index_bytes = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}, sort_keys=True
        ).encode()
        top = {
            "mediaType": OCI_INDEX,
            "digest": _write_blob(layout, index_bytes),
            "size": len(index_bytes),
        }
    index_path = layout / "index.json"
    index = (
        json.loads(index_path.read_text())
        if index_path.exists()
        else {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    )
    index["manifests"] = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
    ]
    entry = {k: v for k, v in top.items() if k != "platform"}
    entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index["manifests"].append(entry)
    index_path.write_text(json.dumps(index, sort_keys=True))
    built.tag = tag
    return built
