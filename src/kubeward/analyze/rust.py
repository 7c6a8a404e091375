"""Rust crates locked in Cargo.lock (fs mode): every lockfile version, via tomllib.

Cargo.lock v1 to v4 share the `[[package]]` tables this needs (name, version, source); the
versions differ only in checksum placement and dependency spelling. Packages without a
`source` are the workspace's own path crates, not dependencies, and are skipped.
"""

from __future__ import annotations

import re
import tomllib
from typing import ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.model import Package

ECOSYSTEM = "cargo"
# Lock files above this size are skipped with a warning.
MAX_FILE_BYTES = 32 * 1024 * 1024

_CRATE_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+-]*$")


def parse_cargo_lock(text: str) -> tuple[list[tuple[str, str]], int]:
    """(name, version) of each sourced package, and how many entries were malformed.

    Raises ValueError (tomllib.TOMLDecodeError) for text that is not TOML or lacks the shape.
    """
    doc = tomllib.loads(text)
    packages = doc.get("package", [])
    if not isinstance(packages, list):
        raise ValueError("'package' is not an array of tables")
    found: list[tuple[str, str]] = []
    bad = 0
    for entry in packages:
        if not isinstance(entry, dict):
            bad += 1
            continue
        name, version, source = entry.get("name"), entry.get("version"), entry.get("source")
        if source is None:
            continue  # a workspace or path crate
        if (
            not isinstance(name, str)
            or not isinstance(version, str)
            or not isinstance(source, str)
            or not _CRATE_RE.match(name)
            or not _VERSION_RE.match(version)
        ):
            bad += 1
            continue
        found.append((name, version))
    return found, bad


class RustAnalyzer(Analyzer):
    """cargo packages from Cargo.lock, in fs mode only."""

    name = "rust"
    basenames: ClassVar[frozenset[str]] = frozenset({"Cargo.lock"})

    def wants(self, path: str, mode: int) -> bool:
        return self.context.mode == "fs" and path.rpartition("/")[2] == "Cargo.lock"

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        if len(file.data) > MAX_FILE_BYTES:
            facts.warn(f"{file.path}: skipped, larger than {MAX_FILE_BYTES} bytes")
            return
        try:
            packages, bad = parse_cargo_lock(file.data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            facts.warn(f"{file.path}: skipped, not UTF-8 ({' '.join(str(exc).split())})")
            return
        except (ValueError, RecursionError) as exc:
            facts.warn(f"{file.path}: skipped, cannot parse: {' '.join(str(exc).split())}")
            return
        for name, version in packages:
            facts.add(
                Package(
                    name=name,
                    version=version,
                    ecosystem=ECOSYSTEM,
                    purl="",
                    location=file.location(),
                )
            )
        if bad:
            facts.warn(f"{file.path}: skipped {bad} malformed package entries")
