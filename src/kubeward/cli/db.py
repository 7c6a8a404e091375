"""`kubeward db import|status|update`: build the local vulnerability database from feed
files, show what it holds, or (db_update.py) download and rebuild it."""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from pathlib import Path

from kubeward.cli.db_args import STATUS_FORMATS
from kubeward.errors import UsageError

_SHOWN_WARNINGS = 10  # malformed records printed one by one before only counting them


def db_path(args: argparse.Namespace) -> Path:
    from kubeward.vulndb.store import default_db_path

    return Path(args.db) if args.db else default_db_path(Path(args.cache_dir))


def run(args: argparse.Namespace) -> int:
    if args.db_command == "import":
        return run_import(args)
    if args.db_command == "status":
        return run_status(args)
    if args.db_command == "update":
        return int(importlib.import_module("kubeward.cli.db_update").run(args))
    raise UsageError(f"unknown db subcommand {args.db_command!r}")


def _one_line(message: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def run_import(args: argparse.Namespace) -> int:
    from kubeward.vulndb.build import build_database

    shown = 0
    tty = sys.stderr.isatty() and not args.quiet

    def on_bad(message: str) -> None:
        nonlocal shown
        shown += 1
        if args.quiet or (shown > _SHOWN_WARNINGS and not args.debug):
            return
        if tty:
            sys.stderr.write("\r\x1b[K")
        print(f"kubeward: warning: {_one_line(message)}", file=sys.stderr)

    def progress(source: str, records: int) -> None:
        sys.stderr.write(f"\r\x1b[Kimporting {source}: {records} advisories")
        sys.stderr.flush()

    try:
        stats = build_database(
            [Path(p) for p in args.paths], db_path(args), on_bad, progress if tty else None
        )
    finally:
        if tty:
            sys.stderr.write("\r\x1b[K")
    if not args.quiet:
        if shown > _SHOWN_WARNINGS and not args.debug:
            print(
                f"kubeward: warning: {shown - _SHOWN_WARNINGS} more malformed records not shown"
                " (--debug shows them)",
                file=sys.stderr,
            )
        print(
            f"imported {stats.advisories} advisories from {len(stats.sources)} "
            f"sources in {stats.seconds:.1f} s ({stats.skipped} malformed records skipped)",
            file=sys.stderr,
        )
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} GiB"


def run_status(args: argparse.Namespace) -> int:
    from kubeward.vulndb.store import Database, DatabaseError

    fmt = args.format or "table"
    if fmt not in STATUS_FORMATS:
        raise UsageError(f"--format {fmt}: db status writes {' or '.join(STATUS_FORMATS)}")
    path = db_path(args)
    with Database.open(path) as db:
        status = db.status()
        integrity = None
        if args.check:
            problems = db.check()
            if problems:
                raise DatabaseError(
                    f"vulnerability database {path} failed the integrity check "
                    f"({_one_line(problems[0])}): run `kubeward db update` to rebuild it"
                )
            integrity = "ok"
    age = None if math.isnan(status.age_days) else round(status.age_days, 2)
    if fmt == "json":
        document: dict[str, object] = {
            "path": str(status.path),
            "schema_version": status.schema_version,
            "built_at": status.built_at,
            "age_days": age,
            "size": status.size,
            "counts": status.counts,
            "sources": [s._asdict() for s in status.sources],
        }
        if integrity is not None:
            document["integrity"] = integrity
        text = json.dumps(document, indent=2) + "\n"
    else:
        rows = [
            ("database", str(status.path)),
            ("schema", str(status.schema_version)),
            ("built", f"{status.built_at} ({'?' if age is None else f'{age:.1f}'} days ago)"),
            ("size", _size(status.size)),
        ]
        rows += [(k, str(v)) for k, v in status.counts.items()]
        if integrity is not None:
            rows.append(("integrity", integrity))
        lines = [f"{k:<11} {v}" for k, v in rows]
        table = [("SOURCE", "RECORDS", "SKIPPED", "ORIGIN")] + [
            (s.name, str(s.records), str(s.skipped), s.origin) for s in status.sources
        ]
        width = max(len(r[0]) for r in table)
        lines.append("")
        lines += [f"{n:<{width}}  {r:>8}  {k:>8}  {o}" for n, r, k, o in table]
        text = "\n".join(lines) + "\n"
    if args.output and args.output != "-":
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {args.output}: {exc.strerror or exc}") from exc
    else:
        sys.stdout.write(text)
    return 0
