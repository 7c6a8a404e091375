"""Manifest text -> `K8sObject`s with file and line, and one `LoadProblem` per bad document.

The stream is cut at `---` / `...` document markers first (YAML forbids them at column 0
inside any scalar, so the cut is exact) and each document is composed by libyaml on its
own: a broken document is one problem with its line and the next documents still load.
Nodes are turned into plain values by our own converter, which is faster than PyYAML's
constructor and enforces what a stranger's file must not do: alias expansion beyond a
budget (billion laughs), nesting beyond a depth, and duplicate keys (reported, last wins as
in `kubectl`).

Plain scalars are typed as `kubectl` types them (sigs.k8s.io/yaml on go-yaml v2, YAML 1.1
flavoured), not as PyYAML's YAML 1.1 resolver does: `y`/`n` are booleans too, `0o17`,
`0X1F` and `1e3` are numbers, sexagesimal `1:30` stays a string, timestamps stay strings,
and mapping keys become strings ("1", "true").
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import yaml

from kubeward.misconfig.kubernetes.objects import K8sObject

MAX_FILE_BYTES = 32 * 1024 * 1024  # kube-prometheus' largest CRD bundle is ~4 MiB
MAX_DEPTH = 200  # nesting of mappings and sequences
MAX_NODES = 2_000_000  # values built per document, aliases expanded: caps alias bombs

_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t]|$)", re.M)
_SOURCE = re.compile(r"^# Source: (\S.*?)\s*$", re.M)
# A line that is neither blank, a comment, nor a `%YAML`/`%TAG` directive (column 0).
_CONTENT = re.compile(r"^(?:[ \t]+[^\s#]|[^\s#%])", re.M)
_TOP_API_VERSION = re.compile(r"^apiVersion:[ \t]*\S", re.M)
_TOP_KIND = re.compile(r"^kind:[ \t]*([\"']?)([A-Za-z][A-Za-z0-9]*)\1[ \t]*(?:#.*)?$", re.M)
# `*name`: an alias if it starts a line or follows a blank, `[`, `{` or `,` (checked in
# Python: a leading look-behind or `^` alternative would cost this regex its fast scan).
_STAR = re.compile(r"\*[^\s,\[\]{}]")
_BOOL = {"true": True, "yes": True, "on": True, "y": True}
_BOOL |= {"false": False, "no": False, "off": False, "n": False}
_TAG = "tag:yaml.org,2002:"


class _GoYamlV2Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser with go-yaml v2's implicit types (what `kubectl apply` decodes with).

    Differences from PyYAML's resolver: `y`, `Y`, `n`, `N` are booleans; `0o`/`0O`, `0X`,
    `0B` prefixes and exponents without a dot (`1e3`) are numbers; sexagesimal numbers,
    timestamps and `=` stay strings (go-yaml keeps timestamps as written when decoding into
    an untyped value). Not matched: integers past 64 bits (go-yaml makes them floats)."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012


for _tag, _pattern, _first in (
    (
        "bool",
        r"^(?:[yY]|yes|Yes|YES|[nN]|no|No|NO|true|True|TRUE|false|False|FALSE"
        r"|on|On|ON|off|Off|OFF)$",
        "yYnNtTfFoO",
    ),
    (
        "int",
        r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$",
        "-+0123456789",
    ),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9][0-9_]*)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("merge", r"^<<$", "<"),
):
    _GoYamlV2Loader.add_implicit_resolver(_TAG + _tag, re.compile(_pattern), list(_first))

_LOADER = _GoYamlV2Loader


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """A document or file that could not be used as written; `kind` says which check id
    reports it ("parse" -> KW-K8S-000, "duplicate-key" -> KW-K8S-001)."""

    path: str
    line: int
    message: str
    kind: str = "parse"
    resource: str | None = None


@dataclass(slots=True)
class Loaded:
    objects: list[K8sObject] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    documents: int = 0  # non-empty documents seen, objects or not


class _TooBig(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Doc:
    """One document of a stream and where it sits."""

    text: str
    first_line: int  # 0-based line of the document in the file
    path: str
    origin: str
    source: str | None  # Helm template from the last `# Source:` comment
    index: int

    def obj(
        self, data: dict[str, Any] | None, line: int, node: yaml.Node | None, **kw: Any
    ) -> K8sObject:
        return K8sObject(
            data, self.path, line, node, line_base=self.first_line, template=self.source,
            document=self.index, origin=self.origin, **kw,
        )  # fmt: skip


class _Converter:
    """Composed nodes -> plain values, with an expansion budget, a depth cap and duplicate
    key detection; `duplicates` collects (line, key) pairs."""

    def __init__(self) -> None:
        self.budget = MAX_NODES
        self.duplicates: list[tuple[int, str]] = []

    def value(self, node: yaml.Node, depth: int = 0) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooBig(f"more than {MAX_NODES:,} values once aliases are expanded")
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, depth + 1) for item in node.value]
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, depth)
        return None

    def mapping(self, node: yaml.MappingNode, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merged: list[dict[Any, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":  # `<<: *defaults`, as go-yaml supports it
                value = self.value(value_node, depth + 1)
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict):
                        merged.append(item)
                continue
            key = self.value(key_node, depth + 1)
            if not isinstance(key, str):
                key = _key_text(key, key_node)
            if key in out:
                self.duplicates.append((key_node.start_mark.line, str(key)))
            out[key] = self.value(value_node, depth + 1)
        for item in merged:  # explicit keys win over merged ones
            for key, value in item.items():
                out.setdefault(key, value)
        return out


def _key_text(key: Any, node: yaml.Node) -> str:
    """A mapping key as sigs.k8s.io/yaml turns it into a JSON key: numbers and booleans
    by their value (`0x10` -> "16", `on` -> "true"), anything else as written."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return str(key)  # a mapping or a list as a key is not Kubernetes: keep some text


