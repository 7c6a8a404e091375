"""Checks as small registered functions, metadata as packaged data, one runner for all.

A check is `@check("KW-DF-001", "dockerfile")` on a function taking the parsed subject and
yielding `Violation`s. Its title, severity, description, remediation, references, tags and
framework mappings (CIS Docker Benchmark, hadolint, Dockle ...) live in
`kubeward/data/checks/*.yaml`, so docs and reports come from one place. A check that raises
becomes an error line for that check and that target; the other checks still run.

Metadata file schema (YAML), a list under `checks:`:

    - id: KW-DF-001
      target: dockerfile          # dockerfile | image
      title: Last USER is root or missing
      severity: HIGH              # CRITICAL | HIGH | MEDIUM | LOW
      description: why it matters (the rationale)
      remediation: what to do
      references: [https://...]
      tags: [cis, user]
      mappings: {cis-docker: "4.1", hadolint: DL3002, dockle: CIS-DI-0001}
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from kubeward.errors import KubewardError
from kubeward.model import Finding, Location, Severity

log = logging.getLogger(__name__)

# kubernetes: one manifest object at a time; kubernetes-set: all objects of a scan at once
# (checks that relate objects, such as namespaces without a NetworkPolicy)
# "cluster": checks of a live cluster as a whole (its version, anonymous access ...), run by
# `kubeward k8s` itself (kubeward.cluster.checks_cluster), never registered here.
TARGETS = ("dockerfile", "image", "kubernetes", "kubernetes-set", "cluster")
# modules that register checks, imported when checks of that target run
CHECK_MODULES: dict[str, tuple[str, ...]] = {
    "dockerfile": (
        "kubeward.misconfig.dockerfile.checks",
        "kubeward.misconfig.dockerfile.checks_run",
    ),
    "image": ("kubeward.misconfig.image.checks",),
    "kubernetes": (
        "kubeward.misconfig.kubernetes.checks_pss",
        "kubeward.misconfig.kubernetes.checks_practice",
        "kubeward.misconfig.kubernetes.checks_rbac",
        "kubeward.misconfig.kubernetes.checks_network",
    ),
}
CHECK_MODULES["kubernetes-set"] = CHECK_MODULES["kubernetes"]
CHECK_MODULES["cluster"] = ()
METADATA_ONLY_TARGETS = frozenset({"cluster"})  # documented and selectable, never registered


class CheckMetadataError(KubewardError):
    """The packaged or user check metadata is malformed."""


@dataclass(frozen=True, slots=True)
class CheckMeta:
    id: str
    target: str
    title: str
    severity: Severity
    description: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    mappings: tuple[tuple[str, str], ...] = ()  # sorted (framework, item)


@dataclass(frozen=True, slots=True)
class FieldFix:
    """A structured edit of the checked document that removes a violation, applied by
    `kubeward config --fix`: "set" `path` to `value`, "add" `value` to the list at `path`
    (created when missing), or "delete" the key at `path`."""

    path: tuple[str | int, ...]
    value: Any = None
    op: str = "set"


@dataclass(frozen=True, slots=True)
class Violation:
    """What a check found: a message with its evidence and where (line in the file, or a
    path inside an image, or a resource such as "image config"); `fixes` when the check
    knows the edit that removes it; `subject` the object it is about for set-level checks."""

    message: str
    line: int | None = None
    end_line: int | None = None
    path: str | None = None
    resource: str | None = None
    fixes: tuple[FieldFix, ...] = ()
    subject: Any = None


CheckFunction = Callable[[Any], Iterable[Violation]]


@dataclass
class _Registry:
    checks: dict[str, tuple[str, CheckFunction]] = field(default_factory=dict)


REGISTRY = _Registry()


def check(check_id: str, target: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register `function` as check `check_id` for `target` subjects."""
    if target not in TARGETS or target in METADATA_ONLY_TARGETS:
        raise ValueError(f"unknown check target {target!r}")

    def register(function: CheckFunction) -> CheckFunction:
        if check_id in REGISTRY.checks:
            raise ValueError(f"check {check_id} registered twice")
        REGISTRY.checks[check_id] = (target, function)
        return function

    return register


