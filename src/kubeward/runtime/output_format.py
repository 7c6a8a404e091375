"""Rule output strings as libsinsp's event formatter reads them (sinsp_evt_formatter).

An output is literal text with ``%field`` tokens: ``%proc.name``, ``%evt.arg[0]``,
``%ka.target.name``, and ``%10field`` to pad or cut the value to 10 characters. A leading
``*`` only says that missing values print ``<NA>``. Falco builds a formatter for every rule
output when it loads the rules, and a rule whose output the formatter refuses is a load
error (LOAD_ERR_COMPILE_OUTPUT) with the formatter's message, e.g. ``invalid formatting token
not_a_real_field``.

``parse_output`` splits an output into literal text and tokens the way the engine's
``OutputFormat`` renders them (runtime/engine.py): a token takes the longest field name the
source's registry resolves (``%ka.target.name/...`` stops at the slash, ``%evt.arg.flags`` is
one field), ``[...]`` right after the name is its argument, and a name the registry lists
with a wrong argument is an error rather than a shorter field followed by text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from kubeward.errors import KubewardError

__all__ = [
    "UNKNOWN_FIELD_MARKERS",
    "OutputFormatError",
    "OutputToken",
    "is_unknown_field_error",
    "output_error",
    "parse_output",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_NAME_CHARS = re.compile(r"[A-Za-z0-9_.]+")

UNKNOWN_FIELD_MARKERS = (
    "nonexistent field",
    "invalid formatting token",
    "unknown event type",
    "unknown filter:",
)
"""Falco's err_is_unknown_type_or_field (rule_loader_compiler.cpp): the errors that a rule
with ``skip-if-unknown-filter: true`` turns into a LOAD_UNKNOWN_FILTER warning."""


def is_unknown_field_error(message: str) -> bool:
    """Whether ``skip-if-unknown-filter`` applies to a compile error with this message."""
    return any(marker in message for marker in UNKNOWN_FIELD_MARKERS)


class OutputFormatError(KubewardError):
    """An output libsinsp's formatter refuses; ``message`` is the formatter's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Resolver(Protocol[T_co]):
    """A field registry (runtime.fields.base.FieldRegistry, the loader's FieldResolver)."""

    def resolve(self, name: str, arg: str | None) -> T_co: ...


@dataclass(frozen=True, slots=True)
class OutputToken(Generic[T]):
    """One ``%field`` token: ``text`` as written after the ``%`` and the width
    (``proc.name``, ``evt.arg[0]``), the resolved ``field``, ``width`` (0: as it is), and
    where the token is in the format (``start`` at the ``%``, ``end`` after the token;
    offsets in the output without its leading ``*``)."""

    text: str
    field: T
    width: int
    start: int
    end: int


def parse_output(text: str, registry: _Resolver[T]) -> list[str | OutputToken[T]]:
    """The output as literal strings and tokens, in order. Raises OutputFormatError with
    libsinsp's message for an output its formatter refuses."""
    if text == "":
        raise OutputFormatError("empty formatting token")
    fmt = text[1:] if text.startswith("*") else text
    parts: list[str | OutputToken[T]] = []
    literal_start = 0
    i = 0
    n = len(fmt)
    while i < n:
        i = fmt.find("%", i)
        if i < 0:
            break
        if literal_start != i:
            parts.append(fmt[literal_start:i])
        if i == n - 1:
            raise OutputFormatError("invalid formatting syntax: formatting cannot end with a %")
        j = i + 1
        while j < n and fmt[j].isdigit():
            j += 1
        width = 0
        if j > i + 1:
            if j == n:
                raise OutputFormatError(
                    "invalid formatting syntax: formatting cannot end with a number"
                )
            width = int(fmt[i + 1 : j])
        name_text, field, end = _field_token(fmt, j, registry)
        parts.append(OutputToken(name_text, field, width, i, end))
        i = literal_start = end
    if literal_start != n:
        parts.append(fmt[literal_start:])
    return parts


def output_error(text: str, registry: _Resolver[object]) -> str | None:
    """libsinsp's message for an output its formatter refuses, or None when it is valid."""
    try:
        parse_output(text, registry)
    except OutputFormatError as exc:
        return exc.message
    return None


def _field_token(fmt: str, start: int, registry: _Resolver[T]) -> tuple[str, T, int]:
    """(token as written, resolved field, index after the token) for the field at
    ``start``: the longest name the registry resolves wins."""
    m = _NAME_CHARS.match(fmt, start)
    if m is None:
        raise OutputFormatError(f"invalid formatting token {fmt[start:]}")
    candidate = m.group()
    lists_names = getattr(registry, "__contains__", None)
    for end in range(len(candidate), 0, -1):
        name = candidate[:end]
        after = start + end
        found = _arg_at(fmt, after)
        try:
            field = registry.resolve(name, found[0] if found else None)
        except KubewardError as exc:
            if lists_names is not None and lists_names(name):
                raise OutputFormatError(str(exc)) from None
            continue
        if found is not None:
            after = found[1]
        return fmt[start:after], field, after
    raise OutputFormatError(f"invalid formatting token {fmt[start:]}")


def _arg_at(fmt: str, pos: int) -> tuple[str, int] | None:
    """The ``[argument]`` at ``pos`` and the index after it, or None."""
    if pos >= len(fmt) or fmt[pos] != "[":
        return None
    close = fmt.find("]", pos + 1)
    if close < 0:
        raise OutputFormatError(f"invalid formatting token {fmt[pos:]}: missing ']'")
    return fmt[pos + 1 : close], close + 1
