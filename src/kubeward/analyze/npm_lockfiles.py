"""Parsers for the JavaScript lock files: npm package-lock (v1-v3), yarn.lock (v1 and berry)
and pnpm-lock.yaml (5.x, 6.x, 9.x).

They are pure functions from bytes to `LockedPackage`s so they can be tested without a scan.
yarn v1 has its own line format, parsed here with a small line scanner (no library reads it);
YAML is loaded with libyaml's CBaseLoader, which keeps every scalar a string (`version: 1.10`
must not become the float 1.1), after refusing documents that use aliases (alias bombs).
Malformed individual entries are counted and skipped; a file that cannot be read at all raises
`LockfileError` with a one-line reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

try:
    from yaml import CBaseLoader as _YamlLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import BaseLoader as _YamlLoader  # type: ignore[assignment]

# A plain `*name` token: only then can a document hold an alias, and only then do we pay for
# a precise event scan. Quoted scalars such as "npm:*" never match.
_ALIAS_HINT = re.compile(r"(?:^|[\s\[{,])\*[^\s,\[\]{}]", re.MULTILINE)
# Versions taken from pnpm keys must at least start like a version.
_VERSION_START = re.compile(r"^v?[0-9]")
# yarn berry resolutions that point at the project's own sources, not at a package.
_LOCAL_PROTOCOLS = ("workspace:", "link:", "portal:")


class LockfileError(ValueError):
    """The file cannot be read as the lock file (or manifest) its name promises."""


@dataclass(frozen=True, slots=True)
class LockedPackage:
    name: str
    version: str
    dev: bool = False
    line: int | None = None  # 1-based line of the entry, where the format makes it cheap
    licenses: tuple[str, ...] = ()  # declared text, not yet normalised


@dataclass(frozen=True, slots=True)
class LockParse:
    packages: list[LockedPackage]
    skipped: int  # entries with the wrong shape (not merely local or incomplete ones)


def decode_text(data: bytes) -> str:
    """UTF-8 text the way node reads it: invalid bytes become U+FFFD, a BOM is dropped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def load_json(data: bytes) -> Any:
    try:
        return json.loads(decode_text(data))
    except RecursionError:
        raise LockfileError("JSON nested too deeply") from None
    except ValueError as exc:
        raise LockfileError(f"invalid JSON: {_one_line(exc)}") from None


def load_yaml_documents(data: bytes) -> list[Any]:
    """Every document of a YAML stream; aliases are refused, not expanded."""
    text = decode_text(data)
    try:
        if _ALIAS_HINT.search(text):
            for event in yaml.parse(text, Loader=_YamlLoader):
                if isinstance(event, yaml.AliasEvent):
                    raise LockfileError("YAML aliases are not allowed in a lock file")
        return list(yaml.load_all(text, Loader=_YamlLoader))
    except RecursionError:
        raise LockfileError("YAML nested too deeply") from None
    except yaml.YAMLError as exc:
        raise LockfileError(f"invalid YAML: {_one_line(exc)}") from None


def declared_licenses(doc: dict[str, Any]) -> tuple[str, ...]:
    """Licence texts from `license` (string or {"type": ...}) or the legacy `licenses` list."""
    found: list[str] = []
    for key in ("license", "licenses"):
        value = doc.get(key)
        items = value if isinstance(value, list) else [value]
        for item in items:
            text = item.get("type") if isinstance(item, dict) else item
            if isinstance(text, str) and text.strip():
                found.append(text.strip())
        if found:
            break
    return tuple(dict.fromkeys(found))


def split_name_version(spec: str) -> tuple[str, str]:
    """Split "@scope/name@1.2.3" into ("@scope/name", "1.2.3"); "" when no version."""
    at = spec.find("@", 1)
    if at < 0:
        return spec, ""
    return spec[:at], spec[at + 1 :]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _merge(found: Iterable[LockedPackage], skipped: int) -> LockParse:
    """One entry per (name, version): dev only if every occurrence is dev, first line wins."""
    merged: dict[tuple[str, str], LockedPackage] = {}
    for pkg in found:
        key = (pkg.name, pkg.version)
        prev = merged.get(key)
        if prev is None:
            merged[key] = pkg
        elif (prev.dev and not pkg.dev) or (not prev.licenses and pkg.licenses):
            merged[key] = LockedPackage(
                pkg.name,
                pkg.version,
                prev.dev and pkg.dev,
                prev.line if prev.line is not None else pkg.line,
                prev.licenses or pkg.licenses,
            )
    return LockParse(list(merged.values()), skipped)


