"""The ignore file: parsing every key, matching, expiry, unused entries and exact error lines."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.errors import KubewardError
from kubeward.ignore import (
    IgnoreEntry,
    IgnoreFileError,
    IgnoreOutcome,
    IgnoreRules,
    find_ignore_file,
    glob_regex,
    load_ignore_file,
    parse_ignore_text,
)
from kubeward.model import Finding, Location, Package, Severity

TODAY = date(2024, 5, 1)

OPENSSL = Package(
    name="libssl3",
    version="3.0.11-1~deb12u2",
    ecosystem="deb",
    purl="pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
    location=Location(path="var/lib/dpkg/status"),
)
BABEL = Package(
    name="@babel/core",
    version="7.23.2",
    ecosystem="npm",
    purl="pkg:npm/%40babel/core@7.23.2",
    location=Location(path="app/node_modules/@babel/core/package.json"),
)


def vuln(rule_id: str, package: Package, path: str | None = None) -> Finding:
    return Finding(
        kind="vulnerability",
        rule_id=rule_id,
        title="t",
        severity=Severity.HIGH,
        location=Location(path=path if path is not None else package.location.path),
        message="m",
        package=package,
    )


def secret(path: str) -> Finding:
    return Finding(
        kind="secret",
        rule_id="aws-access-key-id",
        title="AWS access key",
        severity=Severity.CRITICAL,
        location=Location(path=path, line=2),
        message="AKIA****************",
    )


ALIASES = {"CVE-2023-5678": ("GHSA-aaaa-bbbb-cccc", "DSA-5532-1")}


def aliases_of(finding: Finding) -> Iterable[str]:
    return ALIASES.get(finding.rule_id, ())


def no_aliases(finding: Finding) -> Iterable[str]:
    return ()


def write(tmp_path: Path, text: str | bytes, name: str = ".kubewardignore.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def rules_from(tmp_path: Path, text: str) -> IgnoreRules:
    return load_ignore_file(write(tmp_path, text))


def test_every_key_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
# accepted risks, reviewed monthly
ignore:
  - id: CVE-2023-5678
    package: libssl3@3.0.11-1~deb12u2
    purl: pkg:deb/debian/libssl3?arch=amd64
    path: var/lib/dpkg/**
    expires: 2024-06-30
    reason: not reachable, DH params are fixed
  - id: aws-access-key-id
    path: "tests/fixtures/*.env"
    expires: "2025-01-31"
  - id: CVE-2023-0001
    package: "@babel/core"
  - id: CVE-2023-0002
    package: "@babel/core@7.23.2"
""",
    )
    rules = load_ignore_file(path)
    assert rules.source == path
    assert rules.entries == (
        IgnoreEntry(
            id="CVE-2023-5678",
            line=3,
            package_name="libssl3",
            package_version="3.0.11-1~deb12u2",
            purl="pkg:deb/debian/libssl3?arch=amd64",
            path="var/lib/dpkg/**",
            expires=date(2024, 6, 30),
            reason="not reachable, DH params are fixed",
        ),
        IgnoreEntry(
            id="aws-access-key-id",
            line=9,
            path="tests/fixtures/*.env",
            expires=date(2025, 1, 31),
        ),
        IgnoreEntry(id="CVE-2023-0001", line=12, package_name="@babel/core"),
        IgnoreEntry(
            id="CVE-2023-0002", line=14, package_name="@babel/core", package_version="7.23.2"
        ),
    )


@pytest.mark.parametrize(
    "text",
    ["", "# nothing yet\n", "ignore:\n", "ignore: []\n", "{}\n", "\ufeffignore: []\n"],
)
def test_empty_files_ignore_nothing(tmp_path: Path, text: str) -> None:
    rules = rules_from(tmp_path, text)
    assert rules.entries == ()
    finding = vuln("CVE-2023-5678", OPENSSL)
    assert rules.apply([finding], aliases_of, TODAY) == IgnoreOutcome(
        kept=(finding,), suppressed=(), expired=(), unused=()
    )


@pytest.mark.parametrize(
    ("today", "applies"),
    [
        (date(2024, 4, 30), True),
        (date(2024, 5, 1), True),  # applies through the whole of its expiry date
        (date(2024, 5, 2), False),
        (date(2025, 1, 1), False),
    ],
)
def test_expiry_boundary(tmp_path: Path, today: date, applies: bool) -> None:
    rules = rules_from(tmp_path, "ignore:\n  - id: CVE-2023-5678\n    expires: 2024-05-01\n")
    entry = rules.entries[0]
    finding = vuln("CVE-2023-5678", OPENSSL)
    outcome = rules.apply([finding], no_aliases, today)
    if applies:
        assert outcome == IgnoreOutcome(
            kept=(), suppressed=((finding, entry),), expired=(), unused=()
        )
    else:
        # An expired entry suppresses nothing and is reported as expired, not as unused.
        assert outcome == IgnoreOutcome(kept=(finding,), suppressed=(), expired=(entry,), unused=())


