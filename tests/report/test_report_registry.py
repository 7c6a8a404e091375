"""The writer registry and the helpers every SBOM writer shares."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime

import pytest

from kubeward.errors import UsageError
from kubeward.model import ArtifactInfo, ScanResult
from kubeward.report import WRITERS, creation_time, get_writer, spdx_expression


def test_every_format_resolves_to_a_working_writer() -> None:
    assert sorted(WRITERS) == ["cyclonedx", "json", "sarif", "spdx-json", "table"]
    result = ScanResult(artifact=ArtifactInfo(name="scratch", kind="fs"))
    for fmt in WRITERS:
        out = io.BytesIO()
        get_writer(fmt)(result, out)
        assert out.getvalue().endswith(b"\n"), fmt


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown report format 'xml' \(choose from cyclonedx"):
        get_writer("xml")


def test_importing_the_registry_does_not_import_heavy_writers() -> None:
    code = (
        "import sys, kubeward.report\n"
        "heavy = [m for m in ('rich', 'cyclonedx', 'license_expression') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout == "[]\n"


def test_creation_time_honours_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert creation_time() == datetime(1970, 1, 1, tzinfo=UTC)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    before = datetime.now(UTC).replace(microsecond=0)
    assert before <= creation_time() <= datetime.now(UTC)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1.5")
    with pytest.raises(UsageError):
        creation_time()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MIT", "MIT"),
        ("mit", "MIT"),
        ("Apache-2.0 OR MIT", "Apache-2.0 OR MIT"),
        ("GPL-2.0+", "GPL-2.0-or-later"),
        (
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
        ),
        ("Proprietary, see LICENSE.txt", None),
        ("MIT AND", None),
        ("LicenseRef-acme", None),
        ("", None),
        ("MIT\x00", None),
        ("MIT OR " * 500 + "MIT", None),
    ],
)
def test_spdx_expression(text: str, expected: str | None) -> None:
    assert spdx_expression(text) == expected
