"""Split the shell script of a Dockerfile RUN into simple commands for the RUN checks.

Our own small lexer: bashlex is GPL and raises on much real-world input, and `shlex` knows
neither `$(...)`, line numbers nor operators. This one never raises, does linear work on at
most 1 MiB, and keeps each command's line so findings point at the right Dockerfile line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SCRIPT = 1 << 20  # bytes of script looked at; the rest is ignored
MAX_DEPTH = 4  # nesting of `sh -c "..."` scripts that are split again

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
# reserved words dropped in command position; the words after them form the command
_PREFIX_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{"})
_END_KEYWORDS = frozenset({"fi", "done", "esac", "}"})
_PLAIN_RUN = re.compile(r"[^\s;&|()<>\\'\"$`]+")
_OPERATORS = ("&&", "||", ";;", "|&", ";", "|", "&")
_REDIRECT = re.compile(r"&>>|&>|<<<|<<-|<<|<>|>>|>&|<&|>\||>|<")
_FD = re.compile(r"[0-9]+-?(?![^\s;&|()<>])|-(?![^\s;&|()<>])")


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One simple command: its words after quote removal, without leading assignments."""

    argv: tuple[str, ...]
    line_offset: int = 0  # 0-based line of the command's first word within the script
    operator_before: str = ""  # "", "&&", ";", "||", "|", "&"; a newline counts as ";"
    piped_to_next: bool = False
    assignments: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The program's base name (`/usr/bin/curl` -> `curl`), or "" for none."""
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""


@dataclass(slots=True)
class _Token:
    kind: str  # "word" | "op" | "("  | ")"
    text: str
    line: int
    quoted: bool = False
    plain: int = 0  # length of the word's text before its first quote or escape


