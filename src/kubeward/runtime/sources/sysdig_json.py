"""Syscall events from ``sysdig -r FILE -j`` output (JSON lines), for offline analysis of
existing capture files with the same rules and field names as the live sensor.

Each line is one JSON object whose keys are field names as sysdig prints them, so the best
input names the fields the rules need: ``sysdig -r FILE -j -p "$(kubeward's sysdig_format())"``
(``SYSDIG_FIELDS``; the leading ``*`` makes sysdig print every event, not only those with all
fields). Plain ``-j`` gives ``evt.num``, ``evt.outputtime``, ``evt.cpu``, ``evt.dir``,
``evt.type``, ``proc.name``, ``thread.tid`` and ``evt.info``; the arguments in ``evt.info`` are
parsed for ``evt.arg.*``, ``evt.res``, ``fd.*`` and, for execve, the process ids, name and
working directory.

Values are normalised to the field types (numbers for numeric fields, booleans for boolean
ones; times stay nanoseconds under ``evt.time``; ``null`` means absent). Enter events
(``evt.dir`` ``>``) are skipped by default, as Falco has evaluated rules on exit events only
since libs 0.20. A malformed line is a warning, never an exception.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final

import orjson

from kubeward.runtime.fields.syscall import SOURCE, SyscallFields, field_type

__all__ = [
    "MAX_LINE_BYTES",
    "SOURCE",
    "SYSDIG_FIELDS",
    "events_from_lines",
    "normalize_event",
    "read_sysdig_json",
    "run_sysdig",
    "sysdig_format",
]

MAX_LINE_BYTES: Final = 16 * 1024 * 1024
MAX_WARNINGS: Final = 100
"""A file of garbage gives this many warnings and a count, not one per line."""

SYSDIG_FIELDS: Final = (
    "evt.num",
    "evt.time",
    "evt.type",
    "evt.dir",
    "evt.category",
    "evt.args",
    "evt.res",
    "evt.rawres",
    "evt.is_open_read",
    "evt.is_open_write",
    "evt.arg.flags",
    "evt.arg.name",
    "evt.arg.path",
    "evt.arg.filename",
    "evt.arg.oldpath",
    "evt.arg.newpath",
    "evt.arg.target",
    "evt.arg.linkpath",
    "evt.arg.request",
    "evt.arg.domain",
    "evt.arg.uid",
    "evt.arg.mode",
    "evt.arg.cmd",
    "evt.arg.fd",
    "proc.pid",
    "proc.ppid",
    "proc.name",
    "proc.exe",
    "proc.exepath",
    "proc.args",
    "proc.cmdline",
    "proc.pname",
    "proc.pcmdline",
    "proc.aname[1]",
    "proc.aname[2]",
    "proc.aname[3]",
    "proc.aname[4]",
    "proc.aname[5]",
    "proc.aname[6]",
    "proc.aname[7]",
    "proc.cwd",
    "proc.tty",
    "proc.sid",
    "proc.vpid",
    "proc.duration",
    "proc.env",
    "thread.tid",
    "user.uid",
    "user.name",
    "user.loginuid",
    "user.loginname",
    "group.gid",
    "group.name",
    "fd.num",
    "fd.type",
    "fd.typechar",
    "fd.name",
    "fd.directory",
    "fd.filename",
    "fd.nameraw",
    "fd.cip",
    "fd.sip",
    "fd.lip",
    "fd.rip",
    "fd.cport",
    "fd.sport",
    "fd.lport",
    "fd.rport",
    "fd.l4proto",
    "fd.sockfamily",
    "fd.is_server",
    "fd.connected",
    "container.id",
    "container.name",
    "container.image",
    "container.image.repository",
    "container.privileged",
    "k8s.ns.name",
    "k8s.pod.name",
)
"""Fields worth asking sysdig for: those Falco's rules read that a capture file can hold."""

