"""The ``syscall`` field registry: every field Falco's rules use resolves, getters derive what
libsinsp derives, arguments are checked, and the sensor's coverage is stated exactly."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from falco_data import FALCO_RULES as RULES
from kubeward.runtime.condition import (
    And,
    Compare,
    CompileError,
    Expr,
    FieldRef,
    Not,
    Or,
    compile_condition,
    parse_condition,
)
from kubeward.runtime.fields.base import UnknownFieldError
from kubeward.runtime.fields.syscall import (
    ANY_OF_FIELDS,
    SENSOR_FIELDS,
    SyscallFields,
    capabilities_text,
    field_type,
    open_flags_text,
)

OUTPUT_FIELD = re.compile(r"%([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+)(?:\[([^\]]*)\])?")

fields = SyscallFields()


def _refs(expr: Expr) -> Iterator[FieldRef]:
    stack: list[Any] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)
        elif isinstance(node, Compare):
            yield node.field
            if isinstance(node.value, FieldRef):
                yield node.value


def used_fields(path: Path) -> set[tuple[str, str | None]]:
    """(name, arg) of every field a rules file names in conditions, outputs and exceptions."""
    found: set[tuple[str, str | None]] = set()
    for item in yaml.safe_load(path.read_text()):
        if not isinstance(item, dict) or ("rule" not in item and "macro" not in item):
            continue
        if isinstance(item.get("condition"), str):
            found.update((ref.name, ref.arg) for ref in _refs(parse_condition(item["condition"])))
        if isinstance(item.get("output"), str):
            found.update((m.group(1), m.group(2)) for m in OUTPUT_FIELD.finditer(item["output"]))
        for exception in item.get("exceptions") or ():
            names = exception.get("fields") or ()
            for name in [names] if isinstance(names, str) else names:
                base, _, arg = name.partition("[")
                found.add((base, arg[:-1] if arg else None))
    return found


def _written(name: str, arg: str | None) -> str:
    return name if arg is None else f"{name}[{arg}]"


# ---------------------------------------------------------------------------------------------
# Falco's rules
# ---------------------------------------------------------------------------------------------

NEVER_FILLED_STABLE = {
    "evt.arg.domain",  # socket(): no syscall tracing
    "evt.arg.linkpath",  # symlink()
    "evt.arg.newpath",  # link()
    "evt.arg.oldpath",  # link()
    "evt.arg.request",  # ptrace()
    "evt.arg.target",  # symlink()
    "fd.sip.name",  # no DNS tracking
}


def test_every_field_of_the_stable_rules_resolves() -> None:
    used = used_fields(RULES / "falco_rules.yaml")
    failures = []
    for name, arg in used:
        try:
            fields.resolve(name, arg)
        except UnknownFieldError as exc:
            failures.append(str(exc))
    assert failures == []
    assert len(used) == 71
    never = {_written(n, a) for n, a in used if not fields.fills(n, a)}
    assert never == NEVER_FILLED_STABLE
    print(
        f"\nstable rules: {len(used)} fields, all resolve; "
        f"never filled by the sensor: {sorted(never)}"
    )


@pytest.mark.parametrize(
    ("name", "count", "never"),
    [
        (
            "falco-incubating_rules.yaml",
            61,
            {
                "evt.arg.cmd",
                "evt.arg.filename",
                "evt.arg.mode",
                "evt.arg.oldpath",
                "evt.arg.path",
                "evt.arg.uid",
                "fd.cip.name",
                "fd.lip.name",
                "fd.rip.name",
                "fd.sip.name",
            },
        ),
        (
            "falco-sandbox_rules.yaml",
            72,
            {
                "evt.arg.filename",
                "evt.arg.mode",
                "evt.arg.newpath",
                "evt.arg.oldpath",
                "evt.arg.path",
                "evt.buffer",
                "evt.is_open_exec",
                "fd.cip.name",
                "fd.sip.name",
            },
        ),
    ],
)
def test_every_field_of_the_other_rules_resolves(name: str, count: int, never: set[str]) -> None:
    used = used_fields(RULES / name)
    for field_name, arg in used:
        fields.resolve(field_name, arg)
    assert len(used) == count
    assert {_written(n, a) for n, a in used if not fields.fills(n, a)} == never


def test_the_open_read_macro_matches_a_sensor_open_event() -> None:
    """The stable rules' own macro, compiled by the condition compiler over these fields."""
    condition = (
        "evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' "
        "and fd.num>=0 and fd.directory in (/etc) and container.id != host"
    )
    match = compile_condition(parse_condition(condition), macros={}, lists={}, fields=fields)
    event = {
        "evt.type": "openat",
        "evt.is_open_read": True,
        "fd.typechar": "f",
        "fd.num": 2**31 - 1,
        "fd.name": "/etc/shadow",
        "container.id": "3ad7b26ded6d",
    }
    assert match(event) is True
    assert match({**event, "evt.is_open_read": None}) is False
    assert match({**event, "container.id": "host"}) is False


