"""Falco's condition language: parse a rule condition to an AST, compile it to a fast predicate.

The grammar, the error messages and the error positions follow libsinsp's filter parser
(userspace/libsinsp/filter/parser.cpp), quirks included (an operator word needs a blank after
it, ``not`` needs a blank or ``(``, quoted strings end at the first unescaped quote), so a
condition Falco rejects is rejected here with the same words. Evaluation follows libsinsp's
filter checks (sinsp_filtercheck.cpp, filter_compare.cpp): a field that cannot be extracted
makes every comparison false, ``!=`` included, and the fields libsinsp compares value by value
(``Field.multi``: every ancestor for ``proc.aname``, either socket end for ``fd.ip``) are
compared the same way here. Hand-written rather than generated because those
lexer quirks are the language. A condition compiles to one generated Python function per rule
whose only calls are the field getters, so evaluating a typical rule costs a few microseconds.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias, TypeVar

from kubeward.errors import KubewardError
from kubeward.runtime.fields.base import dict_key_of, json_path_of, stored_key_of

if TYPE_CHECKING:
    from kubeward.runtime.fields.base import FieldRegistry

MAX_CONDITION_CHARS = 1024 * 1024
# libsinsp counts one unit per recursive parse call and Falco allows 1000; each unit is a
# Python frame here, so the cap stays well under the interpreter's recursion limit (about 100
# levels of parentheses, which no real rule approaches).
MAX_PARSE_DEPTH = 500
# Macro expansion can nest and repeat conditions without bound; these keep a hostile ruleset
# from exhausting the stack or memory at compile time.
MAX_EXPANDED_DEPTH = 200
MAX_EXPANDED_NODES = 200_000
MAX_LIST_VALUES = 1_000_000

# ---------------------------------------------------------------------------------------------
# Errors


class ConditionSyntaxError(KubewardError):
    """A condition that libsinsp's parser would refuse; ``position`` is a 0-based offset."""

    def __init__(self, message: str, position: int) -> None:
        self.message = message
        self.position = position
        super().__init__(f"{message} (at position {position})")


