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
    if "misconfig" in scanners(args):
        args.check_selection = _check_selection(args)
    result = scan(args, scanners(args))
    if "misconfig" in scanners(args) and result.artifact.kind in ("rootfs", "dir"):
        notices.append(
            f"misconfig: image checks need an image (config and layers), not {args.target}"
        )
    return finish(result, args, fmt, Path.cwd(), notices)


def _check_selection(args: argparse.Namespace) -> object:
    """The image checks kubeward.yaml's `checks:` section enables (given or found)."""
    from kubeward.config_file import find_config
    from kubeward.misconfig.engine import load_metadata
    from kubeward.misconfig.settings import load_check_settings

    settings = load_check_settings(Path(args.config) if args.config else find_config(Path.cwd()))
    settings.validate(load_metadata())
    return settings.selection()
