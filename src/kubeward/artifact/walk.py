"""One streaming pass over an image's layers (or a directory), feeding the analyzers.

Layers are walked top-down (newest first). A path a higher layer wrote or deleted is then
known before any lower copy of it is met, so a lower copy is skipped without reading a byte
of it: each visible wanted file is read exactly once, no file is read only to be thrown away
later, and no layer is kept or extracted. (Bottom-up would read every overwritten version.)
The price is that every layer must be openable before the walk starts, which all sources
give (the registry fills the blob cache first; archives are indexed).

Whiteouts follow the OCI layer spec: `.wh.NAME` deletes NAME from lower layers, and
`DIR/.wh..wh..opq` hides everything lower layers put under DIR. Neither hides entries of
its own layer.

A hardlink names an earlier member of the same tar; when a wanted file is a hardlink whose
target was passed unread, that one layer is read a second time for the targets alone (rare:
no package database is hardlinked), and targets absent from it are looked up in lower layers.
"""

from __future__ import annotations

import logging
import os
import stat
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.artifact.decompress import LayerStream, prefetch
from kubeward.artifact.filetree import FileTree, TreeEntry, normalize_member
from kubeward.artifact.image import Image, Layer
from kubeward.artifact.tarstream import TarReader
from kubeward.errors import DigestMismatchError, KubewardError, LayerError

log = logging.getLogger(__name__)

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class WalkOptions:
    """Caps that keep a hostile image from costing unbounded time or memory."""

    max_file_bytes: int = 100 * MiB  # an analyzed file larger than this is skipped
    max_layer_bytes: int = 16 * GiB  # decompressed bytes per layer
    max_total_bytes: int = 64 * GiB  # decompressed bytes for the whole image
    max_entries: int = 2_000_000  # visible paths kept in the FileTree


class Progress(Protocol):
    def layer(self, index: int, count: int, label: str, size: int | None) -> None: ...
    def advance(self, nbytes: int) -> None: ...


class Dispatcher:
    """Finds the analyzers that want a path with dict lookups, then hands them the bytes."""

    def __init__(self, analyzers: list[Analyzer], facts: InventoryBuilder) -> None:
        self.analyzers = analyzers
        self.facts = facts
        self._by_base: dict[str, list[Analyzer]] = defaultdict(list)
        self._by_ext: dict[str, list[Analyzer]] = defaultdict(list)
        self._by_prefix: list[tuple[str, Analyzer]] = []
        self._exec: list[Analyzer] = []
        # analyzers offered every file, hidden ones included (secret scanning)
        self.all_files: list[Analyzer] = [a for a in analyzers if a.all_files]
        for a in analyzers:
            for base in a.basenames:
                self._by_base[base].append(a)
            for ext in a.extensions:
                self._by_ext[ext].append(a)
            for prefix in a.prefixes:
                self._by_prefix.append((prefix, a))
            if a.executables:
                self._exec.append(a)
        self._prefixes = tuple(p for p, _ in self._by_prefix)

    def wanted_by(self, path: str, mode: int) -> list[Analyzer]:
        base = path[path.rfind("/") + 1 :]
        found: list[Analyzer] | None = self._by_base.get(base)
        dot = base.rfind(".")
        if dot > 0:
            more = self._by_ext.get(base[dot + 1 :])
            if more:
                found = more if found is None else found + more
        if self._prefixes and path.startswith(self._prefixes):
            more = [a for p, a in self._by_prefix if path.startswith(p)]
            found = more if found is None else found + more
        if self._exec and mode & 0o111:
            found = self._exec if found is None else found + self._exec
        if self.all_files:
            found = self.all_files if found is None else found + self.all_files
        if not found:
            return []
        out: list[Analyzer] = []
        for a in found:
            if a not in out and a.wants(path, mode):
                out.append(a)
        return out

    def dispatch(self, file: AnalyzedFile, analyzers: list[Analyzer]) -> None:
        for a in analyzers:
            try:
                a.analyze(file, self.facts)
            except KubewardError as exc:
                self.facts.warn(f"{a.name}: {file.path}: {exc}")
            except Exception as exc:  # an analyzer bug on hostile input must not end the scan
                log.debug("analyzer %s failed on %s", a.name, file.path, exc_info=True)
                self.facts.warn(f"{a.name}: cannot analyze {file.path}: {type(exc).__name__}")

    def finish(self) -> None:
        for a in self.analyzers:
            try:
                a.finish(self.facts)
            except Exception as exc:
                log.debug("analyzer %s failed in finish", a.name, exc_info=True)
                self.facts.warn(f"{a.name}: failed to finish: {type(exc).__name__}")


