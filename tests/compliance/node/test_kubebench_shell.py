"""The kube-bench definition runner piece by piece: the audit emulator, kube-bench's test
semantics (flag, path, env, compare ops, bin_op), variable substitution, the UNKNOWN rule,
and hostile definitions (malformed, wrong types, huge, catastrophic regexes, escapes)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from test_kubebench_defs import CFG, kind_control_plane, process, users, write

from kubeward.compliance.node import audit_shell
from kubeward.compliance.node.audit_shell import (
    AuditError,
    AuditUnsupported,
    UnsafePattern,
    compile_safe,
    run_audit,
)
from kubeward.compliance.node.kubebench import (
    KubebenchError,
    compare,
    jsonpath,
    run_benchmark_dir,
)
from kubeward.compliance.node.result import BenchReport, ControlResult, Status
from kubeward.compliance.node.root import NodeRoot


def node(tmp_path: Path) -> NodeRoot:
    base = tmp_path / "node"
    base.mkdir()
    users(base)
    return NodeRoot(base)


def bench(
    tmp_path: Path,
    checks: str,
    root: NodeRoot,
    config: str = "",
    target: str = "node",
) -> BenchReport:
    """One group of checks in DIR/<target>.yaml (checks: YAML list items, indented 4)."""
    directory = tmp_path / "defs" / "bench"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{target}.yaml").write_text(
        f"controls:\nversion: test\nid: 4\ntext: Node\ntype: {target}\ngroups:\n"
        f"  - id: 4.1\n    text: Files\n    checks:\n{checks}"
    )
    if config:
        (directory / "config.yaml").write_text(config)
    return run_benchmark_dir(directory, root, [target])


def only(report: BenchReport) -> ControlResult:
    assert len(report.results) == 1
    return report.results[0]


def check(audit: str, tests: str, extra: str = "") -> str:
    return (
        f"      - id: 4.1.1\n        text: a check\n        audit: {audit}\n"
        f"        tests:\n{tests}{extra}        remediation: fix it\n        scored: true\n"
    )


# -- the emulator -------------------------------------------------------------------------


def test_file_audits(tmp_path: Path) -> None:
    root = node(tmp_path)
    write(root.root, "/etc/kubernetes/a.conf", "x\n", 0o640)
    script = (
        "/bin/sh -c 'if test -e /etc/kubernetes/a.conf; "
        "then stat -c permissions=%a /etc/kubernetes/a.conf; fi'"
    )
    assert run_audit(script, root).output == "permissions=640\n"
    script = "/bin/sh -c 'if test -e /etc/k/none; then stat -c %U:%G /etc/k/none; fi'"
    run = run_audit(script, root)
    assert (run.output, run.status, run.notes) == ("", 0, ["/etc/k/none absent"])
    script = (
        '/bin/sh -c "if test -e /etc/k/none; then stat -c %U:%G /etc/k/none; '
        'else echo \\"File not found\\"; fi"'
    )
    assert run_audit(script, root).output == "File not found\n"
    script = "stat -c '%n %A %U:%G' /etc/kubernetes/a.conf /etc/none"
    run = run_audit(script, root)
    assert (run.output, run.status) == ("/etc/kubernetes/a.conf -rw-r----- root:root\n", 1)


def test_find_xargs_and_text_tools(tmp_path: Path) -> None:
    root = node(tmp_path)
    write(root.root, "/pki/b.key", "k", 0o600)
    write(root.root, "/pki/a.crt", "c", 0o644)
    write(root.root, "/pki/sub/c.crt", "c", 0o640)
    assert run_audit("find /pki/ -name '*.crt' | xargs stat -c permissions=%a", root).output == (
        "permissions=644\npermissions=640\n"
    )
    assert run_audit("find /pki -type d", root).output == "/pki\n/pki/sub\n"
    assert run_audit("find /pki -mindepth 1 -maxdepth 1 -type f", root).output == (
        "/pki/a.crt\n/pki/b.key\n"
    )
    assert (
        run_audit("find /none 2>/dev/null | xargs --no-run-if-empty stat -c %a", root).output == ""
    )
    write(root.root, "/enc.yaml", "resources:\n  - providers:\n    - aescbc:\n        keys: []\n")
    script = (
        "grep -A1 'providers:' /enc.yaml | tail -n1 | grep -o \"[A-Za-z]*\" | sed 's/^/provider=/'"
    )
    assert run_audit(script, root).output == "provider=aescbc\n"
    assert (
        run_audit("echo 'a --x=1 b' | awk -F '--x=' '{print $2}' | awk '{print $1}'", root).output
        == "1\n"
    )
    assert run_audit("echo abc | sed -e 's%a\\(b\\)c%[\\1]%'", root).output == "[b]\n"


def test_control_flow_quoting_and_splitting(tmp_path: Path) -> None:
    root = node(tmp_path)
    script = 'for x in $(echo "a b"); do echo "[$x]"; done; X=\'\'; test -z $X && echo empty'
    assert run_audit(script, root).output == "[a]\n[b]\nempty\n"
    assert run_audit("false || echo no; true && echo yes; ! true || echo neg", root).output == (
        "no\nyes\nneg\n"
    )
    assert run_audit('echo "$(echo "in  side")"', root).output == "in  side\n"
    run = run_audit("if test -d /none; then echo d; elif test -n x; then echo n; fi", root)
    assert run.output == "n\n"


def test_ps_like_procps(tmp_path: Path) -> None:
    root = node(tmp_path)
    process(root.root, 7, "/usr/bin/kubelet", "--config=/k.yaml")
    process(root.root, 9, "kube-controller-manager", "--profiling=false")
    assert run_audit("ps -C kubelet -o pid=", root).output == "7\n"
    full = run_audit("/bin/ps -fC kubelet", root).output.splitlines()
    assert full[1].split(None, 7)[7] == "/usr/bin/kubelet --config=/k.yaml"
    assert run_audit("ps -ef | grep kube-controller | grep -v grep | wc -l", root).output == "1\n"
    # procps matches -C against the 15-character command name
    assert run_audit("ps -C kube-controller-manager -o pid=", root).status == 1
    assert run_audit("ps -C kube-controller -o pid=", root).output == "9\n"


@pytest.mark.parametrize(
    ("script", "command"),
    [
        ("kubectl get pods", "kubectl"),
        ("journalctl -u kubelet | grep x", "journalctl"),
        ("systemctl status kubelet", "systemctl"),
        ("echo x > /etc/passwd", "redirection to /etc/passwd"),
        ("echo $((1+2))", "$(("),
        ("kubectl get roles | while read -r a b\ndo\n  echo $a\ndone", "kubectl"),
        ("# comment\nif test -e /x; then jq . /x; fi", "jq"),
        ("sed -n 1p /x", "sed -n"),
        ("awk '{s+=$1} END {print s}' /x", "awk program {s+=$1} END {print s}"),
        ("echo a &", "&"),
    ],
)
def test_unsupported_audits_are_named(tmp_path: Path, script: str, command: str) -> None:
    with pytest.raises(AuditUnsupported) as caught:
        run_audit(script, node(tmp_path))
    assert caught.value.command == command
    assert caught.value.reason == f"audit not supported: {command}"


def test_regex_guard() -> None:
    """Definition regexes run on RE2: linear whatever the pattern, Go's syntax; too long
    or back-references are refused, an invalid one is one line."""
    assert compile_safe("^a[0-9]+b$").search("a12b")
    assert compile_safe("ABC", re.IGNORECASE).search("xabc")
    assert not compile_safe("ABC").search("xabc")
    started = time.perf_counter()
    text = "a" * 20_000 + "!"
    for pattern in ("(a+)+$", "(a|aa)*c", ".*.*.*x", "(.*a){12}x", ".*" * 40 + "x"):
        assert compile_safe(pattern).search(text) is None, pattern
    assert time.perf_counter() - started < 1.0  # Python's re: minutes, or never
    for pattern, reason in (
        ("(x)\\1", "regex refused: back-references"),
        ("a" * 600, "regex refused: longer than 512 characters"),
    ):
        with pytest.raises(UnsafePattern) as caught:
            compile_safe(pattern)
        assert caught.value.reason == reason
    with pytest.raises(AuditError, match=r"^invalid regex 'a\(': missing \)"):
        compile_safe("a(")


# -- kube-bench's test semantics ----------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "wanted", "expected", "verdict"),
    [
        ("eq", "FALSE", "false", "'f' is equal to 'false'", True),
        ("eq", "0", "0", "'f' is equal to '0'", True),
        ("noteq", "True", "true", "'f' is not equal to 'true'", False),
        ("gt", "6443", "0", "'f' is greater than 0", True),
        ("gte", "29", "30", "'f' is greater or equal to 30", False),
        ("lt", "1", "2", "'f' is lower than 2", True),
        ("lte", "3", "2", "'f' is lower or equal to 2", False),
        ("gte", "30d", "30", "Invalid Number(s) used for comparison: '30d' '30'", False),
        ("has", "Node,RBAC", "RBAC", "'f' has 'RBAC'", True),
        ("nothave", "Node,AlwaysAllow", "AlwaysAllow", "'f' does not have 'AlwaysAllow'", False),
        (
            "regex",
            "TLS1.2",
            "^TLS1\\.[23]$",
            "'f' matched by regex expression '^TLS1\\.[23]$'",
            True,
        ),
        ("valid_elements", "a,b,", "a,b,c", "'f' contains valid elements from 'a,b,c'", True),
        ("valid_elements", "a,d", "a,b,c", "'f' contains valid elements from 'a,b,c'", False),
        ("valid_elements", "", "a", "'f' contains valid elements from 'a'", False),
        ("bitmask", "600", "644", "f has permissions 600, expected 644 or more restrictive", True),
        ("bitmask", "664", "644", "f has permissions 664, expected 644 or more restrictive", False),
        ("bitmask", "9", "644", "Not numeric value - flag: 9", False),
    ],
)
def test_compare_ops(op: str, value: str, wanted: str, expected: str, verdict: bool) -> None:
    assert compare(op, value, wanted, "f") == (expected, verdict)


@pytest.mark.parametrize(
    ("flag", "output", "value", "status", "reason"),
    [
        ("--read-only-port", "--read-only-port=0", "0", Status.PASS, "is equal to '0'"),
        ("--read-only-port", "--read-only-port 10255", "0", Status.FAIL, "is equal to '0'"),
        ("--read-only-port", "--read-only-port --x", "true", Status.PASS, "is equal to 'true'"),
        ("read-only-port", "read-only-port: 0", "0", Status.PASS, "is equal to '0'"),
        ("--read-only-port", "readOnlyPort: 0", "0", Status.FAIL, "is present"),
    ],
)
def test_flag_values(  # noqa: PLR0917 (one parameter per column)
    tmp_path: Path, flag: str, output: str, value: str, status: Status, reason: str
) -> None:
    """kube-bench's flag forms: --flag=value, flag: value, --flag value, bare --flag."""
    items = (
        f"          test_items:\n            - flag: {flag}\n              compare:\n"
        f"                op: eq\n                value: {value}\n"
    )
    result = only(bench(tmp_path, check(f"\"echo '{output}'\"", items), node(tmp_path)))
    assert (result.status, result.reason) == (status, f"expected '{flag}' {reason}")


