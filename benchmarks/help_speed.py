"""Time `kubeward --help` (wall, best of 10) next to a bare `python -c pass`.

python benchmarks/help_speed.py [--check]   # --check: exit 1 above the 150 ms target
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

TARGET_MS = 150.0


def best_ms(cmd: list[str], runs: int = 10) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    kubeward = str(Path(sys.executable).with_name("kubeward"))
    bare = best_ms([sys.executable, "-c", "pass"])
    help_ms = best_ms([kubeward, "--help"])
    sbom_help = best_ms([kubeward, "sbom", "--help"])
    print(f"python -c pass     : {bare:6.1f} ms")
    print(f"kubeward --help    : {help_ms:6.1f} ms (target <= {TARGET_MS:.0f} ms)")
    print(f"kubeward sbom --help: {sbom_help:6.1f} ms")
    if "--check" in sys.argv and max(help_ms, sbom_help) > TARGET_MS:
        sys.exit(f"--help is slower than {TARGET_MS:.0f} ms")


if __name__ == "__main__":
    main()
