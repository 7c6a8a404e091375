"""The rules engine: every rule compiled once, indexed by source and event type, run per event.

An event is tested only against the rules of its source that can match it, in rule load order;
like Falco (``rule_matching: first``) the first matching rule wins unless all matches are asked
for. A match becomes an ``Alert`` with the rule's output rendered the way libsinsp's formatter
renders it. Noise control (minimum priority, a token bucket per rule, deduplication of
identical alerts) and the counters behind ``stats()`` live here too, so every source and every
output sees the same behaviour. Timing each condition costs two clock reads, so it happens only
when stats are asked for: the plain path is a loop of predicate calls.

Speed (measured by benchmarks/runtime.py, where Python must not be the bottleneck): the index
is a small decision tree per source over the string fields rules require values of (the event
type first, then ``proc.name``, ``ka.target.resource``, ``ka.verb`` ...), and at each of its
leaves every candidate rule is compiled again with the comparisons the tree has decided
removed and the terms of its ``and`` chain put cheap and likely-to-fail first. Answers are
those of the rules as written; only which rules are tried, and in what order a rule's own
terms run, change (see ``_IndexBuilder`` and ``_cheap_first``).
"""

from __future__ import annotations

import logging
import operator
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from kubeward.errors import KubewardError
from kubeward.runtime import condition as cond
from kubeward.runtime.fields.base import (
    NA,
    Field,
    FieldRegistry,
    UnknownFieldError,
    dict_key_of,
    json_path_of,
    render,
)
from kubeward.runtime.output_format import (
    OutputFormatError,
    OutputToken,
    is_unknown_field_error,
    parse_output,
)
from kubeward.runtime.rules import (
    LOAD_ERR_COMPILE_CONDITION,
    LOAD_ERR_COMPILE_OUTPUT,
    LOAD_UNKNOWN_FILTER,
    LOAD_UNKNOWN_SOURCE,
    PRIORITIES,
    RULE,
    LoadMessage,
    Rule,
    RulesError,
    Ruleset,
)

# Falco 0.41+ appends its container plugin's suggested fields to every syscall rule's output
# (`append_output: [suggested_output: true]`, the default): the stable rules no longer name
# the container themselves, and an alert without the container id cannot be acted on.
SUGGESTED_OUTPUT: Final[Mapping[str, str]] = {
    "syscall": (
        " container_id=%container.id container_name=%container.name"
        " container_image_repository=%container.image.repository"
        " container_image_tag=%container.image.tag k8s_pod_name=%k8s.pod.name"
        " k8s_ns_name=%k8s.ns.name"
    ),
}

__all__ = [
    "PRIORITIES",
    "Alert",
    "Engine",
    "EngineStats",
    "OutputFormat",
    "OutputFormatError",
    "RuleStats",
    "parse_priority",
]

log = logging.getLogger(__name__)

_PRIORITY_INDEX: Final = {name.lower(): i for i, name in enumerate(PRIORITIES)}
_PRIORITY_INDEX["info"] = PRIORITIES.index("Informational")

DEBUG: Final = len(PRIORITIES) - 1

DEDUP_MAX_KEYS: Final = 100_000
"""Distinct (rule, output) pairs remembered for deduplication; the oldest go first."""


def parse_priority(text: str) -> int:
    """Falco's priority names, any case, ``info`` included, as an index into PRIORITIES
    (0 = Emergency, most severe); ValueError for anything else."""
    index = _PRIORITY_INDEX.get(str(text).strip().lower())
    if index is None:
        raise ValueError(f"unknown priority {text!r} (one of: {', '.join(PRIORITIES)})")
    return index


@dataclass(frozen=True, slots=True)
class Alert:
    """One rule match. ``output`` is the rule's rendered output (without Falco's time and
    priority prefix, which outputs add); ``output_fields`` maps each ``%field`` token as written
    to its JSON value (None when absent), as in Falco's JSON ``output_fields``."""

    rule: str
    priority: str
    time: int  # nanoseconds since the epoch: the event's time when known
    output: str
    output_fields: Mapping[str, Any]
    source: str
    tags: tuple[str, ...]
    hostname: str


@dataclass(frozen=True, slots=True)
class RuleStats:
    """Counters of one compiled rule. ``time_ns`` and ``evaluations`` are counted only when
    the engine runs with ``stats=True``."""

    rule: str
    source: str
    priority: str
    matches: int
    rate_limited: int
    deduplicated: int
    errors: int
    evaluations: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class EngineStats:
    events: int
    """Events given to ``process``."""
    dropped: int
    """Events the sources could not deliver (queues full), as reported with ``note_dropped``."""
    late: int
    """Events processed more than ``late_after`` seconds after their own time."""
    unknown_source: int
    """Events of a source no loaded rule uses."""
    alerts: int
    """Alerts returned (after rate limiting and deduplication)."""
    rate_limited: int
    deduplicated: int
    rules_loaded: int
    rules_enabled: int
    elapsed_ns: int
    """Time since the engine was built."""
    rules: tuple[RuleStats, ...]


