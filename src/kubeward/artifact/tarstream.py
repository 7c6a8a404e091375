"""A streaming tar reader over chunks of bytes: headers parsed, unwanted data skipped.

Written here rather than using `tarfile` because tarfile's per-member object model costs
about as much as decompressing the layer (PEERS.md: 0.82 s vs 0.5 s for a 164 MB image),
and a scan should cost little more than decompression. It understands ustar, GNU (long
names, base-256 sizes) and PAX (path, linkpath, size) headers, which is what image builders
write. Data of an entry is only copied when the caller asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from kubeward.errors import LayerError

BLOCK = 512
_MAX_META = 1 << 20  # PAX / GNU long-name records larger than this are hostile

KINDS = {
    b"0": "file",
    b"\0": "file",
    b"7": "file",
    b"1": "hardlink",
    b"2": "symlink",
    b"3": "char",
    b"4": "block",
    b"5": "dir",
    b"6": "fifo",
}


class TarEntry(NamedTuple):
    name: str
    kind: str  # file, dir, symlink, hardlink, char, block, fifo, other
    size: int
    mode: int
    linkname: str


def _octal(field: bytes, label: str, what: str) -> int:
    if field and field[0] & 0x80:  # GNU base-256
        value = int.from_bytes(field[1:], "big")
        if field[0] & 0x40:
            raise LayerError(f"{label}: negative {what} in tar header")
        return value
    text = field.strip(b" \0")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise LayerError(f"{label}: corrupt tar header ({what} is not octal)") from None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class TarReader:
    """Iterate `TarEntry`s; call `read_data()` during an entry to get its bytes."""

    def __init__(self, chunks: Iterable[bytes], label: str) -> None:
        self._it = iter(chunks)
        self._buf = b""
        self._pos = 0
        self._label = label
        self._pending = 0  # data bytes of the current entry not yet consumed
        self._padding = 0
        self.last_name = ""

    def _fill(self) -> bool:
        for chunk in self._it:
            if chunk:
                self._buf = chunk
                self._pos = 0
                return True
        return False

    def _read(self, n: int) -> bytes | None:
        """Exactly n bytes, or None at end of stream before any byte; raises if cut short."""
        buf, pos = self._buf, self._pos
        end = pos + n
        if end <= len(buf):
            self._pos = end
            return buf[pos:end]
        parts = [buf[pos:]]
        need = n - (len(buf) - pos)
        got_any = len(buf) > pos
        while need > 0:
            if not self._fill():
                if not got_any:
                    return None
                raise LayerError(f"{self._label}: tar stream is truncated in {self._where()}")
            got_any = True
            take = self._buf[:need]
            parts.append(take)
            self._pos = len(take)
            need -= len(take)
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        remaining = len(self._buf) - self._pos
        if n <= remaining:
            self._pos += n
            return
        n -= remaining
        while True:
            if not self._fill():
                raise LayerError(f"{self._label}: tar stream is truncated in {self._where()}")
            if n <= len(self._buf):
                self._pos = n
                return
            n -= len(self._buf)

    def _where(self) -> str:
        return f"entry {self.last_name!r}" if self.last_name else "the first entry"

    def read_data(self) -> bytes:
        """The current entry's data (once); the reader then skips its padding."""
        size, self._pending = self._pending, 0
        if size == 0:
            return b""
        data = self._read(size)
        if data is None:
            raise LayerError(f"{self._label}: tar stream is truncated in {self._where()}")
        return data

    def _finish_entry(self) -> None:
        self._skip(self._pending + self._padding)
        self._pending = self._padding = 0

    def drain(self) -> None:
        """Consume what is left (so the stream's hashes cover every byte)."""
        for _ in self._it:
            pass

    def _meta_record(self, size: int) -> bytes:
        if size > _MAX_META:
            raise LayerError(f"{self._label}: oversized tar metadata record after {self._where()}")
        data = self._read(size)
        if data is None:
            raise LayerError(f"{self._label}: tar stream is truncated in {self._where()}")
        self._skip(-size % BLOCK)
        return data

    def __iter__(self) -> Iterator[TarEntry]:
        pax: dict[str, str] = {}
        long_name: str | None = None
        long_link: str | None = None
        while True:
            header = self._read(BLOCK)
            if header is None or header.count(0) == BLOCK:
                # End of archive (or a clean end of stream between entries).
                return
            chksum = _octal(header[148:156], self._label, "checksum")
            if chksum != sum(header[:148]) + 256 + sum(header[156:]):
                raise LayerError(
                    f"{self._label}: corrupt tar header (bad checksum) after {self._where()}"
                )
            typeflag = header[156:157]
            size = _octal(header[124:136], self._label, "size")
            if typeflag in (b"x", b"g", b"L", b"K"):
                data = self._meta_record(size)
                if typeflag == b"x":
                    pax = _parse_pax(data, self._label)
                elif typeflag == b"L":
                    long_name = _text(data.split(b"\0", 1)[0])
                elif typeflag == b"K":
                    long_link = _text(data.split(b"\0", 1)[0])
                continue  # "g" (global) records carry nothing kubeward uses
            if long_name is not None:
                name = long_name
            elif "path" in pax:
                name = pax["path"]
            else:
                name = _text(header[:100].split(b"\0", 1)[0])
                if header[257:262] == b"ustar":
                    prefix = header[345:500].split(b"\0", 1)[0]
                    if prefix:
                        name = _text(prefix) + "/" + name
            if long_link is not None:
                linkname = long_link
            elif "linkpath" in pax:
                linkname = pax["linkpath"]
            else:
                linkname = _text(header[157:257].split(b"\0", 1)[0])
            if "size" in pax:
                try:
                    size = int(pax["size"])
                except ValueError:
                    raise LayerError(f"{self._label}: corrupt PAX size for {name!r}") from None
            kind = KINDS.get(typeflag, "other")
            if kind not in ("file", "other"):
                size = 0  # as tarfile and GNU tar: only regular and unknown types carry data
            mode = _octal(header[100:108], self._label, "mode") & 0o7777
            pax = {}
            long_name = long_link = None
            self.last_name = name
            self._pending = size
            self._padding = -size % BLOCK
            yield TarEntry(name, kind, size, mode, linkname)
            self._finish_entry()


def _parse_pax(data: bytes, label: str) -> dict[str, str]:
    """PAX extended header records: "<len> <key>=<value>\\n"."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise LayerError(f"{label}: corrupt PAX header")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise LayerError(f"{label}: corrupt PAX header") from None
        if length <= 0 or pos + length > len(data):
            raise LayerError(f"{label}: corrupt PAX header")
        record = data[space + 1 : pos + length - 1]
        key, sep, value = record.partition(b"=")
        if sep:
            out[key.decode("utf-8", "replace")] = _text(value)
        pos += length
    return out
