"""The kernel's netlink process connector: every fork, exec and exit on the machine, with no
kernel module (CONFIG_PROC_EVENTS, root).

The socket joins the ``CN_IDX_PROC`` multicast group and asks for events with
``PROC_CN_MCAST_LISTEN``. Messages carry pids and a monotonic timestamp, nothing else: the
sensor reads /proc for the rest. The receive buffer is raised to 8 MiB because a burst of
short processes outruns a reader otherwise and the kernel then drops messages (``ENOBUFS``),
which is counted, not fatal.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = [
    "PROC_EVENT_EXEC",
    "PROC_EVENT_EXIT",
    "PROC_EVENT_FORK",
    "ProcConnector",
    "ProcEvent",
    "parse_messages",
]

NETLINK_CONNECTOR: Final = 11
CN_IDX_PROC: Final = 1
CN_VAL_PROC: Final = 1
PROC_CN_MCAST_LISTEN: Final = 1
PROC_CN_MCAST_IGNORE: Final = 2
NLMSG_DONE: Final = 3
NLMSG_ERROR: Final = 2

PROC_EVENT_FORK: Final = 0x00000001
PROC_EVENT_EXEC: Final = 0x00000002
PROC_EVENT_EXIT: Final = 0x80000000

RCVBUF_BYTES: Final = 8 * 1024 * 1024

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
_EVENT_HEAD = struct.Struct("=IIQ")  # what, cpu, timestamp_ns
_FORK = struct.Struct("=IIII")  # parent pid, parent tgid, child pid, child tgid
_EXEC = struct.Struct("=II")  # pid, tgid
_EXIT = struct.Struct("=IIII")  # pid, tgid, exit code, exit signal
_HEADERS = _NLMSGHDR.size + _CN_MSG.size


@dataclass(frozen=True, slots=True)
class ProcEvent:
    """One connector message: ``what`` is PROC_EVENT_*; ``pid``/``tgid`` the process (for fork,
    the child), ``parent_tgid`` only for fork, ``exit_code`` only for exit."""

    what: int
    timestamp_ns: int  # CLOCK_MONOTONIC
    pid: int
    tgid: int
    parent_tgid: int = 0
    exit_code: int = 0


def _new_socket() -> socket.socket:
    """The connector socket (a seam for tests that simulate a kernel without it)."""
    return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)


def _control(op: int) -> bytes:
    body = struct.pack("=I", op)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(body), 0) + body
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(cn), NLMSG_DONE, 0, 0, os.getpid()) + cn


class ProcConnector:
    """A subscribed connector socket. ``open`` raises OSError with the kernel's errno; the
    sensor turns it into one clear line."""

    def __init__(self) -> None:
        self.sock = _new_socket()
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
            # SO_RCVBUFFORCE passes rmem_max; root has CAP_NET_ADMIN, others keep the default.
            so_rcvbufforce = getattr(socket, "SO_RCVBUFFORCE", 33)
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, so_rcvbufforce, RCVBUF_BYTES)
            self.sock.bind((0, CN_IDX_PROC))
            self.sock.send(_control(PROC_CN_MCAST_LISTEN))
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise
        self.overruns = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> Iterator[ProcEvent]:
        """Every message queued now; a kernel overrun (ENOBUFS) is counted and reading goes on."""
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.overruns += 1
                    continue
                if exc.errno in (errno.EBADF, errno.ENOTSOCK):
                    return
                raise
            yield from parse_messages(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(_control(PROC_CN_MCAST_IGNORE))
        self.sock.close()


def parse_messages(data: bytes) -> Iterator[ProcEvent]:
    """The proc events in one datagram; anything truncated or foreign is skipped."""
    offset = 0
    size = len(data)
    while offset + _HEADERS + _EVENT_HEAD.size <= size:
        length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > size:
            return
        if kind != NLMSG_ERROR:
            idx, val, _s, _a, _len, _f = _CN_MSG.unpack_from(data, offset + _NLMSGHDR.size)
            if idx == CN_IDX_PROC and val == CN_VAL_PROC:
                event = _parse_event(data, offset + _HEADERS, offset + length)
                if event is not None:
                    yield event
        offset += (length + 3) & ~3


def _parse_event(data: bytes, start: int, end: int) -> ProcEvent | None:
    what, _cpu, ts = _EVENT_HEAD.unpack_from(data, start)
    body = start + _EVENT_HEAD.size
    if what == PROC_EVENT_FORK and body + _FORK.size <= end:
        _ppid, ptgid, cpid, ctgid = _FORK.unpack_from(data, body)
        return ProcEvent(what, ts, cpid, ctgid, parent_tgid=ptgid)
    if what == PROC_EVENT_EXEC and body + _EXEC.size <= end:
        pid, tgid = _EXEC.unpack_from(data, body)
        return ProcEvent(what, ts, pid, tgid)
    if what == PROC_EVENT_EXIT and body + _EXIT.size <= end:
        pid, tgid, code, _signal = _EXIT.unpack_from(data, body)
        return ProcEvent(what, ts, pid, tgid, exit_code=code)
    return None
