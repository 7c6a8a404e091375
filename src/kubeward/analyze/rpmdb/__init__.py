"""Read the installed-package database of rpm-based images, in all three on-disk formats.

An image holds its rpmdb as one file: SQLite (rpm >= 4.16 on Fedora, RHEL 9, Mariner), a
Berkeley DB hash file (RHEL <= 8, CentOS, Amazon Linux 2) or SUSE's NDB. No Python library
reads BDB or NDB from bytes and linking libdb is not an option, so the three readers here are
our own; each yields the stored header blobs, which `header.RpmHeader` decodes. The format is
sniffed from the content, never trusted from the file name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kubeward.analyze.rpmdb import bdb, ndb, sqlite
from kubeward.analyze.rpmdb.header import RpmdbError

Warn = Callable[[str], None]


def detect_format(data: bytes) -> str | None:
    """ "sqlite", "bdb", "ndb" or None, from the file's magic bytes."""
    if data.startswith(sqlite.MAGIC):
        return "sqlite"
    if data.startswith(ndb.MAGIC):
        return "ndb"
    if bdb.is_hash_db(data):
        return "bdb"
    return None


def read_blobs(data: bytes, warn: Warn) -> Iterator[tuple[int, bytes]]:
    """(record number, header blob) for every package record in a database file.

    A record that cannot be read is reported through `warn` and skipped; a file that cannot
    be read at all raises RpmdbError (possibly after some records were yielded).
    """
    kind = detect_format(data)
    if kind == "sqlite":
        return sqlite.read_blobs(data, warn)
    if kind == "ndb":
        return ndb.read_blobs(data, warn)
    if kind == "bdb":
        return bdb.read_blobs(data, warn)
    raise RpmdbError("not an rpm database (no SQLite, Berkeley DB hash or NDB magic)")
