"""Read OCI image layouts, as a directory ("oci") or inside a tar ("oci-archive"), in place.

A layout comes from strangers, so blob paths are only ever built from validated digests
(sha256 + 64 lowercase hex), symlinks may not lead outside the layout, JSON documents are
capped, and every index, manifest and config read is hashed against the digest that named it.
Layers are not hashed here: the walker hashes them while it reads them (verified=False).

Decision: `manifest_digest` is the digest of the platform image manifest that was read (not of
an enclosing index), so it names exactly the layers scanned.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from kubeward.artifact.docker_archive import MAX_JSON, READ_BUFFER, TarIndex, familiar
from kubeward.artifact.image import Image, Layer, layers_from_config
from kubeward.errors import ArtifactError, DigestMismatchError

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_DEPTH = 4  # index -> index -> ... -> manifest
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
CONFIG_TYPES = {
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
}


class _Store(Protocol):
    where: str  # the layout, for messages

    def open(self, rel: str) -> BinaryIO: ...

    def check(self, rel: str) -> None: ...


class _DirStore:
    """Blobs of a layout directory; no path may resolve outside it."""

    def __init__(self, root: Path) -> None:
        self.where = str(root)
        self._real = os.path.realpath(root)

    def open(self, rel: str) -> BinaryIO:
        path = os.path.realpath(os.path.join(self._real, rel))
        if not path.startswith(self._real + os.sep):
            raise ArtifactError(f"{self.where}: {rel} is a symlink that leads outside the layout")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ArtifactError(f"{self.where}: {rel} is missing from the layout") from None
        except OSError as e:
            raise ArtifactError(f"cannot read {self.where}/{rel}: {e.strerror or e}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ArtifactError(f"{self.where}: {rel} is not a regular file")
        os.set_blocking(fd, True)
        return open(fd, "rb", buffering=READ_BUFFER)

    def check(self, rel: str) -> None:
        self.open(rel).close()


class _TarStore:
    """Blobs of a layout inside a tar, served as bounded views of the archive."""

    def __init__(self, index: TarIndex) -> None:
        self.where = str(index.path)
        self._index = index

    def open(self, rel: str) -> BinaryIO:
        member = self._index.get(rel)
        if member is None:
            raise ArtifactError(f"{self.where}: {rel} is missing from the archive")
        return self._index.open(member)

    def check(self, rel: str) -> None:
        if rel not in self._index:
            raise ArtifactError(f"{self.where}: {rel} is missing from the archive")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 90 else text[:87] + "..."


def blob_path(digest: object, where: str) -> str:
    """The layout-relative path of a blob; refuses anything but sha256 + 64 lowercase hex."""
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise ArtifactError(
            f"{where}: refusing blob digest {_short(digest)}: not sha256 and 64 lowercase hex"
        )
    return "blobs/sha256/" + digest[7:]


def _read_capped(store: _Store, rel: str, label: str) -> bytes:
    with store.open(rel) as f:
        raw = f.read(MAX_JSON + 1)
    if len(raw) > MAX_JSON:
        raise ArtifactError(f"{store.where}: {label} is larger than the {MAX_JSON >> 20} MiB cap")
    return raw


def _json_object(raw: bytes, where: str, label: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError:
        raise ArtifactError(f"{where}: {label} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise ArtifactError(f"{where}: {label} is not a JSON object")
    return doc


def _read_blob(store: _Store, desc: dict[str, Any], label: str) -> tuple[dict[str, Any], str]:
    digest = desc.get("digest")
    rel = blob_path(digest, store.where)
    raw = _read_capped(store, rel, f"{label} {digest}")
    actual = "sha256:" + hashlib.sha256(raw).hexdigest()
    if actual != digest:
        raise DigestMismatchError(
            f"{store.where}: {label} blob {digest} does not match its digest (it hashes to "
            f"{actual})"
        )
    return _json_object(raw, store.where, f"{label} {digest}"), actual


def _descriptors(doc: dict[str, Any], where: str, label: str) -> list[dict[str, Any]]:
    manifests = doc.get("manifests")
    if not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
        raise ArtifactError(f"{where}: {label} has no list of manifest descriptors")
    return manifests


def _ref(desc: dict[str, Any], key: str = REF_NAME) -> str | None:
    annotations = desc.get("annotations")
    value = annotations.get(key) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else None


def _tag_part(ref: str) -> str:
    last = ref.rpartition("/")[2]
    return last.rpartition(":")[2] if ":" in last else ref


def _platform_of(desc: dict[str, Any]) -> str | None:
    platform = desc.get("platform")
    if not isinstance(platform, dict):
        return None
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(str(p) for p in parts if p)


def _by_platform(
    where: str, manifests: list[dict[str, Any]], platform: str, label: str
) -> dict[str, Any]:
    want = platform.split("/")
    if len(want) not in (2, 3):
        raise ArtifactError(f"platform {platform!r} is not os/arch[/variant]")
    if len(manifests) == 1 and _platform_of(manifests[0]) is None:
        return manifests[0]
    for desc in manifests:
        have = (_platform_of(desc) or "").split("/")
        if have[:2] != want[:2]:
            continue
        variant = have[2] if len(have) > 2 else ("v8" if have[1] == "arm64" else "")
        if len(want) == 3 and variant != want[2]:
            continue
        return desc
    found = sorted({p for p in map(_platform_of, manifests) if p and "unknown" not in p})
    raise ArtifactError(
        f"{where}: {label} has no image for platform {platform} "
        f"(platforms: {', '.join(found) or 'none'})"
    )


def _select(where: str, index: dict[str, Any], tag: str | None, platform: str) -> dict[str, Any]:
    manifests = _descriptors(index, where, "index.json")
    if not manifests:
        raise ArtifactError(f"{where}: index.json lists no images")
    tags = sorted({r for r in map(_ref, manifests) if r})
    if tag is None:
        if len(manifests) == 1:
            return manifests[0]
        if not tags and all(_platform_of(m) for m in manifests):
            return _by_platform(where, manifests, platform, "index.json")
        raise ArtifactError(
            f"{where}: index.json lists {len(manifests)} images; choose one by tag "
            f"(tags: {', '.join(tags) or 'none'})"
        )
    if DIGEST.fullmatch(tag.lstrip("@")):
        found = [m for m in manifests if m.get("digest") == tag.lstrip("@")]
    else:
        found = [m for m in manifests if _ref(m) == tag]
        if not found:
            want = familiar(tag)
            found = [
                m
                for m in manifests
                if ((ref := _ref(m)) and (_tag_part(ref) == tag or familiar(ref) == want))
                or ((name := _ref(m, CONTAINERD_NAME)) and familiar(name) == want)
            ]
    digests = {str(m.get("digest")) for m in found}
    if len(digests) == 1:
        return found[0]
    if len(digests) > 1:
        raise ArtifactError(f"{where}: tag {tag!r} names {len(digests)} different images")
    raise ArtifactError(
        f"{where}: index.json has no image tagged {tag!r} (tags: {', '.join(tags) or 'none'})"
    )


def _resolve(store: _Store, desc: dict[str, Any], platform: str) -> tuple[dict[str, Any], str]:
    """Follow indexes down to the image manifest for `platform`: (manifest, its digest)."""
    for _ in range(MAX_DEPTH):
        doc, digest = _read_blob(store, desc, "manifest")
        media = doc.get("mediaType") or desc.get("mediaType")
        if media in INDEX_TYPES or (not media and "manifests" in doc):
            children = _descriptors(doc, store.where, f"index {digest}")
            desc = _by_platform(store.where, children, platform, f"index {digest}")
            continue
        if media in MANIFEST_TYPES or (not media and "layers" in doc):
            return doc, digest
        raise ArtifactError(f"{store.where}: manifest {digest} has unsupported type {media!r}")
    raise ArtifactError(f"{store.where}: indexes nest deeper than {MAX_DEPTH} levels")


def _image(store: _Store, tag: str | None, platform: str, name: str, kind: str) -> Image:
    index = _json_object(_read_capped(store, "index.json", "index.json"), store.where, "index.json")
    top = _select(store.where, index, tag, platform)
    manifest, manifest_digest = _resolve(store, top, platform)

    config_desc = manifest.get("config")
    if not isinstance(config_desc, dict):
        raise ArtifactError(f"{store.where}: manifest {manifest_digest} has no config")
    config_type = config_desc.get("mediaType")
    if config_type and config_type not in CONFIG_TYPES:
        raise ArtifactError(
            f"{store.where}: manifest {manifest_digest} is not a container image "
            f"(config type {_short(config_type)})"
        )
    config, config_digest = _read_blob(store, config_desc, "config")

    descs = manifest.get("layers")
    if not isinstance(descs, list) or not all(isinstance(d, dict) for d in descs):
        raise ArtifactError(f"{store.where}: manifest {manifest_digest} has no list of layers")
    blobs: list[tuple[str | None, int | None, str]] = []
    paths: list[str] = []
    for desc in descs:
        rel = blob_path(desc.get("digest"), store.where)
        store.check(rel)
        size = desc.get("size")
        media = desc.get("mediaType")
        paths.append(rel)
        blobs.append(
            (
                str(desc["digest"]),
                size if isinstance(size, int) and not isinstance(size, bool) else None,
                media if isinstance(media, str) else "",
            )
        )
    try:
        paired = layers_from_config(config, blobs)
    except ValueError as e:
        raise ArtifactError(f"{store.where}: {e}") from None
    layers = [
        Layer(
            diff_id=diff_id,
            open=_opener(store, rel),
            digest=digest,
            size=size,
            media_type=media,
            verified=False,
            created_by=created_by,
        )
        for (diff_id, created_by), (digest, size, media), rel in zip(
            paired, blobs, paths, strict=True
        )
    ]
    repo_name = _ref(top, CONTAINERD_NAME)
    return Image(
        name=name,
        kind=kind,
        config=config,
        layers=layers,
        config_digest=config_digest,
        manifest_digest=manifest_digest,
        repo_tags=(repo_name,) if repo_name else (),
    )


def _opener(store: _Store, rel: str) -> Callable[[], BinaryIO]:
    return lambda: store.open(rel)


def _display(path: Path, tag: str | None) -> str:
    return f"{path}:{tag}" if tag else str(path)


def open_layout(
    path: Path, tag: str | None = None, platform: str = "linux/amd64", *, name: str | None = None
) -> Image:
    """The image `tag` names in the OCI layout directory `path` (or its only image)."""
    if not path.is_dir():
        raise ArtifactError(f"{path} is not a directory holding an OCI layout")
    return _image(_DirStore(path), tag, platform, name or _display(path, tag), "oci")


def open_archive(
    path: Path, tag: str | None = None, platform: str = "linux/amd64", *, name: str | None = None
) -> Image:
    """The image `tag` names in the oci-archive (an OCI layout in a tar) at `path`."""
    return image_from_tar(
        TarIndex.build(path), tag, name or _display(path, tag), "oci-archive", platform
    )


def image_from_tar(
    index: TarIndex, tag: str | None, name: str, kind: str, platform: str = "linux/amd64"
) -> Image:
    """An image from an already indexed tar holding an OCI layout."""
    if "index.json" not in index:
        raise ArtifactError(f"{index.path} is not an OCI archive: it has no index.json")
    return _image(_TarStore(index), tag, platform, name, kind)
