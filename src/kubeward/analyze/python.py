"""Python packages: installed dist-info / egg-info metadata, and in fs mode the lock files.

An image's site-packages can hold thousands of dist-infos, so METADATA is read with a small
header parser that stops at the first blank line (email.parser is far slower and decodes the
whole long description). Lock files use tomllib / json from the standard library; pinned
requirements are matched with one regex (we only need `name==version`, not full PEP 508).
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any, ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Package

ECOSYSTEM = "pypi"
# Lock files and requirements above this size are skipped with a warning.
MAX_LOCK_BYTES = 32 * 1024 * 1024
# A `License:` value longer than this (or folded over several lines) is the licence's full
# text, not its name, and is ignored in favour of the classifiers.
MAX_LICENSE_FIELD = 100

_NAME_RE = re.compile(r"^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
# `name[extras] == version` followed by nothing, whitespace (hash options) or a marker.
_PIN_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*"
    r"===?\s*(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*(?:$|;|--hash)"
)
_COMMENT_RE = re.compile(r"(?:^|\s)#.*$")
_LOCK_BASENAMES = frozenset({"poetry.lock", "Pipfile.lock", "uv.lock"})


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _basename(path: str) -> str:
    return path.rpartition("/")[2]


def _parent(path: str) -> str:
    return path.rpartition("/")[0].rpartition("/")[2]


def _header_end(data: bytes) -> int:
    """Index where the RFC 822 header block ends (the first blank line), or len(data)."""
    end = data.find(b"\n\n")
    end = len(data) if end < 0 else end
    crlf = data.find(b"\n\r\n", 0, end)
    return end if crlf < 0 else crlf


def parse_metadata_headers(data: bytes) -> dict[str, list[str]]:
    """The header fields of a METADATA / PKG-INFO file, each field's values in order.

    Folded continuation lines are joined with "\\n" so callers can tell multi-line values.
    Bytes that are not UTF-8 become U+FFFD: a stray Latin-1 author name must not hide the
    package, and Name/Version are validated by the caller.
    """
    text = data[: _header_end(data)].decode("utf-8", errors="replace")
    fields: dict[str, list[str]] = {}
    last: list[str] | None = None
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line:
            break  # a whitespace-only line is a folded continuation, as in email.feedparser
        if line[0] in " \t":
            if last is not None:
                last[-1] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            last = None
            continue
        last = fields.setdefault(key.strip().lower(), [])
        last.append(value.strip())
    return fields


def metadata_licenses(fields: dict[str, list[str]]) -> tuple[str, ...]:
    """PEP 639 License-Expression, else a short License, else the licence classifiers."""
    for expression in fields.get("license-expression", ()):
        if expression:
            return (normalize_license(expression),)
    for declared in fields.get("license", ()):
        if (
            declared
            and "\n" not in declared
            and len(declared) <= MAX_LICENSE_FIELD
            and declared.upper() not in ("UNKNOWN", "NONE")
        ):
            return (normalize_license(declared),)
    found: list[str] = []
    for classifier in fields.get("classifier", ()):
        parts = [p.strip() for p in classifier.split("::")]
        if len(parts) < 2 or parts[0] != "License" or parts[-1] == "OSI Approved":
            continue
        spdx = normalize_license(parts[-1])
        if spdx and spdx not in found:
            found.append(spdx)
    return tuple(found)


def _valid(name: str, version: str) -> bool:
    return bool(_NAME_RE.match(name)) and bool(_VERSION_RE.match(version))


def parse_requirements(text: str) -> list[tuple[int, str, str]]:
    """(line, name, version) for each `name==version` pin of a pip requirements file."""
    pins: list[tuple[int, str, str]] = []
    logical = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not logical:
            start = number
        line = _COMMENT_RE.sub("", raw)
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        match = _PIN_RE.match(logical.strip())
        if match:
            pins.append((start, match["name"], match["version"]))
        logical = ""
    return pins


class PythonAnalyzer(Analyzer):
    """pypi packages from dist-info/egg-info everywhere; requirements and lock files in fs mode."""

    name = "python"
    basenames: ClassVar[frozenset[str]] = frozenset({"METADATA", "PKG-INFO"} | _LOCK_BASENAMES)
    extensions: ClassVar[frozenset[str]] = frozenset({"egg-info", "txt"})

    def wants(self, path: str, mode: int) -> bool:
        base = _basename(path)
        if base == "METADATA":
            return _parent(path).endswith(".dist-info")
        if base == "PKG-INFO":
            parent = _parent(path)
            return parent.endswith(".egg-info") or parent == "EGG-INFO"
        if base.endswith(".egg-info"):
            return True
        if self.context.mode != "fs":
            return False
        if base in _LOCK_BASENAMES:
            return True
        return base.startswith("requirements") and base.endswith(".txt")

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        base = _basename(file.path)
        if base in ("METADATA", "PKG-INFO") or base.endswith(".egg-info"):
            self._installed(file, facts)
            return
        if len(file.data) > MAX_LOCK_BYTES:
            facts.warn(f"{file.path}: skipped, larger than {MAX_LOCK_BYTES} bytes")
            return
        try:
            text = file.data.decode("utf-8-sig")
            if base == "Pipfile.lock":
                self._pipfile_lock(file, json.loads(text), facts)
            elif base == "poetry.lock":
                self._poetry_lock(file, tomllib.loads(text), facts)
            elif base == "uv.lock":
                self._uv_lock(file, tomllib.loads(text), facts)
            elif "\0" in text:
                facts.warn(f"{file.path}: skipped, binary content")
            else:
                for line, name, version in parse_requirements(text):
                    facts.add(_package(name, version, file, line=line))
        except UnicodeDecodeError as exc:
            facts.warn(f"{file.path}: skipped, not UTF-8 ({_one_line(exc)})")
        except (ValueError, RecursionError) as exc:
            facts.warn(f"{file.path}: skipped, cannot parse: {_one_line(exc)}")

    def _installed(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        fields = parse_metadata_headers(file.data)
        name = (fields.get("name") or [""])[0]
        version = (fields.get("version") or [""])[0]
        if not _valid(name, version):
            facts.warn(f"{file.path}: skipped, no valid Name and Version")
            return
        facts.add(_package(name, version, file, licenses=metadata_licenses(fields)))

    def _pipfile_lock(self, file: AnalyzedFile, doc: Any, facts: InventoryBuilder) -> None:
        if not isinstance(doc, dict):
            raise ValueError("top level is not an object")
        bad = 0
        for section, dev in (("default", False), ("develop", True)):
            entries = doc.get(section) or {}
            if not isinstance(entries, dict):
                bad += 1
                continue
            for name, entry in entries.items():
                version = entry.get("version") if isinstance(entry, dict) else None
                if version is None and isinstance(entry, dict):
                    continue  # a git, path or editable entry: nothing pinned
                if not isinstance(version, str) or not version.startswith("=="):
                    bad += 1
                    continue
                version = version[2:].lstrip("=").strip()
                if not _valid(name, version):
                    bad += 1
                    continue
                facts.add(_package(name, version, file, dev=dev))
        _warn_bad(file, bad, facts)

    def _poetry_lock(
        self, file: AnalyzedFile, doc: dict[str, Any], facts: InventoryBuilder
    ) -> None:
        entries, bad = _package_tables(doc)
        for entry in entries:
            name, version = entry.get("name"), entry.get("version")
            if isinstance(name, str) and isinstance(version, str) and _valid(name, version):
                facts.add(_package(name, version, file, dev=entry.get("category") == "dev"))
            else:
                bad += 1
        _warn_bad(file, bad, facts)

    def _uv_lock(self, file: AnalyzedFile, doc: dict[str, Any], facts: InventoryBuilder) -> None:
        tables, bad = _package_tables(doc)
        entries = [e for e in tables if isinstance(e.get("name"), str)]
        bad += len(tables) - len(entries)
        # The project itself and workspace members are editable/virtual sources: not
        # dependencies, but the roots from which runtime and dev dependencies are told apart.
        roots = [e for e in entries if _uv_is_project(e)]
        by_name: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            by_name.setdefault(entry["name"], []).append(entry)
        runtime_start = [
            d for r in roots for d in _uv_deps(r, "dependencies", "optional-dependencies")
        ]
        dev_start = [d for r in roots for d in _uv_deps(r, "dev-dependencies")]
        runtime = _uv_closure(by_name, runtime_start)
        dev_only = _uv_closure(by_name, dev_start) - runtime
        for entry in entries:
            if _uv_is_project(entry):
                continue
            name, version = entry["name"], entry.get("version")
            if version is None:
                continue  # a workspace member with a dynamic version
            if not isinstance(version, str) or not _valid(name, version):
                bad += 1
                continue
            facts.add(_package(name, version, file, dev=name in dev_only))
        _warn_bad(file, bad, facts)


def _package(
    name: str,
    version: str,
    file: AnalyzedFile,
    *,
    line: int | None = None,
    licenses: tuple[str, ...] = (),
    dev: bool = False,
) -> Package:
    return Package(
        name=name,
        version=version,
        ecosystem=ECOSYSTEM,
        purl="",
        location=file.location(line),
        licenses=licenses,
        metadata=(("dev", "true"),) if dev else (),
    )


def _warn_bad(file: AnalyzedFile, bad: int, facts: InventoryBuilder) -> None:
    if bad:
        facts.warn(f"{file.path}: skipped {bad} malformed package entries")


def _package_tables(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The `[[package]]` tables of a TOML lock file, and how many entries were not tables."""
    packages = doc.get("package", [])
    if not isinstance(packages, list):
        raise ValueError("'package' is not an array of tables")
    tables = [p for p in packages if isinstance(p, dict)]
    return tables, len(packages) - len(tables)


def _uv_is_project(entry: dict[str, Any]) -> bool:
    source = entry.get("source")
    return isinstance(source, dict) and ("editable" in source or "virtual" in source)


def _uv_deps(entry: dict[str, Any], *keys: str) -> list[str]:
    """Dependency names of a uv.lock package: plain lists or group -> list tables."""
    names: list[str] = []
    for key in keys:
        value = entry.get(key)
        groups = value.values() if isinstance(value, dict) else [value]
        for group in groups:
            if isinstance(group, list):
                names.extend(
                    d["name"]
                    for d in group
                    if isinstance(d, dict) and isinstance(d.get("name"), str)
                )
    return names


def _uv_closure(by_name: dict[str, list[dict[str, Any]]], start: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for entry in by_name.get(name, ()):
            todo.extend(_uv_deps(entry, "dependencies", "optional-dependencies"))
    return seen
