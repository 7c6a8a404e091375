"""The live syscall-style sensor: process, file and network events from a running Linux host with
no kernel module, as ``("syscall", event)`` pairs keyed by Falco's field names.

Three kernel interfaces, read by two threads:

- the netlink process connector (fork, exec, exit), read with fanotify by one thread that
  always drains the connector before it handles file events, so that an open is never seen
  before the exec of the process that made it;
- fanotify (opens, closes and executions on whole filesystems: the ``mounts`` given, plus
  every overlay filesystem a container runtime mounts while the sensor runs);
- /proc/PID/net, polled by a second thread, for new TCP and connected UDP sockets.

Events go into a bounded queue; a reader never waits for the consumer: when the queue is full
the event is dropped and counted (``dropped``). The consumer side (iteration) adds container
metadata from the runtime, a lookup that may block and is cached. docs/runtime-sensor.md lists
which event types and fields come out and what the sensor cannot see.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import queue
import select
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from types import TracebackType
from typing import Any, Final

from kubeward.errors import KubewardError
from kubeward.runtime.fields.syscall import SOURCE, capabilities_text, open_flags_text
from kubeward.runtime.sources.sensor_container import ContainerResolver
from kubeward.runtime.sources.sensor_fanotify import (
    FAN_CLOSE_NOWRITE,
    FAN_CLOSE_WRITE,
    FAN_OPEN,
    FAN_OPEN_EXEC,
    Fanotify,
    FileEvent,
)
from kubeward.runtime.sources.sensor_netlink import (
    PROC_EVENT_EXEC,
    PROC_EVENT_EXIT,
    PROC_EVENT_FORK,
    ProcConnector,
    ProcEvent,
)
from kubeward.runtime.sources.sensor_procfs import (
    EXE_FROM_MEMFD,
    EXE_UPPER_LAYER,
    EXE_WRITABLE,
    HOST,
    ProcessTable,
    ProcInfo,
    UserNames,
    exe_flags_text,
    parse_overlay_line,
)
from kubeward.runtime.sources.sensor_procnet import Connection, ConnectionPoller, service_name

__all__ = [
    "DEFAULT_ENABLE",
    "EVENT_KINDS",
    "FD_UNKNOWN",
    "Sensor",
    "SensorError",
]

log = logging.getLogger(__name__)

EVENT_KINDS: Final = frozenset(("exec", "fork", "exit", "file", "net"))
"""What ``enable`` may name: execve, clone, procexit, openat (files), connect/accept/listen."""
DEFAULT_ENABLE: Final = frozenset(("exec", "file", "net"))

FD_UNKNOWN: Final = 2**31 - 1
"""``fd.num`` of an open the kernel reported as successful (fanotify reports no other) whose
descriptor number the sensor could not see: the process had closed it already. It is above
any real descriptor (the kernel caps them below 2**31 - 64) and, like one, ``>= 0``."""

PENDING_SECONDS: Final = 0.5
"""An open whose access mode is unknown waits this long for its close to tell it."""
DEDUPE_SECONDS: Final = 0.2
"""The same open reported by an overlay and by the filesystem under it within this window is
one open."""
_MAX_OPENS: Final = 4096
"""Recent opens remembered for pairing an overlay's report with its twin, before pruning."""
NET_INTERVAL: Final = 0.5

_PPM_ACCESS: Final = {os.O_RDONLY: 1, os.O_WRONLY: 2, os.O_RDWR: 3}
_KERNEL_TO_PPM: Final = (
    (os.O_APPEND, 1 << 3),
    (os.O_DSYNC, 1 << 4),
    (os.O_NONBLOCK, 1 << 6),
    (os.O_SYNC & ~os.O_DSYNC, 1 << 7),
    (getattr(os, "O_DIRECT", 0o40000), 1 << 9),
    (os.O_DIRECTORY, 1 << 10),
    (os.O_CLOEXEC, 1 << 12),
)


class SensorError(KubewardError):
    """The sensor cannot run here: not root, or the kernel lacks what it needs."""


def _ppm_flags(kernel_flags: int) -> int:
    """Kernel open flags (from /proc/PID/fdinfo) in libsinsp's PPM encoding. O_CREAT, O_EXCL
    and O_TRUNC are not kept by the kernel after the open, so never appear."""
    out = _PPM_ACCESS.get(kernel_flags & os.O_ACCMODE, 0)
    for kernel, ppm in _KERNEL_TO_PPM:
        if kernel and kernel_flags & kernel == kernel:
            out |= ppm
    return out


