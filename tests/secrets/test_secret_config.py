"""kubeward.yaml `secrets:` section: parsing, one-line errors with file:line, allowlists,
the opt-in default test-fixture allowlist and its notice, and the scanner it builds."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from kubeward.config_file import CONFIG_FILE_NAME, find_config
from kubeward.errors import KubewardError
from kubeward.secrets.config import (
    DEFAULT_TEST_ALLOWLIST,
    SecretConfig,
    SecretConfigError,
    load_secret_config,
)

RULES = r"""
placeholders: [changeme]
rules:
  - id: test-token
    title: Test token
    severity: HIGH
    keywords: [tok_]
    regex: '\b(tok_[A-Za-z0-9]{16})\b'
    secret_group: 1
  - id: other-token
    title: Other token
    severity: LOW
    keywords: [oth_]
    regex: '\b(oth_[A-Za-z0-9]{16})\b'
    secret_group: 1
"""

CONFIG = r"""# kubeward settings
vuln:
  ignore-unfixed: true   # another section: not read here
secrets:
  rules:
    - id: acme-key
      title: ACME key
      severity: CRITICAL
      keywords: [acme_]
      regex: '\b(acme_[a-f0-9]{20})\b'
      secret_group: 1
  disable: [other-token]
  allow: ['^tok_0{16}$']
  allow_paths: ['vendor/**', '**/*.lock']
  default_allowlist: true
