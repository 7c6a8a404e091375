"""Maven artifacts in Java archives (jar, war, ear, jpi, hpi, par), nested archives included.

Identity comes from `META-INF/maven/<g>/<a>/pom.properties` (several in a shaded jar), else
from MANIFEST.MF, else from the file name. Archives come from strangers, so only the small
members needed are read, with explicit caps on bytes, entries and nesting depth; the zip is
opened from the bytes in memory, never extracted.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder, ScanContext
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Location, Package

ECOSYSTEM = "maven"
ARCHIVE_EXTENSIONS = frozenset({"jar", "war", "ear", "jpi", "hpi", "par"})
# Uncompressed bytes read from one top-level archive, nested archives included.
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
MAX_ENTRIES = 100_000  # per archive, checked before the central directory is parsed
MAX_DEPTH = 4  # archives inside archives: outer.ear!/a.war!/WEB-INF/lib/b.jar is depth 2
MAX_TEXT_MEMBER = 1024 * 1024  # pom.properties, MANIFEST.MF
NESTED_SEPARATOR = "!/"

MANIFEST = "META-INF/MANIFEST.MF"
_FILENAME_VERSION = re.compile(r"^(?P<name>.+)-(?P<version>\d[^/]*)$")
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,  # encrypted members
    NotImplementedError,  # unsupported compression methods
)


class _Skip(Exception):
    """One member or archive that is skipped, with the reason to warn about."""


@dataclass
class _Budget:
    remaining: int
    depth_warned: bool = False


def _declared_entries(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record (zip64 aware), or None."""
    eocd = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if eocd < 0 or eocd + 22 > len(data):
        return None
    count: int = struct.unpack_from("<H", data, eocd + 10)[0]
    if count == 0xFFFF and eocd >= 20 and data.startswith(b"PK\x06\x07", eocd - 20):
        z64: int = struct.unpack_from("<Q", data, eocd - 12)[0]
        if z64 + 40 <= len(data) and data.startswith(b"PK\x06\x06", z64):
            count = struct.unpack_from("<Q", data, z64 + 32)[0]
    return count


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 == len(text):
            out.append(c)
            i += 1
            continue
        n = text[i + 1]
        if n == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(n, n))
        i += 2
    return "".join(out)


def parse_properties(text: str) -> dict[str, str]:
    """java.util.Properties text format: comments, `=`/`:`/space separators, continuations."""
    props: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].lstrip(" \t\f")
        i += 1
        if not line or line[0] in "#!":
            continue
        # An odd run of trailing backslashes joins the next line (leading blanks dropped).
        while (len(line) - len(line.rstrip("\\"))) % 2 == 1 and i <= len(lines):
            line = line[:-1] + (lines[i].lstrip(" \t\f") if i < len(lines) else "")
            i += 1
        m = re.match(r"((?:\\.|[^=:\s\\])*)\s*[=:]?\s*", line)
        key_end = m.end(1) if m else 0
        value_start = m.end() if m else 0
        props[_unescape(line[:key_end])] = _unescape(line[value_start:])
    return props


def parse_manifest(data: bytes) -> dict[str, str]:
    """The main section of a JAR manifest.

    Lines wrap at 72 bytes, which can cut a UTF-8 sequence in two, so continuations are joined
    as bytes before decoding; undecodable bytes are replaced, as java.util.jar.Manifest does.
    """
    headers: dict[bytes, bytes] = {}
    last = b""
    for raw in data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
        if not raw:
            break  # per-entry sections follow the main one
        if raw.startswith(b" ") and last:
            headers[last] += raw[1:]
            continue
        key, sep, value = raw.partition(b":")
        if sep:
            last = key.strip()
            headers[last] = value.lstrip()
    return {
        k.decode("utf-8", "replace"): v.decode("utf-8", "replace").strip()
        for k, v in headers.items()
    }


def _split_header(value: str) -> list[str]:
    """OSGi header clauses: split on commas outside quotes, drop `;attribute` parts."""
    clauses: list[str] = []
    current: list[str] = []
    quoted = False
    for c in value:
        if c == '"':
            quoted = not quoted
        if c == "," and not quoted:
            clauses.append("".join(current))
            current = []
        else:
            current.append(c)
    clauses.append("".join(current))
    out = []
    for clause in clauses:
        main = clause.split(";", 1)[0].strip()
        if main and main != "<<EXTERNAL>>":
            out.append(main)
    return out


def _from_filename(basename: str) -> tuple[str, str]:
    stem = basename.rsplit(".", 1)[0] if "." in basename else basename
    m = _FILENAME_VERSION.match(stem)
    return (m["name"], m["version"]) if m else (stem, "")


def manifest_identity(headers: dict[str, str], basename: str) -> tuple[str, str]:
    """(name, version) from manifest headers, completed from the file name.

    group: Implementation-Vendor-Id; artifact: Implementation-Title when it is a single word,
    else Bundle-SymbolicName (split at its last dot into group and artifact when no group is
    known), else the file name's part before its version. Version: Implementation-Version,
    Bundle-Version, then the file name's version.
    """
    file_artifact, file_version = _from_filename(basename)
    group = headers.get("Implementation-Vendor-Id", "").strip()
    title = headers.get("Implementation-Title", "").strip()
    artifact = title if title and not re.search(r"\s", title) else ""
    bsn = headers.get("Bundle-SymbolicName", "").split(";", 1)[0].strip()
    if not artifact and bsn:
        if group or "." not in bsn:
            artifact = bsn
        else:
            group, _, artifact = bsn.rpartition(".")
    artifact = artifact or file_artifact
    version = (
        headers.get("Implementation-Version", "").strip()
        or headers.get("Bundle-Version", "").strip()
        or file_version
    )
    return (f"{group}:{artifact}" if group else artifact), version