def _valid(name: object, version: object) -> bool:
    return (
        isinstance(name, str)
        and isinstance(version, str)
        and bool(name)
        and bool(version)
        and "\ufffd" not in name
        and "\ufffd" not in version
    )


# --- npm package-lock.json / npm-shrinkwrap.json ---------------------------------------------


def parse_package_lock(data: bytes) -> LockParse:
    doc = load_json(data)
    if not isinstance(doc, dict):
        raise LockfileError("package-lock is not a JSON object")
    packages = doc.get("packages")
    if isinstance(packages, dict):
        return _package_lock_packages(packages)
    dependencies = doc.get("dependencies")
    if isinstance(dependencies, dict):
        return _package_lock_dependencies(dependencies)
    if packages is None and dependencies is None:
        return LockParse([], 0)
    raise LockfileError('package-lock "packages" / "dependencies" is not an object')


def _package_lock_packages(packages: dict[str, Any]) -> LockParse:
    """lockfileVersion 2 and 3: one entry per install location, keyed by path."""
    skipped = 0
    found: list[LockedPackage] = []
    for key, entry in packages.items():
        marker = key.rfind("node_modules/")
        if marker < 0 or (marker > 0 and key[marker - 1] != "/"):
            continue  # the root "" or a workspace's own folder
        if not isinstance(entry, dict):
            skipped += 1
            continue
        if entry.get("link") is True:
            continue
        name = entry.get("name", key[marker + len("node_modules/") :])
        version = entry.get("version")
        if version is None:
            continue
        if not _valid(name, version):
            skipped += 1
            continue
        found.append(
            LockedPackage(name, version, entry.get("dev") is True, None, declared_licenses(entry))
        )
    return _merge(found, skipped)


def _package_lock_dependencies(dependencies: dict[str, Any]) -> LockParse:
    """lockfileVersion 1: a tree of "dependencies" objects, walked without recursion."""
    skipped = 0
    found: list[LockedPackage] = []
    stack: list[dict[str, Any]] = [dependencies]
    while stack:
        for key, entry in stack.pop().items():
            if not isinstance(entry, dict):
                skipped += 1
                continue
            nested = entry.get("dependencies")
            if isinstance(nested, dict):
                stack.append(nested)
            elif nested is not None:
                skipped += 1
            version = entry.get("version")
            if version is None:
                continue
            if not _valid(key, version):
                skipped += 1
                continue
            name = key
            if version.startswith("file:"):
                continue  # a local folder, the v1 form of `link: true`
            if version.startswith("npm:"):  # alias: "npm:real-name@1.2.3"
                name, version = split_name_version(version[4:])
                if not name or not version:
                    skipped += 1
                    continue
            found.append(LockedPackage(name, version, entry.get("dev") is True))
    return _merge(found, skipped)


# --- yarn.lock --------------------------------------------------------------------------------


def parse_yarn_lock(data: bytes) -> LockParse:
    """yarn v1's own format, or yarn berry's YAML (recognised by its `__metadata` key)."""
    if re.search(rb"^__metadata:", data, re.MULTILINE):
        return _parse_yarn_berry(data)
    return _parse_yarn_v1(data)


def _yarn_spec_name(spec: str) -> str:
    name, range_ = split_name_version(spec.strip().strip('"').strip())
    if range_.startswith("npm:"):  # alias: str@npm:is-number@^6.0.0
        real, _ = split_name_version(range_[4:])
        if real:
            return real
    return name


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            loaded = json.loads(value)
        except ValueError:
            return value[1:-1]
        return loaded if isinstance(loaded, str) else value[1:-1]
    return value


