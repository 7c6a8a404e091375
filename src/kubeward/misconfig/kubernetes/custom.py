"""The user's own Kubernetes checks: CEL expressions from `checks.custom` in kubeward.yaml.

An expression reads `object` (the manifest object as `kubectl` decodes it) and, as in a
ValidatingAdmissionPolicy validation, must evaluate to `true` for the object to pass. An
expression that cannot be evaluated (a missing field, a type mismatch) follows the check's
`failure_policy`, VAP's default being `Fail`: it is a finding that says why, never an
exception; `Ignore` counts it as a pass.

Evaluation is cel-python (`celpy`), a pure Python interpreter: about 0.2-2 ms per object
and check (the object is converted to CEL values once, for all checks). Its `matches()`
uses RE2 (linear time). celpy has no cost limit of its own, so each evaluation runs with a
budget of interpreter steps (MAX_STEPS): nested macros over a huge list stop with an
evaluation error instead of running for hours. Strings built by the added string
functions are capped too.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.adapter import CELJSONEncoder, json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import Activation, CELEvalError, Evaluator

from kubeward.misconfig.engine import CheckMeta, Violation, load_metadata
from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.misconfig.settings import (
    CUSTOM_TAG,
    CheckSettings,
    CheckSettingsError,
    CustomCheckSpec,
)

# Interpreter steps (AST nodes visited) per evaluation of one expression on one object:
# about a second of celpy at worst; a macro over a 1,000-item list costs ~30,000.
MAX_STEPS = 100_000
# AST depth: celpy evaluates recursively (~3 Python frames per level) under a recursion
# limit of 2500; a simple comparison is ~15 levels deep, each parenthesis adds ~12.
MAX_DEPTH = 400
MAX_STRING = 1024 * 1024  # longest string split/join/replace/... may build
MAX_PLACEHOLDERS = 16  # `{{ ... }}` in one message
MAX_RENDERED = 200  # characters of one rendered placeholder
NO_VALUE = "<no value>"
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_CEL_TYPE = re.compile(r"<class 'celpy\.celtypes\.(\w+?)(?:Type)?'>")
_TOKEN = re.compile(r"Token\('\w+', '(\w+)'\)")
_CACHE_KEY = "custom-cel-object"

# celpy logs every step at DEBUG with the repr of the whole activation (the object), which
# would flood `--debug` and cost seconds, and logs at ERROR what we report ourselves.
logging.getLogger("celpy").setLevel(logging.CRITICAL)


class _OutOfSteps(Exception):
    """The evaluation used up its step budget (not a CELEvalError: nothing in celpy may
    swallow it)."""


class _Budget:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps


class _BudgetEvaluator(Evaluator):
    """celpy's interpreter, counting the nodes it visits (macros included: their bodies run
    in sub-evaluators that share the budget)."""

    def __init__(self, ast: lark.Tree[Any], activation: Activation, budget: _Budget) -> None:
        super().__init__(ast, activation)
        self.budget = budget

    def _visit_tree(self, tree: lark.Tree[Any]) -> Any:
        self.budget.left -= 1
        if self.budget.left < 0:
            raise _OutOfSteps(f"stopped after {MAX_STEPS:,} evaluation steps")
        return super()._visit_tree(tree)

    def sub_evaluator(self, ast: lark.Tree[Any]) -> Evaluator:
        return _BudgetEvaluator(ast, self.activation, self.budget)


class _Program:
    """One compiled expression; the base activation (functions, annotations) is built once."""

    __slots__ = ("activation", "ast")

    def __init__(self, ast: lark.Tree[Any], activation: Activation) -> None:
        self.ast = ast
        self.activation = activation

    def run(self, value: Any) -> Any:
        evaluator = _BudgetEvaluator(self.ast, self.activation, _Budget(MAX_STEPS))
        return evaluator.evaluate({"object": value})


# -- Kubernetes' CEL string library (k8s.io/apiserver cel/library, strings ext), the part
# validation rules use most; celpy has only contains/startsWith/endsWith/matches/size.


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool | celtypes.BoolType):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    return int(value)


def _capped(text: str) -> Any:
    if len(text) > MAX_STRING:
        return CELEvalError(f"string longer than {MAX_STRING} characters")
    return celtypes.StringType(text)


def _lower_ascii(text: Any) -> celtypes.StringType:
    return celtypes.StringType("".join(c.lower() if c.isascii() else c for c in _string(text)))


def _upper_ascii(text: Any) -> celtypes.StringType:
    return celtypes.StringType("".join(c.upper() if c.isascii() else c for c in _string(text)))


def _trim(text: Any) -> celtypes.StringType:
    return celtypes.StringType(_string(text).strip())


def _split(text: Any, separator: Any, limit: Any = -1) -> celtypes.ListType:
    """`split(sep)`, `split(sep, n)`: n < 0 all parts, 0 none, n at most n parts."""
    text, separator, limit = _string(text), _string(separator), _int(limit)
    if limit == 0:
        return celtypes.ListType([])
    if separator == "":
        parts = list(text) if limit < 0 else [*text[: limit - 1], text[limit - 1 :]]
        parts = [part for part in parts if part] if limit > 0 else parts
    else:
        parts = text.split(separator, limit - 1 if limit > 0 else -1)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _join(items: Any, separator: Any = "") -> Any:
    if not isinstance(items, list):
        raise TypeError(f"expected a list, got {type(items).__name__}")
    return _capped(_string(separator).join(_string(item) for item in items))


def _replace(text: Any, old: Any, new: Any, limit: Any = -1) -> Any:
    text, old, new, limit = _string(text), _string(old), _string(new), _int(limit)
    count = text.count(old) if old else len(text) + 1
    if limit >= 0:
        count = min(count, limit)
    if len(text) + count * (len(new) - len(old)) > MAX_STRING:
        return CELEvalError(f"string longer than {MAX_STRING} characters")
    return celtypes.StringType(text.replace(old, new, limit))


def _index_of(text: Any, sub: Any, start: Any = 0) -> Any:
    text, sub, start = _string(text), _string(sub), _int(start)
    if not 0 <= start <= len(text):
        return CELEvalError(f"index {start} out of range for length {len(text)}")
    return celtypes.IntType(text.find(sub, start))


def _last_index_of(text: Any, sub: Any, end: Any = None) -> Any:
    text, sub = _string(text), _string(sub)
    stop = len(text) if end is None else _int(end)
    if not 0 <= stop <= len(text):
        return CELEvalError(f"index {stop} out of range for length {len(text)}")
    return celtypes.IntType(text.rfind(sub, 0, stop + len(sub)))


def _substring(text: Any, start: Any, end: Any = None) -> Any:
    """Errors are returned, not raised: celpy turns only some exception types into CEL
    errors, and a returned CELEvalError keeps its message."""
    text, begin = _string(text), _int(start)
    stop = len(text) if end is None else _int(end)
    if not 0 <= begin <= stop <= len(text):
        return CELEvalError(f"substring({begin}, {stop}) out of range for length {len(text)}")
    return celtypes.StringType(text[begin:stop])


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": _lower_ascii,
    "upperAscii": _upper_ascii,
    "trim": _trim,
    "split": _split,
    "join": _join,
    "replace": _replace,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "substring": _substring,
}


@functools.lru_cache(maxsize=1)
def _environment() -> celpy.Environment:
    """The one CEL environment. celpy's constructor sets the recursion limit to 2500; a
    higher limit someone else chose is kept."""
    limit = sys.getrecursionlimit()
    environment = celpy.Environment()
    if limit > sys.getrecursionlimit():
        sys.setrecursionlimit(limit)
    return environment


def compile_expression(text: str) -> _Program:
    """Compile CEL `text`; CELParseError (with .line and .column) when it does not parse."""
    environment = _environment()
    ast = environment.compile(text)
    if _depth(ast) > MAX_DEPTH:
        raise ValueError("the expression is nested too deeply")
    runner = environment.program(ast, functions=FUNCTIONS)
    return _Program(ast, runner.new_activation())


def _depth(ast: lark.Tree[Any]) -> int:
    deepest = 0
    stack = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, lark.Tree))
    return deepest


def cel_object(obj: K8sObject) -> Any:
    """The object's data as CEL values, converted once per object for all custom checks."""
    value = obj.cache.get(_CACHE_KEY)
    if value is None:
        value = obj.cache[_CACHE_KEY] = json_to_cel(obj.data)
    return value


