"""`kubeward sbom TARGET`: list every package in an image or a directory."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from kubeward.cli.output import print_warnings, write_report
from kubeward.cli.progress import LayerProgress, wanted
from kubeward.cli.sbom_args import FORMATS
from kubeward.errors import UsageError
from kubeward.model import ScanResult


def _walk_options(args: argparse.Namespace) -> object:
    from kubeward.artifact.walk import WalkOptions

    for flag in ("max_file_size", "max_layer_bytes", "max_total_bytes", "max_entries"):
        if getattr(args, flag) <= 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be positive")
    return WalkOptions(
        max_file_bytes=args.max_file_size,
        max_layer_bytes=args.max_layer_bytes,
        max_total_bytes=args.max_total_bytes,
        max_entries=args.max_entries,
    )


def open_image(args: argparse.Namespace, progress: LayerProgress | None) -> object:
    """Open the target as an Image, or return a (Path, kind) for directory scans."""
    from kubeward.artifact.target import check_local, parse_target

    target = parse_target(args.target)
    cache_dir = Path(args.cache_dir)
    if target.kind == "registry":
        from kubeward.artifact.cache import BlobCache
        from kubeward.artifact.reference import parse_reference
        from kubeward.artifact.registry import RegistryOptions
        from kubeward.artifact.registry import open_image as open_registry

        password = None
        if args.password_stdin:
            if not args.username:
                raise UsageError("--password-stdin needs --username")
            password = sys.stdin.readline().rstrip("\r\n")
        elif args.username:
            raise UsageError("--username needs --password-stdin")
        options = RegistryOptions(
            platform=args.platform,
            insecure=args.insecure,
            username=args.username,
            password=password,
        )
        return open_registry(
            parse_reference(target.location),
            options,
            BlobCache(cache_dir),
            progress.download if progress is not None else None,
        )
    if target.kind in ("rootfs", "dir"):
        return (check_local(target), target.kind)
    if target.kind == "docker-daemon":
        from kubeward.artifact import docker_daemon

        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        image = docker_daemon.open_image(target.location, cache_dir)
        image.name = args.target
        return image

    path = check_local(target)
    if target.kind == "docker-archive":
        from kubeward.artifact import docker_archive

        return docker_archive.open_image(path, target.selector, name=args.target)
    if target.kind == "oci":
        from kubeward.artifact import oci_layout

        return oci_layout.open_layout(path, target.selector, args.platform, name=args.target)
    if target.kind == "oci-archive":
        from kubeward.artifact import oci_layout

        return oci_layout.open_archive(path, target.selector, args.platform, name=args.target)
    raise UsageError(f"unsupported target kind {target.kind}")


def scan(args: argparse.Namespace, scanners: frozenset[str] = frozenset()) -> ScanResult:
    from kubeward.artifact.image import Image
    from kubeward.artifact.walk import WalkOptions
    from kubeward.sbom import scan_directory, scan_image

    options = _walk_options(args)
    assert isinstance(options, WalkOptions)
    progress_cm = LayerProgress() if wanted(args.quiet) else None
    with progress_cm if progress_cm is not None else contextlib.nullcontext():
        opened = open_image(args, progress_cm)
        if isinstance(opened, Image):
            try:
                selection = getattr(args, "check_selection", None)
                return scan_image(opened, options, progress_cm, scanners, selection)
            finally:
                opened.close()
        assert isinstance(opened, tuple)
        root, kind = opened
        if kind == "rootfs":
            return scan_directory(root, args.target, kind, "image", options, scanners=scanners)
        return scan_directory(root, args.target, kind, "fs", options, scanners=scanners)


def run(args: argparse.Namespace) -> int:
    fmt = args.format or "table"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    result = scan(args)
    print_warnings(result, args)
    write_report(result, fmt, args)
    return 0
