"""Decode an rpm header blob as rpmdb stores it, checking every offset against the blob.

The stored form is the header without its magic: index entry count and data length (both
big-endian u32), that many 16-byte entries (tag, type, offset, count), then the data store.
Tag lookups search the index with `bytes.rfind` for the tag's four bytes at an entry-aligned
position instead of decoding every entry: a header has hundreds of entries and we want
seven, for thousands of packages. The last entry of a tag wins, as in rpm, where entries
appended after the immutable region ("dribbles") replace the region's.
"""

from __future__ import annotations

import struct

from kubeward.errors import KubewardError

# Tags (rpmtag.h) and types (RPM_*_TYPE) that kubeward reads.
TAG_HEADERIMAGE = 61
TAG_HEADERSIGNATURES = 62
TAG_HEADERIMMUTABLE = 63
TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_LICENSE = 1014
TAG_ARCH = 1022
TAG_SOURCERPM = 1044

TYPE_INT32 = 4
TYPE_STRING = 6
TYPE_BIN = 7
TYPE_STRING_ARRAY = 8
TYPE_I18NSTRING = 9
_MAX_TYPE = 9

_REGION_TAGS = frozenset({TAG_HEADERIMAGE, TAG_HEADERSIGNATURES, TAG_HEADERIMMUTABLE})
_REGION_TRAILER = 16

# rpm itself refuses headers with more than 0xffff entries (hdrchkTags); the data cap only has
# to stop a forged length field before anything is allocated from it.
MAX_INDEX_ENTRIES = 0xFFFF
MAX_DATA_LENGTH = 256 * 1024 * 1024
MAX_BLOB_LENGTH = 8 + 16 * MAX_INDEX_ENTRIES + MAX_DATA_LENGTH

_ENTRY = struct.Struct(">IIiI")
_ENTRY_REST = struct.Struct(">IiI")
_PREAMBLE = struct.Struct(">II")
_U32 = struct.Struct(">I")


class RpmdbError(KubewardError):
    """An rpm database or one of its header blobs is corrupt, truncated or hostile."""


class RpmHeader:
    """Read-only view of one header blob; construction validates its frame."""

    __slots__ = ("_blob", "_data_end", "_data_start", "_index_end")

    def __init__(self, blob: bytes) -> None:
        if len(blob) < _PREAMBLE.size:
            raise RpmdbError(f"header blob of {len(blob)} bytes is too short")
        count, length = _PREAMBLE.unpack_from(blob, 0)
        if count == 0 or count > MAX_INDEX_ENTRIES:
            raise RpmdbError(f"header claims {count} index entries")
        if length > MAX_DATA_LENGTH:
            raise RpmdbError(f"header claims {length} bytes of data")
        index_end = 8 + 16 * count
        data_end = index_end + length
        if data_end > len(blob):
            raise RpmdbError(f"header needs {data_end} bytes, blob has {len(blob)}")
        self._blob = blob
        self._index_end = index_end
        self._data_start = index_end
        self._data_end = data_end
        tag, kind, offset, n = _ENTRY.unpack_from(blob, 8)
        if tag in _REGION_TAGS and (
            kind != TYPE_BIN or n != _REGION_TRAILER or not 0 <= offset <= length - 16
        ):
            raise RpmdbError(f"header region tag {tag} is malformed")

    def _entry(self, tag: int) -> tuple[int, int, int] | None:
        """(type, offset, count) of the tag's last index entry, None when absent."""
        pattern = _U32.pack(tag)
        blob = self._blob
        end = self._index_end
        while True:
            pos = blob.rfind(pattern, 8, end)
            if pos < 0:
                return None
            if (pos - 8) % 16 == 0:
                kind, offset, count = _ENTRY_REST.unpack_from(blob, pos + 4)
                if kind > _MAX_TYPE or not 0 <= offset < self._data_end - self._data_start:
                    raise RpmdbError(f"tag {tag}: type {kind} offset {offset} out of range")
                return kind, offset, count
            end = pos + 3  # an unaligned hit: search again just before it

    def string(self, tag: int) -> str | None:
        """A STRING tag (or the first, untranslated value of an I18NSTRING)."""
        entry = self._entry(tag)
        if entry is None:
            return None
        kind, offset, _count = entry
        if kind not in (TYPE_STRING, TYPE_I18NSTRING, TYPE_STRING_ARRAY):
            raise RpmdbError(f"tag {tag} has type {kind}, not a string")
        start = self._data_start + offset
        nul = self._blob.find(b"\0", start, self._data_end)
        if nul < 0:
            raise RpmdbError(f"tag {tag}: string runs past the header data")
        return self._blob[start:nul].decode("utf-8", "replace")

    def string_array(self, tag: int) -> list[str] | None:
        """A STRING_ARRAY or I18NSTRING tag: `count` NUL-terminated strings."""
        entry = self._entry(tag)
        if entry is None:
            return None
        kind, offset, count = entry
        if kind not in (TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING):
            raise RpmdbError(f"tag {tag} has type {kind}, not a string array")
        start = self._data_start + offset
        if count == 0 or count > self._data_end - start:
            raise RpmdbError(f"tag {tag}: {count} strings cannot fit")
        parts = self._blob[start : self._data_end].split(b"\0", count)
        if len(parts) <= count:
            raise RpmdbError(f"tag {tag}: string array runs past the header data")
        return [p.decode("utf-8", "replace") for p in parts[:count]]

    def int32(self, tag: int) -> int | None:
        """The first value of an INT32 tag."""
        entry = self._entry(tag)
        if entry is None:
            return None
        kind, offset, count = entry
        if kind != TYPE_INT32 or count == 0:
            raise RpmdbError(f"tag {tag} has type {kind} count {count}, not int32")
        start = self._data_start + offset
        if start + 4 > self._data_end:
            raise RpmdbError(f"tag {tag}: int32 runs past the header data")
        value: int = _U32.unpack_from(self._blob, start)[0]
        return value
