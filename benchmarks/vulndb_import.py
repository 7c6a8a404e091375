"""Time `kubeward db import` of the whole reference set (shared/data osv + debian + alpine)
next to the raw cost of reading and parsing the same files without writing.

python benchmarks/vulndb_import.py [--check]   # --check: exit 1 above the 20 s target
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from kubeward.vulndb.build import build_database
from kubeward.vulndb.importers.detect import iter_sources
from kubeward.vulndb.store import Database

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PATHS = [DATA / "osv", DATA / "debian", DATA / "alpine"]
TARGET_S = 20.0


def parse_only() -> tuple[int, int, float]:
    bad: list[str] = []
    start = time.perf_counter()
    records = 0
    for _source, _origin, advisories in iter_sources(PATHS, bad.append):
        for _ in advisories:
            records += 1
    return records, len(bad), time.perf_counter() - start


def main() -> None:
    files = sum(1 for p in PATHS for f in p.rglob("*") if f.is_file())
    parsed, bad, parse_s = parse_only()  # also warms the page cache for the build
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kubeward.db"
        stats = build_database(PATHS, out, lambda message: None)
        with Database.open(out) as db:
            counts = db.status().counts
            names = [f"example.com/m{i}" for i in range(10_000)]
            start = time.perf_counter()
            db.lookup("golang", None, names)
            lookup_ms = (time.perf_counter() - start) * 1000
    print(f"input                 : {files} files under {', '.join(p.name for p in PATHS)}")
    print(f"read + parse only     : {parse_s:6.2f} s  {parsed} records ({bad} malformed)")
    print(
        f"full import           : {stats.seconds:6.2f} s  {stats.records} records, "
        f"{stats.records / stats.seconds:,.0f} records/s (target <= {TARGET_S:.0f} s)"
    )
    print(f"  writing (difference): {stats.seconds - parse_s:6.2f} s")
    print(
        f"database              : {stats.size / 2**20:.1f} MiB, {counts['advisories']} advisories,"
        f" {counts['affected']} affected rows, {counts['aliases']} aliases"
    )
    for source in stats.sources:
        print(f"  {source.name:<14} {source.records:>7} records {source.skipped:>4} skipped")
    print(f"lookup of 10,000 names: {lookup_ms:6.1f} ms")
    if "--check" in sys.argv and stats.seconds > TARGET_S:
        sys.exit(f"import is slower than {TARGET_S:.0f} s")


if __name__ == "__main__":
    main()
