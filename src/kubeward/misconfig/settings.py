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

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from kubeward.config_file import SectionReader, find_section, read_config_text
from kubeward.errors import KubewardError
from kubeward.misconfig.engine import CheckMeta, Selection

SECTION_KEYS = ("enable", "disable", "base_image_registries")
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


def _parse_section(node: yaml.Node, source: Path) -> CheckSettings:
    reader = SectionReader(source, "checks", SECTION_KEYS, CheckSettingsError)
    fields = reader.fields(node)
    if fields is None:
        return CheckSettings(source=source)
    enable = reader.strings(fields, "enable", strip=True)
    disable = reader.strings(fields, "disable", strip=True)
    registries: list[str] = []
    for host, line in reader.strings(fields, "base_image_registries", strip=True):
        if not _HOST.fullmatch(host):
            raise CheckSettingsError(
                f"{source}:{line}: checks.base_image_registries: {host!r} is "
                "not a registry host (write it as host, host:port or host/path-prefix)"
            )
        registries.append(host.lower())
    lines = [(f"enable:{name}", line) for name, line in enable]
    lines += [(f"disable:{name}", line) for name, line in disable]
    return CheckSettings(
        source=source,
        enable=tuple(name for name, _ in enable),
        disable=tuple(name for name, _ in disable),
        base_image_registries=tuple(dict.fromkeys(registries)),
        lines=tuple(lines),
    )


def parse_check_settings(text: str, source: Path) -> CheckSettings:
    """Parse the `checks:` section of kubeward.yaml `text`; other sections are not read here."""
    node, _ = find_section(text, source, "checks", CheckSettingsError)
    return CheckSettings(source=source) if node is None else _parse_section(node, source)


def load_check_settings(path: Path | None) -> CheckSettings:
    """The `checks:` settings of the config file at `path`; the defaults when `path` is None."""
    if path is None:
        return CheckSettings()
    return parse_check_settings(read_config_text(path, CheckSettingsError), path)
