"""parse_fast gives BuildKit's exact parse, or None: on the corpus, on crafted inputs, fast.

The reference is the `dockerfile` package (BuildKit's Go parser). For every input parse_fast
must return None or a result equal to `dockerfile.parse_string`, field by field and type by
type; for inputs BuildKit rejects it must return None. Where BuildKit succeeds we also want
the fast path to cover the input, except for the constructs declined on purpose below.
"""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dockerfile  # type: ignore[import-not-found]
import pytest

from kubeward.cli.config import find_dockerfiles
from kubeward.misconfig.dockerfile import fastparse
from kubeward.misconfig.dockerfile.fastparse import FastCommand, FastHeredoc, parse_fast
from kubeward.misconfig.dockerfile.parse import MAX_SIZE

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dockerfiles"
MAX_NONE_SHARE = 0.03
MIN_SPEEDUP = 4.0


def reference(text: str) -> tuple[Any, ...] | None:
    """BuildKit's commands, None when it rejects the text."""
    try:
        return tuple(dockerfile.parse_string(text))
    except (dockerfile.GoParseError, UnicodeDecodeError):  # a split character in Go
        return None


def assert_same(fast: tuple[FastCommand, ...], ref: tuple[Any, ...]) -> None:
    """Equal as tuples, and every field of the same type (bool is not int, tuple not list)."""
    assert len(fast) == len(ref)
    for mine, theirs in zip(fast, ref, strict=True):
        assert tuple(mine) == tuple(theirs)
        for name in FastCommand._fields:
            got, want = getattr(mine, name), getattr(theirs, name)
            assert type(got) is type(want), name
            if isinstance(want, tuple) and name != "heredocs":  # FastHeredoc: checked below
                assert [type(x) for x in got] == [type(x) for x in want], name
        for doc, their_doc in zip(mine.heredocs, theirs.heredocs, strict=True):
            assert [type(x) for x in doc] == [type(x) for x in their_doc]


def check(text: str) -> tuple[FastCommand, ...] | None:
    """parse_fast(text) after asserting it agrees with BuildKit."""
    fast = parse_fast(text)
    ref = reference(text)
    if fast is not None:
        assert ref is not None, "parse_fast accepted what BuildKit rejects"
        assert_same(fast, ref)
    return fast


def decline_reason(text: str) -> str:
    try:
        fastparse._parse(text)
    except fastparse._Decline as exc:
        return str(exc)
    except Exception as exc:
        return type(exc).__name__
    return "no instructions, or unsupported characters / line length"


def corpus_texts() -> list[tuple[str, str]]:
    """(relative path, text) as parse_dockerfile hands text to the parser."""
    if not CORPUS.is_dir():
        pytest.skip(f"no Dockerfile corpus at {CORPUS}")
    out: list[tuple[str, str]] = []
    for path, rel in find_dockerfiles(CORPUS):
        data = path.read_bytes()
        if len(data) > MAX_SIZE or b"\x00" in data[:8192]:
            continue  # parse_dockerfile reports these without parsing
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            continue  # likewise: "not valid UTF-8 text"
        out.append((rel, text.replace("\r\n", "\n").replace("\r", "\n")))
    return out


def test_field_names_match_the_dockerfile_package() -> None:
    assert FastCommand._fields == dockerfile.Command._fields
    assert FastHeredoc._fields == dockerfile.Heredoc._fields


def test_corpus_equals_buildkit() -> None:
    texts = corpus_texts()
    declined: Counter[str] = Counter()
    for rel, text in texts:
        fast = parse_fast(text)
        ref = reference(text)
        if fast is None:
            verdict = "BuildKit error" if ref is None else "BuildKit ok"
            declined[f"{decline_reason(text)} ({verdict})"] += 1
            continue
        assert ref is not None, rel
        assert_same(fast, ref)
    total = sum(declined.values())
    print(f"\nparse_fast: {total} of {len(texts)} corpus files fall back: {dict(declined)}")
    assert total <= MAX_NONE_SHARE * len(texts), declined


