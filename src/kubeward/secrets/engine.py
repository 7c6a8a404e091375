"""The secret scanning engine: rule loading, one keyword pass, windowed regexes, gating.

Speed comes from never running a rule's regex over a whole file: one case-insensitive pass
finds every rule keyword at once (hyperscan, else pyahocorasick: a hand-written loop of
`bytes.find` per keyword costs one pass per keyword), and each rule whose keyword occurred
tries its regex only at the lines holding those hits. Files are never decoded; rules are
bytes patterns. A secret leaves this module only as `SecretMatch.secret`, which has no repr,
and in redacted form everywhere else.
"""

from __future__ import annotations

import codecs
import importlib
import importlib.resources
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import yaml

from kubeward.config_file import compose_yaml, one_line, yaml_where
from kubeward.errors import KubewardError
from kubeward.ignore import glob_regex
from kubeward.model import Finding, Location, Severity
from kubeward.secrets.redact import redact

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
# A rule's match starts on a keyword's line, at most LINE_CONTEXT bytes either side of the
# keyword (minified files have megabyte lines); a rule whose regex spans lines may run on to
# MULTILINE_CONTEXT bytes after the keyword, enough for a PEM or PGP private key block.
LINE_CONTEXT = 4096
MULTILINE_CONTEXT = 16384
# How far into the keyword's line a multi-line rule's match may start: both line caps and
# the keyword itself.
ANCHORED_PREFIX = 2 * LINE_CONTEXT + 64
MERGE_GAP = 128
SNIFF_BYTES = 8192
MIN_KEYWORD_LENGTH = 3  # shorter keywords hit on nearly every line and defeat the prefilter
MAX_KEYWORD_LENGTH = 64  # keeps a keyword far shorter than LINE_CONTEXT, which _windows relies on
MAX_YAML_DEPTH = 12
PACKAGED_RULES = "kubeward/data/secrets/rules.yaml"

# Formats that hold no plain-text secrets worth a regex (or hold them compressed). Most also
# have a NUL byte early on; these are the ones that may not, or not within SNIFF_BYTES.
BINARY_MAGIC: tuple[bytes, ...] = (
    b"\x7fELF",  # ELF executables and shared objects
    b"PK\x03\x04",  # zip, jar, war, apk, whl, docx ...
    b"PK\x05\x06",  # empty zip
    b"\x1f\x8b",  # gzip
    b"BZh",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"\x28\xb5\x2f\xfd",  # zstd
    b"7z\xbc\xaf\x27\x1c",  # 7-zip
    b"Rar!\x1a\x07",  # rar
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"RIFF",  # WebP, WAV, AVI
    b"OggS",
    b"fLaC",
    b"ID3",  # MP3
    b"\x1aE\xdf\xa3",  # Matroska, WebM
    b"wOFF",
    b"wOF2",
    b"%PDF-",
    b"SQLite format 3\x00",
    b"\x00asm",  # WebAssembly
    b"\xca\xfe\xba\xbe",  # Java class files, Mach-O universal binaries
    b"\xfe\xed\xfa\xce",  # Mach-O
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
)

_RULE_KEYS = (
    "id",
    "title",
    "severity",
    "keywords",
    "regex",
    "secret_group",
    "entropy",
    "allow",
    "paths",
)
_REQUIRED_KEYS = ("id", "title", "severity", "keywords", "regex")
_SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
_RULE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Regex spellings that say "this match may cross a line break"; `\s` alone does not count,
# since `key\s*=\s*value` is meant for one line.
_MULTILINE_HINTS = (rb"\n", rb"\r", rb"\s\S", rb"\S\s", rb"\x0a", rb"\x0A", rb"\x0d", rb"\x0D")
_LEADING_FLAGS = re.compile(rb"\A(?:\(\?[aiLmsux]+\))+")
_NUMBERED_GROUP_REFERENCE = re.compile(rb"\\[1-9]|\(\?\(")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SecretRuleError(KubewardError):
    """A secret rule, rule file or placeholder that cannot be used as written."""


