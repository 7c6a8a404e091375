"""Rule outputs as libsinsp's formatter reads them, and the loader's output check (Falco's
is_format_valid: LOAD_ERR_COMPILE_OUTPUT, or with skip-if-unknown-filter a warning)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from falco_data import FALCO_RULES as RULES
from falco_data import K8SAUDIT_RULES as K8S_AUDIT_RULES
from falco_data import needs_data
from kubeward.runtime.engine import OutputFormat
from kubeward.runtime.fields import FieldSpec, MappedFieldRegistry
from kubeward.runtime.fields.base import FieldRegistry
from kubeward.runtime.fields.k8s_audit import K8sAuditFields
from kubeward.runtime.fields.syscall import SyscallFields
from kubeward.runtime.output_format import (
    OutputFormatError,
    OutputToken,
    is_unknown_field_error,
    output_error,
    parse_output,
)
from kubeward.runtime.rules import LoadMessage, Ruleset, load_rules_files


def registry(*names: str, keyed: tuple[str, ...] = ()) -> MappedFieldRegistry:
    def factory(name: str) -> Callable[[str | None], Callable[[object], Any]]:
        return lambda arg: lambda event: None

    specs = [FieldSpec(n, "string", factory(n)) for n in names]
    specs += [FieldSpec(n, "string", factory(n), arg="key") for n in keyed]
    return MappedFieldRegistry("syscall", specs)


def tokens(parts: list[str | OutputToken[Any]]) -> list[str | tuple[str, int, int, int]]:
    return [p if isinstance(p, str) else (p.text, p.width, p.start, p.end) for p in parts]


# -- the tokenizer -------------------------------------------------------------------------------


def test_tokens_literals_widths_and_arguments() -> None:
    reg = registry("proc.name", "fd.name", "evt.type", keyed=("evt.arg",))
    parts = parse_output("*A %proc.name %10evt.type [%evt.arg[0]] %fd.name.", reg)
    assert tokens(parts) == [
        "A ",
        ("proc.name", 0, 2, 12),
        " ",
        ("evt.type", 10, 13, 24),
        " [",
        ("evt.arg[0]", 0, 26, 37),
        "] ",
        ("fd.name", 0, 39, 47),
        ".",
    ]
    field = parts[1]
    assert isinstance(field, OutputToken) and field.field.name == "proc.name"


def test_the_longest_known_name_wins() -> None:
    reg = registry("ka.target.name", "ka.target", "ka.verb")
    parts = parse_output("%ka.target.name/%ka.target.x %ka.verb", reg)
    assert tokens(parts) == [
        ("ka.target.name", 0, 0, 15),
        "/",
        ("ka.target", 0, 16, 26),
        ".x ",
        ("ka.verb", 0, 29, 37),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty formatting token"),
        ("open by %", "invalid formatting syntax: formatting cannot end with a %"),
        ("open by %12", "invalid formatting syntax: formatting cannot end with a number"),
        ("An open was seen %not_a_real_field", "invalid formatting token not_a_real_field"),
        ("x %nope (y=%proc.name)", "invalid formatting token nope (y=%proc.name)"),
        ("x % y", "invalid formatting token  y"),
        ("x %-y", "invalid formatting token -y"),
        ("100%%proc.name", "invalid formatting token %proc.name"),
        ("*%proc.nam", "invalid formatting token proc.nam"),
        ("%evt.arg[0", "invalid formatting token [0: missing ']'"),
        ("%proc.name[1]", "field 'proc.name' does not accept an argument"),
        ("%evt.arg", "field 'evt.arg' requires an argument"),
    ],
)
def test_what_the_formatter_refuses(text: str, message: str) -> None:
    reg = registry("proc.name", keyed=("evt.arg",))
    with pytest.raises(OutputFormatError) as caught:
        parse_output(text, reg)
    assert caught.value.message == message
    assert output_error(text, reg) == message


@pytest.mark.parametrize(
    "text", ["*", "no fields at all", "*%proc.name", "%proc.name: 50%proc.name"]
)
def test_what_the_formatter_accepts(text: str) -> None:
    """libsinsp refuses an empty string only: ``*`` alone is an empty format."""
    assert output_error(text, registry("proc.name")) is None


def test_which_errors_skip_if_unknown_filter_covers() -> None:
    assert is_unknown_field_error("invalid formatting token nope")
    assert is_unknown_field_error("filter_check called with nonexistent field x")
    assert is_unknown_field_error("unknown event type x")
    assert not is_unknown_field_error("invalid formatting syntax: formatting cannot end with a %")
    assert not is_unknown_field_error("field 'proc.name' does not accept an argument")


@needs_data
def test_it_reads_falcos_outputs_as_the_engine_renders_them() -> None:
    """Every output of Falco's rules tokenizes to the fields the engine's OutputFormat
    renders, with kubeward's real registries."""
    paths = [
        RULES / "falco_rules.yaml",
        RULES / "falco-incubating_rules.yaml",
        RULES / "falco-sandbox_rules.yaml",
        K8S_AUDIT_RULES / "k8s_audit_rules.yaml",
    ]
    registries: dict[str, FieldRegistry] = {
        "syscall": SyscallFields(),
        "k8s_audit": K8sAuditFields(),
    }
    ruleset = load_rules_files(paths)
    assert len(ruleset.rules) == 141
    for rule in ruleset.rules.values():
        reg = registries[rule.source]
        parts = parse_output(rule.output, reg)
        fields = [p.field for p in parts if isinstance(p, OutputToken)]
        assert fields == list(OutputFormat(rule.output, reg).fields), rule.name


