"""`kubeward runtime`: run Falco-compatible rules over one event source and write alerts.

Loads kubeward's packaged rules (or the `--rules` files), compiles them for every event source
whose fields kubeward has, then streams events from the chosen source through the engine to
stdout or `--output` and, with `--webhook`, to an HTTP receiver. A rules problem is one line
per error and exit code 2; a bad event is a warning and the stream goes on; SIGINT or SIGTERM
stops a live source cleanly (queued alerts sent, stats printed) with exit code 0.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

from kubeward.cli.runtime_args import FORMATS, SOURCES
from kubeward.errors import UsageError
from kubeward.runtime.engine import PRIORITIES, Engine, EngineStats, parse_priority
from kubeward.runtime.fields.base import FieldRegistry
from kubeward.runtime.outputs import AlertSink, LineWriter, WebhookWriter
from kubeward.runtime.rules import LoadMessage, Ruleset, load_rules_files

log = logging.getLogger(__name__)

K8S_AUDIT = "k8s_audit"
SYSCALL = "syscall"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed `--source`: its kind and what follows the colon."""

    kind: str  # "k8s-audit" | "k8s-audit-webhook" | "sensor" | "sysdig-json"
    value: str


@dataclass
class EventStream:
    """An opened source: its events, how many it dropped so far, how to stop it."""

    source: str
    events: Iterator[tuple[str, object]]
    dropped: Callable[[], int] = lambda: 0
    close: Callable[[], None] = lambda: None
    live: bool = False
    describe: Callable[[], str] | None = None
    """A line about the source for --stats (its own counters)."""


def parse_source(text: str) -> SourceSpec:
    """`--source` as a SourceSpec; UsageError naming the accepted forms otherwise."""
    kind, sep, value = text.partition(":")
    if kind == "sensor" and not sep:
        return SourceSpec(kind, "")
    if kind in ("k8s-audit", "k8s-audit-webhook", "sysdig-json") and sep and value:
        return SourceSpec(kind, value)
    raise UsageError(f"--source {text}: expected one of {', '.join(SOURCES)}")


def parse_listen_address(
    text: str, shown: str | None = None, form: str = "[HOST]:PORT[/PATH]"
) -> tuple[str, int, str]:
    """`[HOST]:PORT[/PATH]` (IPv6 hosts in brackets) as (host, port, path); host defaults to
    all IPv4 interfaces, path to Falco's /k8s-audit. Errors name ``shown`` (the option as
    given) and the expected ``form``."""
    shown = shown or f"k8s-audit-webhook:{text}"
    address, slash, rest = text.partition("/")
    path = "/" + rest if slash else "/k8s-audit"
    if address.startswith("["):
        host, bracket, port_text = address[1:].partition("]")
        if not bracket or not port_text.startswith(":"):
            raise UsageError(f"{shown}: expected {form}")
        port_text = port_text[1:]
    elif ":" in address:
        host, _, port_text = address.rpartition(":")
    else:
        host, port_text = "", address
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"{shown}: the port must be a number up to 65535")
    return host or "0.0.0.0", int(port_text), path  # noqa: S104 - a webhook must be reachable


def parse_metrics_address(text: str) -> tuple[str, int]:
    """`--metrics [HOST]:PORT` (IPv6 hosts in brackets) as (host, port); the host defaults
    to 127.0.0.1: counters of what a node runs are not for every network it is on."""
    shown = f"--metrics {text}"
    if "/" in text:
        raise UsageError(f"{shown}: expected [HOST]:PORT (the path is /metrics)")
    host, port, _path = parse_listen_address(text, shown, "[HOST]:PORT")
    explicit = text.startswith("[") or text.rpartition(":")[0] != ""
    return (host if explicit else "127.0.0.1"), port


def default_rules_files() -> list[Path]:
    """kubeward's packaged rules files, in name order."""
    folder = Path(str(resources.files("kubeward").joinpath("data/runtime/rules")))
    return sorted(folder.glob("*.yaml"))