def _kernel_dev(dev: int) -> int:
    """A userspace ``st_dev`` in the kernel's encoding (major << 20 | minor), as fd.dev."""
    return os.major(dev) << 20 | os.minor(dev)


class Sensor:
    """Live events from this host, as ``("syscall", event)``.

    ``mounts``: paths whose filesystems fanotify watches; ``containers``: also watch every
    overlay filesystem mounted (container root filesystems); ``enable``: a subset of
    ``EVENT_KINDS``; ``queue_size``: events held for the consumer before new ones are dropped;
    ``docker_host``: the Docker socket for container names and images (default DOCKER_HOST or
    /var/run/docker.sock); ``with_env``: read each process's environment (``proc.env``).

    Use as a context manager, then iterate (blocks until the next event) or call ``poll``.
    """

    def __init__(
        self,
        mounts: Sequence[str] = ("/",),
        enable: Collection[str] = DEFAULT_ENABLE,
        *,
        containers: bool = True,
        queue_size: int = 65536,
        docker_host: str | None = None,
        resolve_containers: bool = True,
        with_env: bool = True,
        net_interval: float = NET_INTERVAL,
    ) -> None:
        unknown = set(enable) - EVENT_KINDS
        if unknown:
            raise SensorError(
                f"unknown sensor event kind(s): {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(EVENT_KINDS))})"
            )
        self.mounts = tuple(mounts)
        self.enable = frozenset(enable)
        self.watch_containers = containers
        self.net_interval = net_interval
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max(1, queue_size))
        self._resolver = ContainerResolver(docker_host) if resolve_containers else None
        self._table = ProcessTable(with_env=with_env)
        self._users = UserNames()
        self._fields: dict[int, tuple[ProcInfo, dict[str, Any]]] = {}
        self._counter = itertools.count(1)
        self._drop_lock = threading.Lock()
        self._proc_lock = threading.RLock()
        self._dropped = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connector: ProcConnector | None = None
        self._fanotify: Fanotify | None = None
        self._mountinfo: Any = None
        self._marked: set[str] = set()
        self._pending: dict[tuple[int, str], tuple[float, FileEvent, int]] = {}
        self._opens: dict[tuple[int, str], tuple[frozenset[int | None], float]] = {}
        self._overlays: dict[int, tuple[str, str | None]] = {}  # st_dev -> (mount point, upper)
        self._clock_offset = time.time_ns() - time.monotonic_ns()
        self._started = False
        self.errors = 0

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Sensor:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Open the kernel interfaces (raising SensorError with one clear line) and start."""
        if self._started:
            return
        if os.geteuid() != 0:
            raise SensorError(
                "the live sensor needs root: the netlink process connector and fanotify are "
                "privileged (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
            )
        try:
            self._connector = ProcConnector()
        except OSError as exc:
            raise _connector_error(exc) from None
        try:
            if "file" in self.enable:
                self._open_fanotify()
        except SensorError:
            self._connector.close()
            raise
        self._table.scan()
        self._started = True
        self._threads.append(
            threading.Thread(target=self._proc_loop, name="kubeward-sensor-proc", daemon=True)
        )
        if self._fanotify is not None:
            self._threads.append(
                threading.Thread(target=self._file_loop, name="kubeward-sensor-file", daemon=True)
            )
        if "net" in self.enable:
            net = threading.Thread(target=self._net_loop, name="kubeward-sensor-net", daemon=True)
            self._threads.append(net)
        for thread in self._threads:
            thread.start()

    def _open_fanotify(self) -> None:
        try:
            self._fanotify = Fanotify()
        except OSError as exc:
            raise _fanotify_error(exc) from None
        try:
            for path in self.mounts:
                self._mark(path, required=True)
            if self.watch_containers:
                self._mountinfo = open("/proc/self/mountinfo", "rb")  # noqa: SIM115 - kept open to poll
                self._mark_overlays()
        except (SensorError, OSError):
            self._fanotify.close()
            self._fanotify = None
            if self._mountinfo is not None:
                self._mountinfo.close()
                self._mountinfo = None
            raise

    def close(self) -> None:
        """Stop the readers, close every descriptor; events already queued stay readable."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        for resource in (self._connector, self._fanotify, self._mountinfo):
            if resource is not None:
                resource.close()
        self._connector = self._fanotify = self._mountinfo = None

    # -- consumer side ----------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Events lost: the queue was full (the consumer was too slow), or the kernel overran
        the connector's buffer or fanotify's queue."""
        kernel = 0
        if self._connector is not None:
            kernel += self._connector.overruns
        if self._fanotify is not None:
            kernel += self._fanotify.overflows
        return self._dropped + kernel

    def stats(self) -> dict[str, int]:
        return {
            "queued": self._queue.qsize(),
            "dropped": self.dropped,
            "dropped_queue_full": self._dropped,
            "processes": len(self._table),
            "errors": self.errors,
            "container_lookups": self._resolver.lookups if self._resolver else 0,
        }

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return self

    def __next__(self) -> tuple[str, dict[str, Any]]:
        while True:
            item = self.poll(0.2)
            if item is not None:
                return item
            if self._stop.is_set() and self._queue.empty():
                raise StopIteration

    def poll(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None:
        """The next event, or None after ``timeout`` seconds without one."""
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        self._enrich(event)
        return SOURCE, event

    def _enrich(self, event: dict[str, Any]) -> None:
        cid = event.get("container.id")
        if self._resolver is None or cid is None or cid == HOST:
            return
        meta = self._resolver.metadata(cid, event.get("container.full_id"))
        if meta:
            event.update(meta)

    # -- producer side ----------------------------------------------------------------------

    def _emit(self, event: dict[str, Any]) -> None:
        event["evt.num"] = next(self._counter)
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._drop_lock:
                self._dropped += 1

    def _proc_loop(self) -> None:
        """The connector's own thread: an exec is read from /proc as soon as it is reported,
        whatever the file thread is busy with (a short process lives a millisecond)."""
        assert self._connector is not None
        with contextlib.suppress(OSError):
            # Ahead of busy processes, for the same reason.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
        poller = select.poll()
        poller.register(self._connector.fileno(), select.POLLIN)
        last_reap = time.monotonic()
        while not self._stop.is_set():
            try:
                if poller.poll(100):
                    self._drain_connector()
                if time.monotonic() - last_reap > 1.0:
                    with self._proc_lock:
                        self._table.reap()
                        self._forget_fields()
                    last_reap = time.monotonic()
            except Exception:  # a reader must outlive one bad event
                self.errors += 1
                log.exception("sensor process reader error")

    def _file_loop(self) -> None:
        assert self._fanotify is not None
        poller = select.poll()
        poller.register(self._fanotify.fileno(), select.POLLIN)
        if self._mountinfo is not None:
            poller.register(self._mountinfo.fileno(), select.POLLPRI | select.POLLERR)
        while not self._stop.is_set():
            try:
                ready = {fd for fd, _mask in poller.poll(100)}
                if self._mountinfo is not None and self._mountinfo.fileno() in ready:
                    self._mark_overlays()
                if self._fanotify.fileno() in ready:
                    self._drain_fanotify()
                self._flush_pending(time.monotonic())
            except Exception:
                self.errors += 1
                log.exception("sensor file reader error")

    def _drain_connector(self) -> None:
        """Handle every queued connector message, in order, in whichever thread asks (the
        file thread drains too before it handles a batch, so that no open is handled before
        the exec of its process)."""
        assert self._connector is not None
        with self._proc_lock:
            for event in self._connector.drain():
                try:
                    self._on_proc_event(event)
                except Exception:
                    self.errors += 1
                    log.exception("sensor: bad process event")

    def _on_proc_event(self, event: ProcEvent) -> None:
        if event.what == PROC_EVENT_FORK:
            if event.pid != event.tgid:
                return  # a new thread, not a process
            self._table.fork(event.parent_tgid, event.tgid)
            self._fields.pop(event.tgid, None)
            if "fork" in self.enable:
                self._emit_fork(event)
        elif event.what == PROC_EVENT_EXEC:
            info = self._table.exec(event.tgid)
            self._fields.pop(event.tgid, None)
            if self._resolver is not None and info.container_id != HOST:
                self._resolver.prefetch(info.container_id, info.container_full_id)
            if "exec" in self.enable:
                self._emit_exec(info, event)
        elif event.what == PROC_EVENT_EXIT:
            if event.pid != event.tgid:
                return
            if "exit" in self.enable:
                self._emit_exit(event)
            self._table.exit(event.tgid)

    def _forget_fields(self) -> None:
        for pid in [pid for pid in self._fields if self._table.get(pid) is None]:
            del self._fields[pid]

    def _epoch(self, monotonic_ns: int) -> int:
        return monotonic_ns + self._clock_offset

    # -- process fields ---------------------------------------------------------------------

    def _process_fields(self, pid: int) -> dict[str, Any] | None:
        """The process's fields, built once per snapshot. The cache entry is checked against
        the table's current snapshot: the file thread may finish building fields from a
        snapshot that the process thread has just replaced (an exec, a move into a
        container), and must not leave them cached for the new program."""
        info = self._table.lookup(pid)
        if info is None:
            return None
        cached = self._fields.get(pid)
        if cached is not None and cached[0] is info:
            return cached[1]
        fields = self._build_fields(info)
        self._fields[pid] = (info, fields)
        return fields

    def _build_fields(self, info: ProcInfo) -> dict[str, Any]:
        table = self._table
        chain = list(table.ancestors(info))
        parent = chain[0] if chain else None
        args = info.args
        cid = info.container_id
        user = self._users.user(info.uid, cid, info.pid)
        login = (
            self._users.user(info.loginuid, HOST, info.pid)
            if info.loginuid not in (None, -1)
            else None
        )
        pidns_start = table.pidns_init_start(info, chain)
        session = _leader(info, chain, info.sid, "sid")
        group_leader = _leader(info, chain, info.pgid, "pgid")
        fields: dict[str, Any] = {
            "proc.pid": info.pid,
            "thread.tid": info.pid,
            "thread.ismain": True,
            "proc.ppid": info.ppid,
            "proc.name": info.name,
            "proc.exe": info.exe,
            "proc.exepath": info.exepath,
            "proc.args": " ".join(args) if args is not None else None,
            "proc.cmdline": info.cmdline,
            "proc.cmdnargs": len(args) if args is not None else None,
            "proc.cmdlenargs": sum(len(a) for a in args) if args is not None else None,
            "proc.cwd": _dir_slash(info.cwd),
            "proc.env": info.env,
            "proc.tty": info.tty,
            "proc.sid": info.sid,
            "proc.vpid": info.vpid,
            "thread.vtid": info.vpid,
            "proc.vpgid": info.vpgid,
            "proc.pvpid": parent.vpid if parent else None,
            "proc.pid.ts": info.start_ns,
            "proc.ppid.ts": parent.start_ns if parent else None,
            "proc.aname": [p.name for p in chain],
            "proc.apid": [p.pid for p in chain],
            "proc.aexe": [p.exe for p in chain],
            "proc.aexepath": [p.exepath for p in chain],
            "proc.acmdline": [p.cmdline for p in chain],
            "proc.aenv": [p.env for p in chain],
            "proc.pname": parent.name if parent else None,
            "proc.pexe": parent.exe if parent else None,
            "proc.pexepath": parent.exepath if parent else None,
            "proc.pcmdline": parent.cmdline if parent else None,
            "proc.sname": session.name if session else None,
            "proc.sid.exe": session.exe if session else None,
            "proc.sid.exepath": session.exepath if session else None,
            "proc.vpgid.name": group_leader.name if group_leader else None,
            "proc.vpgid.exe": group_leader.exe if group_leader else None,
            "proc.vpgid.exepath": group_leader.exepath if group_leader else None,
            "proc.is_exe_writable": bool(info.exe_flags & EXE_WRITABLE),
            "proc.is_exe_upper_layer": bool(info.exe_flags & EXE_UPPER_LAYER),
            "proc.is_exe_from_memfd": bool(info.exe_flags & EXE_FROM_MEMFD),
            "proc.exe_ino": info.exe_ino,
            "proc.exe_ino.ctime": info.exe_ctime,
            "proc.exe_ino.mtime": info.exe_mtime,
            "proc.pidns_init_start_ts": pidns_start,
            "proc.vmsize": info.vmsize,
            "proc.vmrss": info.vmrss,
            "proc.vmswap": info.vmswap,
            "thread.vmsize": info.vmsize,
            "thread.vmrss": info.vmrss,
            "thread.pfmajor": info.pfmajor,
            "thread.pfminor": info.pfminor,
            "proc.nthreads": info.nthreads,
            "proc.nchilds": info.nthreads - 1 if info.nthreads else None,
            "thread.cgroups": info.cgroups,
            "user.uid": info.uid,
            "user.name": user[0] if user else None,
            "user.homedir": user[1] if user else None,
            "user.shell": user[2] if user else None,
            "user.loginuid": info.loginuid,
            "user.loginname": login[0] if login else None,
            "group.gid": info.gid,
            "group.name": self._users.group(info.gid, cid, info.pid),
            "container.id": cid,
        }
        for kind in ("permitted", "inheritable", "effective"):
            mask = getattr(info, f"cap_{kind}")
            fields[f"thread.cap_{kind}"] = capabilities_text(mask) if mask is not None else None
        if cid == HOST:
            fields["container.name"] = HOST
        else:
            fields["container.full_id"] = info.container_full_id
            fields["container.type"] = info.container_type
            fields["container.start_ts"] = pidns_start
        return fields

    # -- process events ---------------------------------------------------------------------

    def _emit_exec(self, info: ProcInfo, event: ProcEvent) -> None:
        fields = self._process_fields(info.pid)
        if fields is None:
            return
        ev = dict(fields)
        args = ev["proc.args"] or ""
        flags = exe_flags_text(info.exe_flags)
        ev.update(
            {
                "evt.type": "execve",
                "evt.dir": "<",
                "evt.category": "process",
                "evt.time": self._epoch(event.timestamp_ns),
                "evt.rawres": 0,
                "evt.res": "SUCCESS",
                "evt.arg.res": "0",
                "evt.arg.exe": info.exe,
                "evt.arg.args": args,
                "evt.arg.tid": info.pid,
                "evt.arg.pid": info.pid,
                "evt.arg.ptid": info.ppid,
                "evt.arg.cwd": info.cwd,
                "evt.arg.comm": info.name,
                "evt.arg.flags": flags,
                "evt.rawarg.flags": info.exe_flags,
                "evt.args": (
                    f"res=0 exe={info.exe} args={args} tid={info.pid}({info.name}) "
                    f"pid={info.pid}({info.name}) ptid={info.ppid}({ev['proc.pname']}) "
                    f"cwd={info.cwd} comm={info.name} flags={info.exe_flags}({flags or ''})"
                ),
            }
        )
        self._emit(ev)

    def _emit_for(self, pid: int, event_fields: dict[str, Any]) -> None:
        """An event of process ``pid``: its process fields, then ``event_fields`` (nothing
        when the process is unknown and cannot be read)."""
        fields = self._process_fields(pid)
        if fields is not None:
            self._emit({**fields, **event_fields})

    def _emit_fork(self, event: ProcEvent) -> None:
        self._emit_for(
            event.parent_tgid,
            {
                "evt.type": "clone",
                "evt.dir": "<",
                "evt.category": "process",
                "evt.time": self._epoch(event.timestamp_ns),
                "evt.rawres": event.tgid,
                "evt.res": "SUCCESS",
                "evt.arg.res": str(event.tgid),
                "evt.args": f"res={event.tgid}",
            },
        )

    def _emit_exit(self, event: ProcEvent) -> None:
        self._emit_for(
            event.tgid,
            {
                "evt.type": "procexit",
                "evt.dir": ">",
                "evt.category": "process",
                "evt.time": self._epoch(event.timestamp_ns),
                "evt.arg.status": event.exit_code,
                "evt.rawarg.status": event.exit_code,
                "evt.arg.ret": event.exit_code >> 8,
                "evt.arg.sig": event.exit_code & 0x7F,
                "evt.args": f"status={event.exit_code}",
            },
        )

    # -- file events ------------------------------------------------------------------------

    def _mark(self, path: str, *, required: bool) -> None:
        assert self._fanotify is not None
        try:
            self._fanotify.mark(path)
        except OSError as exc:
            if required:
                raise SensorError(f"fanotify cannot watch {path}: {exc.strerror}") from None
            log.debug("fanotify cannot watch %s: %s", path, exc.strerror)
            return
        self._marked.add(path)

    def _mark_overlays(self) -> None:
        """Watch each overlay filesystem (a container's root) mounted since the last look."""
        if self._mountinfo is None:
            return
        self._mountinfo.seek(0)
        current = set()
        overlays: dict[int, tuple[str, str | None]] = {}
        for line in self._mountinfo.read().decode("utf-8", "replace").splitlines():
            overlay = parse_overlay_line(line)
            if overlay is None:
                continue
            dev, point, upper = overlay
            overlays[dev] = (point, upper)
            current.add(point)
            if point not in self._marked:
                self._mark(point, required=False)
        self._overlays = overlays
        self._marked = {p for p in self._marked if p in current or p in self.mounts}

    def _drain_fanotify(self) -> None:
        assert self._fanotify is not None
        batch = list(self._fanotify.read(os.getpid()))
        # Every exec that happened before these opens is in the connector's queue by now.
        self._drain_connector()
        now = time.monotonic()
        for record in batch:
            try:
                self._on_file(record, now)
            except Exception:
                self.errors += 1
                log.exception("sensor: bad file event")

    def _twin(self, record: FileEvent, path: str, now: float) -> bool:
        """True for the second report of one open. An open through an overlay is reported for
        the overlay and for the file under it: same process and path, another device, in
        either order, each possibly merged with its close by the kernel. A later open from a
        device already counted is a new open (a program opening a file twice)."""
        key = (record.pid, path)
        seen = self._opens.get(key)
        if seen is not None and now - seen[1] < DEDUPE_SECONDS and record.dev not in seen[0]:
            self._opens[key] = (seen[0] | {record.dev}, seen[1])
            return True
        self._opens[key] = (frozenset((record.dev,)), now)
        if len(self._opens) > _MAX_OPENS:
            self._opens = {k: v for k, v in self._opens.items() if now - v[1] < DEDUPE_SECONDS}
        return False

    def _adopt(self, record: FileEvent, path: str) -> None:
        """A process the table places on the host that uses a container's root filesystem
        from inside (the path is the one the container sees) is in that container: its exec
        was reaped before /proc could be read, or it is a runtime's child about to exec
        there. The root is known by device number and upper directory, so an overlay that
        took over the number of a removed container's is not mistaken for it."""
        assert record.dev is not None
        root = self._table.container_roots.get(record.dev)
        if root is None:
            return
        overlay = self._overlays.get(record.dev)
        if overlay is None or overlay[1] != root.upperdir or path.startswith(overlay[0] + "/"):
            return
        with self._proc_lock:
            if self._table.adopt(record.pid, root):
                self._fields.pop(record.pid, None)

    def _on_file(self, record: FileEvent, now: float) -> None:
        if record.path is None or not record.path.startswith("/"):
            return
        path = record.path.removesuffix(" (deleted)")
        if record.dev is not None and record.dev in self._overlays:
            self._adopt(record, path)
        mask = record.mask
        key = (record.pid, path)
        opened = bool(mask & FAN_OPEN) and not mask & FAN_OPEN_EXEC
        if opened and self._twin(record, path, now):
            opened = False  # counted already; a close merged into it still counts below
        if opened:
            if mask & (FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE):
                self._emit_open(
                    record, path, fd=None, kernel_flags=None, close_mask=mask, ts=time.time_ns()
                )
            else:
                # Most opens are closed within milliseconds and their close tells the access
                # mode; only a file still open later is looked up in /proc/PID/fd.
                self._pending[key] = (now, record, time.time_ns())
            return
        if mask & (FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE):
            pending = self._pending.pop(key, None)
            if pending is not None:
                self._emit_open(
                    pending[1], path, fd=None, kernel_flags=None, close_mask=mask, ts=pending[2]
                )

    def _flush_pending(self, now: float) -> None:
        """Opens still not closed: the descriptor is looked up in the process (exact number
        and flags); if it cannot be found the access mode is reported unknown."""
        if not self._pending:
            return
        for key, (when, record, ts) in list(self._pending.items()):
            if now - when > PENDING_SECONDS:
                del self._pending[key]
                found = _find_fd(record.pid, key[1])
                self._emit_open(
                    record,
                    key[1],
                    fd=found[0] if found else None,
                    kernel_flags=found[1] if found else None,
                    close_mask=0,
                    ts=ts,
                )

    def _emit_open(
        self,
        record: FileEvent,
        path: str,
        *,
        fd: int | None,
        kernel_flags: int | None,
        close_mask: int,
        ts: int,
    ) -> None:
        if "file" not in self.enable:
            return
        fields = self._process_fields(record.pid)
        ev: dict[str, Any] = {"proc.pid": record.pid, "thread.tid": record.pid}
        if fields is not None:
            ev = dict(fields)
        read: bool | None
        write: bool | None
        ppm: int | None = None
        if kernel_flags is not None:
            ppm = _ppm_flags(kernel_flags)
            read, write = bool(ppm & 1), bool(ppm & 2)
        elif close_mask & FAN_CLOSE_WRITE:
            read, write = None, True  # opened for writing; whether also for reading is unknown
        elif close_mask & FAN_CLOSE_NOWRITE:
            read, write, ppm = True, False, 1  # closed without write access: O_RDONLY
        else:
            read = write = None
        num = fd if fd is not None else FD_UNKNOWN
        directory, filename = _split_path(path)
        flags_text = open_flags_text(ppm) if ppm is not None else None
        ev.update(
            {
                "evt.type": "openat",
                "evt.dir": "<",
                "evt.category": "file",
                "evt.time": ts,
                "evt.rawres": num,
                "evt.res": "SUCCESS",
                "evt.is_open_read": read,
                "evt.is_open_write": write,
                "fd.num": num,
                "fd.type": "file",
                "fd.typechar": "f",
                "fd.name": path,
                "fd.nameraw": path,
                "fd.directory": directory,
                "fd.filename": filename,
                "fd.dev": _kernel_dev(record.dev) if record.dev is not None else None,
                "fd.ino": record.ino,
                "evt.arg.fd": f"{num}(<f>{path})",
                "evt.arg.dirfd": "-100(AT_FDCWD)",
                "evt.arg.name": path,
                "evt.arg.flags": flags_text,
                "evt.rawarg.flags": ppm,
                "evt.args": (
                    f"fd={num}(<f>{path}) dirfd=-100(AT_FDCWD) name={path} "
                    f"flags={ppm if ppm is not None else ''}({flags_text or ''})"
                ),
            }
        )
        cid = ev.get("container.id")
        if cid is not None:
            ev["fd.containername"] = f"{cid}:{path}"
            ev["fd.containerdirectory"] = f"{cid}:{directory}"
        ev["fd.uid"] = f"{record.pid}{num}"
        self._emit(ev)

    # -- network events ---------------------------------------------------------------------

    def _net_loop(self) -> None:
        poller = ConnectionPoller()
        while not self._stop.wait(self.net_interval):
            try:
                pids = [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()]
                for connection in poller.poll(pids):
                    self._emit_connection(connection)
            except Exception:
                self.errors += 1
                log.exception("sensor network poller error")

    def _emit_connection(self, connection: Connection) -> None:
        s = connection.socket
        ev: dict[str, Any] = {}
        if connection.pid is not None:
            fields = self._process_fields(connection.pid)
            if fields is not None:
                ev.update(fields)
        ev.setdefault("user.uid", s.uid)
        (lip, lport), (rip, rport) = s.local, s.remote
        client: tuple[str | None, int | None]
        server: tuple[str | None, int | None]
        if connection.kind == "accept":
            client, server = (rip, rport), (lip, lport)
        elif connection.kind == "connect":
            client, server = (lip, lport), (rip, rport)
        else:
            client, server = (None, None), (lip, lport)
        if connection.kind == "listen":
            name = f"{lip}:{lport}"
        else:
            name = f"{client[0]}:{client[1]}->{server[0]}:{server[1]}"
        num = connection.fd if connection.fd is not None else FD_UNKNOWN
        in_progress = connection.kind == "connect" and s.state == "02"
        rawres = num if connection.kind == "accept" else (-errno.EINPROGRESS if in_progress else 0)
        ev.update(
            {
                "evt.type": connection.kind,
                "evt.dir": "<",
                "evt.category": "net",
                "evt.time": time.time_ns(),
                "evt.rawres": rawres,
                "evt.res": "EINPROGRESS" if in_progress else "SUCCESS",
                "fd.num": num,
                "fd.type": f"ipv{s.family}",
                "fd.typechar": str(s.family),
                "fd.sockfamily": "ip",
                "fd.l4proto": s.proto,
                "fd.name": name,
                "fd.cip": client[0],
                "fd.cport": client[1],
                "fd.sip": server[0],
                "fd.sport": server[1],
                "fd.lip": lip,
                "fd.lport": lport,
                "fd.rip": rip if connection.kind != "listen" else None,
                "fd.rport": rport if connection.kind != "listen" else None,
                "fd.cproto": service_name(client[1], s.proto) if client[1] else None,
                "fd.sproto": service_name(server[1], s.proto) if server[1] else None,
                "fd.lproto": service_name(lport, s.proto) if lport else None,
                "fd.rproto": service_name(rport, s.proto)
                if rport and connection.kind != "listen"
                else None,
                "fd.is_server": connection.kind != "connect",
                "fd.connected": connection.kind != "listen",
                "fd.name_changed": False,
                "evt.arg.fd": f"{num}(<{s.family}t>{name})"
                if s.proto == "tcp"
                else f"{num}(<{s.family}u>{name})",
                "evt.arg.tuple": name,
                "evt.args": f"fd={num} tuple={name}",
            }
        )
        pid = ev.get("proc.pid")
        ev["fd.uid"] = f"{pid}{num}" if pid is not None else None
        self._emit(ev)


def _leader(info: ProcInfo, chain: list[ProcInfo], ident: int | None, attr: str) -> ProcInfo | None:
    """The session (or process group) leader: the process whose pid is the id, else the
    eldest ancestor sharing it, as libsinsp finds ``proc.sname``."""
    if ident is None:
        return None
    if info.pid == ident:
        return info
    found: ProcInfo | None = info
    for parent in chain:
        if parent.pid == ident:
            return parent
        if getattr(parent, attr) != ident:
            break
        found = parent
    return found


def _dir_slash(path: str | None) -> str | None:
    """libsinsp keeps ``proc.cwd`` with a trailing slash."""
    if path is None or path.endswith("/"):
        return path
    return path + "/"


def _split_path(path: str) -> tuple[str, str]:
    pos = path.rfind("/")
    if pos <= 0:
        return "/", path[pos + 1 :]
    return path[:pos], path[pos + 1 :]


def _find_fd(pid: int, path: str) -> tuple[int, int] | None:
    """``(fd, kernel flags)`` of the descriptor of ``pid`` open on ``path`` (the most recent
    one), when the process still holds it."""
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return None
    found = None
    for name in names[:4096]:
        try:
            if os.readlink(f"{base}/{name}") == path:
                number = int(name)
                if found is None or number > found:
                    found = number
        except (OSError, ValueError):
            continue
    if found is None:
        return None
    try:
        with open(f"/proc/{pid}/fdinfo/{found}", "rb") as f:
            for line in f.read(4096).splitlines():
                if line.startswith(b"flags:"):
                    return found, int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _connector_error(exc: OSError) -> SensorError:
    if exc.errno in (errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT, errno.ENOENT):
        return SensorError(
            "this kernel has no netlink process connector (CONFIG_CONNECTOR and "
            f"CONFIG_PROC_EVENTS): {exc.strerror}"
        )
    if exc.errno in (errno.EPERM, errno.EACCES):
        return SensorError(
            "the netlink process connector refused to subscribe: the sensor needs root "
            f"(CAP_NET_ADMIN): {exc.strerror}"
        )
    return SensorError(f"cannot open the netlink process connector: {exc.strerror or exc}")


def _fanotify_error(exc: OSError) -> SensorError:
    if exc.errno == errno.ENOSYS:
        return SensorError(
            "this kernel has no fanotify (CONFIG_FANOTIFY): file events are unavailable"
        )
    if exc.errno in (errno.EPERM, errno.EACCES):
        return SensorError(f"fanotify needs root (CAP_SYS_ADMIN): {exc.strerror}")
    if exc.errno == errno.EINVAL:
        return SensorError(f"this kernel's fanotify lacks a needed feature: {exc.strerror}")
    return SensorError(f"cannot start fanotify: {exc.strerror or exc}")
