"""Arguments of `kubeward db import|status|update` (kept apart from the commands so --help
imports nothing heavy)."""

from __future__ import annotations

import argparse

STATUS_FORMATS = ("table", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # The global options are repeated on each subcommand, as main does for commands, so
    # that `kubeward db status -f json` works like `kubeward -f json db status`.
    from kubeward.cli.main import _global_options

    sub = parser.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)

    def subcommand(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _global_options(p, suppress=True)
        p.add_argument(
            "--db",
            metavar="FILE",
            help="database file (default CACHE_DIR/db/kubeward.db)",
        )
        return p

    p = subcommand("import", "replace the database with the advisories found in local files")
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="feed checkouts, files or OSV zips (OSV JSON/YAML, Debian DSA/DLA lists and "
        "tracker JSON, Alpine secdb, RubySec, FriendsOfPHP, Node security WG)",
    )

    p = subcommand("status", "show what the database holds, where from and how old it is")
    p.add_argument(
        "--check", action="store_true", help="also run a full integrity check (reads every page)"
    )

    p = subcommand("update", "download the feeds and rebuild the database")
    p.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="fetch feed NAME from URL instead of its default (repeatable)",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="update only feed NAME (repeatable; default all feeds)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="network timeout per request in seconds (default 60)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=3,
        metavar="N",
        help="attempts per download after the first failure (default 3)",
    )