# ---------------------------------------------------------------------------------------------
# Getters
# ---------------------------------------------------------------------------------------------

EXEC = {
    "evt.type": "execve",
    "evt.time": 1_700_000_000_123_456_789,
    "proc.pid": 42,
    "proc.name": "cat",
    "proc.exe": "/bin/cat",
    "proc.args": "/etc/shadow",
    "proc.aname": ["sh", "containerd-shim", "systemd"],
    "proc.apid": [41, 40, 1],
    "proc.acmdline": ["sh -c cat /etc/shadow", None, "systemd"],
    "proc.env": "HOME=/root PATH=/bin:/usr/bin",
    "thread.cgroups": "cpu=/docker/abc memory=/docker/abc",
    "proc.pid.ts": 1_699_999_999_000_000_000,
    "proc.sid": 42,
    "proc.vpid": 42,
    "container.id": "3ad7b26ded6d",
    "container.label": {"app": "web", "app.kubernetes.io/name": "shop"},
    "k8s.pod.label": {"app.kubernetes.io/name": "shop"},
    "container.mount": [
        ("/var/run/docker.sock", "/var/run/docker.sock", "", "true", "rprivate"),
        ("/proc", "/host/proc", "ro", "false", "rprivate"),
    ],
}


def get(name: str, arg: str | None = None, event: Any = EXEC) -> Any:
    return fields.resolve(name, arg).getter(event)


def test_ancestor_fields() -> None:
    assert get("proc.aname") == ["sh", "containerd-shim", "systemd"]
    assert get("proc.aname", "0") == "cat"
    assert get("proc.aname", "1") == "sh"
    assert get("proc.aname", "3") == "systemd"
    assert get("proc.aname", "4") is None
    assert get("proc.pname") == "sh"
    assert get("proc.apid", "2") == 40
    assert get("proc.ppid") == 41
    assert get("proc.pcmdline") == "sh -c cat /etc/shadow"
    assert get("proc.acmdline", "2") is None
    assert get("proc.pname", event={**EXEC, "proc.pname": "bash"}) == "bash"  # stored wins
    assert get("proc.aname", "2", {"proc.aname[2]": "emacs"}) == "emacs"  # as sysdig prints it
    assert get("proc.loginshellid") == 41
    assert get("proc.aname", event={"proc.aname": "sh"}) is None  # one value is not the list
    assert get("proc.aenv", event={"proc.aenv": ["A=1", "B=2"]}) == ["A=1", "B=2"]


