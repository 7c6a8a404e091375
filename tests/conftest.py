"""Shared test set-up: helper modules importable, and no silent skips in the test command.

Some tests skip when a peer (dpkg, rpm, Go, a JDK, the shared data) is missing, so that a
developer without them can still run the rest. The README's test command installs every
peer and sets KUBEWARD_STRICT_SKIPS=1: there a skip is a failure, never a quiet pass.
"""

import os
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

STRICT_SKIPS = os.environ.get("KUBEWARD_STRICT_SKIPS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if STRICT_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in the strict test command (a peer is missing?): {reason}"
