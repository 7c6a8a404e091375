"""Installed rpm packages, from the image's rpmdb (SQLite, Berkeley DB hash or NDB).

The package list matches `rpm -qa`, including the gpg-pubkey pseudo-packages rpm keeps for
imported signing keys (name "gpg-pubkey", no arch, no source rpm): they are what rpm itself
reports as installed, and dropping them would make the inventory disagree with the image.
A damaged record or file is a warning; the rest of the database is still read.
"""

from __future__ import annotations

import struct
from typing import ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.analyze.rpmdb import read_blobs
from kubeward.analyze.rpmdb.header import (
    TAG_ARCH,
    TAG_EPOCH,
    TAG_LICENSE,
    TAG_NAME,
    TAG_RELEASE,
    TAG_SOURCERPM,
    TAG_VERSION,
    RpmdbError,
    RpmHeader,
)
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Location, Package

_DIRECTORIES = ("var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm")
_BASENAMES = frozenset({"rpmdb.sqlite", "Packages", "Packages.db"})
_PATHS = frozenset(f"{d}/{b}" for d in _DIRECTORIES for b in _BASENAMES)

# A hostile database can hold any number of bad records; one line each would be unbounded.
MAX_WARNINGS_PER_FILE = 20


def split_source_rpm(srpm: str) -> tuple[str, str] | None:
    """("name", "version-release") from "name-version-release.src.rpm", None if not so."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if srpm.endswith(suffix):
            parts = srpm[: -len(suffix)].rsplit("-", 2)
            if len(parts) == 3 and all(parts):
                return parts[0], f"{parts[1]}-{parts[2]}"
    return None


def package_from_header(
    header: RpmHeader, location: Location, licenses: dict[str, str] | None = None
) -> Package:
    """The Package a header describes; RpmdbError when it lacks name, version or release.

    `licenses` caches normalised licence texts: a distribution repeats a few dozen of them
    over thousands of packages, and normalising one costs more than reading its header.
    """
    name = header.string(TAG_NAME)
    version = header.string(TAG_VERSION)
    release = header.string(TAG_RELEASE)
    if not name or version is None or release is None:
        raise RpmdbError("header has no name, version or release")
    epoch = header.int32(TAG_EPOCH)
    srpm = header.string(TAG_SOURCERPM)
    license_text = header.string(TAG_LICENSE)
    metadata = [("release", release)]
    full_version = f"{version}-{release}"
    if epoch is not None:
        metadata.append(("epoch", str(epoch)))
        full_version = f"{epoch}:{full_version}"
    license_id = None
    if license_text:
        if licenses is None:
            license_id = normalize_license(license_text)
        else:
            license_id = licenses.get(license_text)
            if license_id is None:
                license_id = licenses[license_text] = normalize_license(license_text)
    source = None
    if srpm:
        metadata.append(("sourceRpm", srpm))
        source = split_source_rpm(srpm)
    return Package(
        name=name,
        version=full_version,
        ecosystem="rpm",
        purl="",
        location=location,
        licenses=(license_id,) if license_id else (),
        source_name=source[0] if source else None,
        source_version=source[1] if source else None,
        arch=header.string(TAG_ARCH) or None,
        metadata=tuple(sorted(metadata)),
    )


class RpmAnalyzer(Analyzer):
    name: ClassVar[str] = "rpm"
    basenames: ClassVar[frozenset[str]] = _BASENAMES

    def wants(self, path: str, mode: int) -> bool:
        return path in _PATHS

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        location = file.location()
        problems = _Problems(file.path, facts)
        licenses: dict[str, str] = {}
        try:
            for record, blob in read_blobs(file.data, problems.add):
                try:
                    facts.add(package_from_header(RpmHeader(blob), location, licenses))
                except RpmdbError as exc:
                    problems.add(f"package record {record}: {exc}")
        except (RpmdbError, struct.error, ValueError, IndexError) as exc:
            # RpmdbError is the expected case; the others would be a reader bug on input
            # nobody foresaw, and still must not end the scan.
            problems.add(str(exc) or type(exc).__name__)
        problems.close()


class _Problems:
    """Forwards the first MAX_WARNINGS_PER_FILE warnings of a file, then only counts."""

    def __init__(self, path: str, facts: InventoryBuilder) -> None:
        self.path = path
        self.facts = facts
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if self.count <= MAX_WARNINGS_PER_FILE:
            self.facts.warn(f"{self.path}: {message}")

    def close(self) -> None:
        if self.count > MAX_WARNINGS_PER_FILE:
            extra = self.count - MAX_WARNINGS_PER_FILE
            self.facts.warn(f"{self.path}: {extra} more problems not shown")