def test_any_of_fields_declare_how_they_compare() -> None:
    """The argument-less ancestor and socket fields carry their comparison kind and the type
    of one value; with an index they are plain fields; sources still store them as lists."""
    declared = {
        name: (f.type, f.multi) for name in ANY_OF_FIELDS for f in [fields.resolve(name, None)]
    }
    assert declared == {
        "proc.aname": ("string", "any"),
        "proc.apid": ("int", "any"),
        "proc.aexe": ("string", "any"),
        "proc.aexepath": ("string", "any"),
        "proc.acmdline": ("string", "any"),
        "proc.aenv": ("string", "any"),
        "fd.ip": ("ipaddr", "either"),
        "fd.port": ("int", "either"),
        "fd.proto": ("string", "either"),
        "fd.net": ("ipnet", "either"),
    }
    assert [(f.type, f.multi) for f in [fields.resolve("proc.aname", "2")]] == [("string", "")]
    assert [(f.type, f.multi) for f in [fields.resolve("proc.apid", "1")]] == [("int", "")]
    assert [(f.type, f.multi) for f in [fields.resolve("proc.aenv", "HOME")]] == [("string", "")]
    assert [(f.type, f.multi) for f in [fields.resolve("fd.sip", None)]] == [("ipaddr", "")]
    assert [field_type(fields, name) for name in ("proc.aname", "fd.ip", "proc.aname[2]")] == [
        "list",
        "list",
        "string",
    ]


def test_process_fields_derived() -> None:
    assert get("proc.cmdline") == "cat /etc/shadow"
    assert get("proc.cmdline", event={"proc.name": "sh"}) == "sh"
    assert get("proc.exeline") == "/bin/cat /etc/shadow"
    assert get("proc.duration") == 1_123_456_789
    assert get("proc.is_sid_leader") is True
    assert get("proc.env") == "HOME=/root PATH=/bin:/usr/bin"
    assert get("proc.env", "HOME") == "/root"
    assert get("proc.env", "USER") is None
    assert get("thread.cgroup.memory") == "/docker/abc"
    assert get("thread.cgroup", "cpu") == "/docker/abc"
    assert get("thread.tid") == 42
    assert get("thread.ismain", event={"proc.pid": 7, "thread.tid": 8}) is False


