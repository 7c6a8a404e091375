"""Options shared by the vulnerability-scanning commands (`image`, `fs`)."""

from __future__ import annotations

import argparse

FORMATS = ("table", "json", "sarif")


SCANNERS = ("vuln", "secret")
# `image` also runs the image checks (config and squashed filesystem)
IMAGE_SCANNERS = (*SCANNERS, "misconfig")


def add_vulnerability_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scanners",
        default="vuln,secret",
        metavar="LIST",
        help="what to look for, comma-separated: vuln, secret; for image also misconfig "
        "(default: vuln,secret)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="kubeward.yaml with custom secret rules and allowlists, and for image the checks "
        "misconfig runs (default: kubeward.yaml in the scanned directory for fs, the current "
        "directory for image, when present)",
    )
    g = parser.add_argument_group("vulnerabilities")
    g.add_argument("--db", metavar="FILE", help="vulnerability database (default in the cache dir)")
    g.add_argument(
        "--severity",
        metavar="LIST",
        help="report only these severities: a threshold (HIGH = HIGH and CRITICAL) or an "
        "exact comma list (HIGH,CRITICAL)",
    )
    g.add_argument(
        "--ignore-unfixed", action="store_true", help="leave out vulnerabilities with no fix yet"
    )
    g.add_argument(
        "--exit-code",
        type=int,
        default=0,
        metavar="N",
        help="exit with N when findings remain after filters (default 0)",
    )
    g.add_argument(
        "--ignorefile",
        metavar="FILE",
        help="ignore file (default: .kubewardignore.yaml in the scanned directory for fs, "
        "in the current directory for image)",
    )
    g.add_argument(
        "--show-suppressed",
        action="store_true",
        help="list suppressed findings and unused ignore entries on stderr",
    )
