"""kube-bench definitions (`--benchmark-dir`) on fake node roots, against kube-bench's own
expected outputs (read in place from ../shared/data/kube-bench).

Expected_output.data is kube-bench's text output on a kind control-plane node; its check ids
and texts are cis-1.20's. `kind_control_plane()` rebuilds that node from what the output
reveals (flags behind each PASS/FAIL, file modes, the kubelet config), runs cis-1.20, and
requires the same verdict on every check, except the ones listed in KIND_DIFFERENCES with
the reason. cis-1.8/1.9/1.10 then run on the same node: every check whose definition is the
same as a cis-1.20 one must get the same verdict.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from kubeward.compliance.node.audit_shell import first_unsupported, parse
from kubeward.compliance.node.kubebench import run_benchmark_dir
from kubeward.compliance.node.result import Status
from kubeward.compliance.node.root import NodeRoot

KUBE_BENCH = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "kube-bench"
CFG = KUBE_BENCH / "cfg"
EXPECTED = KUBE_BENCH / "testdata" / "integration" / "testdata" / "Expected_output.data"
RESULT_JSON = KUBE_BENCH / "testdata" / "cmd" / "testdata" / "result.json"
ALL_TARGETS = ("master", "etcd", "controlplane", "node", "policies")


def write(base: Path, path: str, text: str, mode: int = 0o644) -> None:
    host = base / path.lstrip("/")
    host.parent.mkdir(parents=True, exist_ok=True)
    host.write_text(text)
    host.chmod(mode)


def users(base: Path, user: str = "root", group: str = "root") -> None:
    """Name the test runner's uid/gid (root on a real node) so `stat -c %U:%G` is exact
    whoever runs the tests."""
    write(base, "/etc/passwd", f"{user}:x:{os.getuid()}:{os.getgid()}::/:/bin/sh\n")
    write(base, "/etc/group", f"{group}:x:{os.getgid()}:\n")


def process(base: Path, pid: int, *argv: str, environ: str = "") -> None:
    write(base, f"/proc/{pid}/cmdline", "\0".join(argv) + "\0")
    if environ:
        write(base, f"/proc/{pid}/environ", environ)


PKI = "/etc/kubernetes/pki"
APISERVER = (
    "kube-apiserver --advertise-address=172.18.0.3 --allow-privileged=true "
    f"--authorization-mode=Node,RBAC --client-ca-file={PKI}/ca.crt "
    "--enable-admission-plugins=NodeRestriction --enable-bootstrap-token-auth=true "
    f"--etcd-cafile={PKI}/etcd/ca.crt --etcd-certfile={PKI}/apiserver-etcd-client.crt "
    f"--etcd-keyfile={PKI}/apiserver-etcd-client.key --etcd-servers=https://127.0.0.1:2379 "
    f"--insecure-port=0 --kubelet-client-certificate={PKI}/apiserver-kubelet-client.crt "
    f"--kubelet-client-key={PKI}/apiserver-kubelet-client.key "
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname "
    f"--proxy-client-cert-file={PKI}/front-proxy-client.crt "
    f"--proxy-client-key-file={PKI}/front-proxy-client.key --runtime-config= "
    "--secure-port=6443 --service-account-issuer=https://kubernetes.default.svc.cluster.local "
    f"--service-account-key-file={PKI}/sa.pub --service-account-signing-key-file={PKI}/sa.key "
    f"--service-cluster-ip-range=10.96.0.0/16 --tls-cert-file={PKI}/apiserver.crt "
    f"--tls-private-key-file={PKI}/apiserver.key"
)
CONTROLLER_MANAGER = (
    "kube-controller-manager --allocate-node-cidrs=true "
    "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf "
    "--bind-address=127.0.0.1 --cluster-cidr=10.244.0.0/16 --cluster-name=kind "
    f"--cluster-signing-cert-file={PKI}/ca.crt --cluster-signing-key-file={PKI}/ca.key "
    "--controllers=*,bootstrapsigner,tokencleaner "
    "--kubeconfig=/etc/kubernetes/controller-manager.conf "
    f"--leader-elect=true --port=0 --root-ca-file={PKI}/ca.crt "
    f"--service-account-private-key-file={PKI}/sa.key --use-service-account-credentials=true"
)
SCHEDULER = (
    "kube-scheduler --authentication-kubeconfig=/etc/kubernetes/scheduler.conf "
    "--bind-address=127.0.0.1 --kubeconfig=/etc/kubernetes/scheduler.conf --leader-elect=true "
    "--port=0"
)
ETCD = (
    "etcd --advertise-client-urls=https://172.18.0.3:2379 "
    f"--cert-file={PKI}/etcd/server.crt --client-cert-auth=true --data-dir=/var/lib/etcd "
    f"--key-file={PKI}/etcd/server.key --listen-client-urls=https://127.0.0.1:2379 "
    "--name=kind-control-plane "
    f"--peer-cert-file={PKI}/etcd/peer.crt --peer-client-cert-auth=true "
    f"--peer-key-file={PKI}/etcd/peer.key --peer-trusted-ca-file={PKI}/etcd/ca.crt "
    f"--snapshot-count=10000 --trusted-ca-file={PKI}/etcd/ca.crt"
)
KUBELET = (
    "/usr/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf "
    "--kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml "
    "--container-runtime=remote "
    "--container-runtime-endpoint=unix:///run/containerd/containerd.sock "
    "--fail-swap-on=false --node-ip=172.18.0.3 --provider-id=kind://docker/kind/kind-control-plane"
)
KUBELET_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
clusterDNS:
- 10.96.0.10
rotateCertificates: true
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
"""


