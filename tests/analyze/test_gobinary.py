"""Go binary analyzer: checked against `go version -m` on real binaries and on hand-made ELF."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext
from kubeward.analyze.gobinary import (
    BUILDINFO_MAGIC,
    GoBinaryAnalyzer,
    read_build_info,
    stdlib_version,
)
from kubeward.model import Location, Package

GO = shutil.which("go")
KUBECTL = Path("/usr/bin/kubectl")
LAYER = "sha256:" + "ab" * 32

# cmd/go/internal/modload infoStart / infoEnd
INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")


def run(data: bytes, path: str = "usr/bin/app") -> InventoryBuilder:
    facts = InventoryBuilder()
    GoBinaryAnalyzer(ScanContext()).analyze(AnalyzedFile(path, data, LAYER, 0o755), facts)
    return facts


def triples(facts: InventoryBuilder) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    return sorted((p.name, p.version, p.metadata) for p in facts.packages)


def go_version_m(path: Path) -> tuple[str, list[str]]:
    """Go version and the raw modinfo lines as the reference tool prints them."""
    out = subprocess.run(
        [GO or "go", "version", "-m", str(path)], capture_output=True, text=True, check=True
    ).stdout
    head, *lines = out.split("\n")
    go_version = head.split(": ", 1)[1]
    return go_version, [line.removeprefix("\t") for line in lines]


def expected_packages(
    go_version: str, lines: list[str]
) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """The packages the analyzer's documented rules give for `go version -m` output."""
    out: list[tuple[str, str, tuple[tuple[str, str], ...]]] = []
    pending: tuple[str, str, str] | None = None  # (word, path, version) waiting for "=>"

    def flush() -> None:
        if pending is None:
            return
        word, path, version = pending
        if word == "mod":
            if version not in ("", "(devel)"):
                out.append((path, version, (("main", "true"),)))
        else:
            out.append((path, version, ()))

    for line in lines:
        f = line.split("\t")
        if f[0] in ("mod", "dep"):
            flush()
            pending = (f[0], f[1], f[2] if len(f) > 2 else "")
        elif f[0] == "=>":
            assert pending is not None
            _word, path, version = pending
            if f[2] in ("", "(devel)"):
                out.append((path, version, (("replace", f[1]),)))
            else:
                out.append((f[1], f[2], (("replaces", f"{path}@{version}"),)))
            pending = None
    flush()
    toolchain = go_version.split(maxsplit=1)[0].split("-", maxsplit=1)[0]
    out.append(("stdlib", "v" + toolchain.removeprefix("go"), ()))
    return sorted(out)


# ---------------------------------------------------------------- real binaries


@pytest.mark.skipif(GO is None or not KUBECTL.exists(), reason="needs go and /usr/bin/kubectl")
def test_kubectl_matches_go_version_m() -> None:
    data = KUBECTL.read_bytes()
    go_version, lines = go_version_m(KUBECTL)
    info = read_build_info(data)
    assert info is not None
    assert info.go_version == go_version == "go1.23.8"
    ours = [ln for ln in info.modinfo.split("\n") if ln.split("\t")[0] in ("mod", "dep", "=>")]
    theirs = [ln for ln in lines if ln.split("\t")[0] in ("mod", "dep", "=>")]
    assert ours == theirs
    assert len(theirs) == 83
    assert info.modinfo.split("\n") == lines[: len(info.modinfo.split("\n"))]

    facts = run(data, "usr/bin/kubectl")
    assert facts.warnings == []
    assert triples(facts) == expected_packages(go_version, lines)
    # The main module is "(devel)" and so left out; 82 deps plus stdlib remain.
    assert len(facts.packages) == 83
    heredoc = Package(
        "github.com/MakeNowJust/heredoc",
        "v1.0.0",
        "golang",
        "",
        Location(path="usr/bin/kubectl", layer=LAYER),
    )
    assert heredoc in facts.packages
    assert ("stdlib", "v1.23.8", ()) in triples(facts)


