"""The Falco rules loader against Falco's own rule files and test specs, and its edge cases."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from falco_data import FALCO_RULES as RULES
from falco_data import FALCO_TESTS, needs_data
from falco_data import K8SAUDIT_RULES as K8S_AUDIT_RULES
from kubeward.runtime import rules_read
from kubeward.runtime.condition import compile_condition, parse_condition
from kubeward.runtime.fields import FieldSpec, MappedFieldRegistry
from kubeward.runtime.fields.k8s_audit import K8sAuditFields
from kubeward.runtime.fields.syscall import SyscallFields
from kubeward.runtime.rules import (
    LoadMessage,
    PluginRequirement,
    RulesError,
    Ruleset,
    load_rules_files,
    substitute_lists,
)

NO_EVTTYPE = "Rule matches too many evt.type values. This has a significant performance penalty."
APPEND_DEPRECATED = (
    "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') "
    "under 'override' instead."
)


def load(tmp_path: Path, *texts: str, **kwargs: Any) -> Ruleset:
    """Write each text to its own file (1.yaml, 2.yaml ...) and load them in order."""
    paths = []
    for number, text in enumerate(texts, 1):
        path = tmp_path / f"{number}.yaml"
        path.write_text(text)
        paths.append(path)
    return load_rules_files(paths, **kwargs)


def codes(messages: list[LoadMessage]) -> list[tuple[str, str, str, str]]:
    return [(m.code, m.item_type, m.item_name, m.message) for m in messages]


def syscall_registry(*names: str) -> MappedFieldRegistry:
    """A stand-in for the syscall field registry (runtime/fields/syscall.py is not written
    yet): string fields read from an event dict keyed by field name."""

    def factory(name: str) -> Callable[[str | None], Callable[[object], Any]]:
        return lambda arg: lambda event: event.get(name) if isinstance(event, dict) else None

    return MappedFieldRegistry("syscall", [FieldSpec(n, "string", factory(n)) for n in names])


# -- 1. the falcosecurity rules files ------------------------------------------------------------

REAL_FILES = [
    (RULES / "falco_rules.yaml", 25, 87, 49),
    (RULES / "falco-incubating_rules.yaml", 31, 82, 54),
    (RULES / "falco-sandbox_rules.yaml", 37, 183, 60),
    (K8S_AUDIT_RULES / "k8s_audit_rules.yaml", 48, 45, 18),
]


@needs_data
@pytest.mark.parametrize(
    ("path", "rules", "macros", "lists"), REAL_FILES, ids=[p.name for p, *_ in REAL_FILES]
)
def test_falcosecurity_rules_files_load_clean(
    path: Path, rules: int, macros: int, lists: int
) -> None:
    ruleset = load_rules_files([path])
    assert ruleset.errors == []
    assert ruleset.warnings == []
    assert (len(ruleset.rules), len(ruleset.macros), len(ruleset.lists)) == (rules, macros, lists)


@needs_data
def test_falcosecurity_rules_files_load_together() -> None:
    ruleset = load_rules_files([path for path, *_ in REAL_FILES])
    assert ruleset.errors == []
    assert ruleset.warnings == []
    assert len(ruleset.rules) == 25 + 31 + 37 + 48
    assert ruleset.required_engine_version == "0.57.0"
    assert ruleset.required_plugin_versions[0] == (PluginRequirement("container", "0.4.0"),)
    shell = ruleset.rules["Terminal shell in container"]
    assert (shell.priority, shell.source, shell.enabled, shell.line) == (
        "Notice",
        "syscall",
        True,
        713,
    )
    assert shell.tags == ("T1059", "container", "maturity_stable", "mitre_execution", "shell")
    assert ruleset.rules["Create Disallowed Pod"].source == "k8s_audit"
    # every condition, as Falco hands it to its parser, parses
    for name in ruleset.rules:
        parse_condition(ruleset.expanded_condition(name))
    for name in ruleset.macros:
        parse_condition(ruleset.expanded_macro(name))


# -- 2. Falco's test specs (test/falco_tests*.yaml) ----------------------------------------------

# Spec cases whose expectation needs more than the loader; the reason is the test's record.
# (None left: every spec case runs below.)
NOT_COVERED: dict[str, str] = {}
# Spec cases checked with a small stand-in syscall registry: the loader checks condition
# fields and outputs only when given a registry (test_falco_spec_cases_with_real_registries
# runs every case with kubeward's real registries too).
FIELD_CASES = {
    "validate_skip_unknown_noevt": ("evt.type",),
    "skip_unknown_error": ("evt.type",),
    "skip_unknown_unspec_error": ("evt.type",),
    "rule_exception_unknown_fields": ("evt.type", "proc.name", "fd.filename"),
    "invalid_rule_output": ("evt.type",),
}
# Messages whose wording comes from another library: the code, item and line are compared.
LIBRARY_MESSAGES = {
    # yaml-cpp's "illegal map value" is PyYAML's "mapping values are not allowed here"
    "invalid_yaml_parse_error": "YAML error at line 1, column 11: ",
}
# Falco 0.35 (the specs) named LOAD_UNKNOWN_FILTER LOAD_UNKNOWN_FIELD.
RENAMED_CODES = {"LOAD_UNKNOWN_FIELD": "LOAD_UNKNOWN_FILTER"}


class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node))


def _spec_cases() -> list[Any]:
    if not FALCO_TESTS.is_dir():
        return []
    cases = []
    for spec in ("falco_tests.yaml", "falco_tests_exceptions.yaml", "falco_tests_plugins.yaml"):
        with open(FALCO_TESTS / spec) as handle:
            document = yaml.load(handle, Loader=_MuxLoader)
        for name, case in document["trace_files"].items():
            if "validate_rules_file" in case:
                cases.append(pytest.param(name, case, id=name))
    return cases


ALL_SPEC_CASES = _spec_cases()
# not skipped but left out: the strict test command turns every skip into a failure
SPEC_CASES = [param for param in ALL_SPEC_CASES if param.values[0] not in NOT_COVERED]


def _matches(message: LoadMessage, expected: dict[str, str], name: str) -> bool:
    code = RENAMED_CODES.get(expected["code"], expected["code"])
    if (message.code, message.item_type, message.item_name) != (
        code,
        expected["item_type"],
        expected["item_name"],
    ):
        return False
    if name in LIBRARY_MESSAGES:
        return message.message.startswith(LIBRARY_MESSAGES[name])
    if "message_contains" in expected:
        return expected["message_contains"] in message.message
    return message.message == expected["message"]


@needs_data
def test_spec_cases_are_all_accounted_for() -> None:
    """43 spec cases load rules files; all 43 run below."""
    names = {param.values[0] for param in ALL_SPEC_CASES}
    assert len(names) == 43
    assert set(NOT_COVERED) | set(FIELD_CASES) | set(LIBRARY_MESSAGES) <= names
    assert NOT_COVERED == {}
    assert len(SPEC_CASES) == 43


@needs_data
@pytest.mark.parametrize(("name", "case"), SPEC_CASES)
def test_falco_spec_case(name: str, case: dict[str, Any]) -> None:
    files = case["validate_rules_file"]
    paths = [FALCO_TESTS / p for p in ([files] if isinstance(files, str) else files)]
    kwargs: dict[str, Any] = {}
    if name in FIELD_CASES:
        kwargs["fields"] = {"syscall": syscall_registry(*FIELD_CASES[name])}
    ruleset = load_rules_files(paths, **kwargs)
    _check_spec_case(name, case, ruleset)


def _check_spec_case(name: str, case: dict[str, Any], ruleset: Ruleset) -> None:
    expected_errors = case.get("validate_errors", [])
    # Falco stops at a file's first error: exactly the expected errors, nothing else
    assert len(ruleset.errors) == len(expected_errors), ruleset.errors
    for expected in expected_errors:
        assert any(_matches(e, expected, name) for e in ruleset.errors), (expected, ruleset.errors)
    for expected in case.get("validate_warnings", []):
        assert any(_matches(w, expected, name) for w in ruleset.warnings), (
            expected,
            ruleset.warnings,
        )
    # files the spec calls valid load without errors on their own
    for ok in case.get("validate_ok", []):
        assert load_rules_files([FALCO_TESTS / "rules" / ok]).errors == []


@needs_data
def test_falco_spec_cases_with_real_registries() -> None:
    """Every spec case loads or fails the same with kubeward's real field registries, which
    check every condition field and every rule output of the files."""
    assert len(ALL_SPEC_CASES) == 43
    for param in ALL_SPEC_CASES:
        name, case = param.values
        files = case["validate_rules_file"]
        paths = [FALCO_TESTS / p for p in ([files] if isinstance(files, str) else files)]
        fields = {"syscall": SyscallFields(), "k8s_audit": K8sAuditFields()}
        _check_spec_case(name, case, load_rules_files(paths, fields=fields))


@needs_data
def test_spec_no_evttype_warnings_are_exactly_falcos() -> None:
    """The spec lists the rules Falco warns about; no other rule of the file is warned."""
    ruleset = load_rules_files([FALCO_TESTS / "rules" / "falco_rules_warnings.yaml"])
    warned = [w.item_name for w in ruleset.warnings if w.code == "LOAD_NO_EVTTYPE"]
    assert warned == [
        "no_evttype",
        "evttype_not_equals",
        "leading_not",
        "not_equals_at_end",
        "not_at_end",
        "not_equals_and_not",
        "leading_in_not_equals_at_evttype",
        "not_with_evttypes",
        "not_with_evttypes_addl",
    ]
    assert {w.message for w in ruleset.warnings} == {NO_EVTTYPE}


@needs_data
def test_list_loop_expands_one_level() -> None:
    """The loop expands one level, leaving the word list_a, which names no event type."""
    ruleset = load_rules_files([FALCO_TESTS / "rules" / "invalid_list_loop.yaml"])
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_COMPILE_CONDITION", "rule", "sample rule", "unknown event type list_a")
    ]
    assert ruleset.errors[0].line == 13
    assert ruleset.lists == {"list_a": ["list_a"], "list_b": ["list_b"]}
    assert ruleset.expanded_macro("macro_a") == "evt.type in ( list_a )"


@needs_data
def test_skip_unknown_filter_drops_the_rule() -> None:
    path = FALCO_TESTS / "rules" / "skip_unknown_evt.yaml"
    ruleset = load_rules_files([path], fields={"syscall": syscall_registry("evt.type")})
    assert ruleset.rules == {}
    assert codes(ruleset.warnings) == [
        (
            "LOAD_UNKNOWN_FILTER",
            "rule",
            "Contains Unknown Event And Skipping",
            "filter_check called with nonexistent field proc.nobody",
        )
    ]


# -- exceptions: the condition text Falco builds, and the behaviour the specs expect ------------

CAT = "(evt.type=open and proc.name=cat)"
NAME = "(( proc.name = not-cat))"
SECOND_VALUE = (
    f"{CAT} and not (( proc.name = not-cat and proc.cmdline = not-cat) or "
    '( proc.name = cat and proc.cmdline = "cat /dev/null"))'
)
PNAME_NOT = '(( proc.name = not-cat and proc.cmdline = "cat /dev/null" and proc.pname = bash))'
PNAME = '(( proc.name = cat and proc.cmdline = "cat /dev/null" and proc.pname = bash))'
SECOND_ITEM = (
    f'{CAT} and not {NAME} and not (( proc.name = cat and proc.cmdline = "cat /dev/null"))'
)
THIRD_ITEM = (
    f"{CAT} and not {NAME} and not (( proc.name = not-cat and "
    f'proc.cmdline = "cat /dev/null")) and not {PNAME}'
)
LISTREF = f"{CAT} and not (( proc.name = cat and proc.cmdline in (cat_cmdlines)))"
EXCEPTION_CONDITIONS = {
    "rule_exception_no_values": CAT,
    "rule_exception_one_value": f"{CAT} and not (( proc.name = cat))",
    "rule_exception_append_one_value": f"{CAT} and not (( proc.name = cat) or ( proc.name = cat))",
    "rule_exception_second_value": SECOND_VALUE,
    "rule_exception_append_second_value": SECOND_VALUE,
    "rule_exception_second_item": f"{SECOND_ITEM} and not {PNAME_NOT}",
    "rule_exception_append_second_item": f"{SECOND_ITEM} and not {PNAME_NOT}",
    "rule_exception_third_item": THIRD_ITEM,
    "rule_exception_append_third_item": THIRD_ITEM,
    "rule_exception_quoted": SECOND_VALUE,
    "rule_exception_append_multiple": (
        f"{CAT} and not (( proc.name = not-cat) or ( proc.name = cat))"
    ),
    "rule_exception_comp": f"{CAT} and not (( proc.name contains cat))",
    "rule_exception_append_comp": f"{CAT} and not (( proc.name contains cat))",
    "rule_exception_values_listref": LISTREF,
    "rule_exception_values_listref_noparens": LISTREF,
    "rule_exception_values_list": (
        f'{CAT} and not (( proc.name = cat and proc.cmdline in ("cat /dev/zero", "cat /dev/null")))'
    ),
    "rule_exception_single_field": (
        f'{CAT} and not (proc.cmdline in ("cat /dev/zero", "cat /dev/null"))'
    ),
    "rule_exception_single_field_append": (
        f'{CAT} and not (proc.cmdline in ("cat /dev/zero", "cat /dev/null"))'
    ),
    "rule_exception_new_single_field_append": f'{CAT} and not (proc.cmdline in ("cat /dev/null"))',
    "rule_exception_new_second_field_append": (
        f'{CAT} and not (proc.cmdline in ("cat /dev/zero")) '
        'and not (proc.cmdline in ("cat /dev/null"))'
    ),
}
EXCEPTION_FILES = {
    "rule_exception_append_multiple_values": "rule_exception_append_multiple",
}


def _exception_detect_cases() -> list[Any]:
    if not FALCO_TESTS.is_dir():
        return []
    with open(FALCO_TESTS / "falco_tests_exceptions.yaml") as handle:
        document = yaml.load(handle, Loader=_MuxLoader)
    return [
        pytest.param(name, case, id=name)
        for name, case in document["trace_files"].items()
        if "rules_file" in case
    ]


@needs_data
@pytest.mark.parametrize(("name", "case"), _exception_detect_cases())
def test_exception_spec_condition_and_detection(name: str, case: dict[str, Any]) -> None:
    """The exact condition Falco builds for the rule, and the spec's detect/no-detect for the
    cat_write.scap event it was written for (cat /dev/null, parent bash)."""
    (rules_file,) = case["rules_file"]
    assert Path(rules_file).stem == EXCEPTION_FILES.get(name, name)
    ruleset = load_rules_files([FALCO_TESTS / rules_file])
    assert ruleset.errors == []
    assert (
        ruleset.effective_condition("Open From Cat") == EXCEPTION_CONDITIONS[Path(rules_file).stem]
    )
    registry = syscall_registry("evt.type", "proc.name", "proc.cmdline", "proc.pname")
    predicate = compile_condition(
        parse_condition(ruleset.expanded_condition("Open From Cat")),
        macros={},
        lists=ruleset.lists,
        fields=registry,
    )
    event = {
        "evt.type": "open",
        "proc.name": "cat",
        "proc.cmdline": "cat /dev/null",
        "proc.pname": "bash",
    }
    assert predicate(event) is case["detect"]


@needs_data
def test_exception_listref_is_substituted_like_a_list() -> None:
    ruleset = load_rules_files(
        [FALCO_TESTS / "rules" / "exceptions" / "rule_exception_values_listref.yaml"]
    )
    assert ruleset.expanded_condition("Open From Cat") == (
        f'{CAT} and not (( proc.name = cat and proc.cmdline in ( "cat /dev/zero", '
        '"cat /dev/null" )))'
    )
    rule = ruleset.rules["Open From Cat"]
    (exception,) = rule.exceptions
    assert (exception.name, exception.fields, exception.comps, exception.values) == (
        "proc_name_cmdline",
        ("proc.name", "proc.cmdline"),
        ("=", "in"),
        (("cat", "(cat_cmdlines)"),),
    )
    assert ruleset.exception_condition(rule) == (
        "and not (( proc.name = cat and proc.cmdline in (cat_cmdlines)))"
    )


def test_exception_defaults_and_value_shapes(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        """
- rule: r
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
    - name: one_field
      fields: proc.name
      values: [a, "b c", "'d e'"]
    - name: two_fields
      fields: [proc.name, fd.name]
      comps: [=, pmatch]
      values:
        - [x y, /tmp]
        - [z, (my_prefixes)]
    - name: empty
      fields: [proc.name]
