"""Walking a project tree and reading its files as strangers' input, for the config scanners.

Symlinks are never followed, to files or to directories (a link may point outside the tree,
or loop); `.git` and `node_modules` hold nothing of the project's own. A file is opened with
O_NOFOLLOW (swapped for a link after the walk: still not followed) and O_NONBLOCK (a FIFO
cannot hang the scan), must be a regular file, is read up to a cap and sniffed for binary.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

SKIP_DIRS = frozenset({".git", "node_modules"})
_SNIFF_BYTES = 8192

# (directory, its subdirectory names (editable, like os.walk's), its file names) -> True
# when the directory's own files must be skipped
Prune = Callable[[Path, list[str], list[str]], bool]


def walk_files(
    root: Path, wanted: Callable[[str], bool], prune: Prune | None = None
) -> Iterator[tuple[Path, str]]:
    """(file, POSIX path relative to `root`) of every regular file under `root` whose name
    `wanted` accepts, in sorted order."""
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(directory)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        if prune is not None and prune(base, dirnames, filenames):
            continue
        for name in sorted(filenames):
            if not wanted(name):
                continue
            path = base / name
            try:
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
            except OSError:
                continue
            yield path, path.relative_to(root).as_posix()


def read_project_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of one file; OSError or ValueError (one line naming `what` the file should
    have been) when it cannot be used."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ValueError("not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit >> 20} MiB, not {what}")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise ValueError(f"binary file, not {what}")
    return data
