"""Falco rules files: lists, macros and rules read the way Falco's rule loader reads them.

A file is read into Falco's collector model (define, deprecated `append: true`, `override`
append/replace per key, standalone `enabled`), then the loader's validation pass runs over
everything collected so far (list expansion, macro resolution with visibility, exception
conditions, condition syntax, unused lists and macros), so a file Falco refuses is refused
here with the same error code, item and message. Falco's own code is the reference:
userspace/engine/rule_loader_{reader,collector,compiler}.cpp.

Bad input is never raised: every problem is a LoadMessage naming file, item and line.

This module is the public face of the loader; the work is done in
``rules_read`` (files and YAML, safely), ``rules_items`` (each item, checked key by key),
``rules_collect`` (definitions, appends and overrides), ``rules_validate`` (the validation
pass), ``rules_condition_text`` (exception clauses and lists as text) and ``rules_model`` /
``rules_messages`` (what a load produces and says).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from kubeward.runtime.rules_collect import Collector, parse_version
from kubeward.runtime.rules_condition_text import (
    LIST_OPERATORS,
    OPERATORS,
    ExceptionEntry,
    exception_clauses,
    quote_item,
    substitute_lists,
)
from kubeward.runtime.rules_items import ItemReader
from kubeward.runtime.rules_messages import (
    ERROR_INVALID_LIST_NAME,
    ERROR_INVALID_MACRO_NAME,
    ERROR_NO_PREVIOUS_RULE_REPLACE,
    ERROR_OVERRIDE_APPEND,
    EXCEPTION,
    LIST,
    LOAD_APPEND_NO_VALUES,
    LOAD_DEPRECATED_ITEM,
    LOAD_ERR_COMPILE_CONDITION,
    LOAD_ERR_COMPILE_OUTPUT,
    LOAD_ERR_FILE_READ,
    LOAD_ERR_VALIDATE,
    LOAD_ERR_YAML_PARSE,
    LOAD_ERR_YAML_VALIDATE,
    LOAD_EXCEPTION_NAME_NOT_UNIQUE,
    LOAD_INVALID_LIST_NAME,
    LOAD_INVALID_MACRO_NAME,
    LOAD_NO_EVTTYPE,
    LOAD_UNKNOWN_FILTER,
    LOAD_UNKNOWN_ITEM,
    LOAD_UNKNOWN_SOURCE,
    LOAD_UNSAFE_NA_CHECK,
    LOAD_UNUSED_LIST,
    LOAD_UNUSED_MACRO,
    MACRO,
    NO_EVTTYPE_MESSAGE,
    REQUIRED_ENGINE_VERSION,
    REQUIRED_PLUGIN_VERSIONS,
    REQUIRED_PLUGIN_VERSIONS_ENTRY,
    RGX_BARESTR,
    RGX_IDENTIFIER,
    RULE,
    RULES_CONTENT,
    RULES_CONTENT_ITEM,
    UNSAFE_NA_MESSAGE,
    WARNING_APPEND,
    WARNING_ENABLED,
    LoadFailure,
    LoadMessage,
    RulesError,
)
from kubeward.runtime.rules_model import (
    DEFAULT_SOURCES,
    ENGINE_VERSION,
    PRIORITIES,
    SYSCALL_SOURCE,
    FieldResolver,
    PluginRequirement,
    Rule,
    RuleException,
    Ruleset,
)
from kubeward.runtime.rules_read import (
    MAX_RULES_FILE_SIZE,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    compose_documents,
    expand_paths,
    read_text,
    split_lines,
)
from kubeward.runtime.rules_validate import MAX_MACRO_STEPS, validate

__all__ = [
    "DEFAULT_SOURCES",
    "ENGINE_VERSION",
    "ERROR_INVALID_LIST_NAME",
    "ERROR_INVALID_MACRO_NAME",
    "ERROR_NO_PREVIOUS_RULE_REPLACE",
    "ERROR_OVERRIDE_APPEND",
    "EXCEPTION",
    "LIST",
    "LIST_OPERATORS",
    "LOAD_APPEND_NO_VALUES",
    "LOAD_DEPRECATED_ITEM",
    "LOAD_ERR_COMPILE_CONDITION",
    "LOAD_ERR_COMPILE_OUTPUT",
    "LOAD_ERR_FILE_READ",
    "LOAD_ERR_VALIDATE",
    "LOAD_ERR_YAML_PARSE",
    "LOAD_ERR_YAML_VALIDATE",
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
    "LOAD_INVALID_LIST_NAME",
    "LOAD_INVALID_MACRO_NAME",
    "LOAD_NO_EVTTYPE",
    "LOAD_UNKNOWN_FILTER",
    "LOAD_UNKNOWN_ITEM",
    "LOAD_UNKNOWN_SOURCE",
    "LOAD_UNSAFE_NA_CHECK",
    "LOAD_UNUSED_LIST",
    "LOAD_UNUSED_MACRO",
    "MACRO",
    "MAX_MACRO_STEPS",
    "MAX_RULES_FILE_SIZE",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "NO_EVTTYPE_MESSAGE",
    "OPERATORS",
    "PRIORITIES",
    "REQUIRED_ENGINE_VERSION",
    "REQUIRED_PLUGIN_VERSIONS",
    "REQUIRED_PLUGIN_VERSIONS_ENTRY",
    "RGX_BARESTR",
    "RGX_IDENTIFIER",
    "RULE",
    "RULES_CONTENT",
    "RULES_CONTENT_ITEM",
    "SYSCALL_SOURCE",
    "UNSAFE_NA_MESSAGE",
    "WARNING_APPEND",
    "WARNING_ENABLED",
    "ExceptionEntry",
    "FieldResolver",
    "LoadMessage",
    "PluginRequirement",
    "Rule",
    "RuleException",
    "RulesError",
    "Ruleset",
    "exception_clauses",
    "load_rules_files",
    "quote_item",
    "substitute_lists",
]


def load_rules_files(
    paths: Sequence[Path],
    *,
    sources: Collection[str] = DEFAULT_SOURCES,
    fields: Mapping[str, FieldResolver] | None = None,
    engine_version: str = ENGINE_VERSION,
) -> Ruleset:
    """Load rules files in order (a directory stands for its files in name order); later
    files append to or override what earlier ones defined. Never raises for bad input.

    `sources` are the event sources known to the engine (rules of other sources are skipped
    with a warning). With `fields` (a registry per source), exception fields and condition
    fields are checked as Falco checks them; without it, fields are not checked here.
    """
    state = Collector(frozenset(sources), fields or {}, parse_version(engine_version))
    for path in expand_paths(paths):
        _load_one(state, path)
    return state.ruleset()


def _load_one(state: Collector, path: Path) -> None:
    file = str(path)
    try:
        text = read_text(path)
        documents = compose_documents(text, file)
        reader = ItemReader(state, file, split_lines(text))
        for document in documents:
            reader.read_document(document)
    except LoadFailure as exc:
        # Falco stops reading a file at its first error; what was collected stays.
        state.error(exc.code, exc.message, exc.ctx, exc.where)
        return
    try:
        validate(state)
    except LoadFailure as exc:
        state.error(exc.code, exc.message, exc.ctx, exc.where)
