"""Dockerfile checks: kubeward against checkov on the shared Dockerfile corpus, same run.

Prints files per second for both (kubeward in-process: parse and every check; checkov as a
command, which is how users run it), their ratio (target: kubeward at least 20x faster),
kubeward's parse failures, findings per check, and for each pair of checks that look for the
same problem, how many files each flags and the first files where they disagree.

    .venv/bin/python benchmarks/dockerfiles.py [--corpus DIR] [--repeat N]

checkov is installed from PyPI into benchmarks/.cache/venv-checkov when missing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from checkov_venv import checkov_command

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "dockerfiles"

# kubeward check <-> checkov check that looks for the same problem (ids checked against
# checkov 3.3 `checkov --list --framework dockerfile` and kubeward's metadata at run time).
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("KW-DF-001", "CKV_DOCKER_3", "no USER / runs as root"),
    ("KW-DF-001", "CKV_DOCKER_8", "last USER is root"),
    ("KW-DF-002", "CKV_DOCKER_7", "base image :latest or untagged"),
    ("KW-DF-005", "CKV_DOCKER_4", "ADD instead of COPY (local files)"),
    ("KW-DF-020", "CKV_DOCKER_1", "EXPOSE 22"),
    ("KW-DF-021", "CKV_DOCKER_2", "no HEALTHCHECK"),
    ("KW-DF-024", "CKV_DOCKER_10", "relative WORKDIR"),
    ("KW-DF-026", "CKV_DOCKER_11", "duplicate stage name"),
    ("KW-DF-027", "CKV_DOCKER_6", "MAINTAINER"),
    ("KW-DF-031", "CKV2_DOCKER_1", "sudo in RUN"),
)


def run_kubeward(files: list[tuple[Path, str]], repeat: int) -> tuple[float, dict[str, Any]]:
    """Best wall time over `repeat` runs of what `kubeward config` does after finding the
    files: read, parse and run every check, on the usable CPUs as the command does."""
    from kubeward.cli.config import DockerfileScan, scan_files
    from kubeward.misconfig.engine import Selection, checks_for

    checks_for("dockerfile")  # import and load metadata outside the timing, as startup does
    best = float("inf")
    scan = DockerfileScan()
    for _ in range(repeat):
        start = time.perf_counter()
        scan = scan_files(files, Selection())
        best = min(best, time.perf_counter() - start)
    serial_start = time.perf_counter()
    scan_files(files, Selection(), jobs=1)
    serial = time.perf_counter() - serial_start
    flagged: dict[str, set[str]] = {}
    for finding in scan.findings:
        flagged.setdefault(finding.rule_id, set()).add(finding.location.path or "")
    return best, {
        "findings": Counter(f.rule_id for f in scan.findings),
        "flagged": flagged,
        "parse_failures": sum(1 for f in scan.findings if f.rule_id == "KW-DF-000"),
        "warnings": scan.warnings,
        "serial": serial,
    }


def run_checkov(corpus: Path) -> tuple[float, dict[str, set[str]], int]:
    """Wall time of one checkov run over `corpus`, files flagged per check, parse errors."""
    exe = checkov_command()
    cmd = [str(exe), "-d", str(corpus), "--framework", "dockerfile", "-o", "json"]
    cmd += ["--soft-fail", "--skip-download", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"checkov failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    document = json.loads(done.stdout)
    reports = document if isinstance(document, list) else [document]
    flagged: dict[str, set[str]] = {}
    errors = 0
    for report in reports:
        if not isinstance(report, dict) or "results" not in report:
            continue
        errors += int(report.get("summary", {}).get("parsing_errors", 0))
        for failed in report["results"].get("failed_checks", ()):
            path = str(failed["file_path"]).lstrip("/")
            flagged.setdefault(str(failed["check_id"]), set()).add(path)
    return elapsed, flagged, errors


def _cpus() -> int:
    from kubeward.cli.config import _usable_cpus

    return _usable_cpus()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from kubeward.cli.config import find_dockerfiles
    from kubeward.misconfig.engine import load_metadata

    corpus: Path = args.corpus.resolve()
    files = list(find_dockerfiles(corpus))
    if not files:
        raise SystemExit(f"no Dockerfiles under {corpus}")
    print(f"corpus: {corpus} ({len(files)} Dockerfiles)")

    kw_time, kw = run_kubeward(files, args.repeat)
    ck_time, ck_flagged, ck_errors = run_checkov(corpus)
    kw_rate = len(files) / kw_time
    ck_rate = len(files) / ck_time
    cpus = _cpus()
    print(
        f"kubeward: {kw_time:.3f} s, {kw_rate:,.0f} files/s (in-process, {cpus} CPUs, best of "
        f"{args.repeat}; one process: {kw['serial']:.3f} s)"
    )
    print(f"checkov:  {ck_time:.3f} s, {ck_rate:,.1f} files/s (command, one run)")
    verdict = "meets" if kw_rate / ck_rate >= 20 else "MISSES"
    print(f"ratio:    {kw_rate / ck_rate:,.1f}x ({verdict} the 20x target)")
    print(f"kubeward parse failures (KW-DF-000): {kw['parse_failures']}")
    print(f"checkov parsing errors: {ck_errors}")
    for warning in kw["warnings"][:10]:
        print(f"kubeward warning: {warning}")

    metadata = load_metadata()
    print("\nkubeward findings per check:")
    for rule_id, count in sorted(kw["findings"].items()):
        title = metadata[rule_id].title if rule_id in metadata else ""
        files_hit = len(kw["flagged"].get(rule_id, ()))
        print(f"  {rule_id:<10} {count:>6} findings in {files_hit:>4} files  {title}")

    known = {rel for _, rel in files}
    print("\ncorresponding checks (files flagged; disagreements, first 5):")
    for kw_id, ck_id, topic in PAIRS:
        if kw_id not in metadata:
            print(f"  {kw_id} <-> {ck_id} ({topic}): {kw_id} does not exist in kubeward")
            continue
        ours = kw["flagged"].get(kw_id, set())
        theirs = ck_flagged.get(ck_id, set()) & known
        print(
            f"  {kw_id} <-> {ck_id} ({topic}; kubeward: {metadata[kw_id].title}): "
            f"kubeward {len(ours)}, checkov {len(theirs)}, both {len(ours & theirs)}"
        )
        for label, only in (("only kubeward", ours - theirs), ("only checkov", theirs - ours)):
            if only:
                print(f"    {label} ({len(only)}): {', '.join(sorted(only)[:5])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
