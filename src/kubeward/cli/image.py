"""`kubeward image TARGET`: vulnerable packages in a container image."""

from __future__ import annotations

import argparse
from pathlib import Path

from kubeward.cli.sbom import scan
from kubeward.cli.vuln import check_format, finish, open_database


def run(args: argparse.Namespace) -> int:
    fmt = check_format(args)
    open_database(args)  # a missing database is reported before the image is pulled
    result = scan(args)
    return finish(result, args, fmt, Path.cwd())