def _parse_meta(entry: object, where: str) -> CheckMeta:
    if not isinstance(entry, dict):
        raise CheckMetadataError(f"{where}: each check must be a mapping")
    try:
        check_id = str(entry["id"])
        target = str(entry["target"])
        title = str(entry["title"])
        severity = Severity.parse(str(entry["severity"]))
    except KeyError as exc:
        raise CheckMetadataError(f"{where}: check {entry.get('id', '?')}: missing {exc}") from None
    if target not in TARGETS:
        raise CheckMetadataError(f"{where}: check {check_id}: unknown target {target!r}")
    mappings = entry.get("mappings") or {}
    if not isinstance(mappings, dict):
        raise CheckMetadataError(f"{where}: check {check_id}: mappings must be a mapping")
    return CheckMeta(
        id=check_id,
        target=target,
        title=title,
        severity=severity,
        description=str(entry.get("description", "")).strip(),
        remediation=str(entry.get("remediation", "")).strip(),
        references=tuple(str(r) for r in entry.get("references") or ()),
        tags=tuple(str(t) for t in entry.get("tags") or ()),
        mappings=tuple(sorted((str(k), str(v)) for k, v in mappings.items())),
    )


@functools.lru_cache(maxsize=1)
def load_metadata() -> dict[str, CheckMeta]:
    """Every check's metadata from the packaged `kubeward/data/checks/*.yaml` files."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out: dict[str, CheckMeta] = {}
    folder = resources.files("kubeward").joinpath("data/checks")
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if not item.name.endswith(".yaml"):
            continue
        doc = yaml.load(item.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
        for entry in (doc or {}).get("checks") or ():
            meta = _parse_meta(entry, item.name)
            if meta.id in out:
                raise CheckMetadataError(f"{item.name}: check {meta.id} is defined twice")
            out[meta.id] = meta
    return out


def checks_for(target: str) -> list[tuple[CheckMeta, CheckFunction]]:
    """The registered checks of `target`, each with its metadata, in id order."""
    key = (target, len(REGISTRY.checks))
    cached = _CHECKS_FOR.get(key)
    if cached is not None:
        return cached
    for module in CHECK_MODULES[target]:
        importlib.import_module(module)
    metadata = load_metadata()
    out = []
    for check_id, (check_target, function) in sorted(REGISTRY.checks.items()):
        if check_target != target:
            continue
        meta = metadata.get(check_id)
        if meta is None:
            raise CheckMetadataError(f"check {check_id} has no metadata in kubeward/data/checks")
        out.append((meta, function))
    if len(_CHECKS_FOR) > 16:
        _CHECKS_FOR.clear()
    _CHECKS_FOR[(target, len(REGISTRY.checks))] = out
    return out


_CHECKS_FOR: dict[tuple[str, int], list[tuple[CheckMeta, CheckFunction]]] = {}


@dataclass(frozen=True)
class Selection:
    """Which checks run: ids or tags to enable only, ids or tags to disable (kubeward.yaml)."""

    enable: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()

    def wants(self, meta: CheckMeta) -> bool:
        names = {meta.id, *meta.tags}
        if self.disable & names:
            return False
        return not self.enable or bool(self.enable & names)


def misconfiguration(meta: CheckMeta, location: Location, message: str) -> Finding:
    """The finding of check `meta` at `location`: title, severity, fix, references and
    framework mappings come from the metadata, the message from what was found."""
    return Finding(
        kind="misconfiguration",
        rule_id=meta.id,
        title=meta.title,
        severity=meta.severity,
        location=location,
        message=message,
        remediation=meta.remediation,
        references=meta.references,
        evidence=meta.mappings,
    )


@dataclass
class CheckRun:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (finding, violation) pairs when run_checks(keep_violations=True): fixes and subjects
    violations: list[tuple[Finding, Violation]] = field(default_factory=list)


def run_checks(
    target: str,
    subject: object,
    *,
    path: str | None = None,
    layer: str | None = None,
    selection: Selection | None = None,
    suppressed: Callable[[str, int | None], bool] | None = None,
    resource: str | None = None,
    keep_violations: bool = False,
    run: CheckRun | None = None,
) -> CheckRun:
    """Run every selected check of `target` on `subject`; a check that raises is one error
    line ("KW-DF-001 failed on PATH: ...") and the rest still run."""
    selection = selection or Selection()
    run = run if run is not None else CheckRun()
    for meta, function in checks_for(target):
        if not selection.wants(meta):
            continue
        try:
            violations: Iterator[Violation] | Iterable[Violation] = list(function(subject))
        except Exception as exc:  # one broken check must not stop the others
            log.debug("check %s failed on %s", meta.id, path, exc_info=True)
            run.errors.append(f"{meta.id} failed on {path or target}: {type(exc).__name__}: {exc}")
            continue
        for v in violations:
            if suppressed is not None and suppressed(meta.id, v.line):
                continue
            where = Location(
                path=v.path or path,
                line=v.line,
                end_line=v.end_line,
                layer=layer,
                resource=v.resource or resource,
            )
            finding = misconfiguration(meta, where, v.message)
            run.findings.append(finding)
            if keep_violations:
                run.violations.append((finding, v))
    return run
