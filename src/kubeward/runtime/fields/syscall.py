"""Fields of the ``syscall`` source: libsinsp's ``evt.*``, ``proc.*``, ``thread.*``, ``user.*``,
``group.*``, ``fd.*``, ``fs.path.*``, ``fdlist.*`` and the container plugin's ``container.*``
and ``k8s.*``, over a syscall event dict.

An event is a plain dict keyed by Falco field names whose values were extracted when the
event was captured (the live sensor reads /proc once; ``sysdig -j -p`` prints the same names).
A getter therefore first looks the field up under its own name, exactly as written
(``proc.aname[2]``, ``evt.arg.flags``), and only then derives it from other keys
(``proc.aname[2]`` from the ancestor list ``proc.aname``, ``fd.directory`` from ``fd.name``).
Timestamps are integers of nanoseconds since the epoch under ``evt.time``; ``evt.time`` the
field renders them the way libsinsp does.

Fields that take an argument store their whole table under the bare name: ``container.label``
and ``k8s.pod.label`` hold a dict, ``container.mount`` a list of
``(source, dest, mode, rdwr, propagation)`` tuples, ``proc.aname``/``proc.apid``/... the
ancestors from the parent up. Every field libsinsp and the container plugin define for
syscall events resolves, so rules load whatever fills the events; which of them the live
sensor fills is ``SENSOR_FIELDS`` (see docs/runtime-sensor.md).
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Final

from kubeward.runtime.fields.base import (
    Field,
    FieldSpec,
    Getter,
    MappedFieldRegistry,
    Multi,
    UnknownFieldError,
    decoder_key,
    mark_dict_key,
    mark_stored_first,
)

__all__ = [
    "ANY_OF_FIELDS",
    "CAPABILITIES",
    "SENSOR_ARGS",
    "SENSOR_FIELDS",
    "SOURCE",
    "SyscallFields",
    "UnknownFieldError",
    "capabilities_text",
    "field_type",
    "open_flags_text",
]

SOURCE: Final = "syscall"

# ---------------------------------------------------------------------------------------------
# What the condition compiler must know beyond a field's type
# ---------------------------------------------------------------------------------------------

ANY_OF_FIELDS: Final[Mapping[str, Multi]] = {
    "proc.aname": "any",
    "proc.apid": "any",
    "proc.aexe": "any",
    "proc.aexepath": "any",
    "proc.acmdline": "any",
    "proc.aenv": "any",
    "fd.ip": "either",
    "fd.port": "either",
    "fd.proto": "either",
    "fd.net": "either",
}
"""Fields that libsinsp compares value by value although they are not list fields
(``Field.multi``): their getters return a list and ``Field.type`` is the type of one value.
``any`` (sinsp_filter_check_thread's compare_full_a*): the comparison holds when it holds for
one ancestor, for every operator (``proc.aname != bash`` is true when some ancestor is not
bash). ``either`` (sinsp_filter_check_fd's compare_ip/compare_port/compare_net): client or
server side; ``=``/``in`` (and the ordering operators of ``fd.port``) hold when one side
matches, ``!=`` when neither does. Only the argument-less forms: ``proc.aname[2]`` is a plain
string. The values are stored under the field's own name as a list (``field_type`` says
``list``)."""

# ---------------------------------------------------------------------------------------------
# Value helpers shared with the sources
# ---------------------------------------------------------------------------------------------

CAPABILITIES: Final = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
"""Capability names by bit number, as libsinsp prints ``thread.cap_*``."""


@lru_cache(maxsize=256)
def capabilities_text(mask: int) -> str:
    """A capability bit mask as libsinsp prints it: names separated by spaces."""
    return " ".join(name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1)


# libsinsp's PPM_O_* encoding of open flags (evt.rawarg.flags), in the order it prints them.
_OPEN_FLAG_NAMES: Final = (
    (1 << 2, "O_CREAT"),
    (1 << 3, "O_APPEND"),
    (1 << 4, "O_DSYNC"),
    (1 << 5, "O_EXCL"),
    (1 << 6, "O_NONBLOCK"),
    (1 << 7, "O_SYNC"),
    (1 << 8, "O_TRUNC"),
    (1 << 9, "O_DIRECT"),
    (1 << 10, "O_DIRECTORY"),
    (1 << 11, "O_LARGEFILE"),
    (1 << 12, "O_CLOEXEC"),
    (1 << 13, "O_TMPFILE"),
)


def open_flags_text(ppm_flags: int) -> str:
    """PPM-encoded open flags as libsinsp renders ``evt.arg.flags``: ``O_RDONLY|O_CLOEXEC``."""
    names = []
    access = ppm_flags & 3
    if access == 3:
        names.append("O_RDWR")
    elif access == 2:
        names.append("O_WRONLY")
    elif access == 1:
        names.append("O_RDONLY")
    names.extend(name for bit, name in _OPEN_FLAG_NAMES if ppm_flags & bit)
    return "|".join(names) if names else "O_NONE"


# ---------------------------------------------------------------------------------------------
# Getter building blocks
# ---------------------------------------------------------------------------------------------

Derive = Callable[[dict[str, Any]], Any]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _get(ev: Any, key: str) -> Any:
    try:
        return ev.get(key)
    except AttributeError:  # not a dict: bad input is never an exception
        return None


def _written_first(written: str, derive: Callable[[Any], str | None]) -> Getter:
    """A field with an argument as text: stored under its written form when a source
    extracted it (``proc.env[HOME]``, as sysdig prints it), else ``derive``d from the
    whole field (``proc.env``)."""

    def getter(ev: Any) -> str | None:
        value = _get(ev, written)
        if value is not None:
            return str(value)
        return derive(ev)

    return getter


def _key(key: str) -> Getter:
    key = decoder_key(key)

    def getter(ev: Any) -> Any:
        try:
            return ev.get(key)
        except AttributeError:
            return None

    return mark_dict_key(getter, key)


def _list_key(key: str) -> Getter:
    """A multi field's values: the list stored under ``key``, else absent (a single value
    where a list is due, as ``sysdig -p %proc.aname`` prints it, is not the list)."""
    key = decoder_key(key)

    def getter(ev: Any) -> list[Any] | None:
        try:
            value = ev.get(key)
        except AttributeError:
            return None
        return value if type(value) is list else None

    return getter


def _keys(*keys: str) -> Getter:
    """The first of several spellings that is present (``evt.arg.flags`` / ``evt.arg[flags]``)."""
    keys = tuple(decoder_key(k) for k in keys)

    def getter(ev: Any) -> Any:
        try:
            for key in keys:
                value = ev.get(key)
                if value is not None:
                    return value
        except AttributeError:
            pass
        return None

    return mark_stored_first(getter, keys[0])


def _derived(key: str, derive: Derive) -> Getter:
    """The stored value, else one derived from other keys (never raising)."""
    key = decoder_key(key)

    def getter(ev: Any) -> Any:
        try:
            value = ev.get(key)
        except AttributeError:
            return None
        if value is not None:
            return value
        try:
            return derive(ev)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError):
            return None

    return mark_stored_first(getter, key)


Factory = Callable[[str | None], Getter]


def _plain(name: str) -> Factory:
    return lambda _arg: _key(name)


def _from(name: str, derive: Derive) -> Factory:
    return lambda _arg: _derived(name, derive)


def _const(value: Any) -> Factory:
    return lambda _arg: lambda _ev: value


# ---------------------------------------------------------------------------------------------
# evt.*
# ---------------------------------------------------------------------------------------------


def _zone_offset() -> int:
    """libsinsp's gmt2local: the local zone's offset in seconds, taken now."""
    now = time.time()
    local, gmt = time.localtime(now), time.gmtime(now)
    delta = (local.tm_hour - gmt.tm_hour) * 3600 + (local.tm_min - gmt.tm_min) * 60
    day = local.tm_year - gmt.tm_year or local.tm_yday - gmt.tm_yday
    return delta + day * 86400


def _ts(ev: dict[str, Any]) -> int | None:
    for key in ("evt.time", "evt.rawtime", "evt.outputtime"):
        value = ev.get(key)
        if type(value) is int:
            return value
    return None


def _ts_text(ts: int, date: bool, ns: bool) -> str:
    sec, nsec = divmod(ts, 1_000_000_000)
    local = sec + _zone_offset()
    s = local % 86400
    out = time.strftime("%Y-%m-%d ", time.gmtime(local - s)) if date else ""
    out += f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return out + f".{nsec:09d}" if ns else out


def _iso8601(ts: int) -> str:
    sec, nsec = divmod(ts, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{nsec:09d}Z"


def _time_factory(date: bool, ns: bool, key: str, iso: bool = False) -> Factory:
    def factory(_arg: str | None) -> Getter:
        def getter(ev: Any) -> str | None:
            try:
                value = ev.get(key)
                if type(value) is str:
                    return value
                ts = _ts(ev)
            except AttributeError:
                return None
            if ts is None:
                return None
            return _iso8601(ts) if iso else _ts_text(ts, date, ns)

        return getter

    return factory


def _rawtime(part: str) -> Factory:
    def derive(ev: dict[str, Any]) -> int | None:
        ts = _ts(ev)
        if ts is None:
            return None
        if part == "s":
            return ts // 1_000_000_000
        if part == "ns":
            return ts % 1_000_000_000
        return ts

    name = "evt.rawtime" + ("" if not part else "." + part)
    return _from(name, derive)


def _res_text(ev: dict[str, Any]) -> str | None:
    raw = ev.get("evt.rawres")
    if type(raw) is not int:
        return None
    if raw >= 0:
        return "SUCCESS"
    return errno.errorcode.get(-raw, str(raw))


def _failed(ev: dict[str, Any]) -> bool | None:
    raw = ev.get("evt.rawres")
    if type(raw) is int:
        return raw < 0
    res = ev.get("evt.res")
    if type(res) is str:
        return res != "SUCCESS" and res.startswith("E")
    return None


_IO_READ: Final = _words("read pread readv preadv recv recvfrom recvmsg recvmmsg")
_IO_WRITE: Final = _words("write pwrite writev pwritev send sendto sendmsg sendmmsg sendfile")
_WAIT: Final = _words("nanosleep clock_nanosleep select pselect6 poll ppoll epoll_wait")
_OPENS: Final = frozenset(("open", "openat", "openat2", "open_by_handle_at", "creat"))
_NOT_SYSCALLS: Final = frozenset(
    ("procexit", "switch", "container", "notification", "infra", "page_fault", "signaldeliver")
)


def _is_type(types: frozenset[str]) -> Derive:
    return lambda ev: ev.get("evt.type") in types


def _io_dir(ev: dict[str, Any]) -> str | None:
    kind = ev.get("evt.type")
    return "r" if kind in _IO_READ else "w" if kind in _IO_WRITE else None


def _open_mode(ev: dict[str, Any], write: bool) -> bool:
    """From the flags text when an event carries flags but not the verdict (sysdig -j)."""
    if ev.get("evt.type") not in _OPENS:
        return False
    flags = ev.get("evt.arg.flags")
    if type(flags) is not str:
        return False
    if "O_RDWR" in flags:
        return True
    return ("O_WRONLY" in flags) if write else ("O_RDONLY" in flags)


def _count(test: Derive) -> Derive:
    return lambda ev: 1 if test(ev) else 0


_hostname: str | None = None


def _local_hostname(_ev: dict[str, Any]) -> str:
    global _hostname  # noqa: PLW0603 - one lookup per process, on first use
    if _hostname is None:
        _hostname = socket.gethostname()
    return _hostname


def _syscall_type(ev: dict[str, Any]) -> str | None:
    kind = ev.get("evt.type")
    return None if kind is None or kind in _NOT_SYSCALLS else kind


_INT_RAWARGS: Final = _words(
    "res fd dirfd flags mode uid gid euid egid suid sgid pid tid ptid request domain type "
    "proto size dev ino sig cpu addr length prot offset backlog fd1 fd2 newdirfd olddirfd "
    "linkdirfd whence count status options"
)


def _arg_factory(prefix: str) -> Factory:
    """``evt.arg[N]``/``evt.arg.NAME`` (and ``evt.rawarg``): stored under either spelling."""

    def factory(arg: str | None) -> Getter:
        assert arg is not None  # the spec requires one
        if arg.isdigit():
            return _key(f"{prefix}[{arg}]")
        return _keys(f"{prefix}.{arg}", f"{prefix}[{arg}]")

    return factory


def _type_is_factory(arg: str | None) -> Getter:
    def getter(ev: Any) -> int | None:
        kind = _get(ev, "evt.type")
        return None if kind is None else int(kind == arg)

    return getter


def _abspath_factory(arg: str | None) -> Getter:
    if arg is None:
        return _key("evt.abspath")
    return _keys(f"evt.abspath.{arg}", f"evt.abspath[{arg}]")


def _evt_specs() -> Iterator[FieldSpec]:
    s = FieldSpec
    yield s("evt.num", "int", _plain("evt.num"))
    # The event holds nanoseconds under ``evt.time``; the field is text, as libsinsp's.
    yield s("evt.time", "string", _time_factory(False, True, "evt.time"))
    yield s("evt.time.s", "string", _time_factory(False, False, "evt.time.s"))
    yield s("evt.time.iso8601", "string", _time_factory(False, True, "evt.time.iso8601", True))
    yield s("evt.datetime", "string", _time_factory(True, True, "evt.datetime"))
    yield s("evt.datetime.s", "string", _time_factory(True, False, "evt.datetime.s"))
    yield s("evt.rawtime", "int", _rawtime(""))
    yield s("evt.rawtime.s", "int", _rawtime("s"))
    yield s("evt.rawtime.ns", "int", _rawtime("ns"))
    for name in ("evt.reltime", "evt.reltime.s", "evt.reltime.ns"):
        yield s(name, "int", _plain(name))
    yield s("evt.pluginname", "string", _plain("evt.pluginname"))
    yield s("evt.plugininfo", "string", _plain("evt.plugininfo"))
    yield s("evt.source", "string", _from("evt.source", lambda _ev: SOURCE))
    yield s("evt.is_async", "bool", _from("evt.is_async", lambda _ev: False))
    yield s("evt.asynctype", "string", _plain("evt.asynctype"))
    yield s("evt.hostname", "string", _from("evt.hostname", _local_hostname))
    for name in ("evt.latency", "evt.latency.s", "evt.latency.ns", "evt.latency.quantized"):
        yield s(name, "int", _plain(name))
    yield s("evt.latency.human", "string", _plain("evt.latency.human"))
    for name in ("evt.deltatime", "evt.deltatime.s", "evt.deltatime.ns"):
        yield s(name, "int", _plain(name))
    yield s("evt.outputtime", "string", _time_factory(False, True, "evt.outputtime"))
    yield s("evt.dir", "string", _from("evt.dir", lambda _ev: "<"))
    yield s("evt.type", "string", _plain("evt.type"))
    yield s("evt.type.is", "int", _type_is_factory, "key")
    yield s("syscall.type", "string", _from("syscall.type", _syscall_type))
    yield s("evt.category", "string", _plain("evt.category"))
    yield s("evt.cpu", "int", _plain("evt.cpu"))
    yield s("evt.args", "string", _from("evt.args", lambda ev: ev["evt.info"]))
    yield s("evt.arg", "string", _arg_factory("evt.arg"), "key")
    yield s("evt.rawarg", "string", _arg_factory("evt.rawarg"), "key")
    yield s("evt.info", "string", _from("evt.info", lambda ev: ev["evt.args"]))
    yield s("evt.buffer", "bytes", _plain("evt.buffer"))
    yield s("evt.buflen", "int", _from("evt.buflen", lambda ev: len(ev["evt.buffer"])))
    yield s("evt.res", "string", _from("evt.res", _res_text))
    yield s("evt.rawres", "int", _plain("evt.rawres"))
    yield s("evt.failed", "bool", _from("evt.failed", _failed))
    yield s("evt.is_io", "bool", _from("evt.is_io", _is_type(_IO_READ | _IO_WRITE)))
    yield s("evt.is_io_read", "bool", _from("evt.is_io_read", _is_type(_IO_READ)))
    yield s("evt.is_io_write", "bool", _from("evt.is_io_write", _is_type(_IO_WRITE)))
    yield s("evt.io_dir", "string", _from("evt.io_dir", _io_dir))
    yield s("evt.is_wait", "bool", _from("evt.is_wait", _is_type(_WAIT)))
    yield s("evt.wait_latency", "int", _plain("evt.wait_latency"))
    yield s("evt.is_syslog", "bool", _from("evt.is_syslog", lambda ev: False))
    yield s("evt.count", "int", _const(1))
    yield s("evt.count.error", "int", _from("evt.count.error", _count(_failed)))
    for name in ("file", "net", "memory", "other"):
        yield s(f"evt.count.error.{name}", "int", _plain(f"evt.count.error.{name}"))
    yield s("evt.count.exit", "int", _from("evt.count.exit", lambda ev: int(ev["evt.dir"] == "<")))
    yield s("evt.count.procinfo", "int", _plain("evt.count.procinfo"))
    yield s("evt.count.threadinfo", "int", _plain("evt.count.threadinfo"))
    yield s("evt.around", "int", _plain("evt.around"), "key")
    yield s("evt.abspath", "string", _abspath_factory)  # argument optional: _KEY_OPTIONAL
    for suffix in (".in", ".out", ".file", ".file.in", ".file.out", ".net", ".net.in", ".net.out"):
        yield s(f"evt.buflen{suffix}", "int", _plain(f"evt.buflen{suffix}"))
    yield s("evt.is_open_read", "bool", _from("evt.is_open_read", lambda ev: _open_mode(ev, False)))
    yield s(
        "evt.is_open_write", "bool", _from("evt.is_open_write", lambda ev: _open_mode(ev, True))
    )
    yield s("evt.is_open_exec", "bool", _plain("evt.is_open_exec"))
    yield s("evt.is_open_create", "bool", _plain("evt.is_open_create"))
    for name in ("name", "container.id", "container.name", "container.image"):
        yield s(f"evt.infra.docker.{name}", "string", _plain(f"evt.infra.docker.{name}"))


# ---------------------------------------------------------------------------------------------
# proc.* / thread.*
# ---------------------------------------------------------------------------------------------


def _ancestor_factory(name: str, self_key: str, parent_key: str) -> FieldSpec:
    """``proc.aname`` and friends: no argument, every ancestor (the list under ``name``);
    ``[0]`` the process itself, ``[1]`` the parent (or ``parent_key``), ``[N]`` further up."""

    def factory(arg: str | None) -> Getter:
        if arg is None:
            return _list_key(name)
        index = int(arg)
        written = f"{name}[{arg}]"
        if index == 0:
            return _keys(written, self_key)
        spellings = (written, parent_key) if index == 1 and parent_key else (written,)
        stored = _keys(*spellings)

        def getter(ev: Any) -> Any:
            value = stored(ev)
            if value is not None:
                return value
            chain = _get(ev, name)
            if type(chain) is list and index <= len(chain):
                return chain[index - 1]
            return None

        return getter

    return FieldSpec(name, "int" if name == "proc.apid" else "string", factory, "index")


def _first_ancestor(list_key: str) -> Derive:
    return lambda ev: ev[list_key][0]


def _exeline(ev: dict[str, Any]) -> str | None:
    exe, args = ev.get("proc.exe"), ev.get("proc.args")
    if exe is None:
        return None
    return f"{exe} {args}" if args else exe


def _cmdline(ev: dict[str, Any]) -> str | None:
    name, args = ev.get("proc.name"), ev.get("proc.args")
    if name is None:
        return None
    return f"{name} {args}" if args else name


_SHELLS: Final = frozenset(("ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash", "fish"))


def _loginshellid(ev: dict[str, Any]) -> int | None:
    """The pid of the eldest shell in the chain (the process itself included)."""
    names = [ev.get("proc.name"), *(ev.get("proc.aname") or ())]
    pids = [ev.get("proc.pid"), *(ev.get("proc.apid") or ())]
    found = None
    for name, pid in zip(names, pids, strict=False):
        if name in _SHELLS:
            found = pid
    return found


def _duration(start_key: str) -> Derive:
    def derive(ev: dict[str, Any]) -> int | None:
        start, now = ev.get(start_key), _ts(ev)
        if type(start) is not int or now is None:
            return None
        return max(now - start, 0)

    return derive


def _exe_ctime_since(start_key: str) -> Derive:
    def derive(ev: dict[str, Any]) -> int | None:
        start, ctime = ev.get(start_key), ev.get("proc.exe_ino.ctime")
        if type(start) is not int or type(ctime) is not int or start < ctime:
            return None
        return start - ctime

    return derive


def _same(a: str, b: str) -> Derive:
    def derive(ev: dict[str, Any]) -> bool | None:
        x, y = ev.get(a), ev.get(b)
        return None if x is None or y is None else x == y

    return derive


def _env_factory(arg: str | None) -> Getter:
    """``proc.env``: ``NAME=value NAME2=value2``; ``proc.env[NAME]`` one variable's value."""
    if arg is None:
        return _key("proc.env")

    def derive(ev: Any) -> str | None:
        env = _get(ev, "proc.env")
        if type(env) is not str:
            return None
        prefix = arg + "="
        for item in env.split(" "):
            if item.startswith(prefix):
                return item[len(prefix) :]
        return None

    return _written_first(f"proc.env[{arg}]", derive)


