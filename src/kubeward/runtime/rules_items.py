"""Rules file items read the way Falco's rule_loader::reader reads them: each YAML item
(required versions, list, macro, rule with its exceptions and overrides) checked key by key,
with Falco's error for the first problem, and turned into collector operations.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import yaml

from kubeward.runtime.rules_collect import (
    SEMVER_RE,
    Collector,
    ExceptionInfo,
    ListInfo,
    MacroInfo,
    RuleInfo,
    RuleUpdate,
    append_rule,
    define,
    define_rule,
    no_previous,
    parse_version,
    replace_rule,
    version_string,
)
from kubeward.runtime.rules_condition_text import ExceptionEntry
from kubeward.runtime.rules_messages import (
    ERROR_INVALID_LIST_NAME,
    ERROR_INVALID_MACRO_NAME,
    ERROR_OVERRIDE_APPEND,
    EXCEPTION,
    LIST,
    LOAD_APPEND_NO_VALUES,
    LOAD_DEPRECATED_ITEM,
    LOAD_ERR_VALIDATE,
    LOAD_ERR_YAML_VALIDATE,
    LOAD_EXCEPTION_NAME_NOT_UNIQUE,
    LOAD_INVALID_LIST_NAME,
    LOAD_INVALID_MACRO_NAME,
    LOAD_UNKNOWN_ITEM,
    MACRO,
    REQUIRED_ENGINE_VERSION,
    REQUIRED_PLUGIN_VERSIONS,
    REQUIRED_PLUGIN_VERSIONS_ENTRY,
    RGX_BARESTR,
    RGX_IDENTIFIER,
    RULE,
    RULES_CONTENT,
    RULES_CONTENT_ITEM,
    WARNING_APPEND,
    WARNING_ENABLED,
    ItemContext,
    LoadFailure,
)
from kubeward.runtime.rules_model import PRIORITIES, SYSCALL_SOURCE, PluginRequirement
from kubeward.runtime.rules_read import (
    decode_bool,
    decode_entry,
    decode_seq,
    decode_str,
    get_value,
    is_null,
    node_line,
    required_str,
    scalar_source,
)

_IDENTIFIER_RE = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_BARESTR_RE = re.compile(r"[^()\"'\s=,]+")
_UINT_RE = re.compile(r"\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


class ItemReader:
    """rule_loader::reader: turns YAML items into collector operations."""

    def __init__(self, state: Collector, file: str, lines: Sequence[str] = ()) -> None:
        self.state = state
        self.file = file
        self.lines = lines  # the file's text, to place conditions in it

    def ctx(self, item_type: str, name: str, node: yaml.Node | None) -> ItemContext:
        return ItemContext(self.file, item_type, name, None if node is None else node_line(node))

    def read_document(self, document: yaml.Node) -> None:
        if is_null(document):
            return
        ctx = self.ctx(RULES_CONTENT, "", document)
        if not isinstance(document, yaml.MappingNode | yaml.SequenceNode):
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Rules content is not yaml", ctx)
        if not isinstance(document, yaml.SequenceNode):
            message = "Rules content is not yaml array of objects"
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, ctx)
        for item in document.value:
            if not is_null(item):
                self.read_item(item)

    def read_item(self, item: yaml.Node) -> None:
        if not isinstance(item, yaml.MappingNode):
            message = "Unexpected element type. Each element should be a yaml associative array."
            raise LoadFailure(
                LOAD_ERR_YAML_VALIDATE, message, self.ctx(RULES_CONTENT_ITEM, "", item)
            )
        if get_value(item, "required_engine_version") is not None:
            self.read_engine_version(item)
        elif get_value(item, "required_plugin_versions") is not None:
            self.read_plugin_versions(item)
        elif get_value(item, "list") is not None:
            self.read_list(item)
        elif get_value(item, "macro") is not None:
            self.read_macro(item)
        elif get_value(item, "rule") is not None:
            self.read_rule(item)
        else:
            ctx = self.ctx(RULES_CONTENT_ITEM, "", item)
            self.state.warn(LOAD_UNKNOWN_ITEM, "Unknown top level item", ctx)

    def read_engine_version(self, item: yaml.Node) -> None:
        ctx = self.ctx(REQUIRED_ENGINE_VERSION, "", item)
        raw = required_str(item, "required_engine_version", ctx)
        number = _UINT_RE.fullmatch(raw)
        if number and int(number.group(1), 0) <= 0xFFFFFFFF:
            # a plain number N is Falco's old engine version scheme, now "0.N.0"
            version = (0, int(number.group(1), 0), 0)
        else:
            semver = SEMVER_RE.match(raw)
            if not semver:
                # Falco 0.35 (the version of the test specs) says this for a non-number;
                # later versions also accept a semver string, as done here.
                raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Can't decode YAML scalar value", ctx)
            version = parse_version(raw)
        engine = self.state.engine_version
        if not (engine[0] == version[0] and engine >= version):
            message = (
                f"Rules require engine version {raw}, "
                f"but engine version is {version_string(engine)}"
            )
            raise LoadFailure(LOAD_ERR_VALIDATE, message, ctx)
        current = self.state.required_engine_version
        if current is None or current < version:
            self.state.required_engine_version = version

    def read_plugin_versions(self, item: yaml.Node) -> None:
        node = get_value(item, "required_plugin_versions")
        assert node is not None
        ctx = self.ctx(REQUIRED_PLUGIN_VERSIONS, "", node)
        if not isinstance(node, yaml.SequenceNode):
            message = "Value of required_plugin_versions must be a sequence"
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, ctx)
        for plugin in node.value:
            tmp = self.ctx(REQUIRED_PLUGIN_VERSIONS_ENTRY, "", plugin)
            if not isinstance(plugin, yaml.MappingNode):
                raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Plugin version must be a mapping", tmp)
            name = required_str(plugin, "name", tmp)
            pctx = self.ctx(REQUIRED_PLUGIN_VERSIONS_ENTRY, name, plugin)
            requirements = [PluginRequirement(name, required_str(plugin, "version", pctx))]
            alternatives = get_value(plugin, "alternatives")
            if alternatives is not None:
                if not isinstance(alternatives, yaml.SequenceNode):
                    message = "Value of plugin version alternatives must be a sequence"
                    raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, pctx)
                for alternative in alternatives.value:
                    actx = self.ctx(REQUIRED_PLUGIN_VERSIONS_ENTRY, "", alternative)
                    if not isinstance(alternative, yaml.MappingNode):
                        message = "Plugin version alternative must be a mapping"
                        raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, actx)
                    alt_name = required_str(alternative, "name", actx)
                    actx = self.ctx(REQUIRED_PLUGIN_VERSIONS_ENTRY, alt_name, alternative)
                    version = required_str(alternative, "version", actx)
                    requirements.append(PluginRequirement(alt_name, version))
            seen: set[str] = set()
            for requirement in requirements:
                if not SEMVER_RE.match(requirement.version):
                    message = (
                        f"Invalid required version '{requirement.version}' "
                        f"for plugin '{requirement.name}'"
                    )
                    raise LoadFailure(LOAD_ERR_VALIDATE, message, pctx)
                if requirement.name in seen:
                    message = (
                        "Defined multiple alternative version requirements for plugin "
                        f"'{requirement.name}'"
                    )
                    raise LoadFailure(LOAD_ERR_VALIDATE, message, pctx)
                seen.add(requirement.name)
            self.state.plugin_versions.append(tuple(requirements))

    def read_overrides(
        self,
        item: yaml.Node,
        appendable: frozenset[str],
        replaceable: frozenset[str],
        ctx: ItemContext,
    ) -> tuple[list[str], list[str]]:
        """The keys under `override:` to append to and to replace, in file order."""
        node = get_value(item, "override")
        if node is None or is_null(node):
            return [], []
        if not isinstance(node, yaml.MappingNode):
            # Falco iterates whatever is there (a scalar silently means nothing); an
            # override that is not a mapping is refused here instead.
            message = "Value of override must be a mapping"
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, ctx)
        append: list[str] = []
        replace: list[str] = []
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
            operation = str(value_node.value) if isinstance(value_node, yaml.ScalarNode) else ""
            if operation == "append":
                if key not in appendable:
                    message = f"Key '{key}' cannot be appended to, use 'replace' instead"
                    raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, ctx)
                append.append(key)
            elif operation == "replace":
                if key not in replaceable:
                    raise LoadFailure(
                        LOAD_ERR_YAML_VALIDATE, f"Key '{key}' cannot be replaced", ctx
                    )
                replace.append(key)
            else:
                allowed = ("append " if key in appendable else "") + (
                    "replace " if key in replaceable else ""
                )
                message = (
                    f"Invalid override operation for key '{key}': '{operation}'. "
                    f"Allowed values are: {allowed}"
                )
                raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, ctx)
        return append, replace

    def read_list(self, item: yaml.Node) -> None:
        name = required_str(item, "list", self.ctx(LIST, "", item))
        ctx = self.ctx(LIST, name, item)
        if not _BARESTR_RE.fullmatch(name):
            message = ERROR_INVALID_LIST_NAME + RGX_BARESTR
            self.state.warn(LOAD_INVALID_LIST_NAME, message, ctx)
        items = decode_seq(item, "items", ctx, optional=False)
        assert items is not None
        append = bool(decode_bool(item, "append", ctx, optional=True))
        if append:
            self.state.warn(LOAD_DEPRECATED_ITEM, WARNING_APPEND, ctx)
        keys = frozenset({"items"})
        override_append, override_replace = self.read_overrides(item, keys, keys, ctx)
        if append and (override_append or override_replace):
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, ERROR_OVERRIDE_APPEND, ctx)
        info = ListInfo(name, items, ctx)
        if append or "items" in override_append:
            prev = self.state.lists.get(name)
            if prev is None:
                raise LoadFailure(LOAD_ERR_VALIDATE, no_previous(LIST, append), ctx)
            prev.items.extend(items)
            prev.visibility = self.state.next_index()
        else:
            define(self.state.lists, info, self.state.next_index())

    def read_macro(self, item: yaml.Node) -> None:
        name = required_str(item, "macro", self.ctx(MACRO, "", item))
        ctx = self.ctx(MACRO, name, item)
        if not _IDENTIFIER_RE.fullmatch(name):
            message = ERROR_INVALID_MACRO_NAME + RGX_IDENTIFIER
            self.state.warn(LOAD_INVALID_MACRO_NAME, message, ctx)
        cond = required_str(item, "condition", ctx)
        append = bool(decode_bool(item, "append", ctx, optional=True))
        if append:
            self.state.warn(LOAD_DEPRECATED_ITEM, WARNING_APPEND, ctx)
        keys = frozenset({"condition"})
        override_append, override_replace = self.read_overrides(item, keys, keys, ctx)
        if append and (override_append or override_replace):
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, ERROR_OVERRIDE_APPEND, ctx)
        if append or "condition" in override_append:
            prev = self.state.macros.get(name)
            if prev is None:
                raise LoadFailure(LOAD_ERR_VALIDATE, no_previous(MACRO, append), ctx)
            prev.cond += " " + cond
            prev.visibility = self.state.next_index()
        else:
            source = scalar_source(get_value(item, "condition"), self.lines)
            info = MacroInfo(name, cond, ctx, cond_source=source)
            define(self.state.macros, info, self.state.next_index())

    _RULE_APPENDABLE = frozenset({"condition", "output", "desc", "tags", "exceptions"})
    _RULE_REPLACEABLE = frozenset(
        {
            "condition",
            "output",
            "desc",
            "priority",
            "tags",
            "exceptions",
            "enabled",
            "warn_evttypes",
            "skip-if-unknown-filter",
        }
    )

    def read_rule(self, item: yaml.Node) -> None:
        name = required_str(item, "rule", self.ctx(RULE, "", item))
        ctx = self.ctx(RULE, name, item)
        has_append_flag = bool(decode_bool(item, "append", ctx, optional=True))
        if has_append_flag:
            self.state.warn(LOAD_DEPRECATED_ITEM, WARNING_APPEND, ctx)
        override_append, override_replace = self.read_overrides(
            item, self._RULE_APPENDABLE, self._RULE_REPLACEABLE, ctx
        )
        if has_append_flag and (override_append or override_replace):
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, ERROR_OVERRIDE_APPEND, ctx)
        if override_append or override_replace:
            self.read_rule_overrides(item, name, ctx, override_append, override_replace)
        elif has_append_flag:
            update = RuleUpdate(name, ctx, via_append_key=True)
            if get_value(item, "condition") is not None:
                update.cond = required_str(item, "condition", ctx)
            if get_value(item, "exceptions") is not None:
                update.exceptions = self.read_exceptions(item, ctx, append=True)
            append_rule(self.state, update)
        elif all(
            get_value(item, key) is None for key in ("condition", "output", "desc", "priority")
        ):
            # only `enabled:`: switch an earlier rule on or off (deprecated form)
            enabled = decode_bool(item, "enabled", ctx)
            self.state.warn(LOAD_DEPRECATED_ITEM, WARNING_ENABLED, ctx)
            prev = self.state.rules.get(name)
            if prev is None:
                message = "Rule has 'enabled' key but no rule by that name already exists"
                raise LoadFailure(LOAD_ERR_VALIDATE, message, ctx)
            prev.enabled = bool(enabled)
        else:
            self.read_rule_definition(item, name, ctx)

    def read_rule_definition(self, item: yaml.Node, name: str, ctx: ItemContext) -> None:
        info = RuleInfo(name, ctx)
        info.cond = required_str(item, "condition", ctx)
        info.cond_source = scalar_source(get_value(item, "condition"), self.lines)
        info.output = required_str(item, "output", ctx).strip(" \t\n\r\f\v")
        info.desc = required_str(item, "desc", ctx)
        info.priority = _parse_priority(required_str(item, "priority", ctx), ctx)
        info.source = decode_str(item, "source", ctx, optional=True) or SYSCALL_SOURCE
        enabled = decode_bool(item, "enabled", ctx, optional=True)
        warn_evttypes = decode_bool(item, "warn_evttypes", ctx, optional=True)
        skip = decode_bool(item, "skip-if-unknown-filter", ctx, optional=True)
        info.enabled = True if enabled is None else enabled
        info.warn_evttypes = True if warn_evttypes is None else warn_evttypes
        info.skip_if_unknown_filter = bool(skip)
        info.tags = set(decode_seq(item, "tags", ctx, optional=True) or ())
        info.exceptions = self.read_exceptions(item, ctx, append=False)
        define_rule(self.state, info)

    def read_rule_overrides(
        self, item: yaml.Node, name: str, ctx: ItemContext, append: list[str], replace: list[str]
    ) -> None:
        expected = {key for key in self._RULE_REPLACEABLE if get_value(item, key) is not None}

        def wanted(keys: list[str], operation: str, key: str) -> bool:
            if key not in keys:
                return False
            if key not in expected:
                message = (
                    f"An {operation} override for '{key}' was specified but '{key}' is not defined"
                )
                raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, ctx)
            expected.discard(key)
            return True

        def update_of(keys: list[str], operation: str) -> RuleUpdate:
            """The keys both operations take, in Falco's order (its first error wins)."""
            update = RuleUpdate(name, ctx)
            if wanted(keys, operation, "condition"):
                update.cond = required_str(item, "condition", ctx)
                if operation == "replace":
                    update.cond_source = scalar_source(get_value(item, "condition"), self.lines)
            if wanted(keys, operation, "exceptions"):
                update.exceptions = self.read_exceptions(item, ctx, append=operation == "append")
            if wanted(keys, operation, "output"):
                update.output = required_str(item, "output", ctx)
            if wanted(keys, operation, "desc"):
                update.desc = required_str(item, "desc", ctx)
            if wanted(keys, operation, "tags"):
                update.tags = set(decode_seq(item, "tags", ctx, optional=True) or ())
            return update

        if append:
            append_rule(self.state, update_of(append, "append"))
        if replace:
            update = update_of(replace, "replace")
            if wanted(replace, "replace", "priority"):
                update.priority = _parse_priority(required_str(item, "priority", ctx), ctx)
            if wanted(replace, "replace", "enabled"):
                update.enabled = decode_bool(item, "enabled", ctx)
            if wanted(replace, "replace", "warn_evttypes"):
                update.warn_evttypes = decode_bool(item, "warn_evttypes", ctx)
            if wanted(replace, "replace", "skip-if-unknown-filter"):
                update.skip_if_unknown_filter = decode_bool(item, "skip-if-unknown-filter", ctx)
            replace_rule(self.state, update)
        for key in sorted(expected):
            message = f"Unexpected key '{key}': no corresponding entry under 'override' is defined."
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, ctx)

    def read_exceptions(
        self, item: yaml.Node, rule_ctx: ItemContext, append: bool
    ) -> list[ExceptionInfo]:
        node = get_value(item, "exceptions")
        if node is None or is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            message = "Rule exceptions must be a sequence"
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, rule_ctx)
        out: list[ExceptionInfo] = []
        for ex in node.value:
            tmp = self.ctx(EXCEPTION, "", ex)
            if not isinstance(ex, yaml.MappingNode):
                raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Rule exception must be a mapping", tmp)
            name = required_str(ex, "name", tmp)
            ctx = self.ctx(EXCEPTION, name, ex)
            if any(other.name == name for other in out):
                message = f"Multiple definitions of exception '{name}' in the same rule"
                self.state.warn(LOAD_EXCEPTION_NAME_NOT_UNIQUE, message, ctx)
            fields = decode_entry(get_value(ex, "fields"), "fields", ctx, optional=append)
            comps = decode_entry(get_value(ex, "comps"), "comps", ctx, optional=True)
            values: list[ExceptionEntry] = []
            values_node = get_value(ex, "values")
            if values_node is not None:
                if not isinstance(values_node, yaml.SequenceNode):
                    message = "Rule exception values must be a sequence"
                    raise LoadFailure(LOAD_ERR_YAML_VALIDATE, message, ctx)
                for value_node in values_node.value:
                    value = decode_entry(value_node, None, ctx, optional=False)
                    assert value is not None
                    values.append(value)
            elif append:
                message = "Overriding/appending exception with no values"
                self.state.warn(LOAD_APPEND_NO_VALUES, message, ctx)
            out.append(ExceptionInfo(name, fields, comps, values, ctx))
        return out


def _parse_priority(text: str, ctx: ItemContext) -> str:
    lowered = text.lower()
    for name in PRIORITIES:
        if lowered == name.lower() or (name == "Informational" and lowered == "info"):
            return name
    raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Invalid priority", ctx)