class OutputFormat:
    """A rule's output string compiled once into literal text and field getters.

    Tokens follow libsinsp's event formatter: ``%field`` takes the longest field name the
    registry knows (so ``%ka.target.name/...`` stops at the slash), ``%field[arg]`` passes the
    text up to the first ``]`` as the argument, ``%10field`` pads or cuts the value to 10
    characters, and a missing value prints ``<NA>`` (Falco always formats with the leading
    ``*``, so absent values never suppress an alert).
    """

    __slots__ = ("_steps", "_tail", "fields", "text")

    def __init__(self, text: str, registry: FieldRegistry) -> None:
        self.text = text
        parts = parse_output(text, registry)  # OutputFormatError: libsinsp's message
        self.fields: tuple[Field, ...] = tuple(p.field for p in parts if isinstance(p, OutputToken))
        # (literal text before, token, getter, width) per field, then the text after the last.
        steps: list[tuple[str, str, Callable[[object], Any], int]] = []
        before = ""
        for part in parts:
            if isinstance(part, str):
                before += part
            else:
                steps.append((before, part.text, part.field.getter, part.width))
                before = ""
        self._steps = tuple(steps)
        self._tail = before

    def render(self, event: object) -> tuple[str, dict[str, Any]]:
        """The output text and the ``output_fields`` values for one event."""
        out: list[str] = []
        values: dict[str, Any] = {}
        for before, token, getter, width in self._steps:
            try:
                value = getter(event)
            except Exception:  # a getter bug on a stranger's event must not lose the alert
                log.debug("field %s failed", token, exc_info=True)
                value = None
            if type(value) is str:  # most values: the text and the JSON value as they are
                text = value
            elif value is None:
                text = NA
            else:
                text = render(value)
                value = _json_value(value)
            if width:
                text = text[:width].ljust(width)
            out.append(before)
            out.append(text)
            values[token] = value
        out.append(self._tail)
        return "".join(out), values


def _json_value(value: object) -> Any:
    """A field value as libsinsp's JSON formatter gives it: lists as arrays, absent as null."""
    if value is None or type(value) in (str, int, bool, float):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value] if value else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class _TokenBucket:
    """Falco's token bucket: ``rate`` tokens a second up to ``max_burst``; starts full."""

    __slots__ = ("last", "max_tokens", "rate", "tokens")

    def __init__(self, rate: float, max_burst: float) -> None:
        self.rate = rate
        self.max_tokens = max_burst
        self.tokens = max_burst
        self.last: int | None = None

    def claim(self, now_ns: int) -> bool:
        if self.last is not None and now_ns > self.last:
            elapsed = (now_ns - self.last) / 1e9
            self.tokens = min(self.max_tokens, self.tokens + self.rate * elapsed)
        if self.last is None or now_ns > self.last:
            self.last = now_ns
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class _CompiledRule:
    __slots__ = (
        "bucket",
        "condition",
        "deduplicated",
        "errors",
        "evaluations",
        "matches",
        "name",
        "output",
        "priority",
        "priority_name",
        "rate_limited",
        "source",
        "tags",
        "time_ns",
    )

    def __init__(
        self,
        rule: Rule,
        *,
        priority: int,
        condition: Callable[[object], bool],
        output: OutputFormat,
        bucket: _TokenBucket | None,
    ) -> None:
        self.name = rule.name
        self.source = rule.source
        self.priority = priority
        self.priority_name = PRIORITIES[priority]
        self.tags = rule.tags
        self.condition = condition
        self.output = output
        self.bucket = bucket
        self.matches = 0
        self.rate_limited = 0
        self.deduplicated = 0
        self.errors = 0
        self.evaluations = 0
        self.time_ns = 0


_FieldKey = tuple[str, str | None]
"""A field as a condition names it: (name, argument)."""

_INDEX_OPS: Final = frozenset(("=", "==", "in", "intersects"))
_INDEX_MAX_DEPTH: Final = 4
"""Fields tested, at most, to find an event's candidate rules."""
_INDEX_MIN_BENEFIT: Final = 1.0
"""Rules a level must skip on average (a rule costs a few field reads, a level one)."""
_INDEX_MAX_VALUES: Final = 1024
"""A field whose rules name more values than this is not worth a dispatch table."""


def _constraints(
    expr: cond.Expr, macros: Mapping[str, cond.Expr]
) -> dict[_FieldKey, frozenset[str]]:
    """What the condition requires of plain fields: for each (field, argument) in the result,
    the condition can only hold when the field's value is one of the strings given.

    An over-approximation, as ``event_types`` is for ``evt.type``: ``=``/``in`` comparisons
    of untransformed fields are read through ``and`` (intersected) and ``or`` (united when
    every branch constrains the same field); ``not`` and everything else constrain nothing.
    The caller keeps only string fields, whose compiled test is exact string equality."""
    memo: dict[str, dict[_FieldKey, frozenset[str]]] = {}
    path: set[str] = set()

    def walk(node: cond.Expr) -> dict[_FieldKey, frozenset[str]]:
        if isinstance(node, cond.Compare):
            ref = node.field
            if ref.transformers or node.op not in _INDEX_OPS:
                return {}
            value = node.value
            if isinstance(value, str):
                values = frozenset((value,))
            elif isinstance(value, cond.ListLiteral):
                # A bare word left in a list literal is that word (lists were substituted).
                values = frozenset(i if isinstance(i, str) else i.name for i in value.items)
            else:
                return {}
            return {(ref.name, ref.arg): values}
        if isinstance(node, cond.And):
            out: dict[_FieldKey, frozenset[str]] = {}
            for item in node.items:
                for key, values in walk(item).items():
                    out[key] = out[key] & values if key in out else values
            return out
        if isinstance(node, cond.Or):
            parts = [walk(item) for item in node.items]
            if not parts:
                return {}
            common = set(parts[0]).intersection(*parts[1:])
            return {key: frozenset().union(*(p[key] for p in parts)) for key in common}
        if isinstance(node, cond.Ident):
            if node.name in memo:
                return memo[node.name]
            body = macros.get(node.name)
            if body is None or node.name in path:
                return {}
            path.add(node.name)
            memo[node.name] = found = walk(body)
            path.discard(node.name)
            return found
        return {}  # not: requires nothing

    try:
        return walk(expr)
    except RecursionError:
        return {}


_Candidate = tuple[_CompiledRule, Callable[[object], bool]]
"""A rule and the predicate to run for it at one place of the index."""


class _Leaf(tuple[_Candidate, ...]):
    """The rules that can match an event reaching one place of the index, in load order,
    and ``first``: the same conditions fused into one function answering the first rule
    whose condition holds, None for none (see ``condition.compile_first_match``); None
    where it could not be built, and the rules then run one by one."""

    first: Callable[[object], _CompiledRule | None] | None = None
    exprs: tuple[cond.Expr | bool, ...] = ()  # the conditions ``first`` was compiled from
    registry: FieldRegistry | None = None


