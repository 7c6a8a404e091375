"""What the live sensor knows about processes: one /proc snapshot per process, taken the moment
the kernel reports its exec, kept in a table with its parent so that ancestors outlive
themselves.

A short-lived process may be gone before /proc is read (``cat`` lives for a millisecond): the
snapshot keeps what could be read in the order of how soon it vanishes (``cmdline`` and
``exe`` first: they go when the process becomes a zombie; ``stat`` and ``status`` last), and
the table still knows its pid and parent from the fork. User and group names come from the
host's passwd and group files, or from the container's own files for a process in a container.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Final

__all__ = [
    "EXE_FROM_MEMFD",
    "EXE_LOWER_LAYER",
    "EXE_UPPER_LAYER",
    "EXE_WRITABLE",
    "HOST",
    "ContainerRoot",
    "ProcInfo",
    "ProcessTable",
    "UserNames",
    "boot_epoch_ns",
    "container_of_cgroup",
    "exe_flags_text",
    "read_process",
]

HOST: Final = "host"
"""``container.id`` of a process that is in no container, as Falco names it."""

# libsinsp's PPM_EXE_* flags of the execve exit event (evt.arg.flags).
EXE_WRITABLE: Final = 1 << 0
EXE_UPPER_LAYER: Final = 1 << 1
EXE_FROM_MEMFD: Final = 1 << 2
EXE_LOWER_LAYER: Final = 1 << 3
_EXE_FLAG_NAMES: Final = (
    (EXE_WRITABLE, "EXE_WRITABLE"),
    (EXE_UPPER_LAYER, "EXE_UPPER_LAYER"),
    (EXE_FROM_MEMFD, "EXE_FROM_MEMFD"),
    (EXE_LOWER_LAYER, "EXE_LOWER_LAYER"),
)

MAX_ARG_BYTES: Final = 4096
"""libsinsp truncates the command line and the environment there."""
MAX_ANCESTORS: Final = 64
"""A walk up the parent chain stops here, whatever a broken table says."""

_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")
_CGROUP_ID = re.compile(
    r"(?:^|/)(docker-|cri-containerd-|crio-|libpod-|containerd-)?([0-9a-f]{64})(?:\.scope)?$"
)


def exe_flags_text(flags: int) -> str | None:
    """``EXE_WRITABLE|EXE_LOWER_LAYER``, as libsinsp renders the execve flags."""
    names = [name for bit, name in _EXE_FLAG_NAMES if flags & bit]
    return "|".join(names) if names else None


def boot_epoch_ns() -> int:
    """When the machine booted, in nanoseconds since the epoch (the origin of /proc times)."""
    return time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def container_of_cgroup(text: str) -> tuple[str, str | None, str | None]:
    """``(container.id, full id, container.type)`` from /proc/PID/cgroup: the first cgroup
    path ending in a 64-hex id as docker, containerd (CRI), cri-o and podman name them."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        if "conmon" in path:  # cri-o's monitor process lives beside the container
            continue
        match = _CGROUP_ID.search(path)
        if match is None:
            continue
        prefix: str | None = match.group(1)
        full: str = match.group(2)
        kind: str | None
        if prefix == "docker-" or "/docker/" in path:
            kind = "docker"
        elif prefix == "crio-" or "/crio" in path:
            kind = "cri-o"
        elif prefix == "libpod-" or "libpod" in path:
            kind = "podman"
        elif prefix in ("cri-containerd-", "containerd-") or "containerd" in path:
            kind = "containerd"
        else:
            kind = "cri" if "kubepods" in path else None
        return full[:12], full, kind
    return HOST, None, None


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """One process as the sensor saw it at its last exec (or at start-up, or inherited from its
    parent at fork until it execs). ``None`` means "could not be read"."""

    pid: int
    ppid: int
    name: str | None = None  # comm
    exe: str | None = None  # argv[0]
    args: tuple[str, ...] | None = None
    exepath: str | None = None
    cwd: str | None = None
    uid: int | None = None  # effective, as libsinsp's user.uid
    gid: int | None = None
    loginuid: int | None = None
    tty: int | None = None
    sid: int | None = None
    pgid: int | None = None
    vpid: int | None = None
    vpgid: int | None = None
    start_ns: int | None = None
    container_id: str = HOST
    container_full_id: str | None = None
    container_type: str | None = None
    cgroups: str | None = None
    env: str | None = None
    cap_permitted: int | None = None
    cap_inheritable: int | None = None
    cap_effective: int | None = None
    vmsize: int | None = None
    vmrss: int | None = None
    vmswap: int | None = None
    pfmajor: int | None = None
    pfminor: int | None = None
    nthreads: int | None = None
    exe_ino: int | None = None
    exe_ctime: int | None = None
    exe_mtime: int | None = None
    exe_flags: int = 0
    in_child_pidns: bool = False
    complete: bool = False  # every file read; False for a process gone too soon or inherited

    @property
    def cmdline(self) -> str | None:
        if self.name is None:
            return None
        return " ".join((self.name, *self.args)) if self.args else self.name