def _under_blocked(path: str, blocked: set[str]) -> bool:
    """True when a proper ancestor of `path` hides lower layers' content."""
    i = path.find("/")
    while i != -1:
        if path[:i] in blocked:
            return True
        i = path.find("/", i + 1)
    return False


class _RecentFiles:
    """The last few MiB of file bytes read from a layer, so a hardlink that follows its
    target closely (the usual order) needs no second pass over the layer."""

    def __init__(self, budget: int = 32 * MiB) -> None:
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._budget = budget

    def add(self, path: str, data: bytes) -> None:
        if len(data) > self._budget:
            return
        self._data[path] = data
        self._size += len(data)
        while self._size > self._budget:
            _, old = self._data.popitem(last=False)
            self._size -= len(old)

    def get(self, path: str) -> bytes | None:
        return self._data.get(path)


@dataclass
class _PendingLink:
    alias: str
    mode: int
    layer: str
    analyzers: list[Analyzer]


@dataclass
class _WalkState:
    tree: FileTree = field(default_factory=FileTree)
    deleted: set[str] = field(default_factory=set)  # whited-out paths (and their subtrees)
    blocked: set[str] = field(default_factory=set)  # lower content under these is hidden
    total_bytes: int = 0
    links: dict[str, list[_PendingLink]] = field(default_factory=dict)  # target -> aliases


