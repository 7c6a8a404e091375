"""`kubeward config --fix`: write the edits that checks propose (`Violation.fixes`) back
into the manifest files they were found in, or show them as a diff (`--dry-run`).

Only manifests read from disk are edited. Helm output, kustomize output, stdin and cluster
objects are refused: the text that produced them is elsewhere (a template, a base, a
patch), and editing the rendered copy would fix nothing.

A file is cut at the same `---` / `...` markers as load.py cuts it, and an object's piece
is the one holding its first line (`K8sObject.document` counts only the pieces with
content, and ruamel's own `load_all` numbers them differently again around empty
documents, `...` and a leading `---`). Only a document with edits goes through
ruamel.yaml's round trip (a JSON document through `json`, so it stays JSON); the other
documents are kept byte for byte. ruamel writes a document in one indentation style
(detected from the document), so every line the edits did not touch is taken back from the
original text, and new lines are shifted to the indentation of their siblings there. Each
edited document, and then the whole file, is re-read with kubeward's own loader and must
decode to exactly the expected objects, or it is left alone. Writes are atomic (temporary
file in the same directory, then rename, mode kept); symlinks are never followed.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import io
import json
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from kubeward.misconfig.engine import FieldFix, Violation
from kubeward.misconfig.kubernetes.load import _MARKER, Loaded, decode_document, load_text
from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.model import Finding

MAX_FILE_BYTES = 32 * 1024 * 1024  # as the scanner's cap: a file it read can be fixed
OPS = ("set", "add", "delete")
_DUPLICATE = re.compile(r'found duplicate key ("[^"]*")')


@dataclass(frozen=True, slots=True)
class SkippedFix:
    """A fix that was not applied, and why (one line)."""

    path: str
    line: int | None
    rule_id: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.rule_id}: {self.reason}"


@dataclass
class FixOutcome:
    """What `apply_fixes` did (or, with dry_run, would do): files changed (report paths),
    edits applied per check id, skipped fixes, and the unified diff per file (dry_run)."""

    changed: list[str] = field(default_factory=list)
    applied: dict[str, int] = field(default_factory=dict)
    skipped: list[SkippedFix] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)


class _Refused(Exception):
    """One fix, document or file that cannot be edited; the message is the reason."""


@dataclass
class _Target:
    """The edits for one object: (check id, line of the finding, fix)."""

    obj: K8sObject
    edits: list[tuple[str, int | None, FieldFix]] = field(default_factory=list)


def apply_fixes(
    violations: Sequence[tuple[Finding, Violation, K8sObject]],
    dry_run: bool,
    files: Iterable[tuple[Path, str]],
) -> FixOutcome:
    """Apply the fixes of `violations` (ManifestScan.violations) to the files they came from.

    `files` are the (file, report path) pairs that were scanned: only those files are ever
    written. With `dry_run` nothing is written and `diffs` holds what would change."""
    scanned = {rel: path for path, rel in files}
    outcome = FixOutcome()
    by_file: dict[str, dict[int, _Target]] = {}
    for finding, violation, obj in violations:
        if not violation.fixes:
            continue
        reason = _unfixable(obj, scanned)
        if reason:
            outcome.skipped.append(
                SkippedFix(obj.report_path, finding.location.line, finding.rule_id, reason)
            )
            continue
        target = by_file.setdefault(obj.path, {}).setdefault(id(obj), _Target(obj))
        for fix in violation.fixes:
            target.edits.append((finding.rule_id, finding.location.line, fix))
    for rel in sorted(by_file):
        targets = list(by_file[rel].values())
        try:
            _fix_file(rel, scanned[rel], targets, dry_run, outcome)
        except _Refused as exc:
            for target in targets:
                outcome.skipped.extend(_skips(rel, target, str(exc)))
    return outcome


def _unfixable(obj: K8sObject, scanned: dict[str, Path]) -> str:
    """Why the object's file cannot be edited here ("" when it can)."""
    if obj.origin == "helm" or obj.template:
        source = f" from {obj.template}" if obj.template else ""
        return f"not fixable here: rendered by Helm{source}; fix the chart's template or values"
    if obj.origin == "kustomize":
        return "not fixable here: kustomize output; fix the base or add a patch"
    if obj.origin == "stdin":
        return "not fixable here: read from stdin"
    if obj.origin == "cluster":
        return "not fixable here: live cluster object; fix the manifest it was applied from"
    if obj.origin != "file":
        return f"not fixable here: {obj.origin} object"
    if obj.path not in scanned:
        return "not fixable here: not one of the scanned files"
    return ""