def _read(path: str, limit: int = 65536) -> bytes | None:
    try:
        with open(path, "rb", buffering=0) as f:
            return f.read(limit)
    except OSError:
        return None


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _split_nul(data: bytes) -> list[str]:
    return [part.decode("utf-8", "replace") for part in data.rstrip(b"\0").split(b"\0")]


def _status_fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key] = value.strip()
    return out


def _kb(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value.split()[0])
    except ValueError:
        return None


def _last_int(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value.split()[-1])
    except ValueError:
        return None


def read_process(pid: int, boot_ns: int, *, with_env: bool = True) -> ProcInfo | None:
    """A snapshot of /proc/PID, or None when nothing at all could be read (the process is gone).

    The files go in the order they vanish: argv and the executable with the address space at
    exit, the rest when the zombie is reaped."""
    base = f"/proc/{pid}"
    cmdline = _read(f"{base}/cmdline", MAX_ARG_BYTES)
    exepath = _readlink(f"{base}/exe")
    cwd = _readlink(f"{base}/cwd")
    env_raw = _read(f"{base}/environ", MAX_ARG_BYTES) if with_env else None
    stat_raw = _read(f"{base}/stat")
    status_raw = _read(f"{base}/status")
    cgroup_raw = _read(f"{base}/cgroup")
    login_raw = _read(f"{base}/loginuid")
    if stat_raw is None and status_raw is None:
        return None
    info: dict[str, Any] = {"pid": pid, "ppid": 0}
    if stat_raw:
        _parse_stat(stat_raw.decode("utf-8", "replace"), boot_ns, info)
    if status_raw:
        _parse_status(status_raw.decode("utf-8", "replace"), info)
    if cmdline:
        argv = _split_nul(cmdline)
        info["exe"], info["args"] = argv[0], tuple(argv[1:])
    if exepath is not None:
        if exepath.endswith(" (deleted)"):
            exepath = exepath[: -len(" (deleted)")]
        info["exepath"] = exepath
        _exe_stat(base, exepath, info)
    info["cwd"] = cwd
    if env_raw:
        info["env"] = " ".join(_split_nul(env_raw))
    if cgroup_raw is not None:
        text = cgroup_raw.decode("utf-8", "replace")
        cid, full, kind = container_of_cgroup(text)
        info["container_id"], info["container_full_id"], info["container_type"] = cid, full, kind
        info["cgroups"] = _cgroups_text(text)
    if login_raw:
        with contextlib.suppress(ValueError):
            value = int(login_raw)
            info["loginuid"] = -1 if value == 0xFFFFFFFF else value
    info["complete"] = bool(cmdline) and exepath is not None and cgroup_raw is not None
    return ProcInfo(**info)


def _parse_stat(text: str, boot_ns: int, info: dict[str, Any]) -> None:
    """``pid (comm) state ppid pgrp session tty_nr ...``; comm may hold spaces and parens."""
    open_paren, close_paren = text.find("("), text.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        return
    info["name"] = text[open_paren + 1 : close_paren]
    rest = text[close_paren + 2 :].split()
    try:
        info["ppid"] = int(rest[1])
        info["pgid"], info["sid"], info["tty"] = int(rest[2]), int(rest[3]), int(rest[4])
        info["pfminor"], info["pfmajor"] = int(rest[7]), int(rest[9])
        info["start_ns"] = boot_ns + int(rest[19]) * 1_000_000_000 // _CLK_TCK
    except (IndexError, ValueError):
        pass