class CompileError(KubewardError):
    """A parsed condition that cannot be compiled: an undefined or looping macro, an operator
    the field's type does not support, a constant the field's type cannot hold. ``name`` is the
    macro or field at fault when there is one."""

    def __init__(self, message: str, name: str | None = None) -> None:
        self.message = message
        self.name = name
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# AST


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field as written: ``proc.aname[2]`` is ``FieldRef("proc.aname", "2")``. Transformers
    are listed in the order they apply, innermost first: ``toupper(b64(f))`` has
    ``("b64", "toupper")``. On the right of an operator, ``val(f)`` is a plain FieldRef."""

    name: str
    arg: str | None = None
    transformers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ident:
    """A bare word that may name something defined elsewhere: a macro in boolean position, a
    list inside a list literal (a bare list item that names no list is that word, as in Falco)."""

    name: str


@dataclass(frozen=True, slots=True)
class ListLiteral:
    """``(a, "b c", 'd')``: quoted items are ``str``, bare items ``Ident``. ``in name`` without
    parentheses parses as ``ListLiteral((Ident("name"),))``."""

    items: tuple[str | Ident, ...]


Value: TypeAlias = "str | ListLiteral | FieldRef"


@dataclass(frozen=True, slots=True)
class Compare:
    """``field op value``; ``value`` is None for the unary ``exists``. ``op`` is kept as
    written (``==`` and ``=`` are both equality)."""

    field: FieldRef
    op: str
    value: Value | None = None


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


Expr: TypeAlias = "And | Or | Not | Compare | Ident"

# ---------------------------------------------------------------------------------------------
# Lexer and parser

_TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len")
_TRANSFORMER_TOKENS = tuple(t + "(" for t in _TRANSFORMERS)
_UNARY_OPS = ("exists",)
_NUM_OPS = ("<=", "<", ">=", ">")
# A trailing blank means the operator must be followed by a blank, as in libsinsp.
_STR_OPS = (
    "==",
    "=",
    "!=",
    "glob ",
    "iglob ",
    "contains ",
    "icontains ",
    "bcontains ",
    "startswith ",
    "bstartswith ",
    "endswith ",
    "regex ",
)
_LIST_OPS = ("intersects", "in", "pmatch")
_ALL_OPS = tuple(op.strip() for op in (*_UNARY_OPS, *_NUM_OPS, *_STR_OPS, *_LIST_OPS))


def _quoted_list(items: Sequence[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


_OPS_TEXT = _quoted_list(_ALL_OPS)
_TRANSFORMERS_TEXT = _quoted_list(("val", *_TRANSFORMERS))

_BLANKS = " \t\b\r\n"  # libsinsp's lex_blank; note \b yes, \v and \f no
_SPACE = " \t\n\v\f\r"  # POSIX [[:space:]], used inside libsinsp's regexes
_RE_BLANK = re.compile(r"[ \t\x08\r\n]+")
_RE_NOT_BLANK = re.compile(r"not[ \t\n\v\f\r]++")
_RE_IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*+")
_RE_FIELD_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*+(?:\.[a-zA-Z][a-zA-Z0-9_]*+)++")
_RE_FIELD_ARG_BARE = re.compile(r"[^\]\[\"' \t\n\v\f\r]++")
_RE_HEX_NUM = re.compile(r"0[xX][0-9a-fA-F]++")
_RE_NUMBER = re.compile(r"[+\-]?[0-9]++\.?[0-9]*+(?:[eE][+\-][0-9]++)?")
_RE_BARE_STR = re.compile(r"[^()\"' \t\n\v\f\r=,]++")

_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "/": "/"}


def _unescape(token: str) -> str:
    """libsinsp's unescape_str over a quoted token, delimiters included. ``\\ `` becomes a lone
    backslash (libsinsp keeps that for old rules); an unknown escape is an error."""
    inner = token[1:-1]
    if "\\" not in inner:
        return inner
    quote = token[0]
    out: list[str] = []
    escaped = False
    for ch in inner:
        if not escaped:
            if ch == "\\":
                escaped = True
            else:
                out.append(ch)
            continue
        escaped = False
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ch == " ":
            out.append("\\")
        elif ch == '"':
            if quote != '"':
                raise _LexError("invalid \\\" escape in '-quoted string")
            out.append(ch)
        elif ch == "'":
            if quote != "'":
                raise _LexError("invalid \\' escape in \"-quoted string")
            out.append(ch)
        else:
            raise _LexError(f"unsupported string escape sequence: \\{ch}")
    return "".join(out)


class _LexError(Exception):
    """Raised by helpers that do not know the parser position; the parser adds it."""


class _Parser:
    """A recursive-descent parser with libsinsp's structure, so errors land where libsinsp's do.

    ``last`` mirrors libsinsp's m_last_token (quoted in "unexpected token after ..." errors).
    """

    __slots__ = ("depth", "last", "n", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.last = ""
        self.depth = 0

    # -- helpers --------------------------------------------------------------------------

    def fail(self, message: str) -> NoReturn:
        raise ConditionSyntaxError(message, self.pos)

    def push(self) -> None:
        self.depth += 1
        if self.depth >= MAX_PARSE_DEPTH:
            self.fail(f"exceeded max depth limit of {MAX_PARSE_DEPTH}")

    def blank(self) -> bool:
        m = _RE_BLANK.match(self.text, self.pos)
        if m is None:
            return False
        self.pos = m.end()
        return True

    def lex_str(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.last = token
            self.pos += len(token)
            return True
        return False

    def lex_rgx(self, rgx: re.Pattern[str]) -> bool:
        m = rgx.match(self.text, self.pos)
        if m is None:
            return False
        self.last = m.group()
        self.pos = m.end()
        return True

    def lex_str_list(self, tokens: Sequence[str]) -> bool:
        return any(self.lex_str(token) for token in tokens)

    def lex_operator(self, ops: Sequence[str]) -> bool:
        for op in ops:
            if not op.endswith(" "):
                if self.lex_str(op):
                    return True
                continue
            # libsinsp gives up at the first operator word it finds, even with no blank after.
            if self.lex_str(op[:-1]):
                return self.blank()
        return False

    def lex_quoted(self) -> bool:
        text, start = self.text, self.pos
        if start >= self.n or text[start] not in "\"'":
            return False
        quote = text[start]
        # The C lexer scans a NUL-terminated string: a NUL ends the input.
        nul = text.find("\0", start)
        limit = self.n if nul < 0 else nul
        i = start + 1
        while True:
            j = text.find(quote, i, limit)
            if j < 0:
                self.last = text[start:limit]
                return False
            if text[j - 1] != "\\":
                break
            i = j + 1
        self.pos = j + 1
        try:
            self.last = _unescape(text[start : j + 1])
        except _LexError as exc:
            self.fail(str(exc))
        return True

    # -- grammar --------------------------------------------------------------------------

    def parse(self) -> Expr:
        if self.n == 0:
            self.fail("filter input string is empty")
        if self.n > MAX_CONDITION_CHARS:
            self.fail(f"filter input string is longer than {MAX_CONDITION_CHARS} characters")
        result = self.parse_or()
        if self.pos != self.n:
            self.fail(f"unexpected token after '{self.last}', expecting 'or', 'and'")
        return result

    def parse_or(self) -> Expr:
        return self._parse_chain("or", self.parse_and, Or)

    def parse_and(self) -> Expr:
        return self._parse_chain("and", self.parse_not, And)

    def _parse_chain(
        self, word: str, operand: Callable[[], Expr], node: Callable[[tuple[Expr, ...]], Expr]
    ) -> Expr:
        """`operand (word operand)*`, as libsinsp parses `or` over `and` over `not`."""
        self.push()
        try:
            self.blank()
            children = [operand()]
            self.blank()
            while self.lex_str(word):
                if not self.blank():
                    if not self.lex_str("("):
                        self.fail(f"expected blank or '(' after '{word}'")
                    children.append(self.parse_embedded_remainder())
                else:
                    children.append(operand())
                self.blank()
            return node(tuple(children)) if len(children) > 1 else children[0]
        finally:
            self.depth -= 1

    def parse_not(self) -> Expr:
        self.push()
        try:
            negate = False
            self.blank()
            while self.lex_rgx(_RE_NOT_BLANK):
                negate = not negate
            if self.lex_str("not("):
                negate = not negate
                child = self.parse_embedded_remainder()
            else:
                child = self.parse_check()
            return Not(child) if negate else child
        finally:
            self.depth -= 1

    def parse_embedded_remainder(self) -> Expr:
        self.push()
        try:
            self.blank()
            child = self.parse_or()
            self.blank()
            if not self.lex_str(")"):
                self.fail("expected a ')' token")
            return child
        finally:
            self.depth -= 1

    def parse_check(self) -> Expr:
        self.push()
        try:
            self.blank()
            if self.lex_str("("):
                return self.parse_embedded_remainder()
            if self.lex_rgx(_RE_FIELD_NAME):
                return self.parse_condition(self.parse_field_remainder(self.last))
            if self.lex_str_list(_TRANSFORMER_TOKENS):
                self.blank()
                field = self.parse_field_or_transformer_remainder(self.last[:-1])
                return self.parse_condition(field)
            if self.lex_rgx(_RE_IDENTIFIER):
                return Ident(self.last)
            self.fail("expected a '(' token, a field check, or an identifier")
        finally:
            self.depth -= 1

    def parse_field_remainder(self, name: str) -> FieldRef:
        self.push()
        try:
            arg = None
            if self.lex_str("["):
                if not self.lex_quoted() and not self.lex_rgx(_RE_FIELD_ARG_BARE):
                    self.fail("expected a valid field argument: a quoted string or a bare string")
                arg = self.last
                if not self.lex_str("]"):
                    self.fail("expected a ']' token")
            return FieldRef(name, arg)
        finally:
            self.depth -= 1

    def parse_field_or_transformer_remainder(self, transformer: str) -> FieldRef:
        self.push()
        try:
            self.blank()
            if self.lex_str_list(_TRANSFORMER_TOKENS):
                self.blank()
                inner = self.parse_field_or_transformer_remainder(self.last[:-1])
            elif self.lex_rgx(_RE_FIELD_NAME):
                inner = self.parse_field_remainder(self.last)
            else:
                self.fail(f"expected a field or a nested valid transformer: {_TRANSFORMERS_TEXT}")
            self.blank()
            if not self.lex_str(")"):
                self.fail("expected a ')' token closing the transformer")
            return FieldRef(inner.name, inner.arg, (*inner.transformers, transformer))
        finally:
            self.depth -= 1

    def parse_condition(self, left: FieldRef) -> Compare:
        self.push()
        try:
            self.blank()
            if self.lex_operator(_UNARY_OPS):
                return Compare(left, self.last.strip())
            self.blank()
            right: Value
            if self.lex_operator(_NUM_OPS):
                op = self.last
                right = self.parse_num_value_or_transformer()
            elif self.lex_operator(_STR_OPS):
                op = self.last
                right = self.parse_str_value_or_transformer()
            elif self.lex_operator(_LIST_OPS):
                op = self.last
                right = self.parse_list_value_or_transformer()
            else:
                self.fail(f"expected a valid check operator: one of {_OPS_TEXT}")
            return Compare(left, op.strip(), right)
        finally:
            self.depth -= 1

    def parse_num_value_or_transformer(self) -> str | FieldRef:
        return self._value_or_transformer(
            "number", lambda: self.lex_rgx(_RE_HEX_NUM) or self.lex_rgx(_RE_NUMBER)
        )

    def parse_str_value_or_transformer(self) -> str | FieldRef:
        return self._value_or_transformer(
            "string", lambda: self.lex_quoted() or self.lex_rgx(_RE_BARE_STR)
        )

    def _value_or_transformer(self, kind: str, lex_value: Callable[[], bool]) -> str | FieldRef:
        self.push()
        try:
            self.blank()
            field = self.try_parse_transformer_or_val()
            if field is not None:
                return field
            if lex_value():
                return self.last
            self.fail(
                f"expected a {kind} value or a field with a valid transformer: {_TRANSFORMERS_TEXT}"
            )
        finally:
            self.depth -= 1

    def parse_list_item(self) -> str | Ident:
        self.push()
        try:
            self.blank()
            if self.lex_quoted():
                return self.last
            if self.lex_rgx(_RE_BARE_STR):
                return Ident(self.last)
            self.fail("expected a string value")
        finally:
            self.depth -= 1

    def parse_list_value_or_transformer(self) -> ListLiteral | FieldRef:
        self.push()
        try:
            self.blank()
            if self.lex_str("("):
                self.blank()
                items: list[str | Ident] = []
                try:
                    items.append(self.parse_list_item())
                except ConditionSyntaxError:
                    pass  # libsinsp: an empty list, so a ')' must follow
                else:
                    self.blank()
                    while self.lex_str(","):
                        items.append(self.parse_list_item())
                        self.blank()
                if not self.lex_str(")"):
                    self.fail("expected a ')' token")
                return ListLiteral(tuple(items))
            field = self.try_parse_transformer_or_val()
            if field is not None:
                return field
            if self.lex_rgx(_RE_IDENTIFIER):
                return ListLiteral((Ident(self.last),))
            self.fail(
                "expected a list, an identifier, or a field with a valid transformer: "
                + _TRANSFORMERS_TEXT
            )
        finally:
            self.depth -= 1

    def try_parse_transformer_or_val(self) -> FieldRef | None:
        self.push()
        try:
            self.blank()
            if self.lex_str("val("):
                self.blank()
                if not self.lex_rgx(_RE_FIELD_NAME):
                    self.fail("expected a field within 'val' transformer")
                field = self.parse_field_remainder(self.last)
                self.blank()
                if not self.lex_str(")"):
                    self.fail("expected a ')' token closing the transformer")
                return field
            if self.lex_str_list(_TRANSFORMER_TOKENS):
                self.blank()
                return self.parse_field_or_transformer_remainder(self.last[:-1])
            return None
        finally:
            self.depth -= 1

    def parse_list_body(self) -> list[tuple[str, bool]]:
        """The comma-separated values of a list item spliced into a condition, as Falco splices
        list items textually: (value, was_bare) pairs; raises at anything else."""
        values: list[tuple[str, bool]] = []
        while True:
            self.blank()
            if self.lex_quoted():
                values.append((self.last, False))
            elif self.lex_rgx(_RE_BARE_STR):
                values.append((self.last, True))
            else:
                self.fail("expected a string value")
            self.blank()
            if self.pos == self.n:
                return values
            if not self.lex_str(","):
                self.fail("expected ','")


def parse_condition(text: str) -> Expr:
    """Parse a Falco condition; raises ConditionSyntaxError (never anything else) on bad input."""
    if not isinstance(text, str):
        raise ConditionSyntaxError("filter input is not a string", 0)
    parser = _Parser(text)
    try:
        return parser.parse()
    except RecursionError:
        raise ConditionSyntaxError(
            f"exceeded max depth limit of {MAX_PARSE_DEPTH}", parser.pos
        ) from None


# ---------------------------------------------------------------------------------------------
# Walking the AST


def referenced_names(expr: Expr) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(macros, lists, fields) the condition names directly, macros not expanded. ``lists`` holds
    every bare word inside a list literal: each may name a list, as Falco sees it."""
    macros: set[str] = set()
    lists: set[str] = set()
    fields: set[str] = set()
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)
        elif isinstance(node, Ident):
            macros.add(node.name)
        else:
            fields.add(node.field.name)
            if isinstance(node.value, FieldRef):
                fields.add(node.value.name)
            elif isinstance(node.value, ListLiteral):
                lists.update(i.name for i in node.value.items if isinstance(i, Ident))
    return frozenset(macros), frozenset(lists), frozenset(fields)