# -- files


def _fix_file(
    rel: str, path: Path, targets: list[_Target], dry_run: bool, outcome: FixOutcome
) -> None:
    """Edit one file; refused as a whole (nothing recorded in `outcome`) when it cannot be
    read or the result would not load back as intended."""
    data, info = _read(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("not fixed: not valid UTF-8 text") from None
    body = text.lstrip("\ufeff")  # load.py reads the text after any byte order marks
    bom = text[: len(text) - len(body)]
    crlf = body.count("\r\n")
    if body.count("\r") != crlf or (crlf and body.count("\n") != crlf):
        raise _Refused("not fixed: mixed or CR-only line endings")
    if "\ufeff" in body:
        raise _Refused("not fixed: byte order marks inside the file")
    body = body.replace("\r\n", "\n") if crlf else body  # as load.py reads it
    before = load_text(body, rel)
    expected = [copy.deepcopy(obj.data) for obj in before.objects]
    spans = _spans(body)
    by_document: dict[int, list[tuple[_Target, int]]] = {}
    for target in targets:
        index = _locate(target.obj, before)
        by_document.setdefault(_document_of(spans, target.obj.line), []).append((target, index))

    documents = [_document_of(spans, obj.line) for obj in before.objects]
    applied: Counter[str] = Counter()
    skipped: list[SkippedFix] = []
    pieces: dict[int, str] = {}
    for document, located in sorted(by_document.items()):
        start, end, first_line = spans[document]
        try:
            candidates, counts, skips = _edit_document(
                body[start:end], first_line, located, after_marker=document > 0
            )
            if candidates:
                for target, index in located:  # the same edits on plain data
                    for _, _, fix in target.edits:
                        with contextlib.suppress(_Refused):
                            _apply(expected[index], fix, _PLAIN)
                wanted = [
                    data for data, d in zip(expected, documents, strict=True) if d == document
                ]
                pieces[document] = _first_faithful(candidates, rel, wanted)
        except _Refused as exc:  # this document stays as it is; the others are still fixed
            for target, index in located:
                expected[index] = copy.deepcopy(before.objects[index].data)
                skipped.extend(_skips(rel, target, str(exc)))
            continue
        skipped.extend(SkippedFix(rel, line, rule_id, why) for rule_id, line, why in skips)
        applied.update(counts)
    if pieces:
        new_body = _join(body, spans, pieces)
        _verify(before, load_text(new_body, rel), expected)
        new_text = bom + (new_body.replace("\n", "\r\n") if crlf else new_body)
        if dry_run:
            outcome.diffs[rel] = _diff(rel, text, new_text)
        else:
            _write(path, new_text.encode("utf-8"), info)
        outcome.changed.append(rel)
        for rule_id, count in sorted(applied.items()):
            outcome.applied[rule_id] = outcome.applied.get(rule_id, 0) + count
    outcome.skipped.extend(skipped)


def _first_faithful(candidates: list[str], rel: str, wanted: list[dict[str, Any]]) -> str:
    """The first candidate text of a document that loads, as kubeward reads manifests, to
    exactly the `wanted` objects."""
    for candidate in candidates:
        loaded = load_text(candidate, rel)
        if not loaded.problems and [obj.data for obj in loaded.objects] == wanted:
            return candidate
    raise _Refused("not fixed: the edited YAML would not load as intended; fix by hand")


def _skips(rel: str, target: _Target, reason: str) -> Iterator[SkippedFix]:
    """One skip per finding of `target` (a finding may carry several fixes)."""
    seen: set[tuple[str, int | None]] = set()
    for rule_id, line, _ in target.edits:
        if (rule_id, line) not in seen:
            seen.add((rule_id, line))
            yield SkippedFix(rel, line, rule_id, reason)


def _read(path: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file, never through a symlink."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise _Refused("not fixable here: a symlink (never followed)")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise _Refused(f"not fixed: cannot read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Refused("not fixed: not a regular file")
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _Refused(f"not fixed: larger than {MAX_FILE_BYTES // 1048576} MiB")
    return data, info


def _write(path: Path, data: bytes, info: os.stat_result) -> None:
    """Replace `path` atomically with `data`, keeping its mode; refused if the file was
    replaced (by a symlink or another file) since it was read."""
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".kwfix")
    except OSError as exc:
        raise _Refused(f"not fixed: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), stat.S_IMODE(info.st_mode))
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        now = os.lstat(path)
        if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
            info.st_dev,
            info.st_ino,
            info.st_size,
            info.st_mtime_ns,
        ):
            raise _Refused("not fixed: the file changed while it was being fixed")
        os.replace(temp, path)
    except OSError as exc:
        os.unlink(temp)
        raise _Refused(f"not fixed: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        os.unlink(temp)
        raise


def _diff(rel: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


# -- documents


def _spans(text: str) -> list[tuple[int, int, int]]:
    """(start, end, 0-based first line) of each piece of the stream, cut at the document
    markers exactly as load.py cuts it (the marker itself belongs to no piece)."""
    spans: list[tuple[int, int, int]] = []
    start = line = 0
    for match in _MARKER.finditer(text):
        spans.append((start, match.start(), line))
        line += text.count("\n", start, match.start())
        start = match.end()
    spans.append((start, len(text), line))
    return spans


def _document_of(spans: list[tuple[int, int, int]], line: int) -> int:
    """The piece that holds 1-based file `line` (an object's first line). Found by line
    rather than by `K8sObject.document`, which counts only the pieces with content."""
    found = 0
    for index, (_, _, first_line) in enumerate(spans):
        if first_line <= line - 1:
            found = index
    return found


def _join(text: str, spans: list[tuple[int, int, int]], pieces: dict[int, str]) -> str:
    out: list[str] = []
    position = 0
    for index, (start, end, _) in enumerate(spans):
        if index in pieces:
            out.append(text[position:start])
            out.append(pieces[index])
            position = end
    out.append(text[position:])
    return "".join(out)


def _locate(obj: K8sObject, loaded: Loaded) -> int:
    """The index of `obj` among the objects of the file as it is now; refused when the file
    no longer holds it as it was scanned."""
    for index, candidate in enumerate(loaded.objects):
        if candidate.document == obj.document and candidate.line == obj.line:
            if candidate.data == obj.data:
                return index
            break
    raise _Refused("not fixed: the file changed since it was scanned")


def _verify(before: Loaded, after: Loaded, expected: list[dict[str, Any]]) -> None:
    """The whole edited text must load with no new problem and decode to the expected
    objects (each document was checked alone already: this guards the splicing)."""
    if len(after.problems) > len(before.problems) or len(after.objects) != len(expected):
        raise _Refused("not fixed: the edited YAML would not load as intended; fix by hand")
    for obj, data in zip(after.objects, expected, strict=True):
        if obj.data != data:
            raise _Refused("not fixed: the edited YAML would not load as intended; fix by hand")


def _edit_document(
    chunk: str, first_line: int, located: list[tuple[_Target, int]], after_marker: bool
) -> tuple[list[str], Counter[str], list[tuple[str, int | None, str]]]:
    """The document with the targets' edits applied, best candidate first (none when
    nothing changes): the original's lines kept where possible, then ruamel's plain dump.
    Also the number of edits that changed something per check id, and the fixes that could
    not apply. A comment on the `---` line (`--- # comment`) is kept as it is."""
    head = ""
    on_marker = False  # `--- {kind: Namespace, ...}`: the document starts on the marker line
    if after_marker:
        head = chunk[: chunk.find("\n") + 1]
        if head.strip() and not head.strip().startswith("#"):
            head, on_marker = "", True
        elif head:
            first_line += 1
    source = chunk[len(head) :]
    final_newline = source.endswith("\n")
    if not final_newline:
        source += "\n"
    if source.lstrip().startswith("{"):
        dumped = _edit_json(source, first_line, located)
    else:
        dumped = _edit_yaml(source, first_line, located)
    unchanged, edited, counts, skips = dumped
    if not counts:
        return [], counts, skips
    candidates = [_Merger(source, unchanged, edited).text(), edited]
    if not final_newline:
        candidates = [text[:-1] if text.endswith("\n") else text for text in candidates]
    if on_marker:  # keep the marker and the document apart
        candidates = [text if text[:1] in (" ", "\t") else " " + text for text in candidates]
    return [head + text for text in candidates], counts, skips


_Edited = tuple[str, str, Counter[str], list[tuple[str, int | None, str]]]


def _apply_all(
    located: list[tuple[_Target, int]], node_of: Callable[[K8sObject], Any], build: _Builder
) -> tuple[Counter[str], list[tuple[str, int | None, str]]]:
    counts: Counter[str] = Counter()
    skips: list[tuple[str, int | None, str]] = []
    for target, _ in located:
        node = node_of(target.obj)
        for rule_id, line, fix in target.edits:
            try:
                if _apply(node, fix, build):
                    counts[rule_id] += 1
            except _Refused as exc:
                skips.append((rule_id, line, f"not fixed: {exc}"))
    return counts, skips


def _edit_yaml(source: str, first_line: int, located: list[tuple[_Target, int]]) -> _Edited:
    """ruamel's dump of the document before and after the edits, in the document's own
    indentation style."""
    rt = _round_trip_yaml()
    try:
        root = rt.load(source)
    except Exception as exc:  # ruamel raises many types; a file it cannot read is skipped
        raise _Refused(f"not fixed: ruamel.yaml cannot round-trip it: {_one_line(exc)}") from None
    if not _is_mapping(root):
        raise _Refused("not fixed: the document is not a mapping")
    mapping, sequence, offset = _indentation(root)
    rt.indent(mapping=mapping, sequence=sequence, offset=offset)
    unchanged = _dump(rt, root)
    counts, skips = _apply_all(
        located, lambda obj: _object_node(root, obj, first_line), _ROUND_TRIP
    )
    return unchanged, _dump(rt, root) if counts else unchanged, counts, skips


def _edit_json(source: str, first_line: int, located: list[tuple[_Target, int]]) -> _Edited:
    """The same for a JSON document, written back as JSON with its own indentation (ruamel
    would turn it into YAML flow style)."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            raise _Refused("not fixed: duplicate key in JSON")
        return out

    try:
        root = json.loads(source, object_pairs_hook=unique)
    except ValueError:
        return _edit_yaml(source, first_line, located)  # YAML flow style, not strict JSON
    except RecursionError:
        raise _Refused("not fixed: nested too deeply") from None
    if not isinstance(root, dict):
        raise _Refused("not fixed: the document is not a mapping")
    indent = _json_indent(source)
    ascii_only = source.isascii()

    def dump(value: Any) -> str:
        return json.dumps(value, indent=indent, ensure_ascii=ascii_only) + "\n"

    unchanged = dump(root)
    counts, skips = _apply_all(located, lambda obj: _json_object(root, obj), _PLAIN)
    return unchanged, dump(root), counts, skips


def _json_indent(source: str) -> int | str | None:
    """The indentation unit of a JSON text: that of its first indented line (None when it
    is all on one line)."""
    for line in source.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            unit = line[: len(line) - len(stripped)]
            return unit if "\t" in unit else len(unit)
    return None


def _json_object(root: dict[str, Any], obj: K8sObject) -> Any:
    kind = root.get("kind")
    items = root.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for item in items:
            if item == obj.data:
                return item
        raise _Refused("not fixed: the List item was not found")
    return root


def _round_trip_yaml() -> Any:
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 1 << 16  # never re-wrap long lines
    return rt


def _dump(rt: Any, root: Any) -> str:
    out = io.StringIO()
    try:
        rt.dump(root, out)
    except Exception as exc:  # as for load: skipped with the reason, never a traceback
        raise _Refused(f"not fixed: ruamel.yaml cannot round-trip it: {_one_line(exc)}") from None
    return out.getvalue()


def _one_line(exc: BaseException) -> str:
    problem = getattr(exc, "problem", None)  # ruamel's MarkedYAMLError: the gist, no dump
    text = " ".join(str(problem or exc).split()) or type(exc).__name__
    duplicate = _DUPLICATE.match(text)
    if duplicate:  # ruamel goes on with both values in full
        text = f"duplicate key {duplicate.group(1)}"
    return text if len(text) <= 160 else text[:159] + "…"


def _is_mapping(node: Any) -> bool:
    from ruamel.yaml.comments import CommentedMap

    return isinstance(node, CommentedMap)


def _shared(node: Any) -> bool:
    """Whether a round-trip node is anchored (the same object wherever an alias names it)
    or takes keys from a merge key: an edit to it would change other places too."""
    anchor = getattr(node, "anchor", None)
    return bool(anchor is not None and anchor.value) or bool(getattr(node, "merge", None))


def _holds_shared(node: Any) -> bool:
    """Whether ``node`` or anything below it is shared (see ``_shared``): replacing or
    deleting it would take an anchor away from the aliases that name it."""
    stack = [node]
    while stack:
        item = stack.pop()
        if _shared(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _refuse_shared(path: tuple[Any, ...], depth: int) -> NoReturn:
    where = _dotted(path[:depth]) if depth else "the object"
    raise _Refused(f"{where} is shared through a YAML anchor or merge key")


def _object_node(root: Any, obj: K8sObject, first_line: int) -> Any:
    """The node of `obj` in its document: the document, or its item of a `kind: *List`
    (found by line, as load.py numbers it)."""
    from ruamel.yaml.comments import CommentedSeq

    kind = root.get("kind")
    items = root.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, CommentedSeq):
        for index, item in enumerate(items):
            if _is_mapping(item) and first_line + items.lc.item(index)[0] + 1 == obj.line:
                return item
        raise _Refused("not fixed: the List item was not found")
    return root


def _indentation(root: Any) -> tuple[int, int, int]:
    """The document's most common block indentation as ruamel's (mapping, sequence,
    offset): the indent of nested mappings, of sequence items and of their dashes."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    mappings: Counter[int] = Counter()
    sequences: Counter[tuple[int, int]] = Counter()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, CommentedSeq):
            stack.extend(node)
            continue
        if not isinstance(node, CommentedMap):
            continue
        for key, value in node.items():
            stack.append(value)
            if not isinstance(value, CommentedMap | CommentedSeq) or not value:
                continue
            if value.fa.flow_style():
                continue
            key_line, key_column = node.lc.key(key)
            if isinstance(value, CommentedMap):
                if value.lc.line > key_line and value.lc.col > key_column:
                    mappings[value.lc.col - key_column] += 1
                continue
            item_line, item_column = value.lc.item(0)
            dash = value.lc.col
            if value.lc.line > key_line and item_column - dash >= 2 and item_line == value.lc.line:
                sequences[(item_column - key_column, dash - key_column)] += 1
    mapping = mappings.most_common(1)[0][0] if mappings else 2
    sequence, offset = sequences.most_common(1)[0][0] if sequences else (2, 0)
    return mapping, sequence, offset


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _column(line: str) -> int:
    """Where a line's key or value starts, past list dashes: `  - name: a` -> 4. A list
    item's line sits one level deeper than a key written at its dash's column."""
    text = line.rstrip("\n")
    column = _indent(text)
    while text[column : column + 2] == "- " or text[column:] == "-":
        column += 1
        column += _indent(text[column:])
    return column


def _structural(line: str) -> bool:
    """A line that holds content (not blank, not only a comment)."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _shift(line: str, delta: int) -> str:
    if delta > 0:
        return " " * delta + line
    if delta < 0 and line[:-delta].strip(" ") == "":
        return line[-delta:]
    return line


class _Merger:
    """Builds the edited document from three versions: the original text, ruamel's dump of
    it unedited (`base`) and ruamel's dump after the edits (`new`).

    Lines the edits left alone come from the original, so odd spacing and local indentation
    survive ruamel's one-style layout. Changed and new lines come from `new`, shifted to the
    indentation their siblings (or parent) have in the original. Where ruamel wrote a
    piece in another shape (a JSON `{"name": "p"}` over three lines), the original piece is
    kept when the edits did not touch it. New content is placed before the comment lines
    that end the block it goes into (ruamel hangs them on the last key, they usually
    introduce what follows)."""

    def __init__(self, original: str, base: str, new: str) -> None:
        self.old = original.splitlines(keepends=True)
        self.base = base.splitlines(keepends=True)
        self.new = new.splitlines(keepends=True)
        self.to_old: dict[int, int] = {}
        self.dropped: dict[int, list[str]] = {}  # original lines ruamel lost, by base line
        # ruamel mostly changes indentation and spacing: lines are paired on their words,
        # so that a re-indented list cannot be paired with a look-alike line elsewhere
        matcher = difflib.SequenceMatcher(
            None, [" ".join(x.split()) for x in self.base], [" ".join(x.split()) for x in self.old],
            autojunk=False,
        )  # fmt: skip
        self.reshaped: list[tuple[int, int, int, int]] = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
                self.to_old.update((i1 + k, j1 + k) for k in range(i2 - i1))
            elif tag == "insert":
                self.dropped.setdefault(i1, []).extend(self.old[j1:j2])
            elif tag == "replace":
                self.reshaped.append((i1, i2, j1, j2))
        self.restore: dict[int, list[str]] = {}  # base line -> the original piece it starts
        self.skip: set[int] = set()  # the other base lines of such a piece
        self.out: list[str] = []
        # per output line: (column in ruamel's layout, shift to the original) or None
        self.layout: list[tuple[int, int] | None] = []
        self.inserted: list[bool] = []

    def text(self) -> str:
        opcodes = difflib.SequenceMatcher(None, self.base, self.new, autojunk=False).get_opcodes()
        kept = {i for tag, i1, i2, _, _ in opcodes if tag == "equal" for i in range(i1, i2)}
        changed_at = {i1 for tag, i1, _, _, _ in opcodes if tag != "equal"}
        for i1, i2, j1, j2 in self.reshaped:
            inside = range(i1, i2)
            if all(i in kept for i in inside) and not changed_at & set(inside[1:]):
                self.restore[i1] = self.old[j1:j2]
                self.skip.update(inside[1:])
        for tag, i1, i2, j1, j2 in opcodes:
            if tag == "equal":
                for i in range(i1, i2):
                    self._keep(i)
                continue
            for i in range(i1, i2):
                self._emit_dropped(i)
            self._insert(i1, i2, j1, j2, paired=tag == "replace" and i2 - i1 == j2 - j1)
        self._emit_dropped(len(self.base))
        return "".join(self.out)

    def _emit(self, line: str, layout: tuple[int, int] | None, inserted: bool) -> None:
        self.out.append(line)
        self.layout.append(layout if _structural(line) else None)
        self.inserted.append(inserted)

    def _emit_dropped(self, i: int) -> None:
        for line in self.dropped.pop(i, ()):
            self._emit(line, None, False)

    def _keep(self, i: int) -> None:
        self._emit_dropped(i)
        line = self.base[i]
        j = self.to_old.get(i)
        if i in self.skip:
            return
        if i in self.restore:
            piece = self.restore[i]
            self._emit(piece[0], (_column(line), _indent(piece[0]) - _indent(line)), False)
            for original in piece[1:]:
                self._emit(original, None, False)
        elif j is None:
            self._emit(line, (_column(line), 0), False)
        else:
            self._emit(self.old[j], (_column(line), _indent(self.old[j]) - _indent(line)), False)

    def _insert(self, i1: int, i2: int, j1: int, j2: int, paired: bool) -> None:
        start = len(self.out)
        head: tuple[int, int] | None = None
        for k, line in enumerate(self.new[j1:j2]):
            indent = _column(line)
            j = self.to_old.get(i1 + k) if paired else None
            if j is not None:  # a changed line: shift it where the original line was
                delta = _indent(self.old[j]) - _indent(self.base[i1 + k])
                head = (indent, delta)
            elif head is not None and indent > head[0]:  # inside the block begun above
                delta = head[1]
            else:
                delta = self._sibling_shift(indent)
                head = (indent, delta)
            self._emit(_shift(line, delta), (indent, delta), True)
        if len(self.out) > start:
            self._hoist(start)

    def _sibling_shift(self, indent: int) -> int:
        """The shift of the nearest line above at this column or less (a sibling or the
        parent) in ruamel's layout."""
        for layout in reversed(self.layout):
            if layout is not None and layout[0] <= indent:
                return layout[1]
        return 0

    def _hoist(self, start: int) -> None:
        """Move the lines emitted from `start` above the blank and comment lines just before
        them that are indented less than they are."""
        first = self.out[start]
        top = start
        while top > 0 and not self.inserted[top - 1] and self.layout[top - 1] is None:
            line = self.out[top - 1]
            if line.strip() and _indent(line) >= _indent(first):
                break
            top -= 1
        if top == start:
            return
        self.out[top:] = self.out[start:] + self.out[top:start]
        self.layout[top:] = self.layout[start:] + self.layout[top:start]
        self.inserted[top:] = self.inserted[start:] + self.inserted[top:start]


# -- edits


@dataclass(frozen=True)
class _Builder:
    """How new containers and values are made: plain dicts and lists for the expected data,
    ruamel's commented types (block style) for the document."""

    mapping: Callable[[], Any]
    sequence: Callable[[list[Any]], Any]
    value: Callable[[Any], Any]
    opened: Callable[[Any], None]  # called before a container gets a new entry


def _rt_mapping() -> Any:
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap()


def _rt_sequence(items: list[Any]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    return CommentedSeq(items)


def _rt_value(value: Any) -> Any:
    if isinstance(value, str):
        return _rt_string(value)
    if isinstance(value, dict):
        node = _rt_mapping()
        for key, item in value.items():
            node[key] = _rt_value(item)
        return node
    if isinstance(value, list | tuple):
        return _rt_sequence([_rt_value(item) for item in value])
    return value


def _rt_string(text: str) -> Any:
    """A string ruamel would write plain but kubectl would read as something else (`yes`,
    `on`, `0755`, `1e3`: YAML 1.1 typing) is written double-quoted."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if "\n" not in text and decode_document(f"k: {text}\n")[0] == {"k": text}:
        return text
    return DoubleQuotedScalarString(text)


def _rt_opened(node: Any) -> None:
    """`{}` or `[]` written in flow style becomes a block when it gets its first entry."""
    if not node and hasattr(node, "fa"):
        node.fa.set_block_style()


def _plain_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain_value(item) for item in value]
    return copy.deepcopy(value)


_PLAIN = _Builder(dict, list, _plain_value, lambda node: None)
_ROUND_TRIP = _Builder(_rt_mapping, _rt_sequence, _rt_value, _rt_opened)


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _dotted(path: Sequence[str | int]) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path) or "."


def _apply(root: Any, fix: FieldFix, build: _Builder) -> bool:
    """Apply one fix to the object `root`; True when it changed something, False when it
    was already so. Refused (with a reason) when the path runs through something that is
    not a mapping or a list, or through a list item that does not exist."""
    path = tuple(fix.path)
    if fix.op not in OPS:
        raise _Refused(f"unknown fix operation {fix.op!r}")
    if not path:
        raise _Refused("empty fix path")
    # Anchors and merge keys elsewhere in the document are fine; an edit is refused only
    # where it would change a node other places share (an anchored node is one object
    # wherever an alias names it).
    if _shared(root):
        _refuse_shared(path, 0)
    node = root
    for depth, key in enumerate(path[:-1]):
        if isinstance(key, int):
            if not isinstance(node, list) or not -len(node) <= key < len(node):
                raise _Refused(f"{_dotted(path[: depth + 1])} does not exist")
            child = node[key]
        else:
            if not isinstance(node, dict):
                raise _Refused(f"{_dotted(path[:depth])} is not a mapping")
            child = node.get(key)
        if child is None:  # missing, or written as null (`securityContext:`)
            if fix.op == "delete":
                return False
            if isinstance(path[depth + 1], int):
                raise _Refused(f"{_dotted(path[: depth + 2])} does not exist")
            if key not in node if isinstance(node, dict) else False:
                build.opened(node)
            child = build.mapping()
            node[key] = child
        elif _shared(child):
            _refuse_shared(path, depth + 1)
        node = child
    last = path[-1]
    if isinstance(last, int):
        exists = isinstance(node, list) and -len(node) <= last < len(node)
        if not exists and fix.op != "delete":
            raise _Refused(f"{_dotted(path)} does not exist")
    else:
        if not isinstance(node, dict):
            raise _Refused(f"{_dotted(path[:-1])} is not a mapping")
        exists = last in node
    current = node[last] if exists else None
    if fix.op != "add" and _holds_shared(current):  # replaced or deleted with its anchors
        _refuse_shared(path, len(path))
    if fix.op == "delete":
        if exists:
            del node[last]
        return exists
    if fix.op == "set":
        if exists and _same(current, fix.value):
            return False
        if not exists:
            build.opened(node)
        node[last] = build.value(fix.value)
        return True
    # add: append to the list at path, created when missing or null
    if current is None:
        if not exists:
            build.opened(node)
        node[last] = build.sequence([build.value(fix.value)])
        return True
    if not isinstance(current, list):
        raise _Refused(f"{_dotted(path)} is not a list")
    if _shared(current):
        _refuse_shared(path, len(path))
    if any(_same(item, fix.value) for item in current):
        return False
    build.opened(current)
    current.append(build.value(fix.value))
    return True