class _Node:
    """One step of a source's rule index: the value of one field picks the next step."""

    __slots__ = ("children", "default", "getter", "rules")

    def __init__(
        self,
        getter: Callable[[object], Any],
        children: dict[Any, _Node | _Leaf],
        default: _Node | _Leaf,
        rules: _Leaf,
    ) -> None:
        self.getter = getter
        self.children = children
        self.default = default
        self.rules = rules  # every rule below this step, for an event the getter fails on


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the index builder knows of one rule."""

    rule: _CompiledRule
    constraints: dict[_FieldKey, frozenset[str]]
    expr: cond.Expr  # the condition with every macro expanded
    fields: frozenset[_FieldKey]  # the plain fields it compares


def _walk_getter(getter: Callable[[object], Any]) -> Callable[[object], Any]:
    """The getter an index step calls: for a plain dict key, ``itemgetter`` (C, no Python
    frame). An absent key raises, which sends the event to every rule below the step, whose
    conditions then decide: the same answers as reading None, on a path events rarely take."""
    key = dict_key_of(getter)
    if key is None:
        return getter
    return cast(Callable[[object], Any], operator.itemgetter(key))


def _no_match(_event: object) -> None:
    return None


def _dispatcher(node: _Node | _Leaf) -> Callable[[object], _CompiledRule | None]:
    """The index below ``node`` as a function answering the first rule whose condition
    holds for an event (None for none): at a step, the field's value picks the next
    function; a getter that fails sends the event to every rule below the step, as the
    walk in ``Engine.process`` does."""
    if not isinstance(node, _Node):
        return node.first if node.first is not None else _one_by_one(node)
    folded = _folded(node)
    if folded is not None:
        return folded
    pick = {value: _dispatcher(child) for value, child in node.children.items()}.get
    default = _dispatcher(node.default)
    fallback = _dispatcher(node.rules)
    getter = node.getter
    path = json_path_of(getter)
    if path is not None:  # a JSON field (k8s audit): read in place, no getter call
        try:
            return cond.compile_json_step(path, getter, pick, default, fallback)
        except Exception:  # the plain step below is always right
            log.debug("cannot compile the step on %s", path, exc_info=True)

    def dispatch(event: object) -> _CompiledRule | None:
        try:
            chosen = pick(getter(event), default)
        except Exception:
            return fallback(event)
        return chosen(event)

    return dispatch


_First = Callable[[object], "_CompiledRule | None"]
_Pick = Callable[[Any, _First], _First]
_KeyedRoot = tuple[str, _Pick, _First, _First]
"""A source's first index step on a plain dict key (``evt.type``), for ``process`` to take
inline: (key, pick, default, fallback)."""


def _root(node: _Node | _Leaf) -> _KeyedRoot | _First:
    """How ``process`` starts a source's index: a step on a plain key as its parts (read
    inline: ``event[key]``, no call; an absent key raises and takes the fallback, as the
    itemgetter does), any other index as one function (see ``_dispatcher``)."""
    if not isinstance(node, _Node) or not isinstance(node.getter, operator.itemgetter):
        return _dispatcher(node)
    folded = _folded(node)
    key = node.getter.__reduce__()[1][0]
    if folded is not None or not isinstance(key, str):
        return folded or _dispatcher(node)
    pick = {value: _dispatcher(child) for value, child in node.children.items()}.get
    return (key, pick, _dispatcher(node.default), _dispatcher(node.rules))


def _folded(node: _Node) -> Callable[[object], _CompiledRule | None] | None:
    """A step on a plain key with one branch to a fused leaf and nothing elsewhere
    (``fd.typechar = f`` below ``evt.type = openat``): the test moved into the leaf's
    function, one call less per event; None when the step is not of that shape."""
    if not (isinstance(node.getter, operator.itemgetter) and len(node.children) == 1):
        return None
    if not isinstance(node.default, _Leaf) or node.default:
        return None
    ((value, child),) = node.children.items()
    if not isinstance(child, _Leaf) or child.first is None or child.registry is None:
        return None
    key = node.getter.__reduce__()[1][0]
    rules = [rule for rule, _ in child]

    def failed(index: int) -> None:
        rules[index].errors += 1

    otherwise = _dispatcher(node.rules)
    try:
        return cond.compile_first_match(
            child.exprs, child.registry, failed, rules, guard=(key, value, otherwise)
        )
    except Exception:  # the step and its leaf as they are
        log.debug("cannot fold the step on %s", key, exc_info=True)
        return None


def _one_by_one(leaf: _Leaf) -> Callable[[object], _CompiledRule | None]:
    """A leaf whose conditions could not be fused: each rule's predicate in turn."""

    def first(event: object) -> _CompiledRule | None:
        for rule, check in leaf:
            try:
                if check(event):
                    return rule
            except Exception:
                rule.errors += 1
        return None

    return first


def _no_events() -> int:
    return 0


def _always(_event: object) -> bool:
    return True


_MAX_SPECIALIZED: Final = 2000
"""Specialised predicates compiled per source at most (each costs about a millisecond)."""
_MAX_FUSED: Final = 6000
"""Conditions compiled into fused leaves per source at most (a leaf's rules compile again)."""


