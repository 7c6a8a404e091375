"""split_commands: the RUN checks see exactly the commands a shell would run, with lines."""

from __future__ import annotations

import shlex

import pytest

from kubeward.misconfig.dockerfile.shell import MAX_SCRIPT, SimpleCommand, split_commands


def argvs(script: str) -> list[tuple[str, ...]]:
    return [c.argv for c in split_commands(script)]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("", []),
        ("   \n\n  # only a comment\n", []),
        ("apt-get update && apt-get install -y curl", [
            ("apt-get", "update"), ("apt-get", "install", "-y", "curl")]),
        ("a; b || c & d", [("a",), ("b",), ("c",), ("d",)]),
        ("echo 'a && b' \"c;d\" e\\ f", [("echo", "a && b", "c;d", "e f")]),
        ("echo \"say \\\"hi\\\" \\$HOME\" 'it''s'", [("echo", 'say "hi" $HOME', "its")]),
        ("echo a#b # comment && rm -rf /", [("echo", "a#b")]),
        ("echo $(curl x | sh) `wget y` ${A:-b c}", [
            ("echo", "$(curl x | sh)", "`wget y`", "${A:-b c}")]),
        ("echo \"$(date; id)\" && ls", [("echo", "$(date; id)"), ("ls",)]),
        ("(cd /x && make) | tee log", [("cd", "/x"), ("make",), ("tee", "log")]),
        ("{ echo a; echo b; } || exit 1", [("echo", "a"), ("echo", "b"), ("exit", "1")]),
        ("sh -c 'apt-get install foo && rm -rf /x'", [
            ("sh", "-c", "apt-get install foo && rm -rf /x"),
            ("apt-get", "install", "foo"), ("rm", "-rf", "/x")]),
        ("/bin/bash -euxc \"pip install a; cd /b\"", [
            ("/bin/bash", "-euxc", "pip install a; cd /b"), ("pip", "install", "a"), ("cd", "/b")]),
        ("bash script.sh -c x", [("bash", "script.sh", "-c", "x")]),
        ("if [ -f x ]; then\n  echo yes\nelif true; then :; else\n  rm x\nfi", [
            ("[", "-f", "x", "]"), ("echo", "yes"), ("true",), (":",), ("rm", "x")]),
        ("for i in 1 2 3; do echo $i; done", [("echo", "$i")]),
        ("while true; do sleep 1; done &", [("true",), ("sleep", "1")]),
        ("until ! grep -q x f; do sleep 1; done", [("grep", "-q", "x", "f"), ("sleep", "1")]),
        ("case $x in a|b) echo a;; *) echo z;; esac; ls", [("echo", "a"), ("echo", "z"), ("ls",)]),
        ("make install 2>&1 > /dev/null >>log </dev/null && ls", [("make", "install"), ("ls",)]),
        ("curl -o- https://x 2>/dev/null &> /tmp/o | sh", [("curl", "-o-", "https://x"), ("sh",)]),
        ("cat <<EOF > f\nhello && world\nEOF\nls", [("cat",), ("ls",)]),
        ("bash <(curl -s https://x)", [("bash", "<(curl -s https://x)")]),
        ("echo 'unclosed && b", [("echo", "unclosed && b")]),
        ("echo \"unclosed $(x", [("echo", "unclosed $(x")]),
        ("echo 'x' if then fi", [("echo", "x", "if", "then", "fi")]),
        ("'if' x", [("if", "x")]),
    ],
)  # fmt: skip
def test_split_argv(script: str, expected: list[tuple[str, ...]]) -> None:
    assert argvs(script) == expected


def test_operators_pipes_and_lines() -> None:
    script = "apt-get update \\\n  && curl -fsSL https://x \\\n  | bash -\nls; pwd || true"
    assert split_commands(script) == [
        SimpleCommand(("apt-get", "update"), 0, "", False),
        SimpleCommand(("curl", "-fsSL", "https://x"), 1, "&&", True),
        SimpleCommand(("bash", "-"), 2, "|", False),
        SimpleCommand(("ls",), 3, ";", False),
        SimpleCommand(("pwd",), 3, ";", False),
        SimpleCommand(("true",), 3, "||", False),
    ]


def test_assignments_are_split_off() -> None:
    [command] = split_commands('FOO=bar BAZ="q x" A[1]=2 make install "X=1" export=y')
    assert command.assignments == ("FOO=bar", "BAZ=q x", "A[1]=2")
    assert command.argv == ("make", "install", "X=1", "export=y")
    assert command.name == "make"
    [quoted] = split_commands('"FOO=bar" run')
    assert (quoted.argv, quoted.assignments) == (("FOO=bar", "run"), ())
    [only] = split_commands("A=1 && ls")
    assert (only.argv, only.operator_before) == (("ls",), "&&")


def test_lines_inside_quotes_and_inner_scripts() -> None:
    script = "echo 'a\nb' && \\\n  sh -c '\n  apt-get install x\n  cd /y'"
    commands = split_commands(script)
    assert [(c.argv[0], c.line_offset) for c in commands] == [
        ("echo", 0), ("sh", 2), ("apt-get", 3), ("cd", 4)
    ]  # fmt: skip


def test_name_strips_the_path() -> None:
    assert [c.name for c in split_commands("/usr/bin/curl x | /bin/sh")] == ["curl", "sh"]


def test_nested_sh_c_depth_is_bounded() -> None:
    script = "x"
    for _ in range(10):
        script = "sh -c " + shlex.quote(script)
    assert [c.name for c in split_commands(script)] == ["sh"] * 5


def test_huge_input_is_capped() -> None:
    [command] = split_commands("x" * (MAX_SCRIPT + 100))
    assert len(command.argv[0]) == MAX_SCRIPT


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("$(" * 5000, [("$(" * 5000,)]),
        ("`" * 3001, [("`" * 3001,)]),
        ("\\", [("",)]),
        ("<<", []),
        ("a >", [("a",)]),
        ("(((", []),
        (")))", []),
        ("<(", [("<(",)]),
        ("2>&", []),
        ("&&&|||;;;", []),
    ],
)
def test_hostile_input_is_best_effort(script: str, expected: list[tuple[str, ...]]) -> None:
    assert argvs(script) == expected