def _reason(exc: BaseException) -> str:
    """A short one-line reason for an evaluation error (celpy's messages can embed the repr
    of the whole activation)."""
    if isinstance(exc, CELEvalError | _OutOfSteps) and exc.args:
        text = str(exc.args[0])
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = text.split(" (in activation", 1)[0]
    text = _TOKEN.sub(r"\1", _CEL_TYPE.sub(lambda m: m.group(1).lower(), text))
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"


def _type_name(value: Any) -> str:
    """CEL's name for the type of `value` ("bool", "string", "map" ...)."""
    if value is None or isinstance(value, celtypes.NullType):
        return "null"
    name = type(value).__name__
    return name[:-4].lower() if name.endswith("Type") else name


def _render(value: Any) -> str:
    if isinstance(value, bool | celtypes.BoolType):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = str(value)
    elif value is None or isinstance(value, celtypes.NullType):
        text = "null"
    elif isinstance(value, int):
        text = str(int(value))
    elif isinstance(value, float):
        text = repr(float(value))
    else:
        try:
            text = json.dumps(value, cls=CELJSONEncoder, separators=(",", ":"))
        except (TypeError, ValueError):
            text = str(value)
    return text if len(text) <= MAX_RENDERED else text[: MAX_RENDERED - 1] + "…"