def test_audit_config_path_and_bin_op(tmp_path: Path) -> None:
    root = node(tmp_path)
    write(
        root.root,
        "/var/lib/kubelet/config.yaml",
        "authentication:\n  anonymous:\n    enabled: false\n"
        "tlsCipherSuites: [A, B]\nreadOnlyPort: 0\n",
    )
    process(root.root, 5, "kubelet", "--config=/var/lib/kubelet/config.yaml")
    checks = (
        check(
            "/bin/ps -fC kubelet",
            "          test_items:\n            - flag: --anonymous-auth\n"
            "              path: '{.authentication.anonymous.enabled}'\n"
            "              compare:\n                op: eq\n                value: false\n",
            "        audit_config: /bin/cat /var/lib/kubelet/config.yaml\n",
        )
        + check(
            "/bin/ps -fC kubelet",
            "          test_items:\n            - flag: --tls-cipher-suites\n"
            "              path: \"{range .tlsCipherSuites[:]}{}{','}{end}\"\n"
            "              compare:\n                op: valid_elements\n"
            "                value: A,C\n",
            "        audit_config: /bin/cat /var/lib/kubelet/config.yaml\n",
        ).replace("4.1.1", "4.1.2")
        + check(
            "/bin/ps -fC kubelet",
            "          bin_op: or\n          test_items:\n            - flag: --read-only-port\n"
            "              path: '{.readOnlyPort}'\n              compare:\n"
            "                op: eq\n                value: 1\n"
            "            - flag: --read-only-port\n"
            "              path: '{.readOnlyPort}'\n              set: false\n",
            "        audit_config: /bin/cat /var/lib/kubelet/config.yaml\n",
        ).replace("4.1.1", "4.1.3")
    )
    results = bench(tmp_path, checks, root).results
    assert [(r.id, r.status, r.reason) for r in results] == [
        (
            "4.1.1",
            Status.PASS,
            "expected '{.authentication.anonymous.enabled}' is equal to 'false'",
        ),
        (
            "4.1.2",
            Status.FAIL,
            "expected '{range .tlsCipherSuites[:]}{}{','}{end}' contains valid elements from 'A,C'",
        ),
        (
            "4.1.3",
            Status.FAIL,
            "expected '{.readOnlyPort}' is equal to '1' OR '{.readOnlyPort}' is not present",
        ),
    ]
    assert jsonpath("{.a.b[1]} {.c}", {"a": {"b": [1, 2.0]}, "c": True}) == "2 true"


