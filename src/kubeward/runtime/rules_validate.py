"""The validation pass Falco runs over everything collected after each file
(rule_loader_compiler.cpp), without building filters: lists are expanded and substituted,
macro references resolved with visibility, every condition parsed, fields checked against
the source's registry, ``evt.type`` values checked against libsinsp's event names (syscall
rules), rule outputs checked with the source's registry as libsinsp's formatter checks them,
and the warnings Falco gives (unused lists and macros, unsafe <NA> comparisons, rules matching
too many event types) produced.

Macros are summed up once per pass (references, <NA> checks, unknown fields, event types),
so thousands of rules sharing a deep macro chain cost one walk of the chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from kubeward.errors import KubewardError
from kubeward.runtime.condition import (
    And,
    Compare,
    ConditionSyntaxError,
    EventTypeResolver,
    Expr,
    FieldRef,
    Ident,
    ListLiteral,
    Not,
    Or,
    parse_condition,
)
from kubeward.runtime.event_types import known_event_types, unknown_event_type
from kubeward.runtime.output_format import is_unknown_field_error, output_error
from kubeward.runtime.rules_collect import Collector, MacroInfo, RuleInfo, compile_lists
from kubeward.runtime.rules_condition_text import ListSubstituter, effective_condition
from kubeward.runtime.rules_messages import (
    LOAD_ERR_COMPILE_CONDITION,
    LOAD_ERR_COMPILE_OUTPUT,
    LOAD_ERR_VALIDATE,
    LOAD_NO_EVTTYPE,
    LOAD_UNKNOWN_FILTER,
    LOAD_UNSAFE_NA_CHECK,
    LOAD_UNUSED_LIST,
    LOAD_UNUSED_MACRO,
    NO_EVTTYPE_MESSAGE,
    UNSAFE_NA_MESSAGE,
    ItemContext,
    LoadFailure,
    SourcePosition,
)
from kubeward.runtime.rules_model import SYSCALL_SOURCE, FieldResolver
from kubeward.runtime.rules_read import ScalarSource

# Steps of macro reference resolution per condition; Falco clones macro bodies, so a
# crafted chain of appended macros could otherwise take exponential time.
MAX_MACRO_STEPS = 100_000
# Falco warns (LOAD_NO_EVTTYPE) about a syscall rule that matches more event types.
MAX_RULE_EVENT_TYPES = 100

Check = tuple[str, Compare | str]
"""("compare", node) or ("macro", name): a condition's comparisons and macro references."""


def validate(state: Collector) -> None:
    """Run the validation pass over everything collected; raises LoadFailure for the first
    error (as Falco stops there) and records warnings on ``state``."""
    _Validator(state).run()