"""

TOKEN = b"tok_AbCdEfGh12345678"


def write(tmp_path: Path, text: str, name: str = CONFIG_FILE_NAME) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    return write(tmp_path, RULES, "rules.yaml")


def test_no_config_means_defaults() -> None:
    config = load_secret_config(None)
    assert config == SecretConfig()
    assert config.path_allowlist() == ()
    assert config.notice() is None
    assert config.allow_regexes() == ()


def test_full_section(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG)
    config = load_secret_config(path)
    assert config.source == path
    assert config.rules == (
        {
            "id": "acme-key",
            "title": "ACME key",
            "severity": "CRITICAL",
            "keywords": ["acme_"],
            "regex": r"\b(acme_[a-f0-9]{20})\b",
            "secret_group": 1,
        },
    )
    assert config.rule_lines == (6,)
    assert config.disable == ("other-token",)
    assert config.disable_lines == (12,)
    assert config.allow == ("^tok_0{16}$",)
    assert config.allow_regexes() == (re.compile(rb"^tok_0{16}$"),)
    assert config.allow_paths == ("vendor/**", "**/*.lock")
    assert config.default_allowlist is True
    assert config.path_allowlist() == ("vendor/**", "**/*.lock", *DEFAULT_TEST_ALLOWLIST)


@pytest.mark.parametrize(
    "text",
    ["", "# only comments\n", "vuln: {x: 1}\n", "secrets:\n", "secrets: {}\n"],
)
def test_empty_section_means_defaults(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert load_secret_config(path) == SecretConfig(source=path)


def test_default_allowlist_is_off_and_silent_unless_enabled(tmp_path: Path) -> None:
    off = load_secret_config(write(tmp_path, "secrets:\n  allow_paths: ['a/**']\n"))
    assert off.default_allowlist is False
    assert off.path_allowlist() == ("a/**",)
    assert off.notice() is None
    on = load_secret_config(write(tmp_path, "secrets:\n  default_allowlist: true\n"))
    assert on.notice() == (
        "secret scanning skipped paths matching the default test-fixture allowlist: "
        "**/testdata/**, **/test/fixtures/**, **/tests/fixtures/**, **/spec/fixtures/**, "
        "**/__fixtures__/**, **/src/test/resources/**, **/*_test.go, **/test_*.py, "
        "**/*_test.py, **/*.test.js, **/*.test.ts, **/*.spec.js, **/*.spec.ts"
    )
    explicit_off = load_secret_config(write(tmp_path, "secrets:\n  default_allowlist: false\n"))
    assert explicit_off.notice() is None


def test_scanner_applies_the_config(tmp_path: Path, rules_file: Path) -> None:
    config = load_secret_config(write(tmp_path, CONFIG))
    scanner = config.scanner(rules_file)
    assert [rule.id for rule in scanner.rules] == ["test-token", "acme-key"]
    data = (
        TOKEN + b"\n" + b"oth_AbCdEfGh12345678\n" + b"tok_0000000000000000\n"
        b"key = acme_0123456789abcdef0123\n"
    )
    assert [(m.rule.id, m.line, m.redacted) for m in scanner.scan(data, "src/app.py")] == [
        ("test-token", 1, "tok_****"),  # other-token is disabled; tok_000... is allowed
        ("acme-key", 4, "acme****"),
    ]
    assert scanner.scan(data, "vendor/lib/app.py") == []
    assert scanner.scan(data, "Cargo.lock") == []
    assert scanner.scan(data, "pkg/testdata/keys.txt") == []  # the default allowlist
    assert scanner.scan(data, "server/auth_test.go") == []
    assert len(scanner.scan(data, "server/auth.go")) == 2


def test_disabled_rule_can_be_replaced(tmp_path: Path, rules_file: Path) -> None:
    text = (
        "secrets:\n  disable: [test-token]\n  rules:\n"
        "    - {id: test-token, title: Stricter, severity: LOW, keywords: [tok_],"
        " regex: 'tok_[A-Z]{4}'}\n"
    )
    rules = load_secret_config(write(tmp_path, text)).load_rules(rules_file)
    assert [(rule.id, rule.title) for rule in rules] == [
        ("other-token", "Other token"),
        ("test-token", "Stricter"),
    ]


def test_errors_known_once_rules_are_loaded(tmp_path: Path, rules_file: Path) -> None:
    path = write(tmp_path, "secrets:\n  disable:\n    - test-token\n    - no-such-rule\n")
    with pytest.raises(SecretConfigError) as caught:
        load_secret_config(path).load_rules(rules_file)
    assert str(caught.value) == f"{path}:4: secrets.disable: unknown secret rule id 'no-such-rule'"
    path = write(
        tmp_path,
        "secrets:\n  rules:\n    - {id: other-token, title: T, severity: LOW, keywords: [oth_],"
        " regex: x}\n",
    )
    with pytest.raises(SecretConfigError) as caught:
        load_secret_config(path).load_rules(rules_file)
    assert str(caught.value) == (
        f"{path}:3: secret rule 'other-token': duplicate id: the rules file already defines it "
        "(add it to secrets.disable to replace it)"
    )


RULE = "{id: r1, title: R, severity: HIGH, keywords: [abcd], regex: a}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "secrets:\n  rule: []\n",
            "{f}:2: secrets: unknown key 'rule' (expected one of: rules, disable, allow, "
            "allow_paths, default_allowlist)",
        ),
        ("secrets:\n  allow: []\n  allow: []\n", "{f}:3: secrets: duplicate key 'allow'"),
        ("secrets: [a]\n", "{f}:1: 'secrets' must be a mapping"),
        ("secrets: {}\nsecrets: {}\n", "{f}:2: duplicate key 'secrets'"),
        ("- secrets\n", "{f}:1: expected a mapping at the top level"),
        ("secrets:\n  rules: {}\n", "{f}:2: secrets.rules must be a list of rules"),
        (
            "secrets:\n  rules:\n    - " + RULE + "\n    - {id: r2, title: R, severity: HIGH, "
            "keywords: [abcd], regex: '(x'}\n",
            "{f}:4: secret rule 'r2': bad regex in 'regex': missing ), unterminated subpattern at "
            "position 0",
        ),
        (
            "secrets:\n  rules:\n    - {id: r1, title: R, severity: HIGH, regex: a}\n",
            "{f}:3: secret rule 'r1': missing key 'keywords'",
        ),
        (
            "secrets:\n  rules:\n    - " + RULE + "\n    - " + RULE + "\n",
            "{f}:4: secret rule 'r1': duplicate id (first at line 3)",
        ),
        ("secrets:\n  disable: other-token\n", "{f}:2: secrets.disable must be a list of strings"),
        (
            "secrets:\n  disable: [1]\n",
            "{f}:2: secrets.disable must be a list of non-empty strings",
        ),
        (
            "secrets:\n  allow:\n    - ok\n    - '(unclosed'\n",
            "{f}:4: secrets.allow: bad regex '(unclosed': missing ), unterminated subpattern at "
            "position 0",
        ),
        (
            "secrets:\n  allow_paths: [[a]]\n",
            "{f}:2: secrets.allow_paths must be a list of non-empty strings",
        ),
        (
            "secrets:\n  default_allowlist: 'yes'\n",
            "{f}:2: secrets.default_allowlist must be true or false",
        ),
        ("base: &b [x]\nsecrets:\n  disable: *b\n", "{f}:3: YAML aliases are not allowed"),
        ("secrets:\n  allow: [\n", "{f}:3: malformed YAML: did not find expected node content"),
        ("secrets: " + "[" * 40 + "]" * 40 + "\n", "{f}:1: YAML nested too deeply"),
    ],
)
def test_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SecretConfigError) as caught:
        load_secret_config(path)
    assert str(caught.value) == message.format(f=path)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, KubewardError)


def test_file_level_errors(tmp_path: Path) -> None:
    big = write(tmp_path, "# " + "x" * (1024 * 1024) + "\n", "big.yaml")
    with pytest.raises(SecretConfigError) as caught:
        load_secret_config(big)
    assert str(caught.value) == f"{big}: config file is larger than 1 MiB"

    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"secrets:\n  allow: ['caf\xe9']\n")
    with pytest.raises(SecretConfigError) as caught:
        load_secret_config(latin1)
    assert str(caught.value) == f"{latin1}: config file is not UTF-8 text"

    missing = tmp_path / "missing.yaml"
    with pytest.raises(SecretConfigError) as caught:
        load_secret_config(missing)
    assert str(caught.value) == f"{missing}: cannot read config file: No such file or directory"

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SecretConfigError) as caught:
        load_secret_config(fifo)  # must not block waiting for a writer
    assert str(caught.value) == f"{fifo}: config file is not a regular file"

    with pytest.raises(SecretConfigError) as caught:
        load_secret_config(tmp_path)
    assert str(caught.value) == f"{tmp_path}: config file is not a regular file"


def test_exactly_one_mebibyte_is_accepted(tmp_path: Path) -> None:
    body = "secrets:\n  default_allowlist: true\n"
    text = body + "#" * (1024 * 1024 - len(body) - 1) + "\n"
    path = write(tmp_path, text)
    assert path.stat().st_size == 1024 * 1024
    assert load_secret_config(path).default_allowlist is True


def test_find_config_file(tmp_path: Path) -> None:
    scanned = tmp_path / "repo"
    cwd = tmp_path / "cwd"
    scanned.mkdir()
    cwd.mkdir()
    assert find_config(scanned, cwd) is None
    write(cwd, "secrets: {}\n")
    assert find_config(scanned, cwd) == cwd / CONFIG_FILE_NAME
    assert find_config(None, cwd) == cwd / CONFIG_FILE_NAME
    write(scanned, "secrets: {}\n")
    assert find_config(scanned, cwd) == scanned / CONFIG_FILE_NAME  # the scanned dir wins
    (scanned / "sub").mkdir()
    (scanned / "sub" / CONFIG_FILE_NAME).mkdir()  # a directory by that name is not a config
    assert find_config(scanned / "sub", tmp_path) is None
