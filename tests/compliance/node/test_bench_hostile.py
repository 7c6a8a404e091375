"""`kubeward bench node` on hostile node roots and kube-bench definitions: every malformed,
huge or self-referencing input is a warning, an UNKNOWN or a one-line reason, never a
traceback or a hang."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_kubebench_shell import bench, node, only

from kubeward.cli.main import main
from kubeward.compliance.node.audit_shell import MAX_OUTPUT, AuditError, run_audit
from kubeward.compliance.node.checks import FlagAudit, GateAudit, evaluate
from kubeward.compliance.node.components import SettingUnreadable, detect
from kubeward.compliance.node.kubebench import compare, jsonpath
from kubeward.compliance.node.report import to_sarif
from kubeward.compliance.node.result import BenchReport, ControlResult, Status
from kubeward.compliance.node.root import NodeRoot

KUBELET_CONFIG = "var/lib/kubelet/config.yaml"
# nine levels of ten aliases: a few hundred bytes that stand for 10**9 strings
ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{new}: &{new} [{', '.join([f'*{old}'] * 10)}]\n"
    for old, new in zip("abcdefgh", "bcdefghi", strict=True)
)


def write(base: Path, path: str, text: str) -> None:
    host = base / path
    host.parent.mkdir(parents=True, exist_ok=True)
    host.write_text(text)


# -- the node root ----------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_fifo_as_kubelet_config_is_a_warning_not_a_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "var/lib/kubelet").mkdir(parents=True)
    os.mkfifo(tmp_path / KUBELET_CONFIG)
    code = main(["bench", "node", "--root", str(tmp_path), "--format", "json"])
    assert code == 0
    err = capsys.readouterr().err
    assert (
        "kubeward: warning: kubelet config /var/lib/kubelet/config.yaml: not a readable "
        "regular file of at most 4 MiB\n"
    ) in err
    assert "Traceback" not in err


def test_nul_in_a_path_from_the_kubelet_config_is_no_path(tmp_path: Path) -> None:
    write(tmp_path, KUBELET_CONFIG, 'staticPodPath: "/etc/kubernetes/\\0manifests"\n')
    root = NodeRoot(tmp_path)
    assert root.exists("/etc/\0x") is False
    assert root.stat("/etc/\0x") is None
    assert root.read_text("/etc/\0x") is None
    facts = detect(root)
    assert facts.manifest_dir == "/etc/kubernetes/\0manifests"
    assert list(facts.components) == ["kubelet"]


def test_non_ascii_digits_in_proc_and_passwd_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "proc/²/cmdline", "kubelet\0--anonymous-auth=false\0")
    write(tmp_path, "proc/١٢/cmdline", "kube-proxy\0")
    write(tmp_path, "etc/passwd", "evil:x:²:0::/:/bin/sh\nlong:x:" + "1" * 5000 + ":0::/:/\n")
    root = NodeRoot(tmp_path)
    assert root.processes == ()
    info = root.stat("/etc/passwd")
    assert info is not None
    assert info.owner == ("root" if os.getuid() == 0 else str(os.getuid()))


def test_kubelet_config_alias_bomb_is_unknown_not_a_hang(tmp_path: Path) -> None:
    write(
        tmp_path,
        KUBELET_CONFIG,
        ALIAS_BOMB + "authentication: {x509: {clientCAFile: *i}}\nfeatureGates: {Gate: *i}\n",
    )
    facts = detect(NodeRoot(tmp_path))
    flag = FlagAudit(
        "kubelet", "--client-ca-file", "present", config="authentication.x509.clientCAFile"
    )
    outcome = evaluate(flag, facts)
    assert outcome.status is Status.UNKNOWN
    assert outcome.reason == (
        "--client-ca-file cannot be read: a config value has more than 10000 items or 32 levels"
    )
    gate = evaluate(GateAudit("kubelet", "Gate", "true"), facts)
    assert gate.status is Status.UNKNOWN
    assert gate.reason == (
        "feature gate Gate cannot be read: a config value has more than 10000 items or 32 levels"
    )


def test_kubelet_config_that_contains_itself_is_unknown(tmp_path: Path) -> None:
    write(tmp_path, KUBELET_CONFIG, "authentication: &a {x509: {clientCAFile: [*a]}}\n")
    kubelet = detect(NodeRoot(tmp_path)).components["kubelet"]
    with pytest.raises(SettingUnreadable) as caught:
        kubelet.setting("--client-ca-file", "authentication.x509.clientCAFile")
    assert str(caught.value) == "a config value has more than 10000 items or 32 levels"


def test_manifest_image_tag_with_thousands_of_digits_shows_no_version(tmp_path: Path) -> None:
    write(
        tmp_path,
        "etc/kubernetes/manifests/kube-apiserver.yaml",
        "spec:\n  containers:\n  - image: registry.k8s.io/kube-apiserver:v"
        + "1" * 5000
        + ".28.1\n    command: [kube-apiserver, --anonymous-auth=false]\n",
    )
    facts = detect(NodeRoot(tmp_path))
    assert facts.components["apiserver"].version is None
    assert facts.version() is None


# -- the audit emulator -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "output"),
    [
        ("echo hi ²>/dev/null", ""),  # "²" is no file descriptor: an argument of echo
        ("echo hi " + "1" * 5000 + ">/dev/null", ""),
        ("echo abc | sed 's/a/\\²/'", "²bc\n"),
    ],
)
def test_non_ascii_and_huge_digits_in_audits(tmp_path: Path, script: str, output: str) -> None:
    run = run_audit(script, node(tmp_path))
    assert (run.output, run.status) == (output, 0)


def test_awk_field_with_thousands_of_digits_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(AuditError) as caught:
        run_audit("echo abc | awk '{print $" + "1" * 5000 + "}'", node(tmp_path))
    assert caught.value.reason == "audit not supported: awk program {print $1111111111111111111111"


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (
            "x=aaaaaaaaaa; " + "x=$x$x; " * 40 + "echo $x",
            f"audit expands a word past {MAX_OUTPUT} characters",
        ),
        (
            "echo " + "a" * 100_000 + " | sed 's/a/" + "b" * 100_000 + "/g'",
            f"sed output longer than {MAX_OUTPUT} characters",
        ),
        (
            "echo " + "a" * 100_000 + " | awk '{print " + "$0," * 20_000 + "$0}'",
            f"awk output longer than {MAX_OUTPUT} characters",
        ),
        (
            "echo " + "a" * 100_000 + " | xargs -I{} echo " + "{}" * 20_000,
            f"xargs -I makes a command longer than {MAX_OUTPUT} characters",
        ),
        ("{ " * 3000 + "true" + "; }" * 3000, "audit nests too deeply"),
        ("echo " + "$(" * 3000 + "true" + ")" * 3000, "audit nests too deeply"),
        ("echo " + '"$(' * 3000 + "true" + ')"' * 3000, "audit nests too deeply"),
    ],
    ids=["var-doubling", "sed", "awk", "xargs", "braces", "subs", "quoted-subs"],
)
def test_audits_that_explode_are_refused(tmp_path: Path, script: str, reason: str) -> None:
    with pytest.raises(AuditError) as caught:
        run_audit(script, node(tmp_path))
    assert caught.value.reason == reason


@pytest.mark.timeout(20)
def test_deeply_nested_audit_in_a_definition_is_unknown(tmp_path: Path) -> None:
    audit = "{ " * 3000 + "true" + "; }" * 3000
    checks = (
        f"      - id: 4.1.1\n        text: deep\n        audit: '{audit}'\n"
        "        tests:\n          test_items:\n            - flag: x\n        scored: true\n"
    )
    result = only(bench(tmp_path, checks, node(tmp_path)))
    assert (result.status, result.reason) == (Status.UNKNOWN, "audit nests too deeply")


# -- kube-bench tests -------------------------------------------------------------------


def test_compare_numbers_past_64_bits_are_invalid_not_a_traceback() -> None:
    huge = "1" * 5000
    assert compare("gte", huge, "1", "--max-pods") == (
        f"Invalid Number(s) used for comparison: '{huge}' '1'",
        False,
    )
    assert compare("lt", "9223372036854775808", "1", "x") == (
        "Invalid Number(s) used for comparison: '9223372036854775808' '1'",
        False,
    )
    assert compare("lt", "-9223372036854775808", "1", "x") == ("'x' is lower than 1", True)


@pytest.mark.timeout(20)
def test_jsonpath_on_an_alias_bomb_is_refused() -> None:
    import yaml

    data = yaml.load(ALIAS_BOMB, Loader=yaml.SafeLoader)
    with pytest.raises(AuditError) as caught:
        jsonpath("{.i}", data)
    assert caught.value.reason == "audit_config value has more than 100000 items"
    with pytest.raises(AuditError) as caught:
        jsonpath("{.i[*][*][*][*][*][*]}", data)
    assert caught.value.reason == "audit_config path selects more than 100000 values"
    with pytest.raises(AuditError) as caught:
        jsonpath("{range .i[*]}" + "{range @[*]}" * 6 + "{end}" * 7, data)
    assert caught.value.reason == "audit_config range runs more than 100000 times"


def test_jsonpath_on_a_self_containing_document_is_refused() -> None:
    import yaml

    data = yaml.load("a: &a [*a]\n", Loader=yaml.SafeLoader)
    with pytest.raises(AuditError) as caught:
        jsonpath("{.a}", data)
    assert caught.value.reason == "audit_config value nests too deeply"


@pytest.mark.timeout(20)
def test_kubelet_config_alias_bomb_in_audit_config_is_unknown(tmp_path: Path) -> None:
    root = node(tmp_path)
    write(root.root, "etc/kubelet.yaml", ALIAS_BOMB)
    checks = (
        "      - id: 4.1.1\n        text: bomb\n        audit_config: cat /etc/kubelet.yaml\n"
        "        tests:\n          test_items:\n            - path: '{.i}'\n"
        "              compare: {op: eq, value: x}\n        scored: true\n"
    )
    result = only(bench(tmp_path, checks, root))
    assert (result.status, result.reason) == (
        Status.UNKNOWN,
        "audit_config value has more than 100000 items",
    )


@pytest.mark.timeout(20)
def test_substitution_that_would_explode_skips_the_file(tmp_path: Path) -> None:
    config = "node:\n  components: [kubelet]\n  kubelet:\n    defaultconf: /" + "x" * 100_000 + "\n"
    checks = (
        "      - id: 4.1.1\n        text: many\n        audit: echo "
        + "$kubeletconf" * 20_000
        + "\n        type: manual\n"
    )
    with pytest.raises(Exception) as caught:
        bench(tmp_path, checks, node(tmp_path), config=config)
    assert type(caught.value).__name__ == "KubebenchError"
    assert str(caught.value) == f"{tmp_path / 'defs' / 'bench'}: no usable kube-bench controls file"


# -- reports ----------------------------------------------------------------------------


def test_sarif_orders_ids_with_non_ascii_or_huge_digits(tmp_path: Path) -> None:
    ids = ["1.²", "1." + "9" * 5000, "1.2"]
    report = BenchReport(
        benchmark="defs",
        title="t",
        node_root="/",
        results=[
            ControlResult(id=i, text="t", status=Status.FAIL, section_id="1", section_text="s")
            for i in ids
        ],
    )
    rules = to_sarif(report)["runs"][0]["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == ["1.2", "1." + "9" * 5000, "1.²"]
