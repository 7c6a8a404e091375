"""Run benchmark definitions written in kube-bench's YAML format (`--benchmark-dir DIR`).

The layout is kube-bench's `cfg/<benchmark>/`: one controls file per target (`master.yaml`,
`node.yaml`, `etcd.yaml`, `controlplane.yaml`, `policies.yaml` ...) and a `config.yaml`
merged over the `config.yaml` one level up. Semantics follow kube-bench (cmd/util.go,
check/check.go, check/test.go): the running binary and the existing config files of each
component are substituted into the text (`$apiserverbin`, `$kubeletconf` ...), checks of
type `manual` are WARN, test items look for a flag in the audit output, a JSONPath in the
`audit_config` output or an environment variable, combined with `bin_op`.

Two deliberate differences. Audits are never executed: `audit_shell` emulates them against
the node root, and an audit outside its subset is UNKNOWN ("audit not supported: kubectl").
And a check whose audit found nothing to look at (component not running, file absent) is
UNKNOWN, where kube-bench says FAIL. docs/kube-bench-definitions.md states the exact rules.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubeward.compliance.node.audit_shell import (
    AuditError,
    AuditRun,
    compile_safe,
    run_audit,
)
from kubeward.compliance.node.result import BenchReport, ControlResult, Status
from kubeward.compliance.node.root import NodeRoot
from kubeward.errors import KubewardError

TARGETS = ("master", "etcd", "controlplane", "node", "policies", "managedservices")
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_CHECKS_PER_FILE = 5_000
MAX_TEST_ITEMS = 100
MAX_EVIDENCE = 4_000
MAX_GO_ITEMS = 100_000  # values printed from one audit_config document
_PS_HEADERS = frozenset(
    {"UID          PID    PPID  C STIME TTY          TIME CMD", "    PID TTY          TIME CMD"}
)
# kube-bench's TypeMap, plus the data directories newer definitions use ($etcddatadir)
_FILE_KINDS = (
    ("conf", "confs", "defaultconf"),
    ("svc", "svc", "defaultsvc"),
    ("kubeconfig", "kubeconfig", "defaultkubeconfig"),
    ("cafile", "cafile", "defaultcafile"),
    ("datadir", "datadirs", "defaultdatadir"),
)
_TRUE = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"}
_FALSE = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"}


class KubebenchError(KubewardError):
    """The definitions cannot be used at all (no directory, no controls file, bad config)."""


class _Invalid(Exception):
    """One check's definition is malformed: the check is UNKNOWN, the rest still run."""


# -- loading --------------------------------------------------------------------------------

_Loader: type[Any] = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def _load_yaml(text: str, what: str) -> Any:
    """Every scalar as the string written (go-yaml decoding into string fields does the
    same: `id: 1.10` stays "1.10", `value: false` is "false")."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (BaseLoader builds only str/list/dict)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise KubebenchError(f"{what}: malformed YAML{where}") from None
    except RecursionError:
        raise KubebenchError(f"{what}: YAML nested too deeply") from None


def _read_text(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise KubebenchError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise KubebenchError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return data.decode("utf-8", "replace")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(directory: Path) -> dict[str, Any]:
    """`../config.yaml` (kube-bench's cfg/config.yaml) merged with `DIR/config.yaml`."""
    merged: dict[str, Any] = {}
    for path in (directory.parent / "config.yaml", directory / "config.yaml"):
        if not path.is_file():
            continue
        doc = _load_yaml(_read_text(path), str(path))
        if doc is None or doc == "":  # only comments: BaseLoader gives ""
            continue
        if not isinstance(doc, dict):
            raise KubebenchError(f"{path}: expected a mapping at the top")
        merged = _merge(merged, doc)
    return merged


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str) and value in _TRUE:
        return True
    if isinstance(value, str) and value in _FALSE:
        return False
    raise _Invalid(f"expected true or false, got {str(value)[:40]!r}")


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


# -- substitutions --------------------------------------------------------------------------


def _running(root: NodeRoot, candidate: str) -> bool:
    """kube-bench's verifyBin: a process whose 15-character name is the candidate's first
    word and whose command line starts with the candidate (after an optional path)."""
    candidate = candidate.strip("'\"")
    words = candidate.split()
    if not words:
        return False
    pattern = re.compile(r"^(\S*/)*" + re.escape(candidate))
    return any(
        proc.name[:15] == words[0] and pattern.match(proc.command_line) for proc in root.processes
    )