def kind_control_plane(base: Path) -> NodeRoot:
    """A kind control-plane node as kube-bench's container saw it (no /var/lib/cni)."""
    users(base)
    process(base, 1, "/sbin/init")
    process(base, 210, "/usr/local/bin/containerd")
    process(base, 460, *KUBELET.split())
    process(base, 601, *ETCD.split())
    process(base, 602, *CONTROLLER_MANAGER.split())
    process(base, 603, *SCHEDULER.split())
    process(base, 604, *APISERVER.split())
    process(base, 890, "/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf")
    process(base, 950, "/bin/kindnetd")
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        write(base, f"/etc/kubernetes/manifests/{name}.yaml", "kind: Pod\n", 0o600)
    for name in ("admin", "scheduler", "controller-manager", "kubelet"):
        write(base, f"/etc/kubernetes/{name}.conf", "kind: Config\n", 0o600)
    write(base, "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", "[Service]\n")
    write(base, "/var/lib/kubelet/config.yaml", KUBELET_CONFIG)
    for name in ("ca", "apiserver", "etcd/ca", "etcd/server", "front-proxy-ca"):
        write(base, f"{PKI}/{name}.crt", "cert\n", 0o644)
        write(base, f"{PKI}/{name}.key", "key\n", 0o600)
    (base / "var/lib/etcd/member").mkdir(parents=True)
    (base / "var/lib/etcd").chmod(0o700)
    return NodeRoot(base)


def expected_statuses() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in EXPECTED.read_text().splitlines():
        match = re.match(r"\[(PASS|FAIL|WARN)\] (\S+) ", line)
        if match:
            found[match.group(2)] = match.group(1)
    return found


# kube-bench's verdict differs from kubeward's on purpose here: the audit printed nothing
# because what it looks at is absent, and kubeward does not judge from nothing.
KIND_DIFFERENCES = {
    # kube-bench's container does not mount /var/lib/cni and kind's kubelet has no
    # --cni-conf-dir: the audit prints nothing (kube-bench: WARN, unscored)
    "1.1.9": ("WARN", "UNKNOWN"),
    "1.1.10": ("WARN", "UNKNOWN"),
    # no --encryption-provider-config: the audit prints nothing
    "1.2.33": ("WARN", "UNKNOWN"),
    # kind's kube-proxy keeps its kubeconfig inside its pod: none of config.yaml's proxy
    # kubeconfig paths exists on the node, `if test -e ...` prints nothing
    "4.1.3": ("WARN", "UNKNOWN"),
    "4.1.4": ("WARN", "UNKNOWN"),
}


@pytest.fixture(scope="module")
def kind_root(tmp_path_factory: pytest.TempPathFactory) -> NodeRoot:
    return kind_control_plane(tmp_path_factory.mktemp("kind"))


@pytest.fixture(scope="module")
def cis120(kind_root: NodeRoot) -> dict[str, Status]:
    report = run_benchmark_dir(CFG / "cis-1.20", kind_root, list(ALL_TARGETS))
    return {result.id: result.status for result in report.results}


def test_cis_1_20_matches_kube_bench_on_kind(cis120: dict[str, Status]) -> None:
    expected = expected_statuses()
    assert len(expected) == 123
    assert set(cis120) == set(expected)
    differences = {
        check_id: (status, cis120[check_id].value)
        for check_id, status in expected.items()
        if cis120[check_id].value != status
    }
    assert differences == KIND_DIFFERENCES


def _definition_key(check: dict[str, object]) -> str:
    fields = ("audit", "audit_config", "audit_env", "tests", "type", "scored")
    return json.dumps({k: check.get(k) for k in fields}, sort_keys=True, default=str)


def _definitions(version: str) -> dict[str, str]:
    """check id -> definition key, for every target of a cfg version."""
    found: dict[str, str] = {}
    for target in ALL_TARGETS:
        doc = yaml.safe_load((CFG / version / f"{target}.yaml").read_text())
        for group in doc["groups"]:
            for check in group["checks"]:
                found[str(check["id"])] = _definition_key(check)
    return found