class _Validator:
    def __init__(self, state: Collector) -> None:
        self.state = state
        self.parsed: dict[str, Expr | ConditionSyntaxError] = {}

    def run(self) -> None:
        state = self.state
        lists, used_lists = compile_lists(state.lists)
        substitute = ListSubstituter(lists)
        macro_asts: dict[str, Expr] = {}
        macro_refs: dict[str, list[str]] = {}
        for info in state.macros.values():
            text, used = substitute(info.cond)
            used_lists |= used
            ast = self.parse(text, info.ctx, info.cond, info.cond_source)
            macro_asts[info.name] = ast
            macro_refs[info.name] = _macro_refs(ast)
        resolved: set[str] = set()
        used_macros: set[str] = set()
        for info in state.macros.values():
            visible = _visible_to(state.macros, info)
            names = _resolve_macros(macro_refs[info.name], visible, macro_refs, resolved, info.ctx)
            resolved.add(info.name)
            used_macros.update(names)
        everything = state.macros.__contains__
        skipped: set[str] = set()
        facts_by_source: dict[str, _ConditionFacts] = {}
        event_types = EventTypeResolver(macro_asts)
        for rule in state.rules.values():
            if rule.unknown_source:
                continue
            # Falco validates the output before it compiles the condition
            if not self.output_valid(rule):
                skipped.add(rule.name)
                continue
            text, used = substitute(effective_condition(rule.cond, rule.exceptions))
            used_lists |= used
            ast = self.parse(text, rule.ctx, rule.cond, rule.cond_source)
            refs = _macro_refs(ast)
            used_macros.update(_resolve_macros(refs, everything, macro_refs, resolved, rule.ctx))
            facts = facts_by_source.get(rule.source)
            if facts is None:
                resolver = state.fields.get(rule.source)
                event_names = known_event_types() if rule.source == SYSCALL_SOURCE else None
                facts = _ConditionFacts(macro_asts, resolver, event_names)
                facts_by_source[rule.source] = facts
            unsafe_na, message = facts.of(ast)
            if unsafe_na:
                state.warn(LOAD_UNSAFE_NA_CHECK, UNSAFE_NA_MESSAGE, rule.ctx)
            if message is not None:
                if rule.skip_if_unknown_filter:
                    state.warn(LOAD_UNKNOWN_FILTER, message, rule.ctx)
                    skipped.add(rule.name)
                    continue
                raise LoadFailure(LOAD_ERR_COMPILE_CONDITION, message, rule.ctx)
            if rule.source == SYSCALL_SOURCE and rule.warn_evttypes:
                types = event_types(ast)
                if types is None or not types or len(types) > MAX_RULE_EVENT_TYPES:
                    state.warn(LOAD_NO_EVTTYPE, NO_EVTTYPE_MESSAGE, rule.ctx)
        state.skipped = skipped
        for info in state.macros.values():
            if info.name not in used_macros:
                message = "Macro not referred to by any other rule/macro"
                state.warn(LOAD_UNUSED_MACRO, message, info.ctx)
        for list_info in state.lists.values():
            if list_info.name not in used_lists:
                message = "List not referred to by any other rule/macro"
                state.warn(LOAD_UNUSED_LIST, message, list_info.ctx)

    def output_valid(self, rule: RuleInfo) -> bool:
        """Falco's is_format_valid with the source's registry (without one, outputs are not
        checked): an invalid output is LOAD_ERR_COMPILE_OUTPUT, or with
        skip-if-unknown-filter and an unknown field a LOAD_UNKNOWN_FILTER warning and the
        rule skipped (False)."""
        resolver = self.state.fields.get(rule.source)
        if resolver is None:
            return True
        key = (rule.source, rule.output)
        checks = self.state.output_checks
        if key in checks:
            message = checks[key]
        else:
            message = checks[key] = output_error(rule.output, resolver)
        if message is None:
            return True
        if rule.skip_if_unknown_filter and is_unknown_field_error(message):
            self.state.warn(LOAD_UNKNOWN_FILTER, message, rule.ctx)
            return False
        raise LoadFailure(LOAD_ERR_COMPILE_OUTPUT, message, rule.ctx)

    def _parsed(self, text: str) -> Expr | ConditionSyntaxError:
        """Each distinct text is parsed once per pass."""
        found = self.parsed.get(text)
        if found is None:
            try:
                found = parse_condition(text)
            except ConditionSyntaxError as exc:
                found = exc
            self.parsed[text] = found
        return found

    def parse(self, text: str, ctx: ItemContext, written: str, source: ScalarSource | None) -> Expr:
        """The AST of ``text`` (what Falco parses: lists substituted, exceptions appended);
        a syntax error is Falco's LOAD_ERR_COMPILE_CONDITION for the item, with where it is."""
        found = self._parsed(text)
        if isinstance(found, ConditionSyntaxError):
            where = self._where(found, text, written, source)
            raise LoadFailure(LOAD_ERR_COMPILE_CONDITION, found.message, ctx, where)
        return found

    def _where(
        self,
        error: ConditionSyntaxError,
        text: str,
        written: str,
        source: ScalarSource | None,
    ) -> SourcePosition:
        """The error's offset in the condition as written when that text fails too (so it
        points into what the user wrote), else in ``text``; with the file line and column
        when the condition as written is the one scalar it was read from."""
        if written != text:
            error_written = self._parsed(written)
            if not isinstance(error_written, ConditionSyntaxError):
                return SourcePosition(error.position)
            error = error_written
        if source is not None and source.value == written:
            found = source.locate(error.position)
            if found is not None:
                return SourcePosition(error.position, found[0], found[1])
        return SourcePosition(error.position)


def _visible_to(macros: Mapping[str, MacroInfo], info: MacroInfo) -> Callable[[str], bool]:
    """The macros a macro may use: those defined before its last definition or append."""

    def visible(name: str) -> bool:
        other = macros.get(name)
        return other is not None and other.index < info.visibility

    return visible


def _resolve_macros(
    refs: list[str],
    visible: Callable[[str], bool],
    macro_refs: Mapping[str, list[str]],
    resolved: set[str],
    ctx: ItemContext,
) -> list[str]:
    """filter_macro_resolver over reference lists: follows macro references depth first
    (a macro already resolved has none left, as Falco resolves macros in place, in order),
    detects loops, and raises Falco's error for the first loop or unknown macro. Returns
    the macros resolved, which count as used."""
    errors: list[str] = []
    unknown: list[str] = []
    found: list[str] = []
    path: list[str] = []
    stack: list[Iterator[str]] = [iter(refs)]
    steps = 0
    while stack:
        steps += 1
        if steps > MAX_MACRO_STEPS:
            message = f"Macro expansion takes more than {MAX_MACRO_STEPS} steps"
            raise LoadFailure(LOAD_ERR_VALIDATE, message, ctx)
        name = next(stack[-1], None)
        if name is None:
            stack.pop()
            if path:
                found.append(path.pop())
            continue
        if not visible(name):
            unknown.append(name)
        elif name in path:
            errors.append(f"reference loop in macro '{name}'")
            unknown.append(name)
        else:
            path.append(name)
            stack.append(iter(() if name in resolved else macro_refs.get(name, ())))
    if errors:
        raise LoadFailure(LOAD_ERR_VALIDATE, errors[0], ctx)
    if unknown:
        raise LoadFailure(LOAD_ERR_VALIDATE, f"Undefined macro '{unknown[0]}' used in filter.", ctx)
    return found


