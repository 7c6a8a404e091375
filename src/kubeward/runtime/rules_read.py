"""Reading Falco rules files safely: regular files only, size, YAML node and nesting caps
checked before anything is walked, and yaml-cpp's way of reading scalars, so a hostile file
is one load error and never a hang, a crash or an alias bomb.

Also where a condition's characters are in the file (ScalarSource), so that a syntax error
can name the file line and column.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import yaml

from kubeward.runtime.rules_condition_text import ExceptionEntry
from kubeward.runtime.rules_messages import (
    LOAD_ERR_FILE_READ,
    LOAD_ERR_YAML_PARSE,
    LOAD_ERR_YAML_VALIDATE,
    RULES_CONTENT,
    ItemContext,
    LoadFailure,
)

MAX_RULES_FILE_SIZE = 8 * 1024 * 1024
# Expanded YAML nodes per file (aliases counted at every use) and nesting depth: the
# falcosecurity rules files have under 3,000 nodes and a depth of 5.
MAX_YAML_NODES = 200_000
MAX_YAML_DEPTH = 64

_BOOLS = {
    "y": True,
    "yes": True,
    "true": True,
    "on": True,
    "n": False,
    "no": False,
    "false": False,
    "off": False,
}
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL_TAG = "tag:yaml.org,2002:null"
# libyaml's line breaks
_LINE_BREAK = re.compile("\r\n|\r|\n|\x85|\u2028|\u2029")


class _Mark(Protocol):
    line: int


def expand_paths(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            # Falco reads a rules directory's regular files in name order, not recursively.
            try:
                children = sorted(path.iterdir(), key=lambda child: child.name)
            except OSError:
                yield path
                continue
            yield from (child for child in children if child.is_file())
        else:
            yield path


def read_text(path: Path) -> str:
    """The file's text: a regular file (O_NONBLOCK so a FIFO cannot hang us), capped."""
    ctx = ItemContext(str(path), RULES_CONTENT, "", None)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise LoadFailure(LOAD_ERR_FILE_READ, "Could not open file: not a regular file", ctx)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_RULES_FILE_SIZE + 1)
    except OSError as exc:
        raise LoadFailure(LOAD_ERR_FILE_READ, f"Could not open file: {exc.strerror}", ctx) from None
    if len(data) > MAX_RULES_FILE_SIZE:
        message = f"Rules file is larger than {MAX_RULES_FILE_SIZE // (1024 * 1024)} MiB"
        raise LoadFailure(LOAD_ERR_FILE_READ, message, ctx)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"Rules content is not UTF-8 text (byte {exc.start})"
        raise LoadFailure(LOAD_ERR_YAML_PARSE, message, ctx) from None


def compose_documents(text: str, file: str) -> list[yaml.Node]:
    """The node trees of every YAML document. Nesting depth and the size the documents
    expand to (an alias counts at every use) are checked before anything is walked, so an
    alias bomb or a deeply nested file is one error, not a hang or a crash."""
    ctx = ItemContext(file, RULES_CONTENT, "", None)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    line = _mark_line(event.start_mark)
                    message = f"YAML nesting deeper than {MAX_YAML_DEPTH} levels"
                    raise LoadFailure(LOAD_ERR_YAML_PARSE, message, ctx.at(line))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        loader = _Loader(text)
        try:
            documents: list[yaml.Node] = []
            while loader.check_node():
                document = loader.get_node()
                if document is not None:
                    documents.append(document)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join((exc.problem or exc.context or "invalid YAML").split())
        if mark is None:
            raise LoadFailure(LOAD_ERR_YAML_PARSE, problem, ctx) from None
        message = f"YAML error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
        raise LoadFailure(LOAD_ERR_YAML_PARSE, message, ctx.at(mark.line + 1)) from None
    except yaml.YAMLError as exc:
        message = " ".join(str(exc).split())
        raise LoadFailure(LOAD_ERR_YAML_PARSE, message, ctx) from None
    total = 0
    for document in documents:
        total += _expanded_size(document, ctx)
        if total > MAX_YAML_NODES:
            message = f"Rules content expands to more than {MAX_YAML_NODES} YAML nodes"
            raise LoadFailure(LOAD_ERR_YAML_PARSE, message, ctx)
    return documents


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expanded_size(root: yaml.Node, ctx: ItemContext) -> int:
    """Nodes in the tree with aliases expanded, computed without expanding them (shared
    nodes are counted once per use, from a memo); a recursive alias is an error."""
    sizes: dict[int, int] = {}
    started: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[key] = min(total, MAX_YAML_NODES + 1)
            continue
        if key in sizes:
            continue
        if key in started:
            line = node_line(node)
            raise LoadFailure(LOAD_ERR_YAML_PARSE, "Recursive YAML alias", ctx.at(line))
        started.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _mark_line(mark: _Mark | None) -> int | None:
    return None if mark is None else int(mark.line) + 1


def node_line(node: yaml.Node) -> int:
    return _mark_line(node.start_mark) or 0


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def is_scalar(node: yaml.Node) -> bool:
    """A scalar in yaml-cpp's sense: a null is not one."""
    return isinstance(node, yaml.ScalarNode) and node.tag != _NULL_TAG


