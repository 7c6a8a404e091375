"""Debian packages from the dpkg database, with licences from DEP-5 copyright files.

Reads var/lib/dpkg/status and distroless's var/lib/dpkg/status.d/* (one file per package, no
Status field). "Installed" means dpkg's configured states (installed, triggers-pending,
triggers-awaited), whatever the selection (hold, deinstall): `dpkg-query -W` also lists
config-files, unpacked and half-* packages, whose programs are absent or incomplete, so they
are left out here. The deb822 parser is our own: python-debian is a heavy dependency for the
few fields needed, and splitting whole stanzas is fast on multi-megabyte status files.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder, ScanContext
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Location, Package

STATUS_PATH = "var/lib/dpkg/status"
STATUS_DIR = "var/lib/dpkg/status.d/"
DOC_DIR = "usr/share/doc/"

# dpkg's states whose package is fully unpacked and configured (dpkg treats these as
# satisfying dependencies); the other known states are listed so a typo is noticed.
INSTALLED_STATES = frozenset({"installed", "triggers-pending", "triggers-awaited"})
_KNOWN_STATES = INSTALLED_STATES | {
    "not-installed",
    "config-files",
    "half-installed",
    "unpacked",
    "half-configured",
}

# Blank lines (possibly holding only spaces or tabs) separate stanzas.
_SEPARATOR_RE = re.compile(r"\n(?:[ \t]*\n)+")
# A DEP-5 short-name line is a few words; a longer one is licence text pasted in its place.
_MAX_SHORT_NAME_WORDS = 5
_LICENSE_OPERATORS = frozenset({"and", "or", "with"})


@dataclass(frozen=True, slots=True)
class Stanza:
    """One deb822 paragraph: first-line values of its fields (lower-case names)."""

    line: int  # 1-based line where it starts
    fields: dict[str, str]
    error: str = ""  # why it is malformed, "" when it is not


def iter_stanzas(text: str) -> Iterator[Stanza]:
    """Paragraphs of a deb822 file. Continuation lines are skipped: no field used here is
    multi-line except License, whose first line is its short name."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    start = 0
    line_offset, lineno = 0, 1  # line number at line_offset, advanced lazily
    ends = [(m.start(), m.end()) for m in _SEPARATOR_RE.finditer(text)]
    ends.append((len(text), len(text)))
    for end, next_start in ends:
        block = text[start:end]
        block_start = start
        start = next_start
        stripped = block.strip()
        if not stripped:
            continue
        fields: dict[str, str] = {}
        error = ""
        for line in block.split("\n"):
            if not line or line[0] in " \t":
                continue
            name, sep, value = line.partition(":")
            name = name.strip()
            if not sep or not name or " " in name:
                if not error:
                    error = f"not a field: {line[:40]!r}"
                continue
            fields[name.lower()] = value.strip()
        first = block_start + len(block) - len(block.lstrip())
        lineno += text.count("\n", line_offset, first)
        line_offset = first
        yield Stanza(lineno, fields, error)


def _is_installed(status: str | None, default: bool) -> bool | None:
    """True/False from "want eflag state"; None when the field is malformed."""
    if status is None:
        return default
    words = status.split()
    if len(words) != 3 or words[2] not in _KNOWN_STATES:
        return None
    return words[2] in INSTALLED_STATES


def parse_status(
    text: str, location: Location, status_optional: bool
) -> tuple[list[Package], list[str]]:
    """Installed packages of a dpkg status file, and why any stanza was skipped.

    `status_optional`: distroless status.d files omit Status for installed packages.
    """
    packages: list[Package] = []
    problems: list[str] = []
    for stanza in iter_stanzas(text):
        f = stanza.fields
        name = f.get("package", "")
        version = f.get("version", "")
        installed = _is_installed(f.get("status"), status_optional)
        reason = stanza.error or (
            (not name and "no Package field")
            or (installed is None and "bad Status field")
            or (installed and not version and "no Version field")
            or ""
        )
        if reason:
            problems.append(f"line {stanza.line}: {reason}")
            continue
        if not installed:
            continue
        # dpkg-query's ${Package} never carries ":arch"; some generators add it.
        name = name.partition(":")[0]
        source_name, source_version = name, version
        source = f.get("source")
        if source:
            src, _, rest = source.partition("(")
            source_name = src.strip() or name
            if rest:
                source_version = rest.partition(")")[0].strip() or version
        packages.append(
            Package(
                name=name,
                version=version,
                ecosystem="deb",
                purl="",
                location=location,
                source_name=source_name,
                source_version=source_version,
                arch=f.get("architecture") or None,
            )
        )
    return packages, problems


def _looks_like_short_name(value: str) -> bool:
    words = [w for w in value.split() if w.lower() not in _LICENSE_OPERATORS]
    return 0 < len(words) <= _MAX_SHORT_NAME_WORDS


def parse_copyright(text: str) -> tuple[str, ...]:
    """Normalised licences of a DEP-5 copyright file; () for any other copyright file."""
    if "format:" not in text[:4096].lower():  # cheap exit for the non-DEP-5 majority
        return ()
    stanzas = iter_stanzas(text)
    header = next(stanzas, None)
    if header is None:
        return ()
    fmt = header.fields.get("format", "").lower()
    if not ("copyright-format" in fmt or "dep5" in fmt or "dep-5" in fmt):
        return ()
    names: set[str] = set()
    for stanza in (header, *stanzas):
        short = stanza.fields.get("license", "")
        if _looks_like_short_name(short):
            names.add(short)
    return tuple(sorted({normalize_license(n) for n in names}))


def _doc_package(path: str) -> str | None:
    """ "usr/share/doc/PKG/copyright" -> PKG."""
    if not path.startswith(DOC_DIR) or not path.endswith("/copyright"):
        return None
    pkg = path[len(DOC_DIR) : -len("/copyright")]
    return pkg if pkg and "/" not in pkg else None


def _is_status_d_file(path: str) -> bool:
    if not path.startswith(STATUS_DIR):
        return False
    rest = path[len(STATUS_DIR) :]
    return bool(rest) and "/" not in rest and not rest.endswith(".md5sums")


class DpkgAnalyzer(Analyzer):
    """Installed Debian packages; licences are joined from copyright files in finish()."""

    name: ClassVar[str] = "dpkg"
    basenames: ClassVar[frozenset[str]] = frozenset({"status", "copyright"})
    prefixes: ClassVar[tuple[str, ...]] = (STATUS_DIR,)

    def __init__(self, context: ScanContext) -> None:
        super().__init__(context)
        self._packages: list[Package] = []
        self._licenses: dict[str, tuple[str, ...]] = {}

    def wants(self, path: str, mode: int) -> bool:
        return path == STATUS_PATH or _is_status_d_file(path) or _doc_package(path) is not None

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        text = file.data.decode("utf-8", errors="replace")
        doc_package = _doc_package(file.path)
        if doc_package is not None:
            licenses = parse_copyright(text)
            if licenses:
                self._licenses[doc_package] = licenses
            return
        packages, problems = parse_status(
            text, file.location(), status_optional=file.path != STATUS_PATH
        )
        self._packages.extend(packages)
        if problems:
            facts.warn(
                f"{file.path}: skipped {len(problems)} malformed dpkg stanza(s), first at "
                f"{problems[0]}"
            )

    def finish(self, facts: InventoryBuilder) -> None:
        for pkg in self._packages:
            licenses = self._licenses.get(pkg.name, ())
            facts.add(dataclasses.replace(pkg, licenses=licenses) if licenses else pkg)