""",
    )
    assert ruleset.errors == []
    one, two, empty = ruleset.rules["r"].exceptions
    assert (one.comps, two.comps, empty.comps) == ("in", ("=", "pmatch"), ("=",))
    assert ruleset.effective_condition("r") == (
        "(evt.type=open) and not (proc.name in (a, \"b c\", 'd e')) and not "
        '(( proc.name = "x y" and fd.name pmatch (/tmp)) or '
        "( proc.name = z and fd.name pmatch (my_prefixes)))"
    )


def test_malformed_exception_values_fail_at_validation(tmp_path: Path) -> None:
    text = """
- rule: r
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
    - name: ex
      fields: proc.name
      values: [[a, b]]
"""
    ruleset = load(tmp_path, text)
    assert codes(ruleset.errors) == [
        (
            "LOAD_ERR_VALIDATE",
            "exception",
            "ex",
            "Expected values array to contain a list of strings",
        )
    ]
    assert ruleset.errors[0].line == 8
    with pytest.raises(RulesError, match="Expected values array to contain a list of strings"):
        ruleset.effective_condition("r")


@pytest.mark.parametrize(
    ("exception", "message"),
    [
        ("fields: proc.name\n      comps: [in]", "Fields and comps must both be strings"),
        (
            "fields: proc.name\n      comps: '='",
            "When fields is a single value, comps must be one of (in, pmatch, intersects)",
        ),
        ("fields:", "Rule exception item must have fields property with a list of fields"),
        ("fields: [a.b]\n      values: 3", "Rule exception values must be a sequence"),
    ],
)
def test_exception_validation_errors(tmp_path: Path, exception: str, message: str) -> None:
    text = f"""
