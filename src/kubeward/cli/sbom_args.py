"""Arguments of `kubeward sbom` (kept apart from the command so --help imports nothing)."""

from __future__ import annotations

import argparse

FORMATS = ("table", "json", "cyclonedx", "spdx-json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="TARGET",
        help="registry reference, docker-archive:FILE, oci-archive:FILE, oci:DIR[:tag], "
        "rootfs:DIR, dir:DIR, docker-daemon:NAME, or an existing file or directory",
    )
    parser.add_argument("--platform", default="linux/amd64", help="os/arch[/variant] of an index")
    parser.add_argument("--insecure", action="store_true", help="plain HTTP to the registry")
    parser.add_argument("--username", help="registry user (password with --password-stdin)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password on stdin")
    parser.add_argument(
        "--max-file-size",
        type=int,
        default=100 << 20,
        metavar="BYTES",
        help="skip analyzed files larger than this (default 100 MiB)",
    )
    parser.add_argument(
        "--max-layer-bytes",
        type=int,
        default=16 << 30,
        metavar="BYTES",
        help="decompressed bytes allowed per layer (default 16 GiB)",
    )
    parser.add_argument(
        "--max-total-bytes",
        type=int,
        default=64 << 30,
        metavar="BYTES",
        help="decompressed bytes allowed per image (default 64 GiB)",
    )
    parser.add_argument(
        "--max-entries",
        type=int,
        default=2_000_000,
        metavar="N",
        help="paths allowed in an image's squashed tree (default 2,000,000)",
    )