def test_times(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert get("evt.time") == "22:13:20.123456789"
        assert get("evt.time.s") == "22:13:20"
        assert get("evt.datetime") == "2023-11-14 22:13:20.123456789"
        assert get("evt.datetime.s") == "2023-11-14 22:13:20"
        assert get("evt.time.iso8601") == "2023-11-14T22:13:20.123456789Z"
        assert get("evt.rawtime") == 1_700_000_000_123_456_789
        assert get("evt.rawtime.s") == 1_700_000_000
        assert get("evt.rawtime.ns") == 123_456_789
        assert get("evt.time", event={"evt.time": "10:00:00.000000001"}) == "10:00:00.000000001"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_event_arguments_and_results() -> None:
    event = {
        "evt.type": "openat",
        "evt.arg.flags": "O_RDONLY|O_CLOEXEC",
        "evt.rawarg.flags": 4097,
        "evt.arg[0]": "3(<f>/etc/shadow)",
        "evt.rawres": -2,
    }
    assert fields.resolve("evt.arg.flags", None).name == "evt.arg.flags"
    assert get("evt.arg.flags", event=event) == "O_RDONLY|O_CLOEXEC"
    assert get("evt.arg", "flags", event) == "O_RDONLY|O_CLOEXEC"
    assert get("evt.arg", "0", event) == "3(<f>/etc/shadow)"
    assert get("evt.rawarg.flags", event=event) == 4097
    assert fields.resolve("evt.rawarg.flags", None).type == "int"
    assert fields.resolve("evt.rawarg.name", None).type == "string"
    assert get("evt.res", event=event) == "ENOENT"
    assert get("evt.res", event={"evt.rawres": 3}) == "SUCCESS"
    assert get("evt.failed", event=event) is True
    assert get("evt.is_open_read", event=event) is True  # from the flags when not stored
    assert get("evt.is_open_write", event=event) is False
    assert get("evt.is_open_write", event={**event, "evt.is_open_write": True}) is True
    assert get("evt.type.is.openat", event=event) == 1
    assert get("evt.type.is", "execve", event) == 0
    assert get("syscall.type", event=event) == "openat"
    assert get("syscall.type", event={"evt.type": "procexit"}) is None
    assert get("evt.count") == 1
    assert get("evt.source") == "syscall"
    assert get("evt.dir", event={}) == "<"


def test_descriptor_fields() -> None:
    event = {
        "fd.name": "/etc/shadow",
        "fd.typechar": "f",
        "fd.num": 3,
        "proc.pid": 9,
        "container.id": "host",
    }
    assert get("fd.directory", event=event) == "/etc"
    assert get("fd.filename", event=event) == "shadow"
    assert get("fd.directory", event={"fd.name": "/shadow"}) == "/"
    assert get("fd.directory", event={"fd.name": "x", "fd.typechar": "4"}) is None
    assert get("fd.containername", event=event) == "host:/etc/shadow"
    assert get("fd.containerdirectory", event=event) == "host:/etc"
    assert get("fd.uid", event=event) == "93"
    assert get("fd.dev.major", event={"fd.dev": 254 << 20 | 3}) == 254
    assert get("fd.dev.minor", event={"fd.dev": 254 << 20 | 3}) == 3
    net = {"fd.cip": "10.0.0.1", "fd.sip": "10.0.0.2", "fd.cport": 5000, "fd.sport": 443}
    assert get("fd.ip", event=net) == ["10.0.0.1", "10.0.0.2"]
    assert get("fd.port", event=net) == [5000, 443]
    assert get("fd.ip", event={"fd.sip": "0.0.0.0", "fd.sport": 22}) == ["0.0.0.0"]  # listening
    assert get("fd.ip", event={"fd.ip": ["::1"]}) == ["::1"]  # stored wins
    assert get("fd.port", event={}) is None
    assert get("fd.snet", event=net) == "10.0.0.2"
    assert fields.resolve("fd.snet", None).type == "ipnet"
    assert fields.resolve("fd.sip", None).type == "ipaddr"


def test_container_and_pod_fields() -> None:
    assert get("container.label", "app") == "web"
    assert get("container.label.app") == "web"
    assert get("container.label", "missing") is None
    assert get("container.labels") == "app:web,app.kubernetes.io/name:shop"
    assert get("k8s.pod.label.app.kubernetes.io/name") == "shop"
    assert get("k8s.pod.label", "app.kubernetes.io/name") == "shop"
    # container.mount.dest[SOURCE] finds a mount by its source, .source[DEST] by destination
    assert get("container.mount.dest", "/var/run/docker.sock") == "/var/run/docker.sock"
    assert get("container.mount.dest", "/pro*") == "/host/proc"
    assert get("container.mount.source", "/host/proc") == "/proc"
    assert get("container.mount", "1") == "/proc:/host/proc:ro:false:rprivate"
    assert get("container.mount.dest", "/etc") == "none"
    assert get("container.mounts") == (
        "/var/run/docker.sock:/var/run/docker.sock::true:rprivate "
        "/proc:/host/proc:ro:false:rprivate"
    )
    assert get("container.duration", event={"evt.time": 50, "container.start_ts": 20}) == 30
    assert get("k8s.pod.id", event={"k8s.pod.uid": "u-1"}) == "u-1"


def test_values_of_helpers() -> None:
    assert open_flags_text(4097) == "O_RDONLY|O_CLOEXEC"
    assert open_flags_text(2 | 4 | 256) == "O_WRONLY|O_CREAT|O_TRUNC"
    assert open_flags_text(3) == "O_RDWR"
    assert capabilities_text(0x3) == "CAP_CHOWN CAP_DAC_OVERRIDE"
    assert capabilities_text(1 << 21) == "CAP_SYS_ADMIN"


@pytest.mark.parametrize(
    ("name", "arg", "message"),
    [
        ("ka.user.name", None, "unknown field 'ka.user.name' for source syscall"),
        ("proc.nosuch", None, "unknown field 'proc.nosuch' for source syscall"),
        ("evt.arg", None, "field 'evt.arg' requires an argument"),
        ("container.label", None, "field 'container.label' requires an argument"),
        ("proc.aname", "x", "field 'proc.aname' requires a numeric index"),
        ("proc.aname", "-1", "field 'proc.aname' requires a numeric index"),
        ("proc.name", "1", "field 'proc.name' does not accept an argument"),
        ("evt.abspath.foo", None, "field 'evt.abspath' accepts only 'src' or 'dst'"),
        ("proc.env", "", "field 'proc.env' requires a non-empty argument"),
    ],
)
def test_unknown_or_misused_fields_raise(name: str, arg: str | None, message: str) -> None:
    with pytest.raises(UnknownFieldError) as caught:
        fields.resolve(name, arg)
    assert str(caught.value) == message


def test_getters_never_raise_on_bad_events() -> None:
    for name in ("proc.name", "proc.aname", "fd.directory", "evt.time", "container.label.app"):
        field = fields.resolve(name, None)
        assert field.getter(None) is None
        assert field.getter(["not", "a", "dict"]) is None
    assert get("fd.directory", event={"fd.name": 7}) is None
    assert get("proc.aname", "2", {"proc.aname": "not-a-list"}) is None


def test_sensor_coverage_statement() -> None:
    assert fields.fills("proc.name")
    assert fields.fills("evt.arg.flags")
    assert fields.fills("evt.arg", "flags")
    assert not fields.fills("evt.arg.request")
    assert not fields.fills("fd.sip.name")
    assert not fields.fills("evt.buffer")
    assert {spec.name for spec in fields.specs()} >= SENSOR_FIELDS


# ---------------------------------------------------------------------------------------------
# Fields compared value by value (ANY_OF_FIELDS), as libsinsp compares them
# ---------------------------------------------------------------------------------------------


def matches(condition: str, event: dict[str, Any]) -> bool:
    predicate = compile_condition(parse_condition(condition), macros={}, lists={}, fields=fields)
    return predicate(event)


ANCESTRY = {
    "proc.name": "cat",
    "proc.aname": ["sh", "containerd-shim", "systemd"],
    "proc.apid": [41, 40, 1],
    "proc.aexe": ["/bin/sh", "/usr/bin/containerd-shim", "/sbin/init"],
    "proc.acmdline": ["sh -c cat /etc/shadow", None, "systemd"],
    "proc.aenv": ["HOME=/root", "PATH=/bin"],
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # every operator holds when it holds for one ancestor (compare_full_aname and friends)
        ("proc.aname = sh", True),
        ("proc.aname = systemd", True),
        ("proc.aname = cat", False),  # the process itself is not its own ancestor
        ("proc.aname != sh", True),  # containerd-shim is not sh
        ("not proc.aname = sh", False),
        ("proc.aname in (bash, systemd)", True),
        ("proc.aname in (bash, zsh)", False),
        ("not proc.aname in (sh)", False),
        ("proc.aname intersects (containerd-shim)", True),
        ("proc.aname startswith containerd", True),
        ("proc.aname endswith shim", True),
        ("proc.aname contains tainer", True),
        ("proc.aname icontains SHIM", True),
        ("proc.aname glob 'sys*'", True),
        ("proc.aname regex 'c.*shim'", True),
        ("proc.aname pmatch (/usr, /sys)", False),
        ("proc.aname pmatch (/sh)", True),  # components: "sh" is below "/sh"
        ("proc.aname exists", True),
        ("proc.aname = val(proc.pname)", True),
        ("proc.aname = val(proc.name)", False),
        ("toupper(proc.aname) = SH", True),
        ("len(proc.aname) = 15", True),
        ("basename(proc.aexe) = init", True),
        ("proc.apid = 40", True),
        ("proc.apid != 1", True),
        ("proc.apid in (7, 1)", True),
        ("proc.apid > 41", False),
        ("proc.apid <= 1", True),
        ("proc.aexe endswith /init", True),
        ("proc.aexepath exists", False),  # not in the event
        ("proc.acmdline contains 'cat /etc'", True),
        ("proc.acmdline = systemd", True),  # an ancestor without a command line is skipped
        ("proc.aenv contains 'PATH='", True),
        ("proc.aenv[1] = 'HOME=/root'", True),
        ("proc.aname[1] = sh", True),
        ("proc.aname[1] = systemd", False),
    ],
)
def test_ancestor_fields_compare_any_ancestor(condition: str, expected: bool) -> None:
    assert matches(condition, ANCESTRY) is expected