def test_expired_entry_that_would_match_nothing_is_still_reported_expired(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, "ignore:\n  - id: CVE-1999-0001\n    expires: 2020-01-01\n")
    outcome = rules.apply([], no_aliases, TODAY)
    assert outcome.expired == rules.entries
    assert outcome.unused == ()


@pytest.mark.parametrize(
    ("entry_id", "suppressed"),
    [
        ("CVE-2023-5678", True),
        ("cve-2023-5678", True),
        ("GHSA-aaaa-bbbb-cccc", True),
        ("ghsa-AAAA-bbbb-cccc", True),
        ("DSA-5532-1", True),
        ("CVE-2023-5679", False),
        ("GHSA-aaaa-bbbb", False),
    ],
)
def test_id_matches_rule_id_or_any_alias(tmp_path: Path, entry_id: str, suppressed: bool) -> None:
    rules = rules_from(tmp_path, f"ignore:\n  - id: {entry_id}\n")
    finding = vuln("CVE-2023-5678", OPENSSL)
    outcome = rules.apply([finding], aliases_of, TODAY)
    assert outcome.kept == (() if suppressed else (finding,))
    assert outcome.unused == (() if suppressed else rules.entries)


def test_aliases_of_the_finding_not_of_the_entry(tmp_path: Path) -> None:
    # The entry names the CVE; a finding reported under its GHSA id carries the CVE as alias.
    rules = rules_from(tmp_path, "ignore:\n  - id: CVE-2023-5678\n")
    finding = vuln("GHSA-aaaa-bbbb-cccc", BABEL)
    outcome = rules.apply(
        [finding],
        lambda f: ("CVE-2023-5678",) if f.rule_id == "GHSA-aaaa-bbbb-cccc" else (),
        TODAY,
    )
    assert outcome.suppressed == ((finding, rules.entries[0]),)
    assert rules.apply([finding], no_aliases, TODAY).kept == (finding,)


@pytest.mark.parametrize(
    ("package", "suppressed"),
    [
        ("libssl3", True),
        ("libssl3@3.0.11-1~deb12u2", True),
        ("libssl3@3.0.11-1~deb12u3", False),
        ("libssl", False),
        ("LIBSSL3", False),
    ],
)
def test_package_name_and_version(tmp_path: Path, package: str, suppressed: bool) -> None:
    rules = rules_from(tmp_path, f"ignore:\n  - id: CVE-2023-5678\n    package: '{package}'\n")
    finding = vuln("CVE-2023-5678", OPENSSL)
    assert rules.apply([finding], no_aliases, TODAY).kept == (() if suppressed else (finding,))


@pytest.mark.parametrize(
    ("package", "suppressed"),
    [("@babel/core", True), ("@babel/core@7.23.2", True), ("@babel/core@7.0.0", False)],
)
def test_scoped_npm_package_names(tmp_path: Path, package: str, suppressed: bool) -> None:
    rules = rules_from(tmp_path, f"ignore:\n  - id: CVE-2023-0001\n    package: '{package}'\n")
    finding = vuln("CVE-2023-0001", BABEL)
    assert rules.apply([finding], no_aliases, TODAY).kept == (() if suppressed else (finding,))


def test_package_and_purl_entries_never_match_findings_without_a_package(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        "ignore:\n"
        "  - id: aws-access-key-id\n    package: x\n"
        "  - id: aws-access-key-id\n    purl: pkg:pypi/x\n",
    )
    finding = secret("app/.env")
    outcome = rules.apply([finding], no_aliases, TODAY)
    assert outcome.kept == (finding,)
    assert outcome.unused == rules.entries