def _aenv_factory(arg: str | None) -> Getter:
    """``proc.aenv``: every ancestor's environment; ``[N]`` one level; ``[NAME]`` the first
    value of NAME met walking up (20 levels at most, as libsinsp)."""
    if arg is None:
        return _list_key("proc.aenv")
    level = int(arg) if arg.isdigit() else None

    def derive(ev: Any) -> str | None:
        chain = _get(ev, "proc.aenv")
        if level == 0:
            return _get(ev, "proc.env")  # type: ignore[no-any-return]
        if type(chain) is not list:
            return None
        if level is not None:
            return chain[level - 1] if level <= len(chain) else None
        prefix = arg + "="
        for env in chain[:20]:
            for item in str(env).split(" "):
                if item.startswith(prefix):
                    return item[len(prefix) :]
        return None

    return _written_first(f"proc.aenv[{arg}]", derive)


def _cgroup_factory(arg: str | None) -> Getter:
    """``thread.cgroup.SUBSYS``: the cgroup path for one controller, from ``thread.cgroups``."""
    assert arg is not None
    written = (f"thread.cgroup.{arg}", f"thread.cgroup[{arg}]")
    prefix = arg + "="

    def getter(ev: Any) -> str | None:
        for key in written:
            value = _get(ev, key)
            if value is not None:
                return str(value)
        groups = _get(ev, "thread.cgroups")
        if type(groups) is not str:
            return None
        for item in groups.split(" "):
            if item.startswith(prefix):
                return item[len(prefix) :]
        return None

    return getter