def shannon_entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte: random tokens score high, words and examples low."""
    if not data:
        return 0.0
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in Counter(data).values())


def is_binary(data: bytes) -> bool:
    """Whether `data` looks like a binary file: a known magic number or a NUL byte early on."""
    return data.startswith(BINARY_MAGIC) or data.find(b"\x00", 0, SNIFF_BYTES) != -1


def _path_matcher(globs: Sequence[str]) -> re.Pattern[str] | None:
    """One regex matching any of `globs` (see kubeward.ignore.glob_regex), or None for none."""
    if not globs:
        return None
    return re.compile("|".join(f"(?:{glob_regex(g).pattern})" for g in globs), re.DOTALL)


def _normal_path(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _can_span_lines(regex: re.Pattern[bytes]) -> bool:
    source = regex.pattern if isinstance(regex.pattern, bytes) else b""
    return bool(regex.flags & re.DOTALL) or any(hint in source for hint in _MULTILINE_HINTS)


def _line_anchored(regex: re.Pattern[bytes]) -> re.Pattern[bytes] | None:
    """`regex` as "start somewhere on this line, then match", for `match` at a line start.

    A multi-line rule may run on for kilobytes after its keyword, but its match starts on the
    keyword's line: searching the whole extent would try every start position in it. The
    original becomes group 1, so the rule's groups shift by one. None when that shift would
    break the regex (numbered backreferences, conditionals) or verbose mode could swallow
    the closing parenthesis; such a rule is searched over its whole extent instead.
    """
    source = regex.pattern
    if not isinstance(source, bytes) or regex.flags & re.VERBOSE:
        return None
    if _NUMBERED_GROUP_REFERENCE.search(source):
        return None
    flags = _LEADING_FLAGS.match(source)
    head = flags.group(0) if flags else b""
    prefix = b"[^\\n]{0,%d}?(" % ANCHORED_PREFIX
    try:
        return re.compile(head + prefix + source[len(head) :] + b")", regex.flags)
    except (re.error, OverflowError, RecursionError):
        return None


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One rule of the rule file schema (see kubeward.secrets), compiled."""

    id: str
    title: str
    severity: Severity
    keywords: tuple[str, ...]
    regex: re.Pattern[bytes]
    secret_group: int = 0
    entropy: float | None = None
    allow: tuple[re.Pattern[bytes], ...] = ()
    paths: tuple[str, ...] = ()
    multiline: bool = field(init=False, compare=False)
    _paths: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _anchored: re.Pattern[bytes] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        multiline = _can_span_lines(self.regex)
        object.__setattr__(self, "multiline", multiline)
        object.__setattr__(self, "_anchored", _line_anchored(self.regex) if multiline else None)
        object.__setattr__(self, "_paths", _path_matcher(self.paths))

    def applies_to(self, path: str) -> bool:
        """Whether the rule runs on `path`: always, unless its `paths` globs say otherwise."""
        return self._paths is None or self._paths.match(_normal_path(path)) is not None