@pytest.mark.skipif(GO is None, reason="needs go")
def test_every_go_binary_in_usr_bin_matches_go_version() -> None:
    """Same set of Go binaries as `go version <dir>`, same modinfo, no false positives."""
    listing = subprocess.run(
        [GO or "go", "version", "/usr/bin"], capture_output=True, text=True, check=False
    ).stdout
    reference = {
        line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in listing.splitlines() if line
    }
    found: dict[str, str] = {}
    start = time.perf_counter()
    offered = 0
    analyzer = GoBinaryAnalyzer(ScanContext())
    for entry in os.scandir("/usr/bin"):
        try:
            st = entry.stat()  # `go version` follows symlinks; so does this walk
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o111:
            continue
        data = Path(entry.path).read_bytes()
        offered += 1
        facts = InventoryBuilder()
        analyzer.analyze(AnalyzedFile(entry.path[1:], data, None, st.st_mode & 0o777), facts)
        assert facts.warnings == [], entry.path
        info = read_build_info(data)
        if info is not None:
            found[entry.path] = info.go_version
            assert facts.packages, entry.path
        else:
            assert facts.packages == [], entry.path
    elapsed = time.perf_counter() - start
    assert offered > 100
    assert found == reference
    for path in sorted(found)[:8]:
        go_version, lines = go_version_m(Path(path))
        info = read_build_info(Path(path).read_bytes())
        assert info is not None
        assert info.modinfo.split("\n") == lines[: len(info.modinfo.split("\n"))], path
        assert triples(run(Path(path).read_bytes())) == expected_packages(go_version, lines)
    assert elapsed < 30, elapsed