@pytest.mark.parametrize(
    ("purl", "suppressed"),
    [
        ("pkg:deb/debian/libssl3", True),
        ("pkg:deb/debian/libssl3@3.0.11-1~deb12u2", True),
        ("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-11", False),
        ("pkg:deb/debian/libssl3?arch=amd64", True),
        ("pkg:deb/debian/libssl3?distro=debian-12&arch=amd64", True),
        ("pkg:deb/debian/libssl3?arch=arm64", False),
        ("pkg:deb/debian/libssl3?upstream=openssl", False),
        ("pkg:deb/debian/libssl3@3.0.13-1~deb12u1", False),
        ("pkg:deb/ubuntu/libssl3", False),
        ("pkg:rpm/debian/libssl3", False),
        ("pkg:DEB/debian/libssl3", True),
        ("pkg:deb/debian/libssl3#usr/lib", False),
    ],
)
def test_purl_matching_ignores_qualifiers_unless_given(
    tmp_path: Path, purl: str, suppressed: bool
) -> None:
    rules = rules_from(tmp_path, f"ignore:\n  - id: CVE-2023-5678\n    purl: '{purl}'\n")
    finding = vuln("CVE-2023-5678", OPENSSL)
    assert rules.apply([finding], no_aliases, TODAY).kept == (() if suppressed else (finding,))


def test_purl_entries_skip_packages_with_broken_or_empty_purls(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, "ignore:\n  - id: CVE-1\n    purl: pkg:pypi/x\n")
    broken = vuln("CVE-1", dataclasses.replace(OPENSSL, name="x", purl="not a purl"))
    empty = vuln("CVE-1", dataclasses.replace(OPENSSL, name="x", purl=""))
    assert rules.apply([broken, empty], no_aliases, TODAY).kept == (broken, empty)


def test_npm_purl_with_encoded_scope(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, "ignore:\n  - id: CVE-1\n    purl: pkg:npm/%40babel/core\n")
    finding = vuln("CVE-1", BABEL)
    assert rules.apply([finding], no_aliases, TODAY).kept == ()


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("app/.env", "app/.env", True),
        ("app/.env", "app/.env.bak", False),
        ("*.env", "prod.env", True),
        ("*.env", "config/prod.env", False),  # "*" stays within one segment
        ("**/*.env", "prod.env", True),
        ("**/*.env", "a/b/c/prod.env", True),
        ("tests/**", "tests/fixtures/key.pem", True),
        ("tests/**", "tests", False),
        ("tests/**", "testsuite/x", False),
        ("a/**/b.txt", "a/b.txt", True),
        ("a/**/b.txt", "a/x/y/b.txt", True),
        ("a/**/b.txt", "a/x/y/c.txt", False),
        ("**", "anything/at/all", True),
        ("./app/?.env", "app/x.env", True),
        ("/app/?.env", "app/x.env", True),
        ("app/?.env", "app/xy.env", False),
        ("app/?.env", "app//.env", False),
        ("key[0-9].pem", "key7.pem", True),
        ("key[!0-9].pem", "key7.pem", False),
        ("key[!0-9].pem", "keyx.pem", True),
        ("a[/]b", "a/b", False),
        ("dir with space/#1[", "dir with space/#1[", True),
        ("app/*", "app/x\ny", True),
        ("(x)+.txt", "(x)+.txt", True),
        ("(x)+.txt", "xx.txt", False),
    ],
)
def test_path_globs(pattern: str, path: str, matches: bool) -> None:
    assert (glob_regex(pattern).match(path) is not None) is matches


def test_path_entry_needs_a_finding_path(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, "ignore:\n  - id: KW-IMG-001\n    path: '**'\n")
    finding = Finding(
        kind="misconfiguration",
        rule_id="KW-IMG-001",
        title="t",
        severity=Severity.LOW,
        location=Location(resource="config"),
        message="m",
    )
    assert rules.apply([finding], no_aliases, TODAY).kept == (finding,)


def test_first_matching_entry_wins_and_the_rest_are_unused(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        """\
ignore:
  - id: aws-access-key-id
    path: tests/**
    reason: test fixtures
  - id: aws-access-key-id
    reason: everything else
  - id: aws-access-key-id
    path: docs/*
  - id: CVE-2023-5678
    path: usr/**
""",
    )
    fixture = secret("tests/fixtures/creds.env")
    prod = secret("deploy/prod.env")
    docs = secret("docs/x.md")
    cve = vuln("CVE-2023-5678", OPENSSL)
    outcome = rules.apply([fixture, prod, cve, docs], aliases_of, TODAY)
    first, second, third, fourth = rules.entries
    assert outcome == IgnoreOutcome(
        kept=(cve,),
        suppressed=((fixture, first), (prod, second), (docs, second)),
        expired=(),
        unused=(third, fourth),
    )


def test_kept_findings_keep_their_order(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, "ignore:\n  - id: CVE-2\n")
    findings = [vuln(f"CVE-{n}", OPENSSL) for n in (5, 2, 9, 1)]
    assert rules.apply(findings, no_aliases, TODAY).kept == (
        findings[0],
        findings[2],
        findings[3],
    )