class _RuleParser:
    """Checks one rule entry field by field; every problem is one line naming the rule."""

    def __init__(self, entry: Mapping[object, object], where: str, number: int) -> None:
        self.entry = entry
        self.where = where
        rule_id = entry.get("id")
        self.name = repr(rule_id) if isinstance(rule_id, str) and rule_id else f"#{number}"

    def fail(self, problem: str) -> SecretRuleError:
        return SecretRuleError(f"{self.where}: secret rule {self.name}: {problem}")

    def text(self, key: str) -> str:
        value = self.entry[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key!r} must be a non-empty string")
        if _CONTROL.search(value):
            raise self.fail(f"{key!r} must not hold control characters")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{key!r} must be a list of non-empty strings")
        return value

    def regex(self, key: str, text: str) -> re.Pattern[bytes]:
        try:
            return re.compile(text.encode("utf-8"))
        except (re.error, OverflowError, RecursionError) as exc:
            raise self.fail(f"bad regex in {key!r}: {one_line(str(exc))}") from None

    def rule(self) -> SecretRule:
        for key in self.entry:
            if key not in _RULE_KEYS:
                expected = ", ".join(_RULE_KEYS)
                raise self.fail(f"unknown key {key!r} (expected one of: {expected})")
        for key in _REQUIRED_KEYS:
            if key not in self.entry:
                raise self.fail(f"missing key {key!r}")
        rule_id = self.text("id")
        if not _RULE_ID.match(rule_id):
            raise self.fail("'id' must be lower-case kebab-case (letters, digits, '-')")
        title = self.text("title")
        severity_text = self.text("severity")
        if severity_text.strip().upper() not in _SEVERITIES:
            raise self.fail(
                f"unknown severity {severity_text!r} (expected CRITICAL, HIGH, MEDIUM or LOW)"
            )
        severity = Severity.parse(severity_text)
        keywords = self.strings("keywords")
        if not keywords:
            raise self.fail("'keywords' must list at least one keyword")
        for keyword in keywords:
            if not keyword.isascii() or not keyword.isprintable():
                raise self.fail(f"keyword {keyword!r} must be printable ASCII")
            if not MIN_KEYWORD_LENGTH <= len(keyword) <= MAX_KEYWORD_LENGTH:
                raise self.fail(
                    f"keyword {keyword!r} must be {MIN_KEYWORD_LENGTH} to "
                    f"{MAX_KEYWORD_LENGTH} characters long"
                )
        regex = self.regex("regex", self.text("regex"))
        group = self.entry.get("secret_group", 0)
        if not isinstance(group, int) or isinstance(group, bool):
            raise self.fail("'secret_group' must be an integer")
        if not 0 <= group <= regex.groups:
            raise self.fail(
                f"'secret_group' {group} is out of range (the regex has {regex.groups} groups)"
            )
        entropy = self.entry.get("entropy")
        if entropy is not None:
            if not isinstance(entropy, int | float) or isinstance(entropy, bool):
                raise self.fail("'entropy' must be a number")
            if not 0 <= entropy <= 8:
                raise self.fail(f"'entropy' {entropy} is out of range (0 to 8 bits per byte)")
        allow = tuple(self.regex("allow", text) for text in self.strings("allow"))
        paths = tuple(self.strings("paths"))
        for glob in paths:
            try:
                glob_regex(glob)
            except re.error:
                raise self.fail(f"'paths' has an invalid glob: {glob!r}") from None
        return SecretRule(
            id=rule_id,
            title=title.strip(),
            severity=severity,
            keywords=tuple(dict.fromkeys(k.lower() for k in keywords)),
            regex=regex,
            secret_group=group,
            entropy=None if entropy is None else float(entropy),
            allow=allow,
            paths=paths,
        )


def parse_rule(entry: object, where: str, number: int = 0) -> SecretRule:
    """Check and compile one rule entry; `where` ("file:line") and `number` name it in errors."""
    if not isinstance(entry, Mapping):
        raise SecretRuleError(f"{where}: secret rule #{number}: must be a mapping")
    return _RuleParser(entry, where, number).rule()


def parse_placeholders(values: object, where: str) -> tuple[str, ...]:
    """Check placeholders: case-insensitive substrings, or regexes written "/.../"."""
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise SecretRuleError(f"{where}: 'placeholders' must be a list of non-empty strings")
    out: list[str] = []
    for value in values:
        if _is_regex_placeholder(value):
            try:
                re.compile(value[1:-1].encode("utf-8"), re.IGNORECASE)
            except re.error as exc:
                raise SecretRuleError(
                    f"{where}: bad placeholder regex {value!r}: {one_line(str(exc))}"
                ) from None
            out.append(value)
        else:
            out.append(value.lower())
    return tuple(out)


def _is_regex_placeholder(value: str) -> bool:
    return len(value) > 2 and value.startswith("/") and value.endswith("/")