def run(args: argparse.Namespace) -> int:
    fmt = _output_format(args)
    try:
        min_priority = parse_priority(args.min_priority)
    except ValueError as exc:
        raise UsageError(f"--min-priority: {exc}") from None
    spec = parse_source(args.source) if args.source else None
    # A usage error before anything is opened.
    metrics_at = parse_metrics_address(args.metrics) if args.metrics else None
    if spec is None and not (args.list_rules or args.validate):
        raise UsageError("--source is required (or --list-rules, --validate)")
    if args.rate < 0 or args.max_burst < 1 or args.dedup_window < 0 or args.stats_interval < 0:
        raise UsageError(
            "--rate, --dedup-window and --stats-interval must not be negative, "
            "--max-burst must be at least 1"
        )

    registries = _registries(args)
    paths = [Path(p) for p in args.rules] or default_rules_files()
    ruleset = load_rules_files(paths)
    if not _reported(ruleset.warnings, ruleset.errors, args.quiet):
        return 2
    engine = Engine(
        ruleset,
        registries,
        min_priority=min_priority,
        match_all=args.match_all,
        rate=args.rate,
        max_burst=args.max_burst,
        dedup_window=args.dedup_window,
        stats=args.stats,
        event_time=_event_times(registries),
        late_after=LATE_AFTER_SECONDS if spec is not None and spec.kind in LIVE_SOURCES else None,
        suggested_output=True,
    )
    if not _reported(engine.warnings, engine.errors, args.quiet):
        return 2
    if args.list_rules:
        _list_rules(ruleset, engine, fmt)
        return 0
    if args.validate:
        _print_summary(ruleset, engine, paths)
        return 0
    assert spec is not None
    stream = _open_source(spec, args, registries)
    if stream.source not in engine.sources and not args.quiet:
        _warn(f"no enabled rule uses the {stream.source} source: no alert can fire")
    return _run_stream(engine, stream, fmt, args, metrics_at)


LATE_AFTER_SECONDS = 10.0
"""A live event processed this long after its own time counts as late."""
LIVE_SOURCES = ("k8s-audit-webhook", "sensor")
SHORT_PRIORITY = {"Informational": "Info"}
"""Falco's stats print priorities by their short names (only Informational has one)."""


def _output_format(args: argparse.Namespace) -> str:
    fmt = args.output_format or args.format or "text"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: kubeward runtime writes {' or '.join(FORMATS)}")
    return str(fmt)


# -- fields and sources --------------------------------------------------------------------


def _registries(args: argparse.Namespace) -> dict[str, FieldRegistry]:
    from kubeward.runtime.fields.k8s_audit import K8sAuditFields

    registries: dict[str, FieldRegistry] = {
        K8S_AUDIT: K8sAuditFields(cluster_name=args.cluster_name)
    }
    syscall = _syscall_registry()
    if syscall is not None:
        registries[SYSCALL] = syscall
    return registries


def _syscall_registry() -> FieldRegistry | None:
    """The syscall fields when that module is installed; rules of that source are skipped
    with one warning otherwise."""
    try:
        module = importlib.import_module("kubeward.runtime.fields.syscall")
    except ImportError:
        return None
    factory = getattr(module, "SyscallFields", None)
    if factory is None:
        return None
    registry: FieldRegistry = factory()
    return registry


def _reported(warnings: Sequence[LoadMessage], errors: Sequence[LoadMessage], quiet: bool) -> bool:
    """Print load warnings (unless quiet) and errors; False when there are errors."""
    if not quiet:
        for message in warnings:
            _warn(_describe(message))
    for message in errors:
        _error(_describe(message))
    return not errors


def _event_times(
    registries: dict[str, FieldRegistry],
) -> dict[str, Callable[[object], int | None]]:
    from kubeward.runtime.fields.k8s_audit import event_timestamp_ns

    times: dict[str, Callable[[object], int | None]] = {K8S_AUDIT: event_timestamp_ns}
    syscall = registries.get(SYSCALL)
    if syscall is not None:
        try:
            getter = syscall.resolve("evt.rawtime", None).getter
        except Exception:  # no raw time on this source: alerts get the wall clock
            log.debug("syscall source has no evt.rawtime", exc_info=True)
        else:

            def rawtime(event: object) -> int | None:
                value = getter(event)
                return None if value is None else int(value)

            times[SYSCALL] = rawtime
    return times