def _parse_status(text: str, info: dict[str, Any]) -> None:
    fields = _status_fields(text)
    uid, gid = fields.get("Uid", "").split(), fields.get("Gid", "").split()
    if len(uid) > 1:
        info["uid"] = int(uid[1])
    if len(gid) > 1:
        info["gid"] = int(gid[1])
    if "ppid" not in info or not info["ppid"]:
        info["ppid"] = _last_int(fields.get("PPid")) or 0
    nspid = fields.get("NSpid", "").split()
    info["vpid"] = int(nspid[-1]) if nspid else None
    info["in_child_pidns"] = len(nspid) > 1
    info["vpgid"] = _last_int(fields.get("NSpgid"))
    for key, name in (("CapPrm", "permitted"), ("CapInh", "inheritable"), ("CapEff", "effective")):
        with contextlib.suppress(ValueError):
            info[f"cap_{name}"] = int(fields.get(key, ""), 16)
    info["vmsize"] = _kb(fields.get("VmSize"))
    info["vmrss"] = _kb(fields.get("VmRSS"))
    info["vmswap"] = _kb(fields.get("VmSwap"))
    info["nthreads"] = _last_int(fields.get("Threads"))
    if "name" not in info and "Name" in fields:
        info["name"] = fields["Name"]


def _exe_stat(base: str, exepath: str, info: dict[str, Any]) -> None:
    if exepath.startswith("/memfd:"):
        info["exe_flags"] = EXE_FROM_MEMFD
    try:
        st = os.stat(f"{base}/exe")
    except OSError:
        return
    info["exe_ino"], info["exe_ctime"], info["exe_mtime"] = (
        st.st_ino,
        st.st_ctime_ns,
        st.st_mtime_ns,
    )
    uid, gid = info.get("uid"), info.get("gid")
    writable = (
        uid == 0
        or (uid == st.st_uid and st.st_mode & stat.S_IWUSR)
        or (gid == st.st_gid and st.st_mode & stat.S_IWGRP)
        or st.st_mode & stat.S_IWOTH
    )
    if writable:
        info["exe_flags"] = info.get("exe_flags", 0) | EXE_WRITABLE


def _cgroups_text(text: str) -> str:
    """``cpuset=/docker/ID cpu=/docker/ID ...`` as libsinsp aggregates ``thread.cgroups``."""
    out = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for subsystem in (parts[1] or "unified").split(","):
                out.append(f"{subsystem.removeprefix('name=')}={parts[2]}")
    return " ".join(out)


@dataclass(frozen=True, slots=True)
class ContainerRoot:
    """A container's root filesystem (an overlay): whose it is, and its upper directory, which
    tells this overlay from a later one that the kernel gave the same device number."""

    container_id: str
    full_id: str | None
    type: str | None
    upperdir: str


def parse_overlay_line(line: str) -> tuple[int, str, str | None] | None:
    """``(st_dev, mount point, upperdir)`` of a /proc/PID/mountinfo line of an overlay mount,
    or None for any other line."""
    head, sep, tail = line.partition(" - ")
    parts = head.split()
    if not sep or len(parts) < 5 or not tail.startswith("overlay "):
        return None
    try:
        major, minor = (int(n) for n in parts[2].split(":"))
    except ValueError:
        return None
    upper = None
    options = tail.split()
    if len(options) > 2:
        for option in options[2].split(","):
            if option.startswith("upperdir="):
                upper = option[len("upperdir=") :]
    return os.makedev(major, minor), parts[4].replace("\\040", " "), upper


# ---------------------------------------------------------------------------------------------
# User and group names
# ---------------------------------------------------------------------------------------------


def _parse_colon_file(data: bytes | None) -> dict[int, tuple[str, ...]]:
    out: dict[int, tuple[str, ...]] = {}
    if not data:
        return out
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3:
            with contextlib.suppress(ValueError):
                out.setdefault(int(parts[2]), tuple(parts))
    return out


_IdTable = dict[int, tuple[str, ...]]


