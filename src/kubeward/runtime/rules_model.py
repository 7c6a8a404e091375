"""What a Falco rules load produces: rules with their exceptions, plugin requirements, and
the Ruleset that holds them with the lists and macros they use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kubeward.runtime.rules_condition_text import (
    ExceptionEntry,
    exception_clauses,
    substitute_lists,
)
from kubeward.runtime.rules_messages import LoadFailure, LoadMessage, RulesError

# The Falco engine version these rules are checked against: the one the falcosecurity
# rules of the reference data require (`required_engine_version: 0.57.0`).
ENGINE_VERSION = "0.57.0"
DEFAULT_SOURCES: tuple[str, ...] = ("syscall", "k8s_audit")
SYSCALL_SOURCE = "syscall"
PRIORITIES: tuple[str, ...] = (
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
)


class FieldResolver(Protocol):
    """What the loader needs from a field registry (runtime.fields.base.FieldRegistry)."""

    def resolve(self, name: str, arg: str | None) -> object: ...


@dataclass(frozen=True, slots=True)
class RuleException:
    """An `exceptions:` entry: fields (one or a list), comps (defaults applied) and values."""

    name: str
    fields: ExceptionEntry
    comps: ExceptionEntry
    values: tuple[ExceptionEntry, ...]
    file: str
    line: int | None


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule as collected: condition and output after appends and overrides."""

    name: str
    desc: str
    condition: str
    output: str
    priority: str
    source: str
    tags: tuple[str, ...]
    enabled: bool
    exceptions: tuple[RuleException, ...]
    warn_evttypes: bool
    skip_if_unknown_filter: bool
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class PluginRequirement:
    """A `required_plugin_versions` entry or one of its alternatives."""

    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Ruleset:
    """Everything loaded from a sequence of rules files.

    `rules` and `macros` keep Falco's collection order (a redefinition keeps the place of the
    first definition); rules of an unknown source are left out, as Falco skips them. `lists`
    hold items the way Falco compiles them: a reference to an earlier list is replaced by
    that list's own items (one level, as Falco does). The ruleset is usable only when
    `errors` is empty.
    """

    rules: dict[str, Rule]
    macros: dict[str, str]
    lists: dict[str, list[str]]
    required_engine_version: str | None
    required_plugin_versions: list[tuple[PluginRequirement, ...]]
    warnings: list[LoadMessage]
    errors: list[LoadMessage]

    def exception_condition(self, rule: Rule) -> str:
        """The clauses Falco appends to the rule's condition for its exceptions, e.g.
        "and not (proc.name in (cat, \"my app\"))"; "" when no exception has values."""
        try:
            return exception_clauses(rule.exceptions)
        except LoadFailure as exc:
            raise RulesError(f"rule {rule.name!r}: {exc.message}") from None

    def effective_condition(self, rule_name: str) -> str:
        """The rule's condition with its exceptions appended, exactly as Falco builds it
        before parsing ("(condition) and not (...)"). Raises KeyError for an unknown rule."""
        rule = self.rules[rule_name]
        if not rule.exceptions:
            return rule.condition
        clauses = self.exception_condition(rule)
        return f"({rule.condition})" + (f" {clauses}" if clauses else "")

    def expanded_condition(self, rule_name: str) -> str:
        """The text Falco's parser sees for a rule: the effective condition with every list
        reference replaced by the list's items (Falco substitutes lists as text)."""
        return substitute_lists(self.effective_condition(rule_name), self.lists)[0]

    def expanded_macro(self, name: str) -> str:
        """The text Falco's parser sees for a macro (lists substituted as text)."""
        return substitute_lists(self.macros[name], self.lists)[0]
