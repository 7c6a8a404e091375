"""Secret scanning: kubeward's SecretScanner against detect-secrets on a planted corpus.

Generates (once, cached under benchmarks/.cache/secrets-corpus keyed by size and seed) the
corpus of benchmarks/secrets_corpus.py, then in the same run times kubeward over every file on
one core (next to the raw cost of reading the files) and `detect-secrets scan --all-files`
(installed into its own venv under benchmarks/.cache, run with one core too), and scores both
against the ground truth: a reported (path, line) on a planted secret is a true positive, any
other reported line a false positive.

    python benchmarks/secrets.py [--size-mb 200] [--seed 1] [--rebuild] [--skip-detect-secrets]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as a script, this file's directory is first on sys.path, where this file shadows the
# standard library's `secrets` for every later import: move the directory to the end.
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path.append(sys.path.pop(0))
elif str(HERE) not in sys.path:
    sys.path.append(str(HERE))

import secrets_corpus  # noqa: E402
from secrets_corpus import MB, GroundTruth, Planted  # noqa: E402

CACHE = HERE / ".cache"
DS_VENV = CACHE / "venv-detect-secrets"
TARGETS = {"recall": 0.98, "precision": 0.95, "mb_per_s": 50.0, "speedup": 20.0}
SHOW = 30

Report = tuple[str, int, str]  # (path, line, rule id)


@dataclass
class Score:
    """Recall and precision of one tool's reports against the ground truth."""

    planted: int
    reported: int  # distinct (path, line)
    true_reports: int  # reported lines on a planted secret
    found: int  # planted secrets with at least one report
    missed: list[Planted] = field(default_factory=list)
    false_positives: list[Report] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        return self.true_reports / self.reported if self.reported else 1.0


def score(reports: Iterable[Report], planted: Iterable[Planted]) -> Score:
    """Score `reports` (deduplicated by (path, line), any rule) against `planted`."""
    by_path: dict[str, list[Planted]] = {}
    plants = list(planted)
    for p in plants:
        by_path.setdefault(p.path, []).append(p)
    lines: dict[tuple[str, int], str] = {}
    for path, line, rule in reports:
        lines.setdefault((path, line), rule)
    hit: set[int] = set()
    true_reports = 0
    false_positives: list[Report] = []
    for (path, line), rule in sorted(lines.items()):
        covering = [p for p in by_path.get(path, ()) if p.covers(line)]
        if covering:
            true_reports += 1
            hit.update(id(p) for p in covering)
        else:
            false_positives.append((path, line, rule))
    missed = sorted((p for p in plants if id(p) not in hit), key=lambda p: (p.kind, p.path, p.line))
    return Score(
        len(plants), len(lines), true_reports, len(plants) - len(missed), missed, false_positives
    )


