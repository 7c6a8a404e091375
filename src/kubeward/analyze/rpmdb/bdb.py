"""Berkeley DB hash files (rpm's legacy `Packages`), parsed from bytes without libdb.

Only what a read of every record needs: the metadata page (magic, byte order, page size,
last page), the hash pages' key/data item pairs and the overflow-page chains that hold
values too big for a page (most rpm headers). Every hash page is visited in file order, so
bucket chains need not be followed; overflow chains are followed with a visited set, so a
forged cycle ends the record instead of the scan, and a chain can never yield more bytes
than the file holds.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from kubeward.analyze.rpmdb.header import MAX_BLOB_LENGTH, RpmdbError

HASH_MAGIC = 0x061561
_VALID_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))  # 512 .. 65536

# Page types (db_page.h).
_P_HASH_UNSORTED = 2
_P_OVERFLOW = 7
_P_HASHMETA = 8
_P_HASH = 13

# Item types on hash pages.
_H_KEYDATA = 1
_H_DUPLICATE = 2
_H_OFFPAGE = 3
_H_OFFDUP = 4

_PAGE_HEADER = 26  # lsn, pgno, prev_pgno, next_pgno, entries, hf_offset, level, type


def _byte_order(data: bytes) -> str | None:
    if len(data) < 512:
        return None
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", data, 12)[0] == HASH_MAGIC:
            return order
    return None


def is_hash_db(data: bytes) -> bool:
    return _byte_order(data) is not None


class _Pages:
    """Page access with bounds checks; `order` is the creating machine's byte order."""

    def __init__(self, data: bytes, order: str, page_size: int, count: int) -> None:
        self.data = data
        self.view = memoryview(data)
        self.page_size = page_size
        self.count = count
        # next_pgno, entries, hf_offset (an overflow page's byte count), level, type: at 16.
        self.header = struct.Struct(order + "IHHBB")

    def overflow(self, first: int, total: int) -> bytes:
        """The `total` bytes of an overflow chain starting at page `first`."""
        if total > MAX_BLOB_LENGTH or total > self.count * self.page_size:
            raise RpmdbError(f"overflow item claims {total} bytes")
        parts: list[memoryview] = []
        seen: set[int] = set()
        remaining = total
        page = first
        while remaining > 0:
            if page == 0 or page >= self.count:
                raise RpmdbError(f"overflow chain points to page {page} of {self.count}")
            if page in seen:
                raise RpmdbError(f"overflow chain loops back to page {page}")
            seen.add(page)
            base = page * self.page_size
            next_page, _entries, length, _level, kind = self.header.unpack_from(
                self.data, base + 16
            )
            if kind != _P_OVERFLOW:
                raise RpmdbError(f"overflow chain reaches page {page} of type {kind}")
            if length > self.page_size - _PAGE_HEADER:
                raise RpmdbError(f"overflow page {page} claims {length} bytes")
            take = min(length, remaining)
            parts.append(self.view[base + _PAGE_HEADER : base + _PAGE_HEADER + take])
            remaining -= take
            if remaining and length == 0:
                raise RpmdbError(f"overflow page {page} is empty")
            page = next_page
        return b"".join(parts)


def read_blobs(data: bytes, warn: Callable[[str], None]) -> Iterator[tuple[int, bytes]]:
    """(record number, value) for every key/data pair on the file's hash pages."""
    order = _byte_order(data)
    if order is None:
        raise RpmdbError("not a Berkeley DB hash file")
    version, page_size, encrypt, meta_type = struct.unpack_from(order + "IIBB", data, 16)
    if meta_type != _P_HASHMETA:
        raise RpmdbError(f"Berkeley DB metadata page has type {meta_type}")
    if page_size not in _VALID_PAGE_SIZES:
        raise RpmdbError(f"Berkeley DB page size {page_size} is invalid")
    if encrypt:
        raise RpmdbError("Berkeley DB file is encrypted")
    if version not in (8, 9, 10):
        warn(f"Berkeley DB hash version {version} is untested; reading it anyway")
    last_page = struct.unpack_from(order + "I", data, 32)[0]
    count = len(data) // page_size
    if last_page + 1 < count:
        count = last_page + 1
    elif last_page + 1 > count:
        warn(f"Berkeley DB file is truncated: {count} of {last_page + 1} pages present")
    pages = _Pages(data, order, page_size, count)
    u32 = struct.Struct(order + "I")
    offpage = struct.Struct(order + "4xII")  # type, 3 unused bytes, pgno, tlen

    for page in range(1, count):
        base = page * page_size
        kind = data[base + 25]
        if kind not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        entries = struct.unpack_from(order + "H", data, base + 20)[0]
        if _PAGE_HEADER + 2 * entries > page_size:
            warn(f"Berkeley DB page {page} claims {entries} items")
            continue
        offsets = struct.unpack_from(f"{order}{entries}H", data, base + _PAGE_HEADER)
        if entries % 2:
            warn(f"Berkeley DB page {page} has an odd number of items")
        for i in range(0, entries - 1, 2):
            key_at, value_at = offsets[i], offsets[i + 1]
            # An on-page item runs from its offset to the previous item's (or the page end).
            key_end = offsets[i - 1] if i else page_size
            if not (_PAGE_HEADER <= value_at < key_at < key_end <= page_size):
                warn(f"Berkeley DB page {page} item {i}: offsets out of order")
                continue
            if data[base + key_at] != _H_KEYDATA:
                warn(f"Berkeley DB page {page} item {i}: unsupported key type")
                continue
            key = data[base + key_at + 1 : base + key_end]
            # rpm's keys are 4-byte record numbers in the machine's order; record 0 holds
            # rpm's own counter, not a header.
            record = u32.unpack(key)[0] if len(key) == 4 else -1
            if record == 0:
                continue
            value_kind = data[base + value_at]
            try:
                if value_kind == _H_KEYDATA:
                    value = data[base + value_at + 1 : base + key_at]
                elif value_kind == _H_OFFPAGE:
                    if value_at + offpage.size > key_at:
                        raise RpmdbError("off-page item is truncated")
                    first, total = offpage.unpack_from(data, base + value_at)
                    value = pages.overflow(first, total)
                elif value_kind in (_H_DUPLICATE, _H_OFFDUP):
                    raise RpmdbError("duplicate items are not used by rpm")
                else:
                    raise RpmdbError(f"unknown item type {value_kind}")
            except RpmdbError as exc:
                warn(f"package record {record} (page {page}): {exc}")
                continue
            yield record, value
