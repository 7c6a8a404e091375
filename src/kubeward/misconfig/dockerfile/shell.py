"""Split the shell script of a Dockerfile RUN into simple commands for the RUN checks.

Our own small lexer: bashlex is GPL and raises on much real-world input, and `shlex` knows
neither `$(...)`, line numbers nor operators. This one never raises, does linear work on at
most 1 MiB, and keeps each command's line so findings point at the right Dockerfile line.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MAX_SCRIPT = 1 << 20  # bytes of script looked at; the rest is ignored
MAX_DEPTH = 4  # nesting of `sh -c "..."` scripts that are split again

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
# reserved words dropped in command position; the words after them form the command
_PREFIX_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{"})
_END_KEYWORDS = frozenset({"fi", "done", "esac", "}"})
_PLAIN_RUN = re.compile(r"[^\s;&|()<>\\'\"$`]+")
# A whole word of plain runs, `$NAME`, '...' and "..." without escapes or substitutions, ending
# at a separator: most words of real scripts; anything else takes the general path.
_WORD = (
    r"""(?:[^\s;&|()<>\\'"$`#]|\$(?![({]))"""
    r"""(?:[^\s;&|()<>\\'"$`]|\$(?![({])|'[^']*'|"[^"\\$`]*")*+(?![(<>\\'"$`])"""
    r"""|(?:'[^']*'|"[^"\\$`]*")(?:[^\s;&|()<>\\'"$`]|\$(?![({])|'[^']*'|"[^"\\$`]*")*+"""
    r"""(?![(<>\\'"$`])"""
)
_SIMPLE_WORD = re.compile(_WORD)
# A run of blanks and simple words up to the next operator, quote-less runs are split at once
_SEGMENT = re.compile(r"(?:[ \t\r]+|\\\n|(?>" + _WORD + r"))++")
_IN_DOUBLE_QUOTES = re.compile(r'[^"\\$`]+')
_QUOTES = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_BLANKS = re.compile(r"[ \t\r]+")
_OPERATOR = re.compile(r"&&|\|\||;;|\|&|;|\||&")
_REDIRECT = re.compile(r"&>>|&>|<<<|<<-|<<|<>|>>|>&|<&|>\||>|<")
_FD = re.compile(r"[0-9]+-?(?![^\s;&|()<>])|-(?![^\s;&|()<>])")


class SimpleCommand(NamedTuple):
    """One simple command: its words after quote removal, without leading assignments.

    A NamedTuple rather than a frozen dataclass: tens of thousands are built per scan and a
    frozen dataclass's __init__ was a tenth of the splitter's time."""

    argv: tuple[str, ...]
    line_offset: int = 0  # 0-based line of the command's first word within the script
    operator_before: str = ""  # "", "&&", ";", "||", "|", "&"; a newline counts as ";"
    piped_to_next: bool = False
    assignments: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The program's base name (`/usr/bin/curl` -> `curl`), or "" for none."""
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""


class _Token(NamedTuple):
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
        tokens = self.tokens
        blanks, segment = _BLANKS.match, _SEGMENT.match
        target = False  # the next word is a redirection target, not an argument
        while self.i < n:
            # the common case first: blanks and simple words up to the next special character
            i = self.i
            if target:
                if s[i] in " \t\r":
                    i = blanks(s, i).end()  # type: ignore[union-attr]
            elif (m := segment(s, i)) is not None:
                run = m.group()
                line = self.line
                if "'" in run or '"' in run:
                    for found in _SIMPLE_WORD.finditer(run):
                        self.line = line + run.count("\n", 0, found.start())
                        self._simple_word(found.group())
                    self.line = line + run.count("\n")
                elif "\\\n" in run:  # continuation lines: each piece on its own line
                    for k, piece in enumerate(run.split("\\\n")):
                        tokens.extend(
                            [_Token("word", w, line + k, False, len(w)) for w in piece.split()]
                        )
                    self.line = line + run.count("\n")
                else:
                    tokens.extend([_Token("word", w, line, False, len(w)) for w in run.split()])
                i = m.end()
            self.i = i
            if i >= n:
                break
            c = s[i]
            if c == "\\" and s.startswith("\n", self.i + 1):
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
                op = _OPERATOR.match(s, self.i).group()  # type: ignore[union-attr]
                self.i += len(op)
                self._add("op", "|" if op == "|&" else op)
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

    def _simple_word(self, raw: str) -> None:
        """Add a word matched by _SIMPLE_WORD (not a redirection target)."""
        if "'" not in raw and '"' not in raw:
            self.tokens.append(_Token("word", raw, self.line, False, len(raw)))
            return
        single, double = raw.find("'"), raw.find('"')
        cut = double if single < 0 else single if double < 0 else min(single, double)
        line = self.line
        self.line += raw.count("\n")
        text = _QUOTES.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), raw)
        self.tokens.append(_Token("word", text, line, True, cut))

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
            else:  # a run of ordinary characters at once
                m = _IN_DOUBLE_QUOTES.match(s, self.i)
                end = m.end() if m else self.i + 1
                text = s[self.i : end]
                self.line += text.count("\n")
                out.append(text)
                self.i = end
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


_WRAPPERS = frozenset({"sudo", "env", "nice", "nohup", "time", "exec", "command"})
_WRAPPER_VALUE = frozenset({"-u", "-g", "-n", "-C", "-D", "-U", "-p", "-h", "-r", "-t"})


def unwrapped_argv(argv: tuple[str, ...]) -> tuple[str, ...]:
    """argv without wrappers such as `sudo -E` or `env A=1`, the program without its path
    (`/usr/bin/sudo -E apt-get install x` -> `apt-get install x`)."""
    while argv and argv[0].rsplit("/", 1)[-1] in _WRAPPERS:
        argv = argv[1:]
        while argv and (argv[0].startswith("-") or "=" in argv[0]):
            argv = argv[2:] if argv[0] in _WRAPPER_VALUE else argv[1:]
    return (argv[0].rsplit("/", 1)[-1], *argv[1:]) if argv else ()


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
            argv = tuple([w.text for w in words])
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
        if words and not skip and tok.kind == "word":  # an argument: by far the commonest
            words.append(tok)
            continue
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
