"""The engine's counters as Prometheus metrics, served over HTTP (``kubeward runtime
--metrics``): what a monitoring system scrapes to see a sensor falling behind (dropped and
late events), noisy rules (matches per rule) and the process's own CPU and memory.

Values are read from ``Engine.stats()`` at each scrape, from the server's thread: the
engine is never changed from there (the counters are plain integers the event loop
updates; a scrape sees each one as of some moment of that loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kubeward.runtime.engine import Engine, RuleStats

PREFIX = "kubeward_runtime"
RULE_LABELS = ("rule", "source", "priority")


class EngineCollector(Collector):
    """Counters of events, drops, late events, alerts and, per rule, matches, suppressed
    alerts and condition errors (plus evaluations and seconds when the engine times rules).

    ``dropped`` answers the events the source lost before the engine saw them (a full
    webhook queue): the larger of it and the engine's own count is reported."""

    def __init__(self, engine: Engine, dropped: Callable[[], int] = lambda: 0) -> None:
        self._engine = engine
        self._dropped = dropped

    def collect(self) -> Iterator[Metric]:
        stats = self._engine.stats()
        totals = (
            ("events", "Events the engine processed.", stats.events),
            (
                "events_dropped",
                "Events a source lost before the engine saw them.",
                max(stats.dropped, self._dropped()),
            ),
            (
                "events_late",
                "Live events processed more than 10 seconds after their own time.",
                stats.late,
            ),
            (
                "events_unknown_source",
                "Events of a source no enabled rule uses.",
                stats.unknown_source,
            ),
            ("alerts", "Alerts sent.", stats.alerts),
            ("alerts_rate_limited", "Alerts held back by --rate.", stats.rate_limited),
            ("alerts_deduplicated", "Alerts suppressed by --dedup-window.", stats.deduplicated),
        )
        for name, text, value in totals:
            yield CounterMetricFamily(f"{PREFIX}_{name}", text, value=value)
        yield GaugeMetricFamily(
            f"{PREFIX}_rules_enabled", "Rules loaded and enabled.", value=stats.rules_enabled
        )
        per_rule: list[tuple[str, str, Callable[[RuleStats], float]]] = [
            ("rule_matches", "Events the rule matched.", lambda r: r.matches),
            (
                "rule_suppressed",
                "The rule's alerts held back by --rate or --dedup-window.",
                lambda r: r.rate_limited + r.deduplicated,
            ),
            ("rule_errors", "Events the rule's condition failed on.", lambda r: r.errors),
        ]
        if any(r.evaluations for r in stats.rules):  # the engine times rules (--stats)
            per_rule += [
                ("rule_evaluations", "Times the rule's condition ran.", lambda r: r.evaluations),
                ("rule_seconds", "Time spent in the rule's condition.", lambda r: r.time_ns / 1e9),
            ]
        for name, text, value_of in per_rule:
            family = CounterMetricFamily(f"{PREFIX}_{name}", text, labels=RULE_LABELS)
            for r in stats.rules:
                family.add_metric((r.rule, r.source, r.priority), value_of(r))
            yield family


class MetricsServer:
    """``/metrics`` over HTTP on ``host:port`` (port 0: any free one) from a daemon thread:
    the engine's counters and the process's CPU, memory and open files."""

    def __init__(self, host: str, port: int, collector: Collector) -> None:
        registry = CollectorRegistry()
        registry.register(collector)
        ProcessCollector(registry=registry)
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)

    @property
    def url(self) -> str:
        address = self._server.server_address
        host, port = str(address[0]), int(address[1])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/metrics"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