def test_env_from_the_process_environment(tmp_path: Path) -> None:
    root = node(tmp_path)
    process(root.root, 11, "etcd", "--name=x", environ="ETCD_CLIENT_CERT_AUTH=true\0HOME=/\0")
    config = "node:\n  components: [etcd]\n  etcd:\n    bins: [etcd]\n"
    items = (
        "          test_items:\n            - flag: --client-cert-auth\n"
        "              env: ETCD_CLIENT_CERT_AUTH\n              compare:\n"
        "                op: eq\n                value: true\n"
    )
    result = only(
        bench(tmp_path, check("ps -ef | grep $etcdbin | grep -v grep", items), root, config)
    )
    assert (result.status, result.reason) == (
        Status.PASS,
        "expected 'ETCD_CLIENT_CERT_AUTH' is equal to 'true'",
    )
    assert result.evidence[1] == ("audit_env output", "ETCD_CLIENT_CERT_AUTH=true\nHOME=/")


def test_use_multiple_values(tmp_path: Path) -> None:
    root = node(tmp_path)
    write(root.root, "/pki/a.key", "k", 0o600)
    write(root.root, "/pki/b.key", "k", 0o644)
    items = (
        "          test_items:\n            - flag: permissions\n              compare:\n"
        "                op: bitmask\n                value: 600\n"
    )
    audit = "find /pki -name '*.key' | xargs stat -c permissions=%a"
    plain = only(bench(tmp_path, check(f'"{audit}"', items), root))
    multiple = only(
        bench(tmp_path, check(f'"{audit}"', items, "        use_multiple_values: true\n"), root)
    )
    assert (plain.status, multiple.status) == (Status.PASS, Status.FAIL)