@dataclass(slots=True)
class _Substitutions:
    values: list[tuple[str, str]]  # ("$apiserverbin", "kube-apiserver"), longest first
    running: dict[str, str]  # component -> running binary


def _substitutions(section: Any, root: NodeRoot) -> _Substitutions:
    values: list[tuple[str, str]] = []
    running: dict[str, str] = {}
    if not isinstance(section, dict):
        return _Substitutions(values, running)
    for component in _str_list(section.get("components")):
        settings = section.get(component)
        if not isinstance(settings, dict):
            continue
        bins = _str_list(settings.get("bins"))
        if bins:
            found = next((b for b in bins if _running(root, b)), None)
            if found:
                running[component] = found
            # kube-bench substitutes the component name for a binary that is not running;
            # the audit then finds no process and the check is UNKNOWN
            values.append((f"${component}bin", found or component))
        for suffix, many, default in _FILE_KINDS:
            path = next((p for p in _str_list(settings.get(many)) if root.exists(p)), None)
            if path is None:
                fallback = settings.get(default)
                path = fallback if isinstance(fallback, str) else component
            values.append((f"${component}{suffix}", path))
    values.sort(key=lambda pair: -len(pair[0]))
    return _Substitutions(values, running)


def _substitute(text: str, subs: _Substitutions) -> tuple[str, list[str]]:
    """Replace every variable; returns the text and the binaries that were substituted
    (kube-bench derives the default audit_env from them when there is exactly one)."""
    used_bins: list[str] = []
    for name, value in subs.values:
        if name not in text:
            continue
        if name.endswith("bin"):
            used_bins.append(value)
        quoted = f"'{value}'" if len(value.split()) > 1 else value
        if len(text) + text.count(name) * len(quoted) > MAX_FILE_BYTES:
            raise KubebenchError(f"{name} substituted makes more than {MAX_FILE_BYTES} bytes")
        text = text.replace(name, quoted)
    return text, used_bins


# -- tests ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    flag: str
    env: str
    path: str
    set: bool
    op: str
    value: str


@dataclass(slots=True)
class _Outcome:
    passed: bool
    found: bool
    expected: str
    actual: str = ""


def _items(tests: Any) -> tuple[list[_Item], str]:
    if not isinstance(tests, dict):
        raise _Invalid("tests is not a mapping")
    raw_items = tests.get("test_items")
    if raw_items is None:
        raw_items = []
    if not isinstance(raw_items, list):
        raise _Invalid("test_items is not a list")
    if len(raw_items) > MAX_TEST_ITEMS:
        raise _Invalid(f"more than {MAX_TEST_ITEMS} test items")
    items: list[_Item] = []
    for raw in raw_items:
        if not isinstance(raw, dict):
            raise _Invalid("a test item is not a mapping")
        compare = raw.get("compare") or {}
        if not isinstance(compare, dict):
            raise _Invalid("compare is not a mapping")
        fields = {k: raw.get(k) or "" for k in ("flag", "env", "path")}
        fields |= {"op": compare.get("op") or "", "value": compare.get("value") or ""}
        for key, value in fields.items():
            if not isinstance(value, str):
                raise _Invalid(f"{key} is not a string")
        items.append(
            _Item(
                fields["flag"],
                fields["env"],
                fields["path"],
                _bool(raw.get("set"), True),
                fields["op"],
                fields["value"],
            )
        )
    bin_op = tests.get("bin_op") or ""
    if bin_op not in ("", "and", "or"):
        raise _Invalid(f"unknown bin_op {str(bin_op)[:20]!r}")
    return items, bin_op


def _go_atoi(text: str) -> int | None:
    """Go's strconv.Atoi: None for anything but a decimal that fits in 64 bits."""
    text = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,19}", text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def _split_elements(text: str) -> list[str]:
    clean = text.strip().rstrip(",")
    return [part.strip() for part in clean.split(",")] if clean else []


