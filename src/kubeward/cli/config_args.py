"""Arguments of `kubeward config`: a directory, Dockerfile, manifest or `-`, and the options."""

from __future__ import annotations

import argparse

FORMATS = ("table", "json", "sarif")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        metavar="PATH",
        help="directory searched for Dockerfiles, Kubernetes manifests, Helm charts and "
        "kustomizations; or one Dockerfile or manifest; or - for manifests on stdin",
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
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="processes that check files (default: the usable CPUs; 1 = no extra processes)",
    )
    parser.add_argument(
        "--show-suppressed",
        action="store_true",
        help="list suppressed findings and unused ignore entries on stderr",
    )
    parser.add_argument(
        "--compliance",
        metavar="SPEC",
        help="report per control of SPEC: k8s-pss-baseline, k8s-pss-restricted, k8s-nsa, k8s-cis",
    )
    parser.add_argument(
        "--fix",
        action="store_true",
        help="rewrite manifests in place for the fixable checks (never Helm templates)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --fix: print the unified diff of the fixes, change nothing",
    )
    parser.add_argument(
        "--values",
        metavar="FILE",
        action="append",
        default=[],
        help="values file passed to `helm template` for chart directories (repeatable)",
    )
