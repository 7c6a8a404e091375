"""Go modules compiled into ELF executables, read from the linker's build-info blob.

Every executable of an image is offered here, so the ELF headers are read with `struct` on the
bytes already in memory (pyelftools costs far more per file), and a file that is not ELF is
dropped after four bytes. Both blob layouts are read: the inline one (Go >= 1.18) and the older
one that points, through virtual addresses, at Go string headers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.model import Package

ECOSYSTEM = "golang"
ELF_MAGIC = b"\x7fELF"
BUILDINFO_MAGIC = b"\xff Go buildinf:"
BUILDINFO_SECTION = b".go.buildinfo\x00"
_HEADER_SIZE = 32
_ALIGN = 16
# The linker puts the blob near the start of the data segment; Go's own reader looks this far.
_DATA_SEARCH = 64 * 1024
# Longest version or modinfo string accepted; real modinfo of huge programs is well below.
MAX_STRING = 4 * 1024 * 1024

_PT_LOAD = 1
_PF_X = 1
_PF_W = 2
_SHT_NOBITS = 8


class _Malformed(Exception):
    """The file carries Go build info that cannot be read."""


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """The two strings the Go linker stores: the toolchain version and the module info."""

    go_version: str
    modinfo: str  # without the 16-byte sentinels; "" when the binary has none


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    version: str
    sum: str = ""
    replace: Module | None = None


@dataclass(frozen=True, slots=True)
class ModInfo:
    path: str  # the main package path
    main: Module | None
    deps: tuple[Module, ...]


@dataclass(frozen=True, slots=True)
class _Segment:
    vaddr: int
    offset: int
    size: int  # bytes present in the file
    flags: int


@dataclass(frozen=True, slots=True)
class _Elf:
    sections: dict[bytes, tuple[int, int]]  # only the buildinfo section: name -> (offset, size)
    segments: tuple[_Segment, ...]  # PT_LOAD program headers
    mapped: tuple[_Segment, ...]  # sections with an address, for files without PT_LOAD


def _parse_elf(data: bytes) -> _Elf:
    """The few ELF facts needed here; raises _Malformed for headers that do not hold together."""
    if len(data) < 52:
        raise _Malformed("truncated ELF header")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise _Malformed("unknown ELF class or byte order")
    e = "<" if ei_data == 1 else ">"
    size = len(data)
    if ei_class == 2:
        if size < 64:
            raise _Malformed("truncated ELF header")
        phoff, shoff = struct.unpack_from(e + "QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "HHHHH", data, 0x36)
        sh_fmt, sh_min, ph_fmt, ph_min = e + "IIQQQQIIQQ", 64, e + "IIQQQQQQ", 56
    else:
        phoff, shoff = struct.unpack_from(e + "II", data, 0x1C)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "HHHHH", data, 0x2A)
        sh_fmt, sh_min, ph_fmt, ph_min = e + "IIIIIIIIII", 40, e + "IIIIIIII", 32

    def section(i: int) -> tuple[int, ...]:
        at = shoff + i * shentsize
        if at + sh_min > size:
            raise _Malformed("section header past end of file")
        return struct.unpack_from(sh_fmt, data, at)

    # Section headers: optional (sstrip removes them), and a broken table is not fatal when
    # the program headers can still locate the blob.
    sections: dict[bytes, tuple[int, int]] = {}
    mapped: list[_Segment] = []
    if shoff and shentsize >= sh_min:
        try:
            first = section(0)
            if shnum == 0:  # extended numbering: the count lives in section 0
                shnum = first[5]
            if shstrndx == 0xFFFF:
                shstrndx = first[6]
            if shnum > 0xFFFF or shstrndx >= shnum:
                raise _Malformed("bad section count")
            strtab = section(shstrndx)
            str_off, str_size = strtab[4], strtab[5]
            for i in range(shnum):
                name, kind, _flags, addr, off, sz = section(i)[:6]
                if kind != _SHT_NOBITS and addr and off + sz <= size:
                    mapped.append(_Segment(addr, off, sz, 0))
                if name < str_size and data.startswith(BUILDINFO_SECTION, str_off + name):
                    sections[BUILDINFO_SECTION] = (off, sz)
        except _Malformed:
            sections, mapped = {}, []

    segments: list[_Segment] = []
    if phoff and phentsize >= ph_min and phnum != 0xFFFF:
        for i in range(phnum):
            at = phoff + i * phentsize
            if at + ph_min > size:
                break
            fields = struct.unpack_from(ph_fmt, data, at)
            if ei_class == 2:
                p_type, p_flags, p_offset, p_vaddr, _p, p_filesz = fields[:6]
            else:
                p_type, p_offset, p_vaddr, _p, p_filesz, _m, p_flags = fields[:7]
            if p_type == _PT_LOAD:
                segments.append(_Segment(p_vaddr, p_offset, p_filesz, p_flags))
    return _Elf(sections, tuple(segments), tuple(mapped))


def _find_blob(data: bytes, start: int, end: int) -> int:
    """File offset of the first 16-aligned magic in data[start:end], or -1 (as Go searches)."""
    end = min(end, len(data))
    pos = start
    while True:
        i = data.find(BUILDINFO_MAGIC, pos, end)
        if i < 0 or end - i < _HEADER_SIZE:
            return -1
        if (i - start) % _ALIGN == 0:
            return i
        pos = start + ((i - start + _ALIGN - 1) // _ALIGN) * _ALIGN


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for n in range(10):
        if pos + n >= len(data):
            raise _Malformed("truncated varint")
        b = data[pos + n]
        if n == 9 and b > 1:
            raise _Malformed("varint overflows 64 bits")
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos + n + 1
        shift += 7
    raise _Malformed("varint overflows 64 bits")


def _inline_string(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = _uvarint(data, pos)
    if length > MAX_STRING or pos + length > len(data):
        raise _Malformed("string length past end of file")
    return data[pos : pos + length], pos + length


class _AddressSpace:
    """Virtual address -> file bytes, through PT_LOAD segments (or sections without them)."""

    def __init__(self, data: bytes, elf: _Elf) -> None:
        self.data = data
        self.regions = elf.segments or elf.mapped

    def read(self, addr: int, length: int) -> bytes:
        for r in self.regions:
            if r.vaddr <= addr and addr + length <= r.vaddr + r.size:
                off = r.offset + (addr - r.vaddr)
                if off + length <= len(self.data):
                    return self.data[off : off + length]
        raise _Malformed(f"address {addr:#x} is outside the file")


def _pointer_string(space: _AddressSpace, addr: int, ptr: str) -> bytes:
    """A Go string whose header {data, len} (struct format `ptr`) is at virtual `addr`."""
    str_addr, str_len = struct.unpack(ptr, space.read(addr, struct.calcsize(ptr)))
    if str_len > MAX_STRING:
        raise _Malformed("string longer than the cap")
    return space.read(str_addr, str_len) if str_len else b""


def read_build_info(data: bytes) -> BuildInfo | None:
    """The build info of an ELF Go binary; None when `data` is not one.

    Raises _Malformed when the file carries the Go magic but the blob cannot be read.
    """
    if not data.startswith(ELF_MAGIC):
        return None
    try:
        elf: _Elf | None = _parse_elf(data)
    except (_Malformed, struct.error):
        elf = None
    blob = -1
    claims_go = False
    if elf is not None and (elf.sections or elf.segments):
        if BUILDINFO_SECTION in elf.sections:
            claims_go = True
            off, sz = elf.sections[BUILDINFO_SECTION]
            blob = _find_blob(data, off, off + min(sz, _DATA_SEARCH))
        if blob < 0:
            # No section table (stripped with sstrip, packed): the first writable, not
            # executable PT_LOAD segment is where the linker puts the blob.
            for seg in elf.segments:
                if seg.flags & (_PF_X | _PF_W) == _PF_W:
                    blob = _find_blob(data, seg.offset, seg.offset + min(seg.size, _DATA_SEARCH))
                    break
    else:
        # Headers unreadable or empty (truncated copy, hostile file): only a whole-file search
        # can still tell a Go binary; this costs a scan, but only for broken ELF files.
        blob = _find_blob(data, 0, len(data))
    if blob < 0:
        if claims_go:
            raise _Malformed("no build info in the .go.buildinfo section")
        return None

    header = data[blob : blob + _HEADER_SIZE]
    ptr_size, flags = header[14], header[15]
    if flags & 2:
        vers, pos = _inline_string(data, blob + _HEADER_SIZE)
        mod, _ = _inline_string(data, pos)
    else:
        if ptr_size not in (4, 8):
            raise _Malformed(f"pointer size {ptr_size}")
        if elf is None or not (elf.segments or elf.mapped):
            raise _Malformed("ELF headers unreadable, cannot resolve pointers")
        ptr = ("<" if flags == 0 else ">") + ("II" if ptr_size == 4 else "QQ")
        vers_addr, mod_addr = struct.unpack_from(ptr, header, 16)
        space = _AddressSpace(data, elf)
        vers = _pointer_string(space, vers_addr, ptr)
        mod = _pointer_string(space, mod_addr, ptr)
    if not vers:
        raise _Malformed("empty Go version")
    # The module info is framed by two 16-byte sentinels (cmd/go modload.infoStart/infoEnd).
    mod = mod[16:-16] if len(mod) >= 33 and mod[-17] == 0x0A else b""
    return BuildInfo(vers.decode("utf-8", "replace"), mod.decode("utf-8", "replace"))


def parse_modinfo(text: str) -> ModInfo:
    """The `path`, `mod`, `dep` and `=>` lines of runtime/debug.BuildInfo's text form."""
    path = ""
    main: Module | None = None
    deps: list[Module] = []
    last: Module | None = None  # the module a following "=>" line replaces
    for line in text.split("\n"):
        word, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if word == "path":
            path = rest
        elif word in ("mod", "dep") and fields[0]:
            last = Module(fields[0], _field(fields, 1), _field(fields, 2))
            if word == "mod":
                main = last
            else:
                deps.append(last)
        elif word == "=>" and last is not None and fields[0]:
            replaced = Module(
                last.path,
                last.version,
                last.sum,
                Module(fields[0], _field(fields, 1), _field(fields, 2)),
            )
            if last is main:
                main = replaced
            else:
                deps[-1] = replaced
            last = None
    return ModInfo(path, main, tuple(deps))


