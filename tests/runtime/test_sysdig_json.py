"""``sysdig -r FILE -j`` output as syscall events. The JSON lines below are sysdig 0.29's own
output for Falco's test captures (trace_files/cat_write.scap and connect_localhost.scap), the
execve line shortened (its environment and cgroups arguments cut); the last tests run sysdig on
the captures themselves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from falco_data import TRACE_FILES as TRACES
from kubeward.runtime.condition import compile_condition, parse_condition
from kubeward.runtime.fields.syscall import SyscallFields
from kubeward.runtime.sources.sysdig_json import (
    SYSDIG_FIELDS,
    events_from_lines,
    parse_info,
    read_sysdig_json,
    run_sysdig,
    sysdig_format,
)

# sysdig -r cat_write.scap -j (the default fields)
DEFAULT_FORMAT = [
    b'{"evt.cpu":0,"evt.dir":"<","evt.info":"res=0 exe=cat args=/dev/null. tid=20072(cat) '
    b"pid=20072(cat) ptid=11310(bash) cwd=/mnt/sf_mstemm/work fdlimit=1024 pgft_maj=0 "
    b'pgft_min=61 vm_size=360 vm_rss=4 vm_swap=0 comm=cat ","evt.num":131,'
    b'"evt.outputtime":1470327477881730713,"evt.type":"execve","proc.name":"cat",'
    b'"thread.tid":20072}',
    b'{"evt.cpu":0,"evt.dir":">","evt.info":"","evt.num":140,"evt.outputtime":1470327477881781397,'
    b'"evt.type":"open","proc.name":"cat","thread.tid":20072}',
    b'{"evt.cpu":0,"evt.dir":"<","evt.info":"fd=3(<f>/etc/ld.so.cache) name=/etc/ld.so.cache '
    b'flags=4097(O_RDONLY|O_CLOEXEC) mode=0 ","evt.num":141,"evt.outputtime":1470327477881785348,'
    b'"evt.type":"open","proc.name":"cat","thread.tid":20072}',
    b'{"evt.cpu":0,"evt.dir":"<","evt.info":"res=0 ","evt.num":147,'
    b'"evt.outputtime":1470327477881789181,"evt.type":"close","proc.name":"cat","thread.tid":20072}',
]
# sysdig -r connect_localhost.scap -j
CONNECT_DEFAULT = (
    b'{"evt.cpu":1,"evt.dir":"<","evt.info":"res=-115(EINPROGRESS) '
    b'tuple=127.0.0.1:47192->127.0.0.1:80 ","evt.num":187,"evt.outputtime":1522704423470627540,'
    b'"evt.type":"connect","proc.name":"<NA>","thread.tid":31699}'
)
# sysdig -r cat_write.scap -j -p "*%evt.num %evt.time %evt.type %evt.dir %proc.pid ..."
CUSTOM_FORMAT = [
    b'{"container.id":"host","evt.arg.flags":null,"evt.dir":"<","evt.is_open_read":false,'
    b'"evt.is_open_write":false,"evt.num":131,"evt.rawres":0,"evt.time":1470327477881730713,'
    b'"evt.type":"execve","fd.name":null,"fd.num":null,"fd.typechar":null,'
    b'"proc.aname[2]":"emacs","proc.cmdline":"cat /dev/null","proc.name":"cat","proc.pid":20072,'
    b'"proc.pname":"bash","user.uid":4294967295}',
    b'{"container.id":"host","evt.arg.flags":"O_RDONLY|O_CLOEXEC","evt.dir":"<",'
    b'"evt.is_open_read":true,"evt.is_open_write":false,"evt.num":141,"evt.rawres":3,'
    b'"evt.time":1470327477881785348,"evt.type":"open","fd.name":"/etc/ld.so.cache","fd.num":3,'
    b'"fd.typechar":"f","proc.aname[2]":"emacs","proc.cmdline":"cat /dev/null","proc.name":"cat",'
    b'"proc.pid":20072,"proc.pname":"bash","user.uid":4294967295}',
]


def test_default_format_is_parsed_from_evt_info() -> None:
    warnings: list[str] = []
    events = list(events_from_lines(DEFAULT_FORMAT, "cat.json", warnings))
    assert warnings == []
    assert [e["evt.num"] for e in events] == [131, 141, 147]  # the enter event is skipped
    execve, opened, close = events
    assert {k: execve[k] for k in ("proc.pid", "proc.ppid", "proc.pname", "proc.name")} == {
        "proc.pid": 20072,
        "proc.ppid": 11310,
        "proc.pname": "bash",
        "proc.name": "cat",
    }
    assert execve["proc.exe"] == "cat"
    assert execve["proc.cwd"] == "/mnt/sf_mstemm/work/"
    assert execve["evt.time"] == 1470327477881730713
    assert execve["evt.rawres"] == 0
    assert execve["evt.res"] == "SUCCESS"
    assert execve["evt.arg.args"] == "/dev/null."
    assert "proc.args" not in execve  # NULs print as dots: the arguments cannot be split back
    assert opened == {
        "evt.cpu": 0,
        "evt.dir": "<",
        "evt.info": "fd=3(<f>/etc/ld.so.cache) name=/etc/ld.so.cache "
        "flags=4097(O_RDONLY|O_CLOEXEC) mode=0 ",
        "evt.args": "fd=3(<f>/etc/ld.so.cache) name=/etc/ld.so.cache "
        "flags=4097(O_RDONLY|O_CLOEXEC) mode=0 ",
        "evt.num": 141,
        "evt.time": 1470327477881785348,
        "evt.type": "open",
        "proc.name": "cat",
        "thread.tid": 20072,
        "evt.arg.fd": "<f>/etc/ld.so.cache",
        "evt.rawarg.fd": 3,
        "fd.num": 3,
        "evt.rawres": 3,
        "evt.res": "SUCCESS",
        "fd.typechar": "f",
        "fd.type": "file",
        "fd.name": "/etc/ld.so.cache",
        "evt.arg.name": "/etc/ld.so.cache",
        "evt.arg.flags": "O_RDONLY|O_CLOEXEC",
        "evt.rawarg.flags": 4097,
        "evt.arg.mode": "0",
        "evt.rawarg.mode": 0,
        "evt.is_open_read": True,
        "evt.is_open_write": False,
    }
    assert close["evt.rawres"] == 0


def test_connect_from_default_format() -> None:
    (event,) = events_from_lines([CONNECT_DEFAULT], "connect.json", [])
    assert event["evt.rawres"] == -115
    assert event["evt.res"] == "EINPROGRESS"
    assert event["fd.name"] == "127.0.0.1:47192->127.0.0.1:80"
    assert (event["fd.cip"], event["fd.cport"], event["fd.sip"], event["fd.sport"]) == (
        "127.0.0.1",
        47192,
        "127.0.0.1",
        80,
    )


def test_custom_format_keeps_field_names_and_types() -> None:
    execve, opened = events_from_lines(CUSTOM_FORMAT, "custom.json", [])
    assert execve == {
        "container.id": "host",
        "evt.dir": "<",
        "evt.is_open_read": False,
        "evt.is_open_write": False,
        "evt.num": 131,
        "evt.rawres": 0,
        "evt.time": 1470327477881730713,
        "evt.type": "execve",
        "proc.aname[2]": "emacs",
        "proc.cmdline": "cat /dev/null",
        "proc.name": "cat",
        "proc.pid": 20072,
        "proc.pname": "bash",
        "user.uid": 4294967295,
    }
    fields = SyscallFields()
    assert fields.resolve("proc.aname", "2").getter(execve) == "emacs"
    assert fields.resolve("fd.directory", None).getter(opened) == "/etc"
    assert fields.resolve("evt.res", None).getter(opened) == "SUCCESS"


def test_values_are_normalised_to_field_types() -> None:
    line = (
        b'{"evt.type":"open","evt.dir":"<","fd.num":"7","evt.is_open_read":"true",'
        b'"proc.aname":"bash","evt.datetime":1470327477881785348,"proc.tty":"x","fd.name":5}'
    )
    (event,) = events_from_lines([line], "t", [])
    assert event == {
        "evt.type": "open",
        "evt.dir": "<",
        "fd.num": 7,
        "evt.is_open_read": True,
        "evt.time": 1470327477881785348,
        "fd.name": "5",
    }  # proc.aname: sysdig prints one value, not the ancestor list; proc.tty: not a number


def test_malformed_lines_are_warnings() -> None:
    warnings: list[str] = []
    lines = [
        b"not json",
        b"42",
        b'{"evt.num": 1}',
        b'{"evt.type": "open", "evt.dir": "<"',
        b"",
        CUSTOM_FORMAT[1],
    ]
    events = list(events_from_lines(lines, "bad.json", warnings))
    assert [e["evt.num"] for e in events] == [141]
    assert [w.split(": ", 1)[0] for w in warnings] == [
        "bad.json:1",
        "bad.json:2",
        "bad.json:3",
        "bad.json:4",
    ]
    assert warnings[1] == "bad.json:2: not a JSON object"
    assert warnings[2] == "bad.json:3: no evt.type"
    assert warnings[0].startswith("bad.json:1: not JSON: ")


def test_too_many_bad_lines_are_summarised() -> None:
    warnings: list[str] = []
    assert list(events_from_lines([b"x"] * 150, "junk", warnings)) == []
    assert len(warnings) == 101
    assert warnings[-1] == "junk: 50 more bad lines not shown"


def test_array_output_and_files(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_bytes(b"[\n" + CUSTOM_FORMAT[0] + b",\n" + CUSTOM_FORMAT[1] + b"\n]\n")
    warnings: list[str] = []
    events = list(read_sysdig_json(path, warnings))
    assert warnings == []
    assert [(source, e["evt.num"]) for source, e in events] == [("syscall", 131), ("syscall", 141)]
    missing: list[str] = []
    assert list(read_sysdig_json(tmp_path / "nope.json", missing)) == []
    assert missing == [f"{tmp_path / 'nope.json'}: cannot read: No such file or directory"]
    enter = list(read_sysdig_json_lines(DEFAULT_FORMAT[1:2], include_enter=True))
    assert [e["evt.dir"] for e in enter] == [">"]


def read_sysdig_json_lines(lines: list[bytes], *, include_enter: bool) -> list[dict[str, object]]:
    return list(events_from_lines(lines, "t", [], include_enter=include_enter))


def test_parse_info_keeps_spaces_inside_values() -> None:
    assert parse_info("res=0 env=A=1 B=2 C=x y cwd=/tmp ") == [
        ("res", "0"),
        ("env", "A=1 B=2 C=x y"),
        ("cwd", "/tmp"),
    ]
    assert sysdig_format(("evt.num", "proc.aname[2]")) == "*%evt.num %proc.aname[2]"
    assert "proc.cmdline" in SYSDIG_FIELDS


# ---------------------------------------------------------------------------------------------
# The real sysdig on Falco's capture files
# ---------------------------------------------------------------------------------------------

needs_sysdig = pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig is not installed")


@needs_sysdig
def test_sysdig_reads_cat_write_capture() -> None:
    warnings: list[str] = []
    events = [event for _source, event in run_sysdig(TRACES / "cat_write.scap", warnings)]
    assert warnings == []
    assert len(events) == 42
    kinds = {e["evt.type"] for e in events}
    assert {"execve", "open", "close", "read"} <= kinds
    execve = next(e for e in events if e["evt.type"] == "execve")
    assert execve["proc.cmdline"] == "cat /dev/null"
    assert execve["proc.pname"] == "bash"
    assert execve["proc.aname[2]"] == "emacs"
    opens = [e["fd.name"] for e in events if e["evt.type"] == "open"]
    assert opens == [
        "/etc/ld.so.cache",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/locale/locale-archive",
        "/dev/null",
    ]
    fields = SyscallFields()
    open_read = compile_condition(
        parse_condition(
            "evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' "
            "and fd.num>=0 and fd.directory=/etc"
        ),
        macros={},
        lists={},
        fields=fields,
    )
    assert [e["fd.name"] for e in events if open_read(e)] == ["/etc/ld.so.cache"]


@needs_sysdig
def test_sysdig_reads_connect_capture() -> None:
    warnings: list[str] = []
    events = [event for _source, event in run_sysdig(TRACES / "connect_localhost.scap", warnings)]
    assert warnings == []
    (connect,) = [e for e in events if e["evt.type"] == "connect"]
    assert connect["fd.name"] == "127.0.0.1:47192->127.0.0.1:80"
    assert connect["evt.res"] == "EINPROGRESS"
    assert connect["fd.sport"] == 80
    assert connect["fd.l4proto"] == "tcp"


def test_missing_sysdig_is_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    events = list(run_sysdig(tmp_path / "x.scap", warnings, sysdig=str(tmp_path / "no-sysdig")))
    assert events == []
    assert warnings == [
        f"{tmp_path / 'x.scap'}: cannot run {tmp_path / 'no-sysdig'}: No such file or directory"
    ]