_TIME_KEYS: Final = frozenset(
    ("evt.time", "evt.time.s", "evt.datetime", "evt.datetime.s", "evt.outputtime", "evt.rawtime")
)
_ANCESTOR_LISTS: Final = frozenset(
    ("proc.aname", "proc.apid", "proc.aexe", "proc.aexepath", "proc.acmdline", "proc.aenv")
)
_INFO_PARAM = re.compile(r"(?:^| )([a-z_][a-z0-9_]*)=")
_RAW_AND_TEXT = re.compile(r"(-?[0-9]+)\((.*)\)\Z", re.DOTALL)
_FD_TEXT = re.compile(r"<([a-z0-9]+)>(.*)\Z", re.DOTALL)
_TUPLE = re.compile(r"(.+):([0-9]+)->(.+):([0-9]+)\Z")
_OPENS: Final = frozenset(("open", "openat", "openat2", "creat", "open_by_handle_at"))
_EXECS: Final = frozenset(("execve", "execveat"))
_FD_TYPES: Final = {
    "f": "file",
    "d": "directory",
    "4": "ipv4",
    "6": "ipv6",
    "u": "unix",
    "p": "pipe",
    "e": "event",
    "s": "signalfd",
    "l": "eventpoll",
    "i": "inotify",
    "t": "timerfd",
    "n": "netlink",
    "m": "memfd",
}


def sysdig_format(fields: Sequence[str] = SYSDIG_FIELDS) -> str:
    """The ``-p`` argument that makes sysdig print ``fields`` for every event."""
    return "*" + " ".join(f"%{name}" for name in fields)


class _Types:
    """Field types by key, resolved once per key."""

    def __init__(self) -> None:
        self._registry = SyscallFields()
        self._types: dict[str, str | None] = {}

    def __call__(self, key: str) -> str | None:
        try:
            return self._types[key]
        except KeyError:
            found = field_type(self._registry, key)
            self._types[key] = found
            return found


def _to_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is bool:
        return int(value)
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str:
        text = value.strip()
        try:
            return int(text, 0) if text.lower().startswith(("0x", "-0x")) else int(text)
        except ValueError:
            return None
    return None


def _coerce(value: Any, type_: str | None) -> Any:
    """A JSON value as the field's type holds it; None when it cannot be."""
    if type_ is None or type_ in ("string", "ipaddr", "ipnet"):
        if type(value) is str:
            return value
        if type(value) in (int, float, bool) and type_ is not None:
            return "true" if value is True else "false" if value is False else str(value)
        return value
    if type_ == "int":
        return _to_int(value)
    if type_ == "bool":
        if type(value) is bool:
            return value
        if value in ("true", "1", 1):
            return True
        if value in ("false", "0", 0):
            return False
        return None
    if type_ == "list":
        return value if type(value) is list else None
    if type_ == "bytes":
        return value.encode("utf-8", "surrogateescape") if type(value) is str else None
    return value


def normalize_event(raw: dict[str, Any], types: _Types | None = None) -> dict[str, Any]:
    """One sysdig JSON object as a syscall event dict (see the module docstring)."""
    types = types or _Types()
    event: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None or type(key) is not str:
            continue
        if key in _TIME_KEYS:
            ns = _to_int(value)
            if ns is not None:
                event.setdefault("evt.time", ns)
            elif type(value) is str and key != "evt.time":
                event[key] = value
            continue
        if key in _ANCESTOR_LISTS and type(value) is not list:
            continue  # sysdig prints one value for these: the list is not in the capture
        coerced = _coerce(value, types(key))
        if coerced is not None:
            event[key] = coerced
    info = event.get("evt.info")
    if type(info) is str:
        event.setdefault("evt.args", info)
        _from_info(event, info)
    elif type(event.get("evt.args")) is str:
        _from_info(event, event["evt.args"])
    return event


