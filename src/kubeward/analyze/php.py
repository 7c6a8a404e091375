"""PHP Composer packages: vendor/composer/installed.json everywhere, composer.lock in fs mode.

installed.json is what Composer actually put in vendor/ (a list in Composer 1, an object with
"packages" and "dev-package-names" in Composer 2). Versions are kept exactly as Composer
writes them in "version" (tags such as "v5.4.0" keep their "v", as in Packagist and purls
made by other tools); comparing them is the composer version scheme's job.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Package

ECOSYSTEM = "composer"
# installed.json and composer.lock above this size are skipped with a warning.
MAX_FILE_BYTES = 32 * 1024 * 1024

_INSTALLED_SUFFIX = "vendor/composer/installed.json"


def _entries(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} is not a list")
    return value


def installed_entries(doc: Any) -> tuple[list[Any], frozenset[str]]:
    """Package objects of installed.json (either Composer form) and the dev package names."""
    if isinstance(doc, list):
        return doc, frozenset()
    if not isinstance(doc, dict):
        raise ValueError("top level is neither a list nor an object")
    dev_names = _entries(doc.get("dev-package-names"), "'dev-package-names'")
    return _entries(doc.get("packages"), "'packages'"), frozenset(
        n for n in dev_names if isinstance(n, str)
    )


def lock_entries(doc: Any) -> list[tuple[Any, bool]]:
    """(package object, is dev) for each package of composer.lock."""
    if not isinstance(doc, dict):
        raise ValueError("top level is not an object")
    return [(p, False) for p in _entries(doc.get("packages"), "'packages'")] + [
        (p, True) for p in _entries(doc.get("packages-dev"), "'packages-dev'")
    ]


def _licenses(entry: dict[str, Any]) -> tuple[str, ...] | None:
    declared = entry.get("license", [])
    if isinstance(declared, str):
        declared = [declared]
    if not isinstance(declared, list) or not all(isinstance(d, str) for d in declared):
        return None
    return tuple(normalize_license(d) for d in declared if d.strip())


def _valid_name(name: str) -> bool:
    vendor, sep, package = name.partition("/")
    return bool(sep and vendor and package) and "/" not in package and name.isprintable()


def _valid_version(version: str) -> bool:
    return bool(version) and version.isprintable() and " " not in version


class PhpAnalyzer(Analyzer):
    """composer packages from vendor/composer/installed.json; composer.lock in fs mode."""

    name = "php"
    basenames: ClassVar[frozenset[str]] = frozenset({"installed.json", "composer.lock"})

    def wants(self, path: str, mode: int) -> bool:
        if path.endswith(_INSTALLED_SUFFIX):
            return path == _INSTALLED_SUFFIX or path.endswith("/" + _INSTALLED_SUFFIX)
        return self.context.mode == "fs" and path.rpartition("/")[2] == "composer.lock"

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        if len(file.data) > MAX_FILE_BYTES:
            facts.warn(f"{file.path}: skipped, larger than {MAX_FILE_BYTES} bytes")
            return
        try:
            doc = json.loads(file.data.decode("utf-8-sig"))
            if file.path.endswith(_INSTALLED_SUFFIX):
                packages, dev_names = installed_entries(doc)
                entries = [(p, _name_of(p) in dev_names) for p in packages]
            else:
                entries = lock_entries(doc)
        except UnicodeDecodeError as exc:
            facts.warn(f"{file.path}: skipped, not UTF-8 ({' '.join(str(exc).split())})")
            return
        except (ValueError, RecursionError) as exc:
            facts.warn(f"{file.path}: skipped, cannot parse: {' '.join(str(exc).split())}")
            return
        bad = 0
        for entry, dev in entries:
            package = _package(entry, dev, file)
            if package is None:
                bad += 1
            else:
                facts.add(package)
        if bad:
            facts.warn(f"{file.path}: skipped {bad} malformed package entries")


def _name_of(entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) else ""


def _package(entry: Any, dev: bool, file: AnalyzedFile) -> Package | None:
    if not isinstance(entry, dict):
        return None
    name, version = entry.get("name"), entry.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return None
    if not _valid_name(name) or not _valid_version(version):
        return None
    licenses = _licenses(entry)
    if licenses is None:
        return None
    return Package(
        name=name,
        version=version,
        ecosystem=ECOSYSTEM,
        purl="",
        location=file.location(),
        licenses=licenses,
        metadata=(("dev", "true"),) if dev else (),
    )
