"""End to end: secrets in an image, found wherever they hide and never printed in full.

The image has a secret in a file that a later layer deletes, one in the config's Env, one
in a build argument recorded in the history, and one in a configuration file. All four
must be found, nothing else, in table, JSON and SARIF, and no output may contain a raw
secret. (All values are fake, generated for this test.)
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

# fake credentials, well-formed for their rules
AWS_KEY_ID = "AKIA" + "QX7RZ2MB5NW4KT6P"
AWS_SECRET = "kW9v2Rq" + "T8yLm3Zp4Xc6Nb1Hj5Df7Gs0Aa2Ee9Uu3"
GITHUB_TOKEN = "ghp_" + "R4nd0mF4k3T0k3nV4lu3F0rT3st1ngAbCd12"
NPM_TOKEN = "npm_" + "Zx8Cv7Bn6Mq5Wa4Se3Rd2Tf1Gy0Hu9Ji8Ko7"
DB_PASSWORD = "Vq7kP2m" + "Xz9Lw4rT8"
SECRETS = [AWS_SECRET, GITHUB_TOKEN, NPM_TOKEN, DB_PASSWORD]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("secrets")
    layout = tmp / "layout"
    env_file = f"AWS_ACCESS_KEY_ID={AWS_KEY_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"
    built = ib.write_oci_layout(
        layout,
        [
            [ib.file("app/.env", env_file), ib.file("app/main.py", "print('hello')\n")],
            [
                ib.whiteout("app/.env"),
                ib.file(
                    "etc/app/config.yaml",
                    "server:\n  port: 8080\ndatabase:\n"
                    f"  url: postgres://app:{DB_PASSWORD}@db.internal:5432/app\n",
                ),
            ],
        ],
        tag="1",
        config_extra={
            "config": {"Env": ["PATH=/usr/bin:/bin", f"GITHUB_TOKEN={GITHUB_TOKEN}"]},
            "history": [
                {"created_by": "COPY app /app"},
                {
                    "created_by": f"|1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c npm ci && rm -f /app/.env",
                },
            ],
        },
    )
    return {"tmp": tmp, "target": f"oci:{layout}:1", "diff_ids": built.diff_ids}


def scan(image: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [KUBEWARD, "image", image["target"], "--scanners", "secret", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for raw in (*SECRETS, AWS_KEY_ID):
        assert raw not in done.stdout and raw not in done.stderr
    return done


def test_all_four_found_and_nothing_else(image: dict[str, Any]) -> None:
    report = json.loads(scan(image, "-f", "json").stdout)
    lower, upper = image["diff_ids"]
    found = sorted(
        (
            f["ruleId"],
            f["location"]["path"] or "",
            f["location"]["resource"] or "",
            f["location"]["line"],
            f["location"]["layer"] or "",
            f["evidence"]["secret"],
            f["evidence"].get("deletedByLaterLayer", ""),
        )
        for f in report["findings"]
    )
    assert found == [
        # 1. the .env a later layer deleted: both AWS values, in the layer that added them
        ("aws-access-key-id", "app/.env", "", 1, lower, "AKIA****", "yes"),
        ("aws-secret-access-key", "app/.env", "", 2, lower, "kW9v****", "yes"),
        # 4. the configuration file
        ("database-url-password", "etc/app/config.yaml", "", 4, upper, "Vq7k****", ""),
        # 2. the config's Env (second entry)
        ("github-pat", "", "image config Env", 2, "", "ghp_****", ""),
        # 3. the build argument recorded in the second history step
        ("npm-access-token", "", "image history", 2, "", "npm_****", ""),
    ]
    deleted = [f for f in report["findings"] if f["location"]["path"] == "app/.env"]
    assert all("a later layer deleted or replaced" in f["message"] for f in deleted)
    # the report's own copy of the history is scrubbed too
    assert report["artifact"]["layers"][1]["createdBy"] == (
        "|1 NPM_TOKEN=npm_**** /bin/sh -c npm ci && rm -f /app/.env"
    )


def test_table_and_sarif_redacted(image: dict[str, Any]) -> None:
    table = scan(image).stdout
    assert "app/.env" in table and "etc/app/config.yaml" in table
    sarif = json.loads(scan(image, "-f", "sarif").stdout)
    results = sarif["runs"][0]["results"]
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in results
        for loc in r.get("locations", [])
        if "physicalLocation" in loc
    }
    assert uris == {"app/.env", "etc/app/config.yaml"}
    assert len(results) == len(json.loads(scan(image, "-f", "json").stdout)["findings"])