def _proc_specs() -> Iterator[FieldSpec]:
    s = FieldSpec
    yield s("proc.exe", "string", _plain("proc.exe"))
    yield s("proc.pexe", "string", _from("proc.pexe", _first_ancestor("proc.aexe")))
    yield _ancestor_factory("proc.aexe", "proc.exe", "proc.pexe")
    yield s("proc.exepath", "string", _plain("proc.exepath"))
    yield s("proc.pexepath", "string", _from("proc.pexepath", _first_ancestor("proc.aexepath")))
    yield _ancestor_factory("proc.aexepath", "proc.exepath", "proc.pexepath")
    yield s("proc.name", "string", _plain("proc.name"))
    yield s("proc.pname", "string", _from("proc.pname", _first_ancestor("proc.aname")))
    yield _ancestor_factory("proc.aname", "proc.name", "proc.pname")
    yield s("proc.args", "string", _plain("proc.args"))
    yield s("proc.cmdline", "string", _from("proc.cmdline", _cmdline))
    yield s("proc.pcmdline", "string", _from("proc.pcmdline", _first_ancestor("proc.acmdline")))
    yield _ancestor_factory("proc.acmdline", "proc.cmdline", "proc.pcmdline")
    yield s("proc.cmdnargs", "int", _plain("proc.cmdnargs"))
    yield s("proc.cmdlenargs", "int", _plain("proc.cmdlenargs"))
    yield s("proc.exeline", "string", _from("proc.exeline", _exeline))
    yield s("proc.env", "string", _env_factory)  # argument optional: _KEY_OPTIONAL
    yield s("proc.aenv", "string", _aenv_factory)
    yield s("proc.cwd", "string", _plain("proc.cwd"))
    yield s("proc.loginshellid", "int", _from("proc.loginshellid", _loginshellid))
    yield s("proc.tty", "int", _plain("proc.tty"))
    yield s("proc.pid", "int", _plain("proc.pid"))
    yield s("proc.ppid", "int", _from("proc.ppid", _first_ancestor("proc.apid")))
    yield _ancestor_factory("proc.apid", "proc.pid", "proc.ppid")
    for name in ("proc.vpid", "proc.pvpid", "proc.sid", "proc.vpgid"):
        yield s(name, "int", _plain(name))
    for name in ("proc.sname", "proc.sid.exe", "proc.sid.exepath"):
        yield s(name, "string", _plain(name))
    for name in ("proc.vpgid.name", "proc.vpgid.exe", "proc.vpgid.exepath"):
        yield s(name, "string", _plain(name))
    yield s("proc.duration", "int", _from("proc.duration", _duration("proc.pid.ts")))
    yield s("proc.ppid.duration", "int", _from("proc.ppid.duration", _duration("proc.ppid.ts")))
    yield s("proc.pid.ts", "int", _plain("proc.pid.ts"))
    yield s("proc.ppid.ts", "int", _plain("proc.ppid.ts"))
    for name in ("proc.is_exe_writable", "proc.is_exe_upper_layer", "proc.is_exe_from_memfd"):
        yield s(name, "bool", _plain(name))
    yield s(
        "proc.is_sid_leader", "bool", _from("proc.is_sid_leader", _same("proc.sid", "proc.vpid"))
    )
    yield s(
        "proc.is_vpgid_leader",
        "bool",
        _from("proc.is_vpgid_leader", _same("proc.vpgid", "proc.vpid")),
    )
    yield s("proc.exe_ino", "int", _plain("proc.exe_ino"))
    yield s("proc.exe_ino.ctime", "int", _plain("proc.exe_ino.ctime"))
    yield s("proc.exe_ino.mtime", "int", _plain("proc.exe_ino.mtime"))
    yield s(
        "proc.exe_ino.ctime_duration_proc_start",
        "int",
        _from("proc.exe_ino.ctime_duration_proc_start", _exe_ctime_since("proc.pid.ts")),
    )
    yield s(
        "proc.exe_ino.ctime_duration_pidns_start",
        "int",
        _from(
            "proc.exe_ino.ctime_duration_pidns_start",
            _exe_ctime_since("proc.pidns_init_start_ts"),
        ),
    )
    yield s("proc.pidns_init_start_ts", "int", _plain("proc.pidns_init_start_ts"))
    for kind in ("permitted", "inheritable", "effective"):
        yield s(f"thread.cap_{kind}", "string", _plain(f"thread.cap_{kind}"))
    for name in (
        "proc.is_container_healthcheck",
        "proc.is_container_liveness_probe",
        "proc.is_container_readiness_probe",
    ):
        yield s(name, "bool", _plain(name))
    yield s("proc.fdopencount", "int", _plain("proc.fdopencount"))
    yield s("proc.fdlimit", "int", _plain("proc.fdlimit"))
    yield s("proc.fdusage", "int", _plain("proc.fdusage"))
    for name in ("proc.vmsize", "proc.vmrss", "proc.vmswap", "thread.pfmajor", "thread.pfminor"):
        yield s(name, "int", _plain(name))
    yield s("thread.tid", "int", _from("thread.tid", lambda ev: ev["proc.pid"]))
    yield s("thread.ismain", "bool", _from("thread.ismain", _same("thread.tid", "proc.pid")))
    yield s("thread.vtid", "int", _plain("thread.vtid"))
    yield s("thread.nametid", "string", _plain("thread.nametid"))
    for name in ("thread.exectime", "thread.totexectime"):
        yield s(name, "int", _plain(name))
    yield s("thread.cgroups", "string", _plain("thread.cgroups"))
    yield s("thread.cgroup", "string", _cgroup_factory, "key")
    yield s("proc.nthreads", "int", _plain("proc.nthreads"))
    yield s("proc.nchilds", "int", _plain("proc.nchilds"))
    for name in ("thread.cpu", "thread.cpu.user", "thread.cpu.system"):
        yield s(name, "int", _plain(name))
    for name in ("thread.vmsize", "thread.vmrss", "thread.vmsize.b", "thread.vmrss.b"):
        yield s(name, "int", _plain(name))


