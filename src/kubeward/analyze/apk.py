"""Alpine packages from apk's database, lib/apk/db/installed.

The database lists only installed packages, one blank-line separated stanza each, one
"X:value" line per field. Most lines are file entries (F:, R:, Z:, a:, M:), so the few fields
used here are picked out per stanza with one multiline regex rather than a Python loop over
every line: the file holds tens of thousands of lines in a large image.
"""

from __future__ import annotations

import re
from typing import ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Location, Package

INSTALLED_PATH = "lib/apk/db/installed"

_FIELD_RE = re.compile(r"^([PVAoL]):(.*)$", re.MULTILINE)
_SEPARATOR_RE = re.compile(r"\n(?:[ \t]*\n)+")


def parse_installed(text: str, location: Location) -> tuple[list[Package], list[str]]:
    """Packages of an apk installed database, and why any stanza was skipped."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    packages: list[Package] = []
    problems: list[str] = []
    for index, block in enumerate(_SEPARATOR_RE.split(text), start=1):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for key, value in _FIELD_RE.findall(block):
            fields.setdefault(key, value.strip())
        name = fields.get("P", "")
        version = fields.get("V", "")
        if not name or not version:
            missing = "P:" if not name else "V:"
            problems.append(f"stanza {index}: no {missing} field")
            continue
        license_text = fields.get("L", "")
        packages.append(
            Package(
                name=name,
                version=version,
                ecosystem="apk",
                purl="",
                location=location,
                licenses=(normalize_license(license_text),) if license_text else (),
                # Subpackages are built with their origin, so they share its version.
                source_name=fields.get("o") or name,
                source_version=version,
                arch=fields.get("A") or None,
            )
        )
    return packages, problems


class ApkAnalyzer(Analyzer):
    """Installed Alpine packages."""

    name: ClassVar[str] = "apk"
    basenames: ClassVar[frozenset[str]] = frozenset({"installed"})

    def wants(self, path: str, mode: int) -> bool:
        return path == INSTALLED_PATH

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        text = file.data.decode("utf-8", errors="replace")
        packages, problems = parse_installed(text, file.location())
        for package in packages:
            facts.add(package)
        if problems:
            facts.warn(
                f"{file.path}: skipped {len(problems)} malformed apk stanza(s), first at "
                f"{problems[0]}"
            )
