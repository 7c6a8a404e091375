"""Arguments of `kubeward bench node`: where the node is, which benchmark, what to report."""

from __future__ import annotations

import argparse

FORMATS = ("table", "json", "junit", "sarif")
TARGETS = ("master", "etcd", "controlplane", "node", "policies")
STATUSES = ("PASS", "FAIL", "WARN", "UNKNOWN")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "what",
        metavar="node",
        choices=("node",),
        help="what to benchmark: `node` (the machine under --root)",
    )
    parser.add_argument(
        "--root",
        default="/",
        metavar="DIR",
        help="the node's root directory: / on the node, or where its filesystem is mounted "
        "(with its /proc, to see processes) (default /)",
    )
    parser.add_argument(
        "--benchmark",
        metavar="NAME",
        help="packaged benchmark: cis-1.9 or cis-1.10 (default: the one written for the "
        "Kubernetes version the node's manifests show, else the newest)",
    )
    parser.add_argument(
        "--benchmark-dir",
        metavar="DIR",
        help="run the benchmark definitions in DIR, written in kube-bench's YAML format, "
        "instead of a packaged benchmark",
    )
    parser.add_argument(
        "--targets",
        metavar="LIST",
        help=f"comma list of {', '.join(TARGETS)} (default: those of the components found)",
    )
    parser.add_argument(
        "--status",
        metavar="LIST",
        help=f"report only results with these statuses, a comma list of {', '.join(STATUSES)}",
    )
    parser.add_argument(
        "--severity",
        metavar="LIST",
        help="report only controls of these severities: a threshold (HIGH = HIGH and "
        "CRITICAL) or an exact comma list (HIGH,CRITICAL)",
    )
    parser.add_argument(
        "--exit-code",
        type=int,
        default=0,
        metavar="N",
        help="exit with N when a reported control FAILs (default 0; UNKNOWN and WARN never "
        "change the exit code)",
    )