@dataclass(frozen=True, slots=True)
class RuleFile:
    """A parsed rule file: its rules in file order and its placeholders."""

    rules: tuple[SecretRule, ...]
    placeholders: tuple[str, ...]


def parse_rule_file(text: str, source: str) -> RuleFile:
    """Parse rule file `text`; `source` names it in messages."""
    root, construct = compose_yaml(text, source, SecretRuleError, MAX_YAML_DEPTH)
    if not isinstance(root, yaml.MappingNode):
        raise SecretRuleError(
            f"{yaml_where(source, getattr(root, 'start_mark', None))}: "
            "expected a mapping with a 'rules' list at the top level"
        )
    rules: list[SecretRule] = []
    placeholders: tuple[str, ...] = ()
    seen: dict[str, str] = {}
    for key_node, value_node in root.value:
        key = key_node.value
        if key == "rules":
            if not isinstance(value_node, yaml.SequenceNode):
                raise SecretRuleError(
                    f"{yaml_where(source, value_node.start_mark)}: 'rules' must be a list"
                )
            for number, node in enumerate(value_node.value, 1):
                where = yaml_where(source, node.start_mark)
                rule = parse_rule(construct(node), where, number)
                if rule.id in seen:
                    raise SecretRuleError(
                        f"{where}: secret rule {rule.id!r}: duplicate id (first at {seen[rule.id]})"
                    )
                seen[rule.id] = where
                rules.append(rule)
        elif key == "placeholders":
            placeholders = parse_placeholders(
                construct(value_node), yaml_where(source, value_node.start_mark)
            )
        else:
            raise SecretRuleError(
                f"{yaml_where(source, key_node.start_mark)}: unknown key {key!r} at the top level "
                "(expected 'rules' or 'placeholders')"
            )
    return RuleFile(rules=tuple(rules), placeholders=placeholders)


@lru_cache(maxsize=1)
def _packaged_rule_file() -> RuleFile:
    resource = importlib.resources.files("kubeward").joinpath("data/secrets/rules.yaml")
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError:
        raise SecretRuleError(
            f"{PACKAGED_RULES}: packaged secret rules are missing; reinstall kubeward"
        ) from None
    return parse_rule_file(text, PACKAGED_RULES)


def read_rule_file(path: Path | None = None) -> RuleFile:
    """The rule file at `path`, or the packaged one (parsed once per process) when None."""
    if path is None:
        return _packaged_rule_file()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SecretRuleError(f"{path}: cannot read secret rules: {reason}") from None
    return parse_rule_file(text, str(path))


def load_rules(
    path: Path | None = None,
    extra: Sequence[Mapping[str, object]] = (),
    disabled: Iterable[str] = (),
) -> list[SecretRule]:
    """The rules of the rule file (packaged when `path` is None) minus `disabled`, then `extra`.

    `disabled` names rules of the file; naming one that does not exist is an error, since a
    typo would otherwise silently keep a rule on. A custom rule may reuse the id of a rule it
    disables, which is how a packaged rule is replaced; any other repeated id is an error.
    """
    base = read_rule_file(path).rules
    off = set(disabled)
    known = {rule.id for rule in base}
    for rule_id in sorted(off - known):
        raise SecretRuleError(f"disable: unknown secret rule id {rule_id!r}")
    rules = [rule for rule in base if rule.id not in off]
    ids = {rule.id for rule in rules}
    for number, entry in enumerate(extra, 1):
        rule = parse_rule(entry, "custom rules", number)
        if rule.id in ids:
            origin = "a custom rule" if rule.id not in known or rule.id in off else "the rules file"
            raise SecretRuleError(
                f"custom rules: secret rule {rule.id!r}: duplicate id (already defined by "
                f"{origin}; disable it to replace it)"
            )
        ids.add(rule.id)
        rules.append(rule)
    return rules