- rule: r
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
    - name: ex
      {exception}
"""
    ruleset = load(tmp_path, text)
    assert [(e.item_type, e.item_name, e.message) for e in ruleset.errors] == [
        ("exception", "ex", message)
    ]


def test_appending_to_an_existing_exception_takes_values_only(tmp_path: Path) -> None:
    base = """
- rule: r
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
    - name: ex
      fields: [proc.name]
"""
    ruleset = load(
        tmp_path,
        base,
        "- rule: r\n  exceptions:\n    - name: ex\n      fields: [fd.name]\n"
        "      values: [[a]]\n  append: true\n",
    )
    assert codes(ruleset.errors) == [
        (
            "LOAD_ERR_VALIDATE",
            "exception",
            "ex",
            "Can not append exception fields to existing exception, only values",
        )
    ]
    ruleset = load(
        tmp_path,
        base,
        "- rule: r\n  exceptions:\n    - name: ex\n  override:\n    exceptions: append\n",
    )
    assert ruleset.errors == []
    assert codes(ruleset.warnings) == [
        (
            "LOAD_APPEND_NO_VALUES",
            "exception",
            "ex",
            "Overriding/appending exception with no values",
        )
    ]


def test_duplicate_exception_names_warn(tmp_path: Path) -> None:
    text = """
