"""The engine's counters as Prometheus metrics, and the server that exposes them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kubeward.runtime.engine import Engine
from kubeward.runtime.fields.base import FieldSpec, Getter, MappedFieldRegistry
from kubeward.runtime.metrics import EngineCollector, MetricsServer
from kubeward.runtime.rules import load_rules_files


def _key(key: str):  # type: ignore[no-untyped-def]
    def factory(_arg: str | None) -> Getter:
        return lambda ev: ev.get(key) if isinstance(ev, dict) else None

    return factory


RULES = """
- rule: cat runs
  desc: d
  condition: evt.type = execve and proc.name = cat
  output: "cat (%proc.name)"
  priority: WARNING
- rule: shadow read
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "shadow (%fd.name)"
  priority: CRITICAL
"""


def engine(tmp_path: Path, rules: str = RULES, **kwargs: object) -> Engine:
    path = tmp_path / "rules.yaml"
    path.write_text(rules)
    registry = MappedFieldRegistry(
        "syscall",
        [
            FieldSpec("evt.type", "string", _key("evt.type")),
            FieldSpec("proc.name", "string", _key("proc.name")),
            FieldSpec("fd.name", "string", _key("fd.name")),
        ],
    )
    return Engine(load_rules_files([path]), {"syscall": registry}, hostname="n", **kwargs)  # type: ignore[arg-type]


def scrape(collector: EngineCollector) -> list[str]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if not line.startswith("#")]


def run_events(e: Engine) -> None:
    for event in (
        {"evt.type": "execve", "proc.name": "cat"},
        {"evt.type": "execve", "proc.name": "cat"},
        {"evt.type": "openat", "fd.name": "/etc/passwd"},
        {"evt.type": "openat", "fd.name": "/etc/shadow"},
    ):
        e.process("syscall", event)
    e.process("k8s_audit", {"verb": "get"})


def test_counters_and_matches_per_rule(tmp_path: Path) -> None:
    e = engine(tmp_path)
    run_events(e)
    assert scrape(EngineCollector(e, lambda: 7)) == [
        "kubeward_runtime_events_total 5.0",
        "kubeward_runtime_events_dropped_total 7.0",
        "kubeward_runtime_events_late_total 0.0",
        "kubeward_runtime_events_unknown_source_total 1.0",
        "kubeward_runtime_alerts_total 3.0",
        "kubeward_runtime_alerts_rate_limited_total 0.0",
        "kubeward_runtime_alerts_deduplicated_total 0.0",
        "kubeward_runtime_rules_enabled 2.0",
        per_rule("matches", CAT, 2),
        per_rule("matches", SHADOW, 1),
        per_rule("suppressed", CAT, 0),
        per_rule("suppressed", SHADOW, 0),
        per_rule("errors", CAT, 0),
        per_rule("errors", SHADOW, 0),
    ]


CAT = 'priority="Warning",rule="cat runs",source="syscall"'
SHADOW = 'priority="Critical",rule="shadow read",source="syscall"'


def per_rule(counter: str, labels: str, value: float) -> str:
    return f"kubeward_runtime_rule_{counter}_total{{{labels}}} {float(value)}"


def test_rule_time_only_when_the_engine_times_rules(tmp_path: Path) -> None:
    e = engine(tmp_path, stats=True, dedup_window=60.0)
    run_events(e)
    lines = scrape(EngineCollector(e))
    assert "kubeward_runtime_events_dropped_total 0.0" in lines
    # the second cat alert is identical to the first: suppressed
    assert per_rule("suppressed", CAT, 1) in lines
    evaluations = [line for line in lines if line.startswith("kubeward_runtime_rule_evaluations")]
    assert evaluations == [per_rule("evaluations", CAT, 2), per_rule("evaluations", SHADOW, 2)]
    seconds = [line for line in lines if line.startswith("kubeward_runtime_rule_seconds")]
    assert len(seconds) == 2 and all(float(line.rsplit(" ", 1)[1]) > 0 for line in seconds)


def test_a_label_value_is_escaped(tmp_path: Path) -> None:
    e = engine(tmp_path, RULES.replace("rule: cat runs", 'rule: cat "runs"\\ here'))
    assert next(r.name for r in e._compiled) == 'cat "runs"\\ here'
    lines = scrape(EngineCollector(e))
    assert (
        'kubeward_runtime_rule_matches_total{priority="Warning",rule="cat \\"runs\\"\\\\ here",'
        'source="syscall"} 0.0'
    ) in lines


def test_the_server_serves_and_stops(tmp_path: Path) -> None:
    e = engine(tmp_path)
    run_events(e)
    server = MetricsServer("127.0.0.1", 0, EngineCollector(e))
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/metrics")
        response = httpx.get(server.url, timeout=10)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        lines = response.text.splitlines()
        assert "kubeward_runtime_events_total 5.0" in lines
        assert any(line.startswith("process_cpu_seconds_total ") for line in lines)
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url, timeout=5)
