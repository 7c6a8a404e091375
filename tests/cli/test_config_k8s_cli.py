"""`kubeward config` on Kubernetes manifests: discovery next to Dockerfiles, stdin, exact
lines in JSON and SARIF, the ignore file, annotations, --compliance and option errors."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import kubeward.cli.main as cli_main

POD = """\
# a pod that breaks the baseline
apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: tools
spec:
  hostNetwork: true
  containers:
    - name: shell
      image: busybox:1.36
      securityContext:
        privileged: true
"""
CLEAN_NS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: tools
"""


def kubeward(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli_main.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def baseline(out: str) -> list[tuple[str, str, int | None, str]]:
    """(rule, path, line, resource) of the PSS baseline findings of a JSON report."""
    doc: dict[str, Any] = json.loads(out)
    return [
        (f["ruleId"], f["location"]["path"], f["location"]["line"], f["location"]["resource"])
        for f in doc["findings"]
        if f["ruleId"] in ("KW-K8S-011", "KW-K8S-012")
    ]


def tree(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "pod.yaml").write_text(POD)
    (tmp_path / "deploy" / "ns.yml").write_text(CLEAN_NS)
    (tmp_path / "Dockerfile").write_text("FROM alpine:latest\n")
    (tmp_path / "notes.txt").write_text("kind: Pod\n")
    return tmp_path


def test_directory_scan_finds_manifests_and_dockerfiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kubeward(capsys, "config", str(tree(tmp_path)), "-f", "json")
    assert code == 0
    assert baseline(out) == [
        ("KW-K8S-011", "deploy/pod.yaml", 8, "Pod/tools/debug"),
        ("KW-K8S-012", "deploy/pod.yaml", 13, "Pod/tools/debug"),
    ]
    rules = {f["ruleId"] for f in json.loads(out)["findings"]}
    assert "KW-DF-002" in rules  # the Dockerfile was checked in the same run


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(POD.encode())))
    code, out, _ = kubeward(capsys, "config", "-", "-f", "json")
    assert code == 0
    assert baseline(out) == [
        ("KW-K8S-011", "-", 8, "Pod/tools/debug"),
        ("KW-K8S-012", "-", 13, "Pod/tools/debug"),
    ]


def test_sarif_has_the_exact_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(POD)
    code, out, _ = kubeward(capsys, "config", str(path), "-f", "sarif")
    assert code == 0
    results = json.loads(out)["runs"][0]["results"]
    lines = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results
    }
    assert {("KW-K8S-011", 8), ("KW-K8S-012", 13)} <= lines


def test_exit_code_and_severity_filter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(POD)
    code, out, _ = kubeward(
        capsys, "config", str(path), "-f", "json", "--severity", "CRITICAL", "--exit-code", "3"
    )
    assert code == 3
    assert [f["ruleId"] for f in json.loads(out)["findings"]] == ["KW-K8S-012"]


def test_ignore_file_applies_to_manifest_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tree(tmp_path)
    (root / ".kubewardignore.yaml").write_text(
        "ignore:\n  - id: KW-K8S-012\n    path: deploy/pod.yaml\n    reason: lab only\n"
    )
    code, out, _ = kubeward(capsys, "config", str(root), "-f", "json")
    assert code == 0
    assert baseline(out) == [("KW-K8S-011", "deploy/pod.yaml", 8, "Pod/tools/debug")]


def test_annotation_exception_and_unused_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = POD.replace(
        "  namespace: tools\n",
        '  namespace: tools\n  annotations:\n    kubeward.io/ignore: "KW-K8S-012,KW-K8S-099 lab"\n',
    )
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    code, out, err = kubeward(capsys, "config", str(path), "-f", "json")
    assert code == 0
    assert baseline(out) == [("KW-K8S-011", "pod.yaml", 10, "Pod/tools/debug")]
    assert (
        "kubeward: warning: pod.yaml:8: kubeward.io/ignore on Pod/tools/debug: KW-K8S-099 "
        "suppressed nothing (unused exception)"
    ) in err.splitlines()