@pytest.mark.parametrize(
    "condition",
    [
        "proc.aname = sh",
        "proc.aname != sh",
        "proc.apid != 1",
        "not proc.aname exists",
        "proc.aname[1] != sh",
    ],
)
def test_no_ancestors_make_every_ancestor_comparison_false(condition: str) -> None:
    """No ancestor (an empty chain, or none known) means no comparison holds, ``!=`` too."""
    expected = condition.startswith("not ")
    assert matches(condition, {"proc.name": "init"}) is expected
    assert matches(condition, {"proc.name": "init", "proc.aname": [], "proc.apid": []}) is expected


CONNECTED = {"fd.cip": "10.0.0.1", "fd.sip": "10.0.0.2", "fd.cport": 5000, "fd.sport": 443}
LISTENING = {"fd.sip": "0.0.0.0", "fd.sport": 22}


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        # compare_ip: '=' and 'in' hold when one end matches, '!=' when neither does
        ("fd.ip = 10.0.0.1", CONNECTED, True),
        ("fd.ip = 10.0.0.2", CONNECTED, True),
        ("fd.ip = 10.0.0.3", CONNECTED, False),
        ("fd.ip != 10.0.0.1", CONNECTED, False),
        ("fd.ip != 10.0.0.3", CONNECTED, True),
        ("fd.ip in (192.168.0.1, 10.0.0.2)", CONNECTED, True),
        ("fd.ip = '::1'", CONNECTED, False),
        ("fd.ip != '::1'", CONNECTED, True),
        ("fd.ip = val(fd.sip)", CONNECTED, True),
        ("fd.ip != val(fd.sip)", CONNECTED, False),
        ("fd.ip != 0.0.0.0", LISTENING, False),  # a listening socket has only its own address
        ("fd.ip = 0.0.0.0", LISTENING, True),
        ("fd.ip != 1.2.3.4", {}, False),  # not a socket
        # compare_port: the ordering operators hold when one end matches too
        ("fd.port = 443", CONNECTED, True),
        ("fd.port != 443", CONNECTED, False),
        ("fd.port != 22", CONNECTED, True),
        ("fd.port > 1024", CONNECTED, True),
        ("fd.port < 1024", CONNECTED, True),
        ("fd.port >= 6000", CONNECTED, False),
        ("fd.port <= 443", CONNECTED, True),
        ("fd.port in (80, 443)", CONNECTED, True),
        ("fd.port in (80, 8080)", CONNECTED, False),
        ("fd.port = 22", LISTENING, True),
        ("fd.port != 22", LISTENING, False),
        ("fd.port != 1", {}, False),
        ("fd.proto = https", {"fd.cproto": "5000", "fd.sproto": "https"}, True),
        ("fd.proto != https", {"fd.cproto": "5000", "fd.sproto": "https"}, False),
        # compare_net: one end in the network; only the first network of a list is tested
        ("fd.net = 10.0.0.0/8", CONNECTED, True),
        ("fd.net != 127.0.0.0/8", CONNECTED, True),
        ("fd.net != 10.0.0.0/30", CONNECTED, False),  # 10.0.0.1 is in it
        ("fd.net in (10.0.0.0/8, 192.168.0.0/16)", CONNECTED, True),
        ("fd.net in (192.168.0.0/16, 10.0.0.0/8)", CONNECTED, False),
        ("fd.net intersects (10.0.0.0/8)", CONNECTED, False),
        ("fd.net exists", CONNECTED, False),
        ("fd.net != 0.0.0.0/8", LISTENING, False),
    ],
)
def test_socket_fields_compare_either_end(
    condition: str, event: dict[str, Any], expected: bool
) -> None:
    assert matches(condition, event) is expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        # libsinsp throws these on every event; refused when the rule is compiled here
        ("fd.ip exists", "filter error: IP filter only supports '=' and '!=' operators"),
        (
            "fd.ip intersects (1.2.3.4)",
            "filter error: IP filter only supports '=' and '!=' operators",
        ),
        ("fd.port exists", "filter error: unsupported port comparison operator"),
        ("fd.port intersects (1)", "filter error: unsupported port comparison operator"),
        (
            "fd.port contains 4",
            "filter error: 'contains' operator not supported for numeric filters",
        ),
        ("fd.port = http", "http is not a valid number"),
        ("fd.net in (10.0.0.0/8, nonsense)", "filter error: unrecognized IP network nonsense"),
        (
            "proc.apid contains 4",
            "filter error: 'contains' operator not supported for numeric filters",
        ),
        ("proc.apid = x", "x is not a valid number"),
        (
            "proc.name = val(proc.aname)",
            "field 'proc.aname' holds several values and cannot be compared on the right-hand side",
        ),
    ],
)
def test_multi_field_compile_errors(condition: str, message: str) -> None:
    with pytest.raises(CompileError) as caught:
        matches(condition, {})
    assert str(caught.value) == message