class _IndexBuilder:
    """Builds a source's index: a small decision tree over the fields that rules require
    values of (``evt.type`` first, as libsinsp does; then, say, ``proc.name`` for execs and
    ``ka.target.resource`` for k8s audit events). Each leaf lists, in load order, the rules
    that can match an event reaching it, so an event costs one dict lookup per level plus
    its candidates.

    A level costs one field read per event reaching it; it is added where it skips at least
    ``_INDEX_MIN_BENEFIT`` rules on average over the values the rules name and "any other
    value" (which the rules' values rarely are: a get skips every rule about creates).

    At a leaf the values of the fields tested on the way are known, so each rule's condition
    is compiled again with those comparisons decided (``evt.type in (open, openat)`` is true
    below ``evt.type = openat``) and its terms reordered (``_cheap_first``): the same answers,
    fewer field reads. A rule whose condition the known values make false is left out of that
    leaf. Compiling costs about a millisecond a leaf rule, once, when the engine is built."""

    def __init__(
        self,
        getters: Mapping[_FieldKey, Callable[[object], Any]],
        registry: FieldRegistry,
    ) -> None:
        self.getters = getters
        self.registry = registry
        self.leaves: dict[tuple[object, ...], _Leaf] = {}
        self.fused = 0  # conditions compiled into fused leaves (bounded by _MAX_FUSED)
        self.exprs: dict[tuple[object, ...], cond.Expr | bool] = {}
        self.specialized: dict[tuple[object, ...], Callable[[object], bool] | None] = {}
        self.compiled: dict[cond.Expr, Callable[[object], bool]] = {}
        self.field_costs: dict[_FieldKey, int] = {}

    def build(
        self,
        entries: Sequence[_Entry],
        used: frozenset[_FieldKey] = frozenset(),
        facts: tuple[tuple[_FieldKey, _Fact], ...] = (),
    ) -> _Node | _Leaf:
        choice = self.choose(entries, used, not used) if len(used) < _INDEX_MAX_DEPTH else None
        if choice is None:
            return self.leaf(entries, facts)
        key, values = choice
        below = used | {key}
        children: dict[Any, _Node | _Leaf] = {}
        for value in sorted(values):
            subset = [e for e in entries if key not in e.constraints or value in e.constraints[key]]
            children[value] = self.build(subset, below, (*facts, (key, value)))
        # Below "any other value" the field is known to hold none of the values named:
        # ``proc.name in (shell_binaries)`` is false there (an excluded-values fact).
        other = (*facts, (key, frozenset(values)))
        default = self.build([e for e in entries if key not in e.constraints], below, other)
        return _Node(_walk_getter(self.getters[key]), children, default, self.leaf(entries, facts))

    def choose(
        self, entries: Sequence[_Entry], used: frozenset[_FieldKey], first: bool
    ) -> tuple[_FieldKey, frozenset[str]] | None:
        keys = sorted(
            {k for e in entries for k in e.constraints if k not in used},
            key=lambda k: (k[0], k[1] or ""),
        )
        best: tuple[float, _FieldKey, frozenset[str]] | None = None
        for key in keys:
            sets = [e.constraints[key] for e in entries if key in e.constraints]
            values = frozenset().union(*sets)
            if len(values) > _INDEX_MAX_VALUES:
                continue
            if first and key == _EVT_TYPE:
                return key, values  # one lookup by event type is always worth it
            # Rules skipped on average over the values named and "any other value".
            skipped = sum(len(sets) - sum(v in s for s in sets) for v in values) + len(sets)
            benefit = skipped / (len(values) + 1)
            if benefit >= _INDEX_MIN_BENEFIT and (best is None or benefit > best[0]):
                best = (benefit, key, values)
        return None if best is None else (best[1], best[2])

    def leaf(self, entries: Sequence[_Entry], facts: tuple[tuple[_FieldKey, _Fact], ...]) -> _Leaf:
        out: list[_Candidate] = []
        exprs: list[cond.Expr | bool] = []
        for entry in entries:
            predicate = self.predicate(entry, facts)
            if predicate is not None:
                out.append((entry.rule, predicate))
                exprs.append(self.exprs.get(self.memo(entry, facts), entry.expr))
        key = tuple(x for pair in out for x in (id(pair[0]), id(pair[1])))
        leaf = self.leaves.get(key)
        if leaf is None:
            leaf = self.leaves[key] = _Leaf(out)
            leaf.first = self.fuse(leaf, exprs)
            if leaf.first is not None:
                leaf.exprs, leaf.registry = tuple(exprs), self.registry
        return leaf

    def fuse(
        self, leaf: _Leaf, exprs: Sequence[cond.Expr | bool]
    ) -> Callable[[object], _CompiledRule | None] | None:
        """The leaf's conditions as one function (a call per event instead of one per rule),
        or None past the compile budget or when one of them cannot be compiled again."""
        if not leaf:
            return _no_match
        if self.fused + len(exprs) > _MAX_FUSED:
            return None
        rules = [rule for rule, _ in leaf]

        def failed(index: int) -> None:
            rules[index].errors += 1

        try:
            first = cond.compile_first_match(exprs, self.registry, failed, rules)
        except Exception:  # the rules one by one are always right
            log.debug("cannot fuse %s", [r.name for r in rules], exc_info=True)
            return None
        self.fused += len(exprs)
        return first

    @staticmethod
    def memo(entry: _Entry, facts: tuple[tuple[_FieldKey, _Fact], ...]) -> tuple[object, ...]:
        known = {k: v for k, v in facts if k in entry.fields}
        return (id(entry), tuple(sorted(known.items(), key=repr)))

    def predicate(
        self, entry: _Entry, facts: tuple[tuple[_FieldKey, _Fact], ...]
    ) -> Callable[[object], bool] | None:
        """The rule's condition with the known values decided and its cheap tests first (see
        ``_cheap_first``); None when the known values make it false."""
        known = {k: v for k, v in facts if k in entry.fields}
        memo = self.memo(entry, facts)
        if memo in self.specialized:
            return self.specialized[memo]
        predicate: Callable[[object], bool] | None = entry.rule.condition
        if len(self.specialized) < _MAX_SPECIALIZED:
            try:
                decided = _decide(entry.expr, known) if known else entry.expr
                if not isinstance(decided, bool):
                    decided = _cheap_first(decided, self.cost, self.weak)
            except RecursionError:  # a condition nested past Python's stack: run it as it is
                decided = entry.expr
            self.exprs[memo] = decided
            if decided is True:
                predicate = _always
            elif decided is False:
                predicate = None
            elif decided == entry.expr:
                pass  # nothing decided, nothing moved: the rule's own predicate
            elif decided in self.compiled:  # execve and execveat often decide alike
                predicate = self.compiled[decided]
            else:
                compiled = entry.rule.condition
                try:
                    compiled = cond.compile_condition(
                        decided, macros={}, lists={}, fields=self.registry
                    )
                except Exception:  # the rule's own predicate is always right
                    log.debug("cannot specialise %s", entry.rule.name, exc_info=True)
                predicate = self.compiled[decided] = compiled
        self.specialized[memo] = predicate
        return predicate

    def weak(self, expr: cond.Expr) -> bool:
        """Whether a positive test passes for most events: a comparison of a flag, a number
        range, ``exists``; an ``or`` with one such branch. Equality, membership and string
        tests on text (what a rule looks for) are selective."""
        if isinstance(expr, cond.Or):
            return any(self.weak(item) for item in expr.items)
        if isinstance(expr, cond.And):
            return all(self.weak(item) for item in expr.items)
        if not isinstance(expr, cond.Compare):
            return True
        if expr.op in _WEAK_OPS or isinstance(expr.value, cond.FieldRef):
            return True
        try:
            field = self.registry.resolve(expr.field.name, expr.field.arg)
        except KubewardError:
            return True
        return field.type not in ("string", "list") or bool(expr.field.transformers)

    def cost(self, expr: cond.Expr) -> int:
        """A rough price of evaluating ``expr``: field reads, weighted by how dear the test is."""
        if isinstance(expr, cond.And | cond.Or):
            return sum(self.cost(item) for item in expr.items)
        if isinstance(expr, cond.Not):
            return self.cost(expr.item)
        if not isinstance(expr, cond.Compare):
            return 1
        key = (expr.field.name, expr.field.arg)
        price = self.field_costs.get(key)
        if price is None:
            try:
                field = self.registry.resolve(*key)
            except KubewardError:
                price = 1
            else:
                # An address is parsed (with ipaddress) at every comparison; a multi field
                # compares every value it holds.
                price = 10 if field.type in ("ipaddr", "ipnet") else 1
                price *= 2 if getattr(field, "multi", "") else 1
            self.field_costs[key] = price
        if expr.op in _DEAR_OPS:
            price += 2
        price += len(expr.field.transformers)
        return price + (1 if isinstance(expr.value, cond.FieldRef) else 0)


