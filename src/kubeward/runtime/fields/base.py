"""The field contract between rule conditions and event sources.

A rule names a field (``ka.user.name``, ``jevt.value[/stage]``); a registry turns the name and
its ``[argument]`` into a typed getter once, when the rule is compiled, so that matching an
event is one plain function call per field and never a name lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

from kubeward.errors import KubewardError

Getter = Callable[[object], Any]
"""Returns the field's value for one event, or None when the event does not carry it."""

ArgKind = Literal["none", "index", "key"]
"""What may follow a field name in brackets: nothing, an optional list index, a required key."""

NA = "<NA>"
"""How Falco prints a field that could not be extracted."""

_INDEX = re.compile(r"0|[1-9][0-9]*")


class UnknownFieldError(KubewardError):
    """A condition or output names a field the source does not define, or misuses its argument."""

    def __init__(self, field: str, message: str | None = None) -> None:
        self.field = field
        super().__init__(message or f"unknown field '{field}'")


Multi = Literal["", "any", "either"]
"""How a comparison treats a field with several values that is not a list field in libsinsp.

``""``: a plain field (one value, or a ``list`` field compared as a set). ``"any"``: one value
per ancestor (``proc.aname``, ``proc.apid`` ... without an index); every operator holds when it
holds for one ancestor, ``!=`` included. ``"either"``: the two ends of a socket (``fd.ip``,
``fd.port``, ``fd.proto``, ``fd.net``); ``=``, ``in`` and the ordering operators hold when one
end matches, ``!=`` only when neither does. Both kinds of getter return a list of the values."""


@dataclass(frozen=True, slots=True)
class Field:
    """A resolved field: ``name`` includes the argument (``ka.uri.param[command]``), as Falco
    names it in outputs. ``getter`` returns None when absent; for ``list`` fields and ``multi``
    fields a list. For a ``multi`` field ``type`` is the type of each value."""

    name: str
    type: str  # "string" | "int" | "bool" | "list" | "ipaddr" | "ipnet" | "bytes"
    getter: Getter
    multi: Multi = ""


class FieldRegistry(Protocol):
    """The fields one event source offers to the condition compiler and the output formatter."""

    source: str

    def resolve(self, name: str, arg: str | None) -> Field: ...


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field a registry offers: ``factory`` builds the getter for a validated argument."""

    name: str
    type: str
    factory: Callable[[str | None], Getter]
    arg: ArgKind = "none"
    desc: str = ""
    multi: Multi = ""
    """Applies to the argument-less form only: ``proc.aname[2]`` is one plain value."""


class MappedFieldRegistry:
    """A registry backed by a name -> FieldSpec table.

    Arguments are checked the way libsinsp checks plugin fields: a field without an argument
    refuses one, an index must be a plain decimal number, a key is required and non-empty.
    Resolved fields are cached: a ruleset names the same few fields hundreds of times.
    """

    def __init__(self, source: str, specs: Iterable[FieldSpec]) -> None:
        self.source = source
        self._specs: dict[str, FieldSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"field {spec.name} is defined twice")
            self._specs[spec.name] = spec
        self._resolved: dict[tuple[str, str | None], Field] = {}

    def specs(self) -> tuple[FieldSpec, ...]:
        """Every field this registry offers, in definition order."""
        return tuple(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def resolve(self, name: str, arg: str | None) -> Field:
        key = (name, arg)
        cached = self._resolved.get(key)
        if cached is not None:
            return cached
        spec = self._specs.get(name)
        display = name if arg is None else f"{name}[{arg}]"
        if spec is None:
            raise UnknownFieldError(display, f"unknown field '{display}' for source {self.source}")
        if spec.arg == "none" and arg is not None:
            raise UnknownFieldError(display, f"field '{name}' does not accept an argument")
        if spec.arg == "key" and not arg:
            raise UnknownFieldError(display, f"field '{name}' requires an argument")
        if spec.arg == "index" and arg is not None and not _INDEX.fullmatch(arg):
            raise UnknownFieldError(display, f"field '{name}' requires a numeric index")
        field = Field(display, spec.type, spec.factory(arg), spec.multi if arg is None else "")
        self._resolved[key] = field
        return field


def decoder_key(key: str) -> str:
    """``key`` as the very str object orjson answers for it when it decodes an object key.

    orjson keeps the keys it decodes (up to 64 bytes) in a cache and hands out the same
    object every time, so an event's keys are those objects. A dict lookup with the
    identical object is decided by a pointer comparison; with an equal copy it compares the
    characters too: a third of the cost of each field read. Compiled conditions therefore
    read events with these objects. Only speed depends on it: when orjson no longer caches
    a key (its cache is bounded), lookups compare characters and answer the same."""
    try:
        (same,) = orjson.loads(orjson.dumps({key: None}))
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, ValueError):  # a lone surrogate
        return key
    return same if type(same) is str and same == key else key


def mark_dict_key(getter: Getter, key: str) -> Getter:
    """Record that ``getter`` is ``event.get(key)`` on a dict event (None for any other
    event): the condition compiler then reads the key inline instead of calling the getter,
    a third of the cost of a typical syscall rule."""
    getter.dict_key = decoder_key(key)  # type: ignore[attr-defined]
    return getter


def dict_key_of(getter: Getter) -> str | None:
    """The key ``mark_dict_key`` recorded, or None."""
    key = getattr(getter, "dict_key", None)
    return key if isinstance(key, str) else None


def mark_stored_first(getter: Getter, key: str) -> Getter:
    """Record that ``getter`` answers ``event.get(key)`` when that is not None and computes
    the value otherwise (a field derived from others, a second spelling): the compiler reads
    the key inline and calls the getter only when it is absent."""
    getter.stored_key = decoder_key(key)  # type: ignore[attr-defined]
    return getter


def mark_json_path(getter: Getter, keys: tuple[str, ...], guard: str | None) -> Getter:
    """Record that ``getter`` answers, for a dict event holding ``guard`` (when given), the
    text at ``keys`` (one or two object keys) when that is a string, None when the last key
    is absent, and something else only in other cases, which it computes itself: the
    compiler reads the common cases inline and calls the getter for the rest."""
    path = (tuple(decoder_key(k) for k in keys), None if guard is None else decoder_key(guard))
    getter.json_path = path  # type: ignore[attr-defined]
    return getter


def json_path_of(getter: Getter) -> tuple[tuple[str, ...], str | None] | None:
    """What ``mark_json_path`` recorded, or None."""
    path = getattr(getter, "json_path", None)
    return path if isinstance(path, tuple) else None


def stored_key_of(getter: Getter) -> str | None:
    """The key ``mark_stored_first`` recorded, or None."""
    key = getattr(getter, "stored_key", None)
    return key if isinstance(key, str) else None


def render(value: object) -> str:
    """A field value as Falco prints it in an output: ``<NA>`` when absent, lists as
    ``(a,b)``, booleans as ``true``/``false``."""
    if value is None:
        return NA
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        # libsinsp never prints an empty list: a list field with no values was not extracted.
        return "(" + ",".join(render(v) for v in value) + ")" if value else NA
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
