"""The ignore file: one `.kubewardignore.yaml` that silences accepted findings of every scanner.

Each entry names a rule or advisory and can narrow it to a package, a purl or a path glob,
with an expiry date so that an exception is revisited instead of forgotten. The file may come
from the scanned repository, so it is read as untrusted input: a size cap, no YAML aliases,
strict keys and types, and every mistake reported as one line with its file and line number.
Globs are our own small translator because fnmatch lets "*" cross "/" and Python 3.11 has no
glob.translate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from packageurl import PackageURL

from kubeward.config_file import compose_yaml, read_config_text
from kubeward.errors import KubewardError
from kubeward.model import Finding

IGNORE_FILE_NAME = ".kubewardignore.yaml"
_MAX_DEPTH = 8  # the format needs 3: top mapping, list, entry

_ENTRY_KEYS = ("id", "package", "purl", "path", "expires", "reason")
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Values end up in terminal messages; a file from a stranger must not be able to drive the
# terminal. Reasons may span lines; nothing else may hold any control or bidi character.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_REASON_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class IgnoreFileError(KubewardError):
    """An ignore file that cannot be used as written."""


def _glob_segment(segment: str) -> str:
    """Regex for one path segment of a glob: "*", "?" and "[...]" never match "/"."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        i += 1
        if char == "*":
            while i < len(segment) and segment[i] == "*":
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = i
            if end < len(segment) and segment[end] in "!^":
                end += 1
            if end < len(segment) and segment[end] == "]":
                end += 1
            end = segment.find("]", end)
            if end == -1:  # no closing bracket: a literal "["
                out.append(re.escape(char))
                continue
            body = segment[i:end]
            i = end + 1
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            members = "".join(c if c == "-" else re.escape(c) for c in body)
            out.append(f"[^/{members}]" if negate else f"(?!/)[{members}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: "*" within one segment, "**" as a whole segment spans any number.

    Leading "./" and "/" are dropped, since finding paths are relative to the scan root.
    """
    while pattern.startswith("./"):
        pattern = pattern[2:]
    pattern = pattern.lstrip("/")
    parts = pattern.split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
        else:
            out.append(_glob_segment(part) + ("" if last else "/"))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _purl_key(purl: PackageURL) -> tuple[str, str | None, str]:
    return (purl.type, purl.namespace, purl.name)


@dataclass(frozen=True, slots=True)
class IgnoreEntry:
    """One entry of the file; `line` is where it starts, for messages."""

    id: str
    line: int
    package_name: str | None = None
    package_version: str | None = None
    purl: str | None = None
    path: str | None = None
    expires: date | None = None
    reason: str = ""
    _purl: PackageURL | None = field(default=None, repr=False, compare=False)
    _path: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def is_active(self, today: date) -> bool:
        """Whether the entry applies on `today`: through the whole of its `expires` date."""
        return self.expires is None or today <= self.expires

    def matches(self, finding: Finding, ids: Iterable[str]) -> bool:
        """Whether the entry covers `finding`, whose rule id and aliases are `ids`.

        Ids compare case-insensitively, since CVE and GHSA ids are written both ways.
        """
        wanted = self.id.casefold()
        if not any(candidate.casefold() == wanted for candidate in ids):
            return False
        return self._matches_package(finding) and self._matches_path(finding)

    def _matches_package(self, finding: Finding) -> bool:
        pkg = finding.package
        if self.package_name is not None:
            if pkg is None or pkg.name != self.package_name:
                return False
            if self.package_version is not None and pkg.version != self.package_version:
                return False
        if self._purl is not None:
            if pkg is None or not pkg.purl:
                return False
            try:
                found = PackageURL.from_string(pkg.purl)
            except ValueError:
                return False
            want = self._purl
            if _purl_key(found) != _purl_key(want):
                return False
            if want.version is not None and found.version != want.version:
                return False
            if want.subpath is not None and found.subpath != want.subpath:
                return False
            qualifiers = found.qualifiers if isinstance(found.qualifiers, dict) else {}
            wanted = want.qualifiers if isinstance(want.qualifiers, dict) else {}
            if any(qualifiers.get(key) != value for key, value in wanted.items()):
                return False
        return True

    def _matches_path(self, finding: Finding) -> bool:
        if self._path is None:
            return True
        path = finding.location.path
        return path is not None and self._path.match(path) is not None


@dataclass(frozen=True, slots=True)
class IgnoreOutcome:
    """What applying the rules did: findings kept and suppressed, entries expired and unused."""

    kept: tuple[Finding, ...]
    suppressed: tuple[tuple[Finding, IgnoreEntry], ...]
    expired: tuple[IgnoreEntry, ...]
    unused: tuple[IgnoreEntry, ...]


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """The entries of one ignore file, in file order."""

    entries: tuple[IgnoreEntry, ...] = ()
    source: Path | None = None

    def apply(
        self,
        findings: Sequence[Finding],
        aliases_of: Callable[[Finding], Iterable[str]],
        today: date,
    ) -> IgnoreOutcome:
        """Split `findings` into kept and suppressed; the first matching entry in file order wins.

        An expired entry suppresses nothing and is reported in `expired`; an active entry that
        suppressed nothing is reported in `unused`, so stale exceptions can be cleaned up.
        """
        active = [entry for entry in self.entries if entry.is_active(today)]
        by_id: dict[str, list[tuple[int, IgnoreEntry]]] = {}
        for position, entry in enumerate(active):
            by_id.setdefault(entry.id.casefold(), []).append((position, entry))
        used: set[int] = set()
        kept: list[Finding] = []
        suppressed: list[tuple[Finding, IgnoreEntry]] = []
        for finding in findings:
            ids = [finding.rule_id, *aliases_of(finding)]
            candidates = sorted(
                {pair[0]: pair for key in ids for pair in by_id.get(key.casefold(), ())}.values(),
                key=lambda pair: pair[0],
            )
            for position, entry in candidates:
                if entry.matches(finding, ids):
                    used.add(position)
                    suppressed.append((finding, entry))
                    break
            else:
                kept.append(finding)
        return IgnoreOutcome(
            kept=tuple(kept),
            suppressed=tuple(suppressed),
            expired=tuple(entry for entry in self.entries if not entry.is_active(today)),
            unused=tuple(entry for i, entry in enumerate(active) if i not in used),
        )

    def where(self, entry: IgnoreEntry) -> str:
        """Where `entry` is written, as "FILE:LINE", for messages."""
        return f"{self.source or IGNORE_FILE_NAME}:{entry.line}"

    def expired_message(self, entry: IgnoreEntry) -> str:
        """The warning line for an expired entry."""
        expires = entry.expires.isoformat() if entry.expires else "?"
        return f"{self.where(entry)}: ignore entry for {entry.id} expired on {expires}"

    def unused_message(self, entry: IgnoreEntry) -> str:
        """The notice line for an active entry that matched no finding."""
        return f"{self.where(entry)}: ignore entry for {entry.id} matched no finding"


def find_ignore_file(directory: Path) -> Path | None:
    """The `.kubewardignore.yaml` at the top of a scanned directory, when there is one."""
    candidate = directory / IGNORE_FILE_NAME
    return candidate if candidate.is_file() else None


class _Parser:
    """Turns the YAML node tree of an ignore file into entries, checking as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, message: str) -> IgnoreFileError:
        where = self.path if node is None else f"{self.path}:{node.start_mark.line + 1}"
        return IgnoreFileError(f"{where}: {message}")

    def pairs(self, node: yaml.MappingNode, what: str) -> dict[str, yaml.Node]:
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG:
                raise self.fail(key_node, f"{what}: keys must be plain words")
            key = str(key_node.value)
            if key in out:
                raise self.fail(key_node, f"{what}: duplicate key {key!r}")
            out[key] = value_node
        return out

    def text(self, node: yaml.Node, what: str, key: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR_TAG:
            raise self.fail(node, f"{what}: {key!r} must be a string")
        value = str(node.value)
        if not value.strip():
            raise self.fail(node, f"{what}: {key!r} must not be empty")
        control = _REASON_CONTROL if key == "reason" else _CONTROL
        if control.search(value):
            raise self.fail(node, f"{what}: {key!r} must not hold control characters")
        return value

    def expires(self, node: yaml.Node, what: str) -> date:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_STR_TAG, _TIMESTAMP_TAG):
            raise self.fail(node, f"{what}: 'expires' must be a date written YYYY-MM-DD")
        value = str(node.value)
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(
                node, f"{what}: 'expires' must be a date written YYYY-MM-DD, not {value!r}"
            ) from None

    def entry(self, node: yaml.Node, number: int) -> IgnoreEntry:
        what = f"ignore entry {number}"
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping with at least an 'id'")
        fields = self.pairs(node, what)
        for key, value_node in fields.items():
            if key not in _ENTRY_KEYS:
                expected = ", ".join(sorted(_ENTRY_KEYS))
                raise self.fail(
                    value_node, f"{what}: unknown key {key!r} (expected one of: {expected})"
                )
        if "id" not in fields:
            raise self.fail(node, f"{what}: 'id' is required")
        rule_id = self.text(fields["id"], what, "id").strip()
        package_name = package_version = None
        if "package" in fields:
            package = self.text(fields["package"], what, "package").strip()
            head, at, tail = package.rpartition("@")
            if at and head:  # "@scope/name" alone is an npm name without a version
                if not tail:
                    raise self.fail(fields["package"], f"{what}: 'package' has an empty version")
                package_name, package_version = head, tail
            else:
                package_name = package
        purl_text = parsed_purl = None
        if "purl" in fields:
            purl_text = self.text(fields["purl"], what, "purl").strip()
            try:
                parsed_purl = PackageURL.from_string(purl_text)
            except ValueError:
                raise self.fail(
                    fields["purl"], f"{what}: 'purl' is not a package URL: {purl_text!r}"
                ) from None
        path = path_regex = None
        if "path" in fields:
            path = self.text(fields["path"], what, "path")
            try:
                path_regex = glob_regex(path)
            except re.error:
                raise self.fail(
                    fields["path"], f"{what}: 'path' is not a valid glob: {path!r}"
                ) from None
        expires = self.expires(fields["expires"], what) if "expires" in fields else None
        reason = self.text(fields["reason"], what, "reason") if "reason" in fields else ""
        return IgnoreEntry(
            id=rule_id,
            line=node.start_mark.line + 1,
            package_name=package_name,
            package_version=package_version,
            purl=purl_text,
            path=path,
            expires=expires,
            reason=reason,
            _purl=parsed_purl,
            _path=path_regex,
        )

    def document(self, root: yaml.Node | None) -> tuple[IgnoreEntry, ...]:
        if root is None:  # an empty file, or comments only
            return ()
        if not isinstance(root, yaml.MappingNode):
            raise self.fail(root, "expected a mapping with an 'ignore' list at the top level")
        fields = self.pairs(root, "top level")
        for key, value_node in fields.items():
            if key != "ignore":
                raise self.fail(
                    value_node, f"unknown key {key!r} at the top level (expected 'ignore')"
                )
        entries_node = fields.get("ignore")
        if entries_node is None:
            return ()
        if isinstance(entries_node, yaml.ScalarNode) and entries_node.tag == _NULL_TAG:
            return ()
        if not isinstance(entries_node, yaml.SequenceNode):
            raise self.fail(entries_node, "'ignore' must be a list of entries")
        return tuple(self.entry(item, i) for i, item in enumerate(entries_node.value, 1))


def parse_ignore_text(text: str, path: Path) -> IgnoreRules:
    """Parse the ignore file `text`; `path` is only used in messages and `IgnoreRules.source`."""
    # aliases and deep nesting are refused before anything is built (compose_yaml)
    root, _ = compose_yaml(text, str(path), IgnoreFileError, _MAX_DEPTH)
    return IgnoreRules(entries=_Parser(path).document(root), source=path)


def load_ignore_file(path: Path) -> IgnoreRules:
    """Read and check the ignore file at `path`; any problem is one IgnoreFileError line."""
    return parse_ignore_text(read_config_text(path, IgnoreFileError, "ignore file"), path)
