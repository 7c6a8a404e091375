"""Which importer a file needs, from its name and a cheap look at its bytes, so that
`kubeward db import` takes a checkout of any supported feed (or OSV's all.zip) as it is.

Directories are walked in sorted order (symlinks leading outside are not followed) and
their files grouped by source, so that each (source, origin) batch is counted once.
Files that match no known format (licences, READMEs, indexes ...) are skipped silently;
files over the size caps, and zip members that look like bombs, are reported and skipped.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kubeward.vulndb.model import Advisory, OnBadRecord

log = logging.getLogger(__name__)

Parser = Callable[[bytes, str, OnBadRecord], Iterator[Advisory]]

# source name -> (module, function); modules are imported only when a file needs them.
PARSERS: dict[str, tuple[str, str]] = {
    "osv": ("kubeward.vulndb.importers.osv", "parse_osv"),
    "debian-dsa": ("kubeward.vulndb.importers.debian", "parse_dsa_list"),
    "debian-dla": ("kubeward.vulndb.importers.debian", "parse_dla_list"),
    "debian-tracker": ("kubeward.vulndb.importers.debian", "parse_tracker_json"),
    "alpine-secdb": ("kubeward.vulndb.importers.alpine", "parse_secdb"),
    "rubysec": ("kubeward.vulndb.importers.rubysec", "parse_rubysec"),
    "friendsofphp": ("kubeward.vulndb.importers.friendsofphp", "parse_friendsofphp"),
    "nodejs-wg": ("kubeward.vulndb.importers.nodejs_wg", "parse_nodejs_wg"),
}

MAX_FILE_BYTES = 512 << 20  # one feed file (the Debian tracker export is the largest)
MAX_MEMBER_BYTES = 64 << 20  # one record inside a zip
MAX_ZIP_BYTES = 16 << 30  # all members of one zip, decompressed
MAX_ZIP_RATIO = 200  # decompressed / compressed, for members over 1 MiB
_SNIFF_FULL = 1 << 20  # files up to this size are read whole while sniffing (and kept)
_SNIFF_HEAD = 64 << 10
_KEEP_BUDGET = 256 << 20  # bytes kept from sniffing to avoid a second read

_SKIPPED_NAMES = re.compile(rb"^(?:license|licence|readme|copying|notice|authors)", re.I)
_DEBIAN_LIST = re.compile(rb"\A\s*\[\d{1,2} [A-Za-z]{3} \d{4}\] (DSA|DLA)-\d+")
_TRACKER = re.compile(rb'\A\s*\{\s*"[^"\\]{1,200}"\s*:\s*\{\s*"(?:CVE|TEMP)-')


class _JsonKey:
    """A key of a JSON object: the quoted name followed by a colon."""

    def __init__(self, *names: str) -> None:
        self._patterns = [re.compile(b'"' + n.encode() + rb'"\s*:') for n in names]

    def __call__(self, text: bytes) -> bool:
        return any(p.search(text) for p in self._patterns)


class _YamlKey:
    """A top-level key of a YAML mapping, at the start of a line (a substring test: far
    cheaper than a multiline regex over every file)."""

    def __init__(self, *names: str, value: bytes = b"") -> None:
        self._keys = [n.encode() + b":" for n in names]
        self._value = re.compile(rb"[ \t]*['\"]?" + re.escape(value)) if value else None

    def __call__(self, text: bytes) -> bool:
        for key in self._keys:
            if text.startswith(key):
                at = 0
            else:
                at = text.find(b"\n" + key) + 1
                if not at:
                    continue
            if self._value is None or self._value.match(text, at + len(key)):
                return True
        return False


# (source, tests that must all pass), tried in order.
_JSON_RULES: tuple[tuple[str, tuple[_JsonKey, ...]], ...] = (
    ("alpine-secdb", (_JsonKey("distroversion"), _JsonKey("packages"))),
    ("nodejs-wg", (_JsonKey("module_name"), _JsonKey("vulnerable_versions"))),
    ("osv", (_JsonKey("id"), _JsonKey("affected", "modified"))),
)
_YAML_RULES: tuple[tuple[str, tuple[_YamlKey, ...]], ...] = (
    ("alpine-secdb", (_YamlKey("distroversion"), _YamlKey("packages"))),
    ("friendsofphp", (_YamlKey("branches"), _YamlKey("reference", value=b"composer://"))),
    (
        "rubysec",
        (_YamlKey("gem", "engine"), _YamlKey("patched_versions", "unaffected_versions", "title")),
    ),
    ("osv", (_YamlKey("id"), _YamlKey("affected", "modified"))),
)
_STRUCTURED = {".json", ".yaml", ".yml"}


def classify(path: Path, head: bytes) -> str | None:
    """The source whose importer reads this file, or None to skip it. `head` is the
    file's start (at least 64 KiB of it, or all of it)."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return "osv"
    if suffix not in _STRUCTURED:
        match = _DEBIAN_LIST.match(head)
        if match is None:
            return None
        return "debian-dsa" if match.group(1) == b"DSA" else "debian-dla"
    text = head.removeprefix(b"\xef\xbb\xbf")
    rules: tuple[tuple[str, tuple[_JsonKey | _YamlKey, ...]], ...] = _YAML_RULES
    if text.lstrip()[:1] == b"{":
        if _TRACKER.match(text):
            return "debian-tracker"
        rules = _JSON_RULES
    for source, tests in rules:
        if all(test(text) for test in tests):
            return source
    return None


_parsers: dict[str, Parser | None] = {}


