"""checkov for the side-by-side benchmarks, installed from PyPI into benchmarks/.cache when
missing (never into the project's environment: its pins would fight ours)."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

CHECKOV_VENV = Path(__file__).resolve().parent / ".cache" / "venv-checkov"


def checkov_command() -> Path:
    """The checkov executable of the benchmark venv, installed there when missing."""
    exe = CHECKOV_VENV / "bin" / "checkov"
    if not exe.exists():
        print(f"installing checkov into {CHECKOV_VENV} ...", file=sys.stderr)
        venv.create(CHECKOV_VENV, with_pip=True)
        pip = CHECKOV_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "checkov"], check=True)
    return exe
