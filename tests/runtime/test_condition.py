"""The Falco condition language: parser (AST, errors, positions), compiler and evaluation."""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from falco_data import FALCO_RULES, K8S_AUDIT_RULES_FILE
from kubeward.runtime.condition import (
    MAX_CONDITION_CHARS,
    MAX_PARSE_DEPTH,
    And,
    Compare,
    CompileError,
    ConditionSyntaxError,
    EventTypeResolver,
    Expr,
    FieldRef,
    Ident,
    ListLiteral,
    Not,
    Or,
    compile_condition,
    event_types,
    expand_macros,
    flatten_list,
    glob_to_regex,
    parse_condition,
    referenced_names,
)
from kubeward.runtime.fields.base import Field, UnknownFieldError

RULE_FILES = [*sorted(FALCO_RULES.glob("*.yaml")), K8S_AUDIT_RULES_FILE]

F = FieldRef
I = Ident  # noqa: E741
L = ListLiteral

TRANSFORMERS = "'val', 'tolower', 'toupper', 'b64', 'basename', 'len'"
EXPECT_STRING = f"expected a string value or a field with a valid transformer: {TRANSFORMERS}"
EXPECT_NUMBER = f"expected a number value or a field with a valid transformer: {TRANSFORMERS}"
EXPECT_LIST = f"expected a list, an identifier, or a field with a valid transformer: {TRANSFORMERS}"
OPERATORS = (
    "'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', "
    "'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'"
)
EXPECT_OPERATOR = f"expected a valid check operator: one of {OPERATORS}"


class DictFields:
    """A registry over dict events: the value of field ``name[arg]`` is ``event["name[arg]"]``."""

    source = "test"

    def __init__(self, types: Mapping[str, str], default: str | None = None) -> None:
        self.types = types
        self.default = default

    def resolve(self, name: str, arg: str | None) -> Field:
        key = name if arg is None else f"{name}[{arg}]"
        type_ = self.types.get(name, self.default)
        if type_ is None:
            raise UnknownFieldError(key)
        return Field(key, type_, lambda event: event.get(key))  # type: ignore[attr-defined]


FIELDS = DictFields(
    {
        "proc.name": "string",
        "proc.pname": "string",
        "proc.cmdline": "string",
        "proc.aname": "string",
        "fd.name": "string",
        "user.name": "string",
        "evt.type": "string",
        "evt.arg": "string",
        "jevt.value": "string",
        "proc.pid": "int",
        "evt.count": "int",
        "evt.is_open": "bool",
        "ka.groups": "list",
        "ka.other": "list",
        "fd.sip": "ipaddr",
        "fd.cip": "ipaddr",
        "fd.snet": "ipnet",
        "evt.buffer": "bytes",
    }
)


def compiled(
    condition: str,
    *,
    macros: Mapping[str, str] | None = None,
    lists: Mapping[str, Sequence[str]] | None = None,
    fields: Any = FIELDS,
) -> Callable[[object], bool]:
    return compile_condition(
        parse_condition(condition),
        macros={name: parse_condition(text) for name, text in (macros or {}).items()},
        lists=lists or {},
        fields=fields,
    )


# ---------------------------------------------------------------------------------------------
# Parsing: the AST


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("proc.name = bash", Compare(F("proc.name"), "=", "bash")),
        ("proc.name == bash", Compare(F("proc.name"), "==", "bash")),
        ("proc.name=bash", Compare(F("proc.name"), "=", "bash")),
        ("proc.name != 'a b'", Compare(F("proc.name"), "!=", "a b")),
        ("proc.pid < 5", Compare(F("proc.pid"), "<", "5")),
        ("proc.pid <= 5", Compare(F("proc.pid"), "<=", "5")),
        ("proc.pid > -1.5e+3", Compare(F("proc.pid"), ">", "-1.5e+3")),
        ("proc.pid >= 0x1F", Compare(F("proc.pid"), ">=", "0x1F")),
        ("fd.name contains /etc", Compare(F("fd.name"), "contains", "/etc")),
        ("fd.name icontains ETC", Compare(F("fd.name"), "icontains", "ETC")),
        ("evt.buffer bcontains CAFE", Compare(F("evt.buffer"), "bcontains", "CAFE")),
        ("fd.name startswith /etc", Compare(F("fd.name"), "startswith", "/etc")),
        ("evt.buffer bstartswith 00", Compare(F("evt.buffer"), "bstartswith", "00")),
        ("fd.name endswith .conf", Compare(F("fd.name"), "endswith", ".conf")),
        ("fd.name glob '/etc/*'", Compare(F("fd.name"), "glob", "/etc/*")),
        ("fd.name iglob /ETC/*", Compare(F("fd.name"), "iglob", "/ETC/*")),
        ("fd.name regex '^/etc/.*'", Compare(F("fd.name"), "regex", "^/etc/.*")),
        (
            "proc.name in (bash, 'sh', \"z sh\")",
            Compare(F("proc.name"), "in", L((I("bash"), "sh", "z sh"))),
        ),
        ("proc.name in(a,b)", Compare(F("proc.name"), "in", L((I("a"), I("b"))))),
        ("proc.name intersects (a)", Compare(F("proc.name"), "intersects", L((I("a"),)))),
        (
            "fd.name pmatch (/etc, /var/run)",
            Compare(F("fd.name"), "pmatch", L((I("/etc"), I("/var/run")))),
        ),
        ("proc.name in ()", Compare(F("proc.name"), "in", L(()))),
        ("proc.name in ( )", Compare(F("proc.name"), "in", L(()))),
        ("proc.name in shell_binaries", Compare(F("proc.name"), "in", L((I("shell_binaries"),)))),
        ("proc.name exists", Compare(F("proc.name"), "exists")),
        ("evt.dir = <", Compare(F("evt.dir"), "=", "<")),
        ("fd.name = /a/b:c[0]", Compare(F("fd.name"), "=", "/a/b:c[0]")),
        ("evt.arg.flags = x", Compare(F("evt.arg.flags"), "=", "x")),
        # field arguments
        ("proc.aname[2] = bash", Compare(F("proc.aname", "2"), "=", "bash")),
        (
            "ka.req.pod.containers.image[0] = nginx",
            Compare(F("ka.req.pod.containers.image", "0"), "=", "nginx"),
        ),
        ("evt.arg[0] = x", Compare(F("evt.arg", "0"), "=", "x")),
        (
            "jevt.value[/user/username] startswith system:",
            Compare(F("jevt.value", "/user/username"), "startswith", "system:"),
        ),
        ('jevt.value["/a b"] = x', Compare(F("jevt.value", "/a b"), "=", "x")),
        # transformers, innermost first
        ("tolower(proc.name) = x", Compare(F("proc.name", None, ("tolower",)), "=", "x")),
        (
            "toupper( b64( proc.name ) ) = x",
            Compare(F("proc.name", None, ("b64", "toupper")), "=", "x"),
        ),
        (
            "len(ka.req.pod.containers.image[0]) > 1",
            Compare(F("ka.req.pod.containers.image", "0", ("len",)), ">", "1"),
        ),
        ("basename(fd.name) exists", Compare(F("fd.name", None, ("basename",)), "exists")),
        # fields on the right
        ("proc.name = val(proc.pname)", Compare(F("proc.name"), "=", F("proc.pname"))),
        ("proc.pid > val( proc.ppid )", Compare(F("proc.pid"), ">", F("proc.ppid"))),
        (
            "proc.name = tolower(proc.pname)",
            Compare(F("proc.name"), "=", F("proc.pname", None, ("tolower",))),
        ),
        ("proc.name in val(proc.pname)", Compare(F("proc.name"), "in", F("proc.pname"))),
        # quoted strings and their escapes
        (r'fd.name = "a\"b"', Compare(F("fd.name"), "=", 'a"b')),
        (r"fd.name = 'a\'b'", Compare(F("fd.name"), "=", "a'b")),
        (r'fd.name = "a\\b"', Compare(F("fd.name"), "=", "a\\b")),
        (r'fd.name = "\n\t\r\b\f\/"', Compare(F("fd.name"), "=", "\n\t\r\b\f/")),
        (r'fd.name = "a\ b"', Compare(F("fd.name"), "=", "a\\b")),  # libsinsp's legacy escape
        ('fd.name = "it\'s"', Compare(F("fd.name"), "=", "it's")),
        ("fd.name = ''", Compare(F("fd.name"), "=", "")),
    ],
)
def test_parse_comparisons(text: str, expected: Expr) -> None:
    assert parse_condition(text) == expected