def _open_source(
    spec: SourceSpec, args: argparse.Namespace, registries: dict[str, FieldRegistry]
) -> EventStream:
    if spec.kind == "k8s-audit":
        from kubeward.runtime.sources.k8s_audit import read_audit_file

        if not Path(spec.value).is_file():
            raise UsageError(f"--source k8s-audit:{spec.value}: no such file")
        warnings = _LiveWarnings(args.quiet)
        return EventStream(K8S_AUDIT, read_audit_file(spec.value, warnings=warnings))
    if spec.kind == "k8s-audit-webhook":
        return _open_webhook(spec, args)
    if SYSCALL not in registries:
        raise UsageError(f"source {spec.kind} is not available: the syscall fields are missing")
    if spec.kind == "sysdig-json":
        module = _optional_module("kubeward.runtime.sources.sysdig_json", spec.kind)
        if spec.value != "-" and not Path(spec.value).is_file():
            raise UsageError(f"--source sysdig-json:{spec.value}: no such file")
        warnings = _LiveWarnings(args.quiet)
        return EventStream(SYSCALL, module.read_sysdig_json(spec.value, warnings=warnings))
    module = _optional_module("kubeward.runtime.sources.sensor", spec.kind)
    enable = [kind.strip() for kind in args.sensor_events.split(",") if kind.strip()]
    sensor = module.Sensor(mounts=args.sensor_mount or ["/"], enable=enable)
    sensor.start()  # SensorError (not root, no fanotify) is a one-line KubewardError
    return EventStream(
        SYSCALL,
        iter(sensor),
        dropped=lambda: int(sensor.dropped),
        close=sensor.close,
        live=True,
        describe=lambda: "Sensor: " + ", ".join(f"{k} {v}" for k, v in sensor.stats().items()),
    )


