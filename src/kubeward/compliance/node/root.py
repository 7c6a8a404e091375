"""A node's filesystem and processes, read under a root directory (`--root`, "/" on a node).

Every benchmark check reads the node through this one class so that tests run against a
fake node (a directory with `proc/<pid>/cmdline`, `etc/kubernetes/...`) and so that nothing
a benchmark names can read outside the root: paths are resolved like a chroot would
(absolute symlinks are taken relative to the root, `..` never climbs above it), and no
command from a definition is ever executed (see kubebench.py for how audits are emulated).
"""

from __future__ import annotations

import os
import re
import stat as stat_module
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

MAX_READ_BYTES = 4 * 1024 * 1024  # config files, manifests, kubeconfigs: never larger
_MAX_SYMLINKS = 40  # as Linux's ELOOP limit
_ID = re.compile(r"[0-9]{1,10}")  # a pid, uid or gid: ASCII digits (str.isdigit takes "²")


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    argv: tuple[str, ...]  # from /proc/PID/cmdline; argv[0] as the process gave it

    @property
    def name(self) -> str:
        """The program name: basename of argv[0] (what `ps -ef | grep kubelet` finds)."""
        return PurePosixPath(self.argv[0]).name if self.argv else ""

    @property
    def command_line(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True, slots=True)
class FileStat:
    path: str  # the node path asked for ("/etc/kubernetes/admin.conf")
    mode: int  # permission bits only (0o600)
    uid: int
    gid: int
    owner: str  # user name from the root's /etc/passwd, else the uid as text
    group: str
    is_dir: bool

    @property
    def permissions(self) -> str:
        """As `stat -c %a` prints them: "600", "644", "1777"."""
        return format(self.mode, "o")


class NodeRoot:
    """Read-only view of a node under `root`."""

    def __init__(self, root: str | Path = "/") -> None:
        self.root = Path(root).resolve()

    # -- paths ----------------------------------------------------------------------------

    def resolve(self, node_path: str) -> Path | None:
        """The host path of `node_path` with symlinks followed inside the root; None if it
        does not exist, loops, or is not absolute."""
        if not node_path.startswith("/") or "\0" in node_path:
            return None  # a NUL cannot be in a path (os calls would raise ValueError)
        parts = [p for p in node_path.split("/") if p and p != "."]
        current: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if current:
                    current.pop()
                continue
            host = self.root.joinpath(*current, part)
            try:
                st = os.lstat(host)
            except OSError:
                return None
            if stat_module.S_ISLNK(st.st_mode):
                hops += 1
                if hops > _MAX_SYMLINKS:
                    return None
                try:
                    target = os.readlink(host)
                except OSError:
                    return None
                if target.startswith("/"):
                    current = []
                parts[:0] = [p for p in target.split("/") if p and p != "."]
                continue
            current.append(part)
        return self.root.joinpath(*current)

    def exists(self, node_path: str) -> bool:
        return self.resolve(node_path) is not None

    def read_text(self, node_path: str, limit: int = MAX_READ_BYTES) -> str | None:
        """The file's text (UTF-8, undecodable bytes replaced); None if absent, not a
        regular file, unreadable or larger than `limit`."""
        host = self.resolve(node_path)
        if host is None:
            return None
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below)
            fd = os.open(host, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError:
            return None
        try:
            with open(fd, "rb") as handle:
                if not stat_module.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    return None
                data = handle.read(limit + 1)
        except OSError:
            return None
        if len(data) > limit:
            return None
        return data.decode("utf-8", "replace")

    def stat(self, node_path: str) -> FileStat | None:
        host = self.resolve(node_path)
        if host is None:
            return None
        try:
            st = os.stat(host)
        except OSError:
            return None
        return FileStat(
            path=node_path,
            mode=stat_module.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            owner=self._users.get(st.st_uid, str(st.st_uid)),
            group=self._groups.get(st.st_gid, str(st.st_gid)),
            is_dir=stat_module.S_ISDIR(st.st_mode),
        )

    def is_symlink(self, node_path: str) -> bool:
        """Whether the last component of `node_path` is itself a symlink (its parents are
        followed inside the root): `find` and `test -L` in emulated audits must not follow
        it, or a link to a parent directory would loop."""
        parent, _, name = node_path.rstrip("/").rpartition("/")
        if not node_path.startswith("/") or name in ("", ".", ".."):
            return False
        host_parent = self.resolve(parent or "/")
        return host_parent is not None and os.path.islink(host_parent / name)

    def list_dir(self, node_path: str) -> list[str]:
        """Names in a directory, sorted; [] if it is absent or unreadable."""
        host = self.resolve(node_path)
        if host is None:
            return []
        try:
            return sorted(os.listdir(host))
        except OSError:
            return []

    # -- processes ------------------------------------------------------------------------

    @cached_property
    def processes(self) -> tuple[Process, ...]:
        """Every process with a non-empty /proc/PID/cmdline under the root, by pid."""
        found = []
        for name in self.list_dir("/proc"):
            if not _ID.fullmatch(name):
                continue
            raw = self.read_text(f"/proc/{name}/cmdline", limit=256 * 1024)
            if not raw:
                continue
            argv = tuple(arg for arg in raw.split("\0") if arg)
            if argv:
                found.append(Process(int(name), argv))
        found.sort(key=lambda p: p.pid)
        return tuple(found)

    # -- users ----------------------------------------------------------------------------

    @cached_property
    def _users(self) -> dict[int, str]:
        return self._id_names("/etc/passwd")

    @cached_property
    def _groups(self) -> dict[int, str]:
        return self._id_names("/etc/group")

    def _id_names(self, node_path: str) -> dict[int, str]:
        """uid/gid -> name from the root's passwd/group file; 0 is always root (a fake node
        without /etc/passwd still shows root:root, other ids as numbers)."""
        names: dict[int, str] = {0: "root"}
        text = self.read_text(node_path) or ""
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and _ID.fullmatch(fields[2]):
                names.setdefault(int(fields[2]), fields[0])
        return names