A, B, C = I("a"), I("b"), I("c")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", A),
        ("not", I("not")),  # no blank after it: an identifier, as in libsinsp
        ("a or b and not c", Or((A, And((B, Not(C)))))),
        ("not a and b", And((Not(A), B))),
        ("not a or b", Or((Not(A), B))),
        ("(a or b) and c", And((Or((A, B)), C))),
        ("a and b and c", And((A, B, C))),
        ("a or b or c", Or((A, B, C))),
        ("a and (b and c)", And((A, And((B, C))))),
        ("a and(b or c)", And((A, Or((B, C))))),
        ("a or(b)", Or((A, B))),
        ("not(a)", Not(A)),
        ("not (a)", Not(A)),
        ("not not a", A),
        ("not not not a", Not(A)),
        ("not not(a)", A),
        ("((a))", A),
        ("a\n  and\n\tb\r\n", And((A, B))),
        ("notable", I("notable")),
        ("a and not_b", And((A, I("not_b")))),
        (
            "spawned_process and proc.name in (shell_binaries) and not container",
            And(
                (
                    I("spawned_process"),
                    Compare(F("proc.name"), "in", L((I("shell_binaries"),))),
                    Not(I("container")),
                )
            ),
        ),
    ],
)
def test_parse_boolean_structure(text: str, expected: Expr) -> None:
    assert parse_condition(text) == expected


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "filter input string is empty"),
        ("a and", 5, "expected blank or '(' after 'and'"),
        ("a or", 4, "expected blank or '(' after 'or'"),
        ("a oregon", 4, "expected blank or '(' after 'or'"),
        ("a andy", 5, "expected blank or '(' after 'and'"),
        ("(a", 2, "expected a ')' token"),
        ("a)", 1, "unexpected token after 'a', expecting 'or', 'and'"),
        ("a.b = c d", 8, "unexpected token after 'c', expecting 'or', 'and'"),
        ("proc.name = bash)", 16, "unexpected token after 'bash', expecting 'or', 'and'"),
        ("123", 0, "expected a '(' token, a field check, or an identifier"),
        ("a and 'x'", 6, "expected a '(' token, a field check, or an identifier"),
        ("proc.name", 9, EXPECT_OPERATOR),
        ("proc.name ~ x", 10, EXPECT_OPERATOR),
        # libsinsp consumes an operator word even when no blank follows it
        ("proc.name containsx", 18, EXPECT_OPERATOR),
        ("proc.name = ", 12, EXPECT_STRING),
        ("proc.pid > abc", 11, EXPECT_NUMBER),
        ("proc.name in", 12, EXPECT_LIST),
        ("proc.name in (a,)", 16, "expected a string value"),
        ("proc.name in (a b)", 16, "expected a ')' token"),
        ("proc.name in (a", 15, "expected a ')' token"),
        ("proc.aname[2 = x", 12, "expected a ']' token"),
        ("proc.aname[] = x", 11, "expected a valid field argument: a quoted string or a bare string"),  # noqa: E501
        ("tolower(proc.name = x", 18, "expected a ')' token closing the transformer"),
        ("tolower(x) = y", 8, f"expected a field or a nested valid transformer: {TRANSFORMERS}"),
        ("proc.name = val(x)", 16, "expected a field within 'val' transformer"),
        ("proc.name = val(a.b", 19, "expected a ')' token closing the transformer"),
        (r'proc.name = "a\qb"', 18, "unsupported string escape sequence: \\q"),
        (r"proc.name = 'a\"b'", 18, "invalid \\\" escape in '-quoted string"),
        (r'proc.name = "a\'b"', 18, "invalid \\' escape in \"-quoted string"),
        ("proc.name = 'abc", 12, EXPECT_STRING),
        # an escaped backslash before the quote still escapes it in libsinsp's scan
        (r"proc.name = 'a\\'", 12, EXPECT_STRING),
        ("proc.name = 'a\0' or b", 12, EXPECT_STRING),
    ],
)  # fmt: skip
def test_syntax_errors_name_the_position(text: str, position: int, message: str) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text)
    assert (caught.value.position, caught.value.message) == (position, message)
    assert str(caught.value) == f"{message} (at position {position})"


def test_parse_depth_and_size_caps() -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition("(" * 300 + "a" + ")" * 300)
    assert caught.value.message == f"exceeded max depth limit of {MAX_PARSE_DEPTH}"
    assert caught.value.position == 100  # five parse levels per parenthesis
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition("a" * (MAX_CONDITION_CHARS + 1))
    assert (caught.value.position, caught.value.message) == (
        0,
        f"filter input string is longer than {MAX_CONDITION_CHARS} characters",
    )
    assert parse_condition("a" * MAX_CONDITION_CHARS) == I("a" * MAX_CONDITION_CHARS)
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(None)  # type: ignore[arg-type]
    assert (caught.value.position, caught.value.message) == (0, "filter input is not a string")


