"""Kubernetes manifest checks: kubeward against checkov on the shared manifest corpus, same run.

Prints objects per second for both (kubeward in-process: find, read, load and run every
check, as `kubeward config` does; checkov as a command, which is how users run it), their
ratio (target: kubeward at least 20x faster), load problems, findings per check, and for each
Pod Security Standards control with a checkov counterpart the objects each tool flags and the
first disagreements.

    .venv/bin/python benchmarks/k8s.py [--corpus DIR] [--repeat N] [--show N]

checkov is installed from PyPI into benchmarks/.cache/venv-checkov when missing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from checkov_venv import checkov_command

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "k8s-manifests"

# PSS control -> (kubeward check, checkov checks that look for the same thing). Ids checked
# against `checkov --list --framework kubernetes` (checkov 3.3) and kubeward's metadata.
PSS_PAIRS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("baseline: Host Namespaces", "KW-K8S-011", ("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19")),
    ("baseline: Privileged Containers", "KW-K8S-012", ("CKV_K8S_16",)),
    ("baseline: Capabilities", "KW-K8S-013", ("CKV_K8S_25",)),
    ("baseline: HostPath Volumes", "KW-K8S-014", ("CKV_K8S_27",)),
    ("baseline: Host Ports", "KW-K8S-015", ("CKV_K8S_26",)),
    ("restricted: Privilege Escalation", "KW-K8S-031", ("CKV_K8S_20",)),
    ("restricted: Running as Non-root", "KW-K8S-032", ("CKV_K8S_23",)),
    ("restricted: Seccomp", "KW-K8S-034", ("CKV_K8S_31",)),
    ("restricted: Capabilities", "KW-K8S-035", ("CKV_K8S_37",)),
)
# PSS controls checkov has no check for: reported with kubeward's counts only.
PSS_ONLY_KUBEWARD = (
    ("baseline: HostProcess", "KW-K8S-010"),
    ("baseline: AppArmor", "KW-K8S-016"),
    ("baseline: SELinux", "KW-K8S-017"),
    ("baseline: /proc Mount Type", "KW-K8S-018"),
    ("baseline: Seccomp", "KW-K8S-019"),
    ("baseline: Sysctls", "KW-K8S-020"),
    ("restricted: Volume Types", "KW-K8S-030"),
    # CKV_K8S_23 is about runAsNonRoot (paired with KW-K8S-032); CKV_K8S_40 asks for a UID
    # above 10000, which is not the PSS rule (runAsUser must not be 0)
    ("restricted: Running as Non-root user", "KW-K8S-033"),
)

ObjectKey = tuple[str, str, str]  # (file relative to the corpus, kind, name)


def run_kubeward(corpus: Path, repeat: int) -> tuple[float, Any]:
    """Best wall time over `repeat` full scans (find, read, load, check) and the last scan."""
    from kubeward.misconfig.engine import checks_for
    from kubeward.misconfig.kubernetes.scan import find_manifests, scan_manifest_files

    checks_for("kubernetes")  # import the check modules outside the timing, as startup does
    best = float("inf")
    scan = None
    for _ in range(repeat):
        start = time.perf_counter()
        scan = scan_manifest_files(list(find_manifests(corpus)))
        best = min(best, time.perf_counter() - start)
    return best, scan


def _resource_name(resource: str) -> tuple[str, str]:
    """(kind, name) from kubeward's `Kind/ns/name` or `Kind/name`."""
    parts = resource.split(" (", maxsplit=1)[0].split("/")
    return parts[0], parts[-1]


def kubeward_flagged(scan: Any) -> dict[str, set[ObjectKey]]:
    flagged: dict[str, set[ObjectKey]] = {}
    for finding in scan.findings:
        kind, name = _resource_name(finding.location.resource or "?/?")
        key = (finding.location.path or "", kind, name)
        flagged.setdefault(finding.rule_id, set()).add(key)
    return flagged