def _field(fields: list[str], i: int) -> str:
    return fields[i] if i < len(fields) else ""


def stdlib_version(go_version: str) -> str | None:
    """ "go1.21.5 X:boringcrypto" -> "v1.21.5"; None for development toolchains."""
    words = go_version.split(maxsplit=1)
    word = words[0].split("-", 1)[0] if words else ""
    if not word.startswith("go") or len(word) < 3 or not word[2].isdigit():
        return None
    return "v" + word[2:]


class GoBinaryAnalyzer(Analyzer):
    """Modules and toolchain of Go executables.

    The main module is reported only when it has a real version: "(devel)" (a build from a
    source tree, the common case) and "" say nothing a vulnerability can be matched against.
    A dependency replaced by `=> path version` is reported as the replacement, with
    ("replaces", "orig@version"); a local-directory replacement (no version) keeps the
    original with ("replace", "<dir>") (Go records such a version as "(devel)"). The
    toolchain is the package "stdlib".
    """

    name = "gobinary"
    executables = True

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        if not file.data.startswith(ELF_MAGIC):
            return
        try:
            info = read_build_info(file.data)
        except (_Malformed, struct.error, IndexError) as exc:
            facts.warn(f"{file.path}: unreadable Go build info: {exc}")
            return
        if info is None:
            return
        location = file.location()

        def add(name: str, version: str, metadata: tuple[tuple[str, str], ...] = ()) -> None:
            facts.add(Package(name, version, ECOSYSTEM, "", location, metadata=metadata))

        mods = parse_modinfo(info.modinfo)
        if mods.main is not None and mods.main.version not in ("", "(devel)"):
            add(mods.main.path, mods.main.version, (("main", "true"),))
        for dep in mods.deps:
            rep = dep.replace
            if rep is None:
                add(dep.path, dep.version)
            elif rep.version not in ("", "(devel)"):
                add(rep.path, rep.version, (("replaces", f"{dep.path}@{dep.version}"),))
            else:
                add(dep.path, dep.version, (("replace", rep.path),))
        std = stdlib_version(info.go_version)
        if std is not None:
            add("stdlib", std)
