"""Arguments of `kubeward k8s`: which cluster, which namespaces, what to look for, how to
report (kept apart from the command so --help imports nothing)."""

from __future__ import annotations

import argparse

FORMATS = ("table", "json", "sarif")
SCANNERS = ("misconfig", "vuln", "secret")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("cluster")
    g.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig (default $KUBECONFIG, else ~/.kube/config; inside a pod without "
        "one, the pod's service account)",
    )
    g.add_argument("--context", metavar="NAME", help="kubeconfig context (default: current)")
    g.add_argument(
        "--namespace",
        "-n",
        metavar="NS",
        action="append",
        default=[],
        help="audit only these namespaces (repeatable or comma-separated; cluster-scoped "
        "objects are always audited)",
    )
    g.add_argument(
        "--exclude-namespaces",
        metavar="NS",
        action="append",
        default=[],
        help="leave these namespaces out (repeatable or comma-separated)",
    )
    g.add_argument(
        "--page-size",
        type=int,
        default=500,
        metavar="N",
        help="objects asked for per list request (limit/continue paging; default 500)",
    )
    g.add_argument(
        "--no-anonymous-probe",
        action="store_true",
        help="do not send the one unauthenticated request that checks anonymous access",
    )
    g.add_argument(
        "--k8s-cve-feed",
        metavar="DIR",
        help="the Kubernetes CVE feed in OSV format (a directory of JSON records): check the "
        "API server and kubelet versions against it",
    )
    s = parser.add_argument_group("what to look for")
    s.add_argument(
        "--scanners",
        default="misconfig",
        metavar="LIST",
        help="comma-separated: misconfig (the Kubernetes checks, default), vuln and secret "
        "(scan each distinct image the cluster runs once)",
    )
    s.add_argument(
        "--config",
        metavar="FILE",
        help="kubeward.yaml whose `checks:` section enables or disables checks and whose "
        "secret rules apply to images (default: kubeward.yaml in the current directory)",
    )
    s.add_argument(
        "--compliance",
        metavar="SPEC",
        help="report per control of SPEC: k8s-pss-baseline, k8s-pss-restricted, k8s-nsa, k8s-cis",
    )
    i = parser.add_argument_group("images (--scanners vuln,secret)")
    i.add_argument(
        "--image-jobs",
        type=int,
        default=2,
        metavar="N",
        help="images scanned at the same time (default 2)",
    )
    i.add_argument("--db", metavar="FILE", help="vulnerability database (default in the cache dir)")
    i.add_argument("--platform", default="linux/amd64", help="os/arch[/variant] of an index")
    i.add_argument("--insecure", action="store_true", help="plain HTTP to the registries")
    r = parser.add_argument_group("report")
    r.add_argument(
        "--severity",
        metavar="LIST",
        help="report only these severities: a threshold (HIGH = HIGH and CRITICAL) or an "
        "exact comma list (HIGH,CRITICAL)",
    )
    r.add_argument(
        "--exit-code",
        type=int,
        default=0,
        metavar="N",
        help="exit with N when findings remain after filters (default 0)",
    )
    r.add_argument(
        "--ignorefile",
        metavar="FILE",
        help="ignore file (default: .kubewardignore.yaml in the current directory)",
    )