def run_checkov(corpus: Path) -> tuple[float, dict[str, set[ObjectKey]], int, int]:
    """Wall time of one checkov run, objects flagged per check, parse errors, resources."""
    exe = checkov_command()
    cmd = [str(exe), "-d", str(corpus), "--framework", "kubernetes", "-o", "json"]
    cmd += ["--soft-fail", "--skip-download", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=corpus)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"checkov failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    document = json.loads(done.stdout)
    reports = document if isinstance(document, list) else [document]
    flagged: dict[str, set[ObjectKey]] = {}
    errors = resources = 0
    for report in reports:
        if not isinstance(report, dict) or "results" not in report:
            continue
        summary = report.get("summary", {})
        errors += int(summary.get("parsing_errors", 0))
        resources += int(summary.get("resource_count", 0))
        for failed in report["results"].get("failed_checks", ()):
            path = str(failed["file_path"]).lstrip("/")
            # checkov names resources KIND.NAMESPACE.NAME (NAME may contain dots)
            kind, _, rest = str(failed["resource"]).partition(".")
            name = rest.partition(".")[2] or rest
            flagged.setdefault(str(failed["check_id"]), set()).add((path, kind, name))
    return elapsed, flagged, errors, resources


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--show", type=int, default=3, help="disagreements shown per control")
    args = parser.parse_args()
    from kubeward.misconfig.engine import load_metadata

    corpus: Path = args.corpus.resolve()
    kw_time, scan = run_kubeward(corpus, args.repeat)
    ck_time, ck_flagged, ck_errors, ck_resources = run_checkov(corpus)
    objects = len(scan.objects)
    kw_rate = objects / kw_time
    ck_rate = ck_resources / ck_time
    print(f"corpus: {corpus} ({scan.files} files, {objects} objects)")
    print(
        f"kubeward: {kw_time:.3f} s, {kw_rate:,.0f} objects/s (in-process, best of {args.repeat})"
    )
    print(
        f"checkov:  {ck_time:.3f} s, {ck_rate:,.1f} objects/s ({ck_resources} resources, one run)"
    )
    ratio = kw_rate / ck_rate
    print(f"ratio:    {ratio:,.1f}x ({'meets' if ratio >= 20 else 'MISSES'} the 20x target)")
    problems = Counter(
        f.rule_id for f in scan.findings if f.rule_id in ("KW-K8S-000", "KW-K8S-001")
    )
    parse_files = sorted({f.location.path for f in scan.findings if f.rule_id == "KW-K8S-000"})
    print(
        f"kubeward documents that do not parse (KW-K8S-000): {problems['KW-K8S-000']} "
        f"in {len(parse_files)} files; duplicate keys (KW-K8S-001): {problems['KW-K8S-001']}"
    )
    for path in parse_files:
        print(f"  does not parse: {path}")
    print(f"checkov parsing errors: {ck_errors}")
    errors = [w for w in scan.warnings if " failed on " in w]
    print(f"kubeward check errors: {len(errors)}")
    for line in errors[:5]:
        print(f"  {line}")

    metadata = load_metadata()
    ours = kubeward_flagged(scan)
    print("\nkubeward findings per check:")
    counts = Counter(f.rule_id for f in scan.findings)
    for rule_id, count in sorted(counts.items()):
        title = metadata[rule_id].title if rule_id in metadata else ""
        hit = len(ours.get(rule_id, ()))
        print(f"  {rule_id:<11} {count:>5} findings on {hit:>4} objects  {title}")

    print("\nPod Security Standards controls (objects flagged; disagreements):")
    for control, kw_id, ck_ids in PSS_PAIRS:
        mine = ours.get(kw_id, set())
        theirs: set[ObjectKey] = set().union(*(ck_flagged.get(c, set()) for c in ck_ids))
        only_kw = sorted(mine - theirs)
        only_ck = sorted(theirs - mine)
        print(
            f"  {control}: kubeward {kw_id} {len(mine)}, checkov {'+'.join(ck_ids)} "
            f"{len(theirs)}, both {len(mine & theirs)}, only kubeward {len(only_kw)}, "
            f"only checkov {len(only_ck)}"
        )
        for key in only_kw[: args.show]:
            print(f"    only kubeward: {key[0]} {key[1]}/{key[2]}")
        for key in only_ck[: args.show]:
            print(f"    only checkov:  {key[0]} {key[1]}/{key[2]}")
    for control, kw_id in PSS_ONLY_KUBEWARD:
        print(f"  {control}: kubeward {kw_id} {len(ours.get(kw_id, set()))} (no checkov check)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