def corpus(size_mb: int, seed: int, rebuild: bool) -> GroundTruth:
    """The cached corpus for (size_mb, seed), generated when missing, stale or `rebuild`."""
    root = CACHE / "secrets-corpus" / f"{size_mb}mb-seed{seed}"
    truth_file = GroundTruth.json_path(root)
    if not rebuild and root.is_dir() and truth_file.exists():
        truth = GroundTruth.load(root)
        wanted = set(secrets_corpus.rule_ids())
        have = {p.kind for p in truth.planted} | set(truth.rules_without_generator)
        if truth.version == secrets_corpus.VERSION and wanted <= have:
            return truth
        print("corpus is stale (generator or rule ids changed): regenerating", file=sys.stderr)
    shutil.rmtree(root, ignore_errors=True)
    truth_file.unlink(missing_ok=True)
    start = time.perf_counter()
    truth = secrets_corpus.generate(root, size_mb, seed)
    print(f"generated {root} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return truth


def corpus_files(root: Path) -> list[tuple[Path, str]]:
    """Every regular file under `root` with its relative POSIX path, in sorted order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath, name)
            out.append((full, full.relative_to(root).as_posix()))
    return out


def read_all(files: list[tuple[Path, str]]) -> tuple[float, int]:
    """Seconds to read every file, and the bytes read."""
    start = time.perf_counter()
    total = 0
    for full, _ in files:
        with open(full, "rb") as fh:
            total += len(fh.read())
    return time.perf_counter() - start, total


def run_kubeward(files: list[tuple[Path, str]], runs: int = 3) -> tuple[float, list[Report]]:
    """Seconds (best of `runs`) to read and scan every file in this process, and the reports."""
    from kubeward.secrets.engine import SecretScanner, load_placeholders, load_rules

    scanner = SecretScanner(load_rules(), placeholders=load_placeholders())
    scanner.scan(b"warm up: password = 'x'\n", "warmup.txt")
    best = float("inf")
    reports: list[Report] = []
    for _ in range(runs):
        reports = []
        start = time.perf_counter()
        for full, rel in files:
            with open(full, "rb") as fh:
                data = fh.read()
            for m in scanner.scan(data, rel):
                reports.append((rel, m.line, m.rule.id))
        best = min(best, time.perf_counter() - start)
    return best, reports


def detect_secrets_bin() -> Path:
    """detect-secrets in its own venv under benchmarks/.cache, installed when missing."""
    exe = DS_VENV / "bin" / "detect-secrets"
    if not exe.exists():
        print("installing detect-secrets into", DS_VENV, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(DS_VENV)], check=True)
        subprocess.run(
            [str(DS_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "detect-secrets"],
            check=True,
        )
    return exe


def run_detect_secrets(root: Path) -> tuple[float, list[Report], str]:
    """Seconds for `detect-secrets -c 1 scan --all-files` over `root`, its reports, version."""
    exe = detect_secrets_bin()
    version = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, check=True
    ).stdout
    start = time.perf_counter()
    proc = subprocess.run(
        [str(exe), "-c", "1", "scan", "--all-files", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - start
    reports: list[Report] = []
    for path, found in json.loads(proc.stdout)["results"].items():
        rel = Path(path).as_posix().removeprefix("./")
        reports += [(rel, int(f["line_number"]), str(f["type"])) for f in found]
    return seconds, reports, version.strip()


def redacted(value: str) -> str:
    return value.strip()[:4] + "****"


def print_details(truth: GroundTruth, result: Score) -> None:
    """Missed planted secrets and false positives (at most SHOW of each), with summaries."""
    decoys = {(d.path, d.line): d.kind for d in truth.decoys}
    missed_by_kind = Counter(p.kind for p in result.missed)
    planted_by_kind = Counter(p.kind for p in truth.planted)
    print(
        f"\nkubeward missed {len(result.missed)} planted secrets" + (":" if result.missed else "")
    )
    for kind, n in sorted(missed_by_kind.items()):
        print(f"  {kind:32} {n:3} of {planted_by_kind[kind]}")
    for p in result.missed[:SHOW]:
        print(f"    {p.kind:32} {p.path}:{p.line}  {redacted(p.value)}  ({p.carrier})")
    fp_by_rule = Counter(rule for _, _, rule in result.false_positives)
    print(
        f"\nkubeward false positives: {len(result.false_positives)}"
        + (":" if result.false_positives else "")
    )
    for rule, n in fp_by_rule.most_common():
        print(f"  {rule:32} {n:3}")
    for path, line, rule in result.false_positives[:SHOW]:
        what = decoys.get((path, line))
        print(f"    {rule:32} {path}:{line}" + (f"  (decoy: {what})" if what else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true", help="regenerate the corpus")
    parser.add_argument("--skip-detect-secrets", action="store_true")
    args = parser.parse_args()

    truth = corpus(args.size_mb, args.seed, args.rebuild)
    files = corpus_files(truth.root)
    read_all(files)  # warm the page cache: both tools then read from memory
    read_s, total = read_all(files)
    mb = total / MB
    print(f"corpus   : {truth.root}")
    print(
        f"           {len(files)} files, {mb:.1f} MB, {len(truth.planted)} planted secrets "
        f"({len({p.kind for p in truth.planted})} rule types), {len(truth.decoys)} decoys"
    )
    if truth.rules_without_generator:
        print(
            f"           rules with no generator (not planted): "
            f"{', '.join(truth.rules_without_generator)}"
        )
    print(f"read     : {read_s:.2f} s for every file ({mb / read_s:.0f} MB/s), page cache warm")

    rows: list[tuple[str, float, Score]] = []
    kw_s, kw_reports = run_kubeward(files)
    kw = score(kw_reports, truth.planted)
    rows.append(("kubeward", kw_s, kw))
    ds_version = ""
    if not args.skip_detect_secrets:
        ds_s, ds_reports, ds_version = run_detect_secrets(truth.root)
        rows.append((f"detect-secrets {ds_version}", ds_s, score(ds_reports, truth.planted)))

    print(
        f"\n{'tool':24} {'seconds':>9} {'MB/s':>8} {'recall':>7} {'precision':>9} "
        f"{'found':>9} {'reported':>8}"
    )
    for name, seconds, s in rows:
        print(
            f"{name:24} {seconds:9.2f} {mb / seconds:8.1f} {s.recall:7.3f} {s.precision:9.3f} "
            f"{s.found:4}/{s.planted:<4} {s.reported:8}"
        )
    print(
        "(kubeward: one process, one core, reading included, best of 3; detect-secrets: --cores 1)"
    )
    speedup = rows[1][1] / kw_s if len(rows) > 1 else None
    if speedup is not None:
        print(f"\nspeed    : kubeward is {speedup:.1f}x detect-secrets")
    checks = [
        ("recall", kw.recall, TARGETS["recall"]),
        ("precision", kw.precision, TARGETS["precision"]),
        ("MB/s", mb / kw_s, TARGETS["mb_per_s"]),
    ] + ([("x detect-secrets", speedup, TARGETS["speedup"])] if speedup is not None else [])
    print(
        "targets  : "
        + "; ".join(
            f"{name} {value:.3g} >= {goal:g} {'ok' if value >= goal else 'MISSED'}"
            for name, value, goal in checks
        )
    )
    print_details(truth, kw)


if __name__ == "__main__":
    main()
