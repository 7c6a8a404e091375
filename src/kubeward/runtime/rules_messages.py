"""What the Falco rules loader says: Falco's error and warning codes, item types and message
texts, the LoadMessage the loader returns, and the internal failure that carries one.

The codes and texts are Falco's own (userspace/engine/falco_load_result.cpp and
rule_loader.cpp), so a problem Falco reports is reported here in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeward.errors import KubewardError

# error codes (falco_load_result.cpp)
LOAD_ERR_FILE_READ = "LOAD_ERR_FILE_READ"
LOAD_ERR_YAML_PARSE = "LOAD_ERR_YAML_PARSE"
LOAD_ERR_YAML_VALIDATE = "LOAD_ERR_YAML_VALIDATE"
LOAD_ERR_COMPILE_CONDITION = "LOAD_ERR_COMPILE_CONDITION"
LOAD_ERR_COMPILE_OUTPUT = "LOAD_ERR_COMPILE_OUTPUT"
LOAD_ERR_VALIDATE = "LOAD_ERR_VALIDATE"
# warning codes
LOAD_UNKNOWN_SOURCE = "LOAD_UNKNOWN_SOURCE"
LOAD_UNSAFE_NA_CHECK = "LOAD_UNSAFE_NA_CHECK"
LOAD_NO_EVTTYPE = "LOAD_NO_EVTTYPE"
LOAD_UNKNOWN_FILTER = "LOAD_UNKNOWN_FILTER"
LOAD_UNUSED_MACRO = "LOAD_UNUSED_MACRO"
LOAD_UNUSED_LIST = "LOAD_UNUSED_LIST"
LOAD_UNKNOWN_ITEM = "LOAD_UNKNOWN_ITEM"
LOAD_DEPRECATED_ITEM = "LOAD_DEPRECATED_ITEM"
LOAD_APPEND_NO_VALUES = "LOAD_APPEND_NO_VALUES"
LOAD_EXCEPTION_NAME_NOT_UNIQUE = "LOAD_EXCEPTION_NAME_NOT_UNIQUE"
LOAD_INVALID_MACRO_NAME = "LOAD_INVALID_MACRO_NAME"
LOAD_INVALID_LIST_NAME = "LOAD_INVALID_LIST_NAME"

# item types (rule_loader.cpp item_type_strings)
RULES_CONTENT = "rules content"
RULES_CONTENT_ITEM = "rules content item"
REQUIRED_ENGINE_VERSION = "required_engine_version"
REQUIRED_PLUGIN_VERSIONS = "required plugin versions"
REQUIRED_PLUGIN_VERSIONS_ENTRY = "required plugin versions entry"
LIST = "list"
MACRO = "macro"
RULE = "rule"
EXCEPTION = "exception"

WARNING_APPEND = (
    "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') "
    "under 'override' instead."
)
WARNING_ENABLED = (
    "The standalone 'enabled' key usage is deprecated. The correct approach requires also "
    "a 'replace' entry under the 'override' key (i.e. 'enabled: replace')."
)
ERROR_OVERRIDE_APPEND = (
    "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry "
    "(e.g. 'condition: append') under 'override' instead."
)
ERROR_NO_PREVIOUS_RULE_REPLACE = (
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists"
)
NO_EVTTYPE_MESSAGE = (
    "Rule matches too many evt.type values. This has a significant performance penalty."
)
UNSAFE_NA_MESSAGE = (
    "comparing a field value with <NA> is unsafe and can lead to unpredictable behavior of "
    "the rule condition. If you need to check for the existence of a field, consider using "
    "the 'exists' operator instead."
)
ERROR_INVALID_MACRO_NAME = (
    "Macro has an invalid name. Macro names should match a regular expression: "
)
ERROR_INVALID_LIST_NAME = "List has an invalid name. List names should match a regular expression: "
RGX_IDENTIFIER = "([a-zA-Z]+[a-zA-Z0-9_]*)"
RGX_BARESTR = "([^()\"'[:space:]=,]+)"


class RulesError(KubewardError):
    """A condition cannot be built from a loaded rule (its exceptions are malformed)."""


@dataclass(frozen=True, slots=True)
class LoadMessage:
    """One error or warning of the loader, with Falco's code and message.

    ``line`` is the line of the item (``- rule: ...``). For a condition syntax error,
    ``position`` is the 0-based offset where parsing stopped: in the condition as written
    (appends included) when that text already fails, else in the text Falco parses (lists
    substituted, exceptions appended). ``position_line``/``position_column`` (1-based) place
    that offset in the file when the condition as written is one YAML scalar of the file."""

    code: str
    message: str
    file: str
    item_type: str
    item_name: str
    line: int | None
    position: int | None = None
    position_line: int | None = None
    position_column: int | None = None


@dataclass(frozen=True, slots=True)
class ItemContext:
    """The file and item a problem belongs to (Falco's rule_loader::context)."""

    file: str
    item_type: str
    item_name: str
    line: int | None

    def at(self, line: int | None) -> ItemContext:
        return ItemContext(self.file, self.item_type, self.item_name, line)


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a problem is inside an item: the offset in the condition, and the file line and
    column of that offset when known."""

    offset: int
    line: int | None = None
    column: int | None = None


class LoadFailure(Exception):
    """One Falco load error; the reader stops at the first one in a file, like Falco."""

    def __init__(
        self, code: str, message: str, ctx: ItemContext, where: SourcePosition | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ctx = ctx
        self.where = where
