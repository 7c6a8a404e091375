"""End to end: `kubeward image --scanners misconfig` on a built image with known problems.

The image runs as root, holds a setuid binary, a password in its Env and an apt cache, and
has a HEALTHCHECK and a version tag. Exactly those four checks must fire, with the setuid
file's layer, in JSON, table and SARIF, and no output may contain the password.
(The value is fake, generated for this test.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import imagebuild as ib

pytestmark = pytest.mark.e2e

KUBEWARD = str(Path(sys.executable).with_name("kubeward"))
DB_PASSWORD = "Hn4" + "wQ8zLr2Vt6Kp"
APT_LIST = "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease"
EXPECTED = {"KW-IMG-001", "KW-IMG-003", "KW-IMG-004", "KW-IMG-006"}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    layout = tmp_path_factory.mktemp("misconfig") / "layout"
    built = ib.write_oci_layout(
        layout,
        [
            [
                ib.dir_("etc"),
                ib.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                ib.file("etc/shadow", "root:*:19000:0:99999:7:::\n", 0o640),
                ib.dir_("usr"),
                ib.dir_("usr/bin"),
                ib.file("usr/bin/ls", b"\x7fELF fake", 0o755),
            ],
            [
                ib.file("usr/bin/suid-tool", b"\x7fELF fake", 0o4755),
                ib.dir_("var/lib/apt/lists"),
                ib.file("var/lib/apt/lists/lock", ""),
                ib.file(APT_LIST, "Origin: Debian\nSuite: stable\n"),
            ],
        ],
        tag="1.0",
        config_extra={
            "config": {
                "User": "",
                "Env": ["PATH=/usr/bin:/bin", f"DB_PASSWORD={DB_PASSWORD}"],
                "Healthcheck": {"Test": ["CMD", "/usr/bin/ls"], "Interval": 30_000_000_000},
            }
        },
    )
    return {"target": f"oci:{layout}:1.0", "diff_ids": built.diff_ids}


def scan(image: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [KUBEWARD, "image", image["target"], "--scanners", "misconfig", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert DB_PASSWORD not in done.stdout and DB_PASSWORD not in done.stderr
    return done


def test_exactly_the_four_problems_in_json(image: dict[str, Any]) -> None:
    report = json.loads(scan(image, "-f", "json").stdout)
    upper = image["diff_ids"][1]  # the layer that added the setuid file and the apt cache
    found = sorted(
        (
            f["ruleId"],
            f["location"]["path"] or "",
            f["location"]["resource"] or "",
            f["location"]["layer"] or "",
        )
        for f in report["findings"]
    )
    assert {f["kind"] for f in report["findings"]} == {"misconfiguration"}
    assert found == [
        ("KW-IMG-001", "", "image config", ""),
        ("KW-IMG-003", "", "image config", ""),
        ("KW-IMG-004", "usr/bin/suid-tool", "", upper),
        ("KW-IMG-006", "var/lib/apt/lists", "", upper),
    ]
    by_id = {f["ruleId"]: f for f in report["findings"]}
    assert "DB_PASSWORD" in by_id["KW-IMG-003"]["message"]
    assert by_id["KW-IMG-004"]["message"] == "usr/bin/suid-tool is setuid (mode 4755)"
    assert by_id["KW-IMG-001"]["severity"] == "HIGH"


def test_table_and_sarif(image: dict[str, Any]) -> None:
    table = scan(image).stdout
    for rule_id in EXPECTED:
        assert rule_id in table
    assert "usr/bin/suid-tool" in table
    sarif = json.loads(scan(image, "-f", "sarif").stdout)
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == EXPECTED
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in results
        for loc in r.get("locations", [])
        if "physicalLocation" in loc
    }
    assert "usr/bin/suid-tool" in uris


def test_misconfig_is_not_a_scanner_of_fs(tmp_path: Path) -> None:
    done = subprocess.run(
        [KUBEWARD, "fs", str(tmp_path), "--scanners", "misconfig"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "choose from vuln, secret" in done.stderr


def test_kubeward_yaml_selects_image_checks(image: dict[str, Any], tmp_path: Path) -> None:
    config = tmp_path / "kubeward.yaml"
    config.write_text("checks:\n  disable: [KW-IMG-001, KW-IMG-006]\n")
    report = json.loads(scan(image, "-f", "json", "--config", str(config)).stdout)
    assert sorted(f["ruleId"] for f in report["findings"]) == ["KW-IMG-003", "KW-IMG-004"]


def test_kubeward_yaml_with_an_unknown_check_is_refused(
    image: dict[str, Any], tmp_path: Path
) -> None:
    config = tmp_path / "kubeward.yaml"
    config.write_text("checks:\n  enable: [KW-IMG-999]\n")
    done = subprocess.run(
        [KUBEWARD, "image", image["target"], "--scanners", "misconfig", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"kubeward: error: {config}:2: checks.enable: 'KW-IMG-999' is neither a check id nor a tag"
    )