def compare(op: str, value: str, wanted: str, name: str) -> tuple[str, bool]:
    """kube-bench's compareOp: (expected-result text, verdict)."""
    lowered = value.lower()
    if op in ("eq", "noteq"):
        same = (lowered == wanted) if lowered in ("true", "false") else (value == wanted)
        if op == "eq":
            return f"'{name}' is equal to '{wanted}'", same
        return f"'{name}' is not equal to '{wanted}'", not same
    if op in ("gt", "gte", "lt", "lte"):
        left, right = _go_atoi(value), _go_atoi(wanted)
        if left is None or right is None:
            return f"Invalid Number(s) used for comparison: '{value}' '{wanted}'", False
        verdicts = {"gt": left > right, "gte": left >= right, "lt": left < right}
        verdicts["lte"] = left <= right
        words = {"gt": "greater than", "gte": "greater or equal to", "lt": "lower than"}
        words["lte"] = "lower or equal to"
        return f"'{name}' is {words[op]} {wanted}", verdicts[op]
    if op == "has":
        return f"'{name}' has '{wanted}'", wanted in value
    if op == "nothave":
        return f"'{name}' does not have '{wanted}'", wanted not in value
    if op == "regex":
        return (
            f"'{name}' matched by regex expression '{wanted}'",
            bool(compile_safe(wanted).search(value[:65536])),
        )
    if op == "valid_elements":
        have, allowed = _split_elements(value), _split_elements(wanted)
        if not have or not allowed:
            verdict = not have and not allowed
        else:
            verdict = all(element in allowed for element in have)
        return f"'{name}' contains valid elements from '{wanted}'", verdict
    if op == "bitmask":
        if not re.fullmatch(r"[+-]?[0-7]+", value):
            return f"Not numeric value - flag: {value}", False
        if not re.fullmatch(r"[+-]?[0-7]+", wanted):
            return f"Not numeric value - flag: {wanted}", False
        requested, allowed_bits = int(value, 8), int(wanted, 8)
        return (
            f"{name} has permissions {value}, expected {wanted} or more restrictive",
            (allowed_bits & requested) == requested,
        )
    raise _Invalid(f"unknown compare op {op[:20]!r}")


def _find_flag(item: _Item, text: str) -> tuple[bool, str]:
    if not text or not item.flag:
        return False, ""
    if item.flag not in text:
        return False, ""
    flag = re.escape(item.flag)
    match = re.search(f"({flag})(=|: *)*([^\\s]*) *", text)
    if match is None:  # pragma: no cover - the flag is in the text, so the pattern matches
        return False, ""
    if match.group(3):
        return True, match.group(3)
    if item.op:
        spaced = re.search(flag + r"\s+([^\s-][^\s]*)", text)
        if spaced:
            return True, spaced.group(1)
    return True, "true" if item.flag.startswith("--") else match.group(1)


def _find_env(item: _Item, text: str) -> tuple[bool, str]:
    if not text or not item.env:
        return False, ""
    match = re.search(re.escape(item.env) + "=.*(?:$|\n)", text)
    found = match.group() if match else ""
    value = found.replace("\n", "", 1).replace(f"{item.env}=", "", 1)
    return bool(value), value


def _parse_document(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)
    except (yaml.YAMLError, RecursionError):
        raise _PathError("failed to load YAML or JSON from the audit_config output") from None


class _PathError(Exception):
    pass


def _evaluate(item: _Item, row: str, source: str) -> _Outcome:
    name = {"config": item.path, "env": item.env}.get(source, item.flag)
    if source == "config":
        if not item.path:
            found, value = False, ""
        else:
            try:
                value = jsonpath(item.path, _parse_document(row))
            except _PathError as exc:
                return _Outcome(False, False, str(exc))
            found = value != ""
    elif source == "env":
        found, value = _find_env(item, row)
    else:
        found, value = _find_flag(item, row)
    if item.set:
        if found and item.op:
            expected, passed = compare(item.op, value, item.value, name)
        else:
            expected, passed = f"'{name}' is present", found
    else:
        expected, passed = f"'{name}' is not present", not found
    return _Outcome(passed, found, expected)


def _execute(item: _Item, output: str, source: str, multiple: bool) -> _Outcome:
    text = output.rstrip(" \n")
    rows = text.split("\n") if multiple else [text]
    outcome = _Outcome(False, False, "")
    for row in rows:
        outcome = _evaluate(item, row, source)
        if not outcome.passed:
            break
    outcome.actual = text
    return outcome


# -- JSONPath (the subset of Kubernetes' template syntax that definitions use) --------------

