"""The one vocabulary every part of kubeward speaks: packages, findings, inventories, results.

Everything is a frozen, slotted dataclass so results can be hashed, sorted, shared between
threads and compared in tests. Collections are tuples, kept sorted by `sort_key` where order
matters for byte-identical output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class Severity(IntEnum):
    """Ordered so that `>=` answers "at or above this threshold"."""

    UNKNOWN = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Accept any case; unknown words are an error for the caller to report."""
        return cls[text.strip().upper()]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a package or finding was seen.

    `path` is POSIX, relative to the image root or the scanned directory, without a leading
    "/" or "./" (for example "var/lib/dpkg/status"). `layer` is the diff_id ("sha256:...") of
    the layer that wrote the file: the digest of the uncompressed layer, the same in every
    image format.
    """

    path: str | None = None
    line: int | None = None
    end_line: int | None = None
    layer: str | None = None
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class Package:
    """One installed or locked package.

    `version` is the full version as the ecosystem's own tool prints it (`dpkg-query -W`
    `${Version}` with its epoch, rpm `EPOCH:VERSION-RELEASE` with the epoch only when set,
    PEP 440 text for Python ...). `ecosystem` is one of the ECOSYSTEMS keys. `licenses` are
    SPDX expressions where the declared text could be normalised, else the declared text.
    """

    name: str
    version: str
    ecosystem: str
    purl: str
    location: Location = field(default_factory=Location)
    licenses: tuple[str, ...] = ()
    source_name: str | None = None
    source_version: str | None = None
    arch: str | None = None
    # Ecosystem specific facts, sorted (key, value) pairs: "epoch", "release", "replace",
    # "main" (Go main module), "dev" (lockfile dev dependency), "sourceRpm", "groupId" ...
    metadata: tuple[tuple[str, str], ...] = ()

    def sort_key(self) -> tuple[str, str, str, str, str]:
        return (
            self.ecosystem,
            self.name,
            self.version,
            self.location.path or "",
            self.location.layer or "",
        )


# Ecosystem key -> purl type. Keys are what kubeward prints and what advisories match on.
ECOSYSTEMS: dict[str, str] = {
    "deb": "deb",
    "apk": "apk",
    "rpm": "rpm",
    "pypi": "pypi",
    "npm": "npm",
    "golang": "golang",
    "maven": "maven",
    "gem": "gem",
    "cargo": "cargo",
    "composer": "composer",
}


@dataclass(frozen=True, slots=True)
class OSInfo:
    """The distribution of an image or root filesystem, from os-release or its fallbacks."""

    id: str  # "debian", "alpine", "rhel", "ubuntu", "opensuse-leap" ...
    version: str  # VERSION_ID ("12", "3.19.1", "8.9"); "" when unknown
    codename: str = ""  # VERSION_CODENAME ("bookworm"), "" when unknown
    name: str = ""  # PRETTY_NAME
    path: str | None = None  # the file it came from


@dataclass(frozen=True, slots=True)
class Inventory:
    """What is installed: the OS and every package, sorted by Package.sort_key."""

    os: OSInfo | None = None
    packages: tuple[Package, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """Anything a scanner finds. Reports, filters and exit codes only ever see Findings."""

    kind: str  # "vulnerability" | "secret" | "misconfiguration" | "license" | ...
    rule_id: str
    title: str
    severity: Severity
    location: Location
    message: str
    remediation: str = ""
    references: tuple[str, ...] = ()
    package: Package | None = None
    fixed_version: str | None = None
    aliases: tuple[str, ...] = ()  # other ids naming the same problem (CVE, GHSA, PYSEC ...)
    # How the finding was reached, sorted (key, value) pairs: for vulnerabilities
    # "installed", "affected" (the matched range), "source" (advisory feeds), "scheme" ...
    evidence: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """One layer of a scanned image, bottom first."""

    diff_id: str
    digest: str | None = None  # the blob digest as stored (compressed), when known
    size: int | None = None  # the blob size as stored
    created_by: str = ""  # the history entry that made it, when the config says


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """What was scanned. `name` is what the user typed; the rest is read from the artifact."""

    name: str
    # "registry" | "docker-archive" | "oci-archive" | "oci" | "docker-daemon" | "rootfs" | "dir"
    kind: str
    image_id: str | None = None  # config digest
    repo_digest: str | None = None  # manifest digest, when known
    architecture: str | None = None
    os: str | None = None
    layers: tuple[LayerInfo, ...] = ()
    repo_tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One scan's output, the only thing report writers see."""

    artifact: ArtifactInfo
    inventory: Inventory = field(default_factory=Inventory)
    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()  # inputs that were skipped, one line each
