"""fanotify through ctypes: file opens, closes and executions on whole filesystems, with no
kernel module (root, CONFIG_FANOTIFY).

Only notification classes are used, never permission events: a permission event left
unanswered hangs every process touching the filesystem. Each event brings an open file
descriptor on the file; its path is read from /proc/self/fd/N and the descriptor is closed
at once, whatever happens. ``FAN_MARK_FILESYSTEM`` (Linux 4.20) watches a whole filesystem;
older kernels fall back to ``FAN_MARK_MOUNT`` on the one mount given.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = [
    "FAN_CLOSE_NOWRITE",
    "FAN_CLOSE_WRITE",
    "FAN_OPEN",
    "FAN_OPEN_EXEC",
    "FAN_Q_OVERFLOW",
    "Fanotify",
    "FileEvent",
]

FAN_ACCESS: Final = 0x00000001
FAN_MODIFY: Final = 0x00000002
FAN_CLOSE_WRITE: Final = 0x00000008
FAN_CLOSE_NOWRITE: Final = 0x00000010
FAN_OPEN: Final = 0x00000020
FAN_Q_OVERFLOW: Final = 0x00004000
FAN_OPEN_EXEC: Final = 0x00001000

FAN_CLOEXEC: Final = 0x00000001
FAN_NONBLOCK: Final = 0x00000002
FAN_CLASS_NOTIF: Final = 0x00000000
FAN_UNLIMITED_QUEUE: Final = 0x00000010

FAN_MARK_ADD: Final = 0x00000001
FAN_MARK_MOUNT: Final = 0x00000010
FAN_MARK_FILESYSTEM: Final = 0x00000100
AT_FDCWD: Final = -100
FAN_NOFD: Final = -1

_O_RDONLY: Final = os.O_RDONLY
_O_LARGEFILE: Final = 0o100000
_O_CLOEXEC: Final = os.O_CLOEXEC
_O_NOATIME: Final = 0o1000000

_METADATA = struct.Struct("=IBBHQii")  # event_len, vers, reserved, metadata_len, mask, fd, pid
FANOTIFY_METADATA_VERSION: Final = 3

WATCHED: Final = FAN_OPEN | FAN_OPEN_EXEC | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE


@dataclass(frozen=True, slots=True)
class FileEvent:
    """One fanotify record (the kernel merges records for the same file and process while
    they wait in the queue, so ``mask`` may hold OPEN and CLOSE together)."""

    mask: int
    pid: int
    path: str | None
    dev: int | None
    ino: int | None
    mode: int | None


class _Libc:
    """The two syscalls, looked up once (a seam for tests that simulate an old kernel)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        self.init = libc.fanotify_init
        self.init.argtypes = [ctypes.c_uint, ctypes.c_uint]
        self.init.restype = ctypes.c_int
        self.mark = libc.fanotify_mark
        self.mark.argtypes = [
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint64,
            ctypes.c_int,
            ctypes.c_char_p,
        ]
        self.mark.restype = ctypes.c_int


_libc: _Libc | None = None


def _syscalls() -> _Libc:
    global _libc  # noqa: PLW0603 - loaded on first use only
    if _libc is None:
        _libc = _Libc()
    return _libc


def _oserror(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, os.strerror(code), what)


class Fanotify:
    """A notification-class fanotify group. ``mark`` watches a filesystem (or, on old kernels,
    one mount); ``read`` returns the queued records with paths, every descriptor closed."""

    def __init__(self, mask: int = WATCHED) -> None:
        libc = _syscalls()
        flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE
        event_flags = _O_RDONLY | _O_LARGEFILE | _O_CLOEXEC | _O_NOATIME
        fd: int = libc.init(flags, event_flags)
        if fd < 0:
            raise _oserror("fanotify_init")
        self.fd = fd
        self.mask = mask
        self.overflows = 0
        self.filesystem_marks = True
        self._closed = False

    def fileno(self) -> int:
        return self.fd

    def mark(self, path: str) -> None:
        """Watch the filesystem holding ``path``. Raises OSError when the kernel refuses."""
        libc = _syscalls()
        encoded = os.fsencode(path)
        if self.filesystem_marks:
            if (
                libc.mark(self.fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, self.mask, AT_FDCWD, encoded)
                == 0
            ):
                return
            code = ctypes.get_errno()
            if code != errno.EINVAL:
                raise OSError(code, os.strerror(code), path)
            self.filesystem_marks = False  # before Linux 4.20: one mount at a time
        if libc.mark(self.fd, FAN_MARK_ADD | FAN_MARK_MOUNT, self.mask, AT_FDCWD, encoded) == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EINVAL and self.mask & FAN_OPEN_EXEC:
            self.mask &= ~FAN_OPEN_EXEC  # before Linux 5.0
            self.mark(path)
            return
        raise OSError(code, os.strerror(code), path)

    def read(self, skip_pid: int) -> Iterator[FileEvent]:
        """The records queued now, not those of ``skip_pid`` (the sensor itself)."""
        while True:
            try:
                data = os.read(self.fd, 256 * 1024)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EINTR, errno.EAGAIN):
                    continue
                if exc.errno == errno.EBADF:
                    return
                raise
            if not data:
                return
            yield from self._parse(data, skip_pid)

    def _parse(self, data: bytes, skip_pid: int) -> Iterator[FileEvent]:
        offset, size = 0, len(data)
        events: list[FileEvent] = []
        # Every descriptor of the buffer is closed before anything is yielded, so that a
        # consumer that stops early leaks none.
        while offset + _METADATA.size <= size:
            length, version, _r, _mlen, mask, fd, pid = _METADATA.unpack_from(data, offset)
            if length < _METADATA.size:
                break
            offset += length
            if version != FANOTIFY_METADATA_VERSION:
                if fd >= 0:
                    os.close(fd)
                continue
            if mask & FAN_Q_OVERFLOW:
                self.overflows += 1
            if fd < 0:
                continue
            try:
                if pid == skip_pid:
                    continue
                events.append(_describe(mask, pid, fd))
            finally:
                os.close(fd)
        yield from events

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.fd)


def _describe(mask: int, pid: int, fd: int) -> FileEvent:
    try:
        path: str | None = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        path = None
    try:
        st = os.fstat(fd)
    except OSError:
        return FileEvent(mask, pid, path, None, None, None)
    return FileEvent(mask, pid, path, st.st_dev, st.st_ino, st.st_mode)