def test_find_ignore_file(tmp_path: Path) -> None:
    assert find_ignore_file(tmp_path) is None
    (tmp_path / ".kubewardignore.yml").write_text("ignore: []\n")
    assert find_ignore_file(tmp_path) is None  # one name only
    path = write(tmp_path, "ignore: []\n")
    assert find_ignore_file(tmp_path) == path


def test_find_ignore_file_skips_a_directory_of_that_name(tmp_path: Path) -> None:
    (tmp_path / ".kubewardignore.yaml").mkdir()
    assert find_ignore_file(tmp_path) is None


F = ".kubewardignore.yaml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ignore: [\n", f"{F}:2: malformed YAML: did not find expected node content"),
        ("\tignore: []\n", f"{F}:1: malformed YAML: found character that cannot start any token"),
        (
            "ignore: []\n---\nignore: []\n",
            f"{F}:2: malformed YAML: but found another document",
        ),
        (
            "base: &b {id: CVE-1}\nignore:\n  - *b\n",
            f"{F}:3: YAML aliases are not allowed",
        ),
        ("ignore:\n  - id: [[[[[[[[x]]]]]]]]\n", f"{F}:2: YAML nested too deeply"),
        ("- id: CVE-1\n", f"{F}:1: expected a mapping with an 'ignore' list at the top level"),
        ("just text\n", f"{F}:1: expected a mapping with an 'ignore' list at the top level"),
        (
            "ignores:\n  - id: CVE-1\n",
            f"{F}:2: unknown key 'ignores' at the top level (expected 'ignore')",
        ),
        ("ignore: CVE-1\n", f"{F}:1: 'ignore' must be a list of entries"),
        ("ignore:\n  id: CVE-1\n", f"{F}:2: 'ignore' must be a list of entries"),
        ("ignore: []\nignore: []\n", f"{F}:2: top level: duplicate key 'ignore'"),
        (
            "ignore:\n  - CVE-1\n",
            f"{F}:2: ignore entry 1 must be a mapping with at least an 'id'",
        ),
        (
            "ignore:\n  - id: CVE-1\n  - id: CVE-2\n    packge: x\n",
            f"{F}:4: ignore entry 2: unknown key 'packge'"
            " (expected one of: expires, id, package, path, purl, reason)",
        ),
        ("ignore:\n  - reason: x\n", f"{F}:2: ignore entry 1: 'id' is required"),
        ("ignore:\n  - id: 12345\n", f"{F}:2: ignore entry 1: 'id' must be a string"),
        ("ignore:\n  - id: yes\n", f"{F}:2: ignore entry 1: 'id' must be a string"),
        ("ignore:\n  - id: ''\n", f"{F}:2: ignore entry 1: 'id' must not be empty"),
        ("ignore:\n  - id: !secret x\n", f"{F}:2: ignore entry 1: 'id' must be a string"),
        (
            "ignore:\n  - id: CVE-1\n    id: CVE-2\n",
            f"{F}:3: ignore entry 1: duplicate key 'id'",
        ),
        ("ignore:\n  - {id: x, 1: y}\n", f"{F}:2: ignore entry 1: keys must be plain words"),
        (
            "ignore:\n  - id: CVE-1\n    package: [a]\n",
            f"{F}:3: ignore entry 1: 'package' must be a string",
        ),
        (
            "ignore:\n  - id: CVE-1\n    package: 'openssl@'\n",
            f"{F}:3: ignore entry 1: 'package' has an empty version",
        ),
        (
            "ignore:\n  - id: CVE-1\n    purl: openssl\n",
            f"{F}:3: ignore entry 1: 'purl' is not a package URL: 'openssl'",
        ),
        (
            "ignore:\n  - id: CVE-1\n    path: 'key[z-a].pem'\n",
            f"{F}:3: ignore entry 1: 'path' is not a valid glob: 'key[z-a].pem'",
        ),
        (
            "ignore:\n  - id: CVE-1\n    expires: 2024-02-30\n",
            f"{F}:3: ignore entry 1: 'expires' must be a date written YYYY-MM-DD, not '2024-02-30'",
        ),
        (
            "ignore:\n  - id: CVE-1\n    expires: 2024-5-1\n",
            f"{F}:3: ignore entry 1: 'expires' must be a date written YYYY-MM-DD, not '2024-5-1'",
        ),
        (
            "ignore:\n  - id: CVE-1\n    expires: '01/05/2024'\n",
            f"{F}:3: ignore entry 1: 'expires' must be a date written YYYY-MM-DD, not '01/05/2024'",
        ),
        (
            "ignore:\n  - id: CVE-1\n    expires: 2024-05-01T10:00:00Z\n",
            f"{F}:3: ignore entry 1: 'expires' must be a date written YYYY-MM-DD,"
            " not '2024-05-01T10:00:00Z'",
        ),
        (
            "ignore:\n  - id: CVE-1\n    expires: 20240501\n",
            f"{F}:3: ignore entry 1: 'expires' must be a date written YYYY-MM-DD",
        ),
        (
            'ignore:\n  - id: "CVE-1\\e[31m"\n',
            f"{F}:2: ignore entry 1: 'id' must not hold control characters",
        ),
        (
            'ignore:\n  - id: CVE-1\n    path: "a\\u202eb"\n',
            f"{F}:3: ignore entry 1: 'path' must not hold control characters",
        ),
        (
            'ignore:\n  - id: CVE-1\n    reason: "ok\\x07"\n',
            f"{F}:3: ignore entry 1: 'reason' must not hold control characters",
        ),
        (
            "ignore:\n  - id: CVE-1\n    reason:\n",
            f"{F}:3: ignore entry 1: 'reason' must be a string",
        ),
    ],
)
def test_malformed_files_give_one_exact_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    with pytest.raises(IgnoreFileError) as caught:
        load_ignore_file(Path(F))
    assert str(caught.value) == message
    assert isinstance(caught.value, KubewardError)
    assert caught.value.exit_code == 2


