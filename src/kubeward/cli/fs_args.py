"""Arguments of `kubeward fs`: a directory, plus the vulnerability options."""

from __future__ import annotations

import argparse

from kubeward.cli.vuln_args import add_vulnerability_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="directory to scan (a project or a rootfs)")
    parser.add_argument(
        "--max-file-size",
        type=int,
        default=100 << 20,
        metavar="BYTES",
        help="skip analyzed files larger than this (default 100 MiB)",
    )
    parser.add_argument(
        "--max-entries",
        type=int,
        default=2_000_000,
        metavar="N",
        help="paths allowed under PATH (default 2,000,000)",
    )
    add_vulnerability_arguments(parser)
