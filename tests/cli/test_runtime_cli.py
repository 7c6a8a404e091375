"""`kubeward runtime`: audit files end to end, outputs, rule listing, rule errors, the webhook."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from falco_data import K8S_AUDIT_RULES_FILE as K8S_RULES
from falco_data import K8S_AUDIT_TRACES as TRACES
from kubeward.cli import main as cli
from kubeward.cli.runtime import parse_listen_address, parse_source
from kubeward.errors import UsageError

PRIVILEGED = TRACES / "create_nginx_pod_privileged.json"

PRIVILEGED_OUTPUT = (
    "Pod started with privileged container "
    "(user=system:serviceaccount:kube-system:replicaset-controller "
    "pod=nginx-deployment-5cdcc99dbf-rgw6z resource=pods ns=default images=(nginx) "
    "init_images=<NA> ephemeral_images=<NA>)"
)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def kubeward(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["runtime", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_audit_file_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = kubeward(
        capsys, "--rules", str(K8S_RULES), "--source", f"k8s-audit:{PRIVILEGED}"
    )
    assert (code, err) == (0, "")
    assert out == f"14:09:12.581541000: Warning {PRIVILEGED_OUTPUT}\n"


def test_audit_file_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = kubeward(
        capsys,
        "--rules",
        str(K8S_RULES),
        "--source",
        f"k8s-audit:{PRIVILEGED}",
        "--output-format",
        "json",
    )
    assert (code, err) == (0, "")
    (line,) = out.splitlines()
    doc = json.loads(line)
    assert list(doc) == [
        "hostname",
        "output",
        "output_fields",
        "priority",
        "rule",
        "source",
        "tags",
        "time",
    ]
    assert doc["output"] == f"14:09:12.581541000: Warning {PRIVILEGED_OUTPUT}"
    assert doc["output_fields"] == {
        "evt.time": 1540476552581541000,
        "ka.req.pod.containers.image": ["nginx"],
        "ka.req.pod.ephemeralContainers.image": None,
        "ka.req.pod.initContainers.image": None,
        "ka.resp.name": "nginx-deployment-5cdcc99dbf-rgw6z",
        "ka.target.namespace": "default",
        "ka.target.resource": "pods",
        "ka.user.name": "system:serviceaccount:kube-system:replicaset-controller",
    }
    assert (doc["priority"], doc["rule"], doc["source"], doc["tags"], doc["time"]) == (
        "Warning",
        "Create Privileged Pod",
        "k8s_audit",
        ["k8s"],
        "2018-10-25T14:09:12.581541000Z",
    )
    assert isinstance(doc["hostname"], str)
    assert doc["hostname"]


def test_default_rules_and_output_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "alerts.txt"
    for trace in (PRIVILEGED, TRACES / "create_configmap.json", TRACES / "exec_pod.json"):
        code, out, err = kubeward(capsys, "--source", f"k8s-audit:{trace}", "-o", str(target))
        assert (code, out, err) == (0, "", "")
    assert target.read_text().splitlines() == [
        "14:09:12.581541000: Warning Privileged container started (user=system:serviceaccount:"
        "kube-system:replicaset-controller ns=default pod=nginx-deployment-5cdcc99dbf-rgw6z "
        "images=(nginx))",
        "13:38:34.902914000: Notice Shell access to a pod (user=minikube-user ns=default "
        "pod=nginx-deployment-7998647bdf-phvq7 action=exec command=bash)",
    ]


def test_list_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "- rule: Audit one\n  desc: first\n  condition: ka.verb = create\n  output: x\n"
        "  priority: WARNING\n  source: k8s_audit\n  tags: [k8s]\n"
        "- rule: Off\n  desc: off\n  condition: ka.verb = get\n  output: x\n"
        "  priority: INFO\n  source: k8s_audit\n  enabled: false\n"
        "- rule: Odd field\n  desc: o\n  condition: ka.nosuch = 1\n  output: x\n"
        "  priority: DEBUG\n  source: k8s_audit\n  skip-if-unknown-filter: true\n"
    )
    code, out, err = kubeward(capsys, "--rules", str(rules), "--list-rules")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "RULE       SOURCE     PRIORITY       STATUS",
        "Audit one  k8s_audit  Warning        enabled",
        "Off        k8s_audit  Informational  disabled in rules",
        "Odd field  k8s_audit  Debug          disabled: filter_check called with nonexistent "
        "field ka.nosuch",
    ]
    code, out, err = kubeward(capsys, "--rules", str(rules), "--list-rules", "-f", "json")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()][:2] == [
        {
            "rule": "Audit one",
            "source": "k8s_audit",
            "priority": "Warning",
            "enabled": True,
            "status": "enabled",
            "tags": ["k8s"],
            "desc": "first",
        },
        {
            "rule": "Off",
            "source": "k8s_audit",
            "priority": "Informational",
            "enabled": False,
            "status": "disabled in rules",
            "tags": [],
            "desc": "off",
        },
    ]


def test_packaged_rules_validate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = kubeward(capsys, "--validate")
    assert (code, err) == (0, "")
    assert out == "16 rules loaded from 2 path(s): 16 enabled, 0 not running\n"


def test_rules_syntax_error_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text(
        "- rule: Fine\n  desc: d\n  condition: ka.verb = get\n  output: x\n"
        "  priority: INFO\n  source: k8s_audit\n"
        "- rule: Broken\n  desc: d\n  condition: ka.verb = create and and ka.user.name = bob\n"
        "  output: x\n  priority: WARNING\n  source: k8s_audit\n"
    )
    code, out, err = kubeward(capsys, "--rules", str(rules), "--source", f"k8s-audit:{PRIVILEGED}")
    assert (code, out) == (2, "")
    assert err == (
        f"kubeward: error: {rules}:7: rule 'Broken': unexpected token after 'and', expecting "
        "'or', 'and' (at position 25 of the condition) [LOAD_ERR_COMPILE_CONDITION]\n"
    )


def test_usage_errors(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert kubeward(capsys) == (
        2,
        "",
        "kubeward: error: --source is required (or --list-rules, --validate)\n",
    )
    code, _, err = kubeward(capsys, "--source", "kafka:x")
    assert code == 2
    assert err.startswith("kubeward: error: --source kafka:x: expected one of k8s-audit:FILE")
    code, _, err = kubeward(capsys, "--source", "k8s-audit:/nonexistent.json")
    assert (code, err) == (
        2,
        "kubeward: error: --source k8s-audit:/nonexistent.json: no such file\n",
    )
    code, _, err = kubeward(capsys, "--source", f"k8s-audit:{PRIVILEGED}", "--min-priority", "x")
    assert code == 2
    assert err.startswith("kubeward: error: --min-priority: unknown priority 'x'")
    monkeypatch.setitem(sys.modules, "kubeward.runtime.sources.sensor", None)
    code, _, err = kubeward(capsys, "--source", "sensor")
    assert (code, err) == (2, "kubeward: error: source sensor is not available\n")


def test_parse_source_and_address() -> None:
    assert parse_source("k8s-audit:a:b.json").value == "a:b.json"
    assert parse_source("sensor").kind == "sensor"
    with pytest.raises(UsageError):
        parse_source("sensor:x")
    assert parse_listen_address("9765") == ("0.0.0.0", 9765, "/k8s-audit")
    assert parse_listen_address("127.0.0.1:80/audit") == ("127.0.0.1", 80, "/audit")
    assert parse_listen_address("[::1]:8443") == ("::1", 8443, "/k8s-audit")
    with pytest.raises(UsageError, match="port must be a number"):
        parse_listen_address("host:http")


def test_stats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = kubeward(
        capsys, "--rules", str(K8S_RULES), "--source", f"k8s-audit:{PRIVILEGED}", "--stats"
    )
    assert code == 0
    assert out.count("\n") == 1
    lines = err.splitlines()
    assert lines[0].startswith("Events processed: 1 in ")
    assert lines[0].endswith("dropped: 0, late: 0")
    assert lines[1:8] == [
        "Alerts: 1 (rate-limited: 0, deduplicated: 0)",
        "Rules: 48 loaded, 48 enabled",
        "Events detected: 1",
        "Rule counts by severity:",
        "   WARNING: 1",
        "Triggered rules by rule name:",
        "   Create Privileged Pod: 1",
    ]
    assert lines[8] == (
        "Per rule (most time first): time_ms evaluations matches suppressed errors rule"
    )
    # First match in load order: the two rules before it were tried, then it matched.
    rows = {line.split(None, 5)[5]: line.split()[1:5] for line in lines[9:]}
    assert rows == {
        "Disallowed K8s User": ["1", "0", "0", "0"],
        "Create Disallowed Pod": ["1", "0", "0", "0"],
        "Create Privileged Pod": ["1", "1", "0", "0"],
    }


class _Sidekick(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_output(capsys: pytest.CaptureFixture[str]) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Sidekick)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        code, out, _ = kubeward(
            capsys,
            "--rules",
            str(K8S_RULES),
            "--source",
            f"k8s-audit:{PRIVILEGED}",
            "--webhook",
            url,
        )
    finally:
        server.shutdown()
    assert code == 0
    (body,) = _Sidekick.bodies
    doc = json.loads(body)
    assert doc["rule"] == "Create Privileged Pod"
    assert doc["output"] == out.rstrip("\n")


@contextlib.contextmanager
def webhook_runtime(*options: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``kubeward runtime`` receiving audit events on a free port, with ``options``: the
    process and its webhook URL; killed on the way out if still running."""
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "kubeward", "runtime", "--rules", str(K8S_RULES),
            "--source", "k8s-audit-webhook:127.0.0.1:0", *options,
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TZ": "UTC"},
    )  # fmt: skip
    try:
        assert proc.stderr is not None and proc.stdout is not None
        banner = proc.stderr.readline()
        assert banner.startswith("kubeward: receiving audit events on http://127.0.0.1:")
        yield proc, banner.split(" on ", 1)[1].strip()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def post_privileged_pod(proc: subprocess.Popen[str], url: str) -> None:
    """POST the privileged-pod audit event and read its alert line."""
    event = json.loads(PRIVILEGED.read_text())
    body = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [event]})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert proc.stdout is not None
    assert proc.stdout.readline() == f"14:09:12.581541000: Warning {PRIVILEGED_OUTPUT}\n"