# ---------------------------------------------------------------------------------------------
# user.* / group.*
# ---------------------------------------------------------------------------------------------


def _user_specs() -> Iterator[FieldSpec]:
    s = FieldSpec
    yield s("user.uid", "int", _plain("user.uid"))
    yield s("user.name", "string", _plain("user.name"))
    yield s("user.homedir", "string", _plain("user.homedir"))
    yield s("user.shell", "string", _plain("user.shell"))
    yield s("user.loginuid", "int", _plain("user.loginuid"))
    yield s("user.loginname", "string", _plain("user.loginname"))
    yield s("group.gid", "int", _plain("group.gid"))
    yield s("group.name", "string", _plain("group.name"))


# ---------------------------------------------------------------------------------------------
# fd.* / fs.path.* / fdlist.*
# ---------------------------------------------------------------------------------------------


def _directory(ev: dict[str, Any]) -> str | None:
    """libsinsp: the name up to the last ``/``; ``/`` when there is none or it is first."""
    if ev.get("fd.typechar") not in (None, "f", "d"):
        return None
    name = ev["fd.name"]
    if type(name) is not str or not name:
        return None
    if ev.get("fd.typechar") == "d":
        return name
    pos = name.rfind("/")
    if pos <= 0:
        return "/"
    return name[:pos] if pos < len(name) - 1 else name


