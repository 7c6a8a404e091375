"""`kubeward db update`: pick the advisory sources from the flags, run vulndb.update, and
report on stderr like `db import` does: one line per problem, one summary line. Exit 0 when a
usable, current database exists afterwards, 2 when it could not be built (the old one is
then unchanged)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from kubeward.cli.progress import wanted
from kubeward.errors import UsageError

SHOWN_MALFORMED = 10  # malformed records printed one by one before only counting them


def select_sources(urls: list[str] | None, only: list[str] | None) -> dict[str, str]:
    """DEFAULT_SOURCES, with --url NAME=URL replacing or adding, then cut down by --only."""
    from kubeward.vulndb.update import DEFAULT_SOURCES, validate_source

    sources = dict(DEFAULT_SOURCES)
    for item in urls or []:
        name, sep, url = item.partition("=")
        name, url = name.strip(), url.strip()
        if not sep or not name or not url:
            raise UsageError(f"--url {item}: expected NAME=URL")
        try:
            validate_source(name, url)
        except ValueError as exc:
            raise UsageError(f"--url {item}: {exc}") from None
        sources[name] = url
    if only:
        wanted_names = [n.strip() for item in only for n in item.split(",") if n.strip()]
        unknown = [n for n in wanted_names if n not in sources]
        if unknown:
            raise UsageError(
                f"--only: unknown source {', '.join(unknown)}; known: {', '.join(sources)}"
            )
        sources = {name: url for name, url in sources.items() if name in wanted_names}
    return sources


class DownloadBars:
    """One rich progress bar per source being downloaded, on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> DownloadBars:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(self, name: str, done: int, total: int | None) -> None:
        task = self._tasks.get(name)
        if task is None:
            task = self._tasks[name] = self._progress.add_task(f"downloading {name}", total=total)
        self._progress.update(task, completed=done, total=total)

    def building(self, source: str, records: int) -> None:
        """vulndb.build's progress: advisories imported so far."""
        for task in self._tasks.values():
            self._progress.update(task, visible=False)
        task = self._tasks.get("")
        if task is None:
            task = self._tasks[""] = self._progress.add_task("", total=None)
        self._progress.update(task, description=f"importing {source}: {records} advisories")


def _printable(message: str) -> str:
    # Reasons and record names come from strangers: no terminal escapes, one line.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _size(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> int:
    from kubeward.vulndb.store import default_db_path
    from kubeward.vulndb.update import UpdateError, update_database

    timeout = float(getattr(args, "timeout", 60.0))
    retries = int(getattr(args, "retries", 3))
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    if retries < 0:
        raise UsageError("--retries must be 0 or more")
    cache_dir = Path(args.cache_dir)
    db_path = Path(args.db) if getattr(args, "db", None) else default_db_path(cache_dir)
    sources = select_sources(getattr(args, "url", None), getattr(args, "only", None))
    quiet = bool(getattr(args, "quiet", False))

    debug = bool(getattr(args, "debug", False))
    malformed = 0

    def on_bad(message: str) -> None:
        nonlocal malformed
        malformed += 1
        if not quiet and (debug or malformed <= SHOWN_MALFORMED):
            print(f"kubeward: warning: {_printable(message)}", file=sys.stderr)

    bars = DownloadBars() if wanted(quiet) else None
    try:
        with bars if bars is not None else contextlib.nullcontext():
            result = update_database(
                db_path,
                cache_dir,
                sources,
                timeout=timeout,
                retries=retries,
                progress=bars,
                on_bad=on_bad,
                build_progress=bars.building if bars is not None else None,
            )
    except UpdateError as exc:
        # Errors are printed even with --quiet: they say why the exit code is 2.
        if exc.result is not None:
            for name, reason in exc.result.failed:
                kind = "warning" if name in exc.result.stale else "error"
                print(f"kubeward: {kind}: {name}: {_printable(reason)}", file=sys.stderr)
        raise
    if quiet:
        return 0

    for name, reason in result.failed:
        print(
            f"kubeward: warning: {name}: {_printable(reason)}; using the earlier download",
            file=sys.stderr,
        )
    for name in result.empty:
        print(
            f"kubeward: warning: {name}: no advisories imported from {sources[name]} "
            "(format not recognised, or only malformed records)",
            file=sys.stderr,
        )
    if malformed > SHOWN_MALFORMED and not debug:
        print(
            f"kubeward: warning: {malformed - SHOWN_MALFORMED} more malformed records not "
            "shown (--debug shows them)",
            file=sys.stderr,
        )
    counts = f"{len(result.downloaded)} downloaded, {len(result.not_modified)} not modified"
    if result.stale:
        counts += f", {len(result.stale)} failed and kept"
    if result.stats is None:
        summary = f"database {db_path} is up to date ({len(sources)} sources: {counts})"
    else:
        s = result.stats
        summary = (
            f"database {db_path} updated: {s.advisories} advisories, "
            f"{_size(s.size)}, in {s.seconds:.1f} s ({s.skipped} malformed records skipped; "
            f"sources: {counts})"
        )
    print(summary, file=sys.stderr)
    return 0