_EVT_TYPE: Final[_FieldKey] = ("evt.type", None)
_DEAR_OPS: Final = frozenset(("glob", "iglob", "regex", "pmatch", "icontains"))
_WEAK_OPS: Final = frozenset(("<", "<=", ">", ">=", "exists", "!="))


def _cheap_first(
    expr: cond.Expr,
    cost: Callable[[cond.Expr], int],
    weak: Callable[[cond.Expr], bool] = lambda _term: False,
) -> cond.Expr:
    """``expr`` with the terms of its top-level ``and`` chain (nested ``and``s flattened)
    sorted so that a test likely to fail comes early and cheap: first the positive terms
    (what the rule looks for: most events fail one), the selective ones before the ``weak``
    ones (a flag or a number range that most events of the type pass: ``evt.is_open_read =
    true``, ``fd.num >= 0``), cheapest first, then the exclusions (``not ...``, ``!=``:
    allow-lists that most events pass), cheapest first; ties keep the written order. A cheap
    failing test spares the dear ones (an address comparison, a glob).

    Only that chain is reordered: there every term must hold for a match, so the order cannot
    change whether a rule matches, even when a field getter fails (a failure anywhere in the
    chain means no match either way). Inside ``or`` and ``not`` a failure could replace an
    answer, so their order is kept."""
    if not isinstance(expr, cond.And):
        return expr
    terms: list[cond.Expr] = []
    stack: list[cond.Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cond.And):
            stack.extend(reversed(node.items))
        else:
            terms.append(node)

    def key(term: cond.Expr) -> tuple[bool, bool, int]:
        negative = isinstance(term, cond.Not) or (
            isinstance(term, cond.Compare) and term.op == "!="
        )
        return negative, not negative and weak(term), cost(term)

    return cond.And(tuple(sorted(terms, key=key)))


_DECIDABLE_OPS: Final = _INDEX_OPS | {"!=", "exists", "startswith", "endswith", "contains"}


def _compared_fields(expr: cond.Expr) -> frozenset[_FieldKey]:
    """The untransformed fields an expanded condition compares."""
    out: set[_FieldKey] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cond.And | cond.Or):
            stack.extend(node.items)
        elif isinstance(node, cond.Not):
            stack.append(node.item)
        elif isinstance(node, cond.Compare) and not node.field.transformers:
            out.add((node.field.name, node.field.arg))
    return frozenset(out)


_Fact = str | frozenset[str]
"""What the index knows of a field at one of its places: its value, or (below "any other
value") the values it does not hold."""