def _optional_module(name: str, kind: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise UsageError(f"source {kind} is not available") from None


def _open_webhook(spec: SourceSpec, args: argparse.Namespace) -> EventStream:
    from kubeward.runtime.sources.k8s_audit import AuditWebhookServer

    host, port, path = parse_listen_address(spec.value)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        raise UsageError("--tls-client-ca needs --tls-cert and --tls-key")
    try:
        server = AuditWebhookServer(
            host,
            port,
            path=path,
            cert_file=args.tls_cert,
            key_file=args.tls_key,
            client_ca_file=args.tls_client_ca,
        )
    except OSError as exc:
        raise UsageError(
            f"--source k8s-audit-webhook:{spec.value}: {exc.strerror or exc}"
        ) from None
    except Exception as exc:  # a bad certificate or key file (ssl.SSLError, ValueError)
        raise UsageError(f"--source k8s-audit-webhook:{spec.value}: {exc}") from None
    server.start()
    if not args.quiet:
        print(f"kubeward: receiving audit events on {server.url}", file=sys.stderr, flush=True)
    return EventStream(
        K8S_AUDIT, server.events(), dropped=lambda: server.dropped, close=server.stop, live=True
    )


class _LiveWarnings(list[str]):
    """A warnings list that prints each warning as the source reports it."""

    def __init__(self, quiet: bool) -> None:
        super().__init__()
        self._quiet = quiet

    def append(self, message: str) -> None:
        super().append(message)
        if not self._quiet:
            _warn(message)


# -- running -------------------------------------------------------------------------------


class _Stop(Exception):
    """Raised in the main thread by SIGTERM, so a service manager's stop is a clean exit."""


def _run_stream(
    engine: Engine,
    stream: EventStream,
    fmt: str,
    args: argparse.Namespace,
    metrics_at: tuple[str, int] | None,
) -> int:
    metrics = None if metrics_at is None else _serve_metrics(engine, stream, args, *metrics_at)
    try:
        return _run_events(engine, stream, fmt, args)
    finally:
        if metrics is not None:
            metrics.stop()


def _serve_metrics(
    engine: Engine, stream: EventStream, args: argparse.Namespace, host: str, port: int
) -> Any:
    from kubeward.runtime.metrics import EngineCollector, MetricsServer

    try:
        server = MetricsServer(host, port, EngineCollector(engine, stream.dropped))
    except OSError as exc:  # in use, not an address of this host, not allowed
        stream.close()
        raise UsageError(f"--metrics {args.metrics}: {exc.strerror or exc}") from None
    if not args.quiet:
        print(f"kubeward: metrics on {server.url}", file=sys.stderr, flush=True)
    return server


def _run_events(engine: Engine, stream: EventStream, fmt: str, args: argparse.Namespace) -> int:
    sinks = _open_sinks(fmt, args)
    reporter = _StatsReporter(engine, stream, args.stats_interval) if args.stats_interval else None
    previous = signal.getsignal(signal.SIGTERM)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, _raise_stop)
    interrupted = False
    try:
        if reporter is not None:
            reporter.start()
        process = engine.process
        for source, event in stream.events:
            for alert in process(source, event):
                for sink in sinks:
                    sink.write(alert)
    except (KeyboardInterrupt, _Stop):
        interrupted = True
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        stream.close()
        if reporter is not None:
            reporter.stop()
        _sync_dropped(engine, stream)
        for sink in sinks:
            sink.close()
    if args.stats:
        _print_stats(engine.stats(), sinks)
        if stream.describe is not None:
            print(stream.describe(), file=sys.stderr)
    if interrupted and not args.quiet:
        print("kubeward: stopped", file=sys.stderr)
    return 0


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def _open_sinks(fmt: str, args: argparse.Namespace) -> list[AlertSink]:
    sinks: list[AlertSink] = []
    if args.output and args.output != "-":
        target = Path(args.output)
        if not target.parent.is_dir():
            raise UsageError(f"--output {args.output}: directory {target.parent} does not exist")
        try:
            sinks.append(LineWriter.open_file(args.output, fmt))
        except OSError as exc:
            raise UsageError(f"--output {args.output}: {exc.strerror or exc}") from None
    else:
        sinks.append(LineWriter(sys.stdout, fmt))
    if args.webhook:
        if not args.webhook.startswith(("http://", "https://")):
            raise UsageError(f"--webhook {args.webhook}: expected an http:// or https:// URL")
        sinks.append(WebhookWriter(args.webhook))
    return sinks


def _sync_dropped(engine: Engine, stream: EventStream) -> None:
    """Bring the engine's dropped count up to the source's own."""
    missing = stream.dropped() - engine.stats().dropped
    if missing > 0:
        engine.note_dropped(missing)


class _StatsReporter:
    """Prints a one-line JSON stats sample on stderr every `interval` seconds."""

    def __init__(self, engine: Engine, stream: EventStream, interval: float) -> None:
        self._engine = engine
        self._stream = stream
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="runtime-stats", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            _sync_dropped(self._engine, self._stream)
            stats = self._engine.stats()
            sample = {
                "time": time.time(),
                "events": stats.events,
                "dropped": stats.dropped,
                "late": stats.late,
                "alerts": stats.alerts,
                "rate_limited": stats.rate_limited,
                "deduplicated": stats.deduplicated,
                "events_per_second": round(stats.events / max(stats.elapsed_ns / 1e9, 1e-9), 1),
            }
            print("kubeward: stats " + json.dumps(sample), file=sys.stderr, flush=True)


