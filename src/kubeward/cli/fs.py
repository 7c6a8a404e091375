"""`kubeward fs PATH`: vulnerable packages in a directory (lock files and installed ones)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kubeward.cli.vuln import check_format, configure_secrets, finish, open_database, scanners
from kubeward.errors import UsageError


def run(args: argparse.Namespace) -> int:
    from kubeward.artifact.walk import WalkOptions
    from kubeward.sbom import scan_directory

    fmt = check_format(args)
    root = Path(args.path)
    if not root.is_dir():
        raise UsageError(f"{args.path}: not a directory")
    for flag in ("max_file_size", "max_entries"):
        if getattr(args, flag) <= 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be positive")
    if "vuln" in scanners(args):
        open_database(args)
    notices = configure_secrets(args, root)
    options = WalkOptions(max_file_bytes=args.max_file_size, max_entries=args.max_entries)
    result = scan_directory(root, args.path, "dir", "fs", options, scanners=scanners(args))
    return finish(result, args, fmt, root, notices)