def test_types_and_the_unknown_rule(tmp_path: Path) -> None:
    root = node(tmp_path)
    write(root.root, "/etc/svc.conf", "x", 0o600)
    present = "          test_items:\n            - flag: root:root\n"
    stat = "/bin/sh -c 'if test -e {0}; then stat -c %U:%G {0}; fi'"
    checks = [
        check(stat.format("/etc/svc.conf"), present),
        check(stat.format("/etc/absent.conf"), present),
        check(
            '/bin/sh -c "if test -e /etc/absent; then stat -c %U:%G /etc/absent; '
            'else echo \\"File not found\\"; fi"',
            "          bin_op: or\n          test_items:\n            - flag: root:root\n"
            "            - flag: File not found\n",
        ),
        check(
            "ps -ef | grep kube-apiserver | grep -v grep",
            "          test_items:\n            - flag: --x\n              set: false\n",
        ),
        check("'stat -c %a /etc/svc.conf /etc/absent'", present),
        "      - id: 4.1.1\n        text: manual\n        type: manual\n        scored: false\n",
        "      - id: 4.1.1\n        text: skipped\n        type: skip\n        scored: true\n",
        "      - id: 4.1.1\n        text: no tests\n        audit: echo\n        scored: true\n",
        check("echo x", "          test_items: []\n"),
    ]
    report = bench(tmp_path, "".join(checks), root)
    assert [(r.status, r.reason) for r in report.results] == [
        (Status.PASS, "expected 'root:root' is present"),
        (Status.UNKNOWN, "audit found nothing to judge (/etc/absent.conf absent)"),
        (Status.PASS, "expected 'root:root' is present OR 'File not found' is present"),
        (Status.UNKNOWN, "audit found nothing to judge (empty output)"),
        (Status.FAIL, "audit exited with status 1"),
        (Status.WARN, "Test marked as a manual test"),
        (Status.UNKNOWN, "Test marked as skip (kube-bench reports INFO)"),
        (Status.WARN, "There are no tests"),
        (Status.UNKNOWN, "No tests defined"),
    ]
    assert report.results[0].remediation == "fix it"
    assert report.results[0].audit == stat.format("/etc/svc.conf")
    assert report.results[0].section_id == "4.1"
    assert report.results[0].section_text == "Files"