class UserNames:
    """uid and gid to names: the host's databases (cached), or a container's /etc/passwd and
    /etc/group read through /proc/PID/root once per container (again, at most every
    ``refresh`` seconds, when an id is missing)."""

    def __init__(self, refresh: float = 10.0) -> None:
        self._refresh = refresh
        self._host_users: dict[int, tuple[str, str, str] | None] = {}
        self._host_groups: dict[int, str | None] = {}
        self._files: dict[str, tuple[_IdTable, _IdTable]] = {}
        self._read_at: dict[str, float] = {}

    def user(self, uid: int | None, container_id: str, pid: int) -> tuple[str, str, str] | None:
        """``(name, homedir, shell)``."""
        if uid is None:
            return None
        if container_id == HOST:
            if uid not in self._host_users:
                try:
                    found = pwd.getpwuid(uid)
                    self._host_users[uid] = (found.pw_name, found.pw_dir, found.pw_shell)
                except (KeyError, OverflowError):
                    self._host_users[uid] = None
            return self._host_users[uid]
        entry = self._container_files(container_id, pid, uid, 0).get(uid)
        if entry is None or len(entry) < 7:
            return None
        return entry[0], entry[5], entry[6]

    def group(self, gid: int | None, container_id: str, pid: int) -> str | None:
        if gid is None:
            return None
        if container_id == HOST:
            if gid not in self._host_groups:
                try:
                    self._host_groups[gid] = grp.getgrgid(gid).gr_name
                except (KeyError, OverflowError):
                    self._host_groups[gid] = None
            return self._host_groups[gid]
        entry = self._container_files(container_id, pid, gid, 1).get(gid)
        return entry[0] if entry else None

    def _container_files(self, container_id: str, pid: int, wanted: int, which: int) -> _IdTable:
        now = time.monotonic()
        cached = self._files.get(container_id)
        if cached is not None:
            table = cached[which]
            if wanted in table or now - self._read_at[container_id] < self._refresh:
                return table
        root = f"/proc/{pid}/root/etc"
        users = _parse_colon_file(_read(f"{root}/passwd", 1 << 20))
        groups = _parse_colon_file(_read(f"{root}/group", 1 << 20))
        if not users and not groups:
            # Unreadable (the process is gone, or its root is not set up yet): keep what we
            # had, and ask again next time rather than remembering nothing.
            return cached[which] if cached is not None else {}
        self._files[container_id] = (users, groups)
        self._read_at[container_id] = now
        return (users, groups)[which]

    def forget(self, container_id: str) -> None:
        self._files.pop(container_id, None)
        self._read_at.pop(container_id, None)


# ---------------------------------------------------------------------------------------------
# The process table
# ---------------------------------------------------------------------------------------------


_INHERITED: Final = ("uid", "gid", "loginuid", "tty", "sid", "pgid", "vpgid")


def _inherit(info: ProcInfo, known: ProcInfo) -> ProcInfo:
    """A process reaped while its /proc was being read keeps, for what could not be read, what
    it had before its exec (an exec keeps credentials, terminal, session and group, a
    set-uid program aside) and, without its cgroup, the container it was forked in."""
    changes: dict[str, Any] = {
        name: getattr(known, name)
        for name in _INHERITED
        if getattr(info, name) is None and getattr(known, name) is not None
    }
    if info.cgroups is None and known.container_id != HOST:
        changes["container_id"] = known.container_id
        changes["container_full_id"] = known.container_full_id
        changes["container_type"] = known.container_type
    return replace(info, **changes) if changes else info