def test_audit_webhook_source_end_to_end() -> None:
    with webhook_runtime("--stats") as (proc, url):
        post_privileged_pod(proc, url)
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert rest == ""
    assert "Events processed: 1 in " in err
    assert "   Create Privileged Pod: 1" in err
    assert err.rstrip().endswith("kubeward: stopped")


def test_metrics_served_while_running() -> None:
    """``--metrics``: the counters scraped while the webhook source runs, one alert in."""
    with webhook_runtime("--metrics", "127.0.0.1:0") as (proc, url):
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        assert banner.startswith("kubeward: metrics on http://127.0.0.1:")
        metrics = banner.split(" on ", 1)[1].strip()
        assert metrics.endswith("/metrics")
        post_privileged_pod(proc, url)
        with urllib.request.urlopen(metrics, timeout=10) as response:
            lines = response.read().decode().splitlines()
        assert "kubeward_runtime_events_total 1.0" in lines
        assert "kubeward_runtime_alerts_total 1.0" in lines
        assert "kubeward_runtime_events_dropped_total 0.0" in lines
        assert (
            'kubeward_runtime_rule_matches_total{priority="Warning",'
            'rule="Create Privileged Pod",source="k8s_audit"} 1.0'
        ) in lines
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert err.rstrip().endswith("kubeward: stopped")


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("nonsense", "--metrics nonsense: the port must be a number up to 65535"),
        (
            "127.0.0.1:9100/x",
            "--metrics 127.0.0.1:9100/x: expected [HOST]:PORT (the path is /metrics)",
        ),
        ("[::1]9100", "--metrics [::1]9100: expected [HOST]:PORT"),
    ],
)
def test_metrics_address_errors(
    capsys: pytest.CaptureFixture[str], address: str, message: str
) -> None:
    code, out, err = kubeward(
        capsys, "--rules", str(K8S_RULES), "--source", f"k8s-audit:{PRIVILEGED}",
        "--metrics", address,
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == f"kubeward: error: {message}\n"


def test_metrics_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, out, err = kubeward(
            capsys, "--rules", str(K8S_RULES), "--source", f"k8s-audit:{PRIVILEGED}",
            "--metrics", f"127.0.0.1:{port}",
        )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == f"kubeward: error: --metrics 127.0.0.1:{port}: Address already in use\n"


def test_sysdig_json_with_default_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    common = '"evt.dir":"<","container.id":"0123456789ab","user.name":"root"'
    capture.write_text(
        "{" + common + ',"evt.time":1700000000123456789,"evt.type":"openat","proc.name":"cat",'
        '"proc.cmdline":"cat /etc/shadow","proc.pname":"bash","fd.name":"/etc/shadow",'
        '"evt.is_open_read":true}\n'
        "{" + common + ',"evt.time":1700000000223456789,"evt.type":"execve","proc.name":"ls",'
        '"proc.cmdline":"ls","proc.pname":"bash"}\n'
    )
    code, out, err = kubeward(capsys, "--source", f"sysdig-json:{capture}")
    assert (code, err) == (0, "")
    assert out == (
        "22:13:20.123456789: Warning Password database read (user=root file=/etc/shadow "
        "program=cat cmdline=cat /etc/shadow parent=bash container=0123456789ab image=<NA> "
        "pod=<NA> ns=<NA>) container_id=0123456789ab container_name=<NA> "
        "container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> "
        "k8s_ns_name=<NA>\n"  # Falco 0.41+'s suggested output, appended to syscall rules
    )
