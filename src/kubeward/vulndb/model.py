"""Advisories as kubeward stores them: OSV's model, with distro releases and the
constraint-style ranges of feeds that are not OSV (RubySec, FriendsOfPHP, Node WG).

Every importer turns its format into these records; the store and the matcher see nothing
else. Ecosystems are kubeward's keys (model.ECOSYSTEMS: "pypi", "npm", "golang", "maven",
"gem", "cargo", "composer", "deb", "apk", "rpm").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# OSV ecosystem names -> kubeward ecosystem keys (only those kubeward can match).
OSV_ECOSYSTEMS: dict[str, str] = {
    "PyPI": "pypi",
    "npm": "npm",
    "Go": "golang",
    "Maven": "maven",
    "RubyGems": "gem",
    "crates.io": "cargo",
    "Packagist": "composer",
    "Debian": "deb",
    "Ubuntu": "deb",
    "Alpine": "apk",
}


@dataclass(frozen=True, slots=True)
class Range:
    """One way of saying which versions are affected.

    type "ECOSYSTEM" or "SEMVER" (OSV): `events` are ordered ("introduced" | "fixed" |
    "last_affected" | "limit", version) pairs, evaluated as OSV specifies.
    type "CONSTRAINTS" (feeds that are not OSV): `events` are ("vulnerable" | "patched" |
    "unaffected", expression) pairs, each expression in the ecosystem's own requirement
    syntax (npm ranges, RubyGems requirements, Composer constraints). A version is affected
    when it satisfies some "vulnerable" expression (or there is none) and no "patched" or
    "unaffected" one.
    """

    type: str
    events: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Affected:
    """The affected versions of one package, in one ecosystem (and one distro release)."""

    ecosystem: str  # kubeward key
    name: str  # normalised with vulndb.names.normalize(ecosystem, name)
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()  # explicit affected versions (OSV "versions")
    # "debian:11", "alpine:3.11", "ubuntu:22.04" for OS packages; None for language packages.
    distro: str | None = None
    # Distro trackers: "unfixed" (affected, no fix yet) or "" (see ranges). Not-affected
    # entries are never stored.
    status: str = ""


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str  # "PYSEC-2021-59", "GHSA-...", "DSA-5380-1", "CVE-2023-1234" (alpine), ...
    # where it came from: "osv", "debian-dsa", "debian-dla", "debian-tracker", "alpine-secdb",
    # "rubysec", "friendsofphp", "nodejs-wg"
    source: str
    summary: str = ""
    details: str = ""
    published: str | None = None  # RFC 3339 text, as the source wrote it
    modified: str | None = None
    withdrawn: str | None = None
    aliases: tuple[str, ...] = ()  # CVE, GHSA, PYSEC ... ids that name the same problem
    references: tuple[str, ...] = ()  # URLs
    # (type, value): ("CVSS_V3", "CVSS:3.1/AV:N/..."), ("CVSS_V4", ...), ("RATING", "high")
    severity: tuple[tuple[str, str], ...] = ()
    affected: tuple[Affected, ...] = ()


# Importers report a record they had to skip with one line; the import goes on and counts.
OnBadRecord = Callable[[str], None]