- rule: r
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
    - name: ex
      fields: proc.name
    - name: ex
      fields: fd.name
"""
    ruleset = load(tmp_path, text)
    assert ruleset.errors == []
    assert codes(ruleset.warnings) == [
        (
            "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
            "exception",
            "ex",
            "Multiple definitions of exception 'ex' in the same rule",
        )
    ]


def test_exception_fields_are_checked_with_a_registry(tmp_path: Path) -> None:
    text = """
- rule: r
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
    - name: ex
      fields: [proc.name, "proc.aname[2]"]
"""
    registry = syscall_registry("evt.type", "proc.name")
    ruleset = load(tmp_path, text, fields={"syscall": registry})
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_VALIDATE", "exception", "ex", "'proc.aname[2]' is not a supported filter field")
    ]
    # fields of other sources are not checked against the syscall registry
    ruleset = load(tmp_path, text.replace("INFO", "INFO\n  source: k8s_audit"), fields={})
    assert ruleset.errors == []


# -- lists, macros and their text substitution --------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expanded"),
    [
        # the list_sub_* specs of Falco's test suite: bare, front, middle, end, whitespace
        ("proc.name=cat_binaries", "proc.name= cat "),
        ("proc.name in (cat_binaries, ps)", "proc.name in ( cat , ps)"),
        ("proc.name in (ls, cat_binaries, ps)", "proc.name in (ls, cat , ps)"),
        ("proc.name in (ls, cat_binaries)", "proc.name in (ls, cat )"),
        ("proc.name= cat_binaries or proc.name=nopey", "proc.name= cat or proc.name=nopey"),
        # not between delimiters: not a list reference (list_substring spec)
        ("fd.name in (file_cat_binaries)", "fd.name in (file_cat_binaries)"),
        ('proc.name="cat_binaries"', 'proc.name="cat_binaries"'),
    ],
)
def test_list_substitution_is_falcos_text_substitution(condition: str, expanded: str) -> None:
    assert substitute_lists(condition, {"cat_binaries": ["cat"]})[0] == expanded


def test_empty_list_and_quoted_items() -> None:
    lists = {"empty": [], "spaced": ["a b", '"c d"', "e"]}
    # an empty list takes one neighbouring comma with it
    assert substitute_lists("x in (a, empty)", lists) == ("x in (a  )", {"empty"})
    assert substitute_lists("x in (empty, a)", lists) == ("x in (   a)", {"empty"})
    assert substitute_lists("x in (spaced)", lists)[0] == 'x in ( "a b", "c d", e )'


def test_lists_expand_earlier_lists_one_level(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        """
- list: a
  items: [x]
- list: b
  items: [a, later]
- list: c
  items: [b]
- list: later
  items: [y]
- macro: m
  condition: proc.name in (c, b)
- rule: r
  desc: d
  condition: evt.type=open and m
  output: o
  priority: INFO
""",
    )
    assert ruleset.errors == []
    # b names a (earlier: expanded) and later (defined after b: kept as a word); c gets b's
    # own items, one level deep, as Falco's compile_list_infos does
    assert ruleset.lists == {"a": ["x"], "b": ["x", "later"], "c": ["a", "later"], "later": ["y"]}
    # text substitution runs in list order, so a word naming a later list is replaced too
    assert ruleset.expanded_macro("m") == "proc.name in ( a, y , x, y )"


def test_list_append_and_override(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        "- list: l\n  items: [a]\n",
        "- list: l\n  items: [b]\n  append: true\n",
        "- list: l\n  items: [c]\n  override:\n    items: append\n",
    )
    assert ruleset.lists == {"l": ["a", "b", "c"]}
    # the first file is validated before the second is read
    assert [w.code for w in ruleset.warnings] == ["LOAD_UNUSED_LIST", "LOAD_DEPRECATED_ITEM"]
    ruleset = load(
        tmp_path,
        "- list: l\n  items: [a]\n",
        "- list: l\n  items: [z]\n  override:\n    items: replace\n",
    )
    assert ruleset.lists == {"l": ["z"]}
    ruleset = load(tmp_path, "- list: l\n  items: [a]\n  override:\n    items: append\n")
    assert codes(ruleset.errors) == [
        (
            "LOAD_ERR_VALIDATE",
            "list",
            "l",
            "List uses 'append' or 'override.items: append' but no list by that name already "
            "exists",
        )
    ]


def test_macro_append_override_and_visibility(tmp_path: Path) -> None:
    rule = "- rule: r\n  desc: d\n  condition: evt.type=open and m\n  output: o\n  priority: INFO\n"
    ruleset = load(
        tmp_path,
        "- macro: m\n  condition: proc.name=a\n" + rule,
        "- macro: m\n  condition: or proc.name=b\n  override:\n    condition: append\n",
    )
    assert ruleset.errors == []
    assert ruleset.macros == {"m": "proc.name=a or proc.name=b"}
    # a macro sees only macros defined before it
    text = "- macro: m\n  condition: later\n- macro: later\n  condition: proc.name=a\n"
    ruleset = load(tmp_path, text)
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_VALIDATE", "macro", "m", "Undefined macro 'later' used in filter.")
    ]
    # a rule sees every macro, whatever the order
    ruleset = load(tmp_path, rule + "- macro: m\n  condition: proc.name=a\n")
    assert ruleset.errors == []
    assert ruleset.warnings == []


def test_unused_lists_and_macros_warn(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        """
- list: used_by_list
  items: [a]