def load_placeholders(path: Path | None = None) -> tuple[str, ...]:
    """The placeholders of the rule file (packaged when `path` is None)."""
    return read_rule_file(path).placeholders


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """One secret found in one file. `secret` is raw and has no repr: print `redacted`."""

    rule: SecretRule
    line: int  # 1-based
    column: int  # 1-based, in characters of the line decoded as UTF-8 with replacement
    end_line: int
    secret: bytes = field(repr=False)
    redacted: str
    offset: int  # byte offset of the secret in the file

    def to_finding(self, path: str, layer: str | None = None) -> Finding:
        """The Finding for reports, carrying the redacted secret only."""
        return Finding(
            kind="secret",
            rule_id=self.rule.id,
            title=self.rule.title,
            severity=self.rule.severity,
            location=Location(path=path, line=self.line, end_line=self.end_line, layer=layer),
            message=f"{self.rule.title}: {self.redacted}",
            remediation=(
                "Remove the secret from the file and the image history, revoke and rotate it, "
                "and supply it at run time from a secret store."
            ),
            evidence=(("column", str(self.column)), ("secret", self.redacted)),
        )


class _KeywordMatcher(Protocol):
    def hits(self, data: bytes) -> list[tuple[int, int]]:
        """(end offset, keyword index) of every case-insensitive keyword occurrence."""