class _Lexer:
    """Tokens of a script: words (quotes removed), control operators and parentheses.

    Redirections and their targets are dropped; heredoc bodies are skipped."""

    def __init__(self, script: str) -> None:
        self.s = script
        self.i = 0
        self.line = 0
        self.tokens: list[_Token] = []
        self.heredocs: list[tuple[str, bool]] = []  # pending (delimiter, strip tabs)

    def run(self) -> list[_Token]:
        s, n = self.s, len(self.s)
        target = False  # the next word is a redirection target, not an argument
        while self.i < n:
            c = s[self.i]
            if c in " \t\r":
                self.i += 1
            elif c == "\\" and s.startswith("\n", self.i + 1):
                self.i += 2
                self.line += 1
            elif c == "\n":
                self._add("op", "\n")
                self.i += 1
                self.line += 1
                self._skip_heredocs()
                target = False
            elif c == "#":
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end
            elif c in "()":
                self._add(c, c)
                self.i += 1
                target = False
            elif (c in "<>" and not s.startswith("(", self.i + 1)) or s.startswith("&>", self.i):
                target = self._redirect()
            elif c in ";|&":
                op = next(o for o in _OPERATORS if s.startswith(o, self.i))
                self.i += len(op)
                self._add("op", {"|&": "|"}.get(op, op))
                target = False
            else:
                line = self.line
                word, quoted, plain = self._word()
                if target:
                    target = False
                    if self.heredocs and not self.heredocs[-1][0]:
                        self.heredocs[-1] = (word, self.heredocs[-1][1])
                # `2>file`: the fd number belongs to the redirection, not to argv
                elif quoted or not word.isdigit() or not s.startswith((">", "<"), self.i):
                    self.tokens.append(_Token("word", word, line, quoted, plain))
        return self.tokens

    def _add(self, kind: str, text: str) -> None:
        self.tokens.append(_Token(kind, text, self.line))

    def _redirect(self) -> bool:
        """Skip a redirection operator; True when a target word follows it."""
        m = _REDIRECT.match(self.s, self.i)
        op = m.group(0) if m else self.s[self.i]
        self.i += len(op)
        if op in ("<<", "<<-"):
            self.heredocs.append(("", op == "<<-"))
        if op in (">&", "<&"):  # `2>&1`, `>&-`: a bare fd target is part of the operator
            fd = _FD.match(self.s, self.i)
            if fd:
                self.i = fd.end()
                return False
        return True

    def _skip_heredocs(self) -> None:
        s = self.s
        while self.heredocs:
            delim, strip = self.heredocs.pop(0)
            if not delim:
                continue
            while self.i < len(s):
                end = s.find("\n", self.i)
                line = s[self.i : len(s) if end < 0 else end]
                self.i = len(s) if end < 0 else end + 1
                self.line += 1 if end >= 0 else 0
                if (line.lstrip("\t") if strip else line) == delim:
                    break

    def _word(self) -> tuple[str, bool, int]:
        """Read one word from `self.i`, removing quotes; `$(...)`, `${...}` and backticks
        are kept verbatim inside the word."""
        s, n = self.s, len(self.s)
        out: list[str] = []
        quoted = False
        plain = -1
        while self.i < n:
            c = s[self.i]
            if plain < 0 and c in "\\'\"":
                plain = len("".join(out))
            if c in " \t\r\n;&|()<>" and not (c in "<>" and s.startswith("(", self.i + 1)):
                if c == "(" and out and _ASSIGNMENT.fullmatch("".join(out)):
                    out.append(self._balanced("(", ")"))  # array assignment a=(x y)
                    continue
                break
            if c == "\\":
                if s.startswith("\n", self.i + 1):
                    self.line += 1
                elif self.i + 1 < n:
                    out.append(s[self.i + 1])
                    quoted = True
                self.i += 2
            elif c == "'":
                quoted = True
                end = s.find("'", self.i + 1)
                end = n if end < 0 else end
                out.append(s[self.i + 1 : end])
                self.line += s.count("\n", self.i, end)
                self.i = end + 1
            elif c == '"':
                quoted = True
                out.append(self._double_quoted())
            elif c == "$" and s.startswith("(", self.i + 1):
                self.i += 1
                out.append("$" + self._balanced("(", ")"))
            elif c == "$" and s.startswith("{", self.i + 1):
                self.i += 1
                out.append("$" + self._balanced("{", "}"))
            elif c in "<>":  # process substitution <(...) >(...)
                self.i += 1
                out.append(c + self._balanced("(", ")"))
            elif c == "`":
                out.append(self._backticks())
            else:
                # a run of ordinary characters at once: the common case, and per-character
                # appends were the splitter's main cost
                m = _PLAIN_RUN.match(s, self.i)
                end = m.end() if m else self.i + 1
                out.append(s[self.i : end])
                self.i = end
        text = "".join(out)
        return text, quoted, len(text) if plain < 0 else plain

    def _double_quoted(self) -> str:
        s, n = self.s, len(self.s)
        self.i += 1
        out: list[str] = []
        while self.i < n:
            c = s[self.i]
            if c == '"':
                self.i += 1
                break
            if c == "\\" and self.i + 1 < n and s[self.i + 1] in '\\"$`\n':
                if s[self.i + 1] == "\n":
                    self.line += 1
                else:
                    out.append(s[self.i + 1])
                self.i += 2
            elif c == "$" and s.startswith("(", self.i + 1):
                self.i += 1
                out.append("$" + self._balanced("(", ")"))
            elif c == "`":
                out.append(self._backticks())
            else:
                if c == "\n":
                    self.line += 1
                out.append(c)
                self.i += 1
        return "".join(out)

    def _backticks(self) -> str:
        s = self.s
        start = self.i
        self.i += 1
        while self.i < len(s) and s[self.i] != "`":
            self.i += 2 if s[self.i] == "\\" else 1
        self.i = min(self.i + 1, len(s))
        text = s[start : self.i]
        self.line += text.count("\n")
        return text

    def _balanced(self, open_: str, close: str) -> str:
        """Verbatim text from `self.i` (at `open_`) to its matching `close`, skipping quotes."""
        s, n = self.s, len(self.s)
        start = self.i
        depth = 0
        while self.i < n:
            c = s[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c == "'":
                end = s.find("'", self.i + 1)
                self.i = n if end < 0 else end + 1
                continue
            if c == '"':
                self.i += 1
                while self.i < n and s[self.i] != '"':
                    self.i += 2 if s[self.i] == "\\" else 1
                self.i += 1
                continue
            if c == open_:
                depth += 1
            elif c == close:
                depth -= 1
                if depth == 0:
                    self.i += 1
                    break
            self.i += 1
        self.i = min(self.i, n)
        text = s[start : self.i]
        self.line += text.count("\n")
        return text


def _inner_script(argv: tuple[str, ...]) -> str | None:
    """The script of `sh -c SCRIPT` / `bash -ec SCRIPT`, or None."""
    if not argv or argv[0].rsplit("/", 1)[-1] not in SHELLS:
        return None
    args = argv[1:]
    if argv[0].endswith("busybox") and args and args[0] in SHELLS:
        args = args[1:]
    for k, arg in enumerate(args):
        if arg == "--" or not arg.startswith(("-", "+")):
            return None
        if not arg.startswith("--") and "c" in arg[1:]:
            return args[k + 1] if k + 1 < len(args) else None
    return None


def _commands(tokens: list[_Token], depth: int, base_line: int) -> list[SimpleCommand]:
    out: list[SimpleCommand] = []
    words: list[_Token] = []
    assignments: list[str] = []
    first_line = -1
    pending_op = ""
    # `for`/`select` header (to `;`/newline) and `case` header (to `in`), `case` pattern
    # (to `)`): their words are not commands
    skip = ""  # "" | "header" | "case-header" | "pattern"
    in_case = 0

    def finish(next_op: str) -> None:
        nonlocal words, assignments, first_line, pending_op
        if words:
            argv = tuple(w.text for w in words)
            line = base_line + first_line
            out.append(SimpleCommand(argv, line, pending_op, next_op == "|", tuple(assignments)))
            inner = _inner_script(argv) if depth < MAX_DEPTH else None
            if inner is not None:
                # the inner script starts on the line of its word
                inner_line = next((w.line for w in words[1:] if w.text == inner), first_line)
                out.extend(_commands(_Lexer(inner).run(), depth + 1, base_line + inner_line))
        if words or assignments or next_op in ("&&", "||", "|"):
            pending_op = ";" if next_op in ("\n", ";;") else next_op
        words, assignments, first_line = [], [], -1

    for tok in tokens:
        if skip == "pattern":
            if tok.kind == ")":
                skip = ""
            elif tok.kind == "word" and tok.text == "esac" and not tok.quoted:
                skip, in_case = "", in_case - 1
            continue
        if skip == "case-header":
            if tok.kind == "word" and tok.text == "in" and not tok.quoted:
                skip = "pattern"
            continue
        if skip == "header":
            if tok.kind == "op" and tok.text in (";", "\n"):
                skip = ""
            continue
        if tok.kind == "op":
            finish(tok.text)
            if tok.text == ";;" and in_case:
                skip = "pattern"
            continue
        if tok.kind == ")":  # the operator after `)` ends the subshell's last command
            continue
        if tok.kind == "(":
            if words:  # `name() { ...; }`: a function definition
                finish(";")
            continue
        if not words and tok.kind == "word":
            assignment = _ASSIGNMENT.match(tok.text)
            if assignment and assignment.end() <= tok.plain:
                first_line = tok.line if first_line < 0 else first_line
                assignments.append(tok.text)
                continue
        if not words and not tok.quoted:
            if tok.text in _PREFIX_KEYWORDS or tok.text in _END_KEYWORDS:
                continue
            if tok.text == "esac" and in_case:
                in_case -= 1
                continue
            if tok.text in ("for", "select"):
                skip = "header"
                continue
            if tok.text == "case":
                skip, in_case = "case-header", in_case + 1
                continue
        first_line = tok.line if first_line < 0 else first_line
        words.append(tok)
    finish("")
    return out


def split_commands(script: str) -> list[SimpleCommand]:
    """The simple commands of `script`, in order, including those of subshells, groups,
    `if`/`for`/`while` bodies and `sh -c "..."` scripts (after the `sh -c` command itself).

    Best effort on broken input (an unclosed quote runs to the end); never raises."""
    return _commands(_Lexer(script[:MAX_SCRIPT]).run(), 0, 0)