def _filename(ev: dict[str, Any]) -> str | None:
    if ev.get("fd.typechar") not in (None, "f"):
        return None
    name = ev["fd.name"]
    if type(name) is not str or not name or name.endswith("/"):
        return None
    return name.rsplit("/", 1)[-1]


def _either_factory(name: str, client: str, server: str) -> Factory:
    """``fd.ip`` and friends: the list stored under ``name``, else the client and the server
    values that are known (a listening socket has only its own)."""

    def getter(ev: Any) -> list[Any] | None:
        try:
            value = ev.get(name)
            if type(value) is list:
                return value
            out = [v for v in (ev.get(client), ev.get(server)) if v is not None]
        except AttributeError:
            return None
        return out or None

    return lambda _arg: getter


def _chain(prefix_key: str, key: str) -> Derive:
    def derive(ev: dict[str, Any]) -> str | None:
        first, value = ev.get(prefix_key), ev.get(key)
        return None if first is None or value is None else f"{first}:{value}"

    return derive


def _container_dir(ev: dict[str, Any]) -> str | None:
    first, directory = ev.get("container.id"), _directory(ev)
    return None if first is None or directory is None else f"{first}:{directory}"


def _copy(key: str) -> Derive:
    return lambda ev: ev[key]


def _fd_uid(ev: dict[str, Any]) -> str | None:
    tid = ev.get("thread.tid", ev.get("proc.pid"))
    num = ev.get("fd.num")
    return None if tid is None or num is None else f"{tid}{num}"