class _HyperscanMatcher:
    """All keywords in one hyperscan block-mode database; a scratch space per thread."""

    def __init__(self, keywords: Sequence[bytes]) -> None:
        import hyperscan

        self._hs = hyperscan
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=list(keywords),
            ids=list(range(len(keywords))),
            flags=hyperscan.HS_FLAG_CASELESS,
            literal=True,
        )
        self._local = threading.local()

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._db.scratch.clone()
            self._local.scratch = scratch
        out: list[tuple[int, int]] = []
        append = out.append

        def on_match(index: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            append((end, index))

        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        return out


class _AhoCorasickMatcher:
    """pyahocorasick over the lower-cased bytes, read as latin-1 so offsets stay byte offsets."""

    def __init__(self, keywords: Sequence[bytes]) -> None:
        module = importlib.import_module("ahocorasick")
        self._automaton = module.Automaton()
        for index, keyword in enumerate(keywords):
            self._automaton.add_word(keyword.decode("latin-1"), index)
        self._automaton.make_automaton()

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        text = data.lower().decode("latin-1")
        return [(last + 1, index) for last, index in self._automaton.iter(text)]


def _keyword_matcher(keywords: Sequence[bytes]) -> _KeywordMatcher:
    try:
        return _HyperscanMatcher(keywords)
    except Exception as exc:  # not installed, or a CPU without the SIMD hyperscan needs
        log.debug("hyperscan unavailable (%s): keyword pass with pyahocorasick", exc)
    try:
        return _AhoCorasickMatcher(keywords)
    except ImportError:
        raise KubewardError(
            "secret scanning needs hyperscan or pyahocorasick: pip install pyahocorasick"
        ) from None


# How a rule's regex is run over its windows.
_SINGLE_LINE = 0  # search the keyword lines
_ANCHORED = 1  # match the line-anchored form at each keyword line, running on past it
_SEARCH_EXTENT = 2  # search from each keyword line to MULTILINE_CONTEXT after the keyword


class SecretScanner:
    """Scans file contents with a fixed set of rules; build once, call `scan` per file.

    `placeholders` (see parse_placeholders) and `allow` (regexes applied to every rule's
    secrets) drop example values; `allow_paths` are globs of files not scanned at all.
    Thread-safe: `scan` keeps no state between calls.
    """

    def __init__(
        self,
        rules: Sequence[SecretRule],
        placeholders: Sequence[str] = (),
        allow_paths: Sequence[str] = (),
        max_bytes: int = MAX_FILE_BYTES,
        allow: Sequence[re.Pattern[bytes]] = (),
    ) -> None:
        self.rules = tuple(rules)
        self.max_bytes = max_bytes
        self._allow = tuple(allow)
        self._allow_paths = _path_matcher(allow_paths)
        self._placeholder_text = tuple(
            p.encode("utf-8") for p in placeholders if not _is_regex_placeholder(p)
        )
        self._placeholder_regex = tuple(
            re.compile(p[1:-1].encode("utf-8"), re.IGNORECASE)
            for p in placeholders
            if _is_regex_placeholder(p)
        )
        index: dict[bytes, int] = {}
        self._keyword_rules: list[list[int]] = []
        for number, rule in enumerate(self.rules):
            for keyword in rule.keywords:
                encoded = keyword.lower().encode("ascii")
                if encoded not in index:
                    index[encoded] = len(index)
                    self._keyword_rules.append([])
                self._keyword_rules[index[encoded]].append(number)
        self._keyword_lengths = [len(k) for k in index]
        self._path_limited = [i for i, rule in enumerate(self.rules) if rule.paths]
        self._mode = [
            _SINGLE_LINE
            if not rule.multiline
            else _ANCHORED
            if rule._anchored is not None
            else _SEARCH_EXTENT
            for rule in self.rules
        ]
        self._matcher: _KeywordMatcher | None = _keyword_matcher(list(index)) if index else None

    def skip_reason(self, data: bytes, path: str) -> str | None:
        """Why `scan` would find nothing without looking (for the caller's warnings), or None."""
        if len(data) > self.max_bytes:
            return f"larger than {self.max_bytes} bytes"
        if self._allow_paths is not None and self._allow_paths.match(_normal_path(path)):
            return "path is allowlisted"
        if is_binary(data):
            return "binary content"
        return None

    def scan(self, data: bytes, path: str) -> list[SecretMatch]:
        """Every secret in `data` (the contents of `path`), in file order.

        Returns [] for files over `max_bytes`, binary files and allowlisted paths; the caller
        warns about the first (see `skip_reason`).
        """
        if not data or self._matcher is None or self.skip_reason(data, path) is not None:
            return []
        hits = self._matcher.hits(data)
        if not hits:
            return []
        skip = {i for i in self._path_limited if not self.rules[i].applies_to(path)}
        windows = self._windows(data, hits, skip)
        found = self._candidates(data, windows)
        matches = self._locate(data, found)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "secret scan %s: %d keyword hits, %d rules run, %d secrets",
                path,
                len(hits),
                len(windows),
                len(matches),
            )
            for match in matches:
                log.debug(
                    "%s:%d:%d %s %s", path, match.line, match.column, match.rule.id, match.redacted
                )
        return matches

    def _windows(
        self, data: bytes, hits: list[tuple[int, int]], skip: set[int]
    ) -> dict[int, list[list[int]]]:
        """Per rule, the byte ranges where its matches may start: the lines of its hits.

        A line is capped at LINE_CONTEXT bytes either side of the keyword. For single-line
        rules, ranges closer than MERGE_GAP are joined: a few extra lines cost the regex less
        than another search call costs Python, and keyword-dense files stay fast. Multi-line
        rules keep one range per keyword line (see _line_anchored).
        """
        size = len(data)
        mode = self._mode
        keyword_rules = self._keyword_rules
        keyword_lengths = self._keyword_lengths
        spans: dict[int, list[list[int]]] = {}
        covered = [-1] * len(self.rules)  # end of each rule's last range
        for number in skip:
            covered[number] = size  # a rule that does not apply to this path never runs
        hits.sort()
        for end, keyword in hits:
            line_lo = line_hi = -1
            start = end - keyword_lengths[keyword]
            for number in keyword_rules[keyword]:
                if end <= covered[number]:
                    continue
                if line_hi < 0:
                    line_hi = data.find(b"\n", end, end + LINE_CONTEXT)
                    if line_hi < 0:
                        line_hi = min(size, end + LINE_CONTEXT)
                hi = line_hi
                if mode[number] == _SEARCH_EXTENT:
                    hi = min(size, end + MULTILINE_CONTEXT)
                if mode[number] != _ANCHORED and number in spans:
                    last = spans[number][-1]
                    if start - last[1] <= MERGE_GAP:
                        last[1] = covered[number] = max(last[1], hi)
                        continue
                if line_lo < 0:
                    floor = max(0, start - LINE_CONTEXT)
                    line_lo = data.rfind(b"\n", floor, start) + 1 or floor
                spans.setdefault(number, []).append([line_lo, hi])
                covered[number] = hi
        return spans

    def _candidates(
        self, data: bytes, windows: dict[int, list[list[int]]]
    ) -> list[tuple[int, int, bytes]]:
        """(offset, rule number, secret) for every regex match that passes the gates."""
        found: list[tuple[int, int, bytes]] = []
        seen: set[tuple[int, int]] = set()
        size = len(data)
        for number, ranges in windows.items():
            rule = self.rules[number]
            anchored = rule._anchored if self._mode[number] == _ANCHORED else None
            if anchored is not None:
                # Group 1 is the rule's whole regex; the rule's groups come after it.
                group = rule.secret_group + 1
                for lo, line_hi in ranges:
                    extent = min(size, line_hi + MULTILINE_CONTEXT)
                    m = anchored.match(data, lo, extent)
                    while m is not None:
                        self._keep(
                            rule, number, m.group(group), m.start(group), seen=seen, found=found
                        )
                        pos = m.end(1) if m.end(1) > m.start(1) else m.end(1) + 1
                        m = anchored.match(data, pos, extent) if pos < line_hi else None
                continue
            group = rule.secret_group
            search = rule.regex.search  # cheaper than finditer when most windows hold nothing
            for lo, hi in ranges:
                m = search(data, lo, hi)
                while m is not None:
                    self._keep(rule, number, m.group(group), m.start(group), seen=seen, found=found)
                    after = m.end()
                    m = search(data, after if after > m.start() else after + 1, hi)
        return found

    def _keep(
        self,
        rule: SecretRule,
        number: int,
        secret: bytes | None,
        offset: int,
        *,
        seen: set[tuple[int, int]],
        found: list[tuple[int, int, bytes]],
    ) -> None:
        if secret and (number, offset) not in seen:
            seen.add((number, offset))
            if self._accepted(rule, secret):
                found.append((offset, number, secret))

    def _accepted(self, rule: SecretRule, secret: bytes) -> bool:
        """Entropy, placeholders (for entropy-gated rules) and allow regexes."""
        if rule.entropy is not None:
            if shannon_entropy(secret) < rule.entropy:
                return False
            lowered = secret.lower()
            if any(text in lowered for text in self._placeholder_text):
                return False
            if any(regex.search(secret) for regex in self._placeholder_regex):
                return False
        if any(regex.search(secret) for regex in rule.allow):
            return False
        return not any(regex.search(secret) for regex in self._allow)

    def _locate(self, data: bytes, found: list[tuple[int, int, bytes]]) -> list[SecretMatch]:
        """Line and column of each secret, walking the file once in offset order."""
        found.sort(key=lambda item: (item[0], item[1]))
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        matches: list[SecretMatch] = []
        line, pos, column_pos, chars = 1, 0, 0, 0
        for offset, number, secret in found:
            newlines = data.count(b"\n", pos, offset)
            if newlines:
                line += newlines
                column_pos = data.rfind(b"\n", pos, offset) + 1
                chars = 0
                decoder.reset()
            chars += len(decoder.decode(data[column_pos:offset]))
            column_pos = pos = offset
            matches.append(
                SecretMatch(
                    rule=self.rules[number],
                    line=line,
                    column=chars + 1,
                    end_line=line + secret.count(b"\n"),
                    secret=secret,
                    redacted=redact(secret),
                    offset=offset,
                )
            )
        return matches


def default_scanner() -> SecretScanner:
    """A scanner with the packaged rules and placeholders and no allowlists."""
    return SecretScanner(load_rules(), load_placeholders())