_PATH_STEP = re.compile(
    r"\.(?P<field>[A-Za-z0-9_\-/]+)|\[(?P<index>-?\d+)\]|\[(?P<slice>-?\d*:-?\d*)\]"
    r"|\[(?P<star>\*)\]|\['(?P<key>[^']*)'\]|\[\"(?P<dkey>[^\"]*)\"\]"
)


def _go_text(value: Any, budget: list[int] | None = None) -> str:
    """How Go's fmt prints a decoded JSON/YAML value (what kube-bench compares). `budget`
    bounds the items printed: YAML aliases can make a small file stand for billions."""
    if budget is None:
        budget = [MAX_GO_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise AuditError(f"audit_config value has more than {MAX_GO_ITEMS} items")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return "[" + " ".join(_go_text(v, budget) for v in value) + "]"
    if isinstance(value, dict):
        inner = " ".join(
            f"{k}:{_go_text(v, budget)}"
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        )
        return "map[" + inner + "]"
    return str(value)


def _steps(expr: str, data: Any, current: Any) -> list[Any]:
    expr = expr.strip()
    if expr in ("", "@"):
        return [current]
    values = [data]
    if expr.startswith("@"):
        values, expr = [current], expr[1:]
    elif expr.startswith("$"):
        expr = expr[1:]
    if expr and not expr.startswith((".", "[")):
        expr = "." + expr
    position = 0
    while position < len(expr):
        match = _PATH_STEP.match(expr, position)
        if not match:
            raise AuditError(f"path expression not supported: {expr[:60]}")
        position = match.end()
        key = match.group("field") or match.group("key") or match.group("dkey")
        nxt: list[Any] = []
        for value in values:
            if key is not None:
                if isinstance(value, dict) and key in value:
                    nxt.append(value[key])
            elif not isinstance(value, list):
                continue
            elif match.group("star") is not None:
                nxt.extend(value)
            elif match.group("index") is not None:
                index = int(match.group("index"))
                if -len(value) <= index < len(value):
                    nxt.append(value[index])
            else:
                start, _, stop = match.group("slice").partition(":")
                nxt.extend(value[int(start) if start else None : int(stop) if stop else None])
            if len(nxt) > MAX_GO_ITEMS:
                raise AuditError(f"audit_config path selects more than {MAX_GO_ITEMS} values")
        values = nxt
    return values


def jsonpath(template: str, data: Any) -> str:
    """Evaluate `{.a.b}`, `{.list[0]}`, `{range .x[:]}{}{','}{end}` like kubectl's JSONPath
    with missing keys allowed; anything else (filters, recursive descent) is refused."""
    if len(template) > 1000:
        raise AuditError("path expression longer than 1000 characters")
    pieces = re.split(r"(\{[^{}]*\})", template)
    out: list[str] = []
    budget = [MAX_GO_ITEMS]  # values printed and range iterations, for the whole template

    def run(start: int, current: Any, sink: list[str]) -> int:
        index = start
        while index < len(pieces):
            piece = pieces[index]
            index += 1
            if not (piece.startswith("{") and piece.endswith("}")):
                sink.append(piece)
                continue
            inner = piece[1:-1].strip()
            if inner == "end":
                return index
            if inner.startswith("range "):
                items = _steps(inner[6:], data, current)
                if len(items) == 1 and isinstance(items[0], list):
                    items = items[0]
                end = _skip_range(index)
                for element in items:
                    budget[0] -= 1
                    if budget[0] < 0:
                        raise AuditError(f"audit_config range runs more than {MAX_GO_ITEMS} times")
                    run(index, element, sink)
                index = end
                continue
            if len(inner) >= 2 and inner[0] == inner[-1] == "'":
                sink.append(inner[1:-1])
                continue
            if "?" in inner or ".." in inner:
                raise AuditError(f"path expression not supported: {inner[:60]}")
            sink.append(" ".join(_go_text(v, budget) for v in _steps(inner, data, current)))
        return index

    def _skip_range(index: int) -> int:
        depth = 1
        while index < len(pieces):
            inner = pieces[index][1:-1].strip() if pieces[index].startswith("{") else None
            index += 1
            if inner is not None and inner.startswith("range "):
                depth += 1
            elif inner == "end":
                depth -= 1
                if depth == 0:
                    return index
        raise AuditError("path expression not supported: range without end")

    try:
        run(0, data, out)
    except RecursionError:  # a YAML document that contains itself (`a: &a [*a]`)
        raise AuditError("audit_config value nests too deeply") from None
    return "".join(out)


# -- checks ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Context:
    root: NodeRoot
    used_bins: list[str]


def _text(mapping: dict[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def _meaningful(output: str) -> str:
    return "\n".join(line for line in output.split("\n") if line not in _PS_HEADERS).strip()


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_EVIDENCE else text[:MAX_EVIDENCE] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


def _run_check(check: dict[str, Any], group: dict[str, str], ctx: _Context) -> ControlResult:
    def result(
        status: Status, reason: str, evidence: tuple[tuple[str, str], ...] = ()
    ) -> ControlResult:
        return ControlResult(
            id=check_id,
            text=text,
            status=status,
            section_id=group["id"],
            section_text=group["text"],
            reason=_one_line(reason),
            remediation=remediation.strip(),
            scored=scored,
            audit=audit or audit_config,
            evidence=evidence,
        )

    check_id = str(check.get("id") or "")
    text, remediation, audit, audit_config, audit_env = (
        _text(check, key) for key in ("text", "remediation", "audit", "audit_config", "audit_env")
    )
    scored = False
    try:
        scored = _bool(check.get("scored"), False)
        kind = check.get("type") or ""
        if not isinstance(kind, str):
            raise _Invalid("type is not a string")
        tests = check.get("tests")
        if scored and not kind.strip() and tests is None:
            return result(Status.WARN, "There are no tests")
        if kind == "skip" or group.get("type") == "skip":
            return result(Status.UNKNOWN, "Test marked as skip (kube-bench reports INFO)")
        if kind == "manual":
            return result(Status.WARN, "Test marked as a manual test")
        items, bin_op = _items(tests) if tests is not None else ([], "")
        if not items:
            return result(Status.UNKNOWN, "No tests defined")
        multiple = _bool(check.get("use_multiple_values"), False)
    except _Invalid as exc:
        return result(Status.UNKNOWN, f"invalid check definition: {exc}")

    if not audit_env and any(item.env for item in items) and len(ctx.used_bins) == 1:
        audit_env = (
            f"cat \"/proc/$(/bin/ps -C {ctx.used_bins[0]} -o pid= | tr -d ' ')/environ\""
            " | tr '\\0' '\\n'"
        )
    runs: dict[str, AuditRun] = {}
    try:
        scripts = (("audit", audit), ("audit_config", audit_config), ("audit_env", audit_env))
        for name, script in scripts:
            if script.strip():
                runs[name] = run_audit(script.strip(), ctx.root)
    except AuditError as exc:
        return result(Status.UNKNOWN, exc.reason)

    empty = AuditRun("", 0)
    main, config, env = (runs.get(n, empty) for n in ("audit", "audit_config", "audit_env"))
    evidence = tuple(
        (f"{name} output", _truncate(run.output.rstrip("\n"))) for name, run in runs.items()
    )
    notes = [note for run in runs.values() for note in run.notes]
    if not _meaningful(main.output) and (
        main.status != 0 or not (_meaningful(config.output) or _meaningful(env.output))
    ):
        why = notes[0] if notes else "empty output"
        return result(Status.UNKNOWN, f"audit found nothing to judge ({why})", evidence)
    failure = Status.FAIL if scored else Status.WARN
    if main.status != 0 and _meaningful(main.output):
        return result(failure, f"audit exited with status {main.status}", evidence)

    try:
        outcomes: list[_Outcome] = []
        for item in items:
            outcome = _execute(item, main.output, "command", multiple)
            if not outcome.found and audit_config:
                outcome = _execute(item, config.output, "config", multiple)
                if not outcome.found and item.env:
                    outcome = _execute(item, env.output, "env", multiple)
            if not outcome.found and item.env:
                outcome = _execute(item, env.output, "env", multiple)
            outcomes.append(outcome)
    except (_Invalid, AuditError) as exc:
        reason = exc.reason if isinstance(exc, AuditError) else f"invalid check definition: {exc}"
        return result(Status.UNKNOWN, reason, evidence)
    joiner = " OR " if bin_op == "or" else " AND "
    verdicts = [o.passed for o in outcomes]
    passed = any(verdicts) if bin_op == "or" else all(verdicts)
    expected = joiner.join(o.expected for o in outcomes)
    return result(Status.PASS if passed else failure, f"expected {expected}", evidence)


# -- files ----------------------------------------------------------------------------------


def _controls_files(directory: Path, targets: Sequence[str] | None) -> list[tuple[str, Path]]:
    if targets is not None:
        chosen: list[tuple[str, Path]] = []
        for target in targets:
            if target not in TARGETS:
                raise KubebenchError(
                    f"unknown target {target!r} (expected one of {', '.join(TARGETS)})"
                )
            path = directory / f"{target}.yaml"
            if not path.is_file():
                raise KubebenchError(f"{directory}: no {target}.yaml for target {target!r}")
            chosen.append((target, path))
        return chosen
    found = [
        (path.stem, path)
        for path in sorted(directory.glob("*.yaml"))
        if path.name != "config.yaml" and path.is_file()
    ]
    if not found:
        raise KubebenchError(f"{directory}: no kube-bench controls files (*.yaml)")
    return found


def _controls_id(doc: dict[str, Any]) -> tuple[float, str]:
    raw = str(doc.get("id") or "")
    try:
        return float(raw), raw
    except ValueError:
        return math.inf, raw


def run_benchmark_dir(
    directory: Path, root: NodeRoot, targets: Sequence[str] | None = None
) -> BenchReport:
    """Run the kube-bench controls files in `directory` (one per target) on `root`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise KubebenchError(f"{directory}: not a directory")
    config = load_config(directory)
    files = _controls_files(directory, targets)
    report = BenchReport(
        benchmark=directory.name,
        title=f"kube-bench definitions {directory.name}",
        node_root=str(root.root),
    )
    loaded: list[tuple[tuple[float, str], list[ControlResult]]] = []
    for target, path in files:
        try:
            raw = _read_text(path)
            probe = _load_yaml(raw, str(path))
        except KubebenchError as exc:
            if targets is not None:
                raise
            report.warnings.append(f"{exc} (skipped)")
            continue
        if not isinstance(probe, dict):
            report.warnings.append(f"{path}: not a kube-bench controls file (skipped)")
            continue
        node_type = _text(probe, "type") or target
        if target in TARGETS and node_type != target:
            report.warnings.append(f"{path}: type {node_type!r} is not {target!r} (skipped)")
            continue
        subs = _substitutions(config.get(node_type), root)
        for component, binary in subs.running.items():
            report.components.setdefault(component, binary)
        try:
            text, used_bins = _substitute(raw, subs)
            doc = _load_yaml(text, str(path))
        except KubebenchError as exc:
            report.warnings.append(f"{exc} after substitutions (skipped)")
            continue
        results = _run_controls(doc, path, _Context(root, used_bins), report)
        if isinstance(doc, dict) and isinstance(doc.get("version"), str) and not loaded:
            report.title = f"kube-bench definitions {doc['version']}"
        loaded.append((_controls_id(doc if isinstance(doc, dict) else {}), results))
    if not loaded:
        raise KubebenchError(f"{directory}: no usable kube-bench controls file")
    for _, results in sorted(loaded, key=lambda pair: pair[0]):
        report.results.extend(results)
    return report


def _run_controls(doc: Any, path: Path, ctx: _Context, report: BenchReport) -> list[ControlResult]:
    groups = doc.get("groups") if isinstance(doc, dict) else None
    if not isinstance(groups, list):
        report.warnings.append(f"{path}: no groups list")
        return []
    results: list[ControlResult] = []
    budget = MAX_CHECKS_PER_FILE
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("checks") or [], list):
            report.warnings.append(f"{path}: a group is malformed (skipped)")
            continue
        info = {key: _text(group, key) for key in ("id", "text", "type")}
        for check in group.get("checks") or []:
            if not isinstance(check, dict) or not isinstance(check.get("id"), str):
                report.warnings.append(f"{path}: a check in group {info['id']} has no id (skipped)")
                continue
            budget -= 1
            if budget < 0:
                report.warnings.append(
                    f"{path}: more than {MAX_CHECKS_PER_FILE} checks (rest skipped)"
                )
                return results
            results.append(_run_check(check, info, ctx))
    return results