def _print_stats(stats: EngineStats, sinks: list[AlertSink]) -> None:
    err = sys.stderr
    seconds = stats.elapsed_ns / 1e9
    rate = stats.events / seconds if seconds > 0 else 0.0
    print(
        f"Events processed: {stats.events} in {seconds:.3f} s ({rate:.0f} events/s); "
        f"dropped: {stats.dropped}, late: {stats.late}",
        file=err,
    )
    print(
        f"Alerts: {stats.alerts} (rate-limited: {stats.rate_limited}, "
        f"deduplicated: {stats.deduplicated})",
        file=err,
    )
    print(f"Rules: {stats.rules_loaded} loaded, {stats.rules_enabled} enabled", file=err)
    # Falco's own summary lines, so scripts that read Falco's stats read these too.
    matched = [r for r in stats.rules if r.matches]
    print(f"Events detected: {sum(r.matches for r in matched)}", file=err)
    print("Rule counts by severity:", file=err)
    by_priority: dict[str, int] = {}
    for r in sorted(matched, key=lambda r: PRIORITIES.index(r.priority)):
        short = SHORT_PRIORITY.get(r.priority, r.priority).upper()
        by_priority[short] = by_priority.get(short, 0) + r.matches
    for priority, count in by_priority.items():
        print(f"   {priority}: {count}", file=err)
    print("Triggered rules by rule name:", file=err)
    for r in matched:
        print(f"   {r.rule}: {r.matches}", file=err)
    print(
        "Per rule (most time first): time_ms evaluations matches suppressed errors rule", file=err
    )
    for r in sorted(stats.rules, key=lambda r: (-r.time_ns, -r.matches, r.rule)):
        if r.evaluations or r.matches or r.errors:
            suppressed = r.rate_limited + r.deduplicated
            print(
                f"   {r.time_ns / 1e6:9.3f} {r.evaluations:11d} {r.matches:7d} "
                f"{suppressed:10d} {r.errors:6d} {r.rule}",
                file=err,
            )
    for sink in sinks:
        if isinstance(sink, WebhookWriter):
            w = sink.stats()
            print(
                f"Webhook {sink.url}: sent {w.sent}, failed {w.failed}, dropped {w.dropped}, "
                f"retries {w.retries}",
                file=err,
            )


# -- listing and messages ------------------------------------------------------------------


def _list_rules(ruleset: Ruleset, engine: Engine, fmt: str) -> None:
    out = sys.stdout
    rows = [
        (rule.name, rule.source, rule.priority, engine.rule_status.get(rule.name, "enabled"))
        for rule in ruleset.rules.values()
    ]
    if fmt == "json":
        for (name, source, priority, status), rule in zip(
            rows, ruleset.rules.values(), strict=True
        ):
            item = {
                "rule": name,
                "source": source,
                "priority": priority,
                "enabled": status == "enabled",
                "status": status,
                "tags": list(rule.tags),
                "desc": rule.desc,
            }
            out.write(json.dumps(item) + "\n")
        return
    width = max([len("RULE")] + [len(r[0]) for r in rows])
    out.write(f"{'RULE':<{width}}  {'SOURCE':<9}  {'PRIORITY':<13}  STATUS\n")
    for name, source, priority, status in rows:
        out.write(f"{name:<{width}}  {source:<9}  {priority:<13}  {status}\n")


def _print_summary(ruleset: Ruleset, engine: Engine, paths: list[Path]) -> None:
    statuses = list(engine.rule_status.values())
    enabled = statuses.count("enabled")
    print(
        f"{len(ruleset.rules)} rules loaded from {len(paths)} path(s): {enabled} enabled, "
        f"{len(ruleset.rules) - enabled} not running"
    )
    reasons: dict[str, int] = {}
    for status in statuses:
        if status != "enabled":
            reasons[status] = reasons.get(status, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:4d}  {reason}")


def _describe(message: LoadMessage) -> str:
    """One line: where (file:line), what (item), the message, and for a condition syntax
    error the offset in the condition where parsing stopped (the loader gives it)."""
    where = message.file or "rules"
    if message.line is not None:
        where += f":{message.line}"
    what = f"{message.item_type} '{message.item_name}': " if message.item_name else ""
    text = f"{where}: {what}{message.message}"
    if message.position is not None:
        text += f" (at position {message.position} of the condition)"
    return f"{text} [{message.code}]"


def _warn(text: str) -> None:
    print(f"kubeward: warning: {text}", file=sys.stderr, flush=True)


def _error(text: str) -> None:
    print(f"kubeward: error: {text}", file=sys.stderr, flush=True)