def expand_macros(expr: Expr, macros: Mapping[str, Expr]) -> Expr:
    """The condition with every macro reference replaced by the macro's (expanded) condition.

    Raises CompileError for an undefined macro, a reference loop (both with Falco's wording) or
    an expansion past the size caps. A macro is expanded once and shared: the size and depth
    of what it expands to are known before anything is built from it, so a chain of macros
    that each use the previous one twice is refused at once, not after 2**N steps.

    Expansions are remembered across consecutive calls with the same ``macros`` object (an
    engine compiling its rules), so rules sharing a deep chain of macros expand it once; the
    mapping is taken to be unchanged between such calls."""
    memo = _expansions(macros)
    path: list[str] = []
    steps = [0]

    def expand(node: Expr, depth: int) -> tuple[Expr, int, int]:
        steps[0] += 1
        if steps[0] > MAX_EXPANDED_NODES:
            raise CompileError("condition is too large after macro expansion")
        if depth > MAX_EXPANDED_DEPTH:
            raise CompileError("condition nests too deeply after macro expansion")
        if isinstance(node, Compare):
            return node, 1, 0
        if isinstance(node, Not):
            item, size, height = expand(node.item, depth + 1)
            return Not(item), size + 1, height + 1
        if isinstance(node, And | Or):
            parts = [expand(item, depth + 1) for item in node.items]
            size = 1 + sum(part[1] for part in parts)
            height = 1 + max(part[2] for part in parts)
            items = tuple(part[0] for part in parts)
            return (And(items) if isinstance(node, And) else Or(items)), size, height
        name = node.name
        if name in path:
            raise CompileError(f"reference loop in macro '{name}'", name)
        found = memo.get(name)
        if found is None:
            body = macros.get(name)
            if body is None:
                raise CompileError(f"Undefined macro '{name}' used in filter.", name)
            path.append(name)
            found = expand(body, depth + 1)
            path.pop()
            memo[name] = found
        if found[1] > MAX_EXPANDED_NODES:
            raise CompileError("condition is too large after macro expansion")
        if depth + 1 + found[2] > MAX_EXPANDED_DEPTH:
            raise CompileError("condition nests too deeply after macro expansion")
        return found[0], found[1], found[2] + 1

    result, size, _height = expand(expr, 0)
    if size > MAX_EXPANDED_NODES:
        raise CompileError("condition is too large after macro expansion")
    return result


_Expansion: TypeAlias = "tuple[Expr, int, int]"
"""A macro's expanded condition, its tree size and its height."""

_last_expansions: list[tuple[Mapping[str, Expr], int, dict[str, _Expansion]]] = []


def _expansions(macros: Mapping[str, Expr]) -> dict[str, _Expansion]:
    """The expansions already made from ``macros`` (by identity, the last mapping only; an
    empty mapping, which has nothing to remember, leaves the last one in place)."""
    if not macros:
        return {}
    if _last_expansions:
        last, size, memo = _last_expansions[0]
        if last is macros and size == len(macros):
            return memo
    memo = {}
    _last_expansions[:] = [(macros, len(macros), memo)]
    return memo


def _decode_list_item(item: object) -> list[tuple[str, bool]]:
    """A YAML list item as the value(s) Falco gets from it: Falco splices items into the
    condition text (quoting an item that holds a space) and parses the result, so ``'"a b"'``
    is ``a b`` and ``'"(systemd)"'`` is ``(systemd)``. An item that would not parse is kept
    verbatim rather than failing the rule."""
    text = str(item)
    if not text:
        return [(text, False)]
    if " " in text and text[0] not in "\"'":
        text = f'"{text}"'
    try:
        return _Parser(text).parse_list_body()
    except ConditionSyntaxError:
        return [(str(item), False)]


