"""Every Dockerfile check (non-RUN): one failing and one passing Dockerfile, exact lines; and
the whole public corpus parses and runs without a check error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeward.misconfig.dockerfile import checks
from kubeward.misconfig.dockerfile.parse import parse_dockerfile
from kubeward.misconfig.engine import Selection, load_metadata, run_checks

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dockerfiles"


def found(check_id: str, text: str) -> list[tuple[str, int | None]]:
    dockerfile = parse_dockerfile(text.encode(), "Dockerfile")
    assert dockerfile.parse_error is None
    run = run_checks(
        "dockerfile",
        dockerfile,
        path="Dockerfile",
        selection=Selection(enable=frozenset({check_id})),
        suppressed=dockerfile.is_suppressed,
    )
    assert run.errors == []
    return [(f.rule_id, f.location.line) for f in run.findings]


CASES: list[tuple[str, str, list[int], str]] = [
    # (check, failing Dockerfile, expected lines, passing Dockerfile)
    (
        "KW-DF-001",
        "FROM a:1\nUSER app\nRUN x\nUSER root:root\n",
        [4],
        "FROM a:1\nUSER root\nUSER 1000\n",
    ),
    (
        "KW-DF-001",
        "FROM a:1 AS b\nUSER app\nFROM c:2\nRUN x\n",
        [3],
        "FROM a:1 AS b\nUSER 0\nUSER app\nFROM b\n",
    ),
    ("KW-DF-001", "FROM a:1\nUSER 0\n", [2], "FROM a:1\nUSER ${UID}\n"),
    (
        "KW-DF-002",
        "FROM alpine\nFROM alpine:latest AS x\nFROM localhost:5000/img\n",
        [1, 2, 3],
        "FROM alpine:3 AS x\nFROM x\nFROM scratch\nFROM localhost:5000/img:1\nFROM a@sha256:"
        + "0" * 64
        + "\n",
    ),
    (
        "KW-DF-003",
        "FROM alpine:3.19\nFROM scratch\n",
        [1],
        "FROM alpine:3.19@sha256:" + "a" * 64 + " AS b\nFROM b\nFROM scratch\nFROM $IMAGE\n",
    ),
    (
        "KW-DF-005",
        "FROM a:1\nADD app.py /app/\nADD https://x.io/f /f\n",
        [2],
        "FROM a:1\nCOPY app.py /app/\nADD rootfs.tar.gz /\nADD <<EOF /x\nhi\nEOF\n",
    ),
    (
        "KW-DF-006",
        "FROM a:1\nADD https://x.io/tool /usr/bin/\nCOPY x /x\nADD rootfs.tar.xz /\n",
        [2, 4],
        "FROM a:1\nADD --checksum=sha256:" + "b" * 64 + " https://x.io/f /f\nADD app.py /app/\n",
    ),
    (
        "KW-DF-007",
        "FROM a:1\nENV DB_PASSWORD=hunter2\nARG GITHUB_TOKEN=ghp_x\n"
        "ENV AWS_SECRET_ACCESS_KEY wJalr\n",
        [2, 3, 4],
        "FROM a:1\nARG NPM_TOKEN\nENV DB_PASSWORD=$NPM_TOKEN DB_PASSWORD_FILE=/run/s\n"
        "ENV MYSQL_ALLOW_EMPTY_PASSWORD=yes GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D\n",
    ),
    (
        "KW-DF-020",
        "FROM a:1\nEXPOSE 80 22/tcp\nEXPOSE 20-25\n",
        [2, 3],
        "FROM a:1\nEXPOSE 80 2222 22/udp\n",
    ),
    (
        "KW-DF-021",
        "FROM a:1\nHEALTHCHECK CMD x\nFROM b:1\n",
        [3],
        "FROM a:1 AS base\nHEALTHCHECK CMD curl -f localhost\nFROM base\n",
    ),
    (
        "KW-DF-021",
        "FROM a:1\nHEALTHCHECK NONE\n",
        [2],
        "FROM a:1\nHEALTHCHECK --interval=5s CMD x\n",
    ),
    (
        "KW-DF-022",
        'FROM a:1\nCMD ["a"]\nENTRYPOINT ["x"]\nCMD ["b"]\nENTRYPOINT ["y"]\nCMD ["c"]\n',
        [4, 5, 6],
        'FROM a:1\nCMD ["a"]\nFROM b:1\nCMD ["b"]\nENTRYPOINT ["e"]\n',
    ),
    (
        "KW-DF-023",
        "FROM a:1\nENTRYPOINT exec /app \\\n  --flag\n",
        [2],
        'FROM a:1\nENTRYPOINT ["/app", "--flag"]\nCMD run\n',
    ),
    (
        "KW-DF-024",
        "FROM a:1\nWORKDIR app\n",
        [2],
        "FROM a:1\nWORKDIR /app\nWORKDIR $HOME\nWORKDIR C:/app\n",
    ),
    (
        "KW-DF-025",
        "FROM a:1\nCOPY a.txt b/\nADD x .\nWORKDIR /w\nCOPY c .\n",
        [2, 3],
        "FROM a:1 AS base\nWORKDIR /src\nFROM base\nCOPY a .\nFROM c:1\nCOPY a /abs/\n",
    ),
    (
        "KW-DF-026",
        "FROM a:1 AS build\nFROM b:1 AS BUILD\n",
        [2],
        "FROM a:1 AS build\nFROM b:1 AS test\nFROM c:1\n",
    ),
    (
        "KW-DF-027",
        "FROM a:1\nMAINTAINER me <me@x.io>\n",
        [2],
        'FROM a:1\nLABEL org.opencontainers.image.authors="me"\n',
    ),
    (
        "KW-DF-028",
        "FROM a:1 AS build\nCOPY --from=biuld /a /a\nCOPY --from=1 /b /b\nCOPY --from=later /c /c\n"
        "FROM b:1 AS later\n",
        [2, 3, 4],
        "FROM a:1 AS build\nFROM b:1\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\n"
        "COPY --from=nginx:1.27 /c /c\nCOPY --from=ghcr.io/x/y /d /d\n",
    ),
]


@pytest.mark.parametrize(("check_id", "bad", "lines", "good"), CASES)
def test_check(check_id: str, bad: str, lines: list[int], good: str) -> None:
    assert found(check_id, bad) == [(check_id, line) for line in lines]
    assert found(check_id, good) == []


def test_secret_values_never_in_message() -> None:
    dockerfile = parse_dockerfile(b"FROM a:1\nENV API_KEY=sk-live-123\n", "Dockerfile")
    run = run_checks("dockerfile", dockerfile, selection=Selection(enable=frozenset({"KW-DF-007"})))
    assert [f.message for f in run.findings] == [
        "ENV API_KEY sets a secret-like variable to a literal value"
    ]


def test_registry_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "FROM alpine:3\nFROM registry.corp.io/base/py:3.12 AS b\nFROM b\n"
        "FROM ghcr.io/acme/tool:1\nFROM ghcr.io/other/tool:1\nFROM scratch\n"
    )
    assert found("KW-DF-004", text) == []  # no allowlist configured: the check passes
    monkeypatch.setattr(
        checks, "BASE_IMAGE_REGISTRIES", frozenset({"registry.corp.io", "ghcr.io/acme"})
    )
    assert found("KW-DF-004", text) == [("KW-DF-004", 1), ("KW-DF-004", 5)]
    monkeypatch.setattr(checks, "BASE_IMAGE_REGISTRIES", frozenset({"docker.io", "ghcr.io"}))
    assert found("KW-DF-004", text) == [("KW-DF-004", 2)]


def test_inline_suppression_applies() -> None:
    text = "FROM a:1\n# kubeward:ignore=KW-DF-027 legacy\nMAINTAINER me\nMAINTAINER you\n"
    assert found("KW-DF-027", text) == [("KW-DF-027", 4)]


def test_every_check_has_metadata() -> None:
    metadata = load_metadata()
    ids = [f"KW-DF-{n:03d}" for n in (1, 2, 3, 4, 5, 6, 7, *range(20, 29))]
    for check_id in ids:
        meta = metadata[check_id]
        assert meta.target == "dockerfile"
        assert meta.description and meta.remediation and meta.references and meta.tags


def test_corpus_parses_and_checks_run() -> None:
    files = sorted(p for p in CORPUS.rglob("Dockerfile*") if p.is_file())
    assert len(files) > 500
    failed = []
    for file in files:
        dockerfile = parse_dockerfile(file.read_bytes(), str(file))
        if dockerfile.parse_error is not None:
            failed.append(file.relative_to(CORPUS).as_posix())
        run = run_checks("dockerfile", dockerfile, path=str(file))
        assert run.errors == [], file
    # One expected failure: docker-library-mysql/Dockerfile.oracle is the jq template that
    # generates the real Dockerfiles (it starts with `{{ def dnf: ... }}`), not a Dockerfile;
    # `docker build` rejects it too ("unknown instruction: {{").
    assert failed == ["docker-library-mysql/Dockerfile.oracle"]
