"""The Dockerfile parser adapter: stages, directives, substitution, lines, suppressions, errors."""

from __future__ import annotations

from kubeward.misconfig.dockerfile.model import Dockerfile
from kubeward.misconfig.dockerfile.parse import parse_dockerfile


def parse(text: str) -> Dockerfile:
    return parse_dockerfile(text.encode(), "Dockerfile")


def test_stages_aliases_and_platform() -> None:
    df = parse(
        "ARG BASE=debian\n"
        "ARG TAG=12\n"
        "FROM --platform=$BUILDPLATFORM ${BASE}:${TAG}-slim AS Builder\n"
        "RUN make\n"
        "FROM builder\n"
        "FROM scratch AS final\n"
        "COPY --from=builder /out /\n"
    )
    assert df.parse_error is None
    assert df.args_before_from == {"BASE": "debian", "TAG": "12"}
    assert [(s.index, s.name, s.base, s.base_line, s.platform) for s in df.stages] == [
        (0, "builder", "debian:12-slim", 3, "$BUILDPLATFORM"),
        (1, None, "builder", 5, None),
        (2, "final", "scratch", 6, None),
    ]
    assert [i.cmd for i in df.stages[0].instructions] == ["FROM", "RUN"]
    assert [(i.cmd, i.stage) for i in df.instructions] == [
        ("ARG", -1),
        ("ARG", -1),
        ("FROM", 0),
        ("RUN", 0),
        ("FROM", 1),
        ("FROM", 2),
        ("COPY", 2),
    ]
    copy = df.instructions[-1]
    assert copy.flag("from") == "builder"
    assert df.stage_named("builder", 2) is df.stages[0]
    assert df.stage_named("0", 2) is df.stages[0]
    assert df.stage_named("final", 2) is None
    assert df.lineage(df.stages[1]) == [df.stages[1], df.stages[0]]


def test_directives_only_at_the_top() -> None:
    df = parse("# syntax=docker/dockerfile:1.7\n# check=skip=all\nFROM alpine:3\n# escape=`\n")
    assert df.directives == {"syntax": "docker/dockerfile:1.7", "check": "skip=all"}
    assert parse("# hello\n# syntax=x\nFROM a:1\n").directives == {}


def test_substitution_scoping_and_defaults() -> None:
    df = parse(
        "ARG VERSION=1.2\n"
        "ARG GLOBAL_ONLY=g\n"
        "FROM alpine:$VERSION\n"
        "COPY $VERSION $GLOBAL_ONLY /x/\n"  # global ARGs are not visible in the stage
        "ARG VERSION\n"  # redeclared: takes the global value
        'ENV HOME=/home/app NAME="a b" D=${UNSET:-dflt} P=${VERSION:+yes} Q=${UNSET:+no}\n'
        "ENV OLD form with spaces\n"
        "WORKDIR ${HOME}/src\n"
        "USER ${APP_UID}\n"
        "RUN echo $HOME\n"
        "LABEL v=$VERSION 'k k'=\"$HOME\"\n"
        "ARG LOCAL=${HOME}/l\n"
        "COPY --chown=$NAME:x a $LOCAL\n"
        "FROM alpine:3 AS next\n"
        "WORKDIR $HOME\n"  # ENV does not cross into an unrelated stage
    )
    items = df.instructions
    assert items[2].args == ("alpine:1.2",)
    assert items[3].args == ("$VERSION", "$GLOBAL_ONLY", "/x/")
    assert items[4].args == ("VERSION",)
    assert items[5].args == ("HOME", "/home/app", "NAME", "a b", "D", "dflt", "P", "yes", "Q", "")
    assert items[6].args == ("OLD", "form with spaces")
    assert items[7].args == ("/home/app/src",)
    assert items[8].args == ("${APP_UID}",)  # unknown: left as written
    assert items[9].args == ("echo $HOME",)  # RUN is expanded by the shell, not by Docker
    assert items[10].args == ("v", "1.2", "k k", "/home/app")
    assert items[11].args == ("LOCAL=/home/app/l",)
    assert items[12].args == ("a", "/home/app/l")
    assert items[12].flags == ("--chown=a b:x",)
    assert items[14].args == ("$HOME",)


def test_env_is_inherited_through_from_stage() -> None:
    df = parse("FROM a:1 AS base\nENV APP=/srv\nFROM base\nWORKDIR $APP\n")
    assert df.instructions[-1].args == ("/srv",)


def test_heredoc_run_commands_and_lines() -> None:
    df = parse(
        "FROM alpine:3\n"
        "RUN <<EOF\n"
        "set -e\n"
        "apk add curl; echo ok\n"
        "EOF\n"
        "RUN cat <<EOT > /etc/motd\n"
        "rm -rf /\n"
        "EOT\n"
        "COPY <<EOF /etc/conf\n"
        "x=1\n"
        "EOF\n"
    )
    run, cat, copy = df.instructions[1:]
    assert (run.line, run.end_line, run.heredocs) == (2, 5, ("set -e\napk add curl; echo ok\n",))
    assert [(c.argv, run.command_line(c)) for c in run.commands] == [
        (("set", "-e"), 3),
        (("apk", "add", "curl"), 4),
        (("echo", "ok"), 4),
    ]
    assert [c.argv for c in cat.commands] == [("cat",)]  # the body is a file, not a script
    assert (copy.args, copy.line, copy.end_line) == (("<<EOF", "/etc/conf"), 9, 11)