def _dev_part(part: str) -> Derive:
    def derive(ev: dict[str, Any]) -> int | None:
        dev = ev.get("fd.dev")
        if type(dev) is not int:
            return None
        return dev >> 20 if part == "major" else dev & 0xFFFFF

    return derive


def _types_factory(arg: str | None) -> Getter:
    if arg is None:
        return _key("fd.types")
    return _key(f"fd.types[{arg}]")


def _fd_specs() -> Iterator[FieldSpec]:
    s = FieldSpec
    yield s("fd.num", "int", _plain("fd.num"))
    yield s("fd.type", "string", _plain("fd.type"))
    yield s("fd.typechar", "string", _plain("fd.typechar"))
    yield s("fd.name", "string", _plain("fd.name"))
    yield s("fd.directory", "string", _from("fd.directory", _directory))
    yield s("fd.filename", "string", _from("fd.filename", _filename))
    yield s("fd.ip", "ipaddr", _either_factory("fd.ip", "fd.cip", "fd.sip"))
    for side in ("c", "s", "l", "r"):
        yield s(f"fd.{side}ip", "ipaddr", _plain(f"fd.{side}ip"))
    yield s("fd.port", "int", _either_factory("fd.port", "fd.cport", "fd.sport"))
    for side in ("c", "s", "l", "r"):
        yield s(f"fd.{side}port", "int", _plain(f"fd.{side}port"))
    yield s("fd.l4proto", "string", _plain("fd.l4proto"))
    yield s("fd.sockfamily", "string", _plain("fd.sockfamily"))
    yield s("fd.is_server", "bool", _plain("fd.is_server"))
    yield s("fd.uid", "string", _from("fd.uid", _fd_uid))
    yield s(
        "fd.containername", "string", _from("fd.containername", _chain("container.id", "fd.name"))
    )
    yield s("fd.containerdirectory", "string", _from("fd.containerdirectory", _container_dir))
    yield s("fd.proto", "string", _either_factory("fd.proto", "fd.cproto", "fd.sproto"))
    for side in ("c", "s", "l", "r"):
        yield s(f"fd.{side}proto", "string", _plain(f"fd.{side}proto"))
    yield s("fd.net", "ipnet", _either_factory("fd.net", "fd.cip", "fd.sip"))
    for side in ("c", "s", "l", "r"):
        yield s(f"fd.{side}net", "ipnet", _from(f"fd.{side}net", _copy(f"fd.{side}ip")))
    yield s("fd.connected", "bool", _plain("fd.connected"))
    yield s("fd.name_changed", "bool", _plain("fd.name_changed"))
    for side in ("c", "s", "l", "r"):
        yield s(f"fd.{side}ip.name", "string", _plain(f"fd.{side}ip.name"))
    yield s("fd.dev", "int", _plain("fd.dev"))
    yield s("fd.dev.major", "int", _from("fd.dev.major", _dev_part("major")))
    yield s("fd.dev.minor", "int", _from("fd.dev.minor", _dev_part("minor")))
    yield s("fd.ino", "int", _plain("fd.ino"))
    yield s("fd.nameraw", "string", _plain("fd.nameraw"))
    yield s("fd.types", "list", _types_factory, "index")
    for name in ("name", "nameraw", "source", "sourceraw", "target", "targetraw"):
        yield s(f"fs.path.{name}", "string", _plain(f"fs.path.{name}"))
    for name in ("nums", "names", "cips", "sips", "cports", "sports"):
        yield s(f"fdlist.{name}", "string", _plain(f"fdlist.{name}"))


# ---------------------------------------------------------------------------------------------
# container.* / k8s.* (the container plugin)
# ---------------------------------------------------------------------------------------------

Mount = tuple[str, str, str, str, str]  # source, dest, mode, rdwr, propagation
_MOUNT_PARTS: Final = {"": None, "source": 0, "dest": 1, "mode": 2, "rdwr": 3, "propagation": 4}


def _mount_text(mount: Mount) -> str:
    return ":".join(mount)


def _mount_factory(part: str) -> Factory:
    """``container.mount[N|glob]`` and its ``.source``/``.dest``/... parts. A number picks the
    Nth mount; a path picks the first mount whose source (for ``.source``: destination)
    matches it as a glob. No such mount: ``none``, as the plugin answers."""
    position = _MOUNT_PARTS[part]
    name = "container.mount" + (f".{part}" if part else "")

    def factory(arg: str | None) -> Getter:
        assert arg is not None
        index = int(arg) if arg.isdigit() else None
        match_on = 1 if part == "source" else 0

        def derive(ev: Any) -> str | None:
            mounts = _get(ev, "container.mount")
            if type(mounts) is not list:
                return None
            found: Mount | None = None
            if index is not None:
                found = mounts[index] if index < len(mounts) else None
            else:
                found = next((m for m in mounts if fnmatchcase(m[match_on], arg)), None)
            if found is None:
                return "none"
            return _mount_text(found) if position is None else found[position]

        return _written_first(f"{name}[{arg}]", derive)

    return factory