def _decide(expr: cond.Expr, known: Mapping[_FieldKey, _Fact]) -> cond.Expr | bool:
    """``expr`` (macros expanded) with every comparison of a field whose value is known
    replaced by its answer, then simplified; True or False when it always has that answer.

    Only comparisons whose compiled form is a plain string operation on the extracted value
    are decided (the index holds string fields only, and a known value is never absent):
    ``=``/``in`` (membership), ``!=``, ``exists``, ``startswith``, ``endswith``, ``contains``.
    Such a comparison never fails, but others can (an odd value in an odd event), and a
    failure ends the evaluation: so an answer that would end an ``and`` (False) or an ``or``
    (True) decides it only when nothing before it is left to evaluate; otherwise the
    comparison stays, and what follows it is dropped (it was never evaluated). The result
    answers, or fails, exactly where ``expr`` does."""
    if isinstance(expr, cond.Compare):
        ref = expr.field
        key = (ref.name, ref.arg)
        if key not in known or ref.transformers or expr.op not in _DECIDABLE_OPS:
            return expr
        value = known[key]
        op, operand = expr.op, expr.value
        if isinstance(operand, cond.ListLiteral):
            texts = [i if isinstance(i, str) else i.name for i in operand.items]
        elif isinstance(operand, str):
            texts = [operand]
        else:
            texts = None  # val(other field)
        if isinstance(value, frozenset):
            # The value (maybe absent) is none of these: a membership in them is false;
            # nothing else is known (``!=`` and ``exists`` fail on an absent value).
            if op in _INDEX_OPS and texts and value.issuperset(texts):
                return False
            return expr
        if op == "exists":
            return True
        if texts is None:
            return expr
        if op in _INDEX_OPS:
            return value in texts
        if len(texts) != 1:
            return expr
        text = texts[0]
        if op == "!=":
            return value != text
        if op == "startswith":
            return value.startswith(text)
        if op == "endswith":
            return value.endswith(text)
        return text in value  # contains
    if isinstance(expr, cond.And | cond.Or):
        absorbing = isinstance(expr, cond.Or)  # True ends an or, False an and
        items: list[cond.Expr] = []
        for item in expr.items:
            decided = _decide(item, known)
            if decided is absorbing:
                if not items:
                    return absorbing
                items.append(item)  # answers ``absorbing`` without failing, as written
                break
            if decided is not (not absorbing):
                items.append(decided)  # type: ignore[arg-type]
        if not items:
            return not absorbing
        if len(items) == 1:
            return items[0]
        return cond.Or(tuple(items)) if absorbing else cond.And(tuple(items))
    if isinstance(expr, cond.Not):
        decided = _decide(expr.item, known)
        if isinstance(decided, bool):
            return not decided
        return expr if decided is expr.item else cond.Not(decided)
    return expr


