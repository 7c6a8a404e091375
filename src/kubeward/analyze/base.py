"""The contract between the layer walker and the analyzers.

An analyzer declares cheaply which files it may want (exact basenames, basename extensions,
path prefixes, executables) so the walker can discard most of an image's files with one dict
lookup; `wants()` then decides for each candidate. The walker reads each wanted, visible file
once and hands the same bytes to every analyzer that wants it. Files arrive in no particular
order (the walker goes top-down), so an analyzer that correlates files (dpkg status with
copyright files, say) keeps what it needs and joins it in `finish()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from kubeward.model import Finding, Inventory, Location, OSInfo, Package

ScanMode = Literal["image", "fs"]


@dataclass(frozen=True, slots=True)
class AnalyzedFile:
    """A file's bytes as the squashed image (or the scanned directory) holds them."""

    path: str  # relative POSIX path, no leading "/" or "./"
    data: bytes
    layer: str | None  # diff_id of the layer that wrote it; None for directory scans
    mode: int = 0o644  # permission bits
    # True when a later layer deleted or replaced this file: it is not in the container's
    # view, but its bytes are still in the image (only `all_files` analyzers see these).
    hidden: bool = False

    def location(self, line: int | None = None) -> Location:
        return Location(path=self.path, line=line, layer=self.layer)


@dataclass(frozen=True, slots=True)
class ScanContext:
    """What kind of scan this is. In "image" mode only installed evidence counts
    (dist-info, node_modules, gemspecs, rpmdb ...); lock files and requirements are read in
    "fs" mode, where a project's source tree is what the user points at."""

    mode: ScanMode = "image"
    # which scanners run besides the inventory: "secret" adds the secret analyzer
    scanners: frozenset[str] = frozenset()


class Analyzer:
    """Base class: subclasses set the class attributes and implement `analyze`.

    `basenames`, `extensions` (the basename's text after its last ".", without the dot),
    `prefixes` (path prefixes such as "var/lib/dpkg/status.d/") and `executables` (regular
    files with an execute bit) select candidates; `wants()` has the final word.
    """

    name: ClassVar[str] = ""
    basenames: ClassVar[frozenset[str]] = frozenset()
    extensions: ClassVar[frozenset[str]] = frozenset()
    prefixes: ClassVar[tuple[str, ...]] = ()
    executables: ClassVar[bool] = False
    # offered every regular file of every layer, including those a later layer hid
    all_files: ClassVar[bool] = False

    def __init__(self, context: ScanContext) -> None:
        self.context = context

    def wants(self, path: str, mode: int) -> bool:
        """Final say on a candidate path (already matched by the class attributes)."""
        return True

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        raise NotImplementedError

    def finish(self, facts: InventoryBuilder) -> None:
        """Called once after every wanted file was analyzed."""


@dataclass
class InventoryBuilder:
    """Collects what analyzers find; `build()` fills PURLs (which need the OS) and sorts."""

    packages: list[Package] = field(default_factory=list)
    os_candidates: list[tuple[int, OSInfo]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, package: Package) -> None:
        self.packages.append(package)

    def set_os(self, os: OSInfo, priority: int = 0) -> None:
        """Offer an OS identity; the lowest priority number wins (0: os-release)."""
        self.os_candidates.append((priority, os))

    def add_finding(self, finding: Finding) -> None:
        """A problem seen while reading the files (a leaked secret ...)."""
        self.findings.append(finding)

    def warn(self, message: str) -> None:
        """A one-line note that some input was skipped; the scan goes on."""
        self.warnings.append(message)

    @property
    def os(self) -> OSInfo | None:
        if not self.os_candidates:
            return None
        return min(self.os_candidates, key=lambda c: (c[0], c[1].path or ""))[1]

    def build(self) -> Inventory:
        from kubeward.analyze.purl import with_purl

        os = self.os
        unique = {with_purl(p, os) for p in self.packages}
        return Inventory(os=os, packages=tuple(sorted(unique, key=Package.sort_key)))