@pytest.mark.parametrize(
    "text",
    [
        "(" * 200_000,
        "not " * 200_000 + "a",
        "a.b in (" + "x, " * 200_000 + "x)",
        'a.b = "' + '\\"' * 300_000 + '"',
        "'" + "\\'" * 400_000,
        "a." * 400_000,
        "a" * 500_000 + ".",
        "a.b = " + "1" * 900_000 + "x",
        "proc.name[" + "x" * 900_000,
        "a and " * 150_000 + "b",
    ],
    ids=lambda text: repr(text[:12]),
)
def test_hostile_inputs_are_fast(text: str) -> None:
    started = time.perf_counter()
    try:
        parse_condition(text)
    except ConditionSyntaxError as exc:
        assert 0 <= exc.position <= len(text)
    assert time.perf_counter() - started < 5


_TOKENS = [
    "a", "b", "proc.name", "fd.name[1]", "jevt.value[/x]", "=", "==", "!=", "<", ">=", "in",
    "intersects", "pmatch", "contains ", "icontains ", "startswith ", "glob ", "exists", "and",
    "or", "not", "not(", "(", ")", ",", " ", "\t", "\n", "'q'", '"q q"', "'\\''", "\\", "1",
    "0x1f", "-2.5", "val(", "tolower(", "len(", "b64(", "[", "]", "bash", "/etc", "*", "\0",
]  # fmt: skip


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200) | st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_parser_never_raises_anything_else(text: str) -> None:
    try:
        parse_condition(text)
    except ConditionSyntaxError as exc:
        assert 0 <= exc.position <= len(text)


PERMISSIVE = DictFields({"ka.groups": "list", "fd.sip": "ipaddr", "proc.pid": "int"}, "string")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(_TOKENS), max_size=30).map(" ".join),
    st.dictionaries(
        st.sampled_from(["a", "b", "proc.name", "fd.name[1]", "jevt.value[/x]"]),
        st.none() | st.text(max_size=5),
    ),
)
def test_compiled_conditions_never_raise_anything_else(text: str, event: dict[str, Any]) -> None:
    try:
        expr = parse_condition(text)
    except ConditionSyntaxError:
        return
    try:
        predicate = compile_condition(expr, macros={}, lists={}, fields=PERMISSIVE)
    except CompileError:
        return
    assert predicate(event) in (True, False)


# ---------------------------------------------------------------------------------------------
# Walking: names, macros, lists, event types


def test_referenced_names() -> None:
    expr = parse_condition(
        "m1 and not (proc.name in (shell_binaries, 'quoted', y) or fd.name = val(proc.pname))"
        " and m2 and tolower(user.name) exists"
    )
    assert referenced_names(expr) == (
        frozenset({"m1", "m2"}),
        frozenset({"shell_binaries", "y"}),
        frozenset({"proc.name", "fd.name", "proc.pname", "user.name"}),
    )


def test_expand_macros_replaces_references_recursively() -> None:
    macros = {
        "spawned": parse_condition("evt.type = execve"),
        "shell": parse_condition("spawned and proc.name = bash"),
    }
    assert expand_macros(parse_condition("shell or not spawned"), macros) == Or(
        (
            And(
                (
                    Compare(F("evt.type"), "=", "execve"),
                    Compare(F("proc.name"), "=", "bash"),
                )
            ),
            Not(Compare(F("evt.type"), "=", "execve")),
        )
    )


@pytest.mark.parametrize(
    ("condition", "macros", "name", "message"),
    [
        ("a", {"a": "b", "b": "a"}, "a", "reference loop in macro 'a'"),
        ("x.y = 1 and b", {"a": "b", "b": "a"}, "b", "reference loop in macro 'b'"),
        ("a", {"a": "proc.name = x or a"}, "a", "reference loop in macro 'a'"),
        ("a", {"a": "b", "b": "c", "c": "not a"}, "a", "reference loop in macro 'a'"),
        ("nope and proc.name = x", {}, "nope", "Undefined macro 'nope' used in filter."),
        (
            "a",
            {"a": "proc.name = x and missing"},
            "missing",
            "Undefined macro 'missing' used in filter.",
        ),
    ],
)
def test_macro_errors(condition: str, macros: dict[str, str], name: str, message: str) -> None:
    with pytest.raises(CompileError) as caught:
        compiled(condition, macros=macros)
    assert (caught.value.name, caught.value.message) == (name, message)


def test_lists_flatten_like_falco() -> None:
    lists = {
        "outer": ["x", '"(systemd)"', "inner", "spaced", "80"],
        "inner": ["y", '"a b"', "deeper"],
        "deeper": ["z", "'q'"],
        # Falco quotes an item holding a space, so only then are its escapes decoded
        "spaced": ["two words", "tab\\there", "tab\\there too"],
        "ports": [80, 443],  # YAML integers
        "comma": ["a,b", ""],
        "escaped": ['"x\\ty"', '"bad\\q"', "'a' 'b'"],
    }
    assert flatten_list("outer", lists) == (
        "x",
        "(systemd)",
        "y",
        "a b",
        "z",
        "q",
        "two words",
        "tab\\there",
        "tab\there too",
        "80",
    )
    assert flatten_list("ports", lists) == ("80", "443")  # type: ignore[arg-type]
    # Falco splices items into the condition text: a comma splits one item into two values.
    assert flatten_list("comma", lists) == ("a", "b", "")
    # Items Falco could not parse stay verbatim instead of failing the rule.
    assert flatten_list("escaped", lists) == ("x\ty", '"bad\\q"', "'a' 'b'")


def test_list_reference_cycles_stay_plain_values() -> None:
    lists = {"p": ["q", "1"], "q": ["p", "2"]}
    assert flatten_list("p", lists) == ("p", "2", "1")
    assert flatten_list("q", lists) == ("q", "1", "2")


