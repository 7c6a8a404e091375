"""The `checks:` section of kubeward.yaml: which misconfiguration checks run, which
registries base images may come from, and the user's own Kubernetes checks (CEL).

    checks:
      enable: [KW-DF-001, cis]        # ids or tags; empty or absent means every check
      disable: [KW-DF-021, best-practice]
      base_image_registries: [registry.example.com, ghcr.io]
      custom:                         # compiled and run by kubernetes/custom.py
        - id: ACME-001
          title: Deployments need at least 2 replicas
          severity: MEDIUM
          expression: "object.spec.replicas >= 2"

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

from kubeward.config_file import (
    NULL_TAG,
    STR_TAG,
    SectionReader,
    find_section,
    read_config_text,
)
from kubeward.errors import KubewardError
from kubeward.misconfig.engine import CheckMeta, Selection
from kubeward.model import Severity

SECTION_KEYS = ("enable", "disable", "base_image_registries", "custom")
CUSTOM_KEYS = (
    "id", "title", "severity", "expression", "message", "match", "failure_policy",
    "remediation", "tags",
)  # fmt: skip
MATCH_KEYS = ("kinds",)
FAILURE_POLICIES = ("Fail", "Ignore")  # as in ValidatingAdmissionPolicy
CUSTOM_TAG = "custom"  # every custom check has it: `disable: [custom]` turns them all off
# Expressions are compiled at startup and run once per object: a cap keeps both bounded.
MAX_EXPRESSION_LENGTH = 4096
MAX_MESSAGE_LENGTH = 1024
_CUSTOM_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
# A registry host, optionally with a port and a path prefix: "ghcr.io", "localhost:5000",
# "ghcr.io/my-org" (only images under that prefix).
_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
)


class CheckSettingsError(KubewardError):
    """A kubeward.yaml whose `checks:` section cannot be used as written."""


@dataclass(frozen=True, slots=True)
class CustomCheckSpec:
    """One entry of `checks.custom`, as written (custom.py compiles it).

    `expression_line` is the line of the expression's first line of text; `literal` says
    whether the expression's own line breaks are kept (a `|` block), so that a CEL error on
    its line N is on file line `expression_line + N - 1`. `kinds` None means every kind."""

    id: str
    title: str
    severity: Severity
    expression: str
    line: int
    expression_line: int
    literal: bool = False
    message: str = ""
    message_line: int = 0
    kinds: tuple[str, ...] | None = None
    failure_policy: str = "Fail"
    remediation: str = ""
    tags: tuple[str, ...] = ()


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
    custom: tuple[CustomCheckSpec, ...] = ()

    def selection(self) -> Selection:
        """The engine's Selection for these settings."""
        return Selection(enable=frozenset(self.enable), disable=frozenset(self.disable))

    def validate(self, metadata: Mapping[str, CheckMeta], extra_ids: Collection[str] = ()) -> None:
        """Refuse a name that is neither a known check id (or one of `extra_ids`, or a custom
        check's id) nor a tag."""
        known = set(metadata) | set(extra_ids)
        for spec in self.custom:
            known.update((spec.id, CUSTOM_TAG, *spec.tags))
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
        custom=_custom_checks(reader, fields.get("custom")),
    )