def test_substitutions_follow_kube_bench(tmp_path: Path) -> None:
    root = node(tmp_path)
    process(root.root, 3, "/usr/local/bin/hyperkube", "kubelet", "--v=2")
    write(root.root, "/etc/second.yaml", "a: 1\n")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "config.yaml").write_text(
        "node:\n  components: [kubelet, proxy]\n"
        "  kubelet:\n    bins: ['hyperkube kubelet', kubelet]\n"
        "    confs: [/etc/first.yaml, /etc/second.yaml]\n  proxy:\n    optional: true\n"
        "    bins: [kube-proxy]\n    defaultconf: /etc/proxy.conf\n"
    )
    # the benchmark's own config.yaml overrides the one a level up
    config = (
        "node:\n  kubelet:\n    svc: [/etc/none.service]\n    defaultsvc: /etc/kubelet.service\n"
    )
    checks = check(
        '"echo $kubeletbin $kubeletconf $kubeletsvc $proxybin $proxyconf"',
        "          test_items:\n            - flag: x\n",
    )
    report = bench(tmp_path, checks, root, config)
    assert only(report).audit == (
        "echo 'hyperkube kubelet' /etc/second.yaml /etc/kubelet.service proxy /etc/proxy.conf"
    )
    assert dict(only(report).evidence)["audit output"] == (
        "hyperkube kubelet /etc/second.yaml /etc/kubelet.service proxy /etc/proxy.conf"
    )
    assert report.components == {"kubelet": "hyperkube kubelet"}


# -- hostile definitions ------------------------------------------------------------------


def test_unusable_directories_are_one_line_errors(tmp_path: Path) -> None:
    root = node(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (tmp_path / "missing", None, f"{tmp_path / 'missing'}: not a directory"),
        (empty, None, f"{empty}: no kube-bench controls files (*.yaml)"),
        (empty, ["master"], f"{empty}: no master.yaml for target 'master'"),
        (
            empty,
            ["worker"],
            "unknown target 'worker' (expected one of "
            "master, etcd, controlplane, node, policies, managedservices)",
        ),
    ]
    for directory, targets, message in cases:
        with pytest.raises(KubebenchError) as caught:
            run_benchmark_dir(directory, root, targets)
        assert str(caught.value) == message


def test_malformed_files(tmp_path: Path) -> None:
    root = node(tmp_path)
    directory = tmp_path / "defs"
    directory.mkdir()
    (directory / "node.yaml").write_text("controls:\ngroups: [\n  - id: {\n")
    with pytest.raises(KubebenchError) as caught:
        run_benchmark_dir(directory, root, ["node"])
    assert str(caught.value) == f"{directory / 'node.yaml'}: malformed YAML line 3"
    # without explicit targets a bad file is skipped with a warning, the others run
    (directory / "master.yaml").write_text(
        "type: master\ngroups:\n  - id: '1'\n    checks:\n      - id: 1.1\n        type: manual\n"
    )
    report = run_benchmark_dir(directory, root)
    assert report.warnings == [f"{directory / 'node.yaml'}: malformed YAML line 3 (skipped)"]
    assert [r.status for r in report.results] == [Status.WARN]
    (directory / "config.yaml").write_text("- a list\n")
    with pytest.raises(KubebenchError) as caught:
        run_benchmark_dir(directory, root)
    assert str(caught.value) == f"{directory / 'config.yaml'}: expected a mapping at the top"


def test_wrong_types(tmp_path: Path) -> None:
    root = node(tmp_path)
    checks = (
        "      - text: no id\n"
        "      - id: 4.1.2\n        audit: echo x\n        tests: [1, 2]\n        scored: true\n"
        "      - id: 4.1.3\n        audit: echo x\n        scored: maybe\n"
        "      - id: 4.1.4\n        audit: echo x\n        tests:\n          bin_op: xor\n"
        "          test_items:\n            - flag: x\n"
        "      - id: 4.1.5\n        audit: echo x\n        tests:\n          test_items:\n"
        "            - flag: [x]\n"
        "      - id: 4.1.6\n        audit: echo x\n        tests:\n          test_items:\n"
        "            - flag: x\n              compare: {op: within, value: 1}\n"
    )
    report = bench(tmp_path, checks, root)
    assert report.warnings == [
        f"{tmp_path / 'defs' / 'bench' / 'node.yaml'}: a check in group 4.1 has no id (skipped)"
    ]
    assert [(r.id, r.status, r.reason) for r in report.results] == [
        ("4.1.2", Status.UNKNOWN, "invalid check definition: tests is not a mapping"),
        ("4.1.3", Status.UNKNOWN, "invalid check definition: expected true or false, got 'maybe'"),
        ("4.1.4", Status.UNKNOWN, "invalid check definition: unknown bin_op 'xor'"),
        ("4.1.5", Status.UNKNOWN, "invalid check definition: flag is not a string"),
        ("4.1.6", Status.UNKNOWN, "invalid check definition: unknown compare op 'within'"),
    ]
    directory = tmp_path / "defs" / "bench"
    (directory / "node.yaml").write_text("type: node\ngroups: {a: 1}\n")
    report = run_benchmark_dir(directory, root, ["node"])
    assert (report.results, report.warnings) == ([], [f"{directory / 'node.yaml'}: no groups list"])