def test_lists_and_macros_in_conditions() -> None:
    lists = {"shell_binaries": ["bash", "sh", "more_shells"], "more_shells": ["zsh"]}
    macros = {"is_shell": "proc.name in (shell_binaries)", "spawned": "evt.type = execve"}
    predicate = compiled("spawned and is_shell", macros=macros, lists=lists)
    assert predicate({"evt.type": "execve", "proc.name": "zsh"}) is True
    assert predicate({"evt.type": "execve", "proc.name": "more_shells"}) is False
    assert predicate({"evt.type": "open", "proc.name": "bash"}) is False
    # a quoted item is never a list reference; an unknown bare word is itself
    quoted = compiled("proc.name in ('shell_binaries', fish)", lists=lists)
    assert quoted({"proc.name": "shell_binaries"}) is True
    assert quoted({"proc.name": "fish"}) is True
    assert quoted({"proc.name": "bash"}) is False
    bare = compiled("proc.name in shell_binaries", lists=lists)
    assert bare({"proc.name": "sh"}) is True


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("evt.type = execve", {"execve"}),
        ("evt.type == 'execve'", {"execve"}),
        ("evt.type in (execve, execveat) and proc.name = bash", {"execve", "execveat"}),
        ("evt.type = open or evt.type in (openat, openat2)", {"open", "openat", "openat2"}),
        ("evt.type in (open, openat) and evt.type in (openat, close)", {"openat"}),
        ("evt.type = open and evt.type = close", set()),
        ("evt.type intersects (a, b)", {"a", "b"}),
        ("spawned and proc.name = x", {"execve", "execveat"}),
        ("(spawned or opened) and not proc.name = x", {"execve", "execveat", "open"}),
        ("evt.type in (open_types)", {"open", "openat"}),
        ("evt.type = open or proc.name = x", None),
        ("not evt.type = open", None),
        ("not spawned", None),
        ("evt.type != open", None),
        ("evt.type startswith open", None),
        ("tolower(evt.type) = open", None),
        ("evt.type = val(proc.name)", None),
        ("proc.name = bash", None),
        ("unknown_macro", None),
        ("loop_a and proc.name = x", None),
        ("loop_a and evt.type = open", {"open"}),
    ],
)
def test_event_types(condition: str, expected: set[str] | None) -> None:
    macros = {
        name: parse_condition(text)
        for name, text in {
            "spawned": "evt.type in (execve, execveat)",
            "opened": "evt.type = open",
            "loop_a": "loop_b",
            "loop_b": "loop_a",
        }.items()
    }
    lists = {"open_types": ["open", "openat"]}
    result = event_types(parse_condition(condition), macros, lists=lists)
    assert result == (None if expected is None else frozenset(expected))


def test_event_types_without_lists_keeps_list_names() -> None:
    assert event_types(parse_condition("evt.type in (open_types)"), {}) == {"open_types"}


def test_event_types_walks_shared_macros_once() -> None:
    macros = {"m0": parse_condition("evt.type = open")} | {
        f"m{i}": parse_condition(f"m{i - 1} or m{i - 1}") for i in range(1, 200)
    }
    started = time.perf_counter()
    assert event_types(parse_condition("m199"), macros) == {"open"}
    assert time.perf_counter() - started < 1


class CountingMacros(dict[str, Expr]):
    """A macros mapping that counts how often a macro's body is read."""

    reads = 0

    def __getitem__(self, name: str) -> Expr:
        self.reads += 1
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        self.reads += 1
        return super().get(name, default)


def _chain(length: int) -> CountingMacros:
    """m0 is an open; each next macro adds a check to the one before."""
    texts = {"m0": "evt.type = open"} | {
        f"m{i}": f"(m{i - 1} and proc.name != x{i})" for i in range(1, length)
    }
    return CountingMacros({name: parse_condition(text) for name, text in texts.items()})


def test_event_types_read_each_macro_once_for_all_rules() -> None:
    """2,000 rules sharing a 3,000-deep macro chain: the chain is walked once (each body is
    read twice: found, then summed up), without recursion, and the answer is exact."""
    macros = _chain(3000)
    rules = [parse_condition(f"m2999 and proc.pid = {r}") for r in range(2000)]
    started = time.perf_counter()
    assert {event_types(rule, macros) for rule in rules} == {frozenset({"open"})}
    assert time.perf_counter() - started < 2
    assert macros.reads == 2 * 3000
    resolver = EventTypeResolver(macros)
    assert resolver(parse_condition("m1500 or evt.type = close")) == {"open", "close"}
    assert macros.reads == 2 * 3000 + 2 * 1501


def test_event_types_of_a_new_mapping_are_not_the_old_ones() -> None:
    condition = parse_condition("m")
    assert event_types(condition, {"m": parse_condition("evt.type = open")}) == {"open"}
    assert event_types(condition, {"m": parse_condition("evt.type = close")}) == {"close"}
    assert event_types(condition, {}) is None


def test_list_expansion_is_capped() -> None:
    lists = {"l0": ["x"] * 1000} | {f"l{i}": [f"l{i - 1}"] * 10 for i in range(1, 6)}
    with pytest.raises(CompileError) as caught:
        flatten_list("l5", lists)
    assert (caught.value.name, caught.value.message) == (
        "l4",
        "list 'l4' is too large after expansion",
    )
    assert event_types(parse_condition("evt.type in (l5)"), {}, lists=lists) is None


