"""Inventory of an image or a directory: walk once, run the analyzers, build a ScanResult."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kubeward.analyze import create_analyzers
from kubeward.analyze.base import InventoryBuilder, ScanContext, ScanMode
from kubeward.artifact.image import Image
from kubeward.artifact.walk import Dispatcher, Progress, WalkOptions, walk_directory, walk_image
from kubeward.model import ArtifactInfo, ScanResult

if TYPE_CHECKING:
    from kubeward.misconfig.engine import Selection


def scan_image(
    image: Image,
    options: WalkOptions | None = None,
    progress: Progress | None = None,
    scanners: frozenset[str] = frozenset(),
    selection: Selection | None = None,
) -> ScanResult:
    """Every package in `image`'s squashed filesystem, each with the layer that wrote it;
    with "secret" in `scanners`, also the secrets in every layer and in the image config;
    with "misconfig", also the image checks (config and squashed filesystem) that
    `selection` (kubeward.yaml's `checks:`) wants."""
    facts = InventoryBuilder()
    analyzers = create_analyzers(ScanContext("image", scanners))
    dispatcher = Dispatcher(analyzers, facts)
    tree = walk_image(image, dispatcher, options, progress)
    if "misconfig" in scanners:
        from kubeward.misconfig.image.checks import run_image_checks
        from kubeward.misconfig.image.collector import ImageFilesCollector
        from kubeward.misconfig.image.subject import ImageSubject

        collector = next(a for a in analyzers if isinstance(a, ImageFilesCollector))
        subject = ImageSubject(image.config, tree, collector.files, image.name, image.kind)
        run = run_image_checks(subject, selection)
        for finding in run.findings:
            facts.add_finding(finding)
        for error in run.errors:
            facts.warn(f"misconfig: {error}")
    info = image.info()
    if "secret" in scanners:
        import dataclasses

        from kubeward.secrets.analyzer import scan_image_config
        from kubeward.secrets.redact import redact_text

        secrets = scan_image_config(image.config, facts)
        if secrets:  # the report lists each layer's created_by: never with the secret in it
            layers = tuple(
                dataclasses.replace(layer, created_by=redact_text(layer.created_by, secrets))
                for layer in info.layers
            )
            info = dataclasses.replace(info, layers=layers)
    return ScanResult(
        artifact=info,
        inventory=facts.build(),
        findings=tuple(facts.findings),
        warnings=tuple(facts.warnings),
    )


def scan_directory(
    root: Path,
    name: str,
    kind: str,
    mode: ScanMode,
    options: WalkOptions | None = None,
    *,
    scanners: frozenset[str] = frozenset(),
) -> ScanResult:
    """Packages under `root`. mode "image" for an unpacked root filesystem (installed
    evidence only), "fs" for a project tree (lock files and requirements too)."""
    facts = InventoryBuilder()
    dispatcher = Dispatcher(create_analyzers(ScanContext(mode, scanners)), facts)
    walk_directory(root, dispatcher, options)
    return ScanResult(
        artifact=ArtifactInfo(name=name, kind=kind),
        inventory=facts.build(),
        findings=tuple(facts.findings),
        warnings=tuple(facts.warnings),
    )