def get_value(node: yaml.Node, key: str) -> yaml.Node | None:
    """The value under `key` in a mapping node (the first one, as yaml-cpp finds it)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return cast(yaml.Node, value_node)
    return None


def _yaml_cpp_bool(text: str) -> bool | None:
    """yaml-cpp's bool conversion: y/yes/true/on and n/no/false/off, written in lower case,
    UPPER case or Capitalized."""
    lower = text.lower()
    flexible = text.isascii() and (
        text == lower or (text[:1].isupper() and text[1:] in (lower[1:], lower[1:].upper()))
    )
    return _BOOLS.get(lower) if flexible else None


def decode_str(item: yaml.Node, key: str, ctx: ItemContext, optional: bool = False) -> str | None:
    value = get_value(item, key)
    if value is None:
        if optional:
            return None
        raise LoadFailure(LOAD_ERR_YAML_VALIDATE, f"Item has no mapping for key '{key}'", ctx)
    if is_null(value):
        raise LoadFailure(LOAD_ERR_YAML_VALIDATE, f"Mapping for key '{key}' is empty", ctx)
    if not isinstance(value, yaml.ScalarNode):
        raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Value is not a scalar value", ctx)
    if value.value == "":
        raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Value must be non-empty", ctx)
    return str(value.value)


def required_str(item: yaml.Node, key: str, ctx: ItemContext) -> str:
    text = decode_str(item, key, ctx)
    assert text is not None  # not optional: missing keys raise
    return text


def decode_bool(item: yaml.Node, key: str, ctx: ItemContext, optional: bool = False) -> bool | None:
    text = decode_str(item, key, ctx, optional)
    if text is None:
        return None
    value = _yaml_cpp_bool(text)
    if value is None:
        raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Can't decode YAML scalar value", ctx)
    return value


def decode_seq(item: yaml.Node, key: str, ctx: ItemContext, optional: bool) -> list[str] | None:
    value = get_value(item, key)
    if value is None:
        if optional:
            return None
        raise LoadFailure(LOAD_ERR_YAML_VALIDATE, f"Item has no mapping for key '{key}'", ctx)
    if not isinstance(value, yaml.SequenceNode):
        raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Value is not a sequence", ctx)
    out: list[str] = []
    for element in value.value:
        if not is_scalar(element):
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "sequence value is not scalar", ctx)
        out.append(str(element.value))
    return out


def decode_entry(
    node: yaml.Node | None, key: str | None, ctx: ItemContext, optional: bool
) -> ExceptionEntry | None:
    """An exception's fields/comps/value: a string, a (nested) list, or None when absent."""
    if node is None:
        if optional:
            return None
        raise LoadFailure(LOAD_ERR_YAML_VALIDATE, f"Item has no mapping for key '{key}'", ctx)
    if is_scalar(node):
        if node.value == "":
            raise LoadFailure(LOAD_ERR_YAML_VALIDATE, "Value must be non-empty", ctx)
        return str(node.value)
    if isinstance(node, yaml.SequenceNode):
        out: list[ExceptionEntry] = []
        for element in node.value:
            entry = decode_entry(element, None, ctx, optional=False)
            assert entry is not None  # not optional
            out.append(entry)
        return tuple(out)
    # a null or a mapping: Falco keeps an empty, invalid entry
    return ""


def split_lines(text: str) -> list[str]:
    """The file's lines as libyaml counts them, for ScalarSource."""
    return _LINE_BREAK.split(text)


@dataclass(frozen=True, slots=True)
class ScalarSource:
    """A scalar's value with where it sits in the file (0-based marks, as libyaml gives
    them), to map an offset in the value back to a file line and column."""

    value: str
    style: str  # "" plain, "'" or '"' quoted, "|" literal, ">" folded
    lines: Sequence[str]
    start: tuple[int, int]
    end: tuple[int, int]

    def locate(self, offset: int) -> tuple[int, int] | None:
        """The 1-based file line and column of ``value[offset]`` (of the next non-blank
        character when the offset is on a blank, or just after the last character when
        nothing follows). Folding and indentation only ever change blanks, so the value's
        other characters are matched one by one with the file's; None when they do not
        match (an escape sequence in a double-quoted scalar)."""
        if not 0 <= offset <= len(self.value):
            return None
        source = self._characters()
        last: tuple[int, int] | None = None
        for index, char in enumerate(self.value):
            if char in _BLANK_CHARS:
                continue
            found = next(source, None)
            if found is None or found[2] != char:
                return None
            if index >= offset:
                return found[0] + 1, found[1] + 1
            last = found[0], found[1]
        if last is None:
            return None
        return last[0] + 1, last[1] + 2

    def _characters(self) -> Iterator[tuple[int, int, str]]:
        """The file's non-blank characters of the scalar's content, in order."""
        (line, column), (end_line, end_column) = self.start, self.end
        if self.style in ("|", ">"):
            line, column = line + 1, 0  # the content starts below the header
        elif self.style in ("'", '"'):
            column += 1
            end_column -= 1
        while line < len(self.lines) and (line, column) < (end_line, end_column):
            text = self.lines[line]
            stop = end_column if line == end_line else len(text)
            while column < stop:
                char = text[column]
                if self.style == '"' and char == "\\":
                    return  # an escape: the value's characters are not the file's
                if self.style == "'" and char == "'":
                    column += 1  # '' stands for one quote
                if char not in _BLANK_CHARS:
                    yield line, column, char
                column += 1
            line, column = line + 1, 0


_BLANK_CHARS = frozenset(" \t\r\n")


def scalar_source(node: yaml.Node | None, lines: Sequence[str]) -> ScalarSource | None:
    """Where a scalar node's value is in the file, or None for anything but a scalar."""
    if not isinstance(node, yaml.ScalarNode) or node.start_mark is None or node.end_mark is None:
        return None
    start, end = node.start_mark, node.end_mark
    return ScalarSource(
        str(node.value),
        node.style or "",
        lines,
        (int(start.line), int(start.column)),
        (int(end.line), int(end.column)),
    )