def test_corpus_speed() -> None:
    texts = [text for _, text in corpus_texts()]

    def buildkit(text: str) -> None:
        with contextlib.suppress(dockerfile.GoParseError):
            dockerfile.parse_string(text)

    def best(parse: Any) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for text in texts:
                parse(text)
            times.append(time.perf_counter() - start)
        return min(times)

    fast, slow = best(parse_fast), best(buildkit)
    report = f"parse_fast {fast:.4f}s, BuildKit {slow:.4f}s: {slow / fast:.1f}x, {len(texts)} files"
    print("\n" + report)
    assert slow >= MIN_SPEEDUP * fast, report


LONG = "x" * 20000

# (id, text): BuildKit accepts each, and parse_fast must cover it.
COVERED = [
    ("basic", 'FROM alpine:3.19\nRUN apk add curl\nCMD ["sh"]\n'),
    ("escape-backtick", "# escape=`\nFROM a\nRUN echo a `\n  b\nCOPY x\\y z\n"),
    ("syntax-and-escape", "# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN a `\nb"),
    ("check-ends-directives", "# check=skip=all\n# escape=`\nFROM a\nRUN a `\nb\n"),
    ("directive-after-blank", "\n# escape=`\nFROM a\nRUN a `\nb\n"),
    ("directive-spacing-case", "#  ESCAPE = `  \nFROM a\nRUN a `\nb"),
    ("comments", "# c\nFROM a # not a comment\n  # indented\nRUN x\n"),
    ("continuation-comments-blanks", "FROM a\nRUN a \\\n  # c\n\n   \n  && b \\\n  && c\n"),
    ("continuation-trailing-space", "FROM a\nRUN a \\  \t\n  b\n"),
    ("continuation-at-eof", "FROM a\nRUN a \\"),
    ("continuation-at-eof-newline", "FROM a\nRUN a \\\n"),
    ("escaped-escape-at-end", "FROM a\nRUN echo a\\\\\nRUN b\n"),
    ("escape-alone-on-a-line", "FROM a\n\\\nRUN b\n"),
    ("heredoc", "FROM a\nRUN <<EOF\necho hi\nEOF\n"),
    ("heredoc-command-after", "FROM a\nRUN <<EOF bash -ex\nset -e\nEOF\n"),
    ("heredoc-chomp", "FROM a\nRUN <<-EOF\n\techo hi\n\tEOF\n"),
    ("heredoc-quoted", "FROM a\nRUN <<'EOF'\n$HOME\nEOF\nRUN <<\"EOT\" sh\nx\nEOT\n"),
    ("heredoc-several", "FROM a\nRUN <<A <<B cat\na\nA\nb\nB\n"),
    ("heredoc-fd", "FROM a\nRUN python3 3<<EOF\nprint(1)\nEOF\n"),
    ("heredoc-copy", "FROM a\nCOPY <<EOF /etc/x.conf\nk=v\nEOF\n"),
    ("heredoc-add-chmod", "FROM a\nADD --chmod=644 <<EOF /x\nz\nEOF\n"),
    ("heredoc-mount-continued", "FROM a\nRUN --mount=type=cache,target=/c \\\n  <<EOF\nls\nEOF\n"),
    ("heredoc-body-lines-kept", "FROM a\nRUN <<EOF\n# not a comment\n\\\n\nEOF\n"),
    ("heredoc-backslash-name", "FROM a\nRUN <<\\EOF\nx\nEOF\n"),
    ("heredoc-escape-directive", "# escape=`\nFROM a\nRUN <<EOF\nx\nEOF\n"),
    ("heredoc-empty", "FROM a\nRUN <<EOF\nEOF\n"),
    ("heredoc-at-eof-no-newline", "FROM a\nRUN <<EOF\nx\nEOF"),
    ("heredoc-in-modifier", "FROM a\nRUN echo ${a:-x <<EOF}\nx\nEOF}\n"),
    ("heredoc-lexing-error", "FROM a\nRUN <<EOF echo ${}\nRUN x\n"),
    ("not-heredoc", 'FROM a\nRUN echo "<<EOF"\nRUN ["cat", "<<EOF"]\nRUN echo $((1<<4))\n'),
    ("heredoc-unterminated-quote", "FROM a\nRUN <<'EOF\nx\nEOF\nRUN <<EOF'\nx\n"),
    ("onbuild-heredoc", "FROM a\nONBUILD RUN <<EOF\necho\nEOF\n"),
    ("json", 'FROM a\nENTRYPOINT ["/bin/sh", "-c"]\nCMD [ "echo" , "hi" ]\n'),
    ("json-escapes", 'FROM a\nCMD ["a\\"b", "\\u00e9", "é", "\\/"]\n'),
    ("json-invalid-shell-form", 'FROM a\nCMD ["a" "b"]\nRUN [not json]\nCMD ["a",]\n'),
    ("json-trailing-text", 'FROM a\nCMD ["a"] trailing\n'),
    ("json-empty", "FROM a\nCMD []\n"),
    ("list-forms", 'FROM a\nCOPY ["a b", "/c/"]\nADD a b c/\nVOLUME /d /e\nVOLUME ["/x"]\n'),
    (
        "flags",
        "FROM --platform=$P golang AS b\nCOPY --from=b --chown=1:1 /o /\n"
        "RUN --mount=type=secret,id=t --network=none make\n",
    ),
    (
        "flags-quoted-and-terminator",
        'FROM a\nCOPY --chown="a b" -- --odd /x\nRUN --mount=type=bind,source="x y" ls\n',
    ),
    (
        "bad-flags",
        "FROM a\nCOPY --from\nCOPY --=x a b\nCOPY --chown='a b' c d\n"
        'RUN --mount="unterminated ls\nRUN -- ls\nRUN --\n',
    ),
    (
        "env-label-pairs",
        'FROM a\nENV A=1 B="two words" C=\'x y\' D=a\\ b E=\nLABEL "com.x"="y" v=1.0\n',
    ),
    ("env-legacy", 'FROM a\nENV PATH /usr/local/bin:$PATH\nENV A  b  c\nENV Q "x y"\n'),
    ("env-escape-backtick", '# escape=`\nFROM a\nENV A=x` y B="q`"r"\n'),
    ("arg", 'ARG V=1\nARG NAME\nFROM a:${V}\nARG X="q r" Y\n'),
    ("onbuild", "FROM a\nONBUILD RUN make\nONBUILD COPY . /s\nonbuild --x=y run --mount=a b\n"),
    ("onbuild-onbuild", "FROM a\nONBUILD ONBUILD RUN x\nONBUILD FOO x\nONBUILD\n"),
    (
        "healthcheck",
        "FROM a\nHEALTHCHECK NONE\nHEALTHCHECK --interval=30s --timeout=3s CMD curl -f"
        ' http://x/ || exit 1\nHEALTHCHECK CMD ["true"]\nHEALTHCHECK\nHEALTHCHECK CMD\n',
    ),
    (
        "simple-instructions",
        "FROM a\nMAINTAINER Jane <j@x>\nSTOPSIGNAL SIGTERM\nUSER 1:1\n"
        'WORKDIR /app dir\nSHELL ["/bin/bash", "-c"]\nEXPOSE 80/tcp 443\n',
    ),
    ("case-insensitive", "from a AS b\nRun echo\ncOpY x y\nHealthCheck none\n"),
    ("whitespace-tabs", "  FROM\ta\n\tRUN\t\techo  a \t \nEXPOSE 1\t2\v3\n"),
    ("unknown-instruction", "FROM a\nFOO bar baz\nBAR\n"),
    ("from-without-args", "FROM\n"),
    ("no-args", "FROM a\nRUN\nCMD\nENV\nLABEL\nARG\nCOPY\nUSER\n"),
    ("unicode-space", "FROM a\nRUN echo\u00a0hi\nLABEL a=\u00e9t\u00e9\nEXPOSE 1\u00a02 3\n"),
    ("long-line", f"FROM a\nRUN echo {LONG}\nLABEL x={LONG}\n"),
    ("second-bom", "\ufeffFROM a\n"),
    ("blank-lines-trailing-spaces", "\n\n\nFROM a   \n\n\nRUN b   \n\n"),
    ("continuation-then-heredoc", "FROM a\nRUN <<EOF \\\n  cat\nx\nEOF\n"),
]

