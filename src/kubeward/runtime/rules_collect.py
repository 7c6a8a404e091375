"""Falco's rule collector: lists, macros and rules as defined, appended to and overridden
across files (rule_loader_collector.cpp), and the Ruleset built from what was collected.

A redefinition keeps the place of the first definition; an append or override changes the
item where it is; every change makes the item "visible" at a later index, which is what
decides which macros and lists it may use (the validation pass checks that).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from kubeward.errors import KubewardError
from kubeward.runtime.rules_condition_text import (
    LIST_OPERATORS,
    OPERATORS,
    ExceptionEntry,
    entry_item,
    entry_items,
    entry_valid,
)
from kubeward.runtime.rules_messages import (
    ERROR_NO_PREVIOUS_RULE_REPLACE,
    LIST,
    LOAD_ERR_VALIDATE,
    LOAD_UNKNOWN_SOURCE,
    MACRO,
    RULE,
    ItemContext,
    LoadFailure,
    LoadMessage,
    SourcePosition,
)
from kubeward.runtime.rules_model import (
    SYSCALL_SOURCE,
    FieldResolver,
    PluginRequirement,
    Rule,
    RuleException,
    Ruleset,
)
from kubeward.runtime.rules_read import ScalarSource

SEMVER_RE = re.compile(r"\s*\+?(\d+)\.\s*\+?(\d+)\.\s*\+?(\d+)")
_FIELD_ARG_RE = re.compile(r"([^\[]+)(?:\[(.*)\])?", re.DOTALL)


@dataclass(slots=True)
class ExceptionInfo:
    name: str
    fields: ExceptionEntry | None
    comps: ExceptionEntry | None
    values: list[ExceptionEntry]
    ctx: ItemContext

    @property
    def file(self) -> str:
        return self.ctx.file

    @property
    def line(self) -> int | None:
        return self.ctx.line


@dataclass(slots=True)
class ListInfo:
    name: str
    items: list[str]
    ctx: ItemContext
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class MacroInfo:
    name: str
    cond: str
    ctx: ItemContext
    index: int = 0
    visibility: int = 0
    # the `condition:` scalar the condition was read from, to place syntax errors in the file
    cond_source: ScalarSource | None = None


@dataclass(slots=True)
class RuleInfo:
    name: str
    ctx: ItemContext
    cond: str = ""
    output: str = ""
    desc: str = ""
    priority: str = "Debug"
    source: str = SYSCALL_SOURCE
    tags: set[str] = field(default_factory=set)
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    enabled: bool = True
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    unknown_source: bool = False
    index: int = 0
    visibility: int = 0
    cond_source: ScalarSource | None = None


@dataclass(slots=True)
class RuleUpdate:
    name: str
    ctx: ItemContext
    cond: str | None = None
    output: str | None = None
    desc: str | None = None
    tags: set[str] | None = None
    exceptions: list[ExceptionInfo] | None = None
    priority: str | None = None
    enabled: bool | None = None
    warn_evttypes: bool | None = None
    skip_if_unknown_filter: bool | None = None
    # how the update was asked for: the deprecated `append: true` key or `override:`
    via_append_key: bool = False
    cond_source: ScalarSource | None = None

    def has_any_value(self) -> bool:
        values = (
            self.cond,
            self.output,
            self.desc,
            self.tags,
            self.exceptions,
            self.priority,
            self.enabled,
            self.warn_evttypes,
            self.skip_if_unknown_filter,
        )
        return any(value is not None for value in values)


def no_previous(item_type: str, via_append_key: bool) -> str:
    """Falco's message for appending to an item that does not exist. Falco 0.35 (the test
    specs) says "<Item> has 'append' key ..."; later versions name both ways of appending.
    The key the file actually used is named."""
    title = item_type.capitalize()
    if via_append_key:
        return f"{title} has 'append' key but no {item_type} by that name already exists"
    key = {LIST: "items", MACRO: "condition"}.get(item_type, "<key>")
    return (
        f"{title} uses 'append' or 'override.{key}: append' but no {item_type} "
        "by that name already exists"
    )


def version_string(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def parse_version(text: str) -> tuple[int, int, int]:
    match = SEMVER_RE.match(text)
    if not match:
        raise ValueError(f"not a semver version: {text!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)


@dataclass(slots=True)
class Collector:
    """Falco's rule collector plus the loader's outputs, across files."""

    sources: frozenset[str]
    fields: Mapping[str, FieldResolver]
    engine_version: tuple[int, int, int]
    lists: dict[str, ListInfo] = field(default_factory=dict)
    macros: dict[str, MacroInfo] = field(default_factory=dict)
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    counter: int = 0
    required_engine_version: tuple[int, int, int] | None = None
    plugin_versions: list[tuple[PluginRequirement, ...]] = field(default_factory=list)
    warnings: list[LoadMessage] = field(default_factory=list)
    errors: list[LoadMessage] = field(default_factory=list)
    seen: set[tuple[str, LoadMessage]] = field(default_factory=set)
    # rules dropped by the last validation pass (unknown field with skip-if-unknown-filter)
    skipped: set[str] = field(default_factory=set)
    # each rule output's check (formatter message or None) by source: validation runs after
    # every file over everything collected, and an output is the same text each time
    output_checks: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def warn(self, code: str, message: str, ctx: ItemContext) -> None:
        self._add(self.warnings, "w", code, message, ctx)

    def error(
        self, code: str, message: str, ctx: ItemContext, where: SourcePosition | None = None
    ) -> None:
        self._add(self.errors, "e", code, message, ctx, where=where)

    def _add(
        self,
        out: list[LoadMessage],
        kind: str,
        code: str,
        message: str,
        ctx: ItemContext,
        *,
        where: SourcePosition | None = None,
    ) -> None:
        # Falco validates everything collected so far after each file, so the same
        # warning (an unused macro of the first file) comes back once per file: keep one.
        entry = LoadMessage(code, message, ctx.file, ctx.item_type, ctx.item_name, ctx.line)
        if where is not None:
            entry = replace(
                entry,
                position=where.offset,
                position_line=where.line,
                position_column=where.column,
            )
        if (kind, entry) not in self.seen:
            self.seen.add((kind, entry))
            out.append(entry)

    def next_index(self) -> int:
        index = self.counter
        self.counter += 1
        return index

    def ruleset(self) -> Ruleset:
        rules = {
            name: _public_rule(info)
            for name, info in self.rules.items()
            if not info.unknown_source and name not in self.skipped
        }
        lists = compile_lists(self.lists)[0]
        required = self.required_engine_version
        return Ruleset(
            rules=rules,
            macros={name: info.cond for name, info in self.macros.items()},
            lists={name: list(items) for name, items in lists.items()},
            required_engine_version=None if required is None else version_string(required),
            required_plugin_versions=list(self.plugin_versions),
            warnings=list(self.warnings),
            errors=list(self.errors),
        )


def _public_exception(info: ExceptionInfo) -> RuleException:
    comps = info.comps if info.comps is not None else ""
    fields = info.fields if info.fields is not None else ""
    return RuleException(info.name, fields, comps, tuple(info.values), info.ctx.file, info.ctx.line)


def _public_rule(info: RuleInfo) -> Rule:
    return Rule(
        name=info.name,
        desc=info.desc,
        condition=info.cond,
        output=info.output,
        priority=info.priority,
        source=info.source,
        tags=tuple(sorted(info.tags)),
        enabled=info.enabled,
        exceptions=tuple(_public_exception(ex) for ex in info.exceptions),
        warn_evttypes=info.warn_evttypes,
        skip_if_unknown_filter=info.skip_if_unknown_filter,
        file=info.ctx.file,
        line=info.ctx.line or 0,
    )


_T = TypeVar("_T", ListInfo, MacroInfo, RuleInfo)


def define(infos: dict[str, _T], info: _T, index: int) -> None:
    """define_info: a redefinition replaces the earlier item in its place (keeping its
    index, so references resolve as if it had always been there) and becomes visible now."""
    prev = infos.get(info.name)
    info.index = index if prev is None else prev.index
    info.visibility = index
    infos[info.name] = info


def define_rule(state: Collector, info: RuleInfo) -> None:
    prev = state.rules.get(info.name)
    if prev is not None and prev.source != info.source:
        message = "Rule has been re-defined with a different source"
        raise LoadFailure(LOAD_ERR_VALIDATE, message, info.ctx)
    if info.source not in state.sources:
        info.unknown_source = True
        state.warn(LOAD_UNKNOWN_SOURCE, f"Unknown source {info.source}, skipping", info.ctx)
    resolver = None if info.unknown_source else state.fields.get(info.source)
    for ex in info.exceptions:
        if not entry_valid(ex.fields):
            message = "Rule exception item must have fields property with a list of fields"
            raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
        _validate_exception(ex, resolver)
    define(state.rules, info, state.next_index())


def append_rule(state: Collector, update: RuleUpdate) -> None:
    prev = state.rules.get(update.name)
    if prev is None:
        message = no_previous(RULE, update.via_append_key)
        raise LoadFailure(LOAD_ERR_VALIDATE, message, update.ctx)
    if not update.has_any_value():
        message = "Appended rule must have exceptions or condition property"
        raise LoadFailure(LOAD_ERR_VALIDATE, message, update.ctx)
    resolver = None if prev.unknown_source else state.fields.get(prev.source)
    if update.cond:
        prev.cond += " " + update.cond
    if update.output:
        prev.output += " " + update.output
    if update.desc:
        prev.desc += " " + update.desc
    if update.tags is not None:
        prev.tags |= update.tags
    for ex in update.exceptions or ():
        existing = next((old for old in prev.exceptions if old.name == ex.name), None)
        if existing is None:
            if not entry_valid(ex.fields):
                message = "Rule exception must have fields property with a list of fields"
                raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
            if not ex.values:
                message = "Rule exception must have values property with a list of values"
                raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
            _validate_exception(ex, resolver)
            prev.exceptions.append(ex)
        else:
            if entry_valid(ex.fields):
                message = "Can not append exception fields to existing exception, only values"
                raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
            if entry_valid(ex.comps):
                message = "Can not append exception comps to existing exception, only values"
                raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
            existing.values.extend(ex.values)
    prev.visibility = state.next_index()


def replace_rule(state: Collector, update: RuleUpdate) -> None:
    prev = state.rules.get(update.name)
    if prev is None:
        raise LoadFailure(LOAD_ERR_VALIDATE, ERROR_NO_PREVIOUS_RULE_REPLACE, update.ctx)
    if not update.has_any_value():
        message = "The rule must have at least one field that can be replaced"
        raise LoadFailure(LOAD_ERR_VALIDATE, message, update.ctx)
    if update.cond is not None:
        prev.cond = update.cond
        prev.cond_source = update.cond_source
    if update.output is not None:
        prev.output = update.output
    if update.desc is not None:
        prev.desc = update.desc
    if update.tags is not None:
        prev.tags = update.tags
    if update.exceptions is not None:
        # Falco takes replaced exceptions unchecked (their comps then have no defaults and
        # building the condition reads past the end); they are checked here as at define.
        resolver = None if prev.unknown_source else state.fields.get(prev.source)
        for ex in update.exceptions:
            if not entry_valid(ex.fields):
                message = "Rule exception item must have fields property with a list of fields"
                raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
            _validate_exception(ex, resolver)
        prev.exceptions = update.exceptions
    if update.priority is not None:
        prev.priority = update.priority
    if update.enabled is not None:
        prev.enabled = update.enabled
    if update.warn_evttypes is not None:
        prev.warn_evttypes = update.warn_evttypes
    if update.skip_if_unknown_filter is not None:
        prev.skip_if_unknown_filter = update.skip_if_unknown_filter
    prev.visibility = state.next_index()


def _field_known(resolver: FieldResolver, text: str) -> bool:
    match = _FIELD_ARG_RE.fullmatch(text)
    name, arg = (match.group(1), match.group(2)) if match else (text, None)
    try:
        resolver.resolve(name, arg)
    except KubewardError:
        return False
    return True


def _validate_exception(ex: ExceptionInfo, resolver: FieldResolver | None) -> None:
    """validate_exception_info: default comps ("=" per field for a list of fields, "in" for
    one field), matching lengths, known operators and (with a registry) known fields."""
    if isinstance(ex.fields, tuple):
        if not entry_valid(ex.comps):
            ex.comps = tuple("=" for _ in ex.fields)
        if len(ex.fields) != len(entry_items(ex.comps)):
            message = "Fields and comps lists must have equal length"
            raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
        for comp in entry_items(ex.comps):
            if entry_item(comp) not in OPERATORS:
                message = f"'{entry_item(comp)}' is not a supported comparison operator"
                raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
        if resolver is not None:
            for item in ex.fields:
                if not _field_known(resolver, entry_item(item)):
                    message = f"'{entry_item(item)}' is not a supported filter field"
                    raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
        return
    if not entry_valid(ex.comps):
        ex.comps = "in"
    if isinstance(ex.comps, tuple):
        raise LoadFailure(LOAD_ERR_VALIDATE, "Fields and comps must both be strings", ex.ctx)
    if ex.comps not in LIST_OPERATORS:
        message = "When fields is a single value, comps must be one of (in, pmatch, intersects)"
        raise LoadFailure(LOAD_ERR_VALIDATE, message, ex.ctx)
    if resolver is not None and not _field_known(resolver, entry_item(ex.fields)):
        message = f"'{entry_item(ex.fields)}' is not a supported filter field"


def compile_lists(infos: Mapping[str, ListInfo]) -> tuple[dict[str, list[str]], set[str]]:
    """compile_list_infos: an item naming a list defined before this one (by index, up to
    this list's visibility) is replaced by that list's own items, one level deep."""
    compiled: dict[str, list[str]] = {}
    used: set[str] = set()
    for info in infos.values():
        items: list[str] = []
        for item in info.items:
            ref = infos.get(item)
            if ref is not None and ref.index < info.visibility:
                used.add(ref.name)
                items.extend(ref.items)
            else:
                items.append(item)
        compiled[info.name] = items
    return compiled, used