class JavaAnalyzer(Analyzer):
    """Maven packages of Java archives.

    A nested archive's packages are located at "outer.war!/WEB-INF/lib/inner.jar" (the
    java.net.JarURLConnection convention): the path still starts with the real file, and the
    package says which archive inside it holds the code. Bundle-License licences are given
    to an archive's package only when the archive yields exactly one (a shaded jar's licence
    header speaks for the shading artifact, not for what it bundles).
    """

    name = "java"
    extensions = ARCHIVE_EXTENSIONS

    def __init__(
        self,
        context: ScanContext,
        *,
        max_bytes: int = MAX_ARCHIVE_BYTES,
        max_entries: int = MAX_ENTRIES,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        super().__init__(context)
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.max_depth = max_depth

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        budget = _Budget(self.max_bytes)
        self._archive(file.data, file.path, depth=0, budget=budget, file=file, facts=facts)

    def _read(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, budget: _Budget) -> bytes:
        limit = min(cap, budget.remaining)
        if info.file_size > limit:
            raise _Skip(f"{info.filename} is {info.file_size} bytes, over the {limit} byte cap")
        try:
            with zf.open(info) as member:
                # ZipExtFile stops at the declared size and checks the CRC at the end, so a
                # member that inflates past what it claims cannot be read into memory.
                data = member.read(limit + 1)
        except _ZIP_ERRORS as exc:
            raise _Skip(f"{info.filename}: {exc}") from exc
        budget.remaining -= len(data)
        return data

    def _text(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget) -> str:
        data = self._read(zf, info, MAX_TEXT_MEMBER, budget)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Skip(f"{info.filename} is not UTF-8") from exc

    def _archive(
        self,
        data: bytes,
        path: str,
        *,
        depth: int,
        budget: _Budget,
        file: AnalyzedFile,
        facts: InventoryBuilder,
    ) -> None:
        declared = _declared_entries(data)
        if declared is not None and declared > self.max_entries:
            facts.warn(f"{path}: {declared} zip entries, over the {self.max_entries} cap")
            return
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            infos = zf.infolist()
        except _ZIP_ERRORS as exc:
            facts.warn(f"{path}: unreadable zip archive: {exc}")
            return
        if len(infos) > self.max_entries:
            facts.warn(f"{path}: {len(infos)} zip entries, over the {self.max_entries} cap")
            return

        location = Location(path=path, layer=file.layer)
        found: list[tuple[str, str]] = []
        manifest: dict[str, str] | None = None
        nested: list[zipfile.ZipInfo] = []
        poms: list[zipfile.ZipInfo] = []
        for info in infos:
            name = info.filename
            if info.is_dir():
                continue
            parts = name.split("/")
            if (
                len(parts) == 5
                and parts[:2] == ["META-INF", "maven"]
                and parts[4] == ("pom.properties")
            ):
                poms.append(info)
            elif name == MANIFEST:
                try:
                    manifest = parse_manifest(self._read(zf, info, MAX_TEXT_MEMBER, budget))
                except _Skip as exc:
                    facts.warn(f"{path}: skipped {exc}")
            elif name.rpartition(".")[2].lower() in ARCHIVE_EXTENSIONS:
                nested.append(info)

        for info in poms:
            try:
                props = parse_properties(self._text(zf, info, budget))
            except _Skip as exc:
                facts.warn(f"{path}: skipped {exc}")
                continue
            _, _, group_dir, artifact_dir, _ = info.filename.split("/")
            group = props.get("groupId", "").strip() or group_dir
            artifact = props.get("artifactId", "").strip() or artifact_dir
            version = props.get("version", "").strip()
            if group and artifact and version:
                found.append((f"{group}:{artifact}", version))

        if not found:
            basename = path.rpartition("/")[2]
            name, version = manifest_identity(manifest or {}, basename)
            if name and version:
                found.append((name, version))

        licenses: tuple[str, ...] = ()
        if manifest and len(found) == 1:
            declared_licenses = _split_header(manifest.get("Bundle-License", ""))
            licenses = tuple(normalize_license(text) for text in declared_licenses)
        for name, version in dict.fromkeys(found):
            facts.add(Package(name, version, ECOSYSTEM, "", location, licenses=licenses))

        for info in nested:
            inner = f"{path}{NESTED_SEPARATOR}{info.filename}"
            if depth + 1 > self.max_depth:
                if not budget.depth_warned:
                    facts.warn(f"{inner}: archives nested deeper than {self.max_depth}, skipped")
                    budget.depth_warned = True
                continue
            try:
                inner_data = self._read(zf, info, budget.remaining, budget)
            except _Skip as exc:
                facts.warn(f"{path}: skipped {exc}")
                continue
            self._archive(inner_data, inner, depth=depth + 1, budget=budget, file=file, facts=facts)
