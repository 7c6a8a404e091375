"""`kubeward config PATH`: discovery, reports, kubeward.yaml selection, suppressions, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import kubeward.cli.main as cli_main
from kubeward.cli.config import find_dockerfiles, is_dockerfile_name
from kubeward.misconfig.settings import CheckSettingsError, parse_check_settings

ROOTFUL = "FROM alpine:latest\nRUN apk add curl\n"
CLEAN = (
    "FROM alpine:3.19@sha256:" + "a" * 64 + '\nUSER 1000\nHEALTHCHECK CMD ["true"]\nCMD ["sh"]\n'
)


def kubeward(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli_main.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def findings(out: str) -> list[tuple[str, str, int | None]]:
    doc: dict[str, Any] = json.loads(out)
    return [(f["ruleId"], f["location"]["path"], f["location"]["line"]) for f in doc["findings"]]


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def only(root: Path, *ids: str) -> None:
    write(root, "kubeward.yaml", "checks:\n  enable: [" + ", ".join(ids) + "]\n")


def test_dockerfile_names() -> None:
    assert [
        name
        for name in (
            "Dockerfile",
            "Containerfile",
            "api.Dockerfile",
            "Dockerfile.debug",
            "dockerfile",
            ".Dockerfile",
            "Dockerfile.",
            "Dockerfile-old",
            "Dockerfile.txt",
            "README.md",
        )
        if is_dockerfile_name(name)
    ] == ["Dockerfile", "Containerfile", "api.Dockerfile", "Dockerfile.debug", "Dockerfile.txt"]


def test_discovery_skips_git_node_modules_and_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    outside = write(tmp_path, "outside/Dockerfile", CLEAN)
    for rel in (
        "Dockerfile",
        "Containerfile",
        "svc/api.Dockerfile",
        "svc/Dockerfile.debug",
        ".git/Dockerfile",
        "node_modules/pkg/Dockerfile",
        "docs/Dockerfile.md/x",
        "notes.txt",
    ):
        write(root, rel, CLEAN)
    os.symlink(outside, root / "svc" / "Dockerfile")
    os.symlink(outside.parent, root / "linked")
    found = [rel for _, rel in find_dockerfiles(root)]
    assert found == ["Containerfile", "Dockerfile", "svc/Dockerfile.debug", "svc/api.Dockerfile"]


def test_a_file_that_does_not_parse_is_one_finding_and_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "Dockerfile", "# comment\nRUN echo hi\n")
    code, out, err = kubeward(capsys, "config", str(tmp_path), "-f", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert findings(out) == [("KW-DF-000", "Dockerfile", 2)]
    assert doc["findings"][0]["title"] == "Dockerfile does not parse"
    assert doc["findings"][0]["severity"] == "MEDIUM"
    assert doc["findings"][0]["message"] == "RUN before the first FROM (only ARG may come first)"
    assert (doc["source"]["name"], doc["source"]["kind"]) == (str(tmp_path), "dir")


def test_binary_and_huge_files_named_dockerfile_are_one_line_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "a/Dockerfile", b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4)
    write(tmp_path, "b/Dockerfile", "FROM alpine:3.19\n" + "# padding\n" * 120_000)
    write(tmp_path, "c/Dockerfile", b"FROM alpine:3.19\nRUN echo \xff\xfe\n")
    only(tmp_path, "KW-DF-000")
    code, out, err = kubeward(capsys, "config", str(tmp_path), "-f", "json")
    assert code == 0
    assert err.splitlines() == [
        "kubeward: warning: a/Dockerfile: skipped: binary file, not a Dockerfile",
        "kubeward: warning: b/Dockerfile: skipped: larger than 1 MiB, not a Dockerfile",
    ]
    assert findings(out) == [("KW-DF-000", "c/Dockerfile", 2)]
    assert "Traceback" not in err


def test_path_may_be_one_file_whatever_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "build.docker", "RUN true\n")
    code, out, _ = kubeward(capsys, "config", str(path), "-f", "json")
    assert code == 0
    assert findings(out) == [("KW-DF-000", "build.docker", 1)]


def test_missing_path_and_bad_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = kubeward(capsys, "config", str(tmp_path / "nope"))
    assert (code, out) == (2, "")
    assert err == f"kubeward: error: {tmp_path / 'nope'}: No such file or directory\n"
    code, _, err = kubeward(capsys, "config", str(tmp_path), "-f", "cyclonedx")
    assert (code, err) == (
        2,
        "kubeward: error: --format cyclonedx: choose one of table, json, sarif\n",
    )
    code, _, err = kubeward(capsys, "config", str(tmp_path), "--exit-code", "300")
    assert (code, err) == (2, "kubeward: error: --exit-code must be between 0 and 255, not 300\n")


def test_kubeward_yaml_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "Dockerfile", CLEAN)
    cases = {
        "checks:\n  enable: [KW-DF-999]\n": (
            "kubeward.yaml:2: checks.enable: 'KW-DF-999' is neither a check id nor a tag"
        ),
        "checks:\n  enabled: [x]\n": (
            "kubeward.yaml:2: checks: unknown key 'enabled' (expected one of: enable, disable, "
            "base_image_registries, custom)"
        ),
        "ids: &a [KW-DF-000]\nchecks:\n  disable: *a\n": (
            "kubeward.yaml:3: YAML aliases are not allowed"
        ),
        "checks:\n  disable: KW-DF-000\n": (
            "kubeward.yaml:2: checks.disable must be a list of strings"
        ),
        "checks:\n  base_image_registries: ['http://x/']\n": (
            "kubeward.yaml:2: checks.base_image_registries: 'http://x/' is not a registry host "
            "(write it as host, host:port or host/path-prefix)"
        ),
    }
    for text, message in cases.items():
        write(tmp_path, "kubeward.yaml", text)
        code, out, err = kubeward(capsys, "config", str(tmp_path))
        assert (code, out) == (2, "")
        assert err == f"kubeward: error: {tmp_path}/{message}\n"


def test_settings_parse() -> None:
    text = (
        "secrets:\n  disable: [x]\n"
        "checks:\n"
        "  enable: [cis, KW-DF-001]\n"
        "  disable: [KW-DF-021]\n"
        "  base_image_registries: [GHCR.io, registry.local:5000, ghcr.io]\n"
    )
    settings = parse_check_settings(text, Path("k.yaml"))
    assert settings.enable == ("cis", "KW-DF-001")
    assert settings.disable == ("KW-DF-021",)
    assert settings.base_image_registries == ("ghcr.io", "registry.local:5000")
    selection = settings.selection()
    assert selection.enable == frozenset({"cis", "KW-DF-001"})
    assert selection.disable == frozenset({"KW-DF-021"})
    assert parse_check_settings("other: 1\n", Path("k.yaml")).selection().enable == frozenset()
    with pytest.raises(CheckSettingsError, match=r"^k.yaml:2: duplicate key 'checks'$"):
        parse_check_settings("checks: {}\nchecks: {}\n", Path("k.yaml"))


def project(root: Path) -> None:
    """Three Dockerfiles found, two ignored places, one symlink not followed."""
    write(root, "Dockerfile", ROOTFUL)
    write(root, "svc/api.Dockerfile", CLEAN + "EXPOSE 22\n")
    write(
        root, "svc/Dockerfile.debug", "FROM alpine:3.19@sha256:" + "b" * 64 + "\nADD app.py /app/\n"
    )
    write(root, "node_modules/x/Dockerfile", ROOTFUL)
    write(root, ".git/Dockerfile", ROOTFUL)
    write(root, "README.md", ROOTFUL)
    os.symlink(root / "Dockerfile", root / "svc" / "Containerfile")


ALL = [
    ("KW-DF-001", "Dockerfile", 1),
    ("KW-DF-002", "Dockerfile", 1),
    ("KW-DF-003", "Dockerfile", 1),
    ("KW-DF-021", "Dockerfile", 1),
    ("KW-DF-013", "Dockerfile", 2),
    ("KW-DF-015", "Dockerfile", 2),
    ("KW-DF-001", "svc/Dockerfile.debug", 1),
    ("KW-DF-021", "svc/Dockerfile.debug", 1),
    ("KW-DF-005", "svc/Dockerfile.debug", 2),
    ("KW-DF-020", "svc/api.Dockerfile", 5),
]


def test_json_findings_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(tmp_path)
    code, out, err = kubeward(capsys, "config", str(tmp_path), "-f", "json")
    assert (code, err) == (0, "")
    assert findings(out) == ALL
    first = json.loads(out)["findings"][0]
    assert (first["kind"], first["severity"], first["message"]) == (
        "misconfiguration",
        "HIGH",
        "no USER in the final stage: the container runs as root",
    )


def test_sarif_has_the_same_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(tmp_path)
    out_file = tmp_path / "out.sarif"
    code, out, err = kubeward(capsys, "config", str(tmp_path), "-f", "sarif", "-o", str(out_file))
    assert (code, out, err) == (0, "", "")
    sarif = json.loads(out_file.read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    results = [
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in run["results"]
    ]
    assert results == ALL
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == sorted({a for a, _, _ in ALL})


def test_kubeward_yaml_enable_and_disable_by_id_and_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path)
    cases = {
        "checks:\n  enable: [KW-DF-002, KW-DF-020]\n": [
            ("KW-DF-002", "Dockerfile", 1),
            ("KW-DF-020", "svc/api.Dockerfile", 5),
        ],
        "checks:\n  enable: [apk]\n": [
            ("KW-DF-013", "Dockerfile", 2),
            ("KW-DF-015", "Dockerfile", 2),
        ],
        "checks:\n  enable: [cis]\n  disable: [KW-DF-001, availability]\n": [
            ("KW-DF-005", "svc/Dockerfile.debug", 2),
            ("KW-DF-020", "svc/api.Dockerfile", 5),
        ],
        "checks:\n  disable: [base-image, apk, correctness, KW-DF-021]\n": [
            ("KW-DF-001", "Dockerfile", 1),
            ("KW-DF-001", "svc/Dockerfile.debug", 1),
            ("KW-DF-005", "svc/Dockerfile.debug", 2),
            ("KW-DF-020", "svc/api.Dockerfile", 5),
        ],
    }
    for text, expected in cases.items():
        write(tmp_path, "kubeward.yaml", text)
        code, out, err = kubeward(capsys, "config", str(tmp_path), "-f", "json")
        assert (code, err) == (0, ""), text
        assert findings(out) == expected, text
    # --config wins over the kubeward.yaml found in PATH
    other = write(tmp_path / "elsewhere", "k.yaml", "checks:\n  enable: [KW-DF-003]\n")
    code, out, _ = kubeward(capsys, "config", str(tmp_path), "-f", "json", "--config", str(other))
    assert findings(out) == [("KW-DF-003", "Dockerfile", 1)]


def test_base_image_registries_allowlist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "Dockerfile", "FROM ghcr.io/org/app:1\nFROM alpine:3.19\nFROM quay.io/x/y:2\n")
    write(
        tmp_path,
        "kubeward.yaml",
        "checks:\n  enable: [KW-DF-004]\n  base_image_registries: [ghcr.io, quay.io]\n",
    )
    code, out, _ = kubeward(capsys, "config", str(tmp_path), "-f", "json")
    assert code == 0
    assert findings(out) == [("KW-DF-004", "Dockerfile", 2)]
    write(tmp_path, "kubeward.yaml", "checks:\n  enable: [KW-DF-004]\n")
    code, out, _ = kubeward(capsys, "config", str(tmp_path), "-f", "json")
    assert findings(out) == []


def test_inline_suppression_and_ignore_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        "Dockerfile",
        "# kubeward:ignore=KW-DF-002,KW-DF-003 pinned by the build system\n"
        "FROM alpine:latest\n"
        "# kubeward:ignore-file=KW-DF-021\n"
        "USER 1000\n"
        "ADD a.py /a.py\n",
    )
    write(tmp_path, "sub/Dockerfile", "FROM alpine:latest@sha256:" + "c" * 64 + "\nUSER 1000\n")
    write(
        tmp_path,
        ".kubewardignore.yaml",
        "ignore:\n  - id: KW-DF-005\n    path: Dockerfile\n    reason: legacy\n  - id: KW-DF-020\n",
    )
    code, out, err = kubeward(capsys, "config", str(tmp_path), "-f", "json", "--show-suppressed")
    assert code == 0
    # a digest pins "latest" too, so sub/Dockerfile only lacks a HEALTHCHECK
    assert findings(out) == [("KW-DF-021", "sub/Dockerfile", 1)]
    ignore = tmp_path / ".kubewardignore.yaml"
    assert err.splitlines() == [
        "kubeward: suppressed KW-DF-002 in Dockerfile:2 by an inline comment",
        "kubeward: suppressed KW-DF-003 in Dockerfile:2 by an inline comment",
        "kubeward: suppressed KW-DF-021 in Dockerfile:2 by an inline comment",
        f"kubeward: suppressed KW-DF-005 in Dockerfile:5 by {ignore}:2: legacy",
        f"kubeward: {ignore}:5: ignore entry for KW-DF-020 matched no finding",
    ]
    # --ignorefile replaces the one in PATH
    empty = write(tmp_path / "elsewhere", "ignore.yaml", "ignore: []\n")
    code, out, _ = kubeward(
        capsys, "config", str(tmp_path), "-f", "json", "--ignorefile", str(empty)
    )
    assert ("KW-DF-005", "Dockerfile", 5) in findings(out)


def test_exit_code_and_severity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(tmp_path)
    code, out, _ = kubeward(capsys, "config", str(tmp_path), "-f", "json", "--exit-code", "3")
    assert code == 3
    code, out, _ = kubeward(
        capsys, "config", str(tmp_path), "-f", "json", "--severity", "HIGH", "--exit-code", "4"
    )
    assert (code, findings(out)) == (
        4,
        [("KW-DF-001", "Dockerfile", 1), ("KW-DF-001", "svc/Dockerfile.debug", 1)],
    )
    code, out, _ = kubeward(
        capsys, "config", str(tmp_path), "-f", "json", "--severity", "CRITICAL", "--exit-code", "4"
    )
    assert (code, findings(out)) == (0, [])
    write(tmp_path / "clean", "Dockerfile", CLEAN)
    code, out, _ = kubeward(
        capsys, "config", str(tmp_path / "clean"), "-f", "json", "--exit-code", "1"
    )
    assert (code, findings(out)) == (0, [])


def test_parse_error_counts_for_exit_code_and_can_be_disabled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "Dockerfile", "FROM alpine:3.19\nNOTANINSTRUCTION x\n")
    code, out, _ = kubeward(capsys, "config", str(tmp_path), "-f", "json", "--exit-code", "1")
    assert (code, findings(out)) == (1, [("KW-DF-000", "Dockerfile", 2)])
    write(tmp_path, "kubeward.yaml", "checks:\n  disable: [KW-DF-000]\n")
    code, out, _ = kubeward(capsys, "config", str(tmp_path), "-f", "json", "--exit-code", "1")
    assert (code, findings(out)) == (0, [])


def test_settings_parse_custom_checks() -> None:
    from kubeward.misconfig.settings import CustomCheckSpec
    from kubeward.model import Severity

    text = (
        "checks:\n"
        "  disable: [ACME-002]\n"
        "  custom:\n"
        "    - id: ACME-001\n"
        "      title: Deployments need at least 2 replicas\n"
        "      severity: medium\n"
        '      message: "replicas is {{ object.spec.replicas }}"\n'
        "      match: {kinds: [Deployment, StatefulSet, Deployment]}\n"
        '      expression: "object.spec.replicas >= 2"\n'
        "    - id: ACME-002\n"
        "      title: Teams are labelled\n"
        "      severity: LOW\n"
        "      failure_policy: Ignore\n"
        "      remediation: Add a team label.\n"
        "      tags: [labels]\n"
        "      expression: |\n"
        "        has(object.metadata.labels) &&\n"
        "        'team' in object.metadata.labels\n"
    )
    settings = parse_check_settings(text, Path("k.yaml"))
    assert settings.custom == (
        CustomCheckSpec(
            id="ACME-001",
            title="Deployments need at least 2 replicas",
            severity=Severity.MEDIUM,
            expression="object.spec.replicas >= 2",
            line=4,
            expression_line=9,
            message="replicas is {{ object.spec.replicas }}",
            message_line=7,
            kinds=("Deployment", "StatefulSet"),
        ),
        CustomCheckSpec(
            id="ACME-002",
            title="Teams are labelled",
            severity=Severity.LOW,
            expression="has(object.metadata.labels) &&\n'team' in object.metadata.labels",
            line=10,
            expression_line=17,
            literal=True,
            failure_policy="Ignore",
            remediation="Add a team label.",
            tags=("labels",),
        ),
    )
    assert settings.selection().disable == frozenset({"ACME-002"})
    with pytest.raises(
        CheckSettingsError, match=r"^k.yaml:3: checks.custom\[0\]: missing 'title'$"
    ):
        parse_check_settings("checks:\n  custom:\n    - {id: X-1}\n", Path("k.yaml"))