def key_text(node: yaml.ScalarNode) -> str:
    """The key of `data` that a scalar key node becomes (`on` -> "true", `0x10` -> "16")."""
    value = _scalar(node)
    return value if isinstance(value, str) else _key_text(value, node)


def _expanded_size(node: yaml.Node, memo: dict[int, int], open_nodes: set[int]) -> int:
    """How many values `node` becomes once every alias is expanded, without expanding
    any: each collection is counted once (memo), so a billion laughs is refused at once.
    Raises _TooBig past the budget, the depth cap, or for an alias inside its own anchor."""
    if isinstance(node, yaml.ScalarNode):
        return 1
    key = id(node)
    known = memo.get(key)
    if known is not None:
        return known
    if key in open_nodes:
        raise _TooBig("an alias refers to a node that contains it")
    if len(open_nodes) >= MAX_DEPTH:
        raise _TooBig(f"nested deeper than {MAX_DEPTH} levels")
    open_nodes.add(key)
    total = 1
    for item in node.value:
        if isinstance(item, tuple):  # a mapping's (key, value)
            total += _expanded_size(item[0], memo, open_nodes)
            total += _expanded_size(item[1], memo, open_nodes)
        else:
            total += _expanded_size(item, memo, open_nodes)
        if total > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES:,} values once aliases are expanded")
    open_nodes.discard(key)
    memo[key] = total
    return total


def _convert(node: yaml.Node, chunk: str) -> tuple[Any, list[tuple[int, str]]]:
    """The plain value of a composed document and its duplicate keys; _TooBig (or
    RecursionError) when it breaks a cap."""
    if _has_alias(chunk):
        _expanded_size(node, {}, set())
    converter = _Converter()
    return converter.value(node), converter.duplicates


def _has_alias(chunk: str) -> bool:
    """Whether `chunk` may hold an alias; only then is its expanded size worked out."""
    for match in _STAR.finditer(chunk):
        start = match.start()
        if start == 0 or chunk[start - 1] in " \t\n[{,":
            return True
    return False


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag
    text = node.value
    if tag == _TAG + "str" or not tag.startswith(_TAG):
        return text
    kind = tag[len(_TAG) :]
    try:
        if kind == "int":
            return _int(text)
        if kind == "bool":
            return _BOOL.get(text.lower(), text)
        if kind == "null":
            return None
        if kind == "float":
            return _float(text)
    except ValueError:
        return text
    return text  # timestamps, binary: kept as written (Kubernetes reads them as strings)


def _int(text: str) -> int:
    """Go's strconv.ParseInt(text without "_", 0, 64) without its 64-bit limit; an explicit
    `!!int 1:30` (sexagesimal) is not a number there and raises ValueError."""
    text = text.replace("_", "")
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-").lower()
    if body.startswith("0x"):
        return sign * int(body[2:], 16)
    if body.startswith("0o"):
        return sign * int(body[2:], 8)
    if body.startswith("0b"):
        return sign * int(body[2:], 2)
    if len(body) > 1 and body.startswith("0"):
        return sign * int(body, 8)
    return sign * int(body)


def _float(text: str) -> float:
    lowered = text.lower().replace("_", "")
    if lowered in (".inf", "+.inf"):
        return float("inf")
    if lowered == "-.inf":
        return float("-inf")
    if lowered == ".nan":
        return float("nan")
    return float(lowered)


def load_text(
    text: str, path: str, origin: str = "file", decode_kinds: Collection[str] | None = None
) -> Loaded:
    """Every object in `text` (the content of `path`), with problems for bad documents.

    With `decode_kinds`, a document whose top-level `kind:` is plainly written and not in
    that set is only syntax-checked (libyaml's event parser, no values built) and decoded
    later if something asks for its data."""
    loaded = Loaded()
    if len(text) > MAX_FILE_BYTES:
        loaded.problems.append(
            LoadProblem(path, 1, f"larger than {MAX_FILE_BYTES // 1048576} MiB, not read")
        )
        return loaded
    text = text.lstrip("\ufeff")
    if "\r" in text:  # CRLF (or old Mac CR) files: markers must still be seen at line ends
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\n\ufeff" in text:  # files concatenated with their BOMs (`cat *.yaml`)
        text = text.replace("\n\ufeff", "\n")
    source: str | None = None
    for first_line, chunk in _split(text):
        if "# Source: " in chunk:
            match = _SOURCE.search(chunk)
            if match:
                source = match.group(1)  # `helm template` names the template of what follows
        if not _CONTENT.search(chunk):
            continue
        doc = _Doc(chunk, first_line, path, origin, source, loaded.documents)
        loaded.documents += 1
        if decode_kinds is not None:
            kinds = _TOP_KIND.findall(chunk)
            lazy = len(kinds) == 1 and kinds[0][1] not in decode_kinds
            # without a plain apiVersion line it is probably not an object: the eager path
            # decides, and still reports a document that does not parse
            if lazy and "List" not in kinds[0][1] and _TOP_API_VERSION.search(chunk):
                _load_lazily(doc, kinds[0][1], loaded)
                continue
        _load_document(doc, loaded)
    return loaded