# -- the loader's check ----------------------------------------------------------------------------


def load(tmp_path: Path, text: str, **kwargs: Any) -> Ruleset:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rules_files([path], **kwargs)


def codes(messages: list[LoadMessage]) -> list[tuple[str, str, str, str]]:
    return [(m.code, m.item_type, m.item_name, m.message) for m in messages]


def rule(name: str, output: str, *, condition: str = "evt.type = open", extra: str = "") -> str:
    return (
        f"- rule: {name}\n  desc: d\n  condition: {condition}\n  output: {output}\n"
        f"  priority: WARNING\n{extra}"
    )


SYSCALL = {"syscall": SyscallFields()}


def test_an_invalid_output_is_a_load_error_with_a_registry(tmp_path: Path) -> None:
    text = rule("good", '"%proc.name %evt.arg.flags"') + rule("bad", '"seen %proc.nobody"')
    ruleset = load(tmp_path, text, fields=SYSCALL)
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_COMPILE_OUTPUT", "rule", "bad", "invalid formatting token proc.nobody")
    ]
    assert ruleset.errors[0].line == 6
    # without a registry, outputs are left to the engine
    assert load(tmp_path, text).errors == []


def test_a_syntax_error_of_the_output_is_an_error_even_with_skip(tmp_path: Path) -> None:
    extra = "  skip-if-unknown-filter: true\n"
    ruleset = load(tmp_path, rule("r", '"cut %"', extra=extra), fields=SYSCALL)
    assert codes(ruleset.errors) == [
        (
            "LOAD_ERR_COMPILE_OUTPUT",
            "rule",
            "r",
            "invalid formatting syntax: formatting cannot end with a %",
        )
    ]


def test_skip_if_unknown_filter_skips_a_rule_with_an_unknown_output_field(
    tmp_path: Path,
) -> None:
    extra = "  skip-if-unknown-filter: true\n"
    text = rule("skipped", '"%proc.nobody"', extra=extra) + rule("kept", '"%proc.name"')
    ruleset = load(tmp_path, text, fields=SYSCALL)
    assert ruleset.errors == []
    assert list(ruleset.rules) == ["kept"]
    assert codes(ruleset.warnings) == [
        ("LOAD_UNKNOWN_FILTER", "rule", "skipped", "invalid formatting token proc.nobody")
    ]


def test_the_output_is_checked_before_the_condition(tmp_path: Path) -> None:
    """Falco validates a rule's output before it parses and compiles its condition."""
    text = rule("r", '"%nope"', condition="evt.type = = open")
    assert [m.code for m in load(tmp_path, text, fields=SYSCALL).errors] == [
        "LOAD_ERR_COMPILE_OUTPUT"
    ]
    assert [m.code for m in load(tmp_path, text).errors] == ["LOAD_ERR_COMPILE_CONDITION"]


def test_outputs_use_the_registry_of_the_rules_source(tmp_path: Path) -> None:
    extra = "  source: k8s_audit\n"
    fields = {"syscall": SyscallFields(), "k8s_audit": K8sAuditFields()}
    good = rule(
        "audit", '"%ka.user.name %ka.target.name/x"', condition="ka.verb = get", extra=extra
    )
    assert load(tmp_path, good, fields=fields).errors == []
    bad = rule("audit", '"%proc.name"', condition="ka.verb = get", extra=extra)
    assert codes(load(tmp_path, bad, fields=fields).errors) == [
        ("LOAD_ERR_COMPILE_OUTPUT", "rule", "audit", "invalid formatting token proc.name")
    ]
    # a source without a registry is not checked
    assert load(tmp_path, bad, fields=SYSCALL).errors == []


def test_an_appended_output_is_checked_whole(tmp_path: Path) -> None:
    text = rule("r", '"%proc.name"') + (
        "- rule: r\n  output: and %proc.nobody\n  override:\n    output: append\n"
    )
    ruleset = load(tmp_path, text, fields=SYSCALL)
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_COMPILE_OUTPUT", "rule", "r", "invalid formatting token proc.nobody")
    ]