# ---------------------------------------------------------------------------------------------
# Evaluation


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        # equality and order; a missing field makes every comparison false, != included
        ("proc.name = bash", {"proc.name": "bash"}, True),
        ("proc.name == bash", {"proc.name": "bash"}, True),
        ("proc.name = bash", {"proc.name": "bashx"}, False),
        ("proc.name = bash", {}, False),
        ("proc.name != bash", {"proc.name": "sh"}, True),
        ("proc.name != bash", {"proc.name": "bash"}, False),
        ("proc.name != bash", {}, False),
        ("not proc.name = bash", {}, True),
        ("not proc.name != bash", {}, True),
        ("proc.name < 5", {"proc.name": "4"}, True),
        ("proc.name >= 10", {"proc.name": "9"}, True),  # strings compare as strings
        ("proc.name > 5", {}, False),
        # substrings
        ("proc.cmdline contains -c", {"proc.cmdline": "sh -c ls"}, True),
        ("proc.cmdline contains -c", {"proc.cmdline": "sh"}, False),
        ("proc.cmdline contains -c", {}, False),
        ("proc.cmdline contains ''", {"proc.cmdline": ""}, True),
        ("proc.cmdline icontains SECRET", {"proc.cmdline": "cat /my/SeCrEt"}, True),
        ("proc.cmdline icontains e", {"proc.cmdline": "E"}, True),
        ("proc.cmdline icontains 'É'", {"proc.cmdline": "é"}, False),  # ASCII-only, as C
        ("proc.cmdline icontains x", {}, False),
        ("fd.name startswith /etc", {"fd.name": "/etc/shadow"}, True),
        ("fd.name startswith /etc", {"fd.name": "/etcetera"}, True),
        ("fd.name startswith /etc", {"fd.name": "/var/etc"}, False),
        ("fd.name endswith shadow", {"fd.name": "/etc/shadow"}, True),
        ("fd.name endswith shadow", {}, False),
        # an absent or null value holds no text, not even the empty one
        ("fd.name startswith /etc", {"fd.name": None}, False),
        ("fd.name endswith shadow", {"fd.name": None}, False),
        ("proc.cmdline contains -c", {"proc.cmdline": None}, False),
        ("proc.cmdline contains ''", {}, False),
        ("fd.name startswith ''", {}, False),
        ("fd.name startswith ''", {"fd.name": ""}, True),
        ("fd.name endswith ''", {"fd.name": None}, False),
        ("fd.name endswith ''", {"fd.name": "x"}, True),
        # glob: fnmatch(3) without flags
        ("fd.name glob /etc/*", {"fd.name": "/etc/a/b"}, True),
        ("fd.name glob /etc/*", {"fd.name": "/etc"}, False),
        ("fd.name glob '/etc/?'", {"fd.name": "/etc/ab"}, False),
        ("fd.name glob '*.[ch]'", {"fd.name": "x.c"}, True),
        ("fd.name glob '*.[ch]'", {"fd.name": "x.o"}, False),
        ("fd.name glob '[!a]*'", {"fd.name": "abc"}, False),
        ("fd.name glob '[!a]*'", {"fd.name": "bcd"}, True),
        ("fd.name glob '[[:digit:]]?'", {"fd.name": "1a"}, True),
        ("fd.name glob '\\\\*'", {"fd.name": "*"}, True),
        ("fd.name glob '\\\\*'", {"fd.name": "a"}, False),
        ("fd.name glob *rc", {"fd.name": ".bashrc"}, True),
        ("fd.name glob *", {"fd.name": ""}, True),
        ("fd.name glob *", {}, False),
        ("fd.name glob ''", {"fd.name": ""}, True),
        ("fd.name glob *etc*", {"fd.name": "/etc/x"}, True),
        ("fd.name glob a*b*c", {"fd.name": "a-b-c"}, True),
        ("fd.name iglob /ETC/*", {"fd.name": "/etc/x"}, True),
        ("fd.name iglob '[A-Z]x'", {"fd.name": "ax"}, True),
        ("fd.name iglob '[A-Z]x'", {"fd.name": "[x"}, False),
        ("fd.name iglob '[[:upper:]]'", {"fd.name": "a"}, False),  # classes see the raw char
        ("fd.name regex 'ba.h'", {"fd.name": "bash"}, True),
        ("fd.name regex 'ba.h'", {"fd.name": "xbash"}, False),  # the whole value must match
        # sets
        ("proc.name in (bash, sh)", {"proc.name": "sh"}, True),
        ("proc.name in (bash, sh)", {"proc.name": "zsh"}, False),
        ("proc.name in (bash, sh)", {}, False),
        ("proc.name intersects (bash, sh)", {"proc.name": "bash"}, True),
        ("proc.name in ()", {"proc.name": ""}, False),
        ("not proc.name in (bash, sh)", {}, True),
        # pmatch: component-wise path prefixes
        ("fd.name pmatch (/var/run, /etc)", {"fd.name": "/var/run"}, True),
        ("fd.name pmatch (/var/run, /etc)", {"fd.name": "/var/run/docker.sock"}, True),
        ("fd.name pmatch (/var/run, /etc)", {"fd.name": "/var/runx"}, False),
        ("fd.name pmatch (/var/run, /etc)", {"fd.name": "/var"}, False),
        ("fd.name pmatch (/var/run, /etc)", {"fd.name": "/etc//passwd"}, True),
        ("fd.name pmatch (/var/run, /etc)", {"fd.name": "etc/passwd"}, True),
        ("fd.name pmatch (/var/run, /etc)", {"fd.name": "/"}, False),
        ("fd.name pmatch (/var/run, /etc)", {}, False),
        ("fd.name pmatch (/var/run/)", {"fd.name": "/var/run"}, True),
        ("fd.name pmatch (/)", {"fd.name": "/anything/at/all"}, True),
        ("fd.name pmatch ('/var/*/log')", {"fd.name": "/var/x/log/a"}, True),
        ("fd.name pmatch ('/var/*/log')", {"fd.name": "/var/x/y/log"}, False),
        ("fd.name pmatch ()", {"fd.name": "/etc"}, False),
        # exists
        ("proc.name exists", {"proc.name": ""}, True),
        ("proc.name exists", {}, False),
        ("not proc.name exists", {}, True),
        # field arguments are distinct fields
        ("proc.aname[2] = init", {"proc.aname[2]": "init"}, True),
        ("proc.aname[2] = init", {"proc.aname[1]": "init"}, False),
        ("jevt.value[/user/username] = bob", {"jevt.value[/user/username]": "bob"}, True),
    ],
)
def test_string_operators(condition: str, event: dict[str, Any], expected: bool) -> None:
    assert compiled(condition)(event) is expected


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        ("proc.pid = 5", {"proc.pid": 5}, True),
        ("proc.pid = 5", {"proc.pid": 6}, False),
        ("proc.pid = 5", {}, False),
        ("proc.pid != 5", {"proc.pid": 6}, True),
        ("proc.pid != 5", {}, False),
        ("proc.pid > 10", {"proc.pid": 11}, True),
        ("proc.pid > 10", {"proc.pid": 10}, False),
        ("proc.pid >= 10", {"proc.pid": 10}, True),
        ("proc.pid < 10", {"proc.pid": 9}, True),
        ("proc.pid <= -1", {"proc.pid": -3}, True),
        ("proc.pid = +7", {"proc.pid": 7}, True),
        ("proc.pid in (1, 2)", {"proc.pid": 2}, True),
        ("proc.pid in (1, 2)", {"proc.pid": 3}, False),
        ("proc.pid exists", {"proc.pid": 0}, True),
        ("evt.is_open = true", {"evt.is_open": True}, True),
        ("evt.is_open = true", {"evt.is_open": False}, False),
        ("evt.is_open = false", {}, False),
        ("evt.is_open != false", {"evt.is_open": True}, True),
        ("evt.is_open in (true)", {"evt.is_open": True}, True),
        ("fd.sip = 10.0.0.1", {"fd.sip": "10.0.0.1"}, True),
        ("fd.sip = 10.0.0.1", {"fd.sip": "10.0.0.2"}, False),
        ("fd.sip = 10.0.0.1", {}, False),
        ("fd.sip = '::1'", {"fd.sip": "0:0::1"}, True),  # compared as addresses
        ("fd.sip != 10.0.0.1", {"fd.sip": "10.0.0.2"}, True),
        ("fd.sip != 10.0.0.1", {}, False),
        ("fd.sip in (10.0.0.1, '::1')", {"fd.sip": "::1"}, True),
        ("fd.sip in (10.0.0.1, '::1')", {"fd.sip": "10.0.0.9"}, False),
        ("fd.snet in (10.0.0.0/8, 192.168.0.0/16)", {"fd.snet": "10.1.2.3"}, True),
        ("fd.snet in (10.0.0.0/8, 192.168.0.0/16)", {"fd.snet": "11.0.0.1"}, False),
        ("fd.snet in (10.0.0.0/8, 192.168.0.0/16)", {"fd.snet": "::1"}, False),
        ("fd.snet in (10.0.0.0/8, 192.168.0.0/16)", {}, False),
        ("fd.snet in ('::/0')", {"fd.snet": "1.2.3.4"}, False),  # families never mix
        ("fd.snet = 10.0.0.0/8", {"fd.snet": "10.9.9.9"}, True),
        ("fd.snet != 10.0.0.0/8", {"fd.snet": "11.0.0.1"}, True),
        ("fd.snet != 10.0.0.0/8", {}, False),
        ("evt.buffer bcontains 6162", {"evt.buffer": b"xabx"}, True),
        ("evt.buffer bcontains 6162", {"evt.buffer": b"xbax"}, False),
        ("evt.buffer bstartswith 78", {"evt.buffer": b"xab"}, True),
        ("evt.buffer bstartswith 78", {}, False),
        ("evt.buffer contains ab", {"evt.buffer": b"xab"}, True),
        ("evt.buffer = abc", {"evt.buffer": b"abc"}, True),
        ("evt.buffer endswith bc", {"evt.buffer": b"abc"}, True),
    ],
)
def test_typed_fields(condition: str, event: dict[str, Any], expected: bool) -> None:
    assert compiled(condition)(event) is expected


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        # 'in' on a list field: every value is in the set; 'intersects': at least one is
        ("ka.groups in (a, b)", {"ka.groups": ["a"]}, True),
        ("ka.groups in (a, b)", {"ka.groups": ["a", "b"]}, True),
        ("ka.groups in (a, b)", {"ka.groups": ["a", "c"]}, False),
        ("ka.groups intersects (a, b)", {"ka.groups": ["a", "c"]}, True),
        ("ka.groups intersects (a, b)", {"ka.groups": ["c"]}, False),
        # an empty list was not extracted: every check is false, as for a missing field
        ("ka.groups in (a, b)", {"ka.groups": []}, False),
        ("ka.groups intersects (a, b)", {"ka.groups": []}, False),
        ("ka.groups in (a, b)", {}, False),
        ("not ka.groups in (a, b)", {"ka.groups": []}, True),
        ("ka.groups exists", {"ka.groups": []}, False),
        ("ka.groups exists", {"ka.groups": [""]}, True),
        ("ka.groups exists", {}, False),
        ("ka.groups in ()", {"ka.groups": ["a"]}, False),
        ("len(ka.groups) = 2", {"ka.groups": ["a", "b"]}, True),
        ("len(ka.groups) > 0", {"ka.groups": []}, False),
        ("tolower(ka.groups) in (a, b)", {"ka.groups": ["A", "b"]}, True),
        ("ka.groups intersects val(ka.other)", {"ka.groups": ["a", "b"], "ka.other": ["b"]}, True),
        ("ka.groups intersects val(ka.other)", {"ka.groups": ["a"], "ka.other": ["b"]}, False),
        ("ka.groups in val(ka.other)", {"ka.groups": ["a"], "ka.other": ["a", "b"]}, True),
        ("ka.groups in val(ka.other)", {"ka.groups": ["a", "c"], "ka.other": ["a"]}, False),
        ("ka.groups in val(ka.other)", {"ka.groups": ["a"], "ka.other": []}, False),
    ],
)
def test_list_fields(condition: str, event: dict[str, Any], expected: bool) -> None:
    assert compiled(condition)(event) is expected


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        ("tolower(proc.name) = bash", {"proc.name": "BaSh"}, True),
        ("tolower(proc.name) = bash", {}, False),
        ("toupper(proc.name) = BASH", {"proc.name": "bash"}, True),
        ("tolower(proc.name) = 'É'", {"proc.name": "É"}, True),  # ASCII-only, as C
        ("b64(proc.cmdline) = hello", {"proc.cmdline": "aGVsbG8="}, True),
        ("b64(proc.cmdline) = hello", {"proc.cmdline": "aGVsbG8"}, True),
        ("b64(proc.cmdline) = hello", {"proc.cmdline": "!!!"}, False),
        ("b64(proc.cmdline) exists", {"proc.cmdline": "!!!"}, False),  # undecodable = missing
        ("not b64(proc.cmdline) = x", {"proc.cmdline": "!!!"}, True),
        ("b64(evt.buffer) = hi", {"evt.buffer": b"aGk="}, True),
        ("basename(fd.name) = shadow", {"fd.name": "/etc/shadow"}, True),
        ("basename(fd.name) = shadow", {"fd.name": "shadow"}, True),
        ("basename(fd.name) = ''", {"fd.name": "/etc/"}, True),
        ("len(proc.name) = 4", {"proc.name": "bash"}, True),
        ("len(proc.name) = 2", {"proc.name": "é"}, True),  # UTF-8 bytes, as strlen
        ("len(proc.name) > 3", {}, False),
        ("len(evt.buffer) = 3", {"evt.buffer": b"abc"}, True),
        ("toupper(basename(fd.name)) = SHADOW", {"fd.name": "/etc/shadow"}, True),
        ("len(b64(proc.cmdline)) = 5", {"proc.cmdline": "aGVsbG8="}, True),
        ("proc.name = tolower(proc.pname)", {"proc.name": "bash", "proc.pname": "BASH"}, True),
        # val(): both sides are extracted; either one missing makes the check false
        ("proc.name = val(proc.pname)", {"proc.name": "a", "proc.pname": "a"}, True),
        ("proc.name = val(proc.pname)", {"proc.name": "a", "proc.pname": "b"}, False),
        ("proc.name = val(proc.pname)", {"proc.name": "a"}, False),
        ("proc.name != val(proc.pname)", {"proc.name": "a", "proc.pname": "b"}, True),
        ("proc.name != val(proc.pname)", {"proc.name": "a"}, False),
        ("proc.name != val(proc.pname)", {"proc.pname": "a"}, False),
        (
            "proc.cmdline contains val(proc.name)",
            {"proc.cmdline": "bash -c", "proc.name": "bash"},
            True,
        ),
        ("proc.name icontains val(proc.pname)", {"proc.name": "BASH", "proc.pname": "as"}, True),
        ("proc.name startswith val(proc.pname)", {"proc.name": "bash", "proc.pname": "ba"}, True),
        ("proc.name endswith val(proc.pname)", {"proc.name": "bash", "proc.pname": "ba"}, False),
        ("proc.name glob val(proc.pname)", {"proc.name": "bash", "proc.pname": "b*"}, True),
        ("proc.name iglob val(proc.pname)", {"proc.name": "BASH", "proc.pname": "b*"}, True),
        ("proc.name in val(proc.pname)", {"proc.name": "a", "proc.pname": "a"}, True),
        ("proc.name < val(proc.pname)", {"proc.name": "a", "proc.pname": "b"}, True),
        ("proc.pid > val(evt.count)", {"proc.pid": 5, "evt.count": 3}, True),
        ("fd.sip = val(fd.cip)", {"fd.sip": "10.0.0.1", "fd.cip": "10.0.0.1"}, True),
        ("fd.sip != val(fd.cip)", {"fd.sip": "10.0.0.1", "fd.cip": "10.0.0.1"}, False),
    ],
)
def test_transformers_and_field_values(
    condition: str, event: dict[str, Any], expected: bool
) -> None:
    assert compiled(condition)(event) is expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("proc.pid = abc", "abc is not a valid number"),
        ("proc.pid > 0x10", "0x10 is not a valid number"),
        ("proc.pid > 1.5", "1.5 is not a valid number"),
        (
            "proc.pid contains 1",
            "filter error: 'contains' operator not supported for numeric filters",
        ),
        ("evt.is_open = yes", "filter error: unrecognized boolean value yes"),
        ("evt.is_open < 1", "filter error: '<' operator not supported for numeric filters"),
        ("fd.sip = nope", "filter error: unrecognized IP address nope"),
        ("fd.sip in (10.0.0.0/8)", "filter error: unrecognized IP address 10.0.0.0/8"),
        ("fd.snet = nope", "filter error: unrecognized IP network nope"),
        (
            "fd.sip contains 1",
            "filter error: 'contains' operator not supported for ip address and network filters",
        ),
        (
            "evt.buffer bcontains zz",
            "filter error: bcontains and bstartswith operator support hex strings only",
        ),
        (
            "evt.buffer bcontains abc",
            "filter error: bcontains and bstartswith operator support hex strings only",
        ),
        ("evt.buffer glob x", "filter error: 'glob' operator not supported for buffer filters"),
        (
            "proc.name bcontains 61",
            "filter error: 'bcontains' operator not supported for string filters",
        ),
        ("ka.groups = a", "filter error: '=' operator not supported list filters"),
        ("ka.groups pmatch (/a)", "filter error: 'pmatch' operator not supported list filters"),
        (
            "tolower(proc.pid) = 1",
            "can't add field transformer: type 'UINT64' is not supported by 'tolower' transformer "
            "applied on field 'proc.pid'",
        ),
        (
            "basename(evt.buffer) = x",
            "can't add field transformer: type 'BYTEBUF' is not supported by 'basename' "
            "transformer applied on field 'evt.buffer'",
        ),
        (
            "len(proc.pid) = 1",
            "can't add field transformer: type 'UINT64' is not supported by 'len' transformer "
            "applied on field 'proc.pid'",
        ),
        (
            "tolower(len(proc.name)) = 1",
            "can't add field transformer: type 'UINT64' is not supported by 'tolower' transformer "
            "applied on field 'len(proc.name)'",
        ),
        (
            "proc.name = val(proc.pid)",
            "field 'proc.name' has type 'CHARBUF' while the right-hand side field 'proc.pid' has "
            "incompatible type 'UINT64'",
        ),
        (
            "proc.name in val(ka.groups)",
            "field 'proc.name' has type 'CHARBUF' while the right-hand side field 'ka.groups' has "
            "incompatible type 'CHARBUF (list)'",
        ),
        (
            "fd.name pmatch val(proc.name)",
            "operator 'pmatch' doesn't support right-hand side fields",
        ),
        ("fd.name regex val(proc.name)", "operator 'regex' doesn't support right-hand side fields"),
        ("fd.snet = val(fd.sip)", "field type 'IPNET' doesn't support right-hand side fields"),
        (
            "fd.name regex '('",
            "invalid regex '(': missing ), unterminated subpattern at position 0",
        ),
    ],
)
def test_compile_errors(condition: str, message: str) -> None:
    with pytest.raises(CompileError) as caught:
        compiled(condition)
    assert caught.value.message == message