def _mounts_text(ev: dict[str, Any]) -> str | None:
    mounts = ev["container.mount"]
    if type(mounts) is not list:
        return None
    return " ".join(_mount_text(m) for m in mounts)


def _label_factory(table: str) -> Factory:
    """``container.label[KEY]`` / ``container.label.KEY`` from the dict under ``table``."""

    def factory(arg: str | None) -> Getter:
        assert arg is not None
        spellings = (f"{table}.{arg}", f"{table}[{arg}]")

        def getter(ev: Any) -> str | None:
            for key in spellings:
                value = _get(ev, key)
                if value is not None:
                    return str(value)
            labels = _get(ev, table)
            if type(labels) is not dict:
                return None
            value = labels.get(arg)
            return None if value is None else str(value)

        return getter

    return factory


def _labels_text(table: str) -> Derive:
    def derive(ev: dict[str, Any]) -> str | None:
        labels = ev[table]
        if type(labels) is not dict or not labels:
            return None
        return ",".join(f"{k}:{v}" for k, v in labels.items())

    return derive


def _container_specs() -> Iterator[FieldSpec]:
    s = FieldSpec
    for name in (
        "container.id",
        "container.full_id",
        "container.name",
        "container.image",
        "container.image.id",
        "container.type",
        "container.image.repository",
        "container.image.tag",
        "container.image.digest",
        "container.healthcheck",
        "container.liveness_probe",
        "container.readiness_probe",
        "container.ip",
        "container.cni.json",
    ):
        yield s(name, "string", _plain(name))
    yield s("container.privileged", "bool", _plain("container.privileged"))
    yield s("container.mounts", "string", _from("container.mounts", _mounts_text))
    for part in _MOUNT_PARTS:
        yield s(
            "container.mount" + (f".{part}" if part else ""), "string", _mount_factory(part), "key"
        )
    yield s("container.start_ts", "int", _plain("container.start_ts"))
    yield s(
        "container.duration", "int", _from("container.duration", _duration("container.start_ts"))
    )
    for name in ("container.host_pid", "container.host_network", "container.host_ipc"):
        yield s(name, "bool", _plain(name))
    yield s("container.label", "string", _label_factory("container.label"), "key")
    yield s(
        "container.labels", "string", _from("container.labels", _labels_text("container.label"))
    )
    for name in (
        "k8s.pod.name",
        "k8s.ns.name",
        "k8s.pod.uid",
        "k8s.pod.sandbox_id",
        "k8s.pod.full_sandbox_id",
        "k8s.pod.ip",
        "k8s.pod.cni.json",
    ):
        yield s(name, "string", _plain(name))
    yield s("k8s.pod.id", "string", _from("k8s.pod.id", lambda ev: ev["k8s.pod.uid"]))
    yield s("k8s.pod.label", "string", _label_factory("k8s.pod.label"), "key")
    yield s("k8s.pod.labels", "string", _from("k8s.pod.labels", _labels_text("k8s.pod.label")))
    # Deprecated in the container plugin (which answers nothing for them); they still resolve so
    # that older rules load.
    for kind in ("rc", "svc", "rs", "deployment"):
        yield s(f"k8s.{kind}.name", "string", _plain(f"k8s.{kind}.name"))
        yield s(f"k8s.{kind}.id", "string", _plain(f"k8s.{kind}.id"))
        yield s(f"k8s.{kind}.label", "string", _label_factory(f"k8s.{kind}.label"), "key")
        yield s(
            f"k8s.{kind}.labels",
            "string",
            _from(f"k8s.{kind}.labels", _labels_text(f"k8s.{kind}.label")),
        )
    yield s("k8s.ns.id", "string", _plain("k8s.ns.id"))
    yield s("k8s.ns.label", "string", _label_factory("k8s.ns.label"), "key")
    yield s("k8s.ns.labels", "string", _from("k8s.ns.labels", _labels_text("k8s.ns.label")))


# ---------------------------------------------------------------------------------------------
# What the live sensor fills
# ---------------------------------------------------------------------------------------------

SENSOR_FIELDS: Final = _words(
    # evt.*: from the netlink connector, fanotify and /proc/net, or derived from those
    "evt.num evt.time evt.time.s evt.time.iso8601 evt.datetime evt.datetime.s evt.rawtime "
    "evt.rawtime.s evt.rawtime.ns evt.source evt.is_async evt.hostname evt.dir evt.type "
    "evt.type.is syscall.type evt.category evt.args evt.info evt.arg evt.rawarg evt.res "
    "evt.rawres evt.failed evt.is_io evt.is_io_read evt.is_io_write evt.io_dir evt.is_wait "
    "evt.is_syslog evt.count evt.count.error evt.count.exit evt.is_open_read "
    "evt.is_open_write "
    # proc.* / thread.*: /proc/PID read on exec, ancestors from the sensor's process table
    "proc.exe proc.pexe proc.aexe proc.exepath proc.pexepath proc.aexepath proc.name "
    "proc.pname proc.aname proc.args proc.cmdline proc.pcmdline proc.acmdline "
    "proc.cmdnargs proc.cmdlenargs proc.exeline proc.env proc.aenv proc.cwd "
    "proc.loginshellid proc.tty proc.pid proc.ppid proc.apid proc.vpid proc.pvpid proc.sid "
    "proc.sname proc.vpgid proc.vpgid.name proc.duration proc.ppid.duration proc.pid.ts "
    "proc.ppid.ts proc.is_exe_writable proc.is_exe_upper_layer proc.is_exe_from_memfd "
    "proc.is_sid_leader proc.is_vpgid_leader proc.exe_ino proc.exe_ino.ctime "
    "proc.exe_ino.mtime proc.exe_ino.ctime_duration_proc_start "
    "proc.exe_ino.ctime_duration_pidns_start proc.pidns_init_start_ts thread.cap_permitted "
    "thread.cap_inheritable thread.cap_effective proc.vmsize proc.vmrss proc.vmswap "
    "thread.pfmajor thread.pfminor thread.tid thread.ismain thread.vtid thread.cgroups "
    "thread.cgroup proc.nthreads proc.nchilds thread.vmsize thread.vmrss "
    # user.* / group.*: ids from /proc/PID/status, names from the host's or the container's
    # passwd and group files
    "user.uid user.name user.homedir user.shell user.loginuid user.loginname group.gid "
    "group.name "
    # fd.*: fanotify (files) and /proc/net (sockets)
    "fd.num fd.type fd.typechar fd.name fd.directory fd.filename fd.ip fd.cip fd.sip fd.lip "
    "fd.rip fd.port fd.cport fd.sport fd.lport fd.rport fd.l4proto fd.sockfamily "
    "fd.is_server fd.uid fd.containername fd.containerdirectory fd.proto fd.cproto "
    "fd.sproto fd.lproto fd.rproto fd.net fd.cnet fd.snet fd.lnet fd.rnet fd.connected "
    "fd.name_changed fd.dev fd.dev.major fd.dev.minor fd.ino fd.nameraw "
    # container.* / k8s.*: the cgroup always; the rest when the runtime can be asked
    "container.id container.full_id container.name container.image container.image.id "
    "container.type container.image.repository container.image.tag container.image.digest "
    "container.healthcheck container.ip container.privileged container.mounts "
    "container.mount container.mount.source container.mount.dest container.mount.mode "
    "container.mount.rdwr container.mount.propagation container.start_ts "
    "container.duration container.host_pid container.host_network container.host_ipc "
    "container.label container.labels k8s.pod.name k8s.ns.name k8s.pod.id k8s.pod.uid "
    "k8s.pod.sandbox_id k8s.pod.full_sandbox_id k8s.pod.label k8s.pod.labels"
)
"""Field names (without argument) that the live sensor can fill; every other field resolves
but stays absent in its events (docs/runtime-sensor.md says why for each group)."""

