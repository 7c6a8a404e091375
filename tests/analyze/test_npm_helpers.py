"""Helpers (no tests here) that feed files through NpmAnalyzer the way the walker would:
class attributes, then wants(), then analyze() in a shuffled order."""

from __future__ import annotations

import os
import random
from pathlib import Path

from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext, ScanMode
from kubeward.analyze.npm import NpmAnalyzer
from kubeward.model import Inventory


def scan_files(
    files: dict[str, bytes], mode: ScanMode = "fs", layer: str | None = None
) -> tuple[Inventory, list[str]]:
    analyzer = NpmAnalyzer(ScanContext(mode=mode))
    facts = InventoryBuilder()
    paths = [
        p
        for p in files
        if p.rpartition("/")[2] in NpmAnalyzer.basenames and analyzer.wants(p, 0o644)
    ]
    random.Random(len(paths)).shuffle(paths)
    for path in paths:
        analyzer.analyze(AnalyzedFile(path, files[path], layer), facts)
    analyzer.finish(facts)
    return facts.build(), facts.warnings


def scan_dir(root: Path, mode: ScanMode) -> tuple[Inventory, list[str]]:
    files: dict[str, bytes] = {}
    for dirpath, _dirs, names in os.walk(root):  # symlinked dirs (pnpm) are not entered
        for name in names:
            full = os.path.join(dirpath, name)
            if name in NpmAnalyzer.basenames and not os.path.islink(full):
                files[Path(full).relative_to(root).as_posix()] = Path(full).read_bytes()
    return scan_files(files, mode)
