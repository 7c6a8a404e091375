"""Condition text as Falco builds it from a rule: exception clauses appended to the
condition, and lists substituted into it as text, before the condition is parsed.

Falco does both on text (rule_loader_compiler.cpp: build_rule_exception_infos,
resolve_list), quirks included, so the parser must see exactly the text Falco's would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, TypeAlias

from kubeward.runtime.rules_messages import EXCEPTION, LOAD_ERR_VALIDATE, ItemContext, LoadFailure

# libsinsp's filter parser operators (supported_operators()); the list operators are the
# ones whose right side is a parenthesised list.
OPERATORS = frozenset(
    {
        "exists",
        "<=",
        "<",
        ">=",
        ">",
        "==",
        "=",
        "!=",
        "glob",
        "iglob",
        "contains",
        "icontains",
        "bcontains",
        "startswith",
        "bstartswith",
        "endswith",
        "regex",
        "intersects",
        "in",
        "pmatch",
    }
)
LIST_OPERATORS = frozenset({"intersects", "in", "pmatch"})

# A rule exception's fields, comps or one of its values: a string, or a list of entries.
# "" stands for an entry Falco cannot use (a null or a mapping where a string or list is due).
ExceptionEntry: TypeAlias = "str | tuple[ExceptionEntry, ...]"


class ExceptionLike(Protocol):
    """An ``exceptions:`` entry as collected or as loaded (RuleException)."""

    @property
    def name(self) -> str: ...
    @property
    def fields(self) -> ExceptionEntry | None: ...
    @property
    def comps(self) -> ExceptionEntry | None: ...
    @property
    def values(self) -> Sequence[ExceptionEntry]: ...
    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int | None: ...


def entry_valid(entry: ExceptionEntry | None) -> bool:
    return bool(entry)


def entry_items(entry: ExceptionEntry | None) -> tuple[ExceptionEntry, ...]:
    return entry if isinstance(entry, tuple) else ()


def entry_item(entry: ExceptionEntry | None) -> str:
    return entry if isinstance(entry, str) else ""


def quote_item(text: str) -> str:
    """Falco's quote_item: a value with a space is double-quoted unless already quoted
    (nothing is escaped, as in Falco)."""
    if " " in text and text[:1] not in ('"', "'"):
        return f'"{text}"'
    return text


def _paren_item(text: str) -> str:
    return text if text[:1] == "(" else f"({text})"


def _exception_clause(ex: ExceptionLike) -> str:
    """One exception as Falco's build_rule_exception_infos writes it ("" without values)."""
    ctx = ItemContext(ex.file, EXCEPTION, ex.name, ex.line)
    if not isinstance(ex.fields, tuple):
        field_name = entry_item(ex.fields)
        comp = entry_item(ex.comps)
        values: list[str] = []
        for value in ex.values:
            if isinstance(value, tuple):
                message = "Expected values array to contain a list of strings"
                raise LoadFailure(LOAD_ERR_VALIDATE, message, ctx)
            values.append(quote_item(value))
        return f"({field_name} {comp} ({', '.join(values)}))" if values else ""
    comps = entry_items(ex.comps)
    tuples: list[str] = []
    for value in ex.values:
        items = entry_items(value)
        if len(ex.fields) != len(items):
            message = "Fields and values lists must have equal length"
            raise LoadFailure(LOAD_ERR_VALIDATE, message, ctx)
        checks: list[str] = []
        for k, field_entry in enumerate(ex.fields):
            comp = entry_item(comps[k]) if k < len(comps) else ""
            item = items[k]
            if isinstance(item, tuple):
                # Falco joins with ", " only once the text is past "(": an empty first
                # value (a nested list reads as "") takes no separator after it
                text = "("
                for value_item in item:
                    text += ("" if text == "(" else ", ") + quote_item(entry_item(value_item))
                text += ")"
            elif comp in LIST_OPERATORS:
                text = _paren_item(item)
            else:
                text = quote_item(item)
            checks.append(f" {entry_item(field_entry)} {comp} {text}")
        tuples.append("(" + " and".join(checks) + ")")
    return "(" + " or ".join(tuples) + ")" if tuples else ""


def exception_clauses(exceptions: Sequence[ExceptionLike]) -> str:
    """The "and not (...)" clauses of a rule's exceptions, joined as Falco joins them."""
    return " ".join(f"and not {c}" for c in map(_exception_clause, exceptions) if c)


def effective_condition(cond: str, exceptions: Sequence[ExceptionLike]) -> str:
    """The rule's condition with its exceptions appended, as Falco builds it before parsing:
    "(condition) and not (...)"."""
    if not exceptions:
        return cond
    clauses = exception_clauses(exceptions)
    return f"({cond})" + (f" {clauses}" if clauses else "")


_BLANKS = " \t\n\r"
_DELIMS = _BLANKS + "(),="


def _substitute_list(cnd: str, name: str, items: Sequence[str]) -> tuple[str, bool]:
    """Falco's resolve_list: every occurrence of the list name between delimiters (blank,
    parenthesis, comma, '=' or either end) is replaced by the quoted items, text-wise."""
    used = False
    start = cnd.find(name)
    while start != -1:
        end = start + len(name)
        if (start == 0 or cnd[start - 1] in _DELIMS) and (end >= len(cnd) or cnd[end] in _DELIMS):
            while start > 0 and cnd[start - 1] in _BLANKS:
                start -= 1
            while end < len(cnd) and cnd[end] in _BLANKS:
                end += 1
            sub = ", ".join(quote_item(item) for item in items)
            if not sub:
                # an empty list: drop one neighbouring comma
                if start > 0 and cnd[start - 1] == ",":
                    start -= 1
                elif end < len(cnd) and cnd[end] == ",":
                    end += 1
            cnd = (cnd[:start] + " " if start > 0 else "") + sub + " " + cnd[end:]
            start += len(sub) + 1
            used = True
        start = cnd.find(name, start + 1)
    return cnd, used


class ListSubstituter:
    """Falco substitutes every list, in order, into every condition; a condition names few
    of them, so only lists whose name appears as a word are tried, still in list order (a
    substituted item naming a later list is substituted in turn, as in Falco)."""

    def __init__(self, lists: Mapping[str, Sequence[str]]) -> None:
        self.names = list(lists)
        self.items = [lists[name] for name in self.names]
        self.position = {name: index for index, name in enumerate(self.names)}
        # a name holding a delimiter cannot be found as a word: always tried
        self.odd = [i for i, name in enumerate(self.names) if _WORD_SPLIT.search(name)]

    def __call__(self, condition: str) -> tuple[str, set[str]]:
        used: set[str] = set()
        pending = set(self.odd)
        pending.update(self._positions(condition))
        done = -1
        while pending:
            index = min(pending)
            pending.discard(index)
            done = index
            name = self.names[index]
            condition, hit = _substitute_list(condition, name, self.items[index])
            if hit:
                used.add(name)
                words = " ".join(self.items[index])
                pending.update(i for i in self._positions(words) if i > done)
        return condition, used

    def _positions(self, text: str) -> Iterator[int]:
        position = self.position
        for word in _WORD_SPLIT.split(text):
            index = position.get(word)
            if index is not None:
                yield index


_WORD_SPLIT = re.compile(r"[ \t\n\r(),=]+")


def substitute_lists(condition: str, lists: Mapping[str, Sequence[str]]) -> tuple[str, set[str]]:
    """The condition with every list substituted in order (Falco substitutes lists as text
    before parsing), and the names of the lists that were used."""
    return ListSubstituter(lists)(condition)