class CelCheck:
    """A compiled custom check; satisfies scan.CustomCheck."""

    __slots__ = ("_message", "_program", "expression", "failure_policy", "kinds", "meta")

    def __init__(
        self,
        spec: CustomCheckSpec,
        program: _Program,
        message: Sequence[str | _Program],
    ) -> None:
        self.meta = CheckMeta(
            id=spec.id,
            target="kubernetes",
            title=spec.title,
            severity=spec.severity,
            remediation=spec.remediation,
            tags=tuple(dict.fromkeys((*spec.tags, CUSTOM_TAG))),
        )
        self.kinds: frozenset[str] | None = None if spec.kinds is None else frozenset(spec.kinds)
        self.expression = spec.expression
        self.failure_policy = spec.failure_policy
        self._program = program
        self._message = tuple(message)

    def evaluate(self, obj: K8sObject) -> Iterator[Violation]:
        """One violation when the expression is false on `obj` (or fails, with `Fail`)."""
        try:
            value = cel_object(obj)
            result = self._program.run(value)
        except Exception as exc:  # CELEvalError, _OutOfSteps, RecursionError, celpy's own bugs
            yield from self._failed(obj, _reason(exc))
            return
        if not isinstance(result, bool | celtypes.BoolType):
            yield from self._failed(obj, f"the expression gave a {_type_name(result)}, not a bool")
            return
        if not result:
            yield Violation(self._text(value), line=obj.line)

    def _failed(self, obj: K8sObject, reason: str) -> Iterator[Violation]:
        if self.failure_policy == "Fail":
            yield Violation(f"expression could not be evaluated: {reason}", line=obj.line)

    def _text(self, value: Any) -> str:
        """The finding's message, on one line."""
        if not self._message:
            return f"failed expression: {' '.join(self.expression.split())}"
        parts: list[str] = []
        for part in self._message:
            if isinstance(part, str):
                parts.append(part)
                continue
            try:
                parts.append(_render(part.run(value)))
            except Exception:  # a placeholder that cannot be evaluated shows as such
                parts.append(NO_VALUE)
        return " ".join("".join(parts).split())