def parse_info(info: str) -> list[tuple[str, str]]:
    """``name=value`` pairs of libsinsp's ``evt.info``/``evt.args`` text. Values may hold
    spaces; a new pair starts at a space followed by a lower-case name and ``=``."""
    matches = list(_INFO_PARAM.finditer(info))
    out = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(info)
        out.append((match.group(1), info[match.end() : end].rstrip(" ")))
    return out


def _from_info(event: dict[str, Any], info: str) -> None:
    """Arguments, result and descriptor fields from the argument text, never overriding a
    field the line carries itself."""
    kind = event.get("evt.type")
    params = parse_info(info)
    for position, (name, text) in enumerate(params):
        raw_text = _RAW_AND_TEXT.match(text)
        if raw_text is not None:
            event.setdefault(f"evt.rawarg.{name}", int(raw_text.group(1)))
            event.setdefault(f"evt.arg.{name}", raw_text.group(2))
        else:
            event.setdefault(f"evt.arg.{name}", text)
            plain = _to_int(text)
            if plain is not None:
                event.setdefault(f"evt.rawarg.{name}", plain)
        if name == "res":
            number: int | None
            if raw_text is not None:
                number = int(raw_text.group(1))
                verdict = raw_text.group(2) if number < 0 else "SUCCESS"
            else:
                number = _to_int(text) if text.lstrip("-").isdigit() else None
                verdict = "SUCCESS"
            if number is not None:
                event.setdefault("evt.rawres", number)
                event.setdefault("evt.res", verdict)
        elif name == "fd":
            _fd_from_arg(
                event, text, raw_text, returned=position == 0 and event.get("evt.dir") == "<"
            )
        elif name == "tuple":
            _tuple(event, text)
        elif name == "name" and kind in _OPENS:
            event.setdefault("fd.name", text)
    if kind in _EXECS and event.get("evt.dir") == "<":
        _exec_from_info(event, dict(params))
    if kind in _OPENS and "evt.arg.flags" in event:
        flags = str(event["evt.arg.flags"])
        if event.get("evt.rawres", -1) >= 0:
            event.setdefault("evt.is_open_read", "O_RDONLY" in flags or "O_RDWR" in flags)
            event.setdefault("evt.is_open_write", "O_WRONLY" in flags or "O_RDWR" in flags)


def _fd_from_arg(
    event: dict[str, Any], text: str, raw_text: re.Match[str] | None, *, returned: bool
) -> None:
    number = _to_int(raw_text.group(1)) if raw_text else _to_int(text)
    if number is None:
        return
    event.setdefault("fd.num", number)
    if returned:
        event.setdefault("evt.rawres", number)
        event.setdefault("evt.res", "SUCCESS" if number >= 0 else None)
    described = _FD_TEXT.match(raw_text.group(2)) if raw_text else None
    if described is not None:
        typechar, name = described.group(1)[:1], described.group(2)
        event.setdefault("fd.typechar", typechar)
        if typechar in _FD_TYPES:
            event.setdefault("fd.type", _FD_TYPES[typechar])
        if name:
            event.setdefault("fd.name", name)
            if typechar in ("4", "6"):
                _tuple(event, name)


def _tuple(event: dict[str, Any], text: str) -> None:
    event.setdefault("fd.name", text)
    match = _TUPLE.match(text)
    if match is None:
        return
    event.setdefault("fd.cip", match.group(1))
    event.setdefault("fd.cport", int(match.group(2)))
    event.setdefault("fd.sip", match.group(3))
    event.setdefault("fd.sport", int(match.group(4)))


def _id_and_name(text: str | None) -> tuple[int | None, str | None]:
    if text is None:
        return None, None
    match = _RAW_AND_TEXT.match(text)
    if match is None:
        return _to_int(text), None
    return int(match.group(1)), match.group(2)