def parser_for(source: str) -> Parser | None:
    """The importer function of a source, imported on first use; None (logged once) when
    its module is not available."""
    if source not in _parsers:
        module_name, function = PARSERS[source]
        try:
            parser: Parser | None = getattr(importlib.import_module(module_name), function)
        except (ImportError, AttributeError) as exc:
            log.warning("no importer for %s files (%s): they are skipped", source, exc)
            parser = None
        _parsers[source] = parser
    return _parsers[source]


@dataclass(slots=True)
class _File:
    path: Path
    data: bytes | None  # kept from sniffing when the file was read whole


class _Walk:
    def __init__(self, on_bad: OnBadRecord) -> None:
        self.on_bad = on_bad
        self.kept = 0

    def visit(self, path: Path, groups: dict[str, list[_File]]) -> None:
        if _SKIPPED_NAMES.match(path.name.encode("utf-8", "surrogateescape")):
            return
        if path.suffix.lower() == ".zip":
            groups.setdefault("osv", []).append(_File(path, None))
            return
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size > MAX_FILE_BYTES:
                    self.on_bad(f"{path}: skipped, {size} bytes is over {MAX_FILE_BYTES}")
                    return
                whole = size <= _SNIFF_FULL and self.kept + size <= _KEEP_BUDGET
                head = f.read(size + 1 if whole else _SNIFF_HEAD)
        except OSError as exc:
            self.on_bad(f"{path}: cannot read: {exc.strerror or exc}")
            return
        source = classify(path, head)
        if source is None:
            return
        keep = whole and len(head) <= size
        if keep:
            self.kept += len(head)
        groups.setdefault(source, []).append(_File(path, head if keep else None))

    def walk(self, root: Path, groups: dict[str, list[_File]]) -> None:
        real_root = root.resolve()
        for directory, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = Path(directory, name)
                try:
                    if path.is_symlink():
                        target = path.resolve()
                        if not target.is_relative_to(real_root) or not target.is_file():
                            continue
                    elif not path.is_file():
                        continue
                except (OSError, RuntimeError):  # symlink loops, unreadable entries
                    continue
                self.visit(path, groups)


def iter_sources(
    paths: list[Path], on_bad: OnBadRecord
) -> Iterator[tuple[str, str, Iterator[Advisory]]]:
    """(source name, origin, advisories) for every importable file under `paths`, one
    batch per source and path given; each batch's advisories are parsed as it is iterated,
    and must be consumed before the next batch is asked for."""
    for root in paths:
        walk = _Walk(on_bad)
        groups: dict[str, list[_File]] = {}
        if root.is_dir():
            walk.walk(root, groups)
        elif root.is_file():
            walk.visit(root, groups)
        else:
            reason = (
                "not a regular file or directory" if root.exists() else "no such file or directory"
            )
            on_bad(f"{root}: {reason}")
            continue
        for source, files in groups.items():
            parser = parser_for(source)
            if parser is None:
                continue
            yield source, str(root), _parse_files(source, parser, files, on_bad)


def _read(path: Path, on_bad: OnBadRecord) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        on_bad(f"{path}: cannot read: {exc.strerror or exc}")
        return None
    if len(data) > MAX_FILE_BYTES:
        on_bad(f"{path}: skipped, over {MAX_FILE_BYTES} bytes")
        return None
    return data


def _parse_files(
    source: str, parser: Parser, files: list[_File], on_bad: OnBadRecord
) -> Iterator[Advisory]:
    for file in files:
        if file.path.suffix.lower() == ".zip":
            yield from iter_zip(file.path, parser, on_bad)
            continue
        data = file.data if file.data is not None else _read(file.path, on_bad)
        file.data = None
        if data is not None:
            yield from _guarded(parser, data, str(file.path), source, on_bad)


def _guarded(
    parser: Parser, data: bytes, origin: str, source: str, on_bad: OnBadRecord
) -> Iterator[Advisory]:
    # Importers promise not to raise; a bug in one must still not end the whole import.
    try:
        yield from parser(data, origin, on_bad)
    except Exception as exc:
        on_bad(f"{origin}: {source} importer failed: {type(exc).__name__}: {exc}")


def iter_zip(path: Path, parser: Parser, on_bad: OnBadRecord) -> Iterator[Advisory]:
    """The records of an OSV zip (all.zip, or one ecosystem's), member by member, never
    extracted; members over the caps or compressed suspiciously well are skipped."""
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename
                if info.is_dir() or not name.lower().endswith((".json", ".yaml", ".yml")):
                    continue
                origin = f"{path}:{name}"
                if info.file_size > MAX_MEMBER_BYTES:
                    on_bad(f"{origin}: skipped, {info.file_size} bytes is over {MAX_MEMBER_BYTES}")
                    continue
                if info.file_size > 1 << 20 and info.file_size > info.compress_size * MAX_ZIP_RATIO:
                    on_bad(f"{origin}: skipped, compression ratio over {MAX_ZIP_RATIO}")
                    continue
                try:
                    with archive.open(info) as member:
                        # The header's size may lie: never read more than the cap.
                        data = member.read(MAX_MEMBER_BYTES + 1)
                except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError,
                        EOFError, OSError) as exc:  # fmt: skip
                    on_bad(f"{origin}: cannot read the member: {exc}")
                    continue
                if len(data) > MAX_MEMBER_BYTES:
                    on_bad(f"{origin}: skipped, over {MAX_MEMBER_BYTES} bytes")
                    continue
                total += len(data)
                if total > MAX_ZIP_BYTES:
                    on_bad(f"{path}: stopped, over {MAX_ZIP_BYTES} bytes decompressed")
                    return
                yield from _guarded(parser, data, origin, "osv", on_bad)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        on_bad(f"{path}: not a readable zip archive: {exc}")