@pytest.mark.skipif(GO is None, reason="needs go")
def test_built_program_with_replacements(tmp_path: Path) -> None:
    """A program built here: a versioned replace (from a file proxy) and a directory one."""
    proxy = tmp_path / "proxy" / "example.com" / "fork" / "@v"
    proxy.mkdir(parents=True)
    fork_mod = "module example.com/fork\n\ngo 1.19\n"
    (proxy / "v1.0.0.mod").write_text(fork_mod)
    (proxy / "v1.0.0.info").write_text('{"Version":"v1.0.0","Time":"2023-01-01T00:00:00Z"}')
    (proxy / "list").write_text("v1.0.0\n")
    with zipfile.ZipFile(proxy / "v1.0.0.zip", "w") as z:
        z.writestr("example.com/fork@v1.0.0/go.mod", fork_mod)
        z.writestr(
            "example.com/fork@v1.0.0/lib.go", 'package lib\n\nfunc Hello() string { return "f" }\n'
        )
    other = tmp_path / "other"
    other.mkdir()
    (other / "go.mod").write_text("module example.com/other\n\ngo 1.19\n")
    (other / "x.go").write_text("package other\n\nfunc X() int { return 1 }\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "go.mod").write_text(
        "module example.com/app\n\ngo 1.19\n\n"
        "require (\n\texample.com/lib v1.2.3\n\texample.com/other v0.1.0\n)\n\n"
        "replace example.com/lib v1.2.3 => example.com/fork v1.0.0\n\n"
        "replace example.com/other => ../other\n"
    )
    (app / "main.go").write_text(
        'package main\n\nimport (\n\t"example.com/lib"\n\t"example.com/other"\n)\n\n'
        "func main() { println(lib.Hello(), other.X()) }\n"
    )
    env = {
        **os.environ,
        "GOCACHE": str(tmp_path / "cache"),
        "GOPATH": str(tmp_path / "gopath"),
        "GOFLAGS": "-mod=mod -modcacherw",
        "GOSUMDB": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    fetch = {**env, "GOPROXY": f"file://{tmp_path / 'proxy'}"}
    subprocess.run(
        [GO or "go", "mod", "download", "example.com/fork@v1.0.0"], cwd=app, env=fetch, check=True
    )
    subprocess.run(
        [GO or "go", "build", "-o", "app", "."],
        cwd=app,
        env={**env, "GOPROXY": "off"},
        check=True,
    )
    binary = app / "app"
    go_version, lines = go_version_m(binary)
    facts = run(binary.read_bytes(), "app/app")
    assert facts.warnings == []
    assert triples(facts) == expected_packages(go_version, lines)
    std = stdlib_version(go_version)
    assert triples(facts) == [
        ("example.com/fork", "v1.0.0", (("replaces", "example.com/lib@v1.2.3"),)),
        ("example.com/other", "v0.1.0", (("replace", "../other"),)),
        ("stdlib", std, ()),
    ]
    assert std is not None and std.startswith("v1.")
    info = read_build_info(binary.read_bytes())
    assert info is not None
    assert info.modinfo.split("\n") == lines[: len(info.modinfo.split("\n"))]
    assert "=>\texample.com/fork\tv1.0.0\th1:" in info.modinfo


# ---------------------------------------------------------------- hand-made ELF

MODINFO = (
    "path\texample.com/old/cmd/tool\n"
    "mod\texample.com/old\tv1.4.0\th1:main=\n"
    "dep\tgithub.com/pkg/errors\tv0.9.1\th1:errs=\n"
    "dep\tgolang.org/x/net\tv0.0.0-20200202094626-16171245cfb2\n"
    "=>\tgithub.com/fork/net\tv0.1.0\th1:fork=\n"
    "dep\texample.com/local\tv1.0.0\n"
    "=>\t./local\t\t\n"
    "build\t-compiler=gc\n"
)
EXPECTED_OLD = [
    ("example.com/local", "v1.0.0", (("replace", "./local"),)),
    ("example.com/old", "v1.4.0", (("main", "true"),)),
    (
        "github.com/fork/net",
        "v0.1.0",
        (("replaces", "golang.org/x/net@v0.0.0-20200202094626-16171245cfb2"),),
    ),
    ("github.com/pkg/errors", "v0.9.1", ()),
    ("stdlib", "v1.16.15", ()),
]

BASE = 0x400000
DATA_OFF = 0x200


def framed(modinfo: str) -> bytes:
    return INFO_START + modinfo.encode() + INFO_END


def uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pointer_blob(bits: int, big: bool, version: bytes, mod: bytes, vaddr: int) -> tuple[bytes, int]:
    """A pre-1.18 .go.buildinfo: header with two pointers to {ptr,len} string headers."""
    e = ">" if big else "<"
    p = "Q" if bits == 64 else "I"
    w = bits // 8
    hdr_addr = vaddr + 32
    str_addr = hdr_addr + 4 * w
    headers = struct.pack(e + p * 4, str_addr, len(version), str_addr + len(version), len(mod))
    head = BUILDINFO_MAGIC + bytes([w, 1 if big else 0])
    head += struct.pack(e + p * 2, hdr_addr, hdr_addr + 2 * w)
    head = head.ljust(32, b"\0")
    return head + headers + version + mod, len(head + headers + version + mod)


def inline_blob(version: bytes, mod: bytes) -> bytes:
    head = (BUILDINFO_MAGIC + bytes([8, 2])).ljust(32, b"\0")
    return head + uvarint(len(version)) + version + uvarint(len(mod)) + mod


def make_elf(
    blob: bytes,
    *,
    bits: int = 64,
    big: bool = False,
    sections: bool = True,
    section_name: bytes = b".go.buildinfo",
    prefix: bytes = b"",
) -> bytes:
    """ELF with one RW PT_LOAD segment at BASE+DATA_OFF holding `prefix + blob`, and
    (optionally) a section table naming the blob's section."""
    e = ">" if big else "<"
    ehsize, phsize, shsize = (64, 56, 64) if bits == 64 else (52, 32, 40)
    data = prefix + blob
    shstrtab = b"\0" + section_name + b"\0.shstrtab\0"
    strtab_off = DATA_OFF + len(data)
    shoff = (strtab_off + len(shstrtab) + 7) & ~7
    nsec = 3 if sections else 0
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 2 if big else 1, 1]) + b"\0" * 9
    if bits == 64:
        header = ident + struct.pack(
            e + "HHIQQQIHHHHHH",
            2,
            62,
            1,
            BASE,
            ehsize,
            shoff if sections else 0,
            0,
            ehsize,
            phsize,
            1,
            shsize,
            nsec,
            2 if sections else 0,
        )
        phdr = struct.pack(
            e + "IIQQQQQQ",
            1,
            6,
            DATA_OFF,
            BASE + DATA_OFF,
            BASE + DATA_OFF,
            len(data),
            len(data),
            0x1000,
        )
    else:
        header = ident + struct.pack(
            e + "HHIIIIIHHHHHH",
            2,
            8,
            1,
            BASE,
            ehsize,
            shoff if sections else 0,
            0,
            ehsize,
            phsize,
            1,
            shsize,
            nsec,
            2 if sections else 0,
        )
        phdr = struct.pack(
            e + "IIIIIIII",
            1,
            DATA_OFF,
            BASE + DATA_OFF,
            BASE + DATA_OFF,
            len(data),
            len(data),
            6,
            0x1000,
        )
    out = bytearray((header + phdr).ljust(DATA_OFF, b"\0"))
    out += data + shstrtab
    if sections:
        out = out.ljust(shoff, b"\0")
        fmt = e + ("IIQQQQIIQQ" if bits == 64 else "IIIIIIIIII")
        blob_at = DATA_OFF + len(prefix)
        out += struct.pack(fmt, *([0] * 10))
        out += struct.pack(fmt, 1, 1, 3, BASE + blob_at, blob_at, len(blob), 0, 0, 16, 0)
        name2 = 1 + len(section_name) + 1
        out += struct.pack(fmt, name2, 3, 0, 0, strtab_off, len(shstrtab), 0, 0, 1, 0)
    return bytes(out)