def test_unknown_fields_propagate_from_the_registry() -> None:
    with pytest.raises(UnknownFieldError) as caught:
        compiled("proc.name = a and nope.field[x] = 1")
    assert caught.value.field == "nope.field[x]"


def test_deep_conditions_compile_into_nested_functions() -> None:
    nested = "(" * 90 + "proc.name = a" + ")" * 90
    assert compiled(nested)({"proc.name": "a"}) is True
    negations = "not (" * 41 + "proc.name = a" + ")" * 41
    assert compiled(negations)({"proc.name": "a"}) is False
    assert compiled(negations)({"proc.name": "b"}) is True
    chain = {"m0": "proc.name = a"} | {
        f"m{i}": f"(m{i - 1}) and fd.name != x{i}" for i in range(1, 90)
    }
    predicate = compiled("m89", macros=chain)
    assert predicate({"proc.name": "a", "fd.name": "y"}) is True
    assert predicate({"proc.name": "a", "fd.name": "x77"}) is False


def test_macro_expansion_caps() -> None:
    too_deep = {"m0": "proc.name = a"} | {f"m{i}": f"(m{i - 1})" for i in range(1, 300)}
    with pytest.raises(CompileError) as caught:
        compiled("m299", macros=too_deep)
    assert caught.value.message == "condition nests too deeply after macro expansion"
    exponential = {"m0": "proc.name = a"} | {f"m{i}": f"m{i - 1} or m{i - 1}" for i in range(1, 40)}
    started = time.perf_counter()
    with pytest.raises(CompileError) as caught:
        compiled("m39", macros=exponential)
    assert caught.value.message == "condition is too large after macro expansion"
    assert time.perf_counter() - started < 10