def test_size_cap(tmp_path: Path) -> None:
    exactly = "ignore: []\n" + "#" * (1024 * 1024 - 12) + "\n"
    assert len(exactly.encode()) == 1024 * 1024
    assert load_ignore_file(write(tmp_path, exactly)).entries == ()
    path = write(tmp_path, exactly + "#")
    with pytest.raises(IgnoreFileError) as caught:
        load_ignore_file(path)
    assert str(caught.value) == f"{path}: ignore file is larger than 1 MiB"


def test_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, b"ignore:\n  - id: CVE-\xff\n")
    with pytest.raises(IgnoreFileError) as caught:
        load_ignore_file(path)
    assert str(caught.value) == f"{path}: ignore file is not UTF-8 text"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(IgnoreFileError) as caught:
        load_ignore_file(path)
    assert str(caught.value) == f"{path}: cannot read ignore file: No such file or directory"


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "fifo.yaml"
    os.mkfifo(path)
    with pytest.raises(IgnoreFileError) as caught:
        load_ignore_file(path)
    assert str(caught.value) == f"{path}: ignore file is not a regular file"


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x"]']
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 30)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(IgnoreFileError) as caught:
        load_ignore_file(path)
    assert str(caught.value) == f"{path}:2: YAML aliases are not allowed"


def test_expired_and_unused_messages(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ignore:\n  - id: CVE-1\n    expires: 2024-04-30\n  - id: CVE-2\n",
    )
    rules = load_ignore_file(path)
    outcome = rules.apply([], no_aliases, TODAY)
    assert [rules.expired_message(e) for e in outcome.expired] == [
        f"{path}:2: ignore entry for CVE-1 expired on 2024-04-30"
    ]
    assert [rules.unused_message(e) for e in outcome.unused] == [
        f"{path}:4: ignore entry for CVE-2 matched no finding"
    ]
    assert IgnoreRules(entries=rules.entries).where(rules.entries[1]) == ".kubewardignore.yaml:4"


def test_the_documented_example_loads(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "ignore-file.md"
    example = docs.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    rules = rules_from(tmp_path, example)
    assert [(e.id, e.line) for e in rules.entries] == [
        ("CVE-2023-5678", 3),
        ("GHSA-aaaa-bbbb-cccc", 8),
        ("aws-access-key-id", 11),
        ("KW-DF-002", 15),
    ]


def test_reasons_may_span_lines(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path, "ignore:\n  - id: CVE-1\n    reason: |\n      first line\n      \tsecond\n"
    )
    assert rules.entries[0].reason == "first line\n\tsecond\n"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(
            st.sampled_from(
                [
                    "ignore:",
                    "  - id: CVE-1",
                    "    path: '[a-'",
                    "    expires: 2024-02-29",
                    "    purl: pkg:x",
                    "    package: '@'",
                    "  - &a {id: x}",
                    "  - *a",
                    "    reason: !!binary aGk=",
                    "  -",
                    "[",
                    '"\\',
                    "\t",
                ]
            ),
            max_size=8,
        ).map("\n".join),
    )
)
def test_arbitrary_text_loads_or_fails_with_one_line(text: str) -> None:
    try:
        parse_ignore_text(text, Path(F))
    except IgnoreFileError as exc:
        message = str(exc)
        assert message.startswith(F)
        assert "\n" not in message
