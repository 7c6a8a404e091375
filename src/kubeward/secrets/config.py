"""The `secrets:` section of kubeward.yaml: custom rules, disabled rules and allowlists.

The file may come from the scanned repository, so it is read as untrusted input: a size
cap, no YAML aliases, strict keys and types, every mistake one line with file and line. The
default test-fixture path allowlist is off unless asked for, and when on it is announced in
the report header (`notice`), never applied silently: hiding findings must be visible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kubeward.config_file import (
    BOOL_TAG,
    CONFIG_FILE_NAME,
    NULL_TAG,
    SectionReader,
    find_section,
    read_config_text,
)
from kubeward.errors import KubewardError
from kubeward.ignore import glob_regex
from kubeward.secrets.engine import (
    MAX_FILE_BYTES,
    SecretRule,
    SecretRuleError,
    SecretScanner,
    load_rules,
    parse_rule,
    read_rule_file,
)

_SECTION_KEYS = ("rules", "disable", "allow", "allow_paths", "default_allowlist")

# Paths where test suites keep fake credentials on purpose. Off by default: a real key
# committed under testdata/ is still a leaked key.
DEFAULT_TEST_ALLOWLIST: tuple[str, ...] = (
    "**/testdata/**",
    "**/test/fixtures/**",
    "**/tests/fixtures/**",
    "**/spec/fixtures/**",
    "**/__fixtures__/**",
    "**/src/test/resources/**",
    "**/*_test.go",
    "**/test_*.py",
    "**/*_test.py",
    "**/*.test.js",
    "**/*.test.ts",
    "**/*.spec.js",
    "**/*.spec.ts",
)


class SecretConfigError(KubewardError):
    """A kubeward.yaml whose `secrets:` section cannot be used as written."""


@dataclass(frozen=True, slots=True)
class SecretConfig:
    """The `secrets:` section; the defaults mean "packaged rules, nothing allowlisted".

    The `*_lines` fields map entries to their line in `source`, for messages raised once the
    rule file is known (an unknown disabled id, a custom id clashing with a packaged one).
    """

    source: Path | None = None
    rules: tuple[Mapping[str, object], ...] = ()
    disable: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    allow_paths: tuple[str, ...] = ()
    default_allowlist: bool = False
    rule_lines: tuple[int, ...] = field(default=(), compare=False)
    disable_lines: tuple[int, ...] = field(default=(), compare=False)

    def path_allowlist(self) -> tuple[str, ...]:
        """Globs of paths not scanned: the user's, plus the default ones when enabled."""
        if self.default_allowlist:
            return self.allow_paths + DEFAULT_TEST_ALLOWLIST
        return self.allow_paths

    def notice(self) -> str | None:
        """The line the report header must show when the default allowlist is on, else None."""
        if not self.default_allowlist:
            return None
        return (
            "secret scanning skipped paths matching the default test-fixture allowlist: "
            + ", ".join(DEFAULT_TEST_ALLOWLIST)
        )

    def allow_regexes(self) -> tuple[re.Pattern[bytes], ...]:
        """The `allow` regexes compiled for matching raw secrets (checked at load time)."""
        return tuple(re.compile(text.encode("utf-8")) for text in self.allow)

    def _where(self, lines: Sequence[int], index: int) -> str:
        source = str(self.source or CONFIG_FILE_NAME)
        return f"{source}:{lines[index]}" if index < len(lines) else source

    def load_rules(self, rules_path: Path | None = None) -> list[SecretRule]:
        """The rule file's rules (packaged when `rules_path` is None) as this config edits them."""
        known = {rule.id for rule in read_rule_file(rules_path).rules}
        off = set(self.disable)
        for index, rule_id in enumerate(self.disable):
            if rule_id not in known:
                raise SecretConfigError(
                    f"{self._where(self.disable_lines, index)}: secrets.disable: "
                    f"unknown secret rule id {rule_id!r}"
                )
        for index, entry in enumerate(self.rules):
            custom_id = str(entry.get("id"))
            if custom_id in known and custom_id not in off:
                raise SecretConfigError(
                    f"{self._where(self.rule_lines, index)}: secret rule {custom_id!r}: "
                    "duplicate id: the rules file already defines it (add it to "
                    "secrets.disable to replace it)"
                )
        try:
            return load_rules(rules_path, self.rules, self.disable)
        except SecretRuleError as exc:  # should not happen: every entry was checked on load
            raise SecretConfigError(f"{self.source or CONFIG_FILE_NAME}: {exc}") from None

    def scanner(
        self, rules_path: Path | None = None, max_bytes: int = MAX_FILE_BYTES
    ) -> SecretScanner:
        """A scanner with this config's rules, placeholders and allowlists."""
        return SecretScanner(
            self.load_rules(rules_path),
            read_rule_file(rules_path).placeholders,
            allow_paths=self.path_allowlist(),
            max_bytes=max_bytes,
            allow=self.allow_regexes(),
        )