def test_doubling_macro_chains_are_refused_at_once() -> None:
    """Each macro uses the one before twice: the expansion's size is known from the macros,
    so 2,000 rules using the chain are refused without building 2**39 nodes each."""
    texts = {"m0": "proc.name = a"} | {f"m{i}": f"m{i - 1} or m{i - 1}" for i in range(1, 40)}
    macros = {name: parse_condition(text) for name, text in texts.items()}
    started = time.perf_counter()
    for r in range(2000):
        with pytest.raises(CompileError) as caught:
            compile_condition(
                parse_condition(f"m39 and proc.pid = {r}"), macros=macros, lists={}, fields=FIELDS
            )
        assert caught.value.message == "condition is too large after macro expansion"
    assert time.perf_counter() - started < 2


def test_shared_macros_are_expanded_once_across_rules() -> None:
    macros = _chain(90)
    for r in range(500):
        expanded = expand_macros(parse_condition(f"m89 and proc.pid = {r}"), macros)
        assert isinstance(expanded, And)
    assert macros.reads == 90
    # a shared expansion used deeper down still counts towards the depth cap
    assert expand_macros(parse_condition("not (" * 10 + "m89" + ")" * 10), macros) is not None
    with pytest.raises(CompileError) as caught:
        expand_macros(parse_condition("not (" * 30 + "m89" + ")" * 30), macros)
    assert caught.value.message == "condition nests too deeply after macro expansion"