def _walk(expr: Expr) -> Iterator[Expr]:
    """Boolean-level nodes in visit order: left to right, depth first (Falco reports the
    first problem in this order)."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, And | Or):
            stack.extend(reversed(node.items))
        elif isinstance(node, Not):
            stack.append(node.item)


def _macro_refs(expr: Expr) -> list[str]:
    """Macro references (identifiers in boolean position), in visit order."""
    return [node.name for node in _walk(expr) if isinstance(node, Ident)]


def _checks(expr: Expr) -> list[Check]:
    """The comparisons and macro references of a condition, in visit order."""
    out: list[Check] = []
    for node in _walk(expr):
        if isinstance(node, Compare):
            out.append(("compare", node))
        elif isinstance(node, Ident):
            out.append(("macro", node.name))
    return out


def _unsafe_na_check(node: Compare) -> bool:
    """filter_warning_resolver: a ka.*/jevt.* field compared for equality with <NA>."""
    if not node.field.name.startswith(("ka.", "jevt.")):
        return False
    if node.op not in ("==", "=", "!=", "in", "intersects", "pmatch"):
        return False
    value = node.value
    if isinstance(value, ListLiteral):
        names = [item.name if isinstance(item, Ident) else item for item in value.items]
        return "<NA>" in names
    return value == "<NA>"


def _unknown_field(node: Compare, resolver: FieldResolver) -> str | None:
    """The first field of a comparison the registry does not know."""
    refs = [node.field] + ([node.value] if isinstance(node.value, FieldRef) else [])
    for ref in refs:
        try:
            resolver.resolve(ref.name, ref.arg)
        except KubewardError:
            return ref.name
    return None


def _unknown_event_type(node: Compare, names: frozenset[str]) -> str | None:
    """The first value compared with ``evt.type`` that names no event (libsinsp's
    validate_filter_value checks each value, whatever the operator); a field on the right
    (``val(...)``) and ``evt.type`` under a transformer are not checked."""
    field = node.field
    if field.name != "evt.type" or field.arg is not None or field.transformers:
        return None
    value = node.value
    if isinstance(value, str):
        return None if value in names else value
    if isinstance(value, ListLiteral):
        for item in value.items:
            text = item.name if isinstance(item, Ident) else item
            if text not in names:
                return text
    return None


class _ConditionFacts:
    """Whether a condition, macros included, compares a k8s audit field with <NA>, and the
    first compile error (in Falco's visit order) of its comparisons: a field the source's
    registry does not know, or (syscall rules, ``event_names`` given) an ``evt.type`` value
    that names no event. Each macro is summed up once per validation pass, so rules sharing
    a large macro cost little."""

    def __init__(
        self,
        macros: Mapping[str, Expr],
        resolver: FieldResolver | None,
        event_names: frozenset[str] | None = None,
    ) -> None:
        self.macros = macros
        self.resolver = resolver
        self.event_names = event_names
        self.checks: dict[str, list[Check]] = {}
        self.memo: dict[str, tuple[bool, str | None]] = {}

    def of(self, expr: Expr) -> tuple[bool, str | None]:
        checks = _checks(expr)
        for kind, value in checks:
            if kind == "macro":
                assert isinstance(value, str)
                self._summarize(value)
        return self._combine(checks)

    def _checks_of(self, name: str) -> list[Check]:
        checks = self.checks.get(name)
        if checks is None:
            checks = self.checks[name] = _checks(self.macros[name])
        return checks

    def _summarize(self, name: str) -> None:
        """Post-order over the macro reference graph, without recursion (chains of
        thousands of macros are legal); a loop (an error reported elsewhere) counts as
        nothing."""
        started: set[str] = set()
        stack = [(name, False)]
        while stack:
            current, done = stack.pop()
            if done:
                self.memo[current] = self._combine(self._checks_of(current))
                continue
            if current in self.memo or current not in self.macros or current in started:
                continue
            started.add(current)
            stack.append((current, True))
            for kind, value in self._checks_of(current):
                if kind == "macro" and isinstance(value, str) and value not in self.memo:
                    stack.append((value, False))

    def _combine(self, checks: list[Check]) -> tuple[bool, str | None]:
        unsafe_na = False
        unknown: str | None = None
        for _kind, value in checks:
            if isinstance(value, str):
                macro_na, macro_unknown = self.memo.get(value, (False, None))
                unsafe_na = unsafe_na or macro_na
                unknown = unknown or macro_unknown
                continue
            unsafe_na = unsafe_na or _unsafe_na_check(value)
            if unknown is None:
                unknown = self._compile_error(value)
        return unsafe_na, unknown

    def _compile_error(self, node: Compare) -> str | None:
        """What compiling the comparison says first: its field, then its values."""
        if self.resolver is not None:
            field = _unknown_field(node, self.resolver)
            if field is not None:
                return f"filter_check called with nonexistent field {field}"
        if self.event_names is not None:
            name = _unknown_event_type(node, self.event_names)
            if name is not None:
                return unknown_event_type(name)
        return None