def test_huge_and_aliased_files(tmp_path: Path) -> None:
    root = node(tmp_path)
    directory = tmp_path / "defs"
    directory.mkdir()
    (directory / "node.yaml").write_text("# " + "x" * (4 * 1024 * 1024))
    with pytest.raises(KubebenchError) as caught:
        run_benchmark_dir(directory, root, ["node"])
    assert str(caught.value) == f"{directory / 'node.yaml'}: larger than 4 MB"
    # 100 groups aliasing one list of 100 checks: 10,000 checks from a small file
    checks = "".join(f"    - id: '{i}'\n      type: manual\n" for i in range(100))
    groups = "\n".join(["  - id: g", "    checks: *c"] * 99)
    (directory / "node.yaml").write_text(
        f"type: node\ngroups:\n  - id: g\n    checks: &c\n{checks}{groups}\n"
    )
    report = run_benchmark_dir(directory, root, ["node"])
    assert len(report.results) == 5000
    assert report.warnings == [f"{directory / 'node.yaml'}: more than 5000 checks (rest skipped)"]


def test_hostile_regexes_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = node(tmp_path)
    write(root.root, "/etc/name", "inside\n")
    outside = tmp_path / "secret"
    outside.write_text("outside secret\n")
    (root.root / "etc" / "link").symlink_to("../../../secret")
    (root.root / "etc" / "abs").symlink_to("/etc/name")
    regex = (
        "          test_items:\n            - flag: v\n              compare:\n"
        "                op: regex\n                value: '(a+)+$'\n"
    )
    checks = [
        check("echo v=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", regex),
        check(
            "\"echo aaaa | grep -E '(a|aa)*b'\"", "          test_items:\n            - flag: a\n"
        ),
        check("cat /etc/link", "          test_items:\n            - flag: secret\n"),
        check(
            "cat ../../../../etc/name /etc/abs",
            "          test_items:\n            - flag: inside\n",
        ),
        check(
            '"for i in $(find / ); do echo $i; done"',
            "          test_items:\n            - flag: x\n",
        ),
    ]
    monkeypatch.setattr(audit_shell, "MAX_FIND_ENTRIES", 5)
    report = bench(tmp_path, "".join(checks), root)
    assert [(r.status, r.reason) for r in report.results] == [
        (Status.FAIL, "expected 'v' matched by regex expression '(a+)+$'"),  # at once
        (Status.UNKNOWN, "audit found nothing to judge (empty output)"),  # grep: no line
        (Status.UNKNOWN, "audit found nothing to judge (/etc/link absent)"),
        (Status.PASS, "expected 'inside' is present"),
        (Status.UNKNOWN, "find visits more than 5 entries"),
    ]
    assert dict(report.results[3].evidence)["audit output"] == "inside\ninside"


def test_nesting_and_loops_are_bounded(tmp_path: Path) -> None:
    root = node(tmp_path)
    nested = "echo deep"
    for _ in range(10):
        nested = "sh -c " + shlex.quote(nested)
    with pytest.raises(AuditError) as caught:
        run_audit(nested, root)
    assert caught.value.reason == "audit nests sh -c / $(...) too deeply"
    write(root.root, "/words", "w " * 30000)
    with pytest.raises(AuditError) as caught:
        run_audit("for w in $(cat /words); do echo $w; done", root)
    assert caught.value.reason == "audit runs more than 20000 commands"


def test_nothing_is_ever_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a definition tried to run a program")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(os, "system", refuse)
    monkeypatch.setattr(os, "execv", refuse)
    monkeypatch.setattr(os, "posix_spawn", refuse)
    root = kind_control_plane(tmp_path / "kind")
    for version in ("cis-1.8", "cis-1.9", "cis-1.10"):
        report = run_benchmark_dir(CFG / version, root)
        assert len(report.results) == 130