def pointer_elf(bits: int = 64, big: bool = False, version: bytes = b"go1.16.15") -> bytes:
    blob, _ = pointer_blob(bits, big, version, framed(MODINFO), BASE + DATA_OFF)
    return make_elf(blob, bits=bits, big=big)


@pytest.mark.parametrize(("bits", "big"), [(64, False), (64, True), (32, False), (32, True)])
def test_pointer_format(bits: int, big: bool) -> None:
    data = pointer_elf(bits, big)
    info = read_build_info(data)
    assert info is not None
    assert info.go_version == "go1.16.15"
    assert info.modinfo == MODINFO
    facts = run(data)
    assert facts.warnings == []
    assert triples(facts) == EXPECTED_OLD
    assert all(p.location == Location("usr/bin/app", layer=LAYER) for p in facts.packages)
    assert {p.ecosystem for p in facts.packages} == {"golang"}
    assert {p.purl for p in facts.packages} == {""}


def test_inline_format_without_section_table_found_by_segment_search() -> None:
    # A decoy magic at an unaligned offset must be skipped, as Go's reader does.
    prefix = b"\0" * 3 + BUILDINFO_MAGIC + b"\0" * (48 - 3 - len(BUILDINFO_MAGIC))
    blob = inline_blob(b"go1.21.5 X:boringcrypto", framed(MODINFO))
    data = make_elf(blob, sections=False, prefix=prefix)
    info = read_build_info(data)
    assert info is not None
    assert info.go_version == "go1.21.5 X:boringcrypto"
    facts = run(data)
    assert facts.warnings == []
    assert triples(facts)[-1] == ("stdlib", "v1.21.5", ())
    assert len(facts.packages) == 5


def test_modinfo_without_sentinels_gives_stdlib_only() -> None:
    data = make_elf(inline_blob(b"go1.20", b"path\tx\n"))
    assert triples(run(data)) == [("stdlib", "v1.20", ())]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("go1.21.5", "v1.21.5"),
        ("go1.21.5 X:boringcrypto", "v1.21.5"),
        ("go1.20.3-bigcorp", "v1.20.3"),
        ("go1.22rc1", "v1.22rc1"),
        ("devel go1.23-abcdef Tue Jan 1", None),
        ("", None),
        ("go", None),
    ],
)
def test_stdlib_version(text: str, expected: str | None) -> None:
    assert stdlib_version(text) == expected


# ---------------------------------------------------------------- hostile input


def test_not_elf_and_non_go_elf_are_silent() -> None:
    for data in (b"", b"#!/bin/sh\necho hi\n", b"\x7fEL", b"MZ" + b"\0" * 100):
        facts = run(data)
        assert (facts.packages, facts.warnings) == ([], [])
    plain = make_elf(b"\0" * 64, section_name=b".data")
    assert read_build_info(plain) is None
    assert (run(plain).packages, run(plain).warnings) == ([], [])
    ls = Path("/bin/ls")
    if ls.exists():
        assert (run(ls.read_bytes()).packages, run(ls.read_bytes()).warnings) == ([], [])