class Engine:
    """Compiled rules for a set of event sources.

    ``registries`` maps each source to its field registry. Each enabled rule is compiled once:
    a rule naming a field its registry does not know is disabled with one LOAD_UNKNOWN_FILTER
    warning (silently with ``skip-if-unknown-filter: true``); rules of a source without a
    registry are skipped with one LOAD_UNKNOWN_SOURCE warning per source; a condition or
    output that cannot be compiled otherwise is an error (``errors``) and the rule is left out.
    ``rule_status`` says for every rule of the ruleset whether it runs and why not.

    ``event_time`` gives, per source, the time of an event in nanoseconds (Falco stamps alerts
    with the event's time); without it, or when it answers None, the wall clock is used.
    ``rate`` (alerts per second, 0 = unlimited) and ``max_burst`` set a token bucket per
    rule; ``dedup_window`` (seconds, 0 = off) suppresses an alert whose rule and output equal
    one emitted less than that long before. Both run on alert time, so replaying a file gives
    the same result at any speed. ``late_after`` (seconds) counts events processed that long
    after their own time, for live sources. ``suggested_output`` appends the container and
    pod fields to syscall outputs, as Falco 0.41+ does by default (the CLI turns it on).
    """

    def __init__(
        self,
        ruleset: Ruleset,
        registries: Mapping[str, FieldRegistry],
        *,
        min_priority: str | int = DEBUG,
        match_all: bool = False,
        rate: float = 0.0,
        max_burst: float = 1000.0,
        dedup_window: float = 0.0,
        stats: bool = False,
        hostname: str | None = None,
        event_time: Mapping[str, Callable[[object], int | None]] | None = None,
        late_after: float | None = None,
        suggested_output: bool = False,
    ) -> None:
        self.ruleset = ruleset
        self._suggested_output = suggested_output
        self.min_priority = (
            min_priority if isinstance(min_priority, int) else parse_priority(min_priority)
        )
        self._match_all = match_all
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self.warnings: list[LoadMessage] = []
        self.errors: list[LoadMessage] = []
        self.rule_status: dict[str, str] = {}
        self._timing = stats
        self._rate = rate
        self._max_burst = max_burst
        self._dedup_ns = int(dedup_window * 1e9)
        self._dedup: dict[tuple[str, str], int] = {}
        self._late_ns = None if late_after is None else int(late_after * 1e9)
        self._events = 0
        self._dropped = 0
        self._late = 0
        self._unknown_source = 0
        self._alerts = 0
        self._started = time.perf_counter_ns()
        self._compiled: list[_CompiledRule] = []
        self._index: dict[str, _Node | _Leaf] = {}
        self._time_of: dict[str, Callable[[object], int | None]] = {}
        self._getters: dict[str, dict[_FieldKey, Callable[[object], Any]]] = {}
        # Per source, the whole index as nested calls answering the first matching rule,
        # used when nothing asks for more than that (all matches, timing, lateness).
        self._roots: dict[str, _KeyedRoot | _First] = {}
        self._fast_events: Callable[[], int] = _no_events
        self._build(registries, event_time or {})
        if not (match_all or stats or late_after is not None):
            self._roots = {source: _root(node) for source, node in self._index.items()}
            self.process = self._first_match_process()  # type: ignore[method-assign,assignment]

    @property
    def match_all(self) -> bool:
        """Every matching rule alerts (set when the engine is built), not only the first."""
        return self._match_all

    # -- compilation ------------------------------------------------------------------------

    def _build(
        self,
        registries: Mapping[str, FieldRegistry],
        event_time: Mapping[str, Callable[[object], int | None]],
    ) -> None:
        ruleset = self.ruleset
        macros: dict[str, cond.Expr] = {}
        for name in ruleset.macros:
            try:
                macros[name] = cond.parse_condition(ruleset.expanded_macro(name))
            except cond.ConditionSyntaxError:
                continue  # the loader reported it; rules using it fail below as undefined
        per_source: dict[str, list[_Entry]] = {}
        missing_sources: dict[str, int] = {}
        for rule in ruleset.rules.values():
            registry = registries.get(rule.source)
            if registry is None:
                missing_sources[rule.source] = missing_sources.get(rule.source, 0) + 1
                self.rule_status[rule.name] = f"no fields for source {rule.source}"
                continue
            compiled = self._compile(rule, registry, macros)
            if compiled is None:
                continue
            rule_obj, constraints, expanded = compiled
            if not rule.enabled:
                self.rule_status[rule.name] = "disabled in rules"
                continue
            if rule_obj.priority > self.min_priority:
                self.rule_status[rule.name] = "below minimum priority"
                continue
            self.rule_status[rule.name] = "enabled"
            self._compiled.append(rule_obj)
            if any(not values for values in constraints.values()):
                continue  # can never match: compiled and counted, never run
            entry = _Entry(rule_obj, constraints, expanded, _compared_fields(expanded))
            per_source.setdefault(rule.source, []).append(entry)
        for source, count in missing_sources.items():
            self.warnings.append(
                LoadMessage(
                    LOAD_UNKNOWN_SOURCE,
                    f"{count} rule(s) of source {source} skipped: no event fields for "
                    f"source {source}",
                    "",
                    "source",
                    source,
                    None,
                )
            )
        for source, entries in per_source.items():
            builder = _IndexBuilder(self._getters.get(source, {}), registries[source])
            self._index[source] = builder.build(entries)
            time_of = event_time.get(source)
            if time_of is not None:
                self._time_of[source] = time_of

    def _compile(
        self,
        rule: Rule,
        registry: FieldRegistry,
        macros: Mapping[str, cond.Expr],
    ) -> tuple[_CompiledRule, dict[_FieldKey, frozenset[str]], cond.Expr] | None:
        try:
            priority = parse_priority(rule.priority)
        except ValueError as exc:
            self._error(rule, LOAD_ERR_COMPILE_CONDITION, str(exc))
            return None
        try:
            expr = cond.parse_condition(self.ruleset.expanded_condition(rule.name))
            predicate = cond.compile_condition(expr, macros=macros, lists={}, fields=registry)
        except UnknownFieldError as exc:
            self._unknown_field(rule, f"filter_check called with nonexistent field {exc.field}")
            return None
        except cond.ConditionSyntaxError as exc:
            self._error(
                rule, LOAD_ERR_COMPILE_CONDITION, f"{exc.message} (position {exc.position})"
            )
            return None
        except (cond.CompileError, RulesError) as exc:
            self._error(rule, LOAD_ERR_COMPILE_CONDITION, str(exc))
            return None
        try:
            suffix = SUGGESTED_OUTPUT.get(rule.source, "") if self._suggested_output else ""
            output = OutputFormat(rule.output + suffix, registry)
        except OutputFormatError as exc:
            if is_unknown_field_error(exc.message):
                self._unknown_field(rule, f"invalid output format: {exc}")
            else:
                self._error(rule, LOAD_ERR_COMPILE_OUTPUT, f"invalid output format: {exc}")
            return None
        try:
            expanded = cond.expand_macros(expr, macros)
        except (cond.CompileError, RecursionError):  # compile_condition expanded it already
            expanded = expr
        constraints = self._index_constraints(rule.source, expanded, macros, registry)
        bucket = _TokenBucket(self._rate, self._max_burst) if self._rate > 0 else None
        compiled = _CompiledRule(
            rule, priority=priority, condition=predicate, output=output, bucket=bucket
        )
        return compiled, constraints, expanded

    def _index_constraints(
        self,
        source: str,
        expr: cond.Expr,
        macros: Mapping[str, cond.Expr],
        registry: FieldRegistry,
    ) -> dict[_FieldKey, frozenset[str]]:
        """The rule's required values of string fields (see ``_constraints``), with each
        field's getter remembered for the index."""
        getters = self._getters.setdefault(source, {})
        out: dict[_FieldKey, frozenset[str]] = {}
        try:
            found = _constraints(expr, macros)
        except Exception:  # indexing is an optimisation: when unsure, test every event
            return out
        for key, values in found.items():
            try:
                field = registry.resolve(key[0], key[1])
            except KubewardError:
                continue
            # Only a plain string field's test is equality with the text written (a ``multi``
            # field, proc.aname say, answers a list and compares value by value).
            if field.type == "string" and not getattr(field, "multi", ""):
                out[key] = values
                getters[key] = field.getter
        return out

    def _unknown_field(self, rule: Rule, message: str) -> None:
        self.rule_status[rule.name] = f"disabled: {message}"
        if not rule.skip_if_unknown_filter:
            self.warnings.append(
                LoadMessage(LOAD_UNKNOWN_FILTER, message, rule.file, RULE, rule.name, rule.line)
            )

    def _error(self, rule: Rule, code: str, message: str) -> None:
        self.rule_status[rule.name] = f"error: {message}"
        self.errors.append(LoadMessage(code, message, rule.file, RULE, rule.name, rule.line))

    # -- running ----------------------------------------------------------------------------

    def _index_leaves(self, source: str) -> list[_Leaf]:
        """Every place of a source's index (for tests and debugging)."""
        out: list[_Leaf] = []
        stack: list[_Node | _Leaf] = [self._index[source]] if source in self._index else []
        while stack:
            node = stack.pop()
            if isinstance(node, _Node):
                stack.extend((*node.children.values(), node.default))
            else:
                out.append(node)
        return out

    @property
    def sources(self) -> frozenset[str]:
        """The sources that have at least one rule to run."""
        return frozenset(self._index)

    def _first_match_process(self) -> Callable[[str, object, int | None], list[Alert]]:
        """``process`` when only the first matching rule is wanted, untimed (the common
        case): the index as compiled calls (``_root``) with its first step inline, and
        what it needs in closure variables rather than attributes of the engine."""
        keyed = {s: root for s, root in self._roots.items() if isinstance(root, tuple)}
        whole = {s: root for s, root in self._roots.items() if not isinstance(root, tuple)}
        walk = self._walk_index
        alerts_for = self._alerts_for
        event_time = self._event_time
        time_of = self._time_of.get
        events = 0

        def count() -> int:
            return events

        self._fast_events = count

        def process(source: str, event: Any, time_ns: int | None = None) -> list[Alert]:
            nonlocal events
            events += 1
            root = keyed.get(source)
            if root is not None:  # a step on a plain key first (evt.type): read inline
                key, pick, chosen, fallback = root
                try:
                    chosen = pick(event[key], chosen)
                except Exception:  # absent, unhashable, not a mapping: as the getter does
                    chosen = fallback
                rule = chosen(event)
            else:
                whole_index = whole.get(source)
                if whole_index is None:  # no rule for it: counted as an unknown source
                    return walk(source, event, time_ns)
                rule = whole_index(event)
            if rule is None:
                return []
            if time_ns is None:
                time_ns = event_time(time_of(source), event)
            return alerts_for((rule,), source, event, time_ns)

        process.__doc__ = Engine.process.__doc__
        return process

    def process(self, source: str, event: object, time_ns: int | None = None) -> list[Alert]:
        """The alerts for one event, in rule load order (only the first unless ``match_all``).
        Never raises for a bad event: a condition that fails on it counts as an error of
        that rule and as no match."""
        self._events += 1
        return self._walk_index(source, event, time_ns)

    def _walk_index(self, source: str, event: object, time_ns: int | None) -> list[Alert]:
        node = self._index.get(source)
        if node is None:
            self._unknown_source += 1
            return []
        # The index walk (see _IndexBuilder), inline: this runs once per event. A getter that
        # fails (or answers an unhashable value) stops the walk with every rule below that
        # step: their conditions then decide, and count the error, as with no index.
        while type(node) is _Node:
            step: _Node = node
            try:
                node = step.children.get(step.getter(event), step.default)
            except Exception:
                node = step.rules
        candidates: _Leaf = node  # type: ignore[assignment]
        first = candidates.first
        if first is not None and not (self._timing or self._match_all):
            rule = first(event)
            matched = None if rule is None else [rule]
        else:
            matched = self._match_each(candidates, event)
        if self._late_ns is not None or matched is not None:
            if time_ns is None:
                time_ns = self._event_time(self._time_of.get(source), event)
            if self._late_ns is not None and time.time_ns() - time_ns > self._late_ns:
                self._late += 1
        if matched is None:
            return []
        assert time_ns is not None
        return self._alerts_for(matched, source, event, time_ns)

    def _match_each(
        self, candidates: Sequence[_Candidate], event: object
    ) -> list[_CompiledRule] | None:
        """The candidates one by one: every match with ``match_all``, each rule's cost with
        ``stats`` (the fused functions answer only the first match, untimed)."""
        timed = self._timing
        clock = time.perf_counter_ns
        matched: list[_CompiledRule] | None = None
        for rule, check in candidates:
            start = clock() if timed else 0
            try:
                hit = check(event)
            except Exception:
                hit = False
                rule.errors += 1
            if timed:
                rule.evaluations += 1
                rule.time_ns += clock() - start
            if hit:
                if matched is None:
                    matched = [rule]
                else:
                    matched.append(rule)
                if not self._match_all:
                    break
        return matched

    @staticmethod
    def _event_time(time_of: Callable[[object], int | None] | None, event: object) -> int:
        if time_of is not None:
            try:
                stamp = time_of(event)
            except Exception:
                stamp = None
            if stamp is not None:
                return int(stamp)
        return time.time_ns()

    def _alerts_for(
        self, matched: Sequence[_CompiledRule], source: str, event: object, time_ns: int
    ) -> list[Alert]:
        alerts: list[Alert] = []
        for rule in matched:
            rule.matches += 1
            if rule.bucket is not None and not rule.bucket.claim(time_ns):
                rule.rate_limited += 1
                continue
            output, fields = rule.output.render(event)
            if self._dedup_ns and self._is_duplicate(rule.name, output, time_ns):
                rule.deduplicated += 1
                continue
            alerts.append(
                Alert(
                    rule.name,
                    rule.priority_name,
                    time_ns,
                    output,
                    fields,
                    source,
                    rule.tags,
                    self.hostname,
                )
            )
        self._alerts += len(alerts)
        return alerts

    def _is_duplicate(self, rule: str, output: str, now: int) -> bool:
        key = (rule, output)
        seen = self._dedup.get(key)
        if seen is not None and 0 <= now - seen < self._dedup_ns:
            return True
        # Re-inserted so that the dict stays ordered by last emission: the oldest go first.
        self._dedup.pop(key, None)
        self._dedup[key] = now
        if len(self._dedup) > DEDUP_MAX_KEYS:
            for old in list(self._dedup)[: DEDUP_MAX_KEYS // 10]:
                del self._dedup[old]
        return False

    def note_dropped(self, count: int) -> None:
        """Count events a source lost before they reached the engine."""
        self._dropped += count

    def stats(self) -> EngineStats:
        rules = tuple(
            RuleStats(
                r.name,
                r.source,
                r.priority_name,
                r.matches,
                r.rate_limited,
                r.deduplicated,
                r.errors,
                r.evaluations,
                r.time_ns,
            )
            for r in self._compiled
        )
        return EngineStats(
            events=self._events + self._fast_events(),
            dropped=self._dropped,
            late=self._late,
            unknown_source=self._unknown_source,
            alerts=self._alerts,
            rate_limited=sum(r.rate_limited for r in rules),
            deduplicated=sum(r.deduplicated for r in rules),
            rules_loaded=len(self.ruleset.rules),
            rules_enabled=len(self._compiled),
            elapsed_ns=time.perf_counter_ns() - self._started,
            rules=rules,
        )
