"""Build a database from local feed files: detect each file's format, parse, write, swap in.

One process on purpose: on the 2-core reference machine the whole reference set (about
12,000 files) takes 4-5 s, of which writing SQLite is about 1.2 s and the rest is reading
and parsing; parsing in a 2-worker pool measured slower (5.3 s against 3.2 s) because every
record has to be pickled back. benchmarks/vulndb_import.py prints the current figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubeward.vulndb.importers.detect import iter_sources
from kubeward.vulndb.model import OnBadRecord
from kubeward.vulndb.store import DatabaseError, DatabaseWriter, SourceInfo

# (source name, advisories imported so far in total), every PROGRESS_EVERY records.
Progress = Callable[[str, int], None]
PROGRESS_EVERY = 500


@dataclass(frozen=True, slots=True)
class BuildStats:
    records: int  # advisory records read (an id read twice counts twice)
    advisories: int  # distinct advisories in the database
    skipped: int  # malformed records and unreadable files reported through on_bad
    replaced: int  # records whose id an earlier record had used (merged into it)
    seconds: float
    size: int  # bytes of the database file
    sources: tuple[SourceInfo, ...] = ()


def build_database(
    paths: list[Path], out: Path, on_bad: OnBadRecord, progress: Progress | None = None
) -> BuildStats:
    """Replace the database at `out` with exactly the advisories found under `paths`.
    Raises DatabaseError (and leaves `out` untouched) when nothing importable is found."""
    start = time.perf_counter()
    for path in paths:
        if not path.exists():
            raise DatabaseError(f"no such file or directory: {path}")
    skipped = 0

    def count_bad(message: str) -> None:
        nonlocal skipped
        skipped += 1
        on_bad(message)

    per_source: dict[tuple[str, str], list[int]] = {}
    records = 0
    with DatabaseWriter(out) as writer:
        for source, origin, advisories in iter_sources(paths, count_bad):
            bad_before, records_before = skipped, records
            for advisory in advisories:
                writer.add(advisory)
                records += 1
                if progress is not None and records % PROGRESS_EVERY == 0:
                    progress(source, records)
            counts = per_source.setdefault((source, origin), [0, 0])
            counts[0] += records - records_before
            counts[1] += skipped - bad_before
        if records == 0:
            names = ", ".join(str(p) for p in paths)
            raise DatabaseError(f"no importable advisories found in {names}")
        sources = tuple(SourceInfo(s, o, n, k) for (s, o), (n, k) in per_source.items())
        for info in sources:
            writer.add_source(*info)
        writer.commit()
        replaced = writer.replaced
        stored = writer.counts["advisories"]
    return BuildStats(
        records=records,
        advisories=stored,
        skipped=skipped,
        replaced=replaced,
        seconds=time.perf_counter() - start,
        size=out.stat().st_size,
        sources=sources,
    )
