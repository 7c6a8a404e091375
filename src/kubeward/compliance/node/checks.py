"""kubeward's own CIS Kubernetes Benchmark checks: packaged data evaluated on a node root.

Each benchmark is a YAML file under kubeward/data/compliance/node/ (cis-1.9.yaml ...):
sections of controls, each with an id, text, `type` (automated | manual, the benchmark's own
assessment status), `scored` (default: automated), severity, remediation, an optional
`note` for the reader, and a structured `audit` (never a command):

    flag:         {component, name: --flag, config: key.in.config.file, op, value | values,
                   default, config_default}
    feature_gate: {component, name: GateName, value, default}
    file:         {path: <named path>, perm_max: "600", owner: "root:root",
                   recursive: bool, suffix: ".key", files_only: bool}
    all: [audit, ...]   any: [audit, ...]
    objects: k8s-cis    (judged on Kubernetes objects by other commands: WARN on a node)

`op` is eq, noteq (case-insensitive), present, absent, has, nothas (an item of a comma list),
gte, lte (numbers), subset (every item in `values`) or loopback (a 127.0.0.0/8, ::1 or
localhost address). A file whose `extends` names another benchmark lists only `changes`,
merged over the base by control id.

Verdicts: automated controls are PASS or FAIL when their audit can be judged, UNKNOWN with
the reason when it cannot (component not running, file absent, config file unreadable);
manual controls are always WARN, with kubeward's reading in the reason when they have an
audit; `objects` controls are WARN with a pointer to the commands that judge them.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import yaml

from kubeward.compliance.node.components import (
    COMPONENTS,
    PATH_NAMES,
    NodeFacts,
    Setting,
    SettingUnreadable,
    detect,
)
from kubeward.compliance.node.result import BenchReport, ControlResult, Status
from kubeward.compliance.node.root import FileStat, NodeRoot
from kubeward.errors import KubewardError

_FOLDER = "data/compliance/node"
TARGETS = ("master", "etcd", "controlplane", "node", "policies")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
OPS = ("eq", "noteq", "present", "absent", "has", "nothas", "gte", "lte", "subset", "loopback")
_VALUE_OPS = frozenset({"eq", "noteq", "has", "nothas", "gte", "lte"})
_MAX_WALK = 10_000  # entries examined under one directory (the PKI tree has ~20)
_MAX_DEPTH = 8
OBJECTS_POINTER = (
    "judged on Kubernetes objects, not on a node: `kubeward k8s --compliance k8s-cis` "
    "(cluster) or `kubeward config --compliance k8s-cis` (manifests)"
)
PROGRAMS = {
    "apiserver": "kube-apiserver",
    "controllermanager": "kube-controller-manager",
    "scheduler": "kube-scheduler",
    "etcd": "etcd",
    "kubelet": "kubelet",
    "proxy": "kube-proxy",
}


class NodeBenchmarkError(KubewardError):
    """A benchmark name that does not exist, or packaged data that cannot be used."""


# -- audits ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlagAudit:
    component: str
    name: str
    op: str
    value: str | None = None
    values: tuple[str, ...] = ()
    config: str | None = None
    default: str | None = None
    config_default: str | None = None


@dataclass(frozen=True, slots=True)
class GateAudit:
    component: str
    name: str
    value: str
    default: str | None = None


@dataclass(frozen=True, slots=True)
class FileAudit:
    path: str  # a named path (components.PATH_NAMES)
    perm_max: int | None = None
    owner: str | None = None
    recursive: bool = False
    suffix: str | None = None
    files_only: bool = False


@dataclass(frozen=True, slots=True)
class AllAudit:
    items: tuple[Audit, ...]


@dataclass(frozen=True, slots=True)
class AnyAudit:
    items: tuple[Audit, ...]


@dataclass(frozen=True, slots=True)
class ObjectsAudit:
    spec: str  # the compliance spec that judges the control on objects


Audit = FlagAudit | GateAudit | FileAudit | AllAudit | AnyAudit | ObjectsAudit


@dataclass(frozen=True, slots=True)
class Check:
    """One packaged control."""

    id: str
    text: str
    section_id: str
    section_text: str
    target: str
    automated: bool
    scored: bool
    severity: str
    remediation: str
    audit: Audit | None
    note: str = ""

    @property
    def judged(self) -> bool:
        """True when this control gets PASS/FAIL/UNKNOWN on a node (not WARN)."""
        return (
            self.automated and self.audit is not None and not isinstance(self.audit, ObjectsAudit)
        )


@dataclass(frozen=True, slots=True)
class Benchmark:
    id: str
    title: str
    version: str
    kubernetes: tuple[str, str]  # the Kubernetes minor versions it is written for
    checks: tuple[Check, ...]


# -- loading --------------------------------------------------------------------------------


def available_benchmarks() -> tuple[str, ...]:
    """Packaged benchmark names, oldest first ("cis-1.9", "cis-1.10")."""
    folder = resources.files("kubeward").joinpath(_FOLDER)
    names = [p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")]
    return tuple(sorted(names, key=_version_key))


def _version_key(name: str) -> tuple[int, ...]:
    digits = name.rsplit("-", 1)[-1].split(".")
    return tuple(int(d) if d.isdigit() else 0 for d in digits)


def _raw(name: str) -> dict[str, Any]:
    if name not in available_benchmarks():
        choices = ", ".join(available_benchmarks())
        raise NodeBenchmarkError(f"unknown benchmark {name!r} (choose from {choices})")
    text = resources.files("kubeward").joinpath(_FOLDER, f"{name}.yaml").read_text("utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    if not isinstance(data, dict):
        raise NodeBenchmarkError(f"{name}: not a mapping")
    return data


@functools.lru_cache(maxsize=8)
def load_benchmark(name: str) -> Benchmark:
    """The packaged benchmark `name`, validated; an unknown name lists the valid ones."""
    data = _raw(name)
    changes: dict[str, dict[str, Any]] = {}
    if "extends" in data:
        base = _raw(str(data["extends"]))
        for change in data.get("changes") or []:
            changes[str(change["id"])] = change
        sections = base["sections"]
    else:
        sections = data.get("sections")
    if not isinstance(sections, list):
        raise NodeBenchmarkError(f"{name}: no sections")
    checks: list[Check] = []
    for section in sections:
        for raw in section["controls"]:
            entry = {**raw, **changes.pop(str(raw["id"]), {})}
            checks.append(_check(name, section, entry))
    if changes:
        raise NodeBenchmarkError(f"{name}: changes to unknown controls {sorted(changes)}")
    ids = [c.id for c in checks]
    if len(set(ids)) != len(ids):
        raise NodeBenchmarkError(f"{name}: duplicate control ids")
    low, high = (str(v) for v in data["kubernetes"])
    return Benchmark(
        str(data["id"]), str(data["title"]), str(data["version"]), (low, high), tuple(checks)
    )


_CONTROL_KEYS = frozenset(
    {"id", "text", "type", "scored", "severity", "remediation", "audit", "note"}
)


def _check(name: str, section: Mapping[str, Any], entry: Mapping[str, Any]) -> Check:
    where = f"{name} {entry.get('id')}"
    unknown = set(entry) - _CONTROL_KEYS
    if unknown:
        raise NodeBenchmarkError(f"{where}: unknown keys {sorted(unknown)}")
    kind = entry.get("type")
    if kind not in ("automated", "manual"):
        raise NodeBenchmarkError(f"{where}: type must be automated or manual")
    severity = entry.get("severity")
    if severity not in SEVERITIES:
        raise NodeBenchmarkError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    target = section.get("target")
    if target not in TARGETS:
        raise NodeBenchmarkError(f"{where}: target must be one of {', '.join(TARGETS)}")
    audit = _audit(where, entry["audit"]) if "audit" in entry else None
    check = Check(
        id=str(entry["id"]),
        text=str(entry["text"]),
        section_id=str(section["id"]),
        section_text=str(section["text"]),
        target=str(target),
        automated=kind == "automated",
        scored=bool(entry.get("scored", kind == "automated")),
        severity=str(severity),
        remediation=str(entry.get("remediation", "")),
        audit=audit,
        note=str(entry.get("note", "")),
    )
    if check.automated and audit is None:
        raise NodeBenchmarkError(f"{where}: an automated control needs an audit")
    return check


def _audit(where: str, raw: Any) -> Audit:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise NodeBenchmarkError(f"{where}: an audit is a mapping with one key")
    ((kind, body),) = raw.items()
    if kind in ("all", "any"):
        if not isinstance(body, list) or not body:
            raise NodeBenchmarkError(f"{where}: {kind} needs a list of audits")
        items = tuple(_audit(where, item) for item in body)
        return AllAudit(items) if kind == "all" else AnyAudit(items)
    if kind == "objects":
        return ObjectsAudit(str(body))
    if not isinstance(body, dict):
        raise NodeBenchmarkError(f"{where}: {kind} needs a mapping")
    try:
        if kind == "flag":
            audit = FlagAudit(
                component=body["component"],
                name=body["name"],
                op=body["op"],
                value=_opt(body.get("value")),
                values=tuple(str(v) for v in body.get("values", ())),
                config=body.get("config"),
                default=_opt(body.get("default")),
                config_default=_opt(body.get("config_default")),
            )
            if audit.component not in COMPONENTS or audit.op not in OPS:
                raise NodeBenchmarkError(f"{where}: unknown component or op")
            if audit.op in _VALUE_OPS and audit.value is None:
                raise NodeBenchmarkError(f"{where}: op {audit.op} needs a value")
            if audit.op == "subset" and not audit.values:
                raise NodeBenchmarkError(f"{where}: op subset needs values")
            return audit
        if kind == "feature_gate":
            gate = GateAudit(
                body["component"], body["name"], str(body["value"]), _opt(body.get("default"))
            )
            if gate.component not in COMPONENTS:
                raise NodeBenchmarkError(f"{where}: unknown component {gate.component}")
            return gate
        if kind == "file":
            perm = body.get("perm_max")
            audit_file = FileAudit(
                path=body["path"],
                perm_max=int(str(perm), 8) if perm is not None else None,
                owner=body.get("owner"),
                recursive=bool(body.get("recursive", False)),
                suffix=body.get("suffix"),
                files_only=bool(body.get("files_only", False)),
            )
            if audit_file.path not in PATH_NAMES:
                raise NodeBenchmarkError(f"{where}: unknown path name {audit_file.path}")
            return audit_file
    except (KeyError, ValueError, TypeError) as exc:
        raise NodeBenchmarkError(f"{where}: malformed {kind} audit ({exc})") from None
    raise NodeBenchmarkError(f"{where}: unknown audit kind {kind!r}")


def _opt(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- describing -----------------------------------------------------------------------------


def describe(audit: Audit | None) -> str:
    """What an audit reads and how it judges, in one line (for reports and the docs)."""
    if audit is None:
        return "nothing is read: a person judges it"
    if isinstance(audit, AllAudit | AnyAudit):
        word = " and " if isinstance(audit, AllAudit) else " or "
        return word.join(describe(item) for item in audit.items)
    if isinstance(audit, ObjectsAudit):
        return f"Kubernetes objects ({audit.spec} compliance spec)"
    if isinstance(audit, GateAudit):
        default = f", default {audit.default}" if audit.default is not None else ""
        return f"{PROGRAMS[audit.component]} feature gate {audit.name} is {audit.value}{default}"
    if isinstance(audit, FileAudit):
        parts = []
        if audit.perm_max is not None:
            parts.append(f"mode {format(audit.perm_max, 'o')} or stricter")
        if audit.owner:
            parts.append(f"owner {audit.owner}")
        scope = " (and everything under it" if audit.recursive else ""
        if audit.recursive and audit.suffix:
            scope = f" (every *{audit.suffix} file under it"
        elif audit.recursive and audit.files_only:
            scope = " (every file under it"
        scope += ")" if scope else ""
        return f"{audit.path}{scope}: {' and '.join(parts)}"
    where = f"{PROGRAMS[audit.component]} {audit.name}"
    if audit.config:
        where += f" (config file: {audit.config})"
    rule = {
        "eq": f"is {audit.value}",
        "noteq": f"is not {audit.value}",
        "present": "is set",
        "absent": "is not set",
        "has": f"includes {audit.value}",
        "nothas": f"does not include {audit.value}",
        "gte": f">= {audit.value}",
        "lte": f"<= {audit.value}",
        "subset": f"lists only: {', '.join(audit.values)}",
        "loopback": "is a loopback address",
    }[audit.op]
    defaults = ""
    if audit.default is not None:
        defaults = f"; default {audit.default}"
    if audit.config_default is not None:
        defaults += f", {audit.config_default} with a config file"
    return f"{where} {rule}{defaults}"


# -- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status  # PASS, FAIL or UNKNOWN
    reason: str
    evidence: tuple[tuple[str, str], ...] = ()


def evaluate(audit: Audit, facts: NodeFacts) -> Outcome:
    """Judge one audit on the node."""
    if isinstance(audit, AllAudit | AnyAudit):
        outcomes = [evaluate(item, facts) for item in audit.items]
        evidence = tuple(e for o in outcomes for e in o.evidence)
        decisive = Status.FAIL if isinstance(audit, AllAudit) else Status.PASS
        for wanted in (decisive, Status.UNKNOWN):
            picked = dict.fromkeys(o.reason for o in outcomes if o.status is wanted)
            if picked:
                return Outcome(wanted, "; ".join(picked), evidence)
        other = Status.PASS if decisive is Status.FAIL else Status.FAIL
        return Outcome(other, "; ".join(dict.fromkeys(o.reason for o in outcomes)), evidence)
    if isinstance(audit, FlagAudit):
        return _flag(audit, facts)
    if isinstance(audit, GateAudit):
        return _gate(audit, facts)
    if isinstance(audit, FileAudit):
        return _file(audit, facts)
    return Outcome(Status.UNKNOWN, OBJECTS_POINTER)


def _absent(component: str) -> Outcome:
    return Outcome(Status.UNKNOWN, f"{PROGRAMS[component]} not found on this node")


def _flag(audit: FlagAudit, facts: NodeFacts) -> Outcome:
    found = facts.components.get(audit.component)
    if found is None:
        return _absent(audit.component)
    label = audit.name
    try:
        setting = found.setting(audit.name, audit.config)
    except SettingUnreadable as exc:
        return Outcome(Status.UNKNOWN, f"{label} cannot be read: {exc}")
    explicit = setting.value is not None
    if not explicit:
        default = audit.default
        if found.config is not None and audit.config_default is not None:
            default = audit.config_default
        if default is not None:
            setting = Setting(default, "default")
    value = setting.value
    shown = "not set" if value is None else f"{value} ({setting.origin})"
    evidence = ((label, shown),)

    def verdict(ok: bool, expectation: str) -> Outcome:
        state = "not set" if value is None else f"{value!r} ({setting.origin})"
        if ok:
            return Outcome(Status.PASS, f"{label} is {state}", evidence)
        return Outcome(Status.FAIL, f"{label} is {state}, {expectation}", evidence)

    op, want = audit.op, audit.value or ""
    expect = {
        "eq": f"expected {want}",
        "noteq": f"expected anything but {want}",
        "present": "expected it to be set",
        "absent": "expected it not to be set",
        "has": f"expected it to include {want}",
        "nothas": f"expected it not to include {want}",
        "gte": f"expected >= {want}",
        "lte": f"expected <= {want}",
        "subset": "expected only strong cipher suites",
        "loopback": "expected a loopback address (127.0.0.1)",
    }[op]
    if op == "absent":
        return verdict(not explicit, expect)
    if op == "present":
        return verdict(bool(value), expect)
    if value is None:  # unset and no documented default: only a negative rule holds
        return verdict(op in ("noteq", "nothas"), expect)
    items = [item.strip() for item in value.split(",") if item.strip()]
    if op == "eq":
        return verdict(value.lower() == want.lower(), expect)
    if op == "noteq":
        return verdict(value.lower() != want.lower(), expect)
    if op == "has":
        return verdict(want in items, expect)
    if op == "nothas":
        return verdict(want not in items, expect)
    if op in ("gte", "lte"):
        try:
            number, limit = float(value), float(want)
        except ValueError:
            return Outcome(Status.UNKNOWN, f"{label} is {value!r}: not a number", evidence)
        return verdict(number >= limit if op == "gte" else number <= limit, expect)
    if op == "subset":
        weak = [item for item in items if item not in audit.values]
        return verdict(not weak, f"{', '.join(weak)} not in the strong list")
    return verdict(_is_loopback(value), expect)


def _is_loopback(address: str) -> bool:
    host = address.strip()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _gate(audit: GateAudit, facts: NodeFacts) -> Outcome:
    found = facts.components.get(audit.component)
    if found is None:
        return _absent(audit.component)
    label = f"feature gate {audit.name}"
    try:
        setting = found.feature_gate(audit.name)
    except SettingUnreadable as exc:
        return Outcome(Status.UNKNOWN, f"{label} cannot be read: {exc}")
    if setting.value is None and audit.default is not None:
        setting = Setting(audit.default, "default")
    if setting.value is None:
        return Outcome(Status.FAIL, f"{label} is not set, expected {audit.value}")
    evidence = ((label, f"{setting.value} ({setting.origin})"),)
    state = f"{setting.value} ({setting.origin})"
    if setting.value.lower() == audit.value.lower():
        return Outcome(Status.PASS, f"{label} is {state}", evidence)
    return Outcome(Status.FAIL, f"{label} is {state}, expected {audit.value}", evidence)


def _walk(root: NodeRoot, path: str, audit: FileAudit) -> Iterator[FileStat]:
    """The stats an audit judges: the path itself, and with `recursive` what is under it
    (bounded in depth and count so a hostile tree cannot stall the run)."""
    top = root.stat(path)
    if top is None:
        return
    if not audit.recursive or not top.is_dir:
        yield top
        return
    if audit.suffix is None and not audit.files_only:
        yield top
    queue: list[tuple[str, int]] = [(path, 0)]
    seen = 0
    while queue:
        directory, depth = queue.pop(0)
        for name in root.list_dir(directory):
            seen += 1
            if seen > _MAX_WALK:
                return
            child = f"{directory.rstrip('/')}/{name}"
            st = root.stat(child)
            if st is None:
                continue
            if st.is_dir:
                if depth + 1 < _MAX_DEPTH:
                    queue.append((child, depth + 1))
                if audit.suffix is None and not audit.files_only:
                    yield st
            elif audit.suffix is None or name.endswith(audit.suffix):
                yield st


def _file(audit: FileAudit, facts: NodeFacts) -> Outcome:
    paths = facts.path(audit.path)
    if not paths:
        return Outcome(Status.UNKNOWN, f"no {audit.path} file is configured on this node")
    stats = [st for path in paths for st in _walk(facts.root, path, audit)]
    if not stats:
        if len(paths) == 1 and facts.root.exists(paths[0]):
            return Outcome(Status.UNKNOWN, f"{paths[0]}: no matching file under it")
        return Outcome(Status.UNKNOWN, f"{' '.join(paths)}: absent")
    evidence: list[tuple[str, str]] = []
    bad: list[str] = []
    for st in stats:
        if audit.perm_max is not None:
            evidence.append((f"{st.path} mode", st.permissions))
            if st.mode & ~audit.perm_max & 0o7777:
                bad.append(f"{st.path} has mode {st.permissions}")
        if audit.owner is not None:
            owner = f"{st.owner}:{st.group}"
            evidence.append((f"{st.path} owner", owner))
            if owner != audit.owner:
                bad.append(f"{st.path} is owned by {owner}")
    shown = evidence[:20]
    if bad:
        wanted = []
        if audit.perm_max is not None:
            wanted.append(f"{format(audit.perm_max, 'o')} or stricter")
        if audit.owner is not None:
            wanted.append(audit.owner)
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        reason = f"{'; '.join(bad[:3])}{more}, expected {' and '.join(wanted)}"
        return Outcome(Status.FAIL, reason, tuple(shown))
    if len(stats) == 1:
        detail = ", ".join(f"{what.rsplit(' ', 1)[-1]} {value}" for what, value in evidence)
        return Outcome(Status.PASS, f"{stats[0].path}: {detail}", tuple(shown))
    return Outcome(Status.PASS, f"{len(stats)} files under {paths[0]} comply", tuple(shown))


def judge(check: Check, facts: NodeFacts) -> ControlResult:
    """The result of one control on the node."""
    outcome: Outcome | None = None
    if check.audit is not None and not isinstance(check.audit, ObjectsAudit):
        outcome = evaluate(check.audit, facts)
    if isinstance(check.audit, ObjectsAudit):
        status, reason = Status.WARN, OBJECTS_POINTER
        if check.note:
            reason = f"{check.note} {reason}"
    elif not check.automated:
        status = Status.WARN
        reason = "manual: " + (check.note or "a person must judge this control")
        if outcome is not None:
            reason += f" (kubeward read: {outcome.status.value}: {outcome.reason})"
    else:
        assert outcome is not None
        status, reason = outcome.status, outcome.reason
    return ControlResult(
        id=check.id,
        text=check.text,
        status=status,
        section_id=check.section_id,
        section_text=check.section_text,
        reason=reason,
        remediation=check.remediation,
        scored=check.scored,
        severity=check.severity,
        audit=describe(check.audit),
        evidence=outcome.evidence if outcome is not None else (),
    )


# -- choosing what to run -------------------------------------------------------------------


def choose_benchmark(facts: NodeFacts) -> tuple[str, str]:
    """(benchmark, why): the newest packaged benchmark written for the Kubernetes version a
    control plane manifest shows, else the newest one."""
    names = available_benchmarks()
    newest = names[-1]
    version = facts.version()
    if version is None:
        return newest, "no Kubernetes version found on the node: newest benchmark"
    shown = f"{version[0]}.{version[1]}"
    fitting = [
        name
        for name in names
        if _version_key(load_benchmark(name).kubernetes[0])
        <= version
        <= _version_key(load_benchmark(name).kubernetes[1])
    ]
    if fitting:
        return fitting[-1], f"Kubernetes {shown} found on the node"
    oldest = names[0]
    if version < _version_key(load_benchmark(oldest).kubernetes[0]):
        return oldest, f"Kubernetes {shown} is older than every packaged benchmark: oldest"
    return newest, f"Kubernetes {shown} is newer than every packaged benchmark: newest"


def detected_targets(facts: NodeFacts) -> tuple[str, ...]:
    """The targets that apply to what runs on the node (all of them when nothing does)."""
    present = set(facts.components)
    chosen: list[str] = []
    if present & {"apiserver", "controllermanager", "scheduler"}:
        chosen.append("master")
    if "etcd" in present:
        chosen.append("etcd")
    if "apiserver" in present:
        chosen += ["controlplane", "policies"]
    if present & {"kubelet", "proxy"}:
        chosen.append("node")
    ordered = tuple(t for t in TARGETS if t in chosen)
    return ordered or TARGETS


def run_checks(
    root: NodeRoot,
    benchmark: str | None = None,
    targets: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Run a packaged benchmark on the node under `root`: `benchmark` None chooses one from
    the node's Kubernetes version, `targets` None the targets of the components found."""
    facts = detect(root)
    warnings = list(facts.warnings)
    if benchmark is None:
        benchmark, why = choose_benchmark(facts)
        if progress is not None:
            progress(f"benchmark {benchmark}: {why}")
    spec = load_benchmark(benchmark)
    if targets is None:
        targets = detected_targets(facts)
        if not facts.components:
            warnings.append(
                "no Kubernetes component found under the root: every target is run and "
                "checks that need a component are UNKNOWN"
            )
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise NodeBenchmarkError(
            f"unknown target {unknown[0]!r} (choose from {', '.join(TARGETS)})"
        )
    wanted = set(targets)
    results = [judge(check, facts) for check in spec.checks if check.target in wanted]
    return BenchReport(
        benchmark=spec.id,
        title=spec.title,
        node_root=str(root.root),
        components={name: c.binary for name, c in facts.components.items()},
        results=results,
        warnings=warnings,
    )


def with_status(report: BenchReport, statuses: frozenset[Status]) -> BenchReport:
    """A copy of `report` holding only the results whose status is in `statuses`."""
    return replace(report, results=[r for r in report.results if r.status in statuses])