class ImageWalker:
    def __init__(
        self,
        image: Image,
        dispatcher: Dispatcher,
        options: WalkOptions,
        progress: Progress | None = None,
    ) -> None:
        self.image = image
        self.dispatcher = dispatcher
        self.options = options
        self.progress = progress
        self.state = _WalkState()
        self.warn: Callable[[str], None] = dispatcher.facts.warn

    def walk(self) -> FileTree:
        layers = self.image.layers
        count = len(layers)
        for index in range(count - 1, -1, -1):
            self._walk_layer(index, layers[index])
        for target, aliases in sorted(self.state.links.items()):
            for link in aliases:
                self.warn(
                    f"layer {link.layer}: hardlink {link.alias!r} points to missing "
                    f"entry {target!r}; skipped"
                )
        self.dispatcher.finish()
        return self.state.tree

    def _label(self, index: int, layer: Layer) -> str:
        return f"layer {index + 1}/{len(self.image.layers)} ({layer.diff_id[:19]})"

    def _open_stream(
        self, index: int, layer: Layer, verify_compressed: bool, report: bool = True
    ) -> LayerStream:
        label = self._label(index, layer)
        try:
            raw = layer.open()
        except KubewardError:
            raise
        except OSError as exc:
            raise LayerError(f"{label}: cannot open blob: {exc}") from exc
        budget = min(
            self.options.max_layer_bytes, self.options.max_total_bytes - self.state.total_bytes
        )
        on_read = self.progress.advance if self.progress is not None and report else None
        return LayerStream(raw, label, budget, hash_compressed=verify_compressed, on_read=on_read)

    def _verify(self, index: int, layer: Layer, stream: LayerStream) -> None:
        label = self._label(index, layer)
        if layer.diff_id.startswith("sha256:") and stream.sha256 != layer.diff_id:
            raise DigestMismatchError(
                f"{label}: uncompressed content hashes to {stream.sha256}, not its diff_id"
            )
        compressed = stream.compressed_sha256
        if compressed is not None and layer.digest and compressed != layer.digest:
            raise DigestMismatchError(
                f"{label}: blob hashes to {compressed}, not its digest {layer.digest}"
            )

    def _walk_layer(self, index: int, layer: Layer) -> None:
        state = self.state
        tree = state.tree.entries
        deleted = state.deleted
        blocked = state.blocked
        label = self._label(index, layer)
        if self.progress is not None:
            self.progress.layer(index, len(self.image.layers), label, layer.size)
        verify_compressed = bool(
            layer.digest and not layer.verified and layer.digest != layer.diff_id
        )
        stream = self._open_stream(index, layer, verify_compressed)
        reader = TarReader(prefetch(stream), label)
        new_entries: dict[str, TreeEntry] = {}
        new_deleted: set[str] = set()
        new_blocked: set[str] = set()
        unresolved: dict[str, list[_PendingLink]] = {}
        recent = _RecentFiles()
        wanted_by = self.dispatcher.wanted_by
        dispatch = self.dispatcher.dispatch
        max_file = self.options.max_file_bytes
        diff_id = layer.diff_id
        links = state.links
        all_files = self.dispatcher.all_files
        try:
            for entry in reader:
                name = entry.name
                if name.startswith("./"):
                    name = name[2:]
                if (
                    name.startswith(("/", "../"))
                    or "//" in name
                    or "/./" in name
                    or "/../" in name
                    or name.endswith(("/.", "/.."))
                    or name in (".", "..")
                ):
                    norm, problem = normalize_member(name)
                    if norm is None:
                        self.warn(f"{label}: skipped entry {name!r}: {problem}")
                        continue
                    path = norm
                else:
                    path = name.rstrip("/")
                if not path:
                    continue
                base_start = path.rfind("/") + 1
                if path.startswith(".wh.", base_start):
                    parent = path[: base_start - 1] if base_start else ""
                    if path[base_start:] == ".wh..wh..opq":
                        if parent:
                            new_blocked.add(parent)
                        else:  # an opaque root hides every lower layer
                            new_blocked.add("")
                    else:
                        target = path[:base_start] + path[base_start + 4 :]
                        new_deleted.add(target)
                        new_blocked.add(target)
                    continue
                hidden = (
                    path in tree
                    or path in deleted
                    or "" in blocked
                    or (blocked and _under_blocked(path, blocked))
                )
                kind = entry.kind
                if kind == "file":
                    # a hardlink in a higher layer may need these bytes, visible or not
                    aliases = links.pop(path, None) if links else None
                    if hidden and aliases is None and not all_files:
                        continue
                    analyzers = []
                    hidden_analyzers: list[Analyzer] = []
                    if not hidden:
                        new_entries[path] = TreeEntry("file", entry.size, entry.mode, diff_id)
                        analyzers = wanted_by(path, entry.mode)
                    elif all_files:
                        hidden_analyzers = [a for a in all_files if a.wants(path, entry.mode)]
                    if not analyzers and aliases is None and not hidden_analyzers:
                        continue
                    if entry.size > max_file:
                        self.warn(
                            f"{label}: skipped {path!r}: {entry.size} bytes is over the "
                            f"{max_file}-byte cap for analyzed files"
                        )
                        continue
                    data = reader.read_data()
                    if analyzers:
                        recent.add(path, data)
                        dispatch(AnalyzedFile(path, data, diff_id, entry.mode), analyzers)
                    if hidden_analyzers:
                        dispatch(
                            AnalyzedFile(path, data, diff_id, entry.mode, hidden=True),
                            hidden_analyzers,
                        )
                    for link in aliases or ():
                        dispatch(
                            AnalyzedFile(link.alias, data, link.layer, link.mode), link.analyzers
                        )
                    continue
                if hidden:
                    continue
                if kind == "hardlink":
                    link_target, problem = normalize_member(entry.linkname)
                    if link_target is None:
                        self.warn(f"{label}: hardlink {path!r}: {problem}; skipped")
                        continue
                    target = link_target
                    known = new_entries.get(target)
                    link_mode = known.mode if known else entry.mode
                    new_entries[path] = TreeEntry(
                        "file", known.size if known else 0, link_mode, diff_id, target
                    )
                    analyzers = wanted_by(path, link_mode)
                    cached = recent.get(target) if analyzers else None
                    if cached is not None:
                        dispatch(AnalyzedFile(path, cached, diff_id, link_mode), analyzers)
                    elif analyzers:
                        unresolved.setdefault(target, []).append(
                            _PendingLink(path, link_mode, diff_id, analyzers)
                        )
                    continue
                new_entries[path] = TreeEntry(kind, entry.size, entry.mode, diff_id, entry.linkname)
                if kind in ("char", "block", "fifo") and wanted_by(path, 0o644):
                    self.warn(f"{label}: skipped {path!r}: a {kind} device, not a file")
            reader.drain()
        finally:
            state.total_bytes += stream.total_out
        self._verify(index, layer, stream)
        if len(tree) + len(new_entries) > self.options.max_entries:
            raise LayerError(
                f"{label}: more than {self.options.max_entries} paths in the image "
                "(raise --max-entries if genuine)"
            )
        tree.update(new_entries)
        deleted |= new_deleted
        blocked |= new_blocked
        # an upper non-directory hides whatever lower layers put under its path
        blocked.update(p for p, e in new_entries.items() if e.kind != "dir")
        if unresolved:
            self._second_pass(index, layer, unresolved)

    def _resolve_links(
        self, path: str, aliases: list[_PendingLink], reader: TarReader, size: int
    ) -> None:
        if size > self.options.max_file_bytes:
            for link in aliases:
                self.warn(f"skipped {link.alias!r}: over the analyzed-file size cap")
            return
        data = reader.read_data()
        for link in aliases:
            self.dispatcher.dispatch(
                AnalyzedFile(link.alias, data, link.layer, link.mode), link.analyzers
            )

    def _second_pass(
        self, index: int, layer: Layer, unresolved: dict[str, list[_PendingLink]]
    ) -> None:
        """Read this layer again for the targets of wanted hardlinks."""
        stream = self._open_stream(index, layer, False, report=False)
        reader = TarReader(prefetch(stream), self._label(index, layer))
        for entry in reader:
            if not unresolved:
                break
            member, _ = normalize_member(entry.name)
            if member is not None and entry.kind == "file" and member in unresolved:
                self._resolve_links(member, unresolved.pop(member), reader, entry.size)
        for target, aliases in unresolved.items():
            self.state.links.setdefault(target, []).extend(aliases)


