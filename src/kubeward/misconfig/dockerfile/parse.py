"""Dockerfile bytes -> `Dockerfile`: BuildKit's own parser for syntax, plus what it leaves out.

The `dockerfile` package is BuildKit's parser (continuations, heredocs, JSON form, the escape
directive), so syntax matches `docker build` exactly; `fastparse.parse_fast` returns the same
commands without loading Go for nearly every file, and BuildKit parses the rest. It does not
group stages, substitute ARG/ENV, keep per-line text, or read our suppression comments; that
is done here. Bad input is normal input: every failure becomes `parse_error=(line, message)`,
never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubeward.misconfig.dockerfile.fastparse import parse_fast
from kubeward.misconfig.dockerfile.model import Dockerfile, Instruction, Stage

MAX_SIZE = 4 * 1024 * 1024

KNOWN = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})  # fmt: skip
# Instructions whose arguments Docker expands with ARG/ENV values at build time.
SUBSTITUTED = frozenset({
    "ADD", "ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME",
    "WORKDIR",
})  # fmt: skip
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_DIRECTIVE_KEYS = frozenset({"syntax", "escape", "check"})
_SUPPRESS = re.compile(r"^\s*#\s*kubeward:ignore(-file)?=([A-Za-z0-9_.,-]+)")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PLAIN = re.compile(_NAME)
_BRACED = re.compile(r"\$\{(" + _NAME + r")(?:(:?[-+?])(.*))?\}$", re.S)

Env = Mapping[str, str | None]  # None: declared (ARG NAME) without a value


def parse_dockerfile(data: bytes, path: str) -> Dockerfile:
    """Parse `data`; never raises. See the module docstring for what is added to BuildKit's
    parse tree."""
    if len(data) > MAX_SIZE:
        return Dockerfile(path, parse_error=(1, f"file larger than {MAX_SIZE // 1048576} MiB"))
    if b"\x00" in data[:8192]:
        return Dockerfile(path, parse_error=(1, "binary content, not a Dockerfile"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return Dockerfile(path, parse_error=(line, "not valid UTF-8 text"))
    try:
        return _parse_text(text, path)
    except Exception as exc:  # a parser bug must still be one finding, not a crash
        return Dockerfile(path, parse_error=(1, _one_line(f"{type(exc).__name__}: {exc}")))


def _one_line(message: str) -> str:
    return " ".join(message.split())[:300]


def _parse_text(text: str, path: str) -> Dockerfile:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    directives = _directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        return Dockerfile(
            path, directives=directives, parse_error=(1, f"invalid escape directive {escape!r}")
        )
    commands: Any = parse_fast(text)  # BuildKit's exact result, or None when not certain
    if commands is None:
        import dockerfile  # type: ignore[import-not-found]  # lazy: see __init__

        try:
            commands = dockerfile.parse_string(text)
        except dockerfile.GoParseError as exc:
            return Dockerfile(
                path,
                directives=directives,
                parse_error=(_error_line(lines, str(exc)), _one_line(str(exc))),
            )
    for command in commands:
        if command.cmd.upper() not in KNOWN:
            return Dockerfile(
                path,
                directives=directives,
                parse_error=(command.start_line, f"unknown instruction: {command.cmd}"),
            )
    return _build(path, lines, commands, directives, escape)


def _directives(lines: list[str]) -> dict[str, str]:
    """Parser directives: `# key=value` lines at the very top, until anything else."""
    out: dict[str, str] = {}
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if match is None or match.group(1).lower() not in _DIRECTIVE_KEYS:
            break
        key = match.group(1).lower()
        if key in out:
            break
        out[key] = match.group(2)
    return out


def _error_line(lines: list[str], message: str) -> int:
    """BuildKit's messages carry no line: find the shortest prefix failing the same way."""

    import dockerfile

    def fails(count: int) -> bool:
        try:
            dockerfile.parse_string("\n".join(lines[:count]))
        except dockerfile.GoParseError as exc:
            return str(exc) == message
        return False

    low, high = 1, len(lines)
    if not fails(high):
        return 1
    while low < high:
        middle = (low + high) // 2
        if fails(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _build(
    path: str, lines: list[str], commands: Any, directives: dict[str, str], escape: str
) -> Dockerfile:
    global_args: dict[str, str | None] = {}
    instructions: list[Instruction] = []
    stages: list[Stage] = []
    stage_items: list[Instruction] = []
    stage_env: dict[str, str | None] = {}  # ENV of the current stage
    stage_args: dict[str, str | None] = {}  # ARG of the current stage
    final_env: list[dict[str, str | None]] = []  # ENV at the end of each finished stage
    current: dict[str, Any] | None = None  # the FROM facts of the stage being read

    def finish() -> None:
        if current is not None:
            stages.append(Stage(instructions=tuple(stage_items), **current))
            final_env.append(dict(stage_env))

    for command in commands:
        cmd = command.cmd.upper()
        values = tuple(command.value)
        flags = tuple(command.flags)
        if cmd == "FROM":
            finish()
            stage_items = []
            flags = tuple(_expand(f, global_args, escape) for f in flags)
            image = _expand(values[0], global_args, escape) if values else ""
            name = values[2].lower() if len(values) >= 3 and values[1].upper() == "AS" else None
            values = (image, *values[1:])
            platform = next(
                (f.split("=", 1)[1] for f in flags if f.startswith("--platform=")), None
            )
            index = len(stages)
            stage_env, stage_args = {}, {}
            parent = _stage_index(stages, image)
            if parent is not None:
                stage_env = dict(final_env[parent])
            current = {
                "index": index,
                "name": name,
                "base": image,
                "base_line": command.start_line,
                "platform": platform,
            }
        elif current is None:
            if cmd != "ARG":
                return Dockerfile(
                    path,
                    directives=directives,
                    parse_error=(
                        command.start_line,
                        f"{cmd} before the first FROM (only ARG may come first)",
                    ),
                )
            values = _declare_args(values, global_args, global_args, {}, escape)
        elif cmd == "ARG":
            values = _declare_args(
                values, {**stage_args, **stage_env}, stage_args, global_args, escape
            )
        elif cmd in ("ENV", "LABEL"):
            scope = {**stage_args, **stage_env}
            pairs: list[str] = []
            for raw_key, raw_value in zip(values[::2], values[1::2], strict=False):
                key = _expand(raw_key, scope, escape)
                value = _expand(raw_value, scope, escape)
                pairs += (key, value)
                if cmd == "ENV":
                    stage_env[key] = value
                    scope[key] = value
            values = tuple(pairs)
        elif cmd in SUBSTITUTED:
            scope = {**stage_args, **stage_env}
            flags = tuple(_expand(f, scope, escape) for f in flags)
            values = tuple(
                v if v.startswith("<<") else _expand(v, scope, escape, quotes=not command.json)
                for v in values
            )
        if cmd == "ONBUILD" and command.sub_cmd:
            values = (str(command.sub_cmd).upper(), *values)
        start, end = command.start_line, command.end_line
        heredocs = tuple(h.content for h in command.heredocs)
        script = ""
        if cmd == "RUN" and not command.json:
            script = _script(
                lines, start=start, end=end, heredocs=heredocs, flags=flags, escape=escape
            )
        instruction = Instruction(
            cmd=cmd,
            args=values,
            raw="\n".join(lines[start - 1 : end]),
            line=start,
            end_line=end,
            flags=flags,
            json_form=bool(command.json),
            heredocs=heredocs,
            stage=len(stages) if current is not None else -1,
            script=script,
        )
        instructions.append(instruction)
        if current is not None:
            stage_items.append(instruction)
    finish()
    if not stages:
        first = instructions[0].line if instructions else 1
        return Dockerfile(
            path,
            directives=directives,
            args_before_from=global_args,
            parse_error=(first, "no FROM instruction"),
        )
    return Dockerfile(
        path=path,
        stages=tuple(stages),
        directives=directives,
        args_before_from=global_args,
        instructions=tuple(instructions),
        suppressions=_suppressions(lines, instructions),
    )


def _stage_index(stages: list[Stage], image: str) -> int | None:
    ref = image.lower()
    if ref.isdigit():
        return int(ref) if int(ref) < len(stages) else None
    for stage in reversed(stages):
        if stage.name == ref:
            return stage.index
    return None


def _declare_args(
    values: tuple[str, ...],
    scope: dict[str, str | None],
    target: dict[str, str | None],
    global_args: Env,
    escape: str,
) -> tuple[str, ...]:
    """ARG NAME[=default] ...: a redeclared global ARG without default takes the global value."""
    out: list[str] = []
    for token in values:
        name, sep, default = token.partition("=")
        value: str | None
        if sep:
            value = _expand(default, scope, escape)
            out.append(f"{name}={value}")
        else:
            value = global_args.get(name)
            out.append(name)
        target[name] = value
        scope[name] = value
    return tuple(out)


def _expand(word: str, env: Env, escape: str, *, quotes: bool = True) -> str:
    """Docker's word processing: quotes, the escape character, $VAR, ${VAR}, ${VAR:-x},
    ${VAR-x}, ${VAR:+x}, ${VAR+x}. A variable with no known value (set by the base image, a
    build argument, or undeclared) is left as written, so checks see `$UID`, not ""."""
    if "$" not in word and not (quotes and any(c in word for c in ("'", '"', escape))):
        return word
    out: list[str] = []
    i, n = 0, len(word)
    quote = ""
    while i < n:
        c = word[i]
        if quotes and c == escape and quote != "'" and i + 1 < n:
            out.append(word[i + 1])
            i += 2
        elif quotes and c in ("'", '"') and quote in ("", c):
            quote = "" if quote else c
            i += 1
        elif c == "$" and quote != "'":
            text, i = _variable(word, i, env, escape)
            out.append(text)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _variable(word: str, i: int, env: Env, escape: str) -> tuple[str, int]:
    """Expand the reference starting at word[i] == "$"; return (text, next index)."""
    if word.startswith("${", i):
        depth, j = 0, i + 1
        while j < len(word):
            if word[j] == "{":
                depth += 1
            elif word[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        ref = word[i : j + 1]
        match = _BRACED.match(ref)
        if match is None:
            return ref, j + 1
        name, operator, operand = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if operator is None:
            return (ref if value is None else value), j + 1
        operand = _expand(operand, env, escape, quotes=False)
        if operator in (":-", "-"):
            usable = value is not None and (operator == "-" or value != "")
            return (value if usable and value is not None else operand), j + 1
        if operator in (":+", "+"):
            present = value is not None and (operator == "+" or value != "")
            return (operand if present else ""), j + 1
        return (ref if value is None else value), j + 1  # ${VAR:?message}
    match = _PLAIN.match(word, i + 1)
    if match is None:
        return "$", i + 1
    value = env.get(match.group(0))
    return (f"${match.group(0)}" if value is None else value), match.end()


def _script(
    lines: list[str],
    *,
    start: int,
    end: int,
    heredocs: tuple[str, ...],
    flags: tuple[str, ...],
    escape: str,
) -> str:
    """The shell text of a shell-form RUN, one line per Dockerfile line from `start`, so a
    command's line offset is exact: keyword and flags removed, heredoc bodies cut off,
    comment and blank lines inside continuations kept as bare continuations."""
    heredoc_lines = sum(body.count("\n") + 1 for body in heredocs)
    last = max(start, end - heredoc_lines)
    part = lines[start - 1 : last]
    out: list[str] = []
    for number, line in enumerate(part):
        stripped = line.strip()
        if number and (not stripped or stripped.startswith("#")):
            out.append("\\")
            continue
        if escape == "`" and line.rstrip().endswith("`"):
            out.append(line.rstrip()[:-1] + "\\")
        else:
            out.append(line)
    text = "\n".join(out)
    text = re.sub(r"^\s*RUN\b", "", text, count=1, flags=re.I)
    for flag in flags:
        position = text.find(flag)
        if position >= 0:
            text = text[:position] + text[position + len(flag) :]
    return text.strip(" \t")


def _suppressions(lines: list[str], instructions: list[Instruction]) -> dict[int, frozenset[str]]:
    """`# kubeward:ignore=ID,ID reason` covers every line of the next instruction;
    `# kubeward:ignore-file=ID` covers the file (stored under line 0)."""
    if not any("kubeward:ignore" in line for line in lines):
        return {}
    inside: set[int] = set()
    for item in instructions:
        inside.update(range(item.line, item.end_line + 1))
    out: dict[int, set[str]] = {}
    for number, line in enumerate(lines, start=1):
        if number in inside:
            continue
        match = _SUPPRESS.match(line)
        if match is None:
            continue
        ids = {i for i in match.group(2).split(",") if i}
        if match.group(1):
            out.setdefault(0, set()).update(ids)
            continue
        target = next((item for item in instructions if item.line > number), None)
        if target is not None:
            for covered in range(target.line, target.end_line + 1):
                out.setdefault(covered, set()).update(ids)
    return {line: frozenset(ids) for line, ids in out.items()}
