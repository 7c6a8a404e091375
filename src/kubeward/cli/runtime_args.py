"""Arguments of `kubeward runtime`: rules, one event source, outputs and noise controls."""

from __future__ import annotations

import argparse

FORMATS = ("text", "json")
SOURCES = ("k8s-audit:FILE", "k8s-audit-webhook:[HOST]:PORT[/PATH]", "sensor", "sysdig-json:FILE")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules",
        metavar="FILE",
        action="append",
        default=[],
        help="Falco rules file or directory (repeatable, loaded in order; later files "
        "append to and override earlier ones); replaces kubeward's packaged rules",
    )
    parser.add_argument(
        "--source",
        metavar="SOURCE",
        help="where events come from: " + " | ".join(SOURCES),
    )
    parser.add_argument(
        "--output-format",
        choices=FORMATS,
        default=None,
        help="alert lines as Falco prints them: text (default) or json",
    )
    parser.add_argument(
        "--webhook",
        metavar="URL",
        help="also POST each alert as Falco JSON to URL (Falcosidekick accepts it)",
    )
    parser.add_argument(
        "--min-priority",
        metavar="PRIORITY",
        default="debug",
        help="run only rules of this priority or more severe (emergency, alert, critical, "
        "error, warning, notice, informational, debug; default debug)",
    )
    parser.add_argument(
        "--match-all",
        action="store_true",
        help="alert for every matching rule, not only the first in load order (Falco's "
        "rule_matching: all)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        metavar="N",
        help="at most N alerts a second per rule, with bursts of --max-burst (default 0: no limit)",
    )
    parser.add_argument(
        "--max-burst",
        type=float,
        default=1000.0,
        metavar="N",
        help="alerts a rule may send at once before --rate applies (default 1000)",
    )
    parser.add_argument(
        "--dedup-window",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="suppress an alert identical (rule and output) to one sent less than SECONDS "
        "earlier (default 0: off)",
    )
    parser.add_argument(
        "--stats",
        action="store_true",
        help="at exit, print event, drop and alert counts and per-rule matches and time spent "
        "on stderr",
    )
    parser.add_argument(
        "--stats-interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also print a one-line JSON stats sample on stderr every SECONDS",
    )
    parser.add_argument(
        "--metrics",
        metavar="[HOST]:PORT",
        help="serve Prometheus metrics (events, dropped and late events, alerts, matches per "
        "rule, process CPU and memory) at http://HOST:PORT/metrics while running (HOST "
        "defaults to 127.0.0.1; PORT 0 picks a free one)",
    )
    parser.add_argument(
        "--list-rules",
        action="store_true",
        help="list the loaded rules with their source, priority and status, then exit",
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="load and compile the rules, report problems, then exit (2 on errors)",
    )
    parser.add_argument(
        "--cluster-name",
        metavar="NAME",
        help="ka.cluster.name for audit events that do not name their cluster",
    )
    parser.add_argument(
        "--sensor-mount",
        metavar="PATH",
        action="append",
        default=[],
        help="sensor: watch file events on the filesystem of PATH (repeatable; default /; "
        "container root filesystems are added as they are mounted)",
    )
    parser.add_argument(
        "--sensor-events",
        metavar="LIST",
        default="exec,file,net",
        help="sensor: event kinds, comma-separated from exec, fork, exit, file, net "
        "(default exec,file,net)",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="k8s-audit-webhook: serve HTTPS with this certificate (PEM)",
    )
    parser.add_argument("--tls-key", metavar="FILE", help="k8s-audit-webhook: its private key")
    parser.add_argument(
        "--tls-client-ca",
        metavar="FILE",
        help="k8s-audit-webhook: require client certificates signed by this CA",
    )
