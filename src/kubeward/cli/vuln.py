"""What `image` and `fs` share after the inventory: match, ignore, filter, report, exit code."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date
from pathlib import Path

from kubeward.cli.output import print_warnings, write_report
from kubeward.cli.vuln_args import FORMATS, SCANNERS
from kubeward.errors import UsageError
from kubeward.model import ScanResult

MAX_DB_AGE_DAYS = 7


def scanners(args: argparse.Namespace) -> frozenset[str]:
    # a command with more scanners than `fs` (image: misconfig) sets args.scanner_choices
    choices: tuple[str, ...] = getattr(args, "scanner_choices", SCANNERS)
    chosen = frozenset(s.strip() for s in args.scanners.split(",") if s.strip())
    unknown = sorted(chosen - set(choices))
    if unknown or not chosen:
        raise UsageError(
            f"--scanners {args.scanners}: choose from {', '.join(choices)} (comma-separated)"
        )
    return chosen


def configure_secrets(args: argparse.Namespace, directory: Path) -> list[str]:
    """Build the secret scanner from kubeward.yaml (given or found); notices for the report."""
    if "secret" not in scanners(args):
        return []
    from kubeward.config_file import find_config
    from kubeward.secrets.analyzer import configure
    from kubeward.secrets.config import load_secret_config

    path = Path(args.config) if args.config else find_config(directory)
    config = load_secret_config(path)
    configure(config.scanner())
    notice = config.notice()
    return [notice] if notice else []


def check_format(args: argparse.Namespace) -> str:
    fmt: str = args.format or "table"
    scanners(args)
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if args.severity is not None:
        from kubeward.findings_filter import parse_severities

        parse_severities(args.severity)  # fail before the scan, not after
    if not 0 <= args.exit_code <= 255:
        raise UsageError(f"--exit-code must be between 0 and 255, not {args.exit_code}")
    return fmt


def open_database(args: argparse.Namespace) -> object:
    from kubeward.vulndb.store import Database, default_db_path

    path = Path(args.db) if args.db else default_db_path(Path(args.cache_dir))
    return Database.open(path)


def finish(
    result: ScanResult,
    args: argparse.Namespace,
    fmt: str,
    ignore_dir: Path,
    notices: list[str] | None = None,
) -> int:
    """Match `result`'s inventory, apply the ignore file and filters, write, exit code."""
    from kubeward.findings_filter import exit_code_for, filter_findings, parse_severities
    from kubeward.ignore import IgnoreRules, find_ignore_file, load_ignore_file
    from kubeward.vulndb.match import MatchStats, match_inventory
    from kubeward.vulndb.store import Database

    ignore_path = Path(args.ignorefile) if args.ignorefile else find_ignore_file(ignore_dir)
    rules = load_ignore_file(ignore_path) if ignore_path is not None else IgnoreRules()
    warnings = list(notices or ()) + list(result.warnings)
    findings = list(result.findings)
    if "vuln" in scanners(args):
        db = open_database(args)
        assert isinstance(db, Database)
        age = db.status().age_days
        if age is not None and age > MAX_DB_AGE_DAYS:
            warnings.append(
                f"the vulnerability database is {age:.0f} days old: run `kubeward db update`"
            )
        stats = MatchStats()
        findings = match_inventory(result.inventory, db, stats=stats) + findings
    outcome = rules.apply(findings, lambda f: f.aliases, date.today())
    for entry in outcome.expired:
        warnings.append(rules.expired_message(entry))
    severities = parse_severities(args.severity) if args.severity else None
    kept = filter_findings(outcome.kept, severities, args.ignore_unfixed)
    result = dataclasses.replace(result, findings=kept, warnings=tuple(warnings))
    print_warnings(result, args)
    if args.show_suppressed:
        from kubeward.report.table import _safe

        for finding, entry in outcome.suppressed:
            pkg = finding.package
            what = f"{pkg.name} {pkg.version}" if pkg is not None else finding.location.path
            reason = f": {entry.reason}" if entry.reason else ""
            print(
                _safe(
                    f"kubeward: suppressed {finding.rule_id} in {what} by "
                    f"{rules.where(entry)}{reason}"
                ),
                file=sys.stderr,
            )
        for entry in outcome.unused:
            print(_safe(f"kubeward: {rules.unused_message(entry)}"), file=sys.stderr)
    write_report(result, fmt, args)
    return exit_code_for(kept, args.exit_code)