def _compile(source: str, spec: CustomCheckSpec, text: str, line: int, what: str) -> _Program:
    """Compile one expression of `spec`; errors name the file and the line of `text` (`line`
    is its first line; a `|` block keeps CEL's own line numbers in the file)."""
    where = f"{source}:{line}"
    try:
        return compile_expression(text)
    except CELParseError as exc:
        cel_line = exc.line or 1
        at = ""
        if spec.literal and what == "expression":
            where = f"{source}:{line + cel_line - 1}"
            at = f" at its line {cel_line}" if cel_line > 1 else ""
        elif cel_line > 1:
            at = f" at its line {cel_line}"
        if exc.column:
            at = f"{at}, column {exc.column}" if at else f" at column {exc.column}"
        raise CheckSettingsError(
            f"{where}: checks.custom {spec.id}: {what} does not compile{at}: {_unexpected(exc)}"
        ) from None
    except ValueError as exc:
        raise CheckSettingsError(f"{where}: checks.custom {spec.id}: {what}: {exc}") from None
    except (lark.exceptions.LarkError, RecursionError) as exc:
        raise CheckSettingsError(
            f"{where}: checks.custom {spec.id}: {what} does not compile: {_reason(exc)}"
        ) from None


def _unexpected(exc: CELParseError) -> str:
    """lark's "unexpected token" in a few words, without its multi-line context dump."""
    cause = exc.__context__
    token = getattr(cause, "token", None)
    if token is not None:
        if getattr(token, "type", "") == "$END":
            return "unexpected end of expression"
        return f"unexpected {str(token)!r}"
    char = getattr(cause, "char", None)
    if char is not None:
        return f"unexpected character {char!r}"
    return "syntax error"


def load_custom_checks(settings: CheckSettings) -> list[CelCheck]:
    """Compile every `checks.custom` entry once; a mistake is a CheckSettingsError naming
    the file and line (ids taken by built-in checks or tags, expressions that do not
    compile)."""
    if not settings.custom:
        return []
    source = str(settings.source or "kubeward.yaml")
    builtin = load_metadata()
    tags = {tag for meta in builtin.values() for tag in meta.tags}
    checks: list[CelCheck] = []
    for spec in settings.custom:
        where = f"{source}:{spec.line}"
        if spec.id in builtin:
            raise CheckSettingsError(f"{where}: checks.custom: id {spec.id} is a built-in check")
        if spec.id in tags or spec.id == CUSTOM_TAG:
            raise CheckSettingsError(
                f"{where}: checks.custom: id {spec.id!r} is already a tag of built-in checks"
            )
        program = _compile(source, spec, spec.expression, spec.expression_line, "expression")
        checks.append(CelCheck(spec, program, _template(source, spec)))
    return checks


def _template(source: str, spec: CustomCheckSpec) -> list[str | _Program]:
    """The message as literal text and compiled `{{ expression }}` placeholders."""
    where = f"{source}:{spec.message_line}"
    matches = list(_PLACEHOLDER.finditer(spec.message))
    if len(matches) > MAX_PLACEHOLDERS:
        raise CheckSettingsError(
            f"{where}: checks.custom {spec.id}: message has more than {MAX_PLACEHOLDERS} "
            "{{ }} placeholders"
        )
    parts: list[str | _Program] = []
    position = 0
    for match in matches:
        parts.append(spec.message[position : match.start()])
        inner = match.group(1).strip()
        if not inner:
            raise CheckSettingsError(
                f"{where}: checks.custom {spec.id}: empty {{{{ }}}} in message"
            )
        parts.append(_compile(source, spec, inner, spec.message_line, f"message {{{{ {inner} }}}}"))
        position = match.end()
    parts.append(spec.message[position:])
    return [part for part in parts if part != ""]