- list: used
  items: [used_by_list]
- list: unused
  items: [b]
- macro: inner
  condition: proc.name in (used)
- macro: outer
  condition: inner
- macro: lonely
  condition: proc.name=x
- rule: r
  desc: d
  condition: evt.type=open and outer
  output: o
  priority: INFO
""",
    )
    assert ruleset.errors == []
    assert [(w.code, w.item_name, w.line) for w in ruleset.warnings] == [
        ("LOAD_UNUSED_MACRO", "lonely", 12),
        ("LOAD_UNUSED_LIST", "unused", 6),
    ]


# -- rules: definition, append, override, enabled -------------------------------------------------

RULE = """
- rule: r
  desc: first
  condition: evt.type=open
  output: "  out %proc.name  "
  priority: WaRnInG
  tags: [b, a, b]
"""


def test_rule_fields_and_defaults(tmp_path: Path) -> None:
    ruleset = load(tmp_path, RULE)
    rule = ruleset.rules["r"]
    assert (rule.desc, rule.condition, rule.output, rule.priority) == (
        "first",
        "evt.type=open",
        "out %proc.name",
        "Warning",
    )
    assert (rule.source, rule.tags, rule.enabled, rule.exceptions) == (
        "syscall",
        ("a", "b"),
        True,
        (),
    )
    assert (rule.warn_evttypes, rule.skip_if_unknown_filter, rule.line) == (True, False, 2)
    assert ruleset.effective_condition("r") == "evt.type=open"


@pytest.mark.parametrize(
    ("written", "priority"),
    [
        ("EMERGENCY", "Emergency"),
        ("alert", "Alert"),
        ("Critical", "Critical"),
        ("error", "Error"),
        ("notice", "Notice"),
        ("info", "Informational"),
        ("INFORMATIONAL", "Informational"),
        ("debug", "Debug"),
    ],
)
def test_priorities_are_case_insensitive(tmp_path: Path, written: str, priority: str) -> None:
    ruleset = load(tmp_path, RULE.replace("WaRnInG", written))
    assert ruleset.rules["r"].priority == priority


def test_invalid_priority(tmp_path: Path) -> None:
    ruleset = load(tmp_path, RULE.replace("WaRnInG", "loud"))
    assert codes(ruleset.errors) == [("LOAD_ERR_YAML_VALIDATE", "rule", "r", "Invalid priority")]


def test_later_files_redefine_rules_in_place(tmp_path: Path) -> None:
    second = RULE.replace("- rule: r", "- rule: s")
    ruleset = load(tmp_path, RULE + second, RULE.replace("first", "again"))
    assert list(ruleset.rules) == ["r", "s"]
    assert ruleset.rules["r"].desc == "again"
    assert ruleset.rules["r"].file == str(tmp_path / "2.yaml")


def test_rule_override_append_and_replace(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        RULE,
        """
- rule: r
  condition: and proc.name=cat
  output: "(more)"
  desc: two
  tags: [c]
  priority: debug
  enabled: false
  warn_evttypes: false
  skip-if-unknown-filter: true
  override:
    condition: append
    output: append
    desc: append
    tags: append
    priority: replace
    enabled: replace
    warn_evttypes: replace
    skip-if-unknown-filter: replace