def test_compliance_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(POD)
    code, out, _ = kubeward(capsys, "config", str(path), "--compliance", "k8s-pss-baseline")
    assert code == 0
    lines = out.splitlines()
    assert "Privileged Containers          fail    1" in lines
    assert "HostPath Volumes               pass    0" in lines
    assert (
        '  Pod/tools/debug  pod.yaml:13  KW-K8S-012: container "shell" sets privileged: true'
        in lines
    )
    code, out, _ = kubeward(
        capsys, "config", str(path), "--compliance", "k8s-pss-baseline", "-f", "json"
    )
    assert code == 0
    doc = json.loads(out)
    status = {c["id"]: c["status"] for c in doc["compliance"]["controls"]}
    assert status["Privileged Containers"] == "fail"
    assert status["Host Namespaces"] == "fail"
    assert status["HostPath Volumes"] == "pass"
    assert doc["compliance"]["summary"] == {
        "pass": 10, "fail": 2, "manual": 0, "skipped": 0, "objects": 1
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--compliance", "k8s-nope"],
            "kubeward: error: unknown compliance spec 'k8s-nope' (choose from k8s-cis, k8s-nsa, "
            "k8s-pss-baseline, k8s-pss-restricted)",
        ),
        (
            ["--compliance", "k8s-cis", "-f", "sarif"],
            "kubeward: error: --compliance reports as table or json, not sarif",
        ),
        (["--dry-run"], "kubeward: error: --dry-run only goes with --fix"),
    ],
)
def test_option_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = kubeward(capsys, "config", str(tmp_path), *args)
    assert code == 2
    assert out == ""
    assert err.strip() == message


WEB = """\
# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: web   # main container
          image: nginx:1.27
"""
FIXED_IDS = {"KW-K8S-031", "KW-K8S-032", "KW-K8S-034", "KW-K8S-035", "KW-K8S-064", "KW-K8S-069"}


def rule_ids(out: str) -> set[str]:
    return {f["ruleId"] for f in json.loads(out)["findings"]}


def test_fix_dry_run_prints_the_diff_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "web.yaml").write_text(WEB)
    code, out, _ = kubeward(capsys, "config", str(tmp_path), "--fix", "--dry-run")
    assert code == 0
    assert out.splitlines()[:3] == ["--- a/web.yaml", "+++ b/web.yaml", "@@ -11,3 +11,14 @@"]
    assert "+            allowPrivilegeEscalation: false" in out.splitlines()
    assert (tmp_path / "web.yaml").read_text() == WEB


def test_fix_rewrites_and_reports_what_is_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "web.yaml").write_text(WEB)
    code, before, _ = kubeward(capsys, "config", str(tmp_path), "-f", "json")
    assert rule_ids(before) >= FIXED_IDS
    code, after, err = kubeward(capsys, "config", str(tmp_path), "--fix", "-f", "json")
    assert code == 0
    assert "kubeward: fixed 6 field(s) in 1 file(s)" in err.splitlines()
    assert rule_ids(after) == rule_ids(before) - FIXED_IDS
    text = (tmp_path / "web.yaml").read_text()
    assert text.startswith(WEB)  # comments, order and the untouched lines kept
    # fixing again changes nothing
    code, _, err = kubeward(capsys, "config", str(tmp_path), "--fix", "-f", "json")
    assert "kubeward: fixed 0 field(s) in 0 file(s)" in err.splitlines()
    assert (tmp_path / "web.yaml").read_text() == text


def test_custom_cel_check_from_kubeward_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "web.yaml").write_text(WEB)
    (tmp_path / "kubeward.yaml").write_text(
        "checks:\n"
        "  custom:\n"
        "    - id: ACME-001\n"
        "      title: Deployments need 2 replicas\n"
        "      severity: MEDIUM\n"
        "      match: {kinds: [Deployment]}\n"
        '      expression: "object.spec.replicas >= 2"\n'
    )
    code, out, _ = kubeward(capsys, "config", str(tmp_path), "-f", "json")
    assert code == 0
    acme = [f for f in json.loads(out)["findings"] if f["ruleId"] == "ACME-001"]
    assert [(f["location"]["path"], f["location"]["line"], f["severity"]) for f in acme] == [
        ("web.yaml", 2, "MEDIUM")
    ]


def test_kustomization_directory_is_rendered_and_traced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "web.yaml").write_text(WEB)
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [web.yaml]\n")
    code, out, err = kubeward(capsys, "config", str(tmp_path), "-f", "json")
    assert code == 0, err
    found = {
        (f["ruleId"], f["location"]["path"], f["location"]["line"])
        for f in json.loads(out)["findings"]
    }
    # the rendered Deployment is reported at its source file and line, once
    assert ("KW-K8S-064", "base/web.yaml", 12) in found
    assert sum(1 for rule, _, _ in found if rule == "KW-K8S-064") == 1


def test_values_file_must_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = kubeward(capsys, "config", str(tmp_path), "--values", "nope.yaml")
    assert out == ""
    assert code == 2
    assert err.strip() == "kubeward: error: --values nope.yaml: not a file"