class _Section(SectionReader):
    """Checks the node tree of the `secrets:` section, naming file and line in every error."""

    def __init__(self, source: Path, construct: Callable[[yaml.Node], object]) -> None:
        super().__init__(source, "secrets", _SECTION_KEYS, SecretConfigError)
        self.construct = construct

    def parse(self, node: yaml.Node) -> SecretConfig:
        fields = self.fields(node)
        if fields is None:
            return SecretConfig(source=self.source)
        rules, rule_lines = self.rules(fields.get("rules"))
        disable = self.strings(fields, "disable")
        allow = self.strings(fields, "allow")
        for text, line in allow:
            try:
                re.compile(text.encode("utf-8"))
            except re.error as exc:
                message = " ".join(str(exc).split())
                raise SecretConfigError(
                    f"{self.source}:{line}: secrets.allow: bad regex {text!r}: {message}"
                ) from None
        paths = self.strings(fields, "allow_paths")
        for glob, line in paths:
            try:
                glob_regex(glob)
            except re.error:
                raise SecretConfigError(
                    f"{self.source}:{line}: secrets.allow_paths: invalid glob {glob!r}"
                ) from None
        default = False
        if "default_allowlist" in fields:
            value = fields["default_allowlist"]
            if not isinstance(value, yaml.ScalarNode) or value.tag != BOOL_TAG:
                raise self.fail(value, "secrets.default_allowlist must be true or false")
            default = str(value.value).lower() in ("true", "yes", "on", "y")
        return SecretConfig(
            source=self.source,
            rules=tuple(rules),
            disable=tuple(text for text, _ in disable),
            allow=tuple(text for text, _ in allow),
            allow_paths=tuple(glob for glob, _ in paths),
            default_allowlist=default,
            rule_lines=tuple(rule_lines),
            disable_lines=tuple(line for _, line in disable),
        )

    def rules(self, node: yaml.Node | None) -> tuple[list[Mapping[str, object]], list[int]]:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG):
            return [], []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "secrets.rules must be a list of rules")
        rules: list[Mapping[str, object]] = []
        lines: list[int] = []
        seen: dict[str, int] = {}
        for number, item in enumerate(node.value, 1):
            line = item.start_mark.line + 1
            where = f"{self.source}:{line}"
            value = self.construct(item)
            try:
                rule = parse_rule(value, where, number)
            except SecretRuleError as exc:
                raise SecretConfigError(str(exc)) from None
            if rule.id in seen:
                raise SecretConfigError(
                    f"{where}: secret rule {rule.id!r}: duplicate id (first at line "
                    f"{seen[rule.id]})"
                )
            seen[rule.id] = line
            assert isinstance(value, Mapping)  # parse_rule refused anything else
            rules.append(value)
            lines.append(line)
        return rules, lines


def parse_secret_config(text: str, source: Path) -> SecretConfig:
    """Parse the `secrets:` section of kubeward.yaml `text`; other sections are not read here."""
    node, construct = find_section(text, source, "secrets", SecretConfigError)
    return SecretConfig(source=source) if node is None else _Section(source, construct).parse(node)


def load_secret_config(path: Path | None) -> SecretConfig:
    """The `secrets:` settings of the config file at `path`; the defaults when `path` is None."""
    if path is None:
        return SecretConfig()
    return parse_secret_config(read_config_text(path, SecretConfigError), path)
