"""SUSE's NDB rpmdb (`Packages.db`): a slot table pointing at checksummed header blobs.

Layout (little-endian throughout): a 32-byte file header ("RpmP", version, generation,
number of 4 KiB slot pages, next package index), then 16-byte slots ("Slot", package index,
block offset, block count; index 0 is a free slot) up to the end of the slot pages, then
blobs in 16-byte blocks: "BlbS", package index, generation, length, the header bytes, padding,
and a tail (Adler-32 of everything before it, length, "BlbE"). Every field is checked
against the file before use, so a forged slot costs one warning.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator

from kubeward.analyze.rpmdb.header import MAX_BLOB_LENGTH, RpmdbError

MAGIC = b"RpmP"
_SLOT_MAGIC = b"Slot"
_BLOB_MAGIC = b"BlbS"
_TAIL_MAGIC = b"BlbE"
_FILE_HEADER = struct.Struct("<4sIIII")
_SLOT = struct.Struct("<4sIII")
_BLOB_HEAD = struct.Struct("<4sIII")
_BLOB_TAIL = struct.Struct("<II4s")
_PAGE_SIZE = 4096
_BLOCK_SIZE = 16
_SLOTS_START = 32


def read_blobs(data: bytes, warn: Callable[[str], None]) -> Iterator[tuple[int, bytes]]:
    """(package index, header blob) for every used slot."""
    if len(data) < _FILE_HEADER.size:
        raise RpmdbError("NDB file is truncated")
    _magic, version, _generation, slot_pages, _next = _FILE_HEADER.unpack_from(data, 0)
    if version != 0:
        raise RpmdbError(f"NDB version {version} is not supported")
    slots_end = slot_pages * _PAGE_SIZE
    if slot_pages == 0 or slots_end > len(data):
        raise RpmdbError(f"NDB header claims {slot_pages} slot pages")
    view = memoryview(data)
    for number, (magic, index, block, blocks) in enumerate(
        _SLOT.iter_unpack(view[_SLOTS_START:slots_end])
    ):
        if magic != _SLOT_MAGIC:
            warn(f"NDB slot {number} has no slot magic")
            continue
        if index == 0:
            continue
        start = block * _BLOCK_SIZE
        end = start + blocks * _BLOCK_SIZE
        if start < slots_end or end > len(data) or blocks * _BLOCK_SIZE < 28:
            warn(f"package record {index}: NDB slot points outside the file")
            continue
        head_magic, head_index, _gen, length = _BLOB_HEAD.unpack_from(data, start)
        if head_magic != _BLOB_MAGIC or head_index != index:
            warn(f"package record {index}: NDB blob header does not match its slot")
            continue
        if length > MAX_BLOB_LENGTH or _BLOB_HEAD.size + length + _BLOB_TAIL.size > end - start:
            warn(f"package record {index}: NDB blob length {length} does not fit its blocks")
            continue
        checksum, tail_length, tail_magic = _BLOB_TAIL.unpack_from(data, end - _BLOB_TAIL.size)
        if tail_magic != _TAIL_MAGIC or tail_length != length:
            warn(f"package record {index}: NDB blob tail is damaged")
            continue
        if zlib.adler32(view[start : end - _BLOB_TAIL.size]) != checksum:
            warn(f"package record {index}: NDB blob checksum mismatch")
            continue
        body = start + _BLOB_HEAD.size
        yield index, bytes(view[body : body + length])