# (id, text): BuildKit rejects each; parse_fast must say None.
REJECTED = [
    ("empty-file", ""),
    ("only-comments", "# a\n# b\n"),
    ("only-blank", "\n\n  \n"),
    ("unterminated-heredoc", "FROM a\nRUN <<EOF\necho\n"),
    ("json-non-string", 'FROM a\nCMD ["a", 1]\n'),
    ("env-one-word", "FROM a\nENV ONLYKEY\n"),
    ("env-mixed-forms", "FROM a\nENV a=b c\n"),
    ("label-missing-equals", "FROM a\nLABEL a=b c\n"),
    ("duplicate-directive", "# escape=`\n# escape=\\\nFROM a\n"),
    ("invalid-escape", "# escape=x\nFROM a\n"),
    ("very-long-line", "FROM a\nRUN " + "x" * 70000 + "\n"),
    ("heredoc-name-error", 'FROM a\nRUN <<${a:-"x y"}\n'),
]

# (id, text, why): BuildKit accepts these, parse_fast declines on purpose (rare, and exact
# emulation would cost more than the fallback).
DECLINED = [
    ("heredoc-variable-name", "FROM a\nRUN <<$X\nx\n$X\n", "name lexing with variables"),
    ("non-ascii-flag", "FROM a\nRUN --mount=target=/\u00e9 ls\n", "Go reads flags bytewise"),
    ("non-ascii-instruction", 'FROM a\nENTRYPO\u0130NT ["a"]\n', "Go's ToLower differs"),
    ("nul", "FROM a\nRUN x\x00y\n", "the Go side stops at NUL"),
    ("empty-instruction", "FROM a\n\\\n \\\n", "the package reports cmd=None"),
    ("json-nan", "FROM a\nCMD [NaN]\n", "Python's json accepts NaN, Go's does not"),
    ("control-separators", "FROM a\nRUN a\x1cb\n", "Python and Go disagree on \\x1c-\\x1f"),
]