def test_escape_directive_backtick() -> None:
    df = parse(
        "# escape=`\n"
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
        "WORKDIR C:\\app\n"
        "RUN powershell -Command `\n"
        "    Write-Host hi\n"
        "USER ContainerUser\n"
    )
    assert df.directives == {"escape": "`"}
    workdir, run, user = df.instructions[1:]
    assert workdir.args == ("C:\\app",)
    assert (run.line, run.end_line) == (4, 5)
    assert user.line == 6


def test_json_vs_shell_form() -> None:
    df = parse(
        'FROM a:1\nRUN ["apt-get", "install", "-y", "x"]\nCMD ["run"]\nENTRYPOINT exec app\n'
    )
    run, cmd, entry = df.instructions[1:]
    assert (run.json_form, run.args) == (True, ("apt-get", "install", "-y", "x"))
    assert [c.argv for c in run.commands] == [("apt-get", "install", "-y", "x")]
    assert (cmd.json_form, cmd.args) == (True, ("run",))
    assert (entry.json_form, entry.args) == (False, ("exec app",))


def test_continuation_lines_and_line_numbers() -> None:
    df = parse(
        "FROM debian:12\n"
        "\n"
        "RUN --mount=type=cache,target=/var/cache/apt \\\n"
        "    apt-get update && \\\n"
        "    # a comment inside the continuation\n"
        "    apt-get install -y \\\n"
        "        curl \\\n"
        "    | tee /log\n"
        "USER app\n"
    )
    run, user = df.instructions[1:]
    assert (run.line, run.end_line, run.flags) == (
        3,
        8,
        ("--mount=type=cache,target=/var/cache/apt",),
    )
    assert run.raw.splitlines()[0] == "RUN --mount=type=cache,target=/var/cache/apt \\"
    assert [(c.argv, run.command_line(c), c.operator_before) for c in run.commands] == [
        (("apt-get", "update"), 4, ""),
        (("apt-get", "install", "-y", "curl"), 6, "&&"),
        (("tee", "/log"), 8, "|"),
    ]
    assert (user.line, user.end_line) == (9, 9)


def test_suppression_comments() -> None:
    df = parse(
        "# kubeward:ignore-file=KW-DF-021\n"
        "FROM a:1\n"
        "# kubeward:ignore=KW-DF-005,KW-DF-025 vendored file\n"
        "ADD x \\\n"
        "  y\n"
        "ADD z z\n"
    )
    assert df.suppressions == {
        0: frozenset({"KW-DF-021"}),
        4: frozenset({"KW-DF-005", "KW-DF-025"}),
        5: frozenset({"KW-DF-005", "KW-DF-025"}),
    }
    assert df.is_suppressed("KW-DF-021", None)
    assert df.is_suppressed("KW-DF-021", 6)
    assert df.is_suppressed("KW-DF-005", 5)
    assert not df.is_suppressed("KW-DF-005", 6)
    assert not df.is_suppressed("KW-DF-001", 4)


def test_parse_errors_are_one_tuple() -> None:
    cases = {
        b"FROM a:1\nRUN <<EOF\nnever closed\n": (2, "unterminated heredoc"),
        b"FROM a:1\nRUN x\nENV ONLYNAME\n": (3, "ENV must have two arguments"),
        b"FROM a:1\nFOO bar\n": (2, "unknown instruction: FOO"),
        b"# only a comment\n": (1, "file with no instructions"),
        b"ARG X=1\n": (1, "no FROM instruction"),
        b"RUN x\nFROM a:1\n": (1, "RUN before the first FROM (only ARG may come first)"),
        b"FROM a:1\nLABEL x=\xff\n": (2, "not valid UTF-8 text"),
        b"\x7fELF\x00\x00\x01": (1, "binary content, not a Dockerfile"),
        b"#" * (4 * 1024 * 1024 + 1): (1, "file larger than 4 MiB"),
        b"# escape=x\nFROM a:1\n": (1, "invalid escape directive 'x'"),
    }
    for data, expected in cases.items():
        df = parse_dockerfile(data, "Dockerfile")
        assert df.parse_error == expected, data[:40]
        assert df.stages == ()


def test_crlf_and_bom() -> None:
    df = parse_dockerfile(b"\xef\xbb\xbfFROM a:1\r\nUSER app\r\n", "Dockerfile")
    assert df.parse_error is None
    assert [(i.cmd, i.args, i.line) for i in df.instructions] == [
        ("FROM", ("a:1",), 1),
        ("USER", ("app",), 2),
    ]
