"""Ruby gems: installed `specifications/*.gemspec` files, and Gemfile.lock in fs mode.

The gemspecs rubygems writes on install are Ruby code; running them is out of the question,
and their shape is fixed (`s.name = "x".freeze`), so a few anchored regexes read them.
Gemfile.lock is Bundler's own indented text format, parsed line by line as Bundler does.
"""

from __future__ import annotations

import re
from typing import ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Package

ECOSYSTEM = "gem"
# Gemspecs and lock files above this size are skipped with a warning.
MAX_FILE_BYTES = 16 * 1024 * 1024

_STRING = r"""(?:"([^"\\\n]*)"|'([^'\\\n]*)')"""
_NAME_RE = re.compile(rf"^[ \t]*\w+\.name[ \t]*=[ \t]*{_STRING}", re.MULTILINE)
_VERSION_RE = re.compile(
    rf"^[ \t]*\w+\.version[ \t]*=[ \t]*(?:Gem::Version\.new\()?[ \t]*{_STRING}", re.MULTILINE
)
_LICENSES_RE = re.compile(r"^[ \t]*\w+\.licenses?[ \t]*=[ \t]*([^\n]*)$", re.MULTILINE)
_STRINGS_RE = re.compile(_STRING)
# "# stub: rack 3.0.8 ruby lib": rubygems' own summary line, used when the body is odd.
_STUB_RE = re.compile(r"^# stub: (\S+) (\S+)", re.MULTILINE)
_GEM_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_GEM_VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.-]*$")
# Bundler writes specs as exactly four spaces, then "name (version[-platform])".
_LOCK_SPEC_RE = re.compile(r"^    ([^ (]+) \(([^)\s]+)\)$")


def _string(match: re.Match[str] | None, first: int = 1) -> str:
    if match is None:
        return ""
    return match[first] if match[first] is not None else match[first + 1]


def parse_gemspec(text: str) -> tuple[str, str, tuple[str, ...]]:
    """(name, version, declared licences) of an installed gemspec; "" when not found."""
    name = _string(_NAME_RE.search(text))
    version = _string(_VERSION_RE.search(text))
    if not name or not version:
        stub = _STUB_RE.search(text)
        if stub:
            name, version = name or stub[1], version or stub[2]
    licenses: list[str] = []
    for line in _LICENSES_RE.finditer(text):
        for match in _STRINGS_RE.finditer(line[1]):
            declared = _string(match).strip()
            if declared and declared not in licenses:
                licenses.append(declared)
    return name, version, tuple(licenses)


def parse_gemfile_lock(text: str) -> list[tuple[int, str, str]]:
    """(line, name, version) of each spec in the GEM section, platform suffix removed."""
    specs: list[tuple[int, str, str]] = []
    section = ""
    in_specs = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line and not line[0].isspace():
            section, in_specs = line.strip(), False
            continue
        if section != "GEM":
            continue
        if line.strip() == "specs:":
            in_specs = True
            continue
        if not in_specs:
            continue
        match = _LOCK_SPEC_RE.match(line)
        if match:
            # Bundler's own parser: `version, platform = version.split("-", 2)`.
            specs.append((number, match[1], match[2].split("-", 1)[0]))
    return specs


def _valid(name: str, version: str) -> bool:
    return bool(_GEM_NAME_RE.match(name)) and bool(_GEM_VERSION_RE.match(version))


class RubyAnalyzer(Analyzer):
    """gem packages from installed gemspecs everywhere, and from Gemfile.lock in fs mode."""

    name = "ruby"
    basenames: ClassVar[frozenset[str]] = frozenset({"Gemfile.lock"})
    extensions: ClassVar[frozenset[str]] = frozenset({"gemspec"})

    def wants(self, path: str, mode: int) -> bool:
        if path.endswith(".gemspec"):
            # specifications/NAME.gemspec, and specifications/default/ for default gems.
            return path.startswith("specifications/") or "/specifications/" in path
        return self.context.mode == "fs" and path.rpartition("/")[2] == "Gemfile.lock"

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        if len(file.data) > MAX_FILE_BYTES:
            facts.warn(f"{file.path}: skipped, larger than {MAX_FILE_BYTES} bytes")
            return
        try:
            text = file.data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            facts.warn(f"{file.path}: skipped, not UTF-8 ({' '.join(str(exc).split())})")
            return
        if file.path.endswith(".gemspec"):
            name, version, declared = parse_gemspec(text)
            if not _valid(name, version):
                facts.warn(f"{file.path}: skipped, no valid gem name and version")
                return
            licenses = tuple(normalize_license(d) for d in declared)
            facts.add(_package(name, version, file, licenses=licenses))
            return
        if "\0" in text:
            facts.warn(f"{file.path}: skipped, binary content")
            return
        bad = 0
        seen: set[tuple[str, str]] = set()
        for line, name, version in parse_gemfile_lock(text):
            if not _valid(name, version):
                bad += 1
            elif (name, version) not in seen:
                # One gem version locked for several platforms is one package.
                seen.add((name, version))
                facts.add(_package(name, version, file, line=line))
        if bad:
            facts.warn(f"{file.path}: skipped {bad} malformed specs")


def _package(
    name: str,
    version: str,
    file: AnalyzedFile,
    *,
    line: int | None = None,
    licenses: tuple[str, ...] = (),
) -> Package:
    return Package(
        name=name,
        version=version,
        ecosystem=ECOSYSTEM,
        purl="",
        location=file.location(line),
        licenses=licenses,
    )
