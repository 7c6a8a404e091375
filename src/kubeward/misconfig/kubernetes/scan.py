"""Kubernetes manifests in a tree (or a stream) -> findings, with exceptions applied.

Finds `*.yaml`, `*.yml` and `*.json` files, loads every object with its lines, runs the
per-object checks on the kinds they understand and the set-level checks (NetworkPolicy
coverage ...) on everything, plus the user's CEL checks, then applies the
`kubeward.io/ignore` annotations. Load problems become findings (KW-K8S-000 a document that
does not parse, KW-K8S-001 a duplicate key) so a broken file is reported, not fatal.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from kubeward.misconfig.engine import (
    CheckMeta,
    CheckRun,
    Selection,
    Violation,
    load_metadata,
    misconfiguration,
    run_checks,
)
from kubeward.misconfig.kubernetes.exceptions import ExceptionBook
from kubeward.misconfig.kubernetes.load import Loaded, LoadProblem, load_text
from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.misconfig.kubernetes.workload import TEMPLATE_PATHS
from kubeward.misconfig.project_files import read_project_file, walk_files
from kubeward.model import Finding, Location

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
PARSE_ERROR_ID = "KW-K8S-000"
DUPLICATE_KEY_ID = "KW-K8S-001"
LOAD_CHECK_IDS = (PARSE_ERROR_ID, DUPLICATE_KEY_ID)
# Kinds the built-in per-object checks read; any other kind (CRDs, custom resources,
# PersistentVolumeClaims ...) is loaded lazily and only custom checks that name it see it.
CHECKED_KINDS = frozenset(TEMPLATE_PATHS) | frozenset(
    {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "Service", "Ingress",
     "NetworkPolicy", "Secret", "ServiceAccount", "Namespace", "ConfigMap"}
)  # fmt: skip


class CustomCheck(Protocol):
    """A check defined by the user (CEL in kubeward.yaml): see `custom.py`."""

    meta: CheckMeta
    kinds: frozenset[str] | None  # None: every kind

    def evaluate(self, obj: K8sObject) -> Iterable[Violation]: ...


@dataclass
class ManifestScan:
    """What checking manifests gave. `violations` keeps each finding's violation and object
    for `--fix`; `suppressed` lists (check id, file, line) silenced by annotations."""

    files: int = 0
    objects: list[K8sObject] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    suppressed: list[tuple[str, str, int | None]] = field(default_factory=list)
    violations: list[tuple[Finding, Violation, K8sObject]] = field(default_factory=list)


def is_manifest_name(name: str) -> bool:
    return name.endswith(MANIFEST_SUFFIXES)


def find_manifests(root: Path) -> Iterator[tuple[Path, str]]:
    """(file, POSIX path relative to `root`) of every manifest candidate under `root`,
    sorted; see `project_files` for what is never followed or read. Helm chart folders
    (with Chart.yaml) hold templates, not manifests, and are left to the chart renderer."""

    def charts(base: Path, dirnames: list[str], filenames: list[str]) -> bool:
        if "Chart.yaml" not in filenames:
            return False
        if base != root:
            dirnames[:] = []
            return True
        # root itself is a chart: its own files are manifests, its templates are not YAML
        dirnames[:] = [d for d in dirnames if d not in ("templates", "charts")]
        return False

    return walk_files(root, is_manifest_name, charts)


def read_manifest(path: Path) -> str:
    """The text of one manifest; OSError or ValueError (one line) when it cannot be used."""
    data = read_project_file(path, MAX_MANIFEST_BYTES, "a manifest")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8 text") from None


def decode_kinds(custom: Sequence[CustomCheck]) -> frozenset[str] | None:
    """Kinds decoded while loading: those some check reads (None: all of them)."""
    kinds = set(CHECKED_KINDS)
    for check in custom:
        if check.kinds is None:
            return None
        kinds |= check.kinds
    return frozenset(kinds)


def load_files(
    files: Sequence[tuple[Path, str]], custom: Sequence[CustomCheck] = ()
) -> tuple[list[Loaded], list[str]]:
    """Load each file; unreadable files are warnings, bad documents load problems."""
    wanted = decode_kinds(custom)
    loaded: list[Loaded] = []
    warnings: list[str] = []
    for path, rel in files:
        try:
            text = read_manifest(path)
        except OSError as exc:
            warnings.append(f"{rel}: skipped: cannot read: {exc.strerror or exc}")
            continue
        except ValueError as exc:
            warnings.append(f"{rel}: skipped: {exc}")
            continue
        loaded.append(load_text(text, rel, decode_kinds=wanted))
    return loaded, warnings


def check_loaded(
    loaded: Sequence[Loaded],
    selection: Selection | None = None,
    custom: Sequence[CustomCheck] = (),
    today: date | None = None,
) -> ManifestScan:
    """Run every selected check on the loaded objects and turn load problems into findings."""
    selection = selection or Selection()
    scan = ManifestScan(files=len(loaded))
    metadata = load_metadata()
    tags = {check_id: meta.tags for check_id, meta in metadata.items()}
    book = ExceptionBook(today or date.today())
    for part in loaded:
        scan.objects.extend(part.objects)
        for problem in part.problems:
            finding = _problem_finding(problem, metadata, selection)
            if finding is not None:
                scan.findings.append(finding)

    run = CheckRun()
    for obj in scan.objects:
        if obj.kind not in CHECKED_KINDS:
            continue

        def suppressed(check_id: str, line: int | None, obj: K8sObject = obj) -> bool:
            if book.suppresses(obj, check_id, tags.get(check_id, ())):
                scan.suppressed.append((check_id, obj.report_path, line))
                return True
            return False

        start = len(run.violations)
        run_checks(
            "kubernetes", obj, path=obj.report_path, selection=selection, suppressed=suppressed,
            resource=obj.report_resource, keep_violations=True, run=run,
        )  # fmt: skip
        scan.violations.extend((f, v, obj) for f, v in run.violations[start:])

    set_run = run_checks("kubernetes-set", scan.objects, selection=selection, keep_violations=True)
    run.errors.extend(set_run.errors)
    for finding, violation in set_run.violations:
        subject = violation.subject
        if isinstance(subject, K8sObject) and book.suppresses(
            subject, finding.rule_id, tags.get(finding.rule_id, ())
        ):
            scan.suppressed.append((finding.rule_id, subject.report_path, violation.line))
            continue
        run.findings.append(finding)
        if isinstance(subject, K8sObject):
            scan.violations.append((finding, violation, subject))

    for check in custom:
        if not selection.wants(check.meta):
            continue
        for obj in scan.objects:
            if check.kinds is not None and obj.kind not in check.kinds:
                continue
            _run_custom(check, obj, scan, run, book)

    scan.findings.extend(run.findings)
    scan.warnings.extend(run.errors)
    scan.warnings.extend(book.problems())
    scan.findings.sort(
        key=lambda f: (f.location.path or "", f.location.line or 0, f.rule_id, f.message)
    )
    return scan


def _run_custom(
    check: CustomCheck, obj: K8sObject, scan: ManifestScan, run: CheckRun, book: ExceptionBook
) -> None:
    meta = check.meta
    try:
        violations = list(check.evaluate(obj))
    except Exception as exc:  # a user's expression must not end the scan
        run.errors.append(f"{meta.id} failed on {obj.report_path}: {type(exc).__name__}: {exc}")
        return
    for violation in violations:
        if book.suppresses(obj, meta.id, meta.tags):
            scan.suppressed.append((meta.id, obj.report_path, violation.line))
            continue
        where = Location(path=obj.report_path, line=violation.line, resource=obj.report_resource)
        run.findings.append(misconfiguration(meta, where, violation.message))


def _problem_finding(
    problem: LoadProblem, metadata: dict[str, CheckMeta], selection: Selection
) -> Finding | None:
    check_id = DUPLICATE_KEY_ID if problem.kind == "duplicate-key" else PARSE_ERROR_ID
    meta = metadata[check_id]
    if not selection.wants(meta):
        return None
    where = Location(path=problem.path, line=problem.line, resource=problem.resource)
    return misconfiguration(meta, where, problem.message)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while manifests load and are checked.

    Loading builds millions of small, acyclic objects (YAML nodes, values) that stay alive
    until the scan ends; the collector kept re-walking them, a fifth of a scan's time
    (measured on the shared corpus). Reference counting still frees everything; the
    collector runs again, as it was, afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan_manifest_files(
    files: Sequence[tuple[Path, str]],
    selection: Selection | None = None,
    custom: Sequence[CustomCheck] = (),
    today: date | None = None,
) -> ManifestScan:
    """Load and check `files` ((path, name in reports) pairs)."""
    with collector_paused():
        loaded, warnings = load_files(files, custom)
        scan = check_loaded(loaded, selection, custom, today)
    scan.warnings[:0] = warnings
    return scan