def _custom_checks(reader: SectionReader, node: yaml.Node | None) -> tuple[CustomCheckSpec, ...]:
    """The `custom:` list: every entry a mapping of known keys, ids unique."""
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG):
        return ()
    if not isinstance(node, yaml.SequenceNode):
        raise reader.fail(node, "checks.custom must be a list of checks")
    specs: list[CustomCheckSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(node.value):
        spec = _custom_check(reader.source, index, item)
        if spec.id in seen:
            raise reader.fail(item, f"checks.custom: id {spec.id!r} is defined twice")
        seen.add(spec.id)
        specs.append(spec)
    return tuple(specs)


def _custom_check(source: Path, index: int, node: yaml.Node) -> CustomCheckSpec:
    name = f"checks.custom[{index}]"
    reader = SectionReader(source, name, CUSTOM_KEYS, CheckSettingsError)
    fields = reader.fields(node) if isinstance(node, yaml.MappingNode) else None
    if fields is None:
        raise reader.fail(node, f"{name} must be a mapping with id, title, severity, expression")
    for key in ("id", "title", "severity", "expression"):
        if key not in fields:
            raise reader.fail(node, f"{name}: missing {key!r}")
    check_id, _ = _text(reader, fields, "id")
    if not _CUSTOM_ID.fullmatch(check_id):
        raise reader.fail(
            fields["id"],
            f"{name}.id: {check_id!r} is not an id (a letter, then letters, digits, '.', '_', "
            "'-'; at most 64 characters)",
        )
    if check_id.upper().startswith("KW-"):
        raise reader.fail(
            fields["id"], f"{name}.id: {check_id!r}: ids starting with KW- are kubeward's own"
        )
    title, _ = _text(reader, fields, "title")
    severity_text, _ = _text(reader, fields, "severity")
    try:
        severity = Severity.parse(severity_text)
    except KeyError:
        severity = Severity.UNKNOWN
    if severity is Severity.UNKNOWN:
        raise reader.fail(
            fields["severity"],
            f"{name}.severity: {severity_text!r} is not one of CRITICAL, HIGH, MEDIUM, LOW",
        )
    expression, expression_line = _text(reader, fields, "expression", MAX_EXPRESSION_LENGTH)
    message, message_line = _text(reader, fields, "message")
    policy, _ = _text(reader, fields, "failure_policy")
    if policy and policy not in FAILURE_POLICIES:
        raise reader.fail(
            fields["failure_policy"], f"{name}.failure_policy: {policy!r} is not Fail or Ignore"
        )
    remediation, _ = _text(reader, fields, "remediation")
    tags = tuple(dict.fromkeys(tag for tag, _ in reader.strings(fields, "tags", strip=True)))
    expression_node = fields["expression"]
    return CustomCheckSpec(
        id=check_id,
        title=title,
        severity=severity,
        expression=expression,
        line=node.start_mark.line + 1,
        expression_line=expression_line,
        literal=isinstance(expression_node, yaml.ScalarNode) and expression_node.style == "|",
        message=message,
        message_line=message_line,
        kinds=_kinds(source, name, fields.get("match")),
        failure_policy=policy or "Fail",
        remediation=remediation,
        tags=tags,
    )


def _text(
    reader: SectionReader, fields: dict[str, yaml.Node], key: str, limit: int = MAX_MESSAGE_LENGTH
) -> tuple[str, int]:
    """The non-empty string under `key`, stripped, and the line its text starts on; ("", 0)
    when the key is absent (required keys are checked by the caller)."""
    node = fields.get(key)
    if node is None:
        return "", 0
    if not isinstance(node, yaml.ScalarNode) or node.tag != STR_TAG or not node.value.strip():
        raise reader.fail(node, f"{reader.name}.{key} must be a non-empty string")
    if len(node.value) > limit:
        raise reader.fail(node, f"{reader.name}.{key} is longer than {limit} characters")
    text = node.value.strip()
    # a block scalar's text starts on the line after its `|` or `>` indicator
    line = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
    line += node.value[: node.value.index(text[0])].count("\n")
    return text, line


def _kinds(source: Path, name: str, node: yaml.Node | None) -> tuple[str, ...] | None:
    """`match: {kinds: [...]}`; None (every kind) when `match` is absent."""
    if node is None:
        return None
    reader = SectionReader(source, f"{name}.match", MATCH_KEYS, CheckSettingsError)
    fields = reader.fields(node)
    if not fields or "kinds" not in fields:
        raise reader.fail(node, f"{name}.match must be a mapping with 'kinds'")
    kinds = reader.strings(fields, "kinds", strip=True)
    if not kinds:
        raise reader.fail(fields["kinds"], f"{name}.match.kinds must name at least one kind")
    for kind, line in kinds:
        if not _KIND.fullmatch(kind):
            raise CheckSettingsError(f"{source}:{line}: {name}.match.kinds: {kind!r} is not a kind")
    return tuple(dict.fromkeys(kind for kind, _ in kinds))


def parse_check_settings(text: str, source: Path) -> CheckSettings:
    """Parse the `checks:` section of kubeward.yaml `text`; other sections are not read here."""
    node, _ = find_section(text, source, "checks", CheckSettingsError)
    return CheckSettings(source=source) if node is None else _parse_section(node, source)


def load_check_settings(path: Path | None) -> CheckSettings:
    """The `checks:` settings of the config file at `path`; the defaults when `path` is None."""
    if path is None:
        return CheckSettings()
    return parse_check_settings(read_config_text(path, CheckSettingsError), path)