def test_the_rules_that_need_any_of_fields() -> None:
    """The two stable rules that compare ancestors and socket ends, on the stable file's own
    macros and lists, fire exactly on the events they describe."""
    from kubeward.runtime.rules import load_rules_files

    ruleset = load_rules_files([RULES / "falco_rules.yaml"], fields={"syscall": fields})
    assert ruleset.errors == []
    macros = {name: parse_condition(ruleset.expanded_macro(name)) for name in ruleset.macros}

    def rule(name: str) -> Any:
        expr = parse_condition(ruleset.expanded_condition(name))
        return compile_condition(expr, macros=macros, lists={}, fields=fields)

    interactive = rule("System user interactive")
    spawned = {"evt.type": "execve", "user.name": "daemon", "proc.name": "ls"}
    assert interactive({**spawned, "proc.aname": ["bash", "sshd", "systemd"]}) is True
    assert interactive({**spawned, "proc.aname": ["bash", "cron", "systemd"]}) is False
    assert interactive({**spawned, "proc.aname": ["sshd"], "proc.name": "sshd"}) is False
    assert interactive({**spawned, "user.name": "root", "proc.aname": ["sshd"]}) is False

    ssh = rule("Disallowed SSH Connection Non Standard Port")
    connect = {
        "evt.type": "connect",
        "evt.rawres": 0,
        "fd.typechar": "4",
        "fd.l4proto": "tcp",
        "proc.exe": "/usr/bin/ssh",
        "fd.cip": "172.17.0.2",
        "fd.cport": 40000,
        "fd.sip": "203.0.113.7",
        "fd.sport": 443,
    }
    assert ssh(connect) is True
    assert ssh({**connect, "fd.sport": 22}) is False  # a standard port
    assert ssh({**connect, "fd.sip": "192.168.1.5"}) is False  # RFC 1918: not outbound
    assert ssh({**connect, "fd.cip": "127.0.0.1", "fd.sip": "127.0.0.2"}) is False  # loopback
    assert ssh({**connect, "fd.cip": "0.0.0.0"}) is False  # fd.ip != "0.0.0.0" needs both


