"""rpmdb.sqlite: the Packages(hnum, blob) table, read from bytes with sqlite3's deserialize.

The image's file is never written to disk: `Connection.deserialize` loads it into an
in-memory database, and `query_only` keeps it read-only. rpm leaves its database in WAL mode,
which the in-memory VFS cannot open (no shared memory), so the two header bytes that say so
are set back to the rollback-journal values on a copy first; an image's -wal file is not
read (rpm checkpoints it when the transaction that built the image ends).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

from kubeward.analyze.rpmdb.header import MAX_BLOB_LENGTH, RpmdbError

MAGIC = b"SQLite format 3\0"
_WAL = 2
_LEGACY = 1


def read_blobs(data: bytes, warn: Callable[[str], None]) -> Iterator[tuple[int, bytes]]:
    """(hnum, blob) for every row of the Packages table."""
    image: bytes | bytearray = data
    if len(data) > 19 and (data[18] == _WAL or data[19] == _WAL):
        patched = bytearray(data)
        patched[18] = patched[19] = _LEGACY
        image = patched
    con = sqlite3.connect(":memory:")
    try:
        try:
            con.deserialize(image)
            del image
            con.execute("PRAGMA query_only = ON")
            # A forged schema could make Packages a view over an endless recursive query.
            kind = con.execute(
                "SELECT type FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE"
            ).fetchone()
            if kind is None or kind[0] != "table":
                raise RpmdbError("SQLite database has no Packages table")
            rows = con.execute("SELECT hnum, blob FROM Packages")
            for hnum, blob in rows:
                if not isinstance(blob, bytes) or not isinstance(hnum, int):
                    warn(f"package record {hnum!r}: blob is not binary")
                    continue
                if len(blob) > MAX_BLOB_LENGTH:
                    warn(f"package record {hnum}: blob of {len(blob)} bytes is over the cap")
                    continue
                yield hnum, blob
        except (sqlite3.Error, OverflowError) as exc:
            raise RpmdbError(f"SQLite: {exc}") from exc
    finally:
        con.close()