SENSOR_ARGS: Final = _words(
    "res exe args tid pid ptid cwd comm flags fd dirfd name tuple status ret sig"
)
"""The ``evt.arg.*`` / ``evt.rawarg.*`` the sensor's execve, openat, connect, accept, listen,
clone and procexit events carry."""

# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------

# ``evt.arg.flags`` is ``evt.arg[flags]``: the fields whose argument may follow a dot.
_DOTTED: Final = (
    "evt.arg",
    "evt.rawarg",
    "evt.type.is",
    "evt.abspath",
    "thread.cgroup",
    "container.label",
    "k8s.pod.label",
    "k8s.rc.label",
    "k8s.svc.label",
    "k8s.rs.label",
    "k8s.deployment.label",
    "k8s.ns.label",
)
_KEY_OPTIONAL: Final = frozenset(("evt.abspath", "proc.env", "proc.aenv"))
_ABSPATH_ARGS: Final = frozenset(("src", "dst"))


def _specs() -> Iterator[FieldSpec]:
    for group in (_evt_specs, _proc_specs, _user_specs, _fd_specs, _container_specs):
        for spec in group():
            multi = ANY_OF_FIELDS.get(spec.name)
            yield spec if multi is None else replace(spec, multi=multi)


class SyscallFields(MappedFieldRegistry):
    """Every field libsinsp and the container plugin define for syscall events.

    Arguments are checked as libsinsp checks them: an index must be a decimal number
    (``proc.aname[2]``), a key is required where libsinsp requires one (``evt.arg``,
    ``container.label``) and may follow a dot (``evt.arg.flags``, ``k8s.pod.label.app``).
    """

    def __init__(self) -> None:
        super().__init__(SOURCE, _specs())
        self._local: dict[tuple[str, str | None], Field] = {}

    def resolve(self, name: str, arg: str | None) -> Field:
        key = (name, arg)
        cached = self._local.get(key)
        if cached is not None:
            return cached
        field = self._resolve(name, arg)
        self._local[key] = field
        return field

    def _resolve(self, name: str, arg: str | None) -> Field:
        if name in _KEY_OPTIONAL:
            return self._key_optional(name, arg, f"{name}[{arg}]" if arg is not None else name)
        if name not in self and arg is None:
            for prefix in _DOTTED:
                if name.startswith(prefix + ".") and len(name) > len(prefix) + 1:
                    dotted = name[len(prefix) + 1 :]
                    if prefix in _KEY_OPTIONAL:
                        return self._key_optional(prefix, dotted, name)
                    field = super().resolve(prefix, dotted)
                    return Field(name, _arg_type(prefix, dotted, field.type), field.getter)
        field = super().resolve(name, arg)
        if arg is not None and name == "evt.rawarg":
            return Field(field.name, _arg_type(name, arg, field.type), field.getter)
        return field

    def _key_optional(self, name: str, arg: str | None, display: str) -> Field:
        spec = self._specs[name]
        if name == "evt.abspath" and arg is not None and arg not in _ABSPATH_ARGS:
            raise UnknownFieldError(display, f"field '{name}' accepts only 'src' or 'dst'")
        if arg == "":
            raise UnknownFieldError(display, f"field '{name}' requires a non-empty argument")
        return Field(display, spec.type, spec.factory(arg), spec.multi if arg is None else "")

    def fills(self, name: str, arg: str | None = None) -> bool:
        """Whether the live sensor can fill the field as written (``evt.arg.flags`` or
        ``evt.arg``/``flags``, ``proc.aname``/``2``)."""
        for prefix in ("evt.arg", "evt.rawarg"):
            if name.startswith(prefix + ".") and arg is None:
                name, arg = prefix, name[len(prefix) + 1 :]
        if name in ("evt.arg", "evt.rawarg"):
            return arg in SENSOR_ARGS
        return name in SENSOR_FIELDS


def _arg_type(prefix: str, arg: str, default: str) -> str:
    """A raw argument's type depends on the argument."""
    if prefix == "evt.rawarg":
        return "int" if arg in _INT_RAWARGS else "string"
    return default


def field_type(registry: SyscallFields, name: str) -> str | None:
    """The declared type of a stored key (``proc.aname[2]``, ``evt.arg.flags``), for sources
    that normalise values they read as text; None when it names no field."""
    base, _, rest = name.partition("[")
    try:
        field = registry.resolve(base, rest[:-1] if rest.endswith("]") else None)
    except UnknownFieldError:
        return None
    return "list" if field.multi else field.type
