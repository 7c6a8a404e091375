"""`kubeward config PATH`: misconfigurations in the Dockerfiles of a project tree.

Finds Dockerfiles, parses each, runs the dockerfile checks chosen in kubeward.yaml with the
file's inline suppressions, then applies the shared ignore file, the filters and the exit
code like `image` and `fs`, so every report format works unchanged. A file that cannot be
read or parsed is one warning or one KW-DF-000 finding; the rest of the tree is still checked.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import multiprocessing as mp
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kubeward.cli.config_args import FORMATS
from kubeward.cli.output import (
    print_warnings,
    write_compliance_report,
    write_report,
)
from kubeward.config_file import find_config
from kubeward.errors import UsageError
from kubeward.findings_filter import exit_code_for, filter_findings, parse_severities
from kubeward.ignore import IgnoreEntry, IgnoreRules, find_ignore_file, load_ignore_file
from kubeward.misconfig.engine import Selection, load_metadata, misconfiguration, run_checks
from kubeward.misconfig.kubernetes.load import Loaded
from kubeward.misconfig.kubernetes.scan import (
    MAX_MANIFEST_BYTES,
    CustomCheck,
    ManifestScan,
    is_manifest_name,
)
from kubeward.misconfig.project_files import read_project_file, walk_files
from kubeward.misconfig.settings import CheckSettings, load_check_settings
from kubeward.model import ArtifactInfo, Finding, Location, ScanResult

log = logging.getLogger(__name__)

PARSE_ERROR_ID = "KW-DF-000"
# Real Dockerfiles are a few KiB; anything this large is not one and is not read whole.
MAX_DOCKERFILE_BYTES = 1024 * 1024
# Below this many files one process is faster than starting a pool (measured: ~30 ms).
PARALLEL_MIN_FILES = 64


def is_dockerfile_name(name: str) -> bool:
    """`Dockerfile`, `Containerfile`, `NAME.Dockerfile` and `Dockerfile.SUFFIX`."""
    return (
        name in ("Dockerfile", "Containerfile")
        or (name.endswith(".Dockerfile") and len(name) > len(".Dockerfile"))
        or (name.startswith("Dockerfile.") and len(name) > len("Dockerfile."))
    )


def find_dockerfiles(root: Path) -> Iterator[tuple[Path, str]]:
    """(file, path relative to `root` in POSIX form) for every Dockerfile under `root`,
    sorted; see `project_files` for what is never followed or read."""
    return walk_files(root, is_dockerfile_name)


def read_dockerfile(path: Path) -> bytes:
    """The bytes of one Dockerfile; OSError or ValueError (one line) when it cannot be used."""
    return read_project_file(path, MAX_DOCKERFILE_BYTES, "a Dockerfile")


def parse_error_finding(path: str, line: int | None, message: str) -> Finding:
    """The one finding that stands for a Dockerfile that does not parse (KW-DF-000)."""
    meta = load_metadata()[PARSE_ERROR_ID]
    where = Location(path=path, line=line if line and line >= 1 else None)
    return misconfiguration(meta, where, " ".join(message.split()) or meta.title)


@dataclass
class DockerfileScan:
    """What checking a set of Dockerfiles gave: findings, one-line warnings, and the
    findings that inline `# kubeward:ignore` comments suppressed (for --show-suppressed)."""

    files: int = 0
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    suppressed: list[tuple[str, str, int | None]] = field(default_factory=list)


def check_dockerfile(data: bytes, path: str, scan: DockerfileScan, selection: Selection) -> None:
    """Parse `data` (the file at `path`) and add its findings and warnings to `scan`."""
    from kubeward.misconfig.dockerfile.parse import parse_dockerfile

    scan.files += 1
    try:
        dockerfile = parse_dockerfile(data, path)
    except Exception as exc:  # a parser bug on one stranger's file must not end the scan
        log.debug("parsing %s failed", path, exc_info=True)
        scan.warnings.append(f"{path}: cannot parse: {type(exc).__name__}: {exc}")
        return
    if dockerfile.parse_error is not None:
        line, message = dockerfile.parse_error
        if selection.wants(load_metadata()[PARSE_ERROR_ID]):
            scan.findings.append(parse_error_finding(path, line, message))
        return

    def suppressed(check_id: str, line: int | None) -> bool:
        if dockerfile.is_suppressed(check_id, line):
            scan.suppressed.append((check_id, path, line))
            return True
        return False

    run = run_checks(
        "dockerfile", dockerfile, path=path, selection=selection, suppressed=suppressed
    )
    scan.findings.extend(run.findings)
    scan.warnings.extend(run.errors)


def scan_path(root: Path, selection: Selection, jobs: int | None = None) -> DockerfileScan:
    """Check every Dockerfile under `root`, or `root` itself when it is a file."""
    files = list(find_dockerfiles(root)) if root.is_dir() else [(root, root.name)]
    return scan_files(files, selection, jobs)


def scan_files(
    files: Sequence[tuple[Path, str]], selection: Selection, jobs: int | None = None
) -> DockerfileScan:
    """Check `files` ((path, name in reports) pairs), on `jobs` processes (default: the CPUs
    this process may use) when there are enough files to repay starting them. Findings come
    back sorted by file and line, warnings in file order, whatever the number of processes."""
    jobs = jobs if jobs is not None else _usable_cpus()
    scan = DockerfileScan()
    # Workers are forked: they inherit the loaded checks and this run's settings. The Go
    # runtime inside the `dockerfile` package does not survive fork(), so once it is loaded
    # here (a library caller that parsed before) the scan stays in this process.
    forkable = "dockerfile" not in sys.modules and "fork" in mp.get_all_start_methods()
    if jobs > 1 and len(files) >= PARALLEL_MIN_FILES and forkable:
        size = max(8, len(files) // (jobs * 4))  # small chunks: the pool evens out the load
        chunks = [list(files[k : k + size]) for k in range(0, len(files), size)]
        try:
            with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as pool:
                parts = list(pool.map(_check_files, chunks, itertools.repeat(selection)))
        except (BrokenProcessPool, OSError) as exc:  # a crashed worker: do it all here
            log.debug("parallel Dockerfile scan failed, scanning serially", exc_info=True)
            scan.warnings.append(f"parallel scan failed ({type(exc).__name__}), ran serially")
            parts = [_check_files(files, selection)]
        for part in parts:
            scan.files += part.files
            scan.findings.extend(part.findings)
            scan.warnings.extend(part.warnings)
            scan.suppressed.extend(part.suppressed)
    else:
        scan = _check_files(files, selection)
    scan.findings.sort(
        key=lambda f: (f.location.path or "", f.location.line or 0, f.rule_id, f.message)
    )
    return scan


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_files(files: Sequence[tuple[Path, str]], selection: Selection) -> DockerfileScan:
    scan = DockerfileScan()
    for path, rel in files:
        try:
            data = read_dockerfile(path)
        except OSError as exc:
            scan.warnings.append(f"{rel}: skipped: cannot read: {exc.strerror or exc}")
            continue
        except ValueError as exc:
            scan.warnings.append(f"{rel}: skipped: {exc}")
            continue
        check_dockerfile(data, rel, scan, selection)
    return scan


def check_options(args: argparse.Namespace) -> str:
    """The report format, after refusing bad options before any work is done."""
    fmt: str = args.format or "table"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if args.severity is not None:
        parse_severities(args.severity)
    if args.jobs is not None and not 1 <= args.jobs <= 256:
        raise UsageError(f"--jobs must be between 1 and 256, not {args.jobs}")
    if not 0 <= args.exit_code <= 255:
        raise UsageError(f"--exit-code must be between 0 and 255, not {args.exit_code}")
    for values in args.values:
        if not Path(values).is_file():
            raise UsageError(f"--values {values}: not a file")
    if args.dry_run and not args.fix:
        raise UsageError("--dry-run only goes with --fix")
    if args.compliance is not None:
        from kubeward.compliance import load_spec

        load_spec(args.compliance)  # an unknown name fails before the scan
        if fmt == "sarif":
            raise UsageError("--compliance reports as table or json, not sarif")
    return fmt


def run(args: argparse.Namespace) -> int:
    fmt = check_options(args)
    stdin = args.path == "-"
    root = Path(args.path)
    mode = stat.S_IFREG
    if not stdin:
        try:
            mode = root.stat().st_mode
        except OSError as exc:
            raise UsageError(f"{args.path}: {exc.strerror or 'cannot be read'}") from None
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise UsageError(f"{args.path}: not a directory or a regular file")
    directory = Path.cwd() if stdin else root if stat.S_ISDIR(mode) else root.parent
    settings = load_check_settings(Path(args.config) if args.config else find_config(directory))
    settings.validate(load_metadata())
    ignore_path = Path(args.ignorefile) if args.ignorefile else find_ignore_file(directory)
    rules = load_ignore_file(ignore_path) if ignore_path is not None else IgnoreRules()
    selection = settings.selection()

    scan = DockerfileScan()
    if not stdin and (stat.S_ISDIR(mode) or not is_manifest_name(root.name)):
        from kubeward.misconfig.dockerfile import checks

        # KW-DF-004 reads its allowlist from the module; restored so one run never leaks
        # into the next in the same process (tests, benchmarks).
        before = checks.BASE_IMAGE_REGISTRIES
        checks.BASE_IMAGE_REGISTRIES = frozenset(settings.base_image_registries)
        try:
            scan = scan_path(root, selection, args.jobs)
        finally:
            checks.BASE_IMAGE_REGISTRIES = before
    custom = _custom_checks(settings)
    is_dir = stat.S_ISDIR(mode)
    manifests, files = _scan_manifests(
        args, root, stdin, is_dir, selection=selection, custom=custom
    )
    if args.fix:
        changed = _fix(args, manifests, files)
        if args.dry_run:
            return 0
        if changed:  # report what is left after the fixes
            manifests, files = _scan_manifests(
                args, root, stdin, is_dir, selection=selection, custom=custom
            )
    scan.findings.extend(manifests.findings)
    scan.warnings.extend(manifests.warnings)
    scan.suppressed.extend(manifests.suppressed)
    warnings = list(scan.warnings)
    outcome = rules.apply(scan.findings, lambda f: f.aliases, date.today())
    warnings.extend(rules.expired_message(entry) for entry in outcome.expired)
    severities = parse_severities(args.severity) if args.severity else None
    kept = filter_findings(outcome.kept, severities, ignore_unfixed=False)
    result = ScanResult(
        artifact=ArtifactInfo(name=args.path, kind="dir"),
        findings=kept,
        warnings=tuple(warnings),
    )
    print_warnings(result, args)
    if args.show_suppressed:
        _print_suppressed(scan, outcome.suppressed, outcome.unused, rules)
    if args.compliance is not None:
        from kubeward.compliance import selected_kubernetes_checks

        write_compliance_report(
            args, fmt, result, selected_kubernetes_checks(selection), len(manifests.objects)
        )
    else:
        write_report(result, fmt, args)
    return exit_code_for(kept, args.exit_code)


def _scan_manifests(
    args: argparse.Namespace,
    root: Path,
    stdin: bool,
    is_dir: bool,
    *,
    selection: Selection,
    custom: Sequence[CustomCheck],
) -> tuple[ManifestScan, list[tuple[Path, str]]]:
    """The Kubernetes manifests of PATH (a tree, one file, or a stream on stdin) and the
    plain files that were read, the only ones --fix may write."""
    from kubeward.misconfig.kubernetes.load import load_text
    from kubeward.misconfig.kubernetes.render import render_tree
    from kubeward.misconfig.kubernetes.scan import (
        check_loaded,
        collector_paused,
        decode_kinds,
        find_manifests,
        load_files,
    )

    if stdin:
        data = sys.stdin.buffer.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise UsageError(f"stdin: larger than {MAX_MANIFEST_BYTES // 1048576} MiB")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UsageError("stdin: not valid UTF-8 text") from None
        streamed = load_text(text, "-", "stdin", decode_kinds(custom))
        return check_loaded([streamed], selection, custom), []
    if not is_dir and not is_manifest_name(root.name):
        return ManifestScan(), []
    rendered_loaded: list[Loaded] = []
    rendered_warnings: list[str] = []
    if is_dir:
        # charts and kustomizations are rendered; their files are not read again raw
        rendered = render_tree(root, [Path(v) for v in args.values], decode_kinds(custom))
        files = [(p, rel) for p, rel in find_manifests(root) if not rendered.covers(p)]
        rendered_loaded, rendered_warnings = rendered.loaded, rendered.warnings
    else:
        files = [(root, root.name)]
    with collector_paused():
        loaded, warnings = load_files(files, custom)
        scan = check_loaded([*rendered_loaded, *loaded], selection, custom)
    scan.warnings[:0] = [*rendered_warnings, *warnings]
    return scan, files


def _custom_checks(settings: CheckSettings) -> list[CustomCheck]:
    """The CEL checks of kubeward.yaml, compiled (celpy is only imported when there are)."""
    if not settings.custom:
        return []
    from kubeward.misconfig.kubernetes.custom import load_custom_checks

    return list(load_custom_checks(settings))


def _fix(args: argparse.Namespace, scan: ManifestScan, files: Sequence[tuple[Path, str]]) -> bool:
    """Apply (or with --dry-run print) the fixes of `scan`; True when files changed."""
    from kubeward.misconfig.kubernetes.fix import apply_fixes
    from kubeward.report.table import _safe

    outcome = apply_fixes(scan.violations, args.dry_run, files)
    for skipped in outcome.skipped:
        print(_safe(f"kubeward: not fixed: {skipped}"), file=sys.stderr)
    if args.dry_run:
        for rel in sorted(outcome.diffs):
            sys.stdout.write(outcome.diffs[rel])
        sys.stdout.flush()
        return False
    edits = sum(outcome.applied.values())
    print(f"kubeward: fixed {edits} field(s) in {len(outcome.changed)} file(s)", file=sys.stderr)
    return bool(outcome.changed)


def _print_suppressed(
    scan: DockerfileScan,
    by_ignore_file: Sequence[tuple[Finding, IgnoreEntry]],
    unused: Sequence[IgnoreEntry],
    rules: IgnoreRules,
) -> None:
    from kubeward.report.table import _safe

    for check_id, path, line in scan.suppressed:
        where = f"{path}:{line}" if line else path
        print(
            _safe(f"kubeward: suppressed {check_id} in {where} by an inline comment"),
            file=sys.stderr,
        )
    for finding, entry in by_ignore_file:
        where = finding.location.path or "?"
        if finding.location.line:
            where += f":{finding.location.line}"
        reason = f": {entry.reason}" if entry.reason else ""
        message = f"suppressed {finding.rule_id} in {where} by {rules.where(entry)}{reason}"
        print(_safe(f"kubeward: {message}"), file=sys.stderr)
    for entry in unused:
        print(_safe(f"kubeward: {rules.unused_message(entry)}"), file=sys.stderr)
