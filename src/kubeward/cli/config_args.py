"""Arguments of `kubeward config`: a directory or Dockerfile, and the report options."""

from __future__ import annotations

import argparse

FORMATS = ("table", "json", "sarif")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", metavar="PATH", help="directory searched for Dockerfiles, or one Dockerfile"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="kubeward.yaml whose `checks:` section enables or disables checks (default: "
        "kubeward.yaml in PATH, else in the current directory, when present)",
    )
    parser.add_argument(
        "--severity",
        metavar="LIST",
        help="report only these severities: a threshold (HIGH = HIGH and CRITICAL) or an "
        "exact comma list (HIGH,CRITICAL)",
    )
    parser.add_argument(
        "--exit-code",
        type=int,
        default=0,
        metavar="N",
        help="exit with N when findings remain after filters (default 0)",
    )
    parser.add_argument(
        "--ignorefile",
        metavar="FILE",
        help="ignore file (default: .kubewardignore.yaml in PATH)",
    )
    parser.add_argument(
        "--show-suppressed",
        action="store_true",
        help="list suppressed findings and unused ignore entries on stderr",
    )