@pytest.mark.parametrize("text", [t for _, t in COVERED], ids=[i for i, _ in COVERED])
def test_crafted_covered(text: str) -> None:
    assert reference(text) is not None
    assert check(text) is not None


@pytest.mark.parametrize("text", [t for _, t in REJECTED], ids=[i for i, _ in REJECTED])
def test_crafted_rejected(text: str) -> None:
    assert reference(text) is None
    assert parse_fast(text) is None


@pytest.mark.parametrize("text", [t for _, t, _ in DECLINED], ids=[i for i, _, _ in DECLINED])
def test_crafted_declined(text: str) -> None:
    assert reference(text) is not None
    assert parse_fast(text) is None


def test_binaryish_text() -> None:
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(1, 0x300) if c != 0x0D]
    for _ in range(20):
        text = "".join(rng.choice(alphabet) for _ in range(3000))
        check(text)  # with \x1c-\x1f inside: None
        check("FROM a\n" + text.translate(dict.fromkeys(range(0x1C, 0x20))))


ATOMS = [
    " ", "  ", "\t", "\v", "a", "=", "x=y", "'", '"', "\\", "`", "$", "${A}", "${", "}", "#",
    "--", "--from=a", "--mount=type=cache,target=/x", "[", "]", '["a"]', '["a", "b"]', "[1]",
    "<<EOF", "<<-EOF", "3<<EOF", "<<'EOF'", "EOF", "\u00a0", "é", "CMD", "NONE", "\\\n",
    "`\n", "\n", "\n#c\n", "\n\n", " \\\n  ", '"a b"', "'a b'", "\\ ", "${A:-b c}", "${:}",
]  # fmt: skip
WORDS = [
    "FROM", "from", "RUN", "CMD", "ENTRYPOINT", "COPY", "ADD", "ENV", "LABEL", "ARG", "EXPOSE",
    "VOLUME", "USER", "WORKDIR", "SHELL", "HEALTHCHECK", "ONBUILD", "ONBUILD RUN", "FOO",
]  # fmt: skip
BODIES = ["EOF", "\tEOF", "EOF ", "x", "# c", "RUN x", "", "\\"]