def walk_image(
    image: Image,
    dispatcher: Dispatcher,
    options: WalkOptions | None = None,
    progress: Progress | None = None,
) -> FileTree:
    """Walk every layer once, top-down, dispatching wanted visible files; return the tree."""
    return ImageWalker(image, dispatcher, options or WalkOptions(), progress).walk()


_SKIP_AT_HOST_ROOT = frozenset({"proc", "sys", "dev"})


def walk_directory(
    root: Path, dispatcher: Dispatcher, options: WalkOptions | None = None
) -> FileTree:
    """Walk a directory tree without following symlinks, dispatching wanted regular files.

    Symlinks are recorded, never followed, so a link pointing outside `root` (or a loop)
    can never make kubeward read a host file. Device files and FIFOs are never opened.
    """
    opts = options or WalkOptions()
    tree = FileTree()
    warn = dispatcher.facts.warn
    root_real = os.path.realpath(root)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    stack: list[tuple[str, str]] = [(root_real, "")]
    while stack:
        dirpath, rel = stack.pop()
        try:
            with os.scandir(dirpath) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            warn(f"cannot list {rel or '.'}: {exc.strerror}")
            continue
        subdirs: list[tuple[str, str]] = []
        for child in children:
            path = f"{rel}/{child.name}" if rel else child.name
            try:
                st = child.stat(follow_symlinks=False)
            except OSError as exc:
                warn(f"cannot stat {path}: {exc.strerror}")
                continue
            mode = st.st_mode
            perm = stat.S_IMODE(mode)
            if stat.S_ISDIR(mode):
                if not rel and root_real == "/" and child.name in _SKIP_AT_HOST_ROOT:
                    continue
                tree.entries[path] = TreeEntry("dir", 0, perm, None)
                subdirs.append((child.path, path))
                continue
            if stat.S_ISLNK(mode):
                try:
                    target = os.readlink(child.path)
                except OSError:
                    target = ""
                tree.entries[path] = TreeEntry("symlink", 0, perm, None, target)
                continue
            if not stat.S_ISREG(mode):
                kind = "fifo" if stat.S_ISFIFO(mode) else "char" if stat.S_ISCHR(mode) else "other"
                tree.entries[path] = TreeEntry(kind, 0, perm, None)
                if dispatcher.wanted_by(path, 0o644):
                    warn(f"skipped {path!r}: a {kind} device, not a file")
                continue
            tree.entries[path] = TreeEntry("file", st.st_size, perm, None)
            if len(tree.entries) > opts.max_entries:
                raise KubewardError(f"more than {opts.max_entries} paths under {root}")
            analyzers = dispatcher.wanted_by(path, perm)
            if not analyzers:
                continue
            if st.st_size > opts.max_file_bytes:
                warn(
                    f"skipped {path!r}: {st.st_size} bytes is over the "
                    f"{opts.max_file_bytes}-byte cap for analyzed files"
                )
                continue
            data = _read_regular(child.path, flags, opts.max_file_bytes)
            if data is None:
                warn(f"skipped {path!r}: changed while reading or not readable")
                continue
            dispatcher.dispatch(AnalyzedFile(path, data, None, perm), analyzers)
        stack.extend(reversed(subdirs))  # depth-first in name order: a stable warning order
    dispatcher.finish()
    return tree


def _read_regular(path: str, flags: int, cap: int) -> bytes | None:
    """Read a file that was a regular file at lstat time; None if it no longer is."""
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
