"""The evt.type names table and the loader's "unknown event type" check (libsinsp's
validate_filter_value): syscall rules only, every value whatever the operator, first failure
in Falco's visit order, skip-if-unknown-filter honoured."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from falco_data import FALCO_RULES as RULES
from falco_data import FALCO_TESTS, needs_data
from falco_data import K8SAUDIT_RULES as K8S_AUDIT_RULES
from kubeward.runtime.condition import (
    And,
    Compare,
    ConditionSyntaxError,
    Expr,
    Ident,
    ListLiteral,
    Not,
    Or,
    parse_condition,
)
from kubeward.runtime.event_types import is_event_type, known_event_types, unknown_event_type
from kubeward.runtime.fields.k8s_audit import K8sAuditFields
from kubeward.runtime.fields.syscall import SyscallFields
from kubeward.runtime.rules import LoadMessage, RulesError, Ruleset, load_rules_files
from scriptmod import load_script

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, text: str, **kwargs: object) -> Ruleset:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rules_files([path], **kwargs)  # type: ignore[arg-type]


def codes(messages: list[LoadMessage]) -> list[tuple[str, str, str, str]]:
    return [(m.code, m.item_type, m.item_name, m.message) for m in messages]


def rule(name: str, condition: str, *, source: str = "syscall", extra: str = "") -> str:
    return (
        f"- rule: {name}\n  desc: d\n  condition: {condition}\n  output: o\n"
        f"  priority: WARNING\n  source: {source}\n{extra}"
    )


# -- the table -----------------------------------------------------------------------------------


def test_table_has_syscalls_of_every_architecture_and_libsinsp_events() -> None:
    names = known_event_types()
    syscalls = ("execve", "execveat", "open", "openat", "openat2", "mkdirat", "clone3")
    i386 = ("socketcall", "_llseek", "stat64", "mmap2")
    arm64 = ("renameat", "fstatat64")
    libsinsp = ("procexit", "container", "switch", "signaldeliver", "pluginevent")
    more = ("asyncevent", "k8s", "mesos", "notification", "infra", "page_fault", "syscall")
    tracepoints = ("sched_process_exit", "sched_switch", "page_fault_user", "signal_deliver")
    for name in (*syscalls, *i386, *arm64, *libsinsp, *more, *tracepoints, "pread", "prlimit"):
        assert name in names, name
    for name in ("list_a", "", "OPEN", "evt.type", "open ", "syscalls", "arch_specific_syscall"):
        assert name not in names, name
    assert is_event_type("execve") and not is_event_type("list_a")
    assert unknown_event_type("list_a") == "unknown event type list_a"
    assert 450 < len(names) < 600


def _generator() -> ModuleType:
    return load_script("gen_event_types")


def test_the_packaged_table_is_the_generators_output() -> None:
    gen = _generator()
    text = gen.OUT_PATH.read_text(encoding="utf-8")
    assert frozenset(gen.LIBSINSP_EVENTS) <= known_event_types()
    assert text.startswith("# Event type names") and "# [libsinsp]\n" in text
    # the headers are only on machines that build the table; where present, it is current
    if all(header.is_file() for header in gen.HEADERS):
        assert gen.render(gen.HEADERS) == text


@needs_data
def test_every_evt_type_value_of_falcos_rules_files_is_known() -> None:
    """No evt.type value of Falco's rules (stable, incubating, sandbox, k8s audit, the test
    rules) is refused, except the one the spec expects (invalid_list_loop)."""
    paths = [
        RULES / "falco_rules.yaml",
        RULES / "falco-incubating_rules.yaml",
        RULES / "falco-sandbox_rules.yaml",
        K8S_AUDIT_RULES / "k8s_audit_rules.yaml",
        *sorted((FALCO_TESTS / "rules").glob("*.yaml")),
    ]
    values: dict[str, str] = {}
    for path in paths:
        ruleset = load_rules_files([path])
        texts = [ruleset.expanded_macro(name) for name in ruleset.macros]
        for name in ruleset.rules:
            try:
                texts.append(ruleset.expanded_condition(name))
            except RulesError:  # a test file's malformed exceptions
                continue
        for text in texts:
            try:
                expr = parse_condition(text)
            except ConditionSyntaxError:  # the test files' syntax errors
                continue
            for node in walk_exprs(expr):
                if isinstance(node, Compare) and node.field.name == "evt.type":
                    for value in _values(node):
                        values.setdefault(value, path.name)
    assert len(values) > 40
    unknown = {value: file for value, file in values.items() if not is_event_type(value)}
    assert unknown == {"list_a": "invalid_list_loop.yaml"}


def walk_exprs(expr: Expr) -> list[Expr]:
    out: list[Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, And | Or):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)
    return out


def _values(node: Compare) -> list[str]:
    if isinstance(node.value, str):
        return [node.value]
    if isinstance(node.value, ListLiteral):
        return [item.name if isinstance(item, Ident) else item for item in node.value.items]
    return []


# -- the loader's check ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("evt.type = opne", "unknown event type opne"),
        ("evt.type in (open, foo, bar)", "unknown event type foo"),
        ('evt.type in ("open", "not one")', "unknown event type not one"),
        ("evt.type != exceve and proc.name = x", "unknown event type exceve"),
        ("evt.type startswith ope", "unknown event type ope"),
        ("not evt.type intersects (open, OPEN)", "unknown event type OPEN"),
        ("proc.name = x or evt.type pmatch (a)", "unknown event type a"),
    ],
)
def test_an_unknown_event_type_is_a_compile_error(
    tmp_path: Path, condition: str, message: str
) -> None:
    ruleset = load(tmp_path, rule("r", condition))
    assert codes(ruleset.errors) == [("LOAD_ERR_COMPILE_CONDITION", "rule", "r", message)]
    assert ruleset.errors[0].line == 1


@pytest.mark.parametrize(
    "condition",
    [
        "evt.type in (open, openat, openat2, execve, execveat, procexit, container)",
        "evt.type = switch or evt.type = signaldeliver or evt.type = pluginevent",
        "evt.type exists",
        "evt.type = val(proc.name)",
        "tolower(evt.type) = OPEN_NOT_CHECKED",
        "evt.arg[0] = not_an_event and evt.type.is.open = 1",
        "proc.name = list_a",
    ],
)
def test_known_or_unchecked_values_load(tmp_path: Path, condition: str) -> None:
    ruleset = load(tmp_path, rule("r", condition))
    assert ruleset.errors == []
    assert list(ruleset.rules) == ["r"]


def test_a_macro_is_checked_where_a_rule_uses_it(tmp_path: Path) -> None:
    text = (
        "- macro: bad\n  condition: evt.type = nope\n"
        "- macro: unused_bad\n  condition: evt.type = nope_either\n"
        + rule("first", "proc.name = a")
        + rule("second", "proc.name = b and bad")
    )
    ruleset = load(tmp_path, text)
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_COMPILE_CONDITION", "rule", "second", "unknown event type nope")
    ]


def test_the_first_problem_in_visit_order_is_reported(tmp_path: Path) -> None:
    fields = {"syscall": SyscallFields()}
    first_type = load(tmp_path, rule("r", "evt.type = nope and proc.nobody = x"), fields=fields)
    assert [m.message for m in first_type.errors] == ["unknown event type nope"]
    first_field = load(tmp_path, rule("r", "proc.nobody = x and evt.type = nope"), fields=fields)
    assert [m.message for m in first_field.errors] == [
        "filter_check called with nonexistent field proc.nobody"
    ]


def test_skip_if_unknown_filter_skips_the_rule_with_a_warning(tmp_path: Path) -> None:
    text = rule("skipped", "evt.type = nope", extra="  skip-if-unknown-filter: true\n")
    text += rule("kept", "evt.type = open")
    ruleset = load(tmp_path, text)
    assert ruleset.errors == []
    assert list(ruleset.rules) == ["kept"]
    assert codes(ruleset.warnings) == [
        ("LOAD_UNKNOWN_FILTER", "rule", "skipped", "unknown event type nope")
    ]


def test_exceptions_are_checked_as_part_of_the_condition(tmp_path: Path) -> None:
    extra = (
        "  exceptions:\n    - name: types\n      fields: evt.type\n      comps: in\n"
        "      values: [open, not_a_type]\n"
    )
    ruleset = load(tmp_path, rule("r", "evt.type = open", extra=extra))
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_COMPILE_CONDITION", "rule", "r", "unknown event type not_a_type")
    ]


def test_other_sources_have_no_event_type_check(tmp_path: Path) -> None:
    """k8s_audit (a plugin source) has no evt.type table: nothing is checked, with or
    without its registry (which has no evt.type field to compare)."""
    text = rule("audit", "ka.verb = create and evt.type = anything", source="k8s_audit")
    assert load(tmp_path, text).errors == []
    with_fields = load(tmp_path, text, fields={"k8s_audit": K8sAuditFields()})
    assert [m.message for m in with_fields.errors] == [
        "filter_check called with nonexistent field evt.type"
    ]
    other = load(tmp_path, rule("aws", "evt.type = anything", source="aws_cloudtrail"))
    assert other.errors == []
