"""Writing a report where the user asked: stdout, or --output FILE (only once the scan has
succeeded, through a temp file renamed into place, so a failed scan never clobbers it)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from kubeward.errors import UsageError
from kubeward.model import ScanResult


def write_report(result: ScanResult, fmt: str, args: argparse.Namespace) -> None:
    from kubeward.report import get_writer

    write = get_writer(fmt)
    write_output(lambda out: write(result, out), args)


def write_output(write_to: Callable[[BinaryIO], None], args: argparse.Namespace) -> None:
    """Run `write_to` on stdout, or on --output FILE replaced atomically once it succeeded."""
    if not args.output or args.output == "-":
        write_to(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    target = Path(args.output)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"--output {args.output}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            write_to(out)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def print_warnings(result: ScanResult, args: argparse.Namespace) -> None:
    if args.quiet:
        return
    for warning in result.warnings:
        print(f"kubeward: warning: {warning}", file=sys.stderr)


def write_compliance_report(
    args: argparse.Namespace,
    fmt: str,
    result: ScanResult,
    ran: set[str] | frozenset[str],
    objects: int,
    *,
    extra: dict[str, Any] | None = None,
) -> None:
    """The per-control report of --compliance (`args.compliance`): a table, or the JSON
    report with a `compliance` section (findings of other checks stay in `findings`) and
    any `extra` top-level sections (the cluster audit's `cluster`)."""
    import io

    from kubeward.compliance import evaluate, load_spec
    from kubeward.report.compliance import compliance_json, write_compliance_table
    from kubeward.report.json_report import dump, to_document

    report = evaluate(load_spec(args.compliance), result.findings, ran, objects)

    def write(out: BinaryIO) -> None:
        if fmt == "json":
            document = to_document(result)
            document["compliance"] = compliance_json(report)
            document.update(extra or {})
            dump(document, out)
            return
        text = io.StringIO()
        write_compliance_table(report, text)
        out.write(text.getvalue().encode("utf-8", "replace"))

    write_output(write, args)
