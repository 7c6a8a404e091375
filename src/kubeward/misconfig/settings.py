"""The `checks:` section of kubeward.yaml: which misconfiguration checks run, and which
registries base images may come from.

    checks:
      enable: [KW-DF-001, cis]        # ids or tags; empty or absent means every check
      disable: [KW-DF-021, best-practice]
      base_image_registries: [registry.example.com, ghcr.io]

The file may come from the scanned repository, so it is read like the `secrets:` section:
size cap, no YAML aliases, strict keys and types, and every mistake one line with its file
and line. An id or tag that names no check is an error too: a typo must not silently turn
a check on or off.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from kubeward.errors import KubewardError
from kubeward.misconfig.engine import CheckMeta, Selection
from kubeward.secrets.engine import compose_yaml

MAX_CONFIG_FILE_SIZE = 1024 * 1024
SECTION_KEYS = ("enable", "disable", "base_image_registries")
_MAX_DEPTH = 32  # other sections of the file may nest deeper than `checks:` needs
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
# A registry host, optionally with a port and a path prefix: "ghcr.io", "localhost:5000",
# "ghcr.io/my-org" (only images under that prefix).
_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
)


class CheckSettingsError(KubewardError):
    """A kubeward.yaml whose `checks:` section cannot be used as written."""


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """The `checks:` section; the defaults mean "every check, any registry".

    `lines` maps each enable/disable name to where it is written, so `validate` can point
    at the exact line once the check metadata is known.
    """

    source: Path | None = None
    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    base_image_registries: tuple[str, ...] = ()
    lines: tuple[tuple[str, int], ...] = ()

    def selection(self) -> Selection:
        """The engine's Selection for these settings."""
        return Selection(enable=frozenset(self.enable), disable=frozenset(self.disable))

    def validate(self, metadata: Mapping[str, CheckMeta], extra_ids: Collection[str] = ()) -> None:
        """Refuse a name that is neither a known check id (or one of `extra_ids`) nor a tag."""
        known = set(metadata) | set(extra_ids)
        for meta in metadata.values():
            known.update(meta.tags)
        where = dict(self.lines)
        for key, names in (("enable", self.enable), ("disable", self.disable)):
            for name in names:
                if name not in known:
                    line = where.get(f"{key}:{name}")
                    at = f"{self.source}:{line}" if line else str(self.source or "kubeward.yaml")
                    raise CheckSettingsError(
                        f"{at}: checks.{key}: {name!r} is neither a check id nor a tag"
                    )


class _Section:
    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, node: yaml.Node, message: str) -> CheckSettingsError:
        return CheckSettingsError(f"{self.source}:{node.start_mark.line + 1}: {message}")

    def strings(self, node: yaml.Node, key: str) -> list[tuple[str, int]]:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"checks.{key} must be a list of strings")
        out: list[tuple[str, int]] = []
        for item in node.value:
            if (
                not isinstance(item, yaml.ScalarNode)
                or item.tag != _STR_TAG
                or not str(item.value).strip()
            ):
                raise self.fail(item, f"checks.{key} must be a list of non-empty strings")
            out.append((str(item.value).strip(), item.start_mark.line + 1))
        return out

    def parse(self, node: yaml.Node) -> CheckSettings:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
            return CheckSettings(source=self.source)
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, "'checks' must be a mapping")
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in SECTION_KEYS:
                expected = ", ".join(SECTION_KEYS)
                raise self.fail(
                    key_node, f"checks: unknown key {key!r} (expected one of: {expected})"
                )
            if key in fields:
                raise self.fail(key_node, f"checks: duplicate key {key!r}")
            fields[str(key)] = value_node
        enable = self.strings(fields["enable"], "enable") if "enable" in fields else []
        disable = self.strings(fields["disable"], "disable") if "disable" in fields else []
        registries: list[str] = []
        if "base_image_registries" in fields:
            for host, line in self.strings(
                fields["base_image_registries"], "base_image_registries"
            ):
                if not _HOST.fullmatch(host):
                    raise CheckSettingsError(
                        f"{self.source}:{line}: checks.base_image_registries: {host!r} is "
                        "not a registry host (write it as host, host:port or host/path-prefix)"
                    )
                registries.append(host.lower())
        lines = [(f"enable:{name}", line) for name, line in enable]
        lines += [(f"disable:{name}", line) for name, line in disable]
        return CheckSettings(
            source=self.source,
            enable=tuple(name for name, _ in enable),
            disable=tuple(name for name, _ in disable),
            base_image_registries=tuple(dict.fromkeys(registries)),
            lines=tuple(lines),
        )


def parse_check_settings(text: str, source: Path) -> CheckSettings:
    """Parse the `checks:` section of kubeward.yaml `text`; other sections are not read here."""
    root, _ = compose_yaml(text, str(source), CheckSettingsError, _MAX_DEPTH)
    if root is None:
        return CheckSettings(source=source)
    if not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1
        raise CheckSettingsError(f"{source}:{line}: expected a mapping at the top level")
    sections = [
        (key, value)
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode) and key.value == "checks"
    ]
    if len(sections) > 1:
        line = sections[1][0].start_mark.line + 1
        raise CheckSettingsError(f"{source}:{line}: duplicate key 'checks'")
    if not sections:
        return CheckSettings(source=source)
    return _Section(source).parse(sections[0][1])


def load_check_settings(path: Path | None) -> CheckSettings:
    """The `checks:` settings of the config file at `path`; the defaults when `path` is None."""
    if path is None:
        return CheckSettings()
    try:
        # O_NONBLOCK so that a FIFO planted under the config file's name cannot hang the scan.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise CheckSettingsError(f"{path}: config file is not a regular file")
            data = handle.read(MAX_CONFIG_FILE_SIZE + 1)
    except OSError as exc:
        raise CheckSettingsError(f"{path}: cannot read config file: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_FILE_SIZE:
        raise CheckSettingsError(f"{path}: config file is larger than 1 MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CheckSettingsError(f"{path}: config file is not UTF-8 text") from None
    return parse_check_settings(text, path)