@pytest.mark.parametrize(
    ("version", "compared"), [("cis-1.8", 72), ("cis-1.9", 69), ("cis-1.10", 69)]
)
def test_newer_definitions_agree_where_the_definition_is_unchanged(
    kind_root: NodeRoot, cis120: dict[str, Status], version: str, compared: int
) -> None:
    """cis-1.8 and later renumber and reword checks, but most audits and tests are the same
    as cis-1.20's: on the same node those checks must get the verdict kube-bench gave."""
    kube_bench = expected_statuses()
    by_definition: dict[str, set[str]] = {}
    for check_id, key in _definitions("cis-1.20").items():
        # kube-bench's verdict, or kubeward's documented difference for that check
        status = KIND_DIFFERENCES.get(check_id, ("", kube_bench[check_id]))[1]
        by_definition.setdefault(key, set()).add(status)
    report = run_benchmark_dir(CFG / version, kind_root, list(ALL_TARGETS))
    assert report.warnings == []
    statuses = {result.id: result.status.value for result in report.results}
    checked = []
    for check_id, key in _definitions(version).items():
        known = by_definition.get(key)
        if known and len(known) == 1 and '"type": "manual"' not in key:
            checked.append(check_id)
            assert statuses[check_id] == next(iter(known)), check_id
    assert len(checked) == compared


@pytest.mark.parametrize(
    ("version", "automated", "emulated"),
    [("cis-1.8", 90, 90), ("cis-1.9", 96, 90), ("cis-1.10", 102, 90), ("cis-1.20", 94, 94)],
)
def test_emulated_coverage(version: str, automated: int, emulated: int) -> None:
    """Every node-side audit of these versions is emulated; the rest call kubectl (cluster
    API checks: `kubeward k8s` covers those) and are UNKNOWN."""
    total = supported = 0
    for target in ALL_TARGETS:
        doc = yaml.safe_load((CFG / version / f"{target}.yaml").read_text())
        for group in doc["groups"]:
            for check in group["checks"]:
                if check.get("type") in ("manual", "skip"):
                    continue
                total += 1
                scripts = [check.get(k) or "" for k in ("audit", "audit_config", "audit_env")]
                try:
                    ok = all(first_unsupported(parse(s)) is None for s in scripts)
                except Exception:
                    ok = False
                supported += ok
    assert (total, supported) == (automated, emulated)


def test_kubectl_audits_are_unknown_not_fail(kind_root: NodeRoot) -> None:
    report = run_benchmark_dir(CFG / "cis-1.10", kind_root, ["policies"])
    unknown = [r for r in report.results if r.reason == "audit not supported: kubectl"]
    assert len(unknown) == 12
    assert {r.status for r in unknown} == {Status.UNKNOWN}
    assert all(r.status is not Status.FAIL for r in report.results)


def test_result_json_checks_on_a_minikube_root(tmp_path: Path) -> None:
    """cmd/testdata/result.json: kube-bench's verdicts on a minikube master (cis-1.5). The
    processes are rebuilt from the `ps` lines it recorded as actual_value."""
    data = json.loads(RESULT_JSON.read_text())
    recorded = {
        result["test_number"]: result
        for controls in data["Controls"]
        for group in controls["tests"]
        for result in group["results"]
    }
    users(tmp_path)
    for line in recorded["2.1"]["actual_value"].strip().splitlines():
        columns = line.split()
        process(tmp_path, int(columns[1]), *columns[7:])
    permissions = recorded["1.1.1"]["actual_value"].strip().split("=")[1]
    write(
        tmp_path,
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        "kind: Pod\n",
        int(permissions, 8),
    )
    report = run_benchmark_dir(
        CFG / "cis-1.5", NodeRoot(tmp_path), ["master", "etcd", "controlplane"]
    )
    ours = {r.id: r for r in report.results}
    assert {k: ours[k].status.value for k in recorded} == {
        k: v["status"] for k, v in recorded.items()
    }
    assert ours["1.1.1"].evidence == (("audit output", "permissions=600"),)
    assert ours["1.1.1"].reason == (
        "expected permissions has permissions 600, expected 644 or more restrictive"
    )
    # the same command lines, in the same order, as kube-bench's `ps -ef | grep etcd`
    ps_lines = dict(ours["2.1"].evidence)["audit output"].splitlines()
    assert [line.split(None, 7)[7] for line in ps_lines] == [
        line.split(None, 7)[7] for line in recorded["2.1"]["actual_value"].strip().splitlines()
    ]
    assert ours["2.1"].audit == "/bin/ps -ef | /bin/grep etcd | /bin/grep -v grep"
    assert ours["3.1.1"].reason == "Test marked as a manual test"