def _exec_from_info(event: dict[str, Any], params: dict[str, str]) -> None:
    pid, _name = _id_and_name(params.get("pid"))
    ppid, pname = _id_and_name(params.get("ptid"))
    if pid is not None:
        event.setdefault("proc.pid", pid)
    if ppid is not None:
        event.setdefault("proc.ppid", ppid)
    if pname:
        event.setdefault("proc.pname", pname)
    if params.get("comm"):
        event.setdefault("proc.name", params["comm"])
    if params.get("exe"):
        event.setdefault("proc.exe", params["exe"])
    if params.get("cwd"):
        cwd = params["cwd"]
        event.setdefault("proc.cwd", cwd if cwd.endswith("/") else cwd + "/")


def events_from_lines(
    lines: Iterable[bytes],
    where: str,
    warnings: list[str],
    *,
    include_enter: bool = False,
) -> Iterator[dict[str, Any]]:
    """Events from sysdig's JSON lines (also the older ``[ {...}, {...} ]`` array, one object
    a line); bad lines are reported in ``warnings`` as ``where:LINE: message`` and skipped."""
    types = _Types()
    bad = 0
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if text in (b"", b"[", b"]"):
            continue
        if text.startswith(b"["):
            text = text[1:].lstrip()
        if text.endswith(b","):
            text = text[:-1].rstrip()
        problem = None
        raw: Any = None
        if len(line) > MAX_LINE_BYTES:
            problem = f"line longer than {MAX_LINE_BYTES} bytes"
        else:
            try:
                raw = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                problem = f"not JSON: {exc}"
        if problem is None and not isinstance(raw, dict):
            problem = "not a JSON object"
        if problem is None and not isinstance(raw.get("evt.type"), str):
            problem = "no evt.type"
        if problem is not None:
            bad += 1
            if bad <= MAX_WARNINGS:
                warnings.append(f"{where}:{number}: {problem}")
            continue
        if not include_enter and raw.get("evt.dir") == ">":
            continue
        yield normalize_event(raw, types)
    if bad > MAX_WARNINGS:
        warnings.append(f"{where}: {bad - MAX_WARNINGS} more bad lines not shown")


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            # Skip the rest of an overlong line; report it once as too long.
            while True:
                rest = stream.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line


def read_sysdig_json(
    path: str | Path,
    warnings: list[str] | None = None,
    *,
    include_enter: bool = False,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``("syscall", event)`` for each event of a file of ``sysdig -j`` output (``-`` reads
    standard input). A file that cannot be opened is one warning."""
    warnings = warnings if warnings is not None else []
    where = str(path)
    try:
        stream: IO[bytes] = open(path, "rb") if where != "-" else _stdin()  # noqa: SIM115
    except OSError as exc:
        warnings.append(f"{where}: cannot read: {exc.strerror or exc}")
        return
    with stream:
        for event in events_from_lines(
            _lines(stream), where, warnings, include_enter=include_enter
        ):
            yield SOURCE, event


def _stdin() -> IO[bytes]:
    import sys

    return sys.stdin.buffer


def run_sysdig(
    capture: str | Path,
    warnings: list[str] | None = None,
    *,
    sysdig: str = "sysdig",
    fields: Sequence[str] = SYSDIG_FIELDS,
    include_enter: bool = False,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Read a ``.scap`` capture through the ``sysdig`` program (which must be installed),
    asking it for ``fields``. sysdig's complaints end up in ``warnings``."""
    warnings = warnings if warnings is not None else []
    command = [sysdig, "-r", str(capture), "-j", "-p", sysdig_format(fields)]
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        warnings.append(f"{capture}: cannot run {sysdig}: {exc.strerror or exc}")
        return
    assert process.stdout is not None and process.stderr is not None
    try:
        for event in events_from_lines(
            _lines(process.stdout), str(capture), warnings, include_enter=include_enter
        ):
            yield SOURCE, event
    finally:
        process.stdout.close()
        error = process.stderr.read(65536).decode("utf-8", "replace").strip()
        process.stderr.close()
        code = process.wait()
        if code != 0:
            warnings.append(f"{capture}: {sysdig} exited with {code}: {error}")