def flatten_list(name: str, lists: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The values of list ``name`` with references to other lists expanded recursively, as
    Falco expands them; a reference that would loop stays a plain value. KeyError for an
    unknown list; CompileError past MAX_LIST_VALUES values."""
    return _ListResolver(lists).values(name)


class _ListResolver:
    __slots__ = ("cache", "lists")

    def __init__(self, lists: Mapping[str, Sequence[str]]) -> None:
        self.lists = lists
        self.cache: dict[str, tuple[str, ...]] = {}

    def values(self, name: str, path: tuple[str, ...] = ()) -> tuple[str, ...]:
        cached = self.cache.get(name)
        if cached is not None:
            return cached
        out: list[str] = []
        path = (*path, name)
        for item in self.lists[name]:
            for value, bare in _decode_list_item(item):
                if bare and value in self.lists and value not in path:
                    out.extend(self.values(value, path))
                else:
                    out.append(value)
            if len(out) > MAX_LIST_VALUES:
                raise CompileError(f"list '{name}' is too large after expansion", name)
        result = tuple(out)
        self.cache[name] = result
        return result

    def literal(self, items: Sequence[str | Ident]) -> list[str]:
        out: list[str] = []
        for item in items:
            if isinstance(item, Ident):
                if item.name in self.lists:
                    out.extend(self.values(item.name))
                else:
                    out.append(item.name)
            else:
                out.append(item)
        return out


class EventTypeResolver:
    """The ``evt.type`` values conditions require, over one set of macros and lists.

    Each macro is summed up once, however many conditions use it and however deep the chain
    of macros below it (walked without recursion), so indexing thousands of rules that share
    a deep macro chain costs one walk of the chain. The mappings are read as they are at each
    call: a macro already summed up is not read again.
    """

    __slots__ = ("_list_values", "_memo", "_visiting", "lists", "macros")

    def __init__(
        self, macros: Mapping[str, Expr], lists: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self.macros = macros
        self.lists = lists
        self._list_values = _ListResolver(lists or {})
        self._memo: dict[str, frozenset[str] | None] = {}
        self._visiting: set[str] = set()

    def __call__(self, expr: Expr) -> frozenset[str] | None:
        """The values an event's ``evt.type`` must have for ``expr`` to hold, or None when any
        type may match (see ``event_types``)."""
        try:
            return self._walk(expr)
        except (RecursionError, CompileError):
            return None

    def _walk(self, node: Expr) -> frozenset[str] | None:
        if isinstance(node, Compare):
            field = node.field
            if field.name != "evt.type" or field.arg is not None or field.transformers:
                return None
            if node.op in ("=", "==") and isinstance(node.value, str):
                return frozenset((node.value,))
            if node.op in ("in", "intersects") and isinstance(node.value, ListLiteral):
                return frozenset(self._list_values.literal(node.value.items))
            return None
        if isinstance(node, And):
            result: frozenset[str] | None = None
            for item in node.items:
                types = self._walk(item)
                if types is not None:
                    result = types if result is None else result & types
            return result
        if isinstance(node, Or):
            union: set[str] = set()
            for item in node.items:
                types = self._walk(item)
                if types is None:
                    return None
                union |= types
            return frozenset(union)
        if isinstance(node, Not):
            return None
        name = node.name
        if name in self._memo:
            return self._memo[name]
        if name in self._visiting:
            return None  # a reference loop (the loader reports it): no index
        return self._macro(name)

    def _macro(self, name: str) -> frozenset[str] | None:
        """Sum up ``name`` and every macro below it, deepest first, with an explicit stack."""
        memo, visiting = self._memo, self._visiting
        stack: list[tuple[str, bool]] = [(name, False)]
        while stack:
            current, ready = stack.pop()
            if ready:
                try:
                    memo[current] = self._walk(self.macros[current])
                except (RecursionError, CompileError):
                    memo[current] = None
                visiting.discard(current)
                continue
            if current in memo or current in visiting:
                continue
            body = self.macros.get(current)
            if body is None:
                memo[current] = None
                continue
            visiting.add(current)
            stack.append((current, True))
            stack.extend(
                (ref, False) for ref in _macro_refs(body) if ref not in memo and ref not in visiting
            )
        return memo.get(name)


def _macro_refs(expr: Expr) -> list[str]:
    """The macros a condition names directly (identifiers in boolean position)."""
    refs: list[str] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)
        elif isinstance(node, Ident):
            refs.append(node.name)
    return refs


_last_resolver: list[EventTypeResolver] = []


def event_types(
    expr: Expr,
    macros: Mapping[str, Expr],
    *,
    lists: Mapping[str, Sequence[str]] | None = None,
) -> frozenset[str] | None:
    """The ``evt.type`` values an event must have for the condition to hold, or None when any
    type may match. Used to index rules by event type, so it only ever over-approximates:
    ``not`` and anything it cannot read give None; an empty set means the condition can never
    hold. Pass ``lists`` so that list references inside ``evt.type in (...)`` expand.

    Consecutive calls with the same ``macros`` and ``lists`` objects (an engine indexing its
    rules) share one EventTypeResolver, so each macro is walked once for all of them; a
    caller that changes a mapping in place between calls should use its own resolver."""
    cached = _last_resolver[0] if _last_resolver else None
    if cached is None or cached.macros is not macros or cached.lists is not lists:
        cached = EventTypeResolver(macros, lists)
        _last_resolver[:] = [cached]
    return cached(expr)


# ---------------------------------------------------------------------------------------------
# Value helpers used by compiled conditions

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def _ascii_lower(value: str) -> str:
    """C tolower() in the C locale: only ASCII letters change, as in libsinsp."""
    return value.lower() if value.isascii() else value.translate(_ASCII_LOWER)


def _ascii_upper(value: str) -> str:
    return value.upper() if value.isascii() else value.translate(_ASCII_UPPER)


def _basename(value: str) -> str:
    return value[value.rfind("/") + 1 :]


def _b64_bytes(value: bytes) -> bytes | None:
    """Base64 with or without padding; None (the field is then missing) when not base64."""
    raw = value.rstrip(b"\0").rstrip(b"=")
    if len(raw) % 4 == 1:
        return None
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64_str(value: str) -> str | None:
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        return None
    decoded = _b64_bytes(raw)
    return None if decoded is None else decoded.decode("utf-8", "surrogateescape")


def _utf8_len(value: str) -> int:
    """strlen() of the value as libsinsp holds it: UTF-8 bytes, not characters."""
    if value.isascii():
        return len(value)
    try:
        return len(value.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(value.encode("utf-8", "surrogatepass"))


_IP: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_NET: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip_of(value: object) -> _IP | None:
    if value is None or isinstance(value, _IP):
        return value
    try:
        return ipaddress.ip_address(value)  # type: ignore[arg-type]
    except ValueError:
        return None


def _ip_in_nets(value: object, nets: tuple[_NET, ...]) -> bool:
    address = _ip_of(value)
    if address is None:
        return False
    return any(net.version == address.version and address in net for net in nets)


_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "xdigit": "0-9a-fA-F",
    "punct": re.escape(string.punctuation),
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
}


class _GlobMatchesNothing(Exception):
    """A pattern glibc's fnmatch refuses: it then matches no string at all."""


def _class_at(pattern: str, i: int) -> tuple[str, int] | None:
    """The ``[:name:]`` class starting at ``i`` and the index after it, if there is one."""
    if not pattern.startswith("[:", i):
        return None
    end = pattern.find(":]", i + 2)
    if end < 0 or pattern[i + 2 : end] not in _POSIX_CLASSES:
        return None
    return pattern[i + 2 : end], end + 2


def _fold(ch: str) -> str:
    """Characters that FNM_CASEFOLD equates with ``ch`` (ASCII letters only, C locale)."""
    if "a" <= ch.lower() <= "z" and ch.isascii():
        return ch.lower() + ch.upper()
    return ch


def _set_item(ch: str, icase: bool) -> str:
    return "".join(re.escape(c) for c in (_fold(ch) if icase else ch))


def _range_item(lo: str, hi: str, icase: bool) -> str:
    if not icase:
        return re.escape(lo) + "-" + re.escape(hi) if lo <= hi else ""
    # glibc folds the range ends, then compares the folded string character.
    lo, hi = _ascii_lower(lo), _ascii_lower(hi)
    if lo > hi:
        return ""
    items = [re.escape(lo) + "-" + re.escape(hi)]
    upper_lo, upper_hi = max(lo, "a"), min(hi, "z")
    if upper_lo <= upper_hi:
        items.append(upper_lo.upper() + "-" + upper_hi.upper())
    return "".join(items)


def _bracket(pattern: str, start: int, icase: bool) -> tuple[str, int] | None:
    """The regex class for a fnmatch bracket expression opening at ``start`` (just after '['),
    and the index after its ']'; None when the bracket never closes ('[' is then literal)."""
    i, n = start, len(pattern)
    negate = i < n and pattern[i] in "!^"
    if negate:
        i += 1
    parts: list[str] = []
    first = True
    while i < n:
        c = pattern[i]
        if c == "]" and not first:
            body = "".join(parts)
            if not body:
                return ("[\\s\\S]" if negate else "[^\\s\\S]"), i + 1
            return ("[^" if negate else "[") + body + "]", i + 1
        first = False
        named = _class_at(pattern, i)
        if named is not None:
            # Classes test the unfolded character, even under FNM_CASEFOLD.
            parts.append(_POSIX_CLASSES[named[0]])
            i = named[1]
            continue
        if c == "\\" and i + 1 < n:
            i += 1
            c = pattern[i]
        i += 1
        if i + 1 < n and pattern[i] == "-" and pattern[i + 1] != "]":
            hi = pattern[i + 1]  # even a '[' that opens "[:alpha:]": glibc reads it plainly
            i += 2
            if hi == "\\" and i < n:
                hi = pattern[i]
                i += 1
            parts.append(_range_item(c, hi, icase))
            continue
        parts.append(_set_item(c, icase))
    return None


def glob_to_regex(pattern: str, icase: bool = False) -> str:
    """POSIX fnmatch(3) as libsinsp's ``glob`` (no flags) and ``iglob`` (FNM_CASEFOLD) use it,
    checked against glibc: ``*`` and ``?`` match any character including '/' and a leading
    '.', ``[...]`` sets (``!`` or ``^`` negates, ``[:alpha:]`` named classes), a backslash
    quotes the next character; a pattern glibc refuses matches nothing."""
    try:
        return _glob_regex(pattern, icase)
    except _GlobMatchesNothing:
        return "[^\\s\\S]"


def _glob_regex(pattern: str, icase: bool) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            if not out or out[-1] != ".*":
                out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\":
            if i >= n:  # glibc: a pattern ending in a lone backslash matches nothing
                raise _GlobMatchesNothing
            out.append(_literal(pattern[i], icase))
            i += 1
        elif c == "[":
            bracket = _bracket(pattern, i, icase)
            if bracket is None:
                out.append(re.escape("["))
            else:
                out.append(bracket[0])
                i = bracket[1]
        else:
            out.append(_literal(c, icase))
    return "".join(out)


def _literal(ch: str, icase: bool) -> str:
    folded = _fold(ch) if icase else ch
    return re.escape(ch) if len(folded) == 1 else f"[{_set_item(ch, True)}]"


@lru_cache(maxsize=1024)
def _glob_matcher(pattern: str, icase: bool) -> Callable[[str], object]:
    try:
        return re.compile(glob_to_regex(pattern, icase), re.DOTALL).fullmatch
    except re.error:  # not expected; a pattern glibc refuses matches nothing, so do the same
        return lambda _value: None


def _glob_dynamic(pattern: str, value: str, icase: bool) -> bool:
    return _glob_matcher(pattern, icase)(value) is not None


def _path_components(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


class _PathPrefixes:
    """libsinsp's ``pmatch``: a path matches when one of the prefixes is, component by
    component, a prefix of it (``/var/run`` matches ``/var/run`` and ``/var/run/docker``, not
    ``/var/runx`` or ``/var``); empty components are ignored, a prefix component holding
    ``*?[`` is a glob for that component, and ``/`` matches everything."""

    __slots__ = ("exact", "globbed", "lengths")

    def __init__(self, prefixes: Sequence[str]) -> None:
        exact: set[tuple[str, ...]] = set()
        globbed: list[tuple[Callable[[str], bool], ...]] = []
        for prefix in prefixes:
            parts = _path_components(prefix)
            if any(ch in part for part in parts for ch in "*?["):
                globbed.append(tuple(self._component(part) for part in parts))
            else:
                exact.add(parts)
        self.exact = frozenset(exact)
        self.lengths = tuple(sorted({len(p) for p in exact}))
        self.globbed = tuple(globbed)

    @staticmethod
    def _component(part: str) -> Callable[[str], bool]:
        if any(ch in part for ch in "*?["):
            matcher = _glob_matcher(part, False)
            return lambda value: matcher(value) is not None
        return part.__eq__

    def __call__(self, path: str) -> bool:
        parts = _path_components(path)
        count = len(parts)
        for length in self.lengths:
            if length > count:
                break
            if parts[:length] in self.exact:
                return True
        for matchers in self.globbed:
            if len(matchers) <= count and all(m(p) for m, p in zip(matchers, parts, strict=False)):
                return True
        return False


# ---------------------------------------------------------------------------------------------
# Compiler

_PARAM_TYPES = {
    "string": "CHARBUF",
    "int": "UINT64",
    "bool": "BOOL",
    "ipaddr": "IPADDR",
    "ipnet": "IPNET",
    "bytes": "BYTEBUF",
}
# flt_is_comparable in libsinsp's filter_compare.cpp; "=" stands for "==" too.
_EQUALITY_OPS = frozenset(("=", "!=", "in", "intersects", "exists"))
_ORDER_OPS_SET = frozenset(("<", "<=", ">", ">="))
_TEXT_OPS = frozenset(("contains", "icontains", "startswith", "endswith", "glob", "iglob"))
_OPS_BY_TYPE = {
    "string": _EQUALITY_OPS | _ORDER_OPS_SET | _TEXT_OPS | {"pmatch", "regex"},
    "int": _EQUALITY_OPS | _ORDER_OPS_SET,
    "bool": _EQUALITY_OPS,
    "ipaddr": _EQUALITY_OPS,
    "ipnet": _EQUALITY_OPS,
    "bytes": _EQUALITY_OPS | {"contains", "startswith", "endswith", "bcontains", "bstartswith"},
}
_LIST_FIELD_OPS = frozenset(("in", "intersects", "exists"))
_TYPE_WORDS = {
    "string": "string",
    "int": "numeric",
    "bool": "numeric",
    "ipaddr": "ip address and network",
    "ipnet": "ip address and network",
    "bytes": "buffer",
}
_ORDER_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}
_RE_INT = re.compile(r"[ \t\n\v\f\r]*[+\-]?[0-9]+")
_RE_HEX_BYTES = re.compile(r"(?:[0-9a-fA-F]{2})+")
# Subtrees deeper than this become their own generated function: CPython's compiler refuses
# expressions nested much past 200 parentheses.
_MAX_INLINE_DEPTH = 24


@dataclass(frozen=True, slots=True)
class _Operand:
    var: str  # name of the getter in the generated code
    type: str  # element type for lists and multi fields
    is_list: bool
    label: str
    multi: str = ""  # "", "any" or "either": see fields.base.Multi
    get: str = ""  # the expression that reads the value; "" means "{var}(_e)"

    @property
    def value(self) -> str:
        return self.get or f"{self.var}(_e)"


# The operators libsinsp's fd filter check accepts for the fields compared on both ends of a
# socket (compare_ip, compare_port, compare_net); any other one throws on every event there,
# so it is refused at compile time here, with libsinsp's words.
_EITHER_OPS = {
    "ipaddr": (
        frozenset(("=", "!=", "in")),
        "filter error: IP filter only supports '=' and '!=' operators",
    ),
    "int": (
        frozenset(("=", "!=", "<", "<=", ">", ">=", "in")),
        "filter error: unsupported port comparison operator",
    ),
    "string": (
        frozenset(("=", "!=", "<", "<=", ">", ">=", "in")),
        "filter error: unsupported port comparison operator",
    ),
    "ipnet": (_OPS_BY_TYPE["ipnet"], ""),
}


T = TypeVar("T")

_ABSENT = object()
"""A JSON key that is not there (a null value is one that is)."""

_UNSET = object()
"""A fused function's not-yet-read field value (None is a value: the field is absent)."""


class _CodeGen:
    """Turns an expanded AST into the source of one function plus the objects it closes over.

    Only generated names (``_g0``, ``_c3``, ``_t5``) ever appear in the source: every constant
    and getter from the ruleset is passed in as a closure variable, never as text."""

    def __init__(self, lists: Mapping[str, Sequence[str]], fields: FieldRegistry) -> None:
        self.lists = _ListResolver(lists)
        self.fields = fields
        self.values: dict[str, object] = {}
        self.operands: dict[FieldRef, _Operand] = {}
        self.functions: list[str] = []
        self.counter = 0
        self.nodes = 0
        # Fused candidates (compile_first_match) read each getter once per event: its value
        # is kept in a local of the fused function, filled on first use (``cached``).
        self.cache_reads = False
        self.nested = 0
        self.cached: list[str] = []
        self.unset = ""

    def name(self, prefix: str, value: object = None) -> str:
        self.counter += 1
        name = f"_{prefix}{self.counter}"
        if prefix != "t":
            self.values[name] = value
        return name

    def build(self, expr: Expr) -> Callable[[object], bool]:
        body = self.expr(expr, 0)
        self.functions.append(f"    def _rule(_e):\n        return {body}\n")
        params = ", ".join(self.values)
        source = f"def _make({params}):\n" + "".join(self.functions) + "    return _rule\n"
        namespace: dict[str, Any] = {"__builtins__": {}}
        code = compile(source, "<falco condition>", "exec")
        # Safe: the source holds only names generated above, never text from a rule.
        exec(code, namespace)  # noqa: S102
        rule: Callable[[object], bool] = namespace["_make"](*self.values.values())
        return rule

    def expr(self, node: Expr, depth: int) -> str:
        self.nodes += 1
        if self.nodes > MAX_EXPANDED_NODES:
            raise CompileError("condition is too large after macro expansion")
        if depth > _MAX_INLINE_DEPTH and not isinstance(node, Compare):
            return self.function(node)
        if isinstance(node, And):
            return "(" + " and ".join(self.expr(i, depth + 1) for i in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.expr(i, depth + 1) for i in node.items) + ")"
        if isinstance(node, Not):
            return f"(not {self.expr(node.item, depth + 1)})"
        if isinstance(node, Ident):
            raise CompileError(f"Undefined macro '{node.name}' used in filter.", node.name)
        return self.compare(node)

    def function(self, node: Expr) -> str:
        self.nested += 1  # a nested function cannot fill the fused function's locals
        try:
            body = self.expr(node, 0)
        finally:
            self.nested -= 1
        self.counter += 1
        name = f"_f{self.counter}"
        self.functions.append(f"    def {name}(_e):\n        return {body}\n")
        return f"{name}(_e)"

    # -- fields ---------------------------------------------------------------------------

    def json_read(self, path: tuple[tuple[str, ...], str | None], getter: str) -> str:
        """The inline read of a JSON field (see fields.base.mark_json_path): a string at the
        path, or None when its last key is absent, read in place; anything else (no guard
        key, a value to convert, an odd shape) is left to `getter`. Generated code has no
        builtins: `type`, `str` and `dict` are passed in like every other value."""
        keys, guard = path
        missing, t = self.name("m", _ABSENT), self.name("t")
        type_of, text, mapping = self.name("c", type), self.name("c", str), self.name("c", dict)
        guarded = f" and {self.name('k', guard)} in _e" if guard else ""
        key = self.name("k", keys[-1])
        if len(keys) == 1:
            ok = f"(({t} := _e.get({key}, {missing})) is {missing} or {type_of}({t}) is {text})"
        else:
            outer = self.name("t")
            ok = (
                f"{type_of}({outer} := _e.get({self.name('k', keys[0])})) is {mapping} and "
                f"(({t} := {outer}.get({key}, {missing})) is {missing} or {type_of}({t}) is {text})"
            )
        return f"(({t} if {t} is not {missing} else None) if ({ok}{guarded}) else {getter}(_e))"

    def read(self, operand: _Operand) -> str:
        """The expression that reads an operand's value: inline for a dict key; in a fused
        function, a getter's value is kept after its first call (a getter answers the same
        for the same event; one that raises is called again and raises again)."""
        if operand.get or not self.cache_reads or self.nested:
            return operand.value
        local = f"_v{operand.var}"
        if local not in self.cached:
            self.cached.append(local)
            if not self.unset:
                self.unset = self.name("u", _UNSET)
        return f"({local} if {local} is not {self.unset} else ({local} := {operand.var}(_e)))"

    def operand(self, ref: FieldRef) -> _Operand:
        cached = self.operands.get(ref)
        if cached is not None:
            return cached
        field = self.fields.resolve(ref.name, ref.arg)
        getter: Callable[[object], Any] = field.getter
        multi = getattr(field, "multi", "")
        is_list = field.type == "list" and not multi
        type_ = "string" if is_list else field.type
        if type_ not in _PARAM_TYPES or (multi and multi not in ("any", "either")):
            raise CompileError(f"field '{field.name}' has unsupported type '{field.type}'")
        label = field.name
        for transformer in ref.transformers:
            if multi:
                getter, type_ = _transform_each(getter, type_, transformer, label)
            else:
                getter, type_, is_list = _transform(getter, type_, is_list, transformer, label)
            label = f"{transformer}({label})"
        key = None if ref.transformers else dict_key_of(getter)
        stored = None if ref.transformers or multi else stored_key_of(getter)
        if key is not None:
            # A plain dict key: read inline, no getter call (an event that is not a mapping
            # then fails the rule, counted as an error of that rule, instead of reading None).
            var = self.name("k", key)
            operand = _Operand(var, type_, is_list, label, multi, get=f"_e.get({var})")
        elif (path := None if ref.transformers or multi else json_path_of(getter)) is not None:
            var = self.name("g", getter)
            operand = _Operand(var, type_, is_list, label, multi, get=self.json_read(path, var))
        elif stored is not None:
            # Stored in the event or computed: the key inline, the getter only when absent.
            var, k, t = self.name("g", getter), self.name("k", stored), self.name("t")
            get = f"({t} if ({t} := _e.get({k})) is not None else {var}(_e))"
            operand = _Operand(var, type_, is_list, label, multi, get=get)
        else:
            operand = _Operand(self.name("g", getter), type_, is_list, label, multi)
        self.operands[ref] = operand
        return operand

    # -- comparisons ----------------------------------------------------------------------

    def compare(self, node: Compare) -> str:
        lhs = self.operand(node.field)
        op = "=" if node.op == "==" else node.op
        if lhs.multi:
            return self.compare_multi(op, node, lhs)
        if lhs.is_list:
            if op not in _LIST_FIELD_OPS:
                raise CompileError(
                    f"filter error: '{op}' operator not supported list filters", lhs.label
                )
        elif op not in _OPS_BY_TYPE[lhs.type]:
            raise CompileError(
                f"filter error: '{op}' operator not supported for {_TYPE_WORDS[lhs.type]} filters",
                lhs.label,
            )
        get = self.read(lhs)
        if op == "exists":
            return f"(not not {get})" if lhs.is_list else f"({get} is not None)"
        if isinstance(node.value, FieldRef):
            return self.compare_fields(op, lhs, self.rhs_operand(node.value))
        if node.value is None:
            raise CompileError(f"operator '{node.op}' needs a value", lhs.label)
        if isinstance(node.value, ListLiteral):
            raw = self.lists.literal(node.value.items)
        else:
            raw = [node.value]
        if lhs.is_list:
            members = self.name("c", frozenset(raw))
            t = self.name("t")
            if op == "in":
                return f"({members}.issuperset({t}) if ({t} := {get}) else False)"
            return f"((not {members}.isdisjoint({t})) if ({t} := {get}) else False)"
        return self.compare_constants(op, lhs, raw)

    def compare_multi(self, op: str, node: Compare, lhs: _Operand) -> str:
        """A field with one value per ancestor (``any``: the comparison holds for one of
        them, whatever the operator) or one per socket end (``either``: a positive operator
        holds for one end, ``!=`` for both), as libsinsp's compare_full_a* and
        compare_ip/compare_port/compare_net evaluate them: each value is compared like a
        plain field of the value's type; no value at all makes every comparison false."""
        if op not in _OPS_BY_TYPE[lhs.type]:
            raise CompileError(
                f"filter error: '{op}' operator not supported for {_TYPE_WORDS[lhs.type]} filters",
                lhs.label,
            )
        first_only = False
        if lhs.multi == "either":
            allowed, refusal = _EITHER_OPS.get(lhs.type, (frozenset(), ""))
            if op not in allowed:
                raise CompileError(refusal or f"operator '{op}' not supported", lhs.label)
            if lhs.type == "ipnet":
                if op in ("exists", "intersects"):
                    return "False"  # compare_net answers false for any other operator
                first_only = True  # compare_net tests the first network of the list only
        if op == "exists":
            return f"(not not {self.read(lhs)})"
        t = self.name("t")
        get = f"({t} := {self.read(lhs)})"
        element = _Operand("", lhs.type, False, lhs.label, "", "_x")
        if isinstance(node.value, FieldRef):
            test = self.compare_fields(op, element, self.rhs_operand(node.value))
        elif node.value is None:
            raise CompileError(f"operator '{node.op}' needs a value", lhs.label)
        else:
            if isinstance(node.value, ListLiteral):
                raw = self.lists.literal(node.value.items)
            else:
                raw = [node.value]
            if first_only:
                for value in raw:
                    _parse_net(value, lhs)  # every value must parse, as in libsinsp
                raw = raw[:1]
            if op in ("=", "in", "intersects") and lhs.type not in ("ipaddr", "ipnet"):
                members = self.name("c", frozenset(_constant(value, lhs, op) for value in raw))
                return f"((not {members}.isdisjoint({t})) if {get} else False)"
            test = self.compare_constants(op, element, raw)
        # Generated code has no builtins: all/any are passed in like every other value.
        every = self.name("c", all if lhs.multi == "either" and op == "!=" else any)
        return f"({every}({test} for _x in {t}) if {get} else False)"

    def rhs_operand(self, ref: FieldRef) -> _Operand:
        operand = self.operand(ref)
        if operand.multi:
            raise CompileError(
                f"field '{operand.label}' holds several values and cannot be compared "
                "on the right-hand side",
                operand.label,
            )
        return operand

    def compare_constants(self, op: str, lhs: _Operand, raw: list[str]) -> str:
        get = self.read(lhs)
        t = self.name("t")
        guarded = f"({t} := {get}) is not None and "
        if op == "pmatch":
            return f"({guarded}{self.name('c', _PathPrefixes(raw))}({t}))"
        if lhs.type in ("ipaddr", "ipnet"):
            return self.compare_ip(op, lhs, raw)
        consts = [_constant(value, lhs, op) for value in raw]
        if op in ("in", "intersects"):
            return f"({get} in {self.name('c', frozenset(consts))})"
        const = consts[0]
        if op == "=":
            return f"({get} == {self.name('c', const)})"
        if op in ("glob", "iglob") and isinstance(const, str):
            return "(" + guarded + self.glob(t, const, op == "iglob") + ")"
        if op == "regex":
            try:
                matcher = re.compile(str(const), re.DOTALL).fullmatch
            except re.error as exc:
                raise CompileError(f"invalid regex '{const}': {exc}", lhs.label) from None
            return f"({guarded}{self.name('c', matcher)}({t}) is not None)"
        c = self.name("c", const)
        if (
            op in ("contains", "startswith", "endswith")
            and lhs.type == "string"
            and type(const) is str
            and const
        ):
            # An absent value reads as "", which contains, starts and ends with no
            # non-empty text: the same answers as testing for None first, in fewer steps
            # (these tests run on most events). A falsy value of another type (0, false)
            # then gives no match where it raised, which also gave none.
            text = f"({get} or '')"  # a literal, like the operators: no text from a rule
            if op == "contains":
                return f"({c} in {text})"
            return f"{text}.{op}({c})"
        if op == "!=":
            return f"({guarded}{t} != {c})"
        if op in _ORDER_OPS:
            return f"({guarded}{t} {_ORDER_OPS[op]} {c})"
        if op in ("contains", "bcontains"):
            return f"({guarded}{c} in {t})"
        if op == "icontains":
            return f"({guarded}{c} in {self.name('c', _ascii_lower)}({t}))"
        if op in ("startswith", "bstartswith"):
            return f"({guarded}{t}.startswith({c}))"
        return f"({guarded}{t}.endswith({c}))"  # endswith: the only operator left

    def glob(self, t: str, pattern: str, icase: bool) -> str:
        """A glob as the cheapest equivalent test: most rule globs are a prefix, a suffix or a
        substring, which str methods answer without a regex."""
        if not icase and not any(ch in pattern for ch in "?[\\"):
            pieces = pattern.split("*")
            literal = [p for p in pieces if p]
            if len(literal) <= 1:
                text = literal[0] if literal else ""
                c = self.name("c", text)
                if len(pieces) == 1:
                    return f"{t} == {c}"
                if not text:
                    return "True"
                starts, ends = pieces[0] == "", pieces[-1] == ""
                if starts and ends:
                    return f"{c} in {t}"
                if ends:
                    return f"{t}.startswith({c})"
                if starts:
                    return f"{t}.endswith({c})"
        matcher = self.name("c", _glob_matcher(pattern, icase))
        return f"{matcher}({t}) is not None"

    def compare_ip(self, op: str, lhs: _Operand, raw: list[str]) -> str:
        get = self.read(lhs)
        ip_of = self.name("c", _ip_of)
        if lhs.type == "ipnet":
            nets = tuple(_parse_net(value, lhs) for value in raw)
            test = f"{self.name('c', _ip_in_nets)}({get}, {self.name('c', nets)})"
            if op == "!=":
                return f"({get} is not None and not {test})"
            return f"({test})"
        addresses = [_parse_ip(value, lhs) for value in raw]
        if op in ("in", "intersects"):
            return f"({ip_of}({get}) in {self.name('c', frozenset(addresses))})"
        c = self.name("c", addresses[0])
        if op == "!=":
            t = self.name("t")
            return f"(({t} := {ip_of}({get})) is not None and {t} != {c})"
        return f"({ip_of}({get}) == {c})"

    def compare_fields(self, op: str, lhs: _Operand, rhs: _Operand) -> str:
        """``field op val(other)``: libsinsp extracts both sides and is false when either side
        is missing; both sides must have the same type."""
        if op in ("pmatch", "regex"):
            raise CompileError(f"operator '{op}' doesn't support right-hand side fields", lhs.label)
        if lhs.type == "ipnet":
            raise CompileError("field type 'IPNET' doesn't support right-hand side fields")
        if lhs.type != rhs.type or lhs.is_list != rhs.is_list:
            raise CompileError(
                f"field '{lhs.label}' has type '{_type_text(lhs)}' while the right-hand side "
                f"field '{rhs.label}' has incompatible type '{_type_text(rhs)}'",
                lhs.label,
            )
        t, u = self.name("t"), self.name("t")
        if lhs.is_list:
            both = f"(not not ({t} := {self.read(lhs)})) and (not not ({u} := {self.read(rhs)}))"
            if op == "in":
                return f"({both} and {self.name('c', frozenset)}({u}).issuperset({t}))"
            return f"({both} and not {self.name('c', frozenset)}({u}).isdisjoint({t}))"
        both = f"({t} := {self.read(lhs)}) is not None and ({u} := {self.read(rhs)}) is not None"
        if lhs.type == "ipaddr":
            ip_of = self.name("c", _ip_of)
            equal = f"{ip_of}({t}) == {ip_of}({u})"
            return f"({both} and {'not ' if op == '!=' else ''}({equal}))"
        if op in ("=", "in", "intersects"):
            test = f"{t} == {u}"
        elif op == "!=":
            test = f"{t} != {u}"
        elif op in _ORDER_OPS:
            test = f"{t} {_ORDER_OPS[op]} {u}"
        elif op in ("contains", "bcontains"):
            test = f"{u} in {t}"
        elif op == "icontains":
            lower = self.name("c", _ascii_lower)
            test = f"{lower}({u}) in {lower}({t})"
        elif op in ("startswith", "bstartswith"):
            test = f"{t}.startswith({u})"
        elif op == "endswith":
            test = f"{t}.endswith({u})"
        else:  # glob, iglob
            test = f"{self.name('c', _glob_dynamic)}({u}, {t}, {op == 'iglob'})"
        return f"({both} and {test})"


def _type_text(operand: _Operand) -> str:
    return _PARAM_TYPES[operand.type] + (" (list)" if operand.is_list else "")


def _constant(value: str, lhs: _Operand, op: str) -> object:
    """A constant from the condition as the field's type holds it, parsed once at compile time
    the way libsinsp's string_to_rawval parses it."""
    if op in ("bcontains", "bstartswith"):
        if not _RE_HEX_BYTES.fullmatch(value):
            raise CompileError(
                "filter error: bcontains and bstartswith operator support hex strings only",
                lhs.label,
            )
        return bytes.fromhex(value)
    if lhs.type == "int":
        if not _RE_INT.fullmatch(value):
            raise CompileError(f"{value} is not a valid number", lhs.label)
        return int(value)
    if lhs.type == "bool":
        if value == "true":
            return True
        if value == "false":
            return False
        raise CompileError(f"filter error: unrecognized boolean value {value}", lhs.label)
    if lhs.type == "bytes":
        return value.encode("utf-8", "surrogateescape")
    if op == "icontains":
        return _ascii_lower(value)
    return value


def _parse_ip(value: str, lhs: _Operand) -> _IP:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise CompileError(f"filter error: unrecognized IP address {value}", lhs.label) from None


def _parse_net(value: str, lhs: _Operand) -> _NET:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise CompileError(f"filter error: unrecognized IP network {value}", lhs.label) from None


def _value_transformer(
    type_: str, transformer: str, label: str, is_list: bool = False
) -> tuple[Callable[[Any], Any], str]:
    """The function one transformer applies to one value of type ``type_``, and its result
    type; a transformer the type does not support is libsinsp's compile error."""
    if transformer == "len":
        if type_ == "string":
            return _utf8_len, "int"
        if type_ == "bytes" and not is_list:
            return len, "int"
    elif transformer in ("tolower", "toupper", "basename"):
        if type_ == "string":
            fn = {"tolower": _ascii_lower, "toupper": _ascii_upper, "basename": _basename}
            return fn[transformer], type_
    elif transformer == "b64":
        if type_ == "string":
            return _b64_str, type_
        if type_ == "bytes" and not is_list:
            return _b64_bytes, type_
    else:  # the parser only produces the transformers above
        raise CompileError(f"unknown transformer '{transformer}'", label)
    raise _transformer_error(type_, is_list, transformer, label)


def _transform(
    getter: Callable[[object], Any], type_: str, is_list: bool, transformer: str, label: str
) -> tuple[Callable[[object], Any], str, bool]:
    """A getter that applies one transformer, with the resulting type. Transformers run on an
    extracted value only: a missing value (or an empty list) stays missing, and a value the
    transformer refuses (b64 of non-base64) makes the field missing, as in libsinsp."""
    if transformer == "len" and is_list:

        def count(event: object) -> int | None:
            values = getter(event)
            return len(values) if values else None

        return count, "int", False
    fn, out_type = _value_transformer(type_, transformer, label, is_list)

    if is_list:

        def each(event: object) -> list[Any] | None:
            values = getter(event)
            if not values:
                return None
            out = [fn(value) for value in values]
            return None if any(value is None for value in out) else out

        return each, out_type, True

    def one(event: object) -> Any:
        value = getter(event)
        return None if value is None else fn(value)

    return one, out_type, False


def _transform_each(
    getter: Callable[[object], Any], type_: str, transformer: str, label: str
) -> tuple[Callable[[object], Any], str]:
    """A transformer over each value of a multi field (``len(proc.aname)`` is the length of
    each ancestor's name); a value the transformer refuses drops out."""
    fn, out_type = _value_transformer(type_, transformer, label)

    def each(event: object) -> list[Any] | None:
        values = getter(event)
        if not values:
            return None
        out = [result for result in map(fn, values) if result is not None]
        return out or None

    return each, out_type


def _transformer_error(type_: str, is_list: bool, transformer: str, label: str) -> CompileError:
    return CompileError(
        f"can't add field transformer: type '{_PARAM_TYPES.get(type_, type_)}' is not supported "
        f"by '{transformer}' transformer applied on {'list ' if is_list else ''}field '{label}'",
        label,
    )


def compile_first_match(
    exprs: Sequence[Expr | bool],
    fields: FieldRegistry,
    on_error: Callable[[int], None],
    answers: Sequence[T],
    guard: tuple[str, object, Callable[[object], T | None]] | None = None,
) -> Callable[[object], T | None]:
    """One function that tests expanded conditions in order and answers ``answers[i]`` for
    the first condition ``i`` that holds, None when none does: the engine's candidates for
    one place of its index, without a call per rule. ``True`` is a condition that always
    holds. A condition that raises counts as not holding and is reported as
    ``on_error(index)``, exactly as the engine reports a failing predicate.

    ``guard`` (key, value, otherwise): the conditions run only for an event whose ``key``
    holds ``value``; any other value answers None, and an event that cannot be read answers
    ``otherwise(event)`` (an index step with one branch, folded into its only leaf)."""
    if len(answers) != len(exprs):
        raise ValueError("one answer per condition")
    gen = _CodeGen({}, fields)
    gen.cache_reads = True
    try:
        bodies = ["True" if e is True else gen.expr(e, 0) for e in exprs if e is not False]
    except RecursionError:
        raise CompileError("condition nests too deeply after macro expansion") from None
    if len(bodies) != len(exprs):
        raise CompileError("a condition that never holds has no place among candidates")
    error, handler = gen.name("x", Exception), gen.name("r", on_error)
    names = [gen.name("a", answer) for answer in answers]
    lines = ["    def _rule(_e):\n"]
    if guard is not None:
        key, value, otherwise = (gen.name("k", guard[0]), gen.name("c", guard[1]),
                                 gen.name("o", guard[2]))  # fmt: skip
        lines.append(
            f"        try:\n            if _e.get({key}) != {value}:\n                return None\n"
            f"        except {error}:\n            return {otherwise}(_e)\n"
        )
    if gen.cached:
        lines.append(f"        {' = '.join(gen.cached)} = {gen.unset}\n")
    for index, body in enumerate(bodies):
        lines.append(
            f"        try:\n            if {body}:\n                return {names[index]}\n"
            f"        except {error}:\n            {handler}({index})\n"
        )
    lines.append("        return None\n")
    gen.functions.append("".join(lines))
    params = ", ".join(gen.values)
    source = f"def _make({params}):\n" + "".join(gen.functions) + "    return _rule\n"
    namespace: dict[str, Any] = {"__builtins__": {}}
    # Safe: the source holds only names generated here, never text from a rule.
    exec(compile(source, "<falco candidates>", "exec"), namespace)  # noqa: S102
    first: Callable[[object], T | None] = namespace["_make"](*gen.values.values())
    return first


def compile_json_step(
    path: tuple[tuple[str, ...], str | None],
    getter: Callable[[object], Any],
    pick: Callable[[Any, Any], Any],
    default: Any,
    fallback: Callable[[object], T | None],
) -> Callable[[object], T | None]:
    """One step of the engine's index on a JSON field (see fields.base.mark_json_path): the
    field read in place, ``pick(value, default)`` chooses the next function, called with the
    event; an event the read fails on goes to ``fallback``, as in ``Engine.process``."""
    gen = _CodeGen({}, _NoFields())
    read = gen.json_read(path, gen.name("g", getter))
    choose, otherwise = gen.name("p", pick), gen.name("d", default)
    error, rest = gen.name("x", Exception), gen.name("f", fallback)
    body = (
        f"    def _rule(_e):\n        try:\n            _n = {choose}({read}, {otherwise})\n"
        f"        except {error}:\n            return {rest}(_e)\n        return _n(_e)\n"
    )
    source = f"def _make({', '.join(gen.values)}):\n{body}    return _rule\n"
    namespace: dict[str, Any] = {"__builtins__": {}}
    # Safe: the source holds only names generated here, never text from a rule.
    exec(compile(source, "<falco index step>", "exec"), namespace)  # noqa: S102
    step: Callable[[object], T | None] = namespace["_make"](*gen.values.values())
    return step


class _NoFields:
    """A registry for code that names no field (an index step's read is given whole)."""

    source = ""

    def resolve(self, name: str, arg: str | None) -> Any:
        raise CompileError(f"no field {name} here")


def compile_condition(
    expr: Expr,
    *,
    macros: Mapping[str, Expr],
    lists: Mapping[str, Sequence[str]],
    fields: FieldRegistry,
) -> Callable[[object], bool]:
    """A predicate over events for the condition: macros expanded, list references flattened,
    fields resolved through ``fields`` (its UnknownFieldError propagates), constants parsed and
    set-ified once. Raises CompileError for what libsinsp refuses at compile time."""
    try:
        return _CodeGen(lists, fields).build(expand_macros(expr, macros))
    except RecursionError:
        raise CompileError("condition nests too deeply after macro expansion") from None
