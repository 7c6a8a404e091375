"""A Kubernetes object as checks see it: the plain decoded value plus where it came from.

Checks read `data` (dicts, lists and scalars as `kubectl` would decode them) and ask
`line_of(...)` for the line of the field they complain about; lines are looked up in the
YAML node tree only when a finding needs one, so loading stays cheap.
"""

from __future__ import annotations

from typing import Any

import yaml

PathKey = str | int
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


def _typed_key(node: yaml.ScalarNode) -> str:
    """A key written as a number or boolean, as `data` has it (`on` -> "true")."""
    from kubeward.misconfig.kubernetes.load import key_text

    return key_text(node)


def value_at(value: Any, path: tuple[PathKey, ...]) -> Any:
    """The value at `path` (keys and list indexes) inside `value`, or None when any step is
    missing or of the wrong type."""
    for key in path:
        if type(key) is int:
            if not isinstance(value, list) or not -len(value) <= key < len(value):
                return None
            value = value[key]
        elif isinstance(value, dict):
            value = value.get(key)
        else:
            return None
        if value is None:
            return None
    return value


class K8sObject:
    """One object of a manifest (a document, or an item of a `kind: List`).

    `path` is the file as reported (relative to the scanned root, "-" for stdin); `template`
    is the Helm template that produced it (`# Source:` comment) when known; `line` is the
    first line of the object; `node` is its YAML node (None for objects from JSON APIs).

    A document of a kind no built-in check reads (CRDs are most of the bytes of real
    manifests) is kept as text with its sniffed `kind` and decoded only if something asks
    for `data` or `node`: that is what keeps loading fast.
    """

    __slots__ = (
        "_data", "_kind", "_lazy", "_node", "cache", "document", "line", "line_base",
        "origin", "path", "template",
    )  # fmt: skip

    def __init__(
        self,
        data: dict[str, Any] | None,
        path: str,
        line: int = 1,
        node: yaml.Node | None = None,
        *,
        line_base: int = 0,
        template: str | None = None,
        document: int = 0,
        origin: str = "file",
        lazy_text: str | None = None,
        kind: str | None = None,
    ) -> None:
        self._data = data
        self._node = node
        self._lazy = lazy_text
        self._kind = kind
        self.path = path
        self.line = line
        self.line_base = line_base  # added to a node's 0-based line to get the file line
        self.template = template
        self.document = document  # index of the document in its file
        self.origin = origin  # "file" | "helm" | "kustomize" | "stdin" | "cluster"
        self.cache: dict[str, Any] = {}  # per-object memo for checks

    def _decode(self) -> None:
        from kubeward.misconfig.kubernetes.load import decode_document

        text, self._lazy = self._lazy, None
        data, node = decode_document(text or "")
        self._data = data if isinstance(data, dict) else {}
        self._node = node

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._decode()
        return self._data if self._data is not None else {}

    @property
    def node(self) -> yaml.Node | None:
        if self._lazy is not None:
            self._decode()
        return self._node

    @property
    def decoded(self) -> bool:
        """False while a lazily loaded document has not been decoded."""
        return self._lazy is None

    @property
    def kind(self) -> str:
        if self._kind is not None:
            return self._kind
        value = self.data.get("kind")
        return value if isinstance(value, str) else ""

    @property
    def api_version(self) -> str:
        value = self.data.get("apiVersion")
        return value if isinstance(value, str) else ""

    @property
    def metadata(self) -> dict[str, Any]:
        value = self.data.get("metadata")
        return value if isinstance(value, dict) else {}

    @property
    def name(self) -> str:
        value = self.metadata.get("name")
        return str(value) if isinstance(value, str | int) else ""

    @property
    def namespace(self) -> str | None:
        """The namespace written in the manifest, or None (the one kubectl applies to)."""
        value = self.metadata.get("namespace")
        return value if isinstance(value, str) and value else None

    @property
    def resource(self) -> str:
        """`Kind/namespace/name`, or `Kind/name` when no namespace is written."""
        parts = [self.kind or "?"]
        if self.namespace:
            parts.append(self.namespace)
        parts.append(self.name or "?")
        return "/".join(parts)

    @property
    def report_path(self) -> str:
        """The file findings name; lines are lines of this file (for rendered Helm output,
        the rendered stream: the template is named in `report_resource`)."""
        return self.path

    @property
    def report_resource(self) -> str:
        """`resource`, plus the Helm template that produced the object when known."""
        return f"{self.resource} ({self.template})" if self.template else self.resource

    def get(self, *path: PathKey) -> Any:
        """The value at `path` (keys and list indexes), or None when any step is missing."""
        return value_at(self.data, path)

    def line_of(self, *path: PathKey) -> int:
        """The 1-based line of the field at `path`, or of its deepest existing ancestor.

        For a mapping key the line is the key's own line (where a reader looks), for a list
        item the item's line; without a node (objects from an API) the object's line."""
        node = self.node
        if node is None:
            return self.line
        line = node.start_mark.line
        for key in path:
            if isinstance(node, yaml.MappingNode) and isinstance(key, str):
                found = _key_in(node, key)
                if found is None:
                    break
                line = found[0].start_mark.line
                node = found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                if not -len(node.value) <= key < len(node.value):
                    break
                node = node.value[key]
                line = node.start_mark.line
            else:
                break
        return self.line_base + line + 1


def _key_in(node: yaml.MappingNode, key: str, depth: int = 0) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key, value) nodes of `key` in a mapping: the last one written (last wins, as in
    kubectl), else one brought in by a `<<` merge (so the line is where it is defined)."""
    merges: list[yaml.Node] = []
    for key_node, value_node in reversed(node.value):
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        tag = key_node.tag
        if tag == _MERGE_TAG:
            merges.append(value_node)
        elif key_node.value == key if tag == _STR_TAG else _typed_key(key_node) == key:
            return key_node, value_node
    if depth > 20:  # merges of merges: plenty for real files, and no cycle runs forever
        return None
    for merged in reversed(merges):  # the first `<<` written wins, as for the values
        sources = merged.value if isinstance(merged, yaml.SequenceNode) else [merged]
        for source in sources:  # in a `<<: [*a, *b]` list, the first mapping wins
            if isinstance(source, yaml.MappingNode):
                found = _key_in(source, key, depth + 1)
                if found is not None:
                    return found
    return None
