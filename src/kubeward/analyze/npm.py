"""npm packages: installed `node_modules/**/package.json` manifests in every scan, and in fs
mode the lock files of npm, yarn and pnpm (parsed in npm_lockfiles).

A node_modules tree can hold tens of thousands of package.json files, most of them not a
package's own manifest (test fixtures, nested `lib/package.json` markers), so `wants()` decides
from the path alone with a bounded split. The venv has no orjson, so the standard json module
reads manifests; that is fast enough here (parsing is a small part of reading a layer).
"""

from __future__ import annotations

from typing import Any, ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.analyze.npm_lockfiles import (
    LockfileError,
    LockParse,
    declared_licenses,
    load_json,
    parse_package_lock,
    parse_pnpm_lock,
    parse_yarn_lock,
)
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Package

ECOSYSTEM = "npm"
# A package.json above this size is not a real manifest (old npm inlined READMEs, which stay
# far below it); lock files of large monorepos reach tens of MB.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
MAX_LOCK_BYTES = 64 * 1024 * 1024

_LOCK_PARSERS = {
    "package-lock.json": parse_package_lock,
    "npm-shrinkwrap.json": parse_package_lock,
    "yarn.lock": parse_yarn_lock,
    "pnpm-lock.yaml": parse_pnpm_lock,
}
_DEV = (("dev", "true"),)


def is_package_manifest(path: str) -> bool:
    """True for `.../node_modules/NAME/package.json` and `.../node_modules/@scope/NAME/...`."""
    parts = path.rsplit("/", 4)
    if len(parts) >= 3 and parts[-3] == "node_modules":
        return parts[-2][:1] not in ("", ".", "@")
    return (
        len(parts) >= 4
        and parts[-4] == "node_modules"
        and parts[-3][:1] == "@"
        and len(parts[-3]) > 1
        and parts[-2][:1] not in ("", ".")
    )


def _inside_node_modules(path: str) -> bool:
    return path.startswith("node_modules/") or "/node_modules/" in path


def _licenses(doc: dict[str, Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalize_license(text) for text in declared_licenses(doc)))


class NpmAnalyzer(Analyzer):
    name: ClassVar[str] = "npm"
    basenames: ClassVar[frozenset[str]] = frozenset({"package.json", *_LOCK_PARSERS})

    def wants(self, path: str, mode: int) -> bool:
        base = path.rpartition("/")[2]
        if base == "package.json":
            return is_package_manifest(path)
        # Lock files shipped inside a dependency describe its author's machine, not this one.
        return (
            self.context.mode == "fs" and base in _LOCK_PARSERS and not _inside_node_modules(path)
        )

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        base = file.path.rpartition("/")[2]
        if base == "package.json":
            self._manifest(file, facts)
            return
        parser = _LOCK_PARSERS.get(base)
        if parser is None:
            return
        if len(file.data) > MAX_LOCK_BYTES:
            facts.warn(f"{file.path}: skipped, larger than {MAX_LOCK_BYTES} bytes")
            return
        try:
            parsed: LockParse = parser(file.data)
        except LockfileError as exc:
            facts.warn(f"{file.path}: skipped, {exc}")
            return
        if parsed.skipped:
            facts.warn(f"{file.path}: {parsed.skipped} malformed entries skipped")
        for locked in parsed.packages:
            facts.add(
                Package(
                    name=locked.name,
                    version=locked.version,
                    ecosystem=ECOSYSTEM,
                    purl="",
                    location=file.location(locked.line),
                    licenses=tuple(
                        dict.fromkeys(normalize_license(text) for text in locked.licenses)
                    ),
                    metadata=_DEV if locked.dev else (),
                )
            )

    def _manifest(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        if len(file.data) > MAX_MANIFEST_BYTES:
            facts.warn(f"{file.path}: skipped, larger than {MAX_MANIFEST_BYTES} bytes")
            return
        try:
            doc = load_json(file.data)
        except LockfileError as exc:
            facts.warn(f"{file.path}: skipped, {exc}")
            return
        if not isinstance(doc, dict):
            facts.warn(f"{file.path}: skipped, package.json is not a JSON object")
            return
        name = doc.get("name")
        version = doc.get("version")
        if name is None or version is None:
            return  # many package.json files are not package manifests
        if not isinstance(name, str) or not isinstance(version, str):
            facts.warn(f"{file.path}: skipped, name or version is not a string")
            return
        name = name.strip()
        version = version.strip()
        if not name or not version:
            return
        if "\ufffd" in name or "\ufffd" in version:
            facts.warn(f"{file.path}: skipped, name or version is not UTF-8")
            return
        facts.add(
            Package(
                name=name,
                version=version,
                ecosystem=ECOSYSTEM,
                purl="",
                location=file.location(),
                licenses=_licenses(doc),
            )
        )