def _parse_yarn_v1(data: bytes) -> LockParse:
    text = decode_text(data)
    skipped = 0
    found: list[LockedPackage] = []
    name: str | None = None
    line_no = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw or raw[0] == "#" or not raw.strip():
            continue
        if raw[0] not in " \t":
            header = raw.rstrip()
            if not header.endswith(":"):
                skipped += 1
                name = None
                continue
            name = _yarn_spec_name(header[:-1].split(",", 1)[0])
            line_no = number
        elif name is not None and raw.startswith("  version"):
            rest = raw[len("  version") :]
            if not rest[:1].isspace():
                continue  # "versions ..." or similar: not the field
            version = _unquote(rest)
            if _valid(name, version):
                found.append(LockedPackage(name, version, line=line_no))
            else:
                skipped += 1
            name = None
    if not found and text.strip() and not text.lstrip().startswith("#") and skipped:
        raise LockfileError("not a yarn lock file")
    return _merge(found, skipped)


def _parse_yarn_berry(data: bytes) -> LockParse:
    docs = load_yaml_documents(data)
    doc = docs[0] if len(docs) == 1 else None
    if not isinstance(doc, dict):
        raise LockfileError("yarn berry lock file is not one YAML mapping")
    skipped = 0
    found: list[LockedPackage] = []
    for key, entry in doc.items():
        if key == "__metadata":
            continue
        if not isinstance(entry, dict):
            skipped += 1
            continue
        resolution = entry.get("resolution")
        if not isinstance(resolution, str):
            skipped += 1
            continue
        name, reference = split_name_version(resolution)
        if reference.startswith(_LOCAL_PROTOCOLS):
            continue
        version = entry.get("version")
        if version is None and reference.startswith("npm:"):
            version = reference[4:]
        if not isinstance(version, str) or not _valid(name, version):
            skipped += 1
            continue
        found.append(LockedPackage(name, version))
    return _merge(found, skipped)


# --- pnpm-lock.yaml ---------------------------------------------------------------------------


def _pnpm_major(version: object) -> int:
    text = str(version).strip().strip("'\"")
    head = text.split(".", 1)[0]
    if not head.isdigit():
        raise LockfileError(f"unknown pnpm lockfileVersion {text[:20]!r}")
    return int(head)


def _pnpm_key_v5(key: str) -> tuple[str, str]:
    """Keys of lockfileVersion 5: "/@scope/name/1.2.3_peer@1.0.0", maybe after a host."""
    parts = key.strip("/").split("/")
    if len(parts) < 2:
        return "", ""
    version = parts[-1].split("_", 1)[0]
    if len(parts) >= 3 and parts[-3].startswith("@"):
        return f"{parts[-3]}/{parts[-2]}", version
    return parts[-2], version


def _pnpm_key_v6(key: str) -> tuple[str, str]:
    """Keys like "/@scope/name@1.2.3(peer@1.0.0)" (6.x) or without the "/" (9.x)."""
    key = key[1:] if key.startswith("/") else key
    return split_name_version(key.split("(", 1)[0])


def parse_pnpm_lock(data: bytes) -> LockParse:
    docs = [d for d in load_yaml_documents(data) if d is not None]
    if not docs or not isinstance(docs[-1], dict):
        raise LockfileError("pnpm lock file is not a YAML mapping")
    # pnpm 10 may put its "env" lock file first; the project's own lock file comes last.
    doc = docs[-1]
    if "lockfileVersion" not in doc:
        raise LockfileError("no lockfileVersion")
    major = _pnpm_major(doc["lockfileVersion"])
    packages = doc.get("packages")
    if major >= 9 and not packages:
        packages = doc.get("snapshots")  # the same keys, with peer suffixes
    if packages is None:
        return LockParse([], 0)
    if not isinstance(packages, dict):
        raise LockfileError('pnpm "packages" is not a mapping')
    key_parser = _pnpm_key_v5 if major < 6 else _pnpm_key_v6
    skipped = 0
    found: list[LockedPackage] = []
    for key, value in packages.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, dict)):
            skipped += 1
            continue
        entry: dict[str, Any] = value or {}
        name, version = key_parser(key)
        # Tarball and git dependencies carry their real name and version in the entry.
        declared_name = entry.get("name")
        declared_version = entry.get("version")
        if isinstance(declared_name, str) and declared_name:
            name = declared_name
        if isinstance(declared_version, str) and declared_version:
            version = declared_version
        elif not _VERSION_START.match(version):
            continue  # a tarball or git key whose entry does not say the version
        if not _valid(name, version):
            skipped += 1
            continue
        found.append(LockedPackage(name, version, entry.get("dev") == "true"))
    return _merge(found, skipped)