def _split(text: str) -> list[tuple[int, str]]:
    """(0-based line of the document's first line, document text) for each document; the
    marker lines themselves become blank lines so node lines stay file lines."""
    out: list[tuple[int, str]] = []
    start = 0
    line = 0
    for match in _MARKER.finditer(text):
        out.append((line, text[start : match.start()]))
        line += text.count("\n", start, match.start())
        start = match.end()  # text after the marker on its line belongs to the next doc
    out.append((line, text[start:]))
    return out


def _load_lazily(doc: _Doc, kind: str, loaded: Loaded) -> None:
    chunk, first_line = doc.text, doc.first_line
    start_line = -1
    depth = 0
    try:
        for event in yaml.parse(chunk, Loader=_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                if start_line < 0 and event.start_mark:
                    start_line = event.start_mark.line
                depth += 1
                if depth > MAX_DEPTH:  # let the eager path report the cap
                    _load_document(doc, loaded)
                    return
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                # Aliases can hide a billion laughs and duplicate keys only show once
                # composed: such a (rare) document is loaded now, with its caps checked.
                _load_document(doc, loaded)
                return
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        loaded.problems.append(_syntax_problem(exc, doc))
        return
    line = first_line + max(start_line, 0) + 1
    loaded.objects.append(doc.obj(None, line, None, lazy_text=chunk, kind=kind))


def _syntax_problem(exc: BaseException, doc: _Doc) -> LoadProblem:
    """The one-line problem for a document libyaml rejects, at the line it names."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = doc.first_line + (mark.line + 1 if mark else 1)
        message = " ".join(str(exc.problem or exc).split())
        return LoadProblem(doc.path, line, f"YAML does not parse: {message}")
    return LoadProblem(doc.path, doc.first_line + 1, f"YAML does not parse: {type(exc).__name__}")


def decode_document(chunk: str) -> tuple[Any, yaml.Node | None]:
    """The value and node of one document already known to parse; (None, None) if it
    does not after all or breaks a cap (the lazy path reported nothing: it stays empty)."""
    try:
        node = yaml.compose(chunk, Loader=_LOADER)  # compose builds no objects
        if node is None:
            return None, None
        return _convert(node, chunk)[0], node
    except (yaml.YAMLError, _TooBig, RecursionError, ValueError):
        return None, None


def _load_document(doc: _Doc, loaded: Loaded) -> None:
    chunk, first_line, path = doc.text, doc.first_line, doc.path
    try:
        node = yaml.compose(chunk, Loader=_LOADER)  # compose builds no objects
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        loaded.problems.append(_syntax_problem(exc, doc))
        return
    if node is None:
        return
    try:
        value, duplicates = _convert(node, chunk)
    except (_TooBig, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, _TooBig) else "nested too deeply"
        line = first_line + node.start_mark.line + 1
        loaded.problems.append(LoadProblem(path, line, f"document skipped: {reason}"))
        return
    for dup_line, key in duplicates:
        loaded.problems.append(
            LoadProblem(
                path, first_line + dup_line + 1, f"duplicate key {key!r}", kind="duplicate-key"
            )
        )
    if not isinstance(value, dict):
        return  # a scalar or a list at the top: not a Kubernetes object
    base = doc.obj(value, first_line + node.start_mark.line + 1, node)
    if base.kind.endswith("List") and isinstance(value.get("items"), list):
        items_node = _child(node, "items")
        for k, item in enumerate(value["items"]):
            if not _is_object(item):
                continue
            item_node = (
                items_node.value[k]
                if isinstance(items_node, yaml.SequenceNode) and k < len(items_node.value)
                else None
            )
            line = first_line + (item_node.start_mark.line if item_node else 0) + 1
            loaded.objects.append(doc.obj(item, line, item_node))
        return
    if _is_object(value):
        loaded.objects.append(base)


def _is_object(value: object) -> bool:
    """A Kubernetes object names its apiVersion and kind (kubectl refuses it otherwise);
    any other YAML (CI configs, values files, fragments) is not one and is not checked."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("apiVersion"), str)
        and isinstance(value.get("kind"), str)
        and bool(value["apiVersion"])
        and bool(value["kind"])
    )


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in reversed(node.value):
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                child: yaml.Node = value_node
                return child
    return None
