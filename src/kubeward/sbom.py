"""Inventory of an image or a directory: walk once, run the analyzers, build a ScanResult."""

from __future__ import annotations

from pathlib import Path

from kubeward.analyze import create_analyzers
from kubeward.analyze.base import InventoryBuilder, ScanContext, ScanMode
from kubeward.artifact.image import Image
from kubeward.artifact.walk import Dispatcher, Progress, WalkOptions, walk_directory, walk_image
from kubeward.model import ArtifactInfo, ScanResult


def scan_image(
    image: Image, options: WalkOptions | None = None, progress: Progress | None = None
) -> ScanResult:
    """Every package in `image`'s squashed filesystem, each with the layer that wrote it."""
    facts = InventoryBuilder()
    dispatcher = Dispatcher(create_analyzers(ScanContext("image")), facts)
    walk_image(image, dispatcher, options, progress)
    return ScanResult(
        artifact=image.info(), inventory=facts.build(), warnings=tuple(facts.warnings)
    )


def scan_directory(
    root: Path, name: str, kind: str, mode: ScanMode, options: WalkOptions | None = None
) -> ScanResult:
    """Packages under `root`. mode "image" for an unpacked root filesystem (installed
    evidence only), "fs" for a project tree (lock files and requirements too)."""
    facts = InventoryBuilder()
    dispatcher = Dispatcher(create_analyzers(ScanContext(mode)), facts)
    walk_directory(root, dispatcher, options)
    return ScanResult(
        artifact=ArtifactInfo(name=name, kind=kind),
        inventory=facts.build(),
        warnings=tuple(facts.warnings),
    )