def test_every_truncation_is_handled() -> None:
    for data in (
        pointer_elf(),
        pointer_elf(32, True),
        make_elf(inline_blob(b"go1.21.0", framed(MODINFO))),
    ):
        for n in range(len(data)):
            facts = run(data[:n])  # must not raise
            assert len(facts.warnings) <= 1
            assert not (facts.packages and facts.warnings)


def test_truncated_elf_with_inline_blob_still_read() -> None:
    """Section table cut off: the whole-file search still finds a self-contained blob."""
    data = make_elf(inline_blob(b"go1.21.0", framed(MODINFO)))
    cut = data[: data.rindex(b".shstrtab") - 1]
    cut = cut[:0x20] + struct.pack("<QQ", 0xFFFFFFFF, 0xFFFFFFFF) + cut[0x30:]
    facts = run(cut)
    assert facts.warnings == []
    assert triples(facts)[-1] == ("stdlib", "v1.21.0", ())


def test_section_offsets_past_eof() -> None:
    data = bytearray(pointer_elf())
    # e_shoff far past the end: the program headers still find the blob.
    struct.pack_into("<Q", data, 0x28, 1 << 40)
    assert triples(run(bytes(data))) == EXPECTED_OLD
    # Section table intact, but the buildinfo section's offset points past EOF.
    good = pointer_elf()
    shoff = struct.unpack_from("<Q", good, 0x28)[0]
    bad = bytearray(good)
    struct.pack_into("<Q", bad, shoff + 64 + 24, 1 << 33)
    facts = run(bytes(bad))
    assert triples(facts) == EXPECTED_OLD  # falls back to the data segment
    # Program headers past EOF and section table gone: nothing resolvable, but it is Go.
    bad2 = bytearray(good)
    struct.pack_into("<Q", bad2, 0x20, 1 << 40)
    struct.pack_into("<Q", bad2, 0x28, 1 << 40)
    facts = run(bytes(bad2))
    assert facts.packages == []
    assert facts.warnings == [
        "usr/bin/app: unreadable Go build info: ELF headers unreadable, cannot resolve pointers"
    ]


def test_varint_overflow_and_oversized_length() -> None:
    head = (BUILDINFO_MAGIC + bytes([8, 2])).ljust(32, b"\0")
    for tail, reason in (
        (b"\xff" * 11, "varint overflows 64 bits"),
        (b"\xff" * 9 + b"\x02", "varint overflows 64 bits"),
        (uvarint(1 << 40) + b"go1", "string length past end of file"),
        (b"\x80\x80", "empty Go version"),  # the padding zeros end the varint
    ):
        facts = run(make_elf(head + tail + b"\0" * 40))
        assert facts.packages == []
        assert facts.warnings == [f"usr/bin/app: unreadable Go build info: {reason}"]


def test_bad_pointers() -> None:
    e, vaddr = "<", BASE + DATA_OFF
    head = BUILDINFO_MAGIC + bytes([8, 0])
    cases = {
        # version pointer far outside every segment
        "out of range": head + struct.pack(e + "QQ", 0xDEAD0000, vaddr + 32),
        # string header that points at itself with a huge length
        "self loop": head
        + struct.pack(e + "QQ", vaddr + 32, vaddr + 32)
        + struct.pack(e + "QQ", vaddr + 32, 1 << 62),
        # header that straddles the end of the segment
        "straddle": head + struct.pack(e + "QQ", vaddr + 40, vaddr + 40),
    }
    for name, blob in cases.items():
        facts = run(make_elf(blob.ljust(48, b"\0")))
        assert facts.packages == [], name
        assert len(facts.warnings) == 1, name
        assert facts.warnings[0].startswith("usr/bin/app: unreadable Go build info: "), name
    facts = run(make_elf((BUILDINFO_MAGIC + bytes([3, 0])).ljust(32, b"\0")))
    assert facts.warnings == ["usr/bin/app: unreadable Go build info: pointer size 3"]


def test_go_section_without_magic_warns() -> None:
    facts = run(make_elf(b"\0" * 64))
    assert facts.packages == []
    assert facts.warnings == [
        "usr/bin/app: unreadable Go build info: no build info in the .go.buildinfo section"
    ]


def test_elf_header_cost_is_small() -> None:
    data = pointer_elf()
    start = time.perf_counter()
    for _ in range(2000):
        read_build_info(data)
    assert time.perf_counter() - start < 1.0