def test_compiled_reads_use_the_decoders_key_objects() -> None:
    """Field reads use the str objects orjson hands out for event keys (a dict lookup by the
    identical object compares pointers); keys orjson does not cache stay equal copies."""
    import orjson

    from kubeward.runtime.fields.base import decoder_key, dict_key_of, json_path_of
    from kubeward.runtime.fields.k8s_audit import K8sAuditFields
    from kubeward.runtime.fields.syscall import SyscallFields

    (decoded,) = orjson.loads(b'{"fd.name": "/etc/shadow"}')
    assert decoder_key("fd.name") is decoded
    assert dict_key_of(SyscallFields().resolve("fd.name", None).getter) is decoded
    long_key = "k" * 100  # past orjson's 64-byte key cache: an equal object serves
    assert decoder_key(long_key) == long_key
    assert decoder_key("\ud800") == "\ud800"  # a lone surrogate orjson cannot write
    event = orjson.loads(b'{"auditID": "a", "user": {"username": "bob"}}')
    keys, guard = json_path_of(K8sAuditFields().resolve("ka.user.name", None).getter) or ((), None)
    assert keys == ("user", "username") and guard == "auditID"
    assert next(k for k in event if k == "user") is keys[0]
    assert next(k for k in event if k == "auditID") is guard
