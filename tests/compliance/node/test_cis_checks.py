"""kubeward's packaged CIS checks on fake node roots: every automated control has a passing,
a failing and an unknown root, in both benchmarks and (where the component can be seen
without /proc) both ways of reading a node; every manual control is WARN."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from fakenode import (
    KUBELET_CONFIG,
    KUBELET_DROPIN,
    MANIFESTS,
    OTHER_UID,
    PKI,
    FileSpec,
    NodeSpec,
    build,
    compliant,
)
from kubeward.compliance.node.checks import (
    OBJECTS_POINTER,
    TARGETS,
    available_benchmarks,
    load_benchmark,
    run_checks,
)
from kubeward.compliance.node.result import BenchReport, Status
from kubeward.compliance.node.root import NodeRoot

BENCHMARKS = ("cis-1.9", "cis-1.10")
MODES = ("process", "manifest")
PASS, FAIL, WARN, UNKNOWN = Status.PASS, Status.FAIL, Status.WARN, Status.UNKNOWN
Change = Callable[[NodeSpec], object]


def chmod(path: str, mode: int) -> Change:
    def change(spec: NodeSpec) -> None:
        spec.files[path].mode = mode

    return change


def chown(path: str, uid: int = OTHER_UID) -> Change:
    def change(spec: NodeSpec) -> None:
        spec.files[path].uid = uid
        spec.files[path].gid = uid

    return change


def remove(*paths: str) -> Change:
    def change(spec: NodeSpec) -> None:
        for path in list(spec.files):
            if any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths):
                del spec.files[path]

    return change


def flag(component: str, name: str, value: str | None) -> Change:
    def change(spec: NodeSpec) -> None:
        if value is None:
            spec.drop(component, name)
        else:
            spec.set(component, name, value)

    return change


def kubelet(key: str, value: object) -> Change:
    """Set (or with None delete) a dotted key of the kubelet config file."""

    def change(spec: NodeSpec) -> None:
        assert spec.kubelet_config is not None
        node = spec.kubelet_config
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value

    return change


def gone(component: str) -> Change:
    return lambda spec: spec.remove_component(component)


def broken_kubelet_config(spec: NodeSpec) -> None:
    spec.kubelet_config_text = "authentication: {anonymous: [\n"


def proxy_metrics(spec: NodeSpec) -> None:
    assert spec.proxy_config is not None
    spec.proxy_config["metricsBindAddress"] = "0.0.0.0:10249"


@dataclass(frozen=True)
class Case:
    fail: Change
    unknown: Change
    unknown_reason: str  # the exact reason of the UNKNOWN result
    also: tuple[tuple[str, Status], ...] = ()  # other controls the failing change moves
    modes: tuple[str, ...] = MODES


API = MANIFESTS["apiserver"]
CM = MANIFESTS["controllermanager"]
SCHED = MANIFESTS["scheduler"]
ETCD = MANIFESTS["etcd"]
ADMIN = "/etc/kubernetes/admin.conf"
SCHED_CONF = "/etc/kubernetes/scheduler.conf"
CM_CONF = "/etc/kubernetes/controller-manager.conf"
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
NO_API = "kube-apiserver not found on this node"
NO_CM = "kube-controller-manager not found on this node"
NO_SCHED = "kube-scheduler not found on this node"
NO_ETCD = "etcd not found on this node"
BAD_CONFIG = "/var/lib/kubelet/config.yaml: not valid YAML (line 2)"


def cfg_unknown(name: str) -> str:
    return f"{name} cannot be read: {BAD_CONFIG}"


def absent(path: str) -> str:
    return f"{path}: absent"


# For every automated control: what makes it fail, what makes it unknown (and the reason).
CASES: dict[str, Case] = {
    "1.1.1": Case(chmod(API, 0o644), remove(API), absent(API)),
    "1.1.2": Case(chown(API), remove(API), absent(API)),
    "1.1.3": Case(chmod(CM, 0o640), remove(CM), absent(CM)),
    "1.1.4": Case(chown(CM), remove(CM), absent(CM)),
    "1.1.5": Case(chmod(SCHED, 0o604), remove(SCHED), absent(SCHED)),
    "1.1.6": Case(chown(SCHED), remove(SCHED), absent(SCHED)),
    "1.1.7": Case(chmod(ETCD, 0o700), remove(ETCD), absent(ETCD)),
    "1.1.8": Case(chown(ETCD), remove(ETCD), absent(ETCD)),
    "1.1.11": Case(chmod("/var/lib/etcd", 0o750), remove("/var/lib/etcd"), absent("/var/lib/etcd")),
    "1.1.12": Case(chown("/var/lib/etcd", 0), remove("/var/lib/etcd"), absent("/var/lib/etcd")),
    "1.1.13": Case(chmod(ADMIN, 0o644), remove(ADMIN), absent(ADMIN)),
    "1.1.14": Case(chown(ADMIN), remove(ADMIN), absent(ADMIN)),
    "1.1.15": Case(chmod(SCHED_CONF, 0o644), remove(SCHED_CONF), absent(SCHED_CONF)),
    "1.1.16": Case(chown(SCHED_CONF), remove(SCHED_CONF), absent(SCHED_CONF)),
    "1.1.17": Case(chmod(CM_CONF, 0o644), remove(CM_CONF), absent(CM_CONF)),
    "1.1.18": Case(chown(CM_CONF), remove(CM_CONF), absent(CM_CONF)),
    "1.1.19": Case(chown(f"{PKI}/etcd/server.key"), remove(PKI), absent(PKI)),
    "1.2.2": Case(
        flag("apiserver", "--token-auth-file", "/etc/tokens.csv"), gone("apiserver"), NO_API
    ),
    "1.2.4": Case(flag("apiserver", "--kubelet-client-key", None), gone("apiserver"), NO_API),
    "1.2.5": Case(
        flag("apiserver", "--kubelet-certificate-authority", None), gone("apiserver"), NO_API
    ),
    "1.2.6": Case(
        flag("apiserver", "--authorization-mode", "AlwaysAllow"),
        gone("apiserver"),
        NO_API,
        also=(("1.2.7", FAIL), ("1.2.8", FAIL)),
    ),
    "1.2.7": Case(flag("apiserver", "--authorization-mode", "RBAC"), gone("apiserver"), NO_API),
    "1.2.8": Case(flag("apiserver", "--authorization-mode", "Node"), gone("apiserver"), NO_API),
    "1.2.10": Case(
        flag("apiserver", "--enable-admission-plugins", "NodeRestriction,AlwaysAdmit"),
        gone("apiserver"),
        NO_API,
    ),
    "1.2.12": Case(
        flag("apiserver", "--disable-admission-plugins", "ServiceAccount"),
        gone("apiserver"),
        NO_API,
    ),
    "1.2.13": Case(
        flag("apiserver", "--disable-admission-plugins", "PodSecurity, NamespaceLifecycle"),
        gone("apiserver"),
        NO_API,
    ),
    "1.2.14": Case(
        flag("apiserver", "--enable-admission-plugins", "AlwaysPullImages"),
        gone("apiserver"),
        NO_API,
    ),
    "1.2.15": Case(flag("apiserver", "--profiling", "true"), gone("apiserver"), NO_API),
    "1.2.16": Case(flag("apiserver", "--audit-log-path", None), gone("apiserver"), NO_API),
    "1.2.17": Case(flag("apiserver", "--audit-log-maxage", "7"), gone("apiserver"), NO_API),
    "1.2.18": Case(flag("apiserver", "--audit-log-maxbackup", None), gone("apiserver"), NO_API),
    "1.2.19": Case(flag("apiserver", "--audit-log-maxsize", "50"), gone("apiserver"), NO_API),
    "1.2.21": Case(
        flag("apiserver", "--service-account-lookup", "false"), gone("apiserver"), NO_API
    ),
    "1.2.22": Case(
        flag("apiserver", "--service-account-key-file", None), gone("apiserver"), NO_API
    ),
    "1.2.23": Case(flag("apiserver", "--etcd-certfile", None), gone("apiserver"), NO_API),
    "1.2.24": Case(flag("apiserver", "--tls-private-key-file", None), gone("apiserver"), NO_API),
    "1.2.25": Case(flag("apiserver", "--client-ca-file", None), gone("apiserver"), NO_API),
    "1.2.26": Case(flag("apiserver", "--etcd-cafile", None), gone("apiserver"), NO_API),
    "1.3.2": Case(flag("controllermanager", "--profiling", None), gone("controllermanager"), NO_CM),
    "1.3.3": Case(
        flag("controllermanager", "--use-service-account-credentials", "false"),
        gone("controllermanager"),
        NO_CM,
    ),
    "1.3.4": Case(
        flag("controllermanager", "--service-account-private-key-file", None),
        gone("controllermanager"),
        NO_CM,
    ),
    "1.3.5": Case(
        flag("controllermanager", "--root-ca-file", None), gone("controllermanager"), NO_CM
    ),
    "1.3.6": Case(
        flag("controllermanager", "--feature-gates", "A=true,RotateKubeletServerCertificate=false"),
        gone("controllermanager"),
        NO_CM,
    ),
    "1.3.7": Case(
        flag("controllermanager", "--bind-address", "0.0.0.0"), gone("controllermanager"), NO_CM
    ),
    "1.4.1": Case(flag("scheduler", "--profiling", "true"), gone("scheduler"), NO_SCHED),
    "1.4.2": Case(flag("scheduler", "--bind-address", None), gone("scheduler"), NO_SCHED),
    "2.1": Case(flag("etcd", "--key-file", None), gone("etcd"), NO_ETCD),
    "2.2": Case(flag("etcd", "--client-cert-auth", "false"), gone("etcd"), NO_ETCD),
    "2.3": Case(flag("etcd", "--auto-tls", "true"), gone("etcd"), NO_ETCD),
    "2.4": Case(flag("etcd", "--peer-cert-file", None), gone("etcd"), NO_ETCD),
    "2.5": Case(flag("etcd", "--peer-client-cert-auth", None), gone("etcd"), NO_ETCD),
    "2.6": Case(flag("etcd", "--peer-auto-tls", "True"), gone("etcd"), NO_ETCD),
    "4.1.1": Case(
        chmod(KUBELET_DROPIN, 0o644),
        remove("/etc/systemd"),
        "no kubelet.service file is configured on this node",
    ),
    "4.1.2": Case(
        chown(KUBELET_DROPIN),
        remove("/etc/systemd"),
        "no kubelet.service file is configured on this node",
    ),
    "4.1.5": Case(chmod(KUBELET_CONF, 0o644), remove(KUBELET_CONF), absent(KUBELET_CONF)),
    "4.1.6": Case(chown(KUBELET_CONF), remove(KUBELET_CONF), absent(KUBELET_CONF)),
    "4.1.9": Case(chmod(KUBELET_CONFIG, 0o644), remove(KUBELET_CONFIG), absent(KUBELET_CONFIG)),
    "4.1.10": Case(chown(KUBELET_CONFIG), remove(KUBELET_CONFIG), absent(KUBELET_CONFIG)),
    "4.2.1": Case(
        kubelet("authentication.anonymous.enabled", True),
        broken_kubelet_config,
        cfg_unknown("--anonymous-auth"),
    ),
    "4.2.2": Case(
        kubelet("authorization.mode", "AlwaysAllow"),
        broken_kubelet_config,
        cfg_unknown("--authorization-mode"),
    ),
    "4.2.3": Case(
        kubelet("authentication.x509.clientCAFile", None),
        broken_kubelet_config,
        cfg_unknown("--client-ca-file"),
    ),
    "4.2.6": Case(
        kubelet("makeIPTablesUtilChains", False),
        broken_kubelet_config,
        cfg_unknown("--make-iptables-util-chains"),
    ),
    "4.2.10": Case(
        kubelet("rotateCertificates", False),
        broken_kubelet_config,
        cfg_unknown("--rotate-certificates"),
    ),
    "4.3.1": Case(
        proxy_metrics, gone("proxy"), "kube-proxy not found on this node", modes=("process",)
    ),
}


def automated_ids(name: str) -> list[str]:
    return [c.id for c in load_benchmark(name).checks if c.judged]


def statuses(report: BenchReport) -> dict[str, Status]:
    return {r.id: r.status for r in report.results}


def baseline(name: str, mode: str) -> dict[str, Status]:
    """What the compliant node gives: PASS for every automated check, WARN for the rest,
    and UNKNOWN for kube-proxy when /proc is hidden (it has no manifest nor unit)."""
    expected = {c.id: (PASS if c.judged else WARN) for c in load_benchmark(name).checks}
    if mode == "manifest":
        expected["4.3.1"] = UNKNOWN
    return expected


def run(
    spec: NodeSpec, root: Path, benchmark: str, targets: tuple[str, ...] | None = None
) -> BenchReport:
    return run_checks(NodeRoot(build(spec, root)), benchmark, targets)


def test_the_table_covers_every_automated_control_of_every_benchmark() -> None:
    assert available_benchmarks() == BENCHMARKS
    for name in BENCHMARKS:
        assert sorted(automated_ids(name)) == sorted(CASES)
    assert len(CASES) == 64


@pytest.mark.parametrize("benchmark", BENCHMARKS)
@pytest.mark.parametrize("mode", MODES)
def test_a_compliant_node_passes_every_automated_control(
    tmp_path: Path, benchmark: str, mode: str
) -> None:
    report = run(compliant(mode), tmp_path, benchmark)
    assert statuses(report) == baseline(benchmark, mode)
    assert report.benchmark == benchmark
    assert list(report.components) == [
        "apiserver",
        "controllermanager",
        "scheduler",
        "etcd",
        "kubelet",
        *(["proxy"] if mode == "process" else []),
    ]


CONTROL_MODES = [
    pytest.param(control, mode, id=f"{control}-{mode}")
    for control, case in CASES.items()
    for mode in case.modes
]


@pytest.mark.parametrize(("control", "mode"), CONTROL_MODES)
def test_each_automated_control_fails_on_its_failing_node(
    tmp_path: Path, control: str, mode: str
) -> None:
    case = CASES[control]
    spec = compliant(mode)
    case.fail(spec)
    root = build(spec, tmp_path)
    for benchmark in BENCHMARKS:
        report = run_checks(NodeRoot(root), benchmark)
        expected = baseline(benchmark, mode)
        expected[control] = FAIL
        expected.update(dict(case.also))
        assert statuses(report) == expected, benchmark
        result = next(r for r in report.results if r.id == control)
        assert result.reason
        assert result.remediation
        assert report.failed


@pytest.mark.parametrize(("control", "mode"), CONTROL_MODES)
def test_each_automated_control_is_unknown_when_it_cannot_be_judged(
    tmp_path: Path, control: str, mode: str
) -> None:
    case = CASES[control]
    spec = compliant(mode)
    case.unknown(spec)
    root = build(spec, tmp_path)
    for benchmark in BENCHMARKS:
        report = run_checks(NodeRoot(root), benchmark, TARGETS)
        result = next(r for r in report.results if r.id == control)
        assert (result.status, result.reason) == (UNKNOWN, case.unknown_reason), benchmark


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_an_empty_root_is_unknown_everywhere_and_never_fails(
    tmp_path: Path, benchmark: str
) -> None:
    report = run_checks(NodeRoot(tmp_path), benchmark)
    expected = {c.id: (UNKNOWN if c.judged else WARN) for c in load_benchmark(benchmark).checks}
    assert statuses(report) == expected
    assert not report.failed
    assert report.components == {}
    assert report.warnings == [
        "no /proc under the root: processes cannot be seen, settings are read from static "
        "pod manifests, systemd units and config files",
        "no Kubernetes component found under the root: every target is run and checks that "
        "need a component are UNKNOWN",
    ]


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_manual_and_policy_controls_are_warn_with_a_reason(tmp_path: Path, benchmark: str) -> None:
    spec = compliant()
    report = run(spec, tmp_path, benchmark)
    manual = [r for r in report.results if r.status is WARN]
    assert len(manual) == 66
    policies = [r for r in manual if r.section_id.startswith("5.")]
    assert len(policies) == 35
    assert all(r.reason.endswith(OBJECTS_POINTER) for r in policies)
    assert all(r.reason.startswith("manual: ") for r in manual if r not in policies)
    # a manual control with an audit says what kubeward read
    by_id = {r.id: r for r in report.results}
    assert by_id["1.2.1"].reason == (
        "manual: Anonymous requests may be needed for health checks; make sure RBAC grants "
        "system:anonymous nothing else. (kubeward read: PASS: --anonymous-auth is 'false' "
        "(command line))"
    )
    assert by_id["3.1.1"].reason == (
        "manual: Client certificates cannot be revoked; use OIDC or another token provider "
        "for people."
    )


def test_the_two_benchmarks_differ_in_the_strong_api_server_ciphers(tmp_path: Path) -> None:
    spec = compliant()
    spec.set("apiserver", "--tls-cipher-suites", "TLS_RSA_WITH_AES_128_GCM_SHA256")
    root = build(spec, tmp_path)
    old = {r.id: r for r in run_checks(NodeRoot(root), "cis-1.9").results}["1.2.29"]
    new = {r.id: r for r in run_checks(NodeRoot(root), "cis-1.10").results}["1.2.29"]
    assert (old.status, new.status) == (WARN, WARN)
    assert old.reason.endswith(
        "(kubeward read: PASS: --tls-cipher-suites is 'TLS_RSA_WITH_AES_128_GCM_SHA256' "
        "(command line))"
    )
    assert new.reason.endswith(
        "(kubeward read: FAIL: --tls-cipher-suites is 'TLS_RSA_WITH_AES_128_GCM_SHA256' "
        "(command line), TLS_RSA_WITH_AES_128_GCM_SHA256 not in the strong list)"
    )
    titles = {
        name: {c.id: c.text for c in load_benchmark(name).checks}["5.1.11"] for name in BENCHMARKS
    }
    assert titles == {
        "cis-1.9": "Minimize access to the approval sub-resource of certificatesigningrequest "
        "objects",
        "cis-1.10": "Minimize access to the approval sub-resource of "
        "certificatesigningrequests objects",
    }


# -- how settings are read ------------------------------------------------------------------


def result_of(report: BenchReport, control: str) -> tuple[Status, str, tuple[tuple[str, str], ...]]:
    found = next(r for r in report.results if r.id == control)
    return found.status, found.reason, found.evidence


def test_unset_flags_are_judged_with_their_documented_default(tmp_path: Path) -> None:
    spec = compliant()
    spec.drop("apiserver", "--service-account-lookup")  # default true: passes
    spec.drop("apiserver", "--profiling")  # default true: fails
    report = run(spec, tmp_path, "cis-1.10")
    assert result_of(report, "1.2.21") == (
        PASS,
        "--service-account-lookup is 'true' (default)",
        (("--service-account-lookup", "true (default)"),),
    )
    assert result_of(report, "1.2.15") == (
        FAIL,
        "--profiling is 'true' (default), expected false",
        (("--profiling", "true (default)"),),
    )


def test_structured_authorization_config_stands_for_the_mode_list(tmp_path: Path) -> None:
    """--authorization-config (Kubernetes 1.29+) replaces --authorization-mode: its
    authorizer chain is judged as the mode list it stands for; a broken file is unknown."""
    config = "/etc/kubernetes/authz.yaml"
    spec = compliant().drop("apiserver", "--authorization-mode")
    spec.set("apiserver", "--authorization-config", config)
    spec.files[config] = FileSpec(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\n"
        "authorizers:\n- {type: Node, name: node}\n- {type: Webhook, name: opa}\n"
    )
    report = run(spec, tmp_path / "a", "cis-1.10")
    origin = "(/etc/kubernetes/authz.yaml: authorizers[].type)"
    assert result_of(report, "1.2.6")[:2] == (
        PASS,
        f"--authorization-mode is 'Node,Webhook' {origin}",
    )
    assert result_of(report, "1.2.7")[0] is PASS
    assert result_of(report, "1.2.8")[:2] == (
        FAIL,
        f"--authorization-mode is 'Node,Webhook' {origin}, expected it to include RBAC",
    )
    spec.files[config] = FileSpec("authorizers: not a list\n")
    report = run(spec, tmp_path / "b", "cis-1.10")
    assert [result_of(report, c)[:2] for c in ("1.2.6", "1.2.8")] == [
        (
            UNKNOWN,
            f"--authorization-mode cannot be read: {config} (--authorization-config): "
            "no authorizers[].type in it",
        )
    ] * 2
    assert report.warnings == [
        f"apiserver {config} (--authorization-config): no authorizers[].type in it"
    ]


def test_etcd_config_file_replaces_its_command_line(tmp_path: Path) -> None:
    """With --config-file etcd ignores its other flags: the YAML file decides (TLS settings
    under client-/peer-transport-security); a broken file leaves every etcd flag unknown."""
    config = "/etc/etcd/etcd.conf.yml"
    spec = compliant()
    spec.set("etcd", "--config-file", config)  # the passing flags stay on the command line
    spec.files[config] = FileSpec(
        "data-dir: /var/lib/etcd\n"
        "client-transport-security:\n"
        "  cert-file: /etc/kubernetes/pki/etcd/server.crt\n"
        "  key-file: /etc/kubernetes/pki/etcd/server.key\n"
        "  client-cert-auth: false\n"
        "  auto-tls: false\n"
        "peer-transport-security:\n"
        "  client-cert-auth: true\n"
        "  auto-tls: true\n"
    )
    report = run(spec, tmp_path / "a", "cis-1.10")
    assert result_of(report, "2.1")[0] is PASS
    assert result_of(report, "2.2")[:2] == (
        FAIL,
        f"--client-cert-auth is 'false' ({config}), expected true",
    )
    assert result_of(report, "2.3")[:2] == (PASS, f"--auto-tls is 'false' ({config})")
    assert result_of(report, "2.4")[0] is FAIL  # no peer certificate in the file
    assert result_of(report, "2.5")[:2] == (PASS, f"--peer-client-cert-auth is 'true' ({config})")
    assert result_of(report, "2.6")[0] is FAIL
    assert result_of(report, "2.7")[0] is WARN  # manual
    spec.files[config] = FileSpec("- not\n- a mapping\n")
    report = run(spec, tmp_path / "b", "cis-1.10")
    reason = f"{config} (--config-file): not a YAML mapping"
    assert {result_of(report, c)[0] for c in ("2.1", "2.2", "2.3", "2.5", "2.6")} == {UNKNOWN}
    assert result_of(report, "2.2")[1] == f"--client-cert-auth cannot be read: {reason}"
    assert f"etcd {reason}" in report.warnings


def test_space_separated_and_repeated_flags_last_one_wins(tmp_path: Path) -> None:
    spec = compliant()
    spec.drop("apiserver", "--profiling")
    spec.extra_args["apiserver"] = ["--profiling", "true", "--profiling", "false"]
    spec.extra_args["scheduler"] = ["--profiling=true"]  # after --profiling=false
    report = run(spec, tmp_path, "cis-1.10")
    assert result_of(report, "1.2.15")[:2] == (PASS, "--profiling is 'false' (command line)")
    assert result_of(report, "1.4.1")[:2] == (
        FAIL,
        "--profiling is 'true' (command line), expected false",
    )


def test_kubelet_flags_override_its_config_file(tmp_path: Path) -> None:
    spec = compliant()
    kubelet("authentication.anonymous.enabled", True)(spec)
    spec.set("kubelet", "--anonymous-auth", "false")
    kubelet("authorization.mode", "AlwaysAllow")(spec)
    report = run(spec, tmp_path, "cis-1.10")
    assert result_of(report, "4.2.1")[:2] == (PASS, "--anonymous-auth is 'false' (command line)")
    assert result_of(report, "4.2.2")[:2] == (
        FAIL,
        "--authorization-mode is 'AlwaysAllow' (/var/lib/kubelet/config.yaml: "
        "authorization.mode), expected anything but AlwaysAllow",
    )


def test_kubelet_defaults_differ_with_and_without_a_config_file(tmp_path: Path) -> None:
    with_file = compliant()
    kubelet("authorization.mode", None)(with_file)  # KubeletConfiguration default: Webhook
    report = run(with_file, tmp_path / "a", "cis-1.10")
    assert result_of(report, "4.2.2")[:2] == (PASS, "--authorization-mode is 'Webhook' (default)")
    flags_only = compliant()
    flags_only.drop("kubelet", "--config")
    flags_only.files.pop(KUBELET_CONFIG)
    report = run(flags_only, tmp_path / "b", "cis-1.10")
    assert result_of(report, "4.2.2")[:2] == (
        FAIL,
        "--authorization-mode is 'AlwaysAllow' (default), expected anything but AlwaysAllow",
    )
    assert result_of(report, "4.1.9")[:2] == (UNKNOWN, "/var/lib/kubelet/config.yaml: absent")


def test_kubelet_read_from_systemd_drop_in_and_environment_file(tmp_path: Path) -> None:
    spec = compliant("manifest")
    spec.files["/var/lib/kubelet/kubeadm-flags.env"] = FileSpec(
        'KUBELET_KUBEADM_ARGS="--anonymous-auth=true --rotate-certificates=false"\n', 0o644
    )
    report = run(spec, tmp_path, "cis-1.10")
    assert report.components["kubelet"] == "/usr/bin/kubelet"
    assert result_of(report, "4.2.1")[:2] == (
        FAIL,
        "--anonymous-auth is 'true' (command line), expected false",
    )
    assert result_of(report, "4.2.10")[0] is FAIL


def test_static_pod_path_comes_from_the_kubelet_config(tmp_path: Path) -> None:
    spec = compliant("manifest")
    kubelet("staticPodPath", "/etc/static")(spec)
    spec.set("apiserver", "--profiling", "true")
    root = build(spec, tmp_path)
    (root / "etc/kubernetes/manifests").rename(root / "etc/static")
    report = run_checks(NodeRoot(root), "cis-1.10")
    assert result_of(report, "1.2.15")[0] is FAIL
    assert result_of(report, "1.1.1")[:2] == (PASS, "/etc/static/kube-apiserver.yaml: mode 600")


def test_a_running_process_wins_over_its_manifest(tmp_path: Path) -> None:
    spec = compliant()
    root = build(spec, tmp_path)
    manifest = root / MANIFESTS["apiserver"].lstrip("/")
    manifest.write_text(manifest.read_text().replace("--profiling=false", "--profiling=true"))
    report = run_checks(NodeRoot(root), "cis-1.10")
    assert result_of(report, "1.2.15")[0] is PASS


def test_hyperkube_processes_are_recognised(tmp_path: Path) -> None:
    from fakenode import process

    process(tmp_path, 7, ["/hyperkube", "kube-scheduler", "--profiling=true"])
    report = run_checks(NodeRoot(tmp_path), "cis-1.10", ["master"])
    assert report.components == {"scheduler": "/hyperkube"}
    assert result_of(report, "1.4.1")[0] is FAIL
    assert result_of(report, "1.4.2")[0] is FAIL  # default 0.0.0.0
    assert result_of(report, "1.2.15")[:2] == (UNKNOWN, "kube-apiserver not found on this node")


def test_benchmark_is_chosen_from_the_manifest_image_version(tmp_path: Path) -> None:
    for version, expected in (
        ("v1.27.9", "cis-1.9"),
        ("v1.29.1", "cis-1.10"),
        ("v1.25.0", "cis-1.9"),
        ("v1.34.0", "cis-1.10"),
    ):
        spec = compliant("manifest")
        spec.image_version = version
        notes: list[str] = []
        report = run_checks(NodeRoot(build(spec, tmp_path / version)), None, progress=notes.append)
        assert report.benchmark == expected, version
        assert len(notes) == 1
    report = run_checks(NodeRoot(tmp_path / "empty"), None, progress=notes.append)
    assert report.benchmark == "cis-1.10"
    assert (
        notes[-1] == "benchmark cis-1.10: no Kubernetes version found on the node: newest benchmark"
    )


def test_targets_follow_the_components_found(tmp_path: Path) -> None:
    spec = compliant()
    for component in ("apiserver", "controllermanager", "scheduler", "etcd"):
        spec.remove_component(component)
    report = run(spec, tmp_path, "cis-1.10")
    assert {r.section_id for r in report.results} == {"4.1", "4.2", "4.3"}
    explicit = run_checks(NodeRoot(tmp_path), "cis-1.10", ["etcd"])
    assert [r.id for r in explicit.results] == ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"]
    assert {r.status for r in explicit.results if r.id != "2.7"} == {UNKNOWN}


def test_recursive_pki_ownership_names_the_offending_files(tmp_path: Path) -> None:
    spec = compliant()
    chown(f"{PKI}/ca.key")(spec)
    chown(f"{PKI}/etcd/ca.crt")(spec)
    report = run(spec, tmp_path, "cis-1.10")
    assert result_of(report, "1.1.19")[:2] == (
        FAIL,
        "/etc/kubernetes/pki/ca.key is owned by kube:kube; /etc/kubernetes/pki/etcd/ca.crt is "
        "owned by kube:kube, expected root:root",
    )


# -- bad input ------------------------------------------------------------------------------


def test_unreadable_huge_or_non_mapping_kubelet_config_is_unknown_with_a_warning(
    tmp_path: Path,
) -> None:
    cases = {
        "dir": "/var/lib/kubelet/config.yaml: not a readable regular file of at most 4 MiB",
        "huge": "/var/lib/kubelet/config.yaml: not a readable regular file of at most 4 MiB",
        "list": "/var/lib/kubelet/config.yaml: not a mapping of settings",
        "bad": "/var/lib/kubelet/config.yaml: not valid YAML (line 2)",
    }
    for case, message in cases.items():
        spec = compliant()
        if case == "dir":
            spec.files[KUBELET_CONFIG] = FileSpec(None, 0o700)
            spec.kubelet_config = None
        elif case == "huge":
            spec.kubelet_config_text = "# " + "x" * (4 * 1024 * 1024 + 10) + "\n"
        elif case == "list":
            spec.kubelet_config_text = "- a\n- b\n"
        else:
            broken_kubelet_config(spec)
        report = run(spec, tmp_path / case, "cis-1.10")
        assert f"kubelet config {message}" in report.warnings, case
        assert result_of(report, "4.2.1")[:2] == (
            UNKNOWN,
            f"--anonymous-auth cannot be read: {message}",
        ), case
        # a flag the command line sets is still judged
        assert result_of(report, "4.2.7")[0] is WARN


def test_malformed_manifest_is_a_warning_and_the_component_unknown(tmp_path: Path) -> None:
    spec = compliant("manifest")
    root = build(spec, tmp_path)
    (root / MANIFESTS["scheduler"].lstrip("/")).write_text("spec: {containers: [\n")
    (root / MANIFESTS["etcd"].lstrip("/")).write_text("just text\n")
    report = run_checks(NodeRoot(root), "cis-1.10", TARGETS)
    assert (
        "/etc/kubernetes/manifests/kube-scheduler.yaml: not valid YAML, the static pod is not read"
        in report.warnings
    )
    assert (
        "/etc/kubernetes/manifests/etcd.yaml: no spec.containers, the static pod is not read"
        in report.warnings
    )
    assert result_of(report, "1.4.1")[:2] == (UNKNOWN, "kube-scheduler not found on this node")
    assert result_of(report, "2.2")[:2] == (UNKNOWN, "etcd not found on this node")
    assert result_of(report, "1.1.5")[0] is PASS  # the file's mode is still a fact


def test_symlink_escaping_the_root_is_not_followed_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside.conf"
    outside.write_text("secret")
    os.chmod(outside, 0o644)
    spec = compliant()
    spec.files.pop(ADMIN)
    root = build(spec, tmp_path / "node")
    (root / "etc/kubernetes/admin.conf").symlink_to("../../../../../outside.conf")
    (root / "etc/kubernetes/scheduler.conf").unlink()
    (root / "etc/kubernetes/scheduler.conf").symlink_to("/outside.conf")
    report = run_checks(NodeRoot(root), "cis-1.10")
    assert result_of(report, "1.1.13")[:2] == (UNKNOWN, f"{ADMIN}: absent")
    assert result_of(report, "1.1.15")[:2] == (UNKNOWN, f"{SCHED_CONF}: absent")


def test_inside_symlinks_are_followed_within_the_root(tmp_path: Path) -> None:
    spec = compliant()
    spec.files.pop(ADMIN)
    root = build(spec, tmp_path)
    real = root / "srv/admin.conf"
    real.parent.mkdir()
    real.write_text("x")
    os.chmod(real, 0o640)
    (root / "etc/kubernetes/admin.conf").symlink_to("/srv/admin.conf")
    report = run_checks(NodeRoot(root), "cis-1.10")
    assert result_of(report, "1.1.13")[:2] == (
        FAIL,
        "/etc/kubernetes/admin.conf has mode 640, expected 600 or stricter",
    )


def test_garbage_processes_are_ignored(tmp_path: Path) -> None:
    spec = compliant()
    root = build(spec, tmp_path)
    (root / "proc/5").mkdir()
    (root / "proc/5/cmdline").write_bytes(b"\xff\xfe\x00--x\x00")
    (root / "proc/6").mkdir()
    (root / "proc/6/cmdline").write_bytes(b"")
    (root / "proc/self").mkdir()
    (root / "proc/999").mkdir()  # no cmdline (kernel thread, race)
    report = run_checks(NodeRoot(root), "cis-1.10")
    assert statuses(report) == baseline("cis-1.10", "process")


def test_a_second_process_of_a_component_is_a_warning(tmp_path: Path) -> None:
    from fakenode import process

    spec = compliant()
    root = build(spec, tmp_path)
    process(root, 4000, ["kube-scheduler", "--profiling=true"])
    report = run_checks(NodeRoot(root), "cis-1.10")
    assert result_of(report, "1.4.1")[0] is PASS
    assert "more than one scheduler process: judging the process 102, not process 4000" in (
        report.warnings
    )


def test_a_whole_run_is_fast(tmp_path: Path) -> None:
    import time

    root = build(compliant(), tmp_path)
    started = time.perf_counter()
    for name in BENCHMARKS:
        run_checks(NodeRoot(root), name)
    assert time.perf_counter() - started < 0.5


def test_a_symlink_loop_in_the_pki_tree_is_bounded(tmp_path: Path) -> None:
    import time

    root = build(compliant(), tmp_path)
    (root / "etc/kubernetes/pki/loop").symlink_to("/etc/kubernetes/pki")
    (root / "etc/kubernetes/pki/self").symlink_to("self")
    started = time.perf_counter()
    report = run_checks(NodeRoot(root), "cis-1.10")
    assert time.perf_counter() - started < 2
    status, reason, evidence = result_of(report, "1.1.19")
    assert (status, reason) == (PASS, "86 files under /etc/kubernetes/pki comply")
    assert len(evidence) == 20  # evidence is capped, the walk is bounded
