"""New TCP and UDP connections seen by polling /proc/PID/net/{tcp,tcp6,udp,udp6}, one process
per network namespace, and the process holding each new socket found through /proc/*/fd.

Best effort by nature: a connection opened and closed between two polls is never seen, the
owner of a socket whose process has already exited is unknown, and an unconnected UDP socket
(``sendto`` without ``connect``) has no peer to report. A TCP socket is an ``accept`` when its
local port is one its namespace listens on, else a ``connect``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = ["Connection", "ConnectionPoller", "parse_table"]

_TCP_ESTABLISHED: Final = "01"
_TCP_SYN_SENT: Final = "02"
_TCP_LISTEN: Final = "0A"
_UDP_ESTABLISHED: Final = "01"
_TABLES: Final = (("tcp", 4), ("tcp6", 6), ("udp", 4), ("udp6", 6))
MAX_FD_SCAN: Final = 4096
"""Descriptors looked at per process when searching a socket's owner."""


@dataclass(frozen=True, slots=True)
class Socket:
    proto: str  # "tcp" | "udp"
    family: int  # 4 | 6
    local: tuple[str, int]
    remote: tuple[str, int]
    state: str
    uid: int
    inode: int


@dataclass(frozen=True, slots=True)
class Connection:
    """A socket seen for the first time: ``kind`` is ``connect``, ``accept`` or ``listen``."""

    kind: str
    socket: Socket
    pid: int | None
    fd: int | None


def _address(text: str, family: int) -> tuple[str, int]:
    """``0100007F:1F90`` (IPv4, host byte order words) to ``("127.0.0.1", 8080)``."""
    host, _, port = text.partition(":")
    raw = bytes.fromhex(host)
    if family == 4:
        addr = socket.inet_ntop(socket.AF_INET, struct.pack("<I", struct.unpack(">I", raw)[0]))
    else:
        words = struct.unpack(">4I", raw)
        addr = socket.inet_ntop(socket.AF_INET6, struct.pack("<4I", *words))
        mapped = ipaddress.IPv6Address(addr).ipv4_mapped
        if mapped is not None:
            addr = str(mapped)
    return addr, int(port, 16)


def parse_table(text: str, proto: str, family: int) -> Iterator[Socket]:
    """The sockets of one /proc/net table; malformed lines are skipped."""
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10:
            continue
        try:
            inode = int(parts[9])
            if inode == 0:
                continue
            yield Socket(
                proto,
                family,
                _address(parts[1], family),
                _address(parts[2], family),
                parts[3],
                int(parts[7]),
                inode,
            )
        except (ValueError, struct.error, OSError):
            continue


@lru_cache(maxsize=1024)
def service_name(port: int, proto: str) -> str | None:
    """``fd.sproto``: the service a port is registered for (/etc/services), else None."""
    try:
        return socket.getservbyport(port, proto)
    except (OSError, OverflowError):
        return None


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


class ConnectionPoller:
    """Remembers the sockets of every network namespace and reports the new ones each poll.
    The first poll only learns what exists (those connections are older than the sensor)."""

    def __init__(self) -> None:
        self._seen: dict[int, set[int]] = {}  # netns inode -> socket inodes

    def poll(self, pids: Iterable[int]) -> list[Connection]:
        namespaces: dict[int, int] = {}
        for pid in pids:
            try:
                ns = os.stat(f"/proc/{pid}/ns/net").st_ino
            except OSError:
                continue
            namespaces.setdefault(ns, pid)
        found: list[tuple[str, Socket, int]] = []
        for ns, pid in namespaces.items():
            sockets = self._sockets(pid)
            if sockets is None:
                continue
            first = ns not in self._seen
            seen = self._seen.setdefault(ns, set())
            listening = {s.local[1] for s in sockets if s.proto == "tcp" and s.state == _TCP_LISTEN}
            current = set()
            for s in sockets:
                current.add(s.inode)
                if first or s.inode in seen:
                    continue
                kind = _kind(s, listening)
                if kind is not None:
                    found.append((kind, s, ns))
            self._seen[ns] = current
        for ns in list(self._seen):
            if ns not in namespaces:
                del self._seen[ns]
        if not found:
            return []
        owners = _owners({s.inode for _k, s, _n in found}, namespaces)
        return [Connection(k, s, *owners.get(s.inode, (None, None))) for k, s, _n in found]

    @staticmethod
    def _sockets(pid: int) -> list[Socket] | None:
        out: list[Socket] = []
        any_table = False
        for name, family in _TABLES:
            text = _read_text(f"/proc/{pid}/net/{name}")
            if text is None:
                continue
            any_table = True
            out.extend(parse_table(text, name.rstrip("6"), family))
        return out if any_table else None


def _kind(s: Socket, listening: set[int]) -> str | None:
    if s.proto == "tcp":
        if s.state == _TCP_LISTEN:
            return "listen"
        if s.state in (_TCP_ESTABLISHED, _TCP_SYN_SENT):
            return "accept" if s.local[1] in listening else "connect"
        return None
    if s.state == _UDP_ESTABLISHED and s.remote[1] != 0:
        return "connect"
    return None


def _owners(inodes: set[int], namespaces: dict[int, int]) -> dict[int, tuple[int, int]]:
    """socket inode -> (pid, fd), searching every process's descriptors until all are found."""
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    out: dict[int, tuple[int, int]] = {}
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return out
    for name in entries:
        try:
            fds = os.listdir(f"/proc/{name}/fd")
        except OSError:
            continue
        for fd in fds[:MAX_FD_SCAN]:
            try:
                target = os.readlink(f"/proc/{name}/fd/{fd}")
            except OSError:
                continue
            inode = wanted.get(target)
            if inode is not None and inode not in out:
                out[inode] = (int(name), int(fd))
                if len(out) == len(wanted):
                    return out
    del namespaces
    return out
