"""`kubeward bench node`: the CIS Kubernetes Benchmark on the node under --root.

Runs kubeward's packaged checks (or, with --benchmark-dir, kube-bench YAML definitions),
filters the results by status and severity, and writes them as table, JSON, JUnit or SARIF.
Only a FAIL among the reported results can change the exit code (to --exit-code N): a
control that could not be judged is UNKNOWN and a manual one WARN, never a failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kubeward.cli.bench_args import FORMATS, STATUSES, TARGETS
from kubeward.cli.output import write_output
from kubeward.compliance.node.result import BenchReport, Status
from kubeward.compliance.node.root import NodeRoot
from kubeward.errors import UsageError
from kubeward.findings_filter import parse_severities
from kubeward.model import Severity


def _list(text: str, option: str, choices: tuple[str, ...], upper: bool) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if upper:
        items = [item.upper() for item in items]
    if not items:
        raise UsageError(f"{option} needs a comma list of {', '.join(choices)}")
    for item in items:
        if item not in choices:
            raise UsageError(f"{option}: unknown {item!r} (choose from {', '.join(choices)})")
    return items


def check_options(args: argparse.Namespace) -> str:
    """The report format, after refusing bad options before any work is done."""
    fmt: str = args.format or "table"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if not 0 <= args.exit_code <= 255:
        raise UsageError(f"--exit-code must be between 0 and 255, not {args.exit_code}")
    if args.benchmark and args.benchmark_dir:
        raise UsageError("--benchmark and --benchmark-dir cannot be used together")
    if args.severity is not None:
        parse_severities(args.severity)
    if not Path(args.root).is_dir():
        raise UsageError(f"--root {args.root}: not a directory")
    if args.benchmark_dir is not None and not Path(args.benchmark_dir).is_dir():
        raise UsageError(f"--benchmark-dir {args.benchmark_dir}: not a directory")
    return fmt


def run(args: argparse.Namespace) -> int:
    fmt = check_options(args)
    targets = _list(args.targets, "--targets", TARGETS, False) if args.targets else None
    statuses = (
        frozenset(Status(s) for s in _list(args.status, "--status", STATUSES, True))
        if args.status
        else frozenset(Status)
    )
    severities = parse_severities(args.severity) if args.severity else None

    node = NodeRoot(args.root)
    report: BenchReport
    if args.benchmark_dir is not None:
        from kubeward.compliance.node.kubebench import run_benchmark_dir

        report = run_benchmark_dir(Path(args.benchmark_dir), node, targets)
    else:
        from kubeward.compliance.node.checks import run_checks

        report = run_checks(node, args.benchmark, targets, progress=_note(args))
    report = replace(
        report,
        results=[
            r
            for r in report.results
            if r.status in statuses and (severities is None or _severity(r.severity) in severities)
        ],
    )
    if not args.quiet:
        for warning in report.warnings:
            print(f"kubeward: warning: {_printable(warning)}", file=sys.stderr)

    from kubeward.compliance.node.report import WRITERS

    write = WRITERS[fmt]
    write_output(lambda out: write(report, out), args)
    return int(args.exit_code) if report.failed else 0


def _severity(name: str) -> Severity:
    try:
        return Severity.parse(name)
    except KeyError:
        return Severity.UNKNOWN


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _note(args: argparse.Namespace) -> Callable[[str], None]:
    def note(message: str) -> None:
        if not args.quiet:
            print(f"kubeward: {message}", file=sys.stderr)

    return note
