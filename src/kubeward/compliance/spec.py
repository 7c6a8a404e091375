"""Compliance specs as packaged data: which controls a framework has and which checks judge each.

A spec (`kubeward/data/compliance/NAME.yaml`) lists controls; a control names the checks
whose findings show it is violated, or is `manual` with the reason manifests cannot show it.
Keeping specs as data lets a framework's wording and mapping be reviewed without reading
code, and one evaluator serves every framework.

Spec file schema (YAML):

    id: k8s-cis                     # the file name without .yaml
    title: CIS Kubernetes Benchmark, section 5 (Policies)
    version: "1.9"
    description: what the spec covers
    controls:
      - id: "5.1.5"
        name: Ensure that default service accounts are not actively used
        description: what the control asks and how kubeward judges it
        severity: MEDIUM            # CRITICAL | HIGH | MEDIUM | LOW
        checks: [KW-K8S-070]        # or:
      - id: "5.1.7"
        ...
        manual: true
        reason: why manifests cannot show it
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kubeward.errors import KubewardError
from kubeward.model import Severity

_SPEC_FOLDER = "data/compliance"
_SPEC_KEYS = frozenset({"id", "title", "version", "description", "controls"})
_CONTROL_KEYS = frozenset({"id", "name", "description", "severity", "checks", "manual", "reason"})


class ComplianceSpecError(KubewardError):
    """A compliance spec that does not exist or cannot be used as written."""


@dataclass(frozen=True, slots=True)
class Control:
    """One control of a spec: judged by `checks`, or `manual` (never judged) with `reason`."""

    id: str
    name: str
    description: str
    severity: Severity
    checks: tuple[str, ...] = ()
    manual: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ComplianceSpec:
    id: str
    title: str
    version: str
    description: str
    controls: tuple[Control, ...]


def _spec_files() -> dict[str, Any]:
    folder = resources.files("kubeward").joinpath(_SPEC_FOLDER)
    return {
        item.name.removesuffix(".yaml"): item
        for item in folder.iterdir()
        if item.name.endswith(".yaml")
    }


@functools.lru_cache(maxsize=1)
def available_specs() -> tuple[str, ...]:
    """The names `load_spec` accepts, sorted."""
    return tuple(sorted(_spec_files()))


def _text(entry: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = entry.get(key)
    if value is None and not required:
        return ""
    # YAML reads 1.9 or 5.1 as numbers: demanding strings keeps "5.10" from becoming "5.1"
    if not isinstance(value, str) or not value.strip():
        raise ComplianceSpecError(f"{where}: {key!r} must be a non-empty string")
    return " ".join(value.split())


def _control(entry: object, where: str) -> Control:
    if not isinstance(entry, dict):
        raise ComplianceSpecError(f"{where}: each control must be a mapping")
    control_id = _text(entry, "id", where)
    where = f"{where}: control {control_id}"
    unknown = sorted(str(key) for key in entry if key not in _CONTROL_KEYS)
    if unknown:
        raise ComplianceSpecError(f"{where}: unknown keys {', '.join(unknown)}")
    try:
        severity = Severity.parse(_text(entry, "severity", where))
    except KeyError:
        raise ComplianceSpecError(f"{where}: unknown severity {entry['severity']!r}") from None
    manual = entry.get("manual", False)
    if not isinstance(manual, bool):
        raise ComplianceSpecError(f"{where}: 'manual' must be true or false")
    checks = entry.get("checks")
    if manual:
        if checks is not None:
            raise ComplianceSpecError(f"{where}: a manual control lists no checks")
        reason = _text(entry, "reason", where)
        check_ids: tuple[str, ...] = ()
    else:
        if "reason" in entry:
            raise ComplianceSpecError(f"{where}: 'reason' is only for manual controls")
        if not isinstance(checks, list) or not checks:
            raise ComplianceSpecError(f"{where}: needs 'checks' (a list) or 'manual: true'")
        if not all(isinstance(check, str) for check in checks):
            raise ComplianceSpecError(f"{where}: 'checks' must be check ids")
        reason = ""
        check_ids = tuple(checks)
        if len(set(check_ids)) != len(check_ids):
            raise ComplianceSpecError(f"{where}: a check is listed twice")
    return Control(
        id=control_id,
        name=_text(entry, "name", where),
        description=_text(entry, "description", where),
        severity=severity,
        checks=check_ids,
        manual=manual,
        reason=reason,
    )


def parse_spec(doc: object, name: str) -> ComplianceSpec:
    """The spec in the decoded YAML `doc` of file `name`; any mistake is one error line."""
    where = f"compliance spec {name}"
    if not isinstance(doc, dict):
        raise ComplianceSpecError(f"{where}: must be a mapping")
    unknown = sorted(str(key) for key in doc if key not in _SPEC_KEYS)
    if unknown:
        raise ComplianceSpecError(f"{where}: unknown keys {', '.join(unknown)}")
    spec_id = _text(doc, "id", where)
    if spec_id != name:
        raise ComplianceSpecError(f"{where}: id {spec_id!r} differs from the file name")
    entries = doc.get("controls")
    if not isinstance(entries, list) or not entries:
        raise ComplianceSpecError(f"{where}: 'controls' must be a non-empty list")
    controls = tuple(_control(entry, where) for entry in entries)
    seen: set[str] = set()
    for control in controls:
        if control.id in seen:
            raise ComplianceSpecError(f"{where}: control {control.id} is defined twice")
        seen.add(control.id)
    return ComplianceSpec(
        id=spec_id,
        title=_text(doc, "title", where),
        version=_text(doc, "version", where),
        description=_text(doc, "description", where),
        controls=controls,
    )


@functools.lru_cache(maxsize=8)
def load_spec(name: str) -> ComplianceSpec:
    """The packaged spec `name`; an unknown name is an error listing the valid ones."""
    files = _spec_files()
    item = files.get(name)
    if item is None:
        choices = ", ".join(sorted(files))
        raise ComplianceSpecError(f"unknown compliance spec {name!r} (choose from {choices})")
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(item.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ComplianceSpecError(f"compliance spec {name}: not valid YAML: {problem}") from None
    return parse_spec(doc, name)
