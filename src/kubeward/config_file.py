"""kubeward.yaml and other YAML that comes from strangers: read it safely, find one section.

The file may come from the scanned repository, so it is read as untrusted input: a size
cap, no FIFOs, no YAML aliases, bounded nesting, strict keys and types, and every mistake
one line naming file and line. Each section (`secrets:`, `checks:` ...) is parsed by its own
module through `SectionReader`; this module owns what they share.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import yaml

from kubeward.errors import KubewardError

CONFIG_FILE_NAME = "kubeward.yaml"
MAX_CONFIG_FILE_SIZE = 1024 * 1024
NULL_TAG = "tag:yaml.org,2002:null"
STR_TAG = "tag:yaml.org,2002:str"
BOOL_TAG = "tag:yaml.org,2002:bool"
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Mark(Protocol):
    line: int


def yaml_where(source: str, mark: _Mark | None) -> str:
    """ "FILE:LINE" for a YAML mark, "FILE" without one."""
    return source if mark is None else f"{source}:{mark.line + 1}"


def one_line(text: str) -> str:
    """A parser's message on one line."""
    return " ".join(text.split())


def compose_yaml(
    text: str, source: str, error: type[KubewardError], max_depth: int
) -> tuple[yaml.Node | None, Callable[[yaml.Node], object]]:
    """The node tree of one YAML document (for line numbers) and a function building a node's
    Python value. Aliases and deep nesting are refused before anything is built: aliases let
    a few bytes expand into a huge document, and no rule or config file needs them.
    """
    try:
        depth = 0
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                raise error(f"{yaml_where(source, event.start_mark)}: YAML aliases are not allowed")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise error(f"{yaml_where(source, event.start_mark)}: YAML nested too deeply")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        where = yaml_where(source, exc.problem_mark or exc.context_mark)
        problem = one_line(exc.problem or exc.context or "invalid YAML")
        raise error(f"{where}: malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: malformed YAML: {one_line(str(exc))}") from None

    def construct(node: yaml.Node) -> object:
        try:
            return loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            problem = one_line(exc.problem or exc.context or "invalid value")
            raise error(f"{yaml_where(source, node.start_mark)}: {problem}") from None

    return root, construct


def find_config(directory: Path | None = None, cwd: Path | None = None) -> Path | None:
    """kubeward.yaml in the scanned `directory`, else in the current directory, else None."""
    for base in (directory, cwd or Path.cwd()):
        if base is not None:
            candidate = base / CONFIG_FILE_NAME
            if candidate.is_file():
                return candidate
    return None


def read_config_text(path: Path, error: type[KubewardError], what: str = "config file") -> str:
    """The text of a config file (`what` names it in errors): a regular file (O_NONBLOCK, so
    a FIFO planted under its name cannot hang the scan), at most 1 MiB, UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # before fdopen, which refuses directories
            os.close(fd)
            raise error(f"{path}: {what} is not a regular file")
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_CONFIG_FILE_SIZE + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_FILE_SIZE:
        raise error(f"{path}: {what} is larger than 1 MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{path}: {what} is not UTF-8 text") from None


def find_section(
    text: str, source: Path, name: str, error: type[KubewardError], max_depth: int = 32
) -> tuple[yaml.Node | None, Callable[[yaml.Node], object]]:
    """The node of the top-level `name:` section (None when absent) and the value builder.
    Other sections are not read here; the depth cap allows for them."""
    root, construct = compose_yaml(text, str(source), error, max_depth)
    if root is None:
        return None, construct
    if not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1
        raise error(f"{source}:{line}: expected a mapping at the top level")
    sections = [
        (key, value)
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode) and key.value == name
    ]
    if len(sections) > 1:
        line = sections[1][0].start_mark.line + 1
        raise error(f"{source}:{line}: duplicate key {name!r}")
    return (sections[0][1] if sections else None), construct


class SectionReader:
    """Reads the keys of one section's node tree, naming file and line in every error."""

    def __init__(
        self, source: Path, name: str, keys: tuple[str, ...], error: type[KubewardError]
    ) -> None:
        self.source = source
        self.name = name
        self.keys = keys
        self.error = error

    def fail(self, node: yaml.Node, message: str) -> KubewardError:
        return self.error(f"{self.source}:{node.start_mark.line + 1}: {message}")

    def fields(self, node: yaml.Node) -> dict[str, yaml.Node] | None:
        """The section's keys and value nodes; None for an empty (null) section."""
        if isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG:
            return None
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"'{self.name}' must be a mapping")
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in self.keys:
                expected = ", ".join(self.keys)
                raise self.fail(
                    key_node, f"{self.name}: unknown key {key!r} (expected one of: {expected})"
                )
            if key in fields:
                raise self.fail(key_node, f"{self.name}: duplicate key {key!r}")
            fields[str(key)] = value_node
        return fields

    def strings(
        self, fields: dict[str, yaml.Node], key: str, strip: bool = False
    ) -> list[tuple[str, int]]:
        """A list of non-empty strings under `key` with their lines ([] when absent)."""
        node = fields.get(key)
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{self.name}.{key} must be a list of strings")
        out: list[tuple[str, int]] = []
        for item in node.value:
            text = str(item.value).strip() if strip else str(item.value)
            if not isinstance(item, yaml.ScalarNode) or item.tag != STR_TAG or not text:
                raise self.fail(item, f"{self.name}.{key} must be a list of non-empty strings")
            out.append((text, item.start_mark.line + 1))
        return out
