"""Time matching 10,000 packages against the database built from ../shared/data.

Builds (once, cached under benchmarks/.cache) the database from every advisory under
../shared/data/osv, debian and alpine, then makes an inventory of 10,000 real package names
taken from that database (PyPI, npm, Go, crates, gems, Composer, plus Debian 11 source
packages) at versions old enough to be affected, and times `match_inventory` next to the
raw cost of the database lookups alone, in the same run.

    python benchmarks/vulndb_match.py [--rebuild]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"
DB = HERE / ".cache" / "vulndb" / "kubeward.db"
N = 10_000


def build() -> None:
    from kubeward.vulndb.build import build_database

    DB.parent.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []
    stats = build_database([DATA / "osv", DATA / "debian", DATA / "alpine"], DB, skipped.append)
    print(f"built {DB} with {stats.records} advisories ({len(skipped)} skipped)", file=sys.stderr)


def inventory() -> object:
    from kubeward.model import Inventory, Location, OSInfo, Package

    con = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT DISTINCT ecosystem, name FROM affected WHERE distro IN ('', 'debian:11') "
        "ORDER BY ecosystem, name"
    ).fetchall()
    con.close()
    rng = random.Random(42)
    rng.shuffle(rows)
    old = {
        "pypi": "1.0.0",
        "npm": "1.0.0",
        "golang": "v0.1.0",
        "cargo": "0.1.0",
        "gem": "1.0.0",
        "composer": "1.0.0",
        "maven": "1.0",
        "deb": "1.0-1",
    }
    packages = []
    for i in range(N):
        ecosystem, name = rows[i % len(rows)]
        if ecosystem not in old:
            continue
        packages.append(
            Package(
                name=name,
                version=old[ecosystem],
                ecosystem=ecosystem,
                purl="",
                location=Location(path=f"pkg/{i}"),
                source_name=name if ecosystem == "deb" else None,
            )
        )
    return Inventory(os=OSInfo("debian", "11", "bullseye"), packages=tuple(packages))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if args.rebuild or not DB.exists():
        build()
    from kubeward.model import Inventory
    from kubeward.vulndb import match, severity, store
    from kubeward.vulndb.match import match_inventory
    from kubeward.vulndb.store import Database

    inv = inventory()
    assert isinstance(inv, Inventory)
    lookups, matches = [], []
    findings: list[object] = []
    for _ in range(3):
        # every run starts cold: a new connection and no memoised parses
        store._ranges.cache_clear()
        severity.severity_of.cache_clear()
        severity.cvss_score.cache_clear()
        match._first_sentence.cache_clear()
        db = Database.open(DB)
        start = time.perf_counter()
        groups: dict[tuple[str, str | None], list[str]] = {}
        for p in inv.packages:
            key = (p.ecosystem, "debian:11" if p.ecosystem == "deb" else None)
            groups.setdefault(key, []).append(p.name)
        for (eco, distro), names in groups.items():
            db.lookup(eco, distro, names)
        lookups.append(time.perf_counter() - start)
        store._ranges.cache_clear()
        db = Database.open(DB)
        start = time.perf_counter()
        findings = match_inventory(inv, db)
        matches.append(time.perf_counter() - start)
    lookup_s, match_s = min(lookups), min(matches)
    print(f"packages               : {len(inv.packages)}")
    print(f"database lookups alone : {lookup_s:.2f} s (best of 3, cold)")
    print(
        f"match_inventory        : {match_s:.2f} s (best of 3, cold; target <= 1 s), "
        f"{len(findings)} findings"
    )


if __name__ == "__main__":
    main()