""",
    )
    assert ruleset.errors == []
    rule = ruleset.rules["r"]
    assert (rule.condition, rule.output, rule.desc, rule.tags) == (
        "evt.type=open and proc.name=cat",
        "out %proc.name (more)",
        "first two",
        ("a", "b", "c"),
    )
    assert (rule.priority, rule.enabled, rule.warn_evttypes, rule.skip_if_unknown_filter) == (
        "Debug",
        False,
        False,
        True,
    )
    ruleset = load(
        tmp_path,
        RULE,
        "- rule: r\n  condition: evt.type=close\n  tags: []\n"
        "  override:\n    condition: replace\n    tags: replace\n",
    )
    assert (ruleset.rules["r"].condition, ruleset.rules["r"].tags) == ("evt.type=close", ())


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "- rule: r\n  source: x\n  override:\n    source: replace\n",
            "Key 'source' cannot be replaced",
        ),
        (
            "- rule: r\n  priority: info\n  override:\n    priority: append\n",
            "Key 'priority' cannot be appended to, use 'replace' instead",
        ),
        (
            "- rule: r\n  desc: x\n  override:\n    desc: merge\n",
            "Invalid override operation for key 'desc': 'merge'. "
            "Allowed values are: append replace ",
        ),
        (
            "- rule: r\n  override:\n    desc: append\n",
            "An append override for 'desc' was specified but 'desc' is not defined",
        ),
        (
            "- rule: r\n  desc: x\n  output: y\n  override:\n    desc: append\n",
            "Unexpected key 'output': no corresponding entry under 'override' is defined.",
        ),
        (
            "- rule: r\n  desc: x\n  append: true\n  override:\n    desc: append\n",
            "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry "
            "(e.g. 'condition: append') under 'override' instead.",
        ),
        ("- rule: r\n  override: append\n", "Value of override must be a mapping"),
    ],
)
def test_rule_override_errors(tmp_path: Path, item: str, message: str) -> None:
    ruleset = load(tmp_path, RULE, item)
    assert [(e.item_type, e.item_name, e.message) for e in ruleset.errors] == [
        ("rule", "r", message)
    ]


def test_override_and_append_need_an_existing_rule(tmp_path: Path) -> None:
    ruleset = load(tmp_path, "- rule: x\n  desc: d\n  override:\n    desc: replace\n")
    assert [e.message for e in ruleset.errors] == [
        "An 'override.<key>: replace' to a rule was requested but no rule by that name already "
        "exists"
    ]
    ruleset = load(tmp_path, "- rule: x\n  desc: d\n  override:\n    desc: append\n")
    assert [e.message for e in ruleset.errors] == [
        "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"
    ]


def test_standalone_enabled(tmp_path: Path) -> None:
    ruleset = load(tmp_path, RULE, "- rule: r\n  enabled: false\n")
    assert ruleset.rules["r"].enabled is False
    assert codes(ruleset.warnings) == [
        (
            "LOAD_DEPRECATED_ITEM",
            "rule",
            "r",
            "The standalone 'enabled' key usage is deprecated. The correct approach requires "
            "also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').",
        )
    ]
    ruleset = load(tmp_path, "- rule: nope\n  enabled: true\n")
    assert [e.message for e in ruleset.errors] == [
        "Rule has 'enabled' key but no rule by that name already exists"
    ]
    ruleset = load(tmp_path, "- rule: nope\n  tags: [a]\n")
    assert [e.message for e in ruleset.errors] == ["Item has no mapping for key 'enabled'"]


def test_deprecated_rule_append(tmp_path: Path) -> None:
    ruleset = load(tmp_path, RULE, "- rule: r\n  condition: and fd.name=/tmp\n  append: true\n")
    assert ruleset.rules["r"].condition == "evt.type=open and fd.name=/tmp"
    assert codes(ruleset.warnings) == [("LOAD_DEPRECATED_ITEM", "rule", "r", APPEND_DEPRECATED)]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("enabled", "maybe", "Can't decode YAML scalar value"),
        ("enabled", "", "Mapping for key 'enabled' is empty"),
        ("enabled", "[true]", "Value is not a scalar value"),
        ("source", "''", "Value must be non-empty"),
        ("tags", "a", "Value is not a sequence"),
        ("tags", "[[a]]", "sequence value is not scalar"),
    ],
)
def test_rule_value_types(tmp_path: Path, key: str, value: str, message: str) -> None:
    text = RULE.replace("  tags: [b, a, b]\n", "") + f"  {key}: {value}\n"
    ruleset = load(tmp_path, text)
    assert [(e.code, e.item_name, e.message) for e in ruleset.errors] == [
        ("LOAD_ERR_YAML_VALIDATE", "r", message)
    ]


@pytest.mark.parametrize(
    ("written", "enabled"),
    [("true", True), ("True", True), ("TRUE", True), ("yes", True), ("on", True), ("Off", False)],
)
def test_booleans_as_yaml_cpp_reads_them(tmp_path: Path, written: str, enabled: bool) -> None:
    ruleset = load(tmp_path, RULE + f"  enabled: {written}\n")
    assert ruleset.rules["r"].enabled is enabled


def test_unknown_source_rules_are_skipped(tmp_path: Path) -> None:
    text = RULE.replace("priority: WaRnInG", "priority: INFO\n  source: okta")
    ruleset = load(tmp_path, text, "- rule: r\n  condition: and x=1\n  append: true\n")
    assert ruleset.errors == []
    assert ruleset.rules == {}
    assert codes(ruleset.warnings)[0] == (
        "LOAD_UNKNOWN_SOURCE",
        "rule",
        "r",
        "Unknown source okta, skipping",
    )
    ruleset = load(tmp_path, text, sources=("syscall", "okta"))
    assert list(ruleset.rules) == ["r"]
    ruleset = load(tmp_path, RULE, text)
    assert [e.message for e in ruleset.errors] == [
        "Rule has been re-defined with a different source"
    ]


def test_unsafe_na_check_warns_for_k8s_audit_fields(tmp_path: Path) -> None:
    text = """
- macro: no_image
  condition: ka.req.pod.containers.image in (<NA>)
- rule: r
  desc: d
  condition: ka.verb=create and no_image
  output: o
  priority: INFO
  source: k8s_audit
