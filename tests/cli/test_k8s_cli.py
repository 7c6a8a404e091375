"""`kubeward k8s` end to end in-process: options, JSON report, compliance, exit codes, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from fake_apiserver import FakeApiServer
from kubeward.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))
from test_audit import small_cluster

FEED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "osv" / "k8s-cve-feed-osv"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)  # no kubeward.yaml or ignore file of the repo is found
    with FakeApiServer(small_cluster(), forbidden=("secrets",), version="v1.9.3") as srv:
        srv.write_kubeconfig(tmp_path / "kubeconfig")
        yield srv


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str, str]:
    code = main(["k8s", "--kubeconfig", str(tmp_path / "kubeconfig"), "--no-anonymous-probe",
                 *args])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def test_json_report(
    server: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, tmp_path, "-f", "json", "--severity", "MEDIUM", "--k8s-cve-feed", str(FEED)
    )
    assert code == 0
    assert err.startswith("kubeward: warning: cannot list secrets: forbidden (")
    document = json.loads(out)
    cluster = document["cluster"]
    assert cluster["version"] == "v1.9.3"
    assert cluster["denied"][0]["resource"] == "secrets"
    assert cluster["objects"]["Pod"] == 5
    ids = [f["ruleId"] for f in document["findings"]]
    assert "KW-K8S-210" in ids and "KW-K8S-012" in ids
    cve = next(
        f for f in document["findings"]
        if f["ruleId"] == "KW-K8S-210" and "CVE-2017-1002101" in f["aliases"]
    )  # fmt: skip
    assert cve["severity"] == "HIGH"
    assert cve["fixedVersion"] == "1.9.4"
    assert cve["location"]["resource"] == "API server"
    assert all(f["severity"] in ("MEDIUM", "HIGH", "CRITICAL") for f in document["findings"])


def test_exit_code_severity_and_table(
    server: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, tmp_path, "--exit-code", "3", "-q")
    assert code == 3
    assert out.splitlines()[0] == f"cluster fake ({server.url})"  # no package count
    assert "KW-K8S-012" in out and "Pod/shop/web" in out
    code, out, _ = run(capsys, tmp_path, "-f", "json", "--exit-code", "3", "--severity", "CRITICAL")
    assert code == 3
    assert [f["ruleId"] for f in json.loads(out)["findings"]] == [
        "KW-K8S-107", "KW-K8S-012", "KW-K8S-012",
    ]  # fmt: skip
    code, out, _ = run(capsys, tmp_path, "--exit-code", "3", "--severity", "HIGH,", "-q")
    assert code == 0  # no HIGH finding


def test_namespace_options(
    server: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, tmp_path, "-f", "json", "-q", "-n", "shop,legacy",
                       "--exclude-namespaces", "legacy")  # fmt: skip
    assert code == 0
    resources = {f["location"]["resource"] for f in json.loads(out)["findings"]}
    assert not any("/secure/" in r or "/legacy/" in r or "kube-system" in r for r in resources)
    assert "Pod/shop/web" in resources


def test_compliance(
    server: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, tmp_path, "-f", "json", "-q", "--compliance", "k8s-pss-baseline")
    assert code == 0
    document = json.loads(out)
    controls = {c["id"]: c["status"] for c in document["compliance"]["controls"]}
    assert controls["Privileged Containers"] == "fail"
    assert document["cluster"]["checked"] == 11


def test_ignore_file(
    server: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".kubewardignore.yaml").write_text(
        "ignore:\n  - id: KW-K8S-012\n    reason: accepted\n"
    )
    code, out, _ = run(capsys, tmp_path, "-f", "json", "-q")
    assert code == 0
    assert "KW-K8S-012" not in {f["ruleId"] for f in json.loads(out)["findings"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "--format xml: choose one of table, json, sarif"),
        (["--scanners", "misconfig,nope"], "--scanners misconfig,nope: choose from"),
        (["--page-size", "0"], "--page-size must be between 1 and 10000, not 0"),
        (["--image-jobs", "0"], "--image-jobs must be between 1 and 64, not 0"),
        (["--severity", "BAD"], "unknown severity 'BAD'"),
        (["--compliance", "k8s-pss-baseline", "-f", "sarif"], "not sarif"),
        (["--k8s-cve-feed", "/nonexistent"], "--k8s-cve-feed /nonexistent: not a directory"),
        (["--kubeconfig", "/nonexistent"], "--kubeconfig /nonexistent: no such file"),
    ],
)
def test_bad_options(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    code = main(["k8s", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err, err


def test_unreachable_cluster_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeApiServer([]) as srv:
        srv.write_kubeconfig(tmp_path / "kubeconfig")
        url = srv.url
    code, out, err = run(capsys, tmp_path)
    assert code == 2
    assert out == ""
    assert err.startswith(f"kubeward: error: cannot reach the cluster at {url}: ")
    assert err.count("\n") == 1
