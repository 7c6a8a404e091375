"""Read `docker save` archives in place, without extracting them.

The tar is indexed once (member name -> data offset and size); each layer is then served as a
bounded read-only view of the archive file, so a multi-gigabyte archive costs no disk and one
header pass. Both layouts `docker save` has written are read through manifest.json: the legacy
one ("<id>/layer.tar", "<hex>.json") and the OCI-like one of Docker 25+ ("blobs/sha256/<hex>").
An archive with index.json but no manifest.json is read as an OCI layout.

Decision: `manifest_digest` is None for archives read through manifest.json. The manifest in
a `docker save` archive (the Docker 25+ index.json one included) is written by the daemon at
save time, with the layers as it stores them, so its digest is not the digest any registry
serves; reporting it as the image's repo digest would mislead. (An archive with no
manifest.json is not `docker save` output and follows oci_layout's rules.)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from kubeward.artifact.image import Image, Layer, layers_from_config
from kubeward.errors import ArtifactError, DigestMismatchError, LayerError

MAX_JSON = 4 * 1024 * 1024  # manifest.json, index.json, manifests and configs
MAX_MEMBERS = 100_000  # far above any real archive (a few members per layer)
MAX_LINK_HOPS = 8
READ_BUFFER = 1024 * 1024

# Content-addressed member names whose digest can be checked when read.
_ADDRESSED = re.compile(r"^blobs/sha256/([0-9a-f]{64})$|^([0-9a-f]{64})\.json$")


class MemberReader(io.RawIOBase):
    """A read-only view of bytes [offset, offset + size) of a file, with its own handle."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        super().__init__()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._start = offset
        self._size = size
        self._pos = 0
        self._file.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._size - self._pos)
        if want <= 0:
            return 0
        got = self._file.readinto(view[:want]) or 0
        if got == 0:
            raise LayerError(f"{self._file.name} ends inside a member: the archive was truncated")
        self._pos += got
        return got

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, min(self._size, base + offset))
        self._file.seek(self._start + self._pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


@dataclass(frozen=True)
class Member:
    offset: int
    size: int


def member_name(name: str) -> str | None:
    """The normalized archive path of `name`, or None when it points outside the archive."""
    if name.startswith("/"):
        return None
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or norm == ".":
        return None
    return norm


class TarIndex:
    """Where each regular file's data lies inside an uncompressed tar, read in one pass."""

    def __init__(self, path: Path, members: dict[str, Member], links: dict[str, str]) -> None:
        self.path = path
        self._members = members
        self._links = links  # symlink and hardlink members: name -> normalized target

    @classmethod
    def build(cls, path: Path) -> TarIndex:
        try:
            with open(path, "rb") as f:
                magic = f.read(4)
                f.seek(0)
                if magic[:2] == b"\x1f\x8b" or magic == b"\x28\xb5\x2f\xfd":
                    raise ArtifactError(
                        f"{path} is compressed; decompress it first (it is read in place)"
                    )
                total = os.fstat(f.fileno()).st_size
                members: dict[str, Member] = {}
                links: dict[str, str] = {}
                with tarfile.open(fileobj=f, mode="r:") as tar:
                    for count, info in enumerate(tar, 1):
                        if count > MAX_MEMBERS:
                            raise ArtifactError(f"{path} has more than {MAX_MEMBERS} members")
                        name = member_name(info.name)
                        if name is None:
                            continue
                        if info.isreg() and not info.issparse():
                            if info.offset_data + info.size > total:
                                raise ArtifactError(
                                    f"{path} is truncated: member {name!r} ends past the end "
                                    "of the file"
                                )
                            members[name] = Member(info.offset_data, info.size)
                            links.pop(name, None)
                        elif info.issym() or info.islnk():
                            base = posixpath.dirname(name) if info.issym() else ""
                            target = member_name(posixpath.join(base, info.linkname))
                            if target is not None:
                                links[name] = target
                                members.pop(name, None)
        except OSError as e:
            raise ArtifactError(f"cannot read {path}: {e.strerror or e}") from None
        except tarfile.TarError as e:
            raise ArtifactError(f"{path} is not a readable tar archive: {e}") from None
        return cls(path, members, links)

    def get(self, name: str) -> Member | None:
        norm = member_name(name)
        for _ in range(MAX_LINK_HOPS):
            if norm is None:
                return None
            if norm in self._members:
                return self._members[norm]
            norm = self._links.get(norm)
        return None

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def read(self, member: Member, label: str, cap: int = MAX_JSON) -> bytes:
        if member.size > cap:
            raise ArtifactError(f"{self.path}: {label} is larger than the {cap >> 20} MiB cap")
        with self.open(member) as f:
            return f.read()

    def open(self, member: Member) -> BinaryIO:
        return io.BufferedReader(
            MemberReader(self.path, member.offset, member.size), buffer_size=READ_BUFFER
        )

    def opener(self, member: Member) -> Callable[[], BinaryIO]:
        return lambda: self.open(member)


@dataclass(frozen=True)
class _Entry:
    config: str
    repo_tags: tuple[str, ...]
    layers: tuple[str, ...]


def familiar(ref: str) -> str:
    """`ref` as Docker shows it: no docker.io/library/ prefix, ":latest" when untagged."""
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    if "@" not in ref and ":" not in ref.rpartition("/")[2]:
        ref += ":latest"
    return ref


def _parse_manifest(path: Path, raw: bytes) -> list[_Entry]:
    try:
        doc = json.loads(raw)
    except ValueError:
        raise ArtifactError(f"{path}: manifest.json is not valid JSON") from None
    if not isinstance(doc, list) or not doc:
        raise ArtifactError(f"{path}: manifest.json is not a non-empty list of images")
    entries: list[_Entry] = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            raise ArtifactError(f"{path}: manifest.json entry {i} is not an object")
        config, layers, tags = item.get("Config"), item.get("Layers"), item.get("RepoTags")
        if not isinstance(config, str):
            raise ArtifactError(f"{path}: manifest.json entry {i} has no Config string")
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise ArtifactError(f"{path}: manifest.json entry {i} Layers is not a list of strings")
        if tags is None:
            tags = []
        if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
            raise ArtifactError(
                f"{path}: manifest.json entry {i} RepoTags is not a list of strings"
            )
        entries.append(_Entry(config, tuple(tags), tuple(layers)))
    return entries


def _choose(path: Path, entries: list[_Entry], tag: str | None) -> _Entry:
    if tag is None:
        return entries[0]
    if re.fullmatch(r"@\d+", tag):  # skopeo's docker-archive:FILE:@N
        index = int(tag[1:])
        if index < len(entries):
            return entries[index]
        raise ArtifactError(f"{path} holds {len(entries)} images; there is no image {tag}")
    want = familiar(tag)
    for entry in entries:
        if tag in entry.repo_tags or want in {familiar(t) for t in entry.repo_tags}:
            return entry
    available = ", ".join(t for e in entries for t in e.repo_tags) or "none"
    raise ArtifactError(f"{path} has no image tagged {tag!r} (tags in the archive: {available})")


def _member(index: TarIndex, name: str, what: str) -> Member:
    if member_name(name) is None:
        raise ArtifactError(
            f"{index.path}: manifest.json names {what} {name!r}, which is outside the archive"
        )
    member = index.get(name)
    if member is None:
        raise ArtifactError(
            f"{index.path}: manifest.json names {what} {name!r}, which is not in the archive"
        )
    return member


def open_image(path: Path, tag: str | None = None, *, name: str | None = None) -> Image:
    """The image in a `docker save` archive: the first one, or the one `tag` selects
    ("name:tag" as in RepoTags, or "@N" for the N-th image)."""
    index = TarIndex.build(path)
    display = name or (f"{path}:{tag}" if tag else str(path))
    manifest = index.get("manifest.json")
    if manifest is None:
        if "index.json" in index:
            from kubeward.artifact import oci_layout

            return oci_layout.image_from_tar(index, tag, display, kind="docker-archive")
        raise ArtifactError(f"{path} is not a docker-archive: it has no manifest.json")
    entry = _choose(path, _parse_manifest(path, index.read(manifest, "manifest.json")), tag)

    raw = index.read(_member(index, entry.config, "config"), f"config {entry.config!r}")
    config_digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    addressed = _ADDRESSED.search(member_name(entry.config) or "")
    if addressed and config_digest != "sha256:" + (addressed[1] or addressed[2]):
        raise DigestMismatchError(
            f"{path}: config {entry.config!r} does not match its digest (it hashes to "
            f"{config_digest})"
        )
    try:
        config = json.loads(raw)
    except ValueError:
        config = None
    if not isinstance(config, dict):
        raise ArtifactError(f"{path}: config {entry.config!r} is not a JSON object")

    members = [(layer, _member(index, layer, "layer")) for layer in entry.layers]
    blobs: list[tuple[str | None, int | None, str]] = []
    for layer, member in members:
        match = _ADDRESSED.search(member_name(layer) or "")
        digest = f"sha256:{match[1]}" if match and match[1] else None
        blobs.append((digest, member.size, ""))
    try:
        paired = layers_from_config(config, blobs)
    except ValueError as e:
        raise ArtifactError(f"{path}: {e}") from None
    layers = [
        Layer(
            diff_id=diff_id,
            open=index.opener(member),
            digest=blob[0],
            size=member.size,
            created_by=created_by,
        )
        for (diff_id, created_by), blob, (_, member) in zip(paired, blobs, members, strict=True)
    ]
    return Image(
        name=display,
        kind="docker-archive",
        config=config,
        layers=layers,
        config_digest=config_digest,
        manifest_digest=None,
        repo_tags=entry.repo_tags,
    )