"""
    ruleset = load(tmp_path, text)
    assert ruleset.errors == []
    assert codes(ruleset.warnings) == [
        (
            "LOAD_UNSAFE_NA_CHECK",
            "rule",
            "r",
            "comparing a field value with <NA> is unsafe and can lead to unpredictable behavior "
            "of the rule condition. If you need to check for the existence of a field, consider "
            "using the 'exists' operator instead.",
        )
    ]


def test_no_evttype_warning_respects_warn_evttypes(tmp_path: Path) -> None:
    text = RULE.replace("evt.type=open", "proc.name=cat")
    assert [w.code for w in load(tmp_path, text).warnings] == ["LOAD_NO_EVTTYPE"]
    assert load(tmp_path, text + "  warn_evttypes: false\n").warnings == []


def test_condition_syntax_error_names_the_rule(tmp_path: Path) -> None:
    ruleset = load(tmp_path, RULE.replace("evt.type=open", "evt.type=open and ("))
    assert [(e.code, e.item_type, e.item_name, e.line) for e in ruleset.errors] == [
        ("LOAD_ERR_COMPILE_CONDITION", "rule", "r", 2)
    ]


EXPECT_CHECK = "expected a '(' token, a field check, or an identifier"
EXPECT_VALUE = (
    "expected a string value or a field with a valid transformer: "
    "'val', 'tolower', 'toupper', 'b64', 'basename', 'len'"
)


def _rule(condition_yaml: str, extra: str = "") -> str:
    return (
        f"- rule: r\n  desc: d\n  condition: {condition_yaml}\n  output: o\n  priority: INFO\n"
        + extra
    )


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        # plain scalar: offset 22 is the "k" after the second "and", column 14 + 22
        (
            _rule("proc.name = a and and ka.user.name = b"),
            "unexpected token after 'and', expecting 'or', 'and'",
            (22, 3, 36),
        ),
        # folded and literal block scalars: the line below the header, indentation skipped
        (_rule(">\n    proc.name = a\n    and )"), EXPECT_CHECK, (18, 5, 9)),
        (_rule("|\n    proc.name = a\n      and )"), EXPECT_CHECK, (20, 5, 11)),
        # quoted scalars: '' is one quote; a double-quoted escape cannot be placed
        (_rule("'proc.name = ''x'' and ('"), EXPECT_CHECK, (21, 3, 38)),
        (_rule('"proc.name = \\"x\\" and ("'), EXPECT_CHECK, (21, None, None)),
        # nothing after the operator: just after the last character
        (_rule("proc.name ="), EXPECT_VALUE, (11, 3, 25)),
        # the condition as written fails: the offset is in it, although Falco parses more
        (
            _rule("proc.name in (l) and )") + "- list: l\n  items: [a, b]\n",
            EXPECT_CHECK,
            (21, 3, 35),
        ),
        (
            _rule(
                "proc.name = a and (",
                "  exceptions:\n  - name: e\n    fields: proc.name\n    values: [b]\n",
            ),
            EXPECT_CHECK,  # Falco's message, for the text it parses
            (19, 3, 33),
        ),
        # only what Falco parses fails (a list item breaks it): the offset is in that text
        (
            _rule("proc.name in (l)") + "- list: l\n  items: [')']\n",
            "unexpected token after ')', expecting 'or', 'and'",
            (17, None, None),  # in "proc.name in ( ) )"
        ),
        # replaced: the replacement is placed; appended: the text is not one scalar
        (
            _rule("proc.name = a")
            + "- rule: r\n  condition: proc.name = (\n  override:\n    condition: replace\n",
            EXPECT_VALUE,
            (12, 7, 26),
        ),
        (
            _rule("proc.name = a")
            + "- rule: r\n  condition: and )\n  override:\n    condition: append\n",
            EXPECT_CHECK,
            (18, None, None),
        ),
    ],
)
def test_condition_syntax_error_position(
    tmp_path: Path, text: str, message: str, where: tuple[int, int | None, int | None]
) -> None:
    """A syntax error carries the offset in the condition and, when the condition is one
    scalar of the file, the file line and column of that offset."""
    (error,) = load(tmp_path, text).errors
    assert (error.code, error.item_name, error.message) == (
        "LOAD_ERR_COMPILE_CONDITION",
        "r",
        message,
    )
    assert (error.position, error.position_line, error.position_column) == where


def test_macro_syntax_error_position(tmp_path: Path) -> None:
    text = "- macro: m\n  condition: >\n    proc.name = a\n    and and b\n"
    assert load(tmp_path, text).errors == [
        LoadMessage(
            "LOAD_ERR_COMPILE_CONDITION",
            "unexpected token after 'and', expecting 'or', 'and'",
            str(tmp_path / "1.yaml"),
            "macro",
            "m",
            1,
            position=22,
            position_line=4,
            position_column=13,
        )
    ]
    # other errors carry no position
    (error,) = load(tmp_path, "- macro: m\n  condition: nope\n").errors
    assert (error.code, error.position, error.position_line) == ("LOAD_ERR_VALIDATE", None, None)


def test_rules_sharing_a_deep_macro_chain_load_fast(tmp_path: Path) -> None:
    """2,000 rules on a 3,000-deep macro chain: each macro is resolved, checked and summed
    up for event types once, so loading stays fast and the event types are exact."""
    chain = "".join(
        f"- macro: m{i}\n  condition: (m{i - 1} and proc.name != x{i})\n" for i in range(1, 3000)
    )
    rules = "".join(
        f"- rule: r{r}\n  desc: d\n  condition: m2999 and proc.pid = {r}\n"
        "  output: o\n  priority: INFO\n"
        for r in range(2000)
    )
    path = tmp_path / "deep.yaml"
    path.write_text("- macro: m0\n  condition: evt.type = open\n" + chain + rules)
    started = time.perf_counter()
    ruleset = load_rules_files(
        [path], fields={"syscall": syscall_registry("proc.name", "proc.pid", "evt.type")}
    )
    elapsed = time.perf_counter() - started
    assert (ruleset.errors, ruleset.warnings) == ([], [])  # no LOAD_NO_EVTTYPE: types are known
    assert (len(ruleset.rules), len(ruleset.macros)) == (2000, 3000)
    assert elapsed < 2


def test_public_names_stay_importable() -> None:
    """The facade keeps every name the engine, the CLI and users import from it."""
    from kubeward.runtime import rules

    assert sorted(name for name in rules.__all__ if not hasattr(rules, name)) == []
    for name in (
        "LOAD_ERR_COMPILE_CONDITION",
        "LOAD_ERR_COMPILE_OUTPUT",
        "LOAD_UNKNOWN_FILTER",
        "LOAD_UNKNOWN_SOURCE",
        "PRIORITIES",
        "RULE",
        "LoadMessage",
        "Rule",
        "RulesError",
        "Ruleset",
        "PluginRequirement",
        "load_rules_files",
        "substitute_lists",
        "quote_item",
        "exception_clauses",
    ):
        assert name in rules.__all__


# -- versions and top-level items ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "required"),
    [("2", "0.2.0"), ("57", "0.57.0"), ("0.31.0", "0.31.0"), ("'0.57.0'", "0.57.0")],
)
def test_required_engine_version(tmp_path: Path, written: str, required: str) -> None:
    ruleset = load(tmp_path, f"- required_engine_version: {written}\n")
    assert (ruleset.errors, ruleset.required_engine_version) == ([], required)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("58", "Rules require engine version 58, but engine version is 0.57.0"),
        ("0.58.0", "Rules require engine version 0.58.0, but engine version is 0.57.0"),
        ("1.0.0", "Rules require engine version 1.0.0, but engine version is 0.57.0"),
    ],
)
def test_engine_version_too_new(tmp_path: Path, written: str, message: str) -> None:
    ruleset = load(tmp_path, f"- required_engine_version: {written}\n")
    assert codes(ruleset.errors) == [("LOAD_ERR_VALIDATE", "required_engine_version", "", message)]


def test_required_plugin_versions(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        """
- required_plugin_versions:
    - name: k8saudit
      version: 0.7.0
      alternatives:
        - name: k8saudit-eks
          version: 0.4.0
    - name: json
      version: 0.7.0
