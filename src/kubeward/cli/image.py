"""`kubeward image TARGET`: vulnerable packages in a container image."""

from __future__ import annotations

import argparse
from pathlib import Path

from kubeward.cli.sbom import scan
from kubeward.cli.vuln import check_format, configure_secrets, finish, open_database, scanners
from kubeward.cli.vuln_args import IMAGE_SCANNERS


def run(args: argparse.Namespace) -> int:
    args.scanner_choices = IMAGE_SCANNERS
    fmt = check_format(args)
    if "vuln" in scanners(args):
        open_database(args)  # a missing database is reported before the image is pulled
    notices = configure_secrets(args, Path.cwd())
    result = scan(args, scanners(args))
    if "misconfig" in scanners(args) and result.artifact.kind in ("rootfs", "dir"):
        notices.append(
            f"misconfig: image checks need an image (config and layers), not {args.target}"
        )
    return finish(result, args, fmt, Path.cwd(), notices)