def test_generated_inputs() -> None:
    """Random instruction soup: every non-None answer equals BuildKit's."""
    rng = random.Random(2024)
    covered = 0
    for _ in range(600):
        lines = []
        if rng.random() < 0.2:
            lines.append(rng.choice(["# escape=`", "# syntax=x", "# escape=\\", " # escape=`"]))
        for _ in range(rng.randint(1, 6)):
            atoms = [rng.choice(ATOMS) + " " * rng.randint(0, 1) for _ in range(rng.randint(0, 6))]
            line = rng.choice(WORDS) + " " + "".join(atoms)
            lines.append(line)
            if "<<" in line:
                lines += [rng.choice(BODIES) for _ in range(rng.randint(0, 3))]
        if check("\n".join(lines)) is not None:
            covered += 1
    assert covered > 200


@pytest.mark.parametrize(
    "text",
    [
        "FROM a\nRUN " + "${a:-" * 12000 + "\n",
        "FROM a\nRUN <<EOF " + "${a:-" * 12000 + "\n",
        "FROM a\nCMD " + "[" * 60000 + "\n",
        "FROM a\n" + "ONBUILD " * 8000 + "RUN x\n",
        "# a=" + " " * 60000 + "b\nFROM a\n",
        "FROM a\nRUN " + '"' * 60000 + "\n",
        "FROM a\nENV " + "a=\\ " * 15000 + "\n",
        "FROM a\nCOPY " + "--a=\\' " * 9000 + "x y\n",
        "FROM a\n" + "RUN a \\\n" * 400000,
        "FROM a\nRUN " + "<<A " * 8000 + "\n" + "A\n" * 8000,
        "FROM a\n" + "RUN <<A\nx\nA\n" * 200000,
        "FROM a\n" + "\n".join("RUN " + "é" * 16000 for _ in range(60)),
    ],
    ids=lambda text: f"{len(text)}-chars",
)
def test_large_inputs_stay_fast(text: str) -> None:
    start = time.perf_counter()
    parse_fast(text)
    assert time.perf_counter() - start < 5  # about 1 s at most; no quadratic path
    if len(text) < 100_000:  # BuildKit itself takes seconds, or minutes, on the big ones
        check(text)


def test_parse_dockerfile_leaves_go_unloaded() -> None:
    """The scanner forks workers: parsing a usual Dockerfile must not start the Go runtime."""
    code = (
        "import sys\n"
        "from kubeward.misconfig.dockerfile.parse import parse_dockerfile\n"
        "df = parse_dockerfile(b'FROM a\\nRUN <<EOF\\necho\\nEOF\\n', 'Dockerfile')\n"
        "assert df.parse_error is None and df.instructions[1].heredocs == ('echo\\n',)\n"
        "assert 'dockerfile' not in sys.modules\n"
        "df = parse_dockerfile(b'FROM a\\nRUN <<EOF\\n', 'Dockerfile')\n"
        "assert df.parse_error is not None and 'dockerfile' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