""",
    )
    assert ruleset.errors == []
    assert ruleset.required_plugin_versions == [
        (PluginRequirement("k8saudit", "0.7.0"), PluginRequirement("k8saudit-eks", "0.4.0")),
        (PluginRequirement("json", "0.7.0"),),
    ]
    ruleset = load(tmp_path, "- required_plugin_versions:\n    - name: x\n      version: latest\n")
    assert codes(ruleset.errors) == [
        (
            "LOAD_ERR_VALIDATE",
            "required plugin versions entry",
            "x",
            "Invalid required version 'latest' for plugin 'x'",
        )
    ]


def test_unknown_top_level_item_is_a_warning(tmp_path: Path) -> None:
    ruleset = load(tmp_path, "- whatever: 1\n- list: l\n  items: []\n")
    assert ruleset.errors == []
    assert codes(ruleset.warnings)[0] == (
        "LOAD_UNKNOWN_ITEM",
        "rules content item",
        "",
        "Unknown top level item",
    )


def test_invalid_names_are_warnings(tmp_path: Path) -> None:
    text = "- list: 'a b'\n  items: []\n- macro: a-b\n  condition: proc.name=a\n"
    ruleset = load(tmp_path, text)
    assert ruleset.errors == []
    assert [(w.code, w.item_name) for w in ruleset.warnings][:2] == [
        ("LOAD_INVALID_LIST_NAME", "a b"),
        ("LOAD_INVALID_MACRO_NAME", "a-b"),
    ]


def test_a_file_stops_at_its_first_error_and_later_files_still_load(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        "- list: before\n  items: [a]\n- list: bad\n- list: after\n  items: [b]\n",
        "- list: next_file\n  items: [c]\n",
    )
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_YAML_VALIDATE", "list", "bad", "Item has no mapping for key 'items'")
    ]
    assert list(ruleset.lists) == ["before", "next_file"]


@needs_data
def test_directories_load_their_files_in_name_order() -> None:
    ruleset = load_rules_files([FALCO_TESTS / "rules" / "rules_dir"])
    assert ruleset.errors == []
    assert list(ruleset.rules) == ["open_from_cat", "exec_from_cat", "access_from_cat"]


# -- hostile and broken input ----------------------------------------------------------------------


def test_empty_and_null_documents_are_fine(tmp_path: Path) -> None:
    ruleset = load(tmp_path, "", "---\n---\n- ~\n")
    assert (ruleset.errors, ruleset.warnings, ruleset.rules) == ([], [], {})


def test_yaml_parse_error_names_the_line(tmp_path: Path) -> None:
    ruleset = load(tmp_path, "- list: a\n  items: [a\n- list: b\n")
    (error,) = ruleset.errors
    assert (error.code, error.item_type, error.line) == ("LOAD_ERR_YAML_PARSE", "rules content", 3)


def test_alias_bomb_is_refused_by_the_node_budget(tmp_path: Path) -> None:
    levels = ["- list: l0\n  items: &a0 [x, x, x, x, x, x, x, x, x, x]\n"]
    for i in range(1, 8):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        levels.append(f"- list: l{i}\n  items: &a{i} [{refs}]\n")
    ruleset = load(tmp_path, "".join(levels))
    assert codes(ruleset.errors) == [
        (
            "LOAD_ERR_YAML_PARSE",
            "rules content",
            "",
            "Rules content expands to more than 200000 YAML nodes",
        )
    ]


def test_small_aliases_are_allowed(tmp_path: Path) -> None:
    ruleset = load(tmp_path, "- list: a\n  items: &x [p, q]\n- list: b\n  items: *x\n")
    assert ruleset.errors == []
    assert ruleset.lists == {"a": ["p", "q"], "b": ["p", "q"]}


def test_recursive_alias_and_deep_nesting(tmp_path: Path) -> None:
    ruleset = load(tmp_path, "- &x [*x]\n")
    assert [e.message for e in ruleset.errors] == ["Recursive YAML alias"]
    ruleset = load(tmp_path, "[" * 100 + "]" * 100)
    assert [e.message for e in ruleset.errors] == ["YAML nesting deeper than 64 levels"]


def test_huge_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules_read, "MAX_RULES_FILE_SIZE", 1024 * 1024)
    ruleset = load(tmp_path, "#" * (1024 * 1024 + 1))
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_FILE_READ", "rules content", "", "Rules file is larger than 1 MiB")
    ]


def test_unreadable_inputs(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"- list: \xff\n")
    ruleset = load_rules_files([tmp_path / "missing.yaml", fifo, binary])
    assert [(e.code, e.message) for e in ruleset.errors] == [
        ("LOAD_ERR_FILE_READ", "Could not open file: No such file or directory"),
        ("LOAD_ERR_FILE_READ", "Could not open file: not a regular file"),
        ("LOAD_ERR_YAML_PARSE", "Rules content is not UTF-8 text (byte 8)"),
    ]


def test_macro_reference_chains_are_bounded(tmp_path: Path) -> None:
    chain = "".join(f"- macro: m{i}\n  condition: m{i - 1}\n" for i in range(1, 3000))
    ruleset = load(tmp_path, "- macro: m0\n  condition: proc.name=a\n" + chain)
    assert ruleset.errors == []
    assert [w.item_name for w in ruleset.warnings] == ["m2999"]


def test_exponential_macro_expansion_is_bounded(tmp_path: Path) -> None:
    # `top` is appended after m1..m24 exist, so it sees them unresolved; each doubles the work
    levels = [f"- macro: m{i}\n  condition: m{i + 1} or m{i + 1}\n" for i in range(1, 24)]
    text = (
        "- macro: top\n  condition: proc.name=a\n"
        + "".join(levels)
        + "- macro: m24\n  condition: proc.name=b\n"
        + "- macro: top\n  condition: or m1\n  append: true\n"
    )
    ruleset = load(tmp_path, text)
    assert codes(ruleset.errors) == [
        ("LOAD_ERR_VALIDATE", "macro", "top", "Macro expansion takes more than 100000 steps")
    ]
