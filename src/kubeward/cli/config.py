"""`kubeward config PATH`: misconfigurations in the Dockerfiles of a project tree.

Finds Dockerfiles, parses each, runs the dockerfile checks chosen in kubeward.yaml with the
file's inline suppressions, then applies the shared ignore file, the filters and the exit
code like `image` and `fs`, so every report format works unchanged. A file that cannot be
read or parsed is one warning or one KW-DF-000 finding; the rest of the tree is still checked.
"""

from __future__ import annotations

import argparse
import logging
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kubeward.cli.config_args import FORMATS
from kubeward.cli.output import print_warnings, write_report
from kubeward.config_file import find_config
from kubeward.errors import UsageError
from kubeward.findings_filter import exit_code_for, filter_findings, parse_severities
from kubeward.ignore import IgnoreEntry, IgnoreRules, find_ignore_file, load_ignore_file
from kubeward.misconfig.engine import Selection, load_metadata, run_checks
from kubeward.misconfig.settings import load_check_settings
from kubeward.model import ArtifactInfo, Finding, Location, ScanResult, Severity

log = logging.getLogger(__name__)

PARSE_ERROR_ID = "KW-DF-000"
PARSE_ERROR_TITLE = "Dockerfile does not parse"
# MEDIUM: the file itself may be harmless, but no other check could look at it, so whatever
# it hides goes unreported until it is fixed.
PARSE_ERROR_SEVERITY = Severity.MEDIUM
PARSE_ERROR_REMEDIATION = (
    "Fix the syntax error (`docker build` rejects the file too); no other check can run on a "
    "Dockerfile that does not parse."
)
SKIP_DIRS = frozenset({".git", "node_modules"})
# Real Dockerfiles are a few KiB; anything this large is not one and is not read whole.
MAX_DOCKERFILE_BYTES = 1024 * 1024
_SNIFF_BYTES = 8192


def is_dockerfile_name(name: str) -> bool:
    """`Dockerfile`, `Containerfile`, `NAME.Dockerfile` and `Dockerfile.SUFFIX`."""
    return (
        name in ("Dockerfile", "Containerfile")
        or (name.endswith(".Dockerfile") and len(name) > len(".Dockerfile"))
        or (name.startswith("Dockerfile.") and len(name) > len("Dockerfile."))
    )


def find_dockerfiles(root: Path) -> Iterator[tuple[Path, str]]:
    """(file, path relative to `root` in POSIX form) for every Dockerfile under `root`, sorted.

    Symlinks are never followed, to files or to directories: a link may point outside the
    tree, or loop; `.git` and `node_modules` hold no Dockerfiles of the project.
    """
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(directory)
        for name in sorted(filenames):
            if not is_dockerfile_name(name):
                continue
            path = base / name
            try:
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
            except OSError:
                continue
            yield path, path.relative_to(root).as_posix()


def read_dockerfile(path: Path) -> bytes:
    """The bytes of one Dockerfile; OSError or ValueError (one line) when it cannot be used."""
    # O_NOFOLLOW: a file swapped for a link after the walk is still not followed; O_NONBLOCK:
    # a FIFO named Dockerfile cannot hang the scan.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ValueError("not a regular file")
        data = handle.read(MAX_DOCKERFILE_BYTES + 1)
    if len(data) > MAX_DOCKERFILE_BYTES:
        raise ValueError(f"larger than {MAX_DOCKERFILE_BYTES >> 20} MiB, not a Dockerfile")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise ValueError("binary file, not a Dockerfile")
    return data


def parse_error_finding(path: str, line: int | None, message: str) -> Finding:
    """The one finding that stands for a Dockerfile that does not parse; its title, severity
    and fix come from the packaged metadata when KW-DF-000 is described there."""
    meta = load_metadata().get(PARSE_ERROR_ID)
    return Finding(
        kind="misconfiguration",
        rule_id=PARSE_ERROR_ID,
        title=meta.title if meta else PARSE_ERROR_TITLE,
        severity=meta.severity if meta else PARSE_ERROR_SEVERITY,
        location=Location(path=path, line=line if line and line >= 1 else None),
        message=" ".join(message.split()) or PARSE_ERROR_TITLE,
        remediation=meta.remediation if meta else PARSE_ERROR_REMEDIATION,
        references=meta.references if meta else (),
    )


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
        if PARSE_ERROR_ID not in selection.disable:
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


def scan_path(root: Path, selection: Selection) -> DockerfileScan:
    """Check every Dockerfile under `root`, or `root` itself when it is a file."""
    scan = DockerfileScan()
    files = list(find_dockerfiles(root)) if root.is_dir() else [(root, root.name)]
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
    scan.findings.sort(
        key=lambda f: (f.location.path or "", f.location.line or 0, f.rule_id, f.message)
    )
    return scan


def check_options(args: argparse.Namespace) -> str:
    """The report format, after refusing bad options before any work is done."""
    fmt: str = args.format or "table"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if args.severity is not None:
        parse_severities(args.severity)
    if not 0 <= args.exit_code <= 255:
        raise UsageError(f"--exit-code must be between 0 and 255, not {args.exit_code}")
    return fmt


def run(args: argparse.Namespace) -> int:
    fmt = check_options(args)
    root = Path(args.path)
    try:
        mode = root.stat().st_mode
    except OSError as exc:
        raise UsageError(f"{args.path}: {exc.strerror or 'cannot be read'}") from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise UsageError(f"{args.path}: not a directory or a regular file")
    directory = root if stat.S_ISDIR(mode) else root.parent
    settings = load_check_settings(Path(args.config) if args.config else find_config(directory))
    settings.validate(load_metadata(), extra_ids=(PARSE_ERROR_ID,))
    ignore_path = Path(args.ignorefile) if args.ignorefile else find_ignore_file(directory)
    rules = load_ignore_file(ignore_path) if ignore_path is not None else IgnoreRules()

    from kubeward.misconfig.dockerfile import checks

    # KW-DF-004 reads its allowlist from the module; restored so one run never leaks into
    # the next in the same process (tests, benchmarks).
    before = checks.BASE_IMAGE_REGISTRIES
    checks.BASE_IMAGE_REGISTRIES = frozenset(settings.base_image_registries)
    try:
        scan = scan_path(root, settings.selection())
    finally:
        checks.BASE_IMAGE_REGISTRIES = before
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
    write_report(result, fmt, args)
    return exit_code_for(kept, args.exit_code)


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