class ProcessTable:
    """pid -> ProcInfo for every live process, plus the recently exited ones (events about a
    process can be read after its exit). Only the sensor's reader thread writes it."""

    def __init__(self, *, with_env: bool = True, grace: float = 5.0) -> None:
        self.with_env = with_env
        self.boot_ns = boot_epoch_ns()
        self._procs: dict[int, ProcInfo] = {}
        self._exited: dict[int, float] = {}
        self._grace = grace
        self._upper: dict[str, str | None] = {}
        self.container_roots: dict[int, ContainerRoot] = {}
        """Device number of each container root overlay seen -> whose it is (see ``adopt``)."""
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._procs)

    def get(self, pid: int) -> ProcInfo | None:
        return self._procs.get(pid)

    def scan(self) -> None:
        """Snapshot every process now running (at start-up: their execs are long past)."""
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                info = read_process(int(entry.name), self.boot_ns, with_env=self.with_env)
                if info is not None:
                    self._procs[info.pid] = self._with_layers(info)

    def exec(self, pid: int) -> ProcInfo:
        """The process ``pid`` has just exec'd: read it now; what cannot be read any more is
        kept from what the table knew (its pid, parent and container at least)."""
        info = read_process(pid, self.boot_ns, with_env=self.with_env)
        known = self._procs.get(pid)
        if info is None:
            info = ProcInfo(pid, known.ppid if known else 0)
            if known is not None:
                info = replace(
                    info,
                    container_id=known.container_id,
                    container_full_id=known.container_full_id,
                    container_type=known.container_type,
                    uid=known.uid,
                    gid=known.gid,
                    loginuid=known.loginuid,
                    sid=known.sid,
                    tty=known.tty,
                )
        else:
            if known is not None and info.ppid == 0 and known.ppid:
                info = replace(info, ppid=known.ppid)
            if known is not None and not info.complete:
                info = _inherit(info, known)
        info = self._with_layers(info)
        self._procs[pid] = info
        self._exited.pop(pid, None)
        return info

    def fork(self, parent: int, child: int) -> None:
        """A new process: until it execs, it is a copy of its parent."""
        known = self._procs.get(parent)
        if known is None:
            known = ProcInfo(parent, 0)
        self._procs[child] = replace(known, pid=child, ppid=parent, complete=False)
        self._exited.pop(child, None)

    def exit(self, pid: int) -> None:
        if pid in self._procs:
            self._exited[pid] = time.monotonic()

    def reap(self) -> None:
        """Forget processes that exited more than ``grace`` seconds ago."""
        if not self._exited:
            return
        limit = time.monotonic() - self._grace
        for pid, when in list(self._exited.items()):
            if when < limit:
                del self._exited[pid]
                self._procs.pop(pid, None)

    def lookup(self, pid: int) -> ProcInfo | None:
        """The process, read from /proc when the table does not know it (it existed before the
        sensor started and was missed by the scan, or belongs to another pid namespace)."""
        info = self._procs.get(pid)
        if info is None:
            info = read_process(pid, self.boot_ns, with_env=self.with_env)
            if info is not None:
                info = self._with_layers(info)
                self._procs[pid] = info
        return info

    def adopt(self, pid: int, root: ContainerRoot) -> bool:
        """Put ``pid`` in the container whose root filesystem it was seen using, when the table
        has it on the host only for want of better: its exec could not be read (it was reaped
        first) or it has not exec'd since it was forked from a host process (a container
        runtime's child joins the container before its exec). True when it changed."""
        info = self._procs.get(pid)
        if info is None or info.complete or info.container_id != HOST:
            return False
        self._procs[pid] = replace(
            info,
            container_id=root.container_id,
            container_full_id=root.full_id,
            container_type=root.type,
        )
        return True

    def ancestors(self, info: ProcInfo) -> Iterator[ProcInfo]:
        """Parent first, up to the top of the known chain."""
        seen = {info.pid}
        pid = info.ppid
        for _ in range(MAX_ANCESTORS):
            if pid <= 0 or pid in seen:
                return
            parent = self._procs.get(pid)
            if parent is None:
                return
            yield parent
            seen.add(pid)
            pid = parent.ppid

    def pidns_init_start(self, info: ProcInfo, chain: list[ProcInfo]) -> int | None:
        """Start time of the init process of the process's pid namespace."""
        if not info.in_child_pidns:
            init = self._procs.get(1)
            return init.start_ns if init else None
        if info.vpid == 1:
            return info.start_ns
        for parent in chain:
            if parent.vpid == 1 and parent.in_child_pidns:
                return parent.start_ns
        return None

    # -- overlay layers ---------------------------------------------------------------------

    def _with_layers(self, info: ProcInfo) -> ProcInfo:
        """Add EXE_UPPER_LAYER / EXE_LOWER_LAYER for a process in a container on overlayfs."""
        if info.container_id == HOST or info.exepath is None or info.exe_flags & EXE_FROM_MEMFD:
            return info
        upper = self._upper_dir(info)
        if upper is None:
            return info
        flag = EXE_UPPER_LAYER if os.path.lexists(upper + info.exepath) else EXE_LOWER_LAYER
        return replace(info, exe_flags=info.exe_flags | flag)

    def _upper_dir(self, info: ProcInfo) -> str | None:
        cid = info.container_id
        if cid in self._upper:
            return self._upper[cid]
        data = _read(f"/proc/{info.pid}/mountinfo", 1 << 20)
        if data is None:
            return None
        upper = None
        for line in data.decode("utf-8", "replace").splitlines():
            overlay = parse_overlay_line(line)
            if overlay is None or overlay[1] != "/" or overlay[2] is None:
                continue
            upper = overlay[2]
            self.container_roots[overlay[0]] = ContainerRoot(
                cid, info.container_full_id, info.container_type, upper
            )
        self._upper[cid] = upper
        return upper