def test_compiled_evaluation_is_fast() -> None:
    predicate = compiled(
        "evt.type in (execve, execveat) and proc.name in (bash, sh) and not user.name = root"
    )
    events = [
        {"evt.type": "execve", "proc.name": "bash", "user.name": "alice"},
        {"evt.type": "execve", "proc.name": "bash", "user.name": "root"},
        {"evt.type": "open", "proc.name": "bash", "user.name": "alice"},
        {"evt.type": "execveat", "proc.name": "python", "user.name": "alice"},
    ]
    assert [predicate(event) for event in events] == [True, False, False, False]
    started = time.process_time()
    for _ in range(250_000):
        for event in events:
            predicate(event)
    assert time.process_time() - started < 3.0


# ---------------------------------------------------------------------------------------------
# Fields compared value by value (Field.multi)


class MultiFields(DictFields):
    """DictFields where some argument-less fields hold one value per ancestor or socket end."""

    def __init__(self, types: Mapping[str, str], multi: Mapping[str, str]) -> None:
        super().__init__(types)
        self.multi = multi

    def resolve(self, name: str, arg: str | None) -> Field:
        field = super().resolve(name, arg)
        kind = self.multi.get(name, "") if arg is None else ""
        return Field(field.name, field.type, field.getter, kind)  # type: ignore[arg-type]


MULTI = MultiFields(
    {"proc.aname": "string", "proc.apid": "int", "fd.ip": "ipaddr", "proc.name": "string"},
    {"proc.aname": "any", "proc.apid": "any", "fd.ip": "either"},
)


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        ("proc.aname != sh", {"proc.aname": ["sh", "sh"]}, False),
        ("proc.aname != sh", {"proc.aname": ["sh", "init"]}, True),
        ("proc.aname in (shells)", {"proc.aname": ["init", "zsh"]}, True),
        ("proc.aname in (shells)", {"proc.aname": ["init", "shells"]}, False),
        ("b64(proc.aname) = hello", {"proc.aname": ["!!", "aGVsbG8="]}, True),
        ("b64(proc.aname) exists", {"proc.aname": ["!!"]}, False),  # no value decodes
        ("not (" * 30 + "proc.aname = sh" + ")" * 30, {"proc.aname": ["sh"]}, True),
        ("not (" * 31 + "proc.aname = sh" + ")" * 31, {"proc.aname": ["sh"]}, False),
        ("proc.apid in (1, 2) and fd.ip != 10.0.0.1", {"proc.apid": [5, 1]}, False),
        ("fd.ip != 10.0.0.1", {"fd.ip": ["10.0.0.2", "10.0.0.3"]}, True),
        ("fd.ip != 10.0.0.1", {"fd.ip": ["10.0.0.2", "10.0.0.1"]}, False),
        ("proc.aname = sh", {"proc.aname": None}, False),
    ],
)
def test_multi_fields_compare_value_by_value(
    condition: str, event: dict[str, Any], expected: bool
) -> None:
    lists = {"shells": ["bash", "more"], "more": ["zsh"]}
    predicate = compiled(condition, lists=lists, fields=MULTI)
    assert predicate(event) is expected


# ---------------------------------------------------------------------------------------------
# glob against the C library's fnmatch(3), which libsinsp calls


def _libc_fnmatch() -> Callable[[str, str, int], bool] | None:
    path = ctypes.util.find_library("c")
    if path is None:
        return None
    fnmatch = ctypes.CDLL(path).fnmatch
    fnmatch.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    return lambda pattern, value, flags: fnmatch(pattern.encode(), value.encode(), flags) == 0


LIBC_FNMATCH = _libc_fnmatch()
FNM_CASEFOLD = 16  # glibc


@pytest.mark.skipif(LIBC_FNMATCH is None, reason="no C library fnmatch")
@settings(max_examples=3000, deadline=None)
@given(
    st.lists(st.sampled_from([*"ab*?[]!^-\\/.AZ", "[:alpha:]", "[:upper:]"]), max_size=8),
    st.text(alphabet="ab/.-]![\\^AZ", max_size=6),
    st.booleans(),
)
def test_glob_agrees_with_libc(pattern_parts: list[str], value: str, icase: bool) -> None:
    pattern = "".join(pattern_parts)
    # glibc's answer for a range ending in '[' followed by ":class:]" depends on its scan order
    if re.search(r"-\[:[a-z]+:\]", pattern):
        return
    assert LIBC_FNMATCH is not None
    expected = LIBC_FNMATCH(pattern, value, FNM_CASEFOLD if icase else 0)
    actual = re.fullmatch(glob_to_regex(pattern, icase), value, re.DOTALL) is not None
    assert actual == expected, (pattern, value, icase)


# ---------------------------------------------------------------------------------------------
# Falco's own rule files


def _items(path: Path) -> list[dict[str, Any]]:
    return [item for item in yaml.safe_load(path.read_text()) if isinstance(item, dict)]


def test_every_falco_condition_parses() -> None:
    counts: dict[str, tuple[int, int]] = {}
    failures: list[str] = []
    for path in RULE_FILES:
        macros = rules = 0
        for item in _items(path):
            if "condition" not in item or not ("macro" in item or "rule" in item):
                continue
            try:
                parse_condition(item["condition"])
            except ConditionSyntaxError as exc:
                failures.append(f"{path.name}: {item.get('macro') or item.get('rule')}: {exc}")
            if "macro" in item:
                macros += 1
            else:
                rules += 1
        counts[path.name] = (macros, rules)
    assert failures == []
    assert counts == {
        "falco-incubating_rules.yaml": (82, 31),
        "falco-sandbox_rules.yaml": (183, 37),
        "falco_rules.yaml": (87, 25),
        "k8s_audit_rules.yaml": (45, 48),
    }


K8S_LIST_FIELDS = (
    "ka.req.pod.containers.image",
    "ka.req.pod.containers.image.repository",
    "ka.req.pod.containers.privileged",
    "ka.req.pod.containers.host_port",
    "ka.req.pod.containers.add_capabilities",
    "ka.req.pod.volumes.hostpath",
)


def test_every_falco_rule_compiles() -> None:
    """Each rule with its file's macros and lists, on a registry that knows every field: the
    generated code must compile and run for every real condition."""
    fields = DictFields(
        {name: "list" for name in K8S_LIST_FIELDS}
        | {"evt.buffer": "bytes", "fd.snet": "ipnet", "fd.net": "ipnet", "fd.sip": "ipaddr"},
        "string",
    )
    compiled_rules = 0
    for path in RULE_FILES:
        items = _items(path)
        lists = {item["list"]: item.get("items") or [] for item in items if "list" in item}
        macros = {
            item["macro"]: parse_condition(item["condition"])
            for item in items
            if "macro" in item and "condition" in item
        }
        for item in items:
            if "rule" not in item or "condition" not in item:
                continue
            predicate = compile_condition(
                parse_condition(item["condition"]), macros=macros, lists=lists, fields=fields
            )
            assert predicate({}) in (True, False)
            compiled_rules += 1
    assert compiled_rules == 141
