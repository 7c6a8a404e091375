"""An emulator for the small shell subset that kube-bench audit commands are written in.

kube-bench hands each audit to `/bin/sh`. Benchmark definitions come from strangers, so
kubeward never runs them: this module parses the audit (pipes, `;`, `&&`, `||`, `if`,
`for`, `$(...)`, quoting, variables, `sh -c`) and interprets the commands the published
definitions use (`ps`, `grep`, `stat`, `find`, `xargs`, `cat`, `sed`, `awk` ...) against a
`NodeRoot`. Anything else (`kubectl`, `jq`, `journalctl`, writes to files) raises
`AuditUnsupported`, which the caller turns into UNKNOWN. Regexes from audits run on RE2
(`compile_safe`: Go's syntax, linear time, a length cap). Work is bounded: a step budget,
an output cap, a nesting cap.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

from kubeward.compliance.node.root import NodeRoot

MAX_OUTPUT = 1024 * 1024  # characters of output kept per command and per audit
MAX_STEPS = 20_000  # commands executed per audit (loops over `find` output included)
MAX_DEPTH = 8  # nested `sh -c` and `$(...)`
MAX_PATTERN = 512  # characters in one regex
MAX_FIND_ENTRIES = 20_000
MAX_FIND_DEPTH = 32


class AuditError(Exception):
    """The audit cannot be judged by emulation; `reason` is one line for the report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuditUnsupported(AuditError):
    """A command (or shell construct) outside the emulated subset."""

    def __init__(self, command: str) -> None:
        super().__init__(f"audit not supported: {command}")
        self.command = command


class UnsafePattern(AuditError):
    """A regex refused before matching (too long, back-references)."""


@dataclass(slots=True)
class AuditRun:
    output: str  # stdout (stderr is dropped: kube-bench mixes it in, kubeward does not)
    status: int  # exit status of the last command, as `sh` reports it
    notes: list[str] = field(default_factory=list)  # things found absent, for reasons


# -- regexes ------------------------------------------------------------------------------


def compile_safe(pattern: str, flags: int = 0) -> Any:
    """Compile a regex that came from a definition with RE2: linear in the text whatever the
    pattern (Python's backtracking engine takes minutes on `.*.*x` and 10,000 characters),
    and the syntax and semantics of Go's regexp, which kube-bench itself uses. Patterns
    longer than MAX_PATTERN are refused; back-references, which RE2 does not have, get a
    clear refusal. `flags` takes re.IGNORECASE only. The result offers the `re.Pattern`
    calls the emulator makes (search, finditer, sub with a function, split)."""
    if len(pattern) > MAX_PATTERN:
        raise UnsafePattern(f"regex refused: longer than {MAX_PATTERN} characters")
    if re.search(r"\\[1-9]|\(\?P=", pattern):
        raise UnsafePattern("regex refused: back-references")
    return _compile_re2(pattern, not flags & re.IGNORECASE)


@lru_cache(maxsize=256)
def _compile_re2(pattern: str, case_sensitive: bool) -> Any:
    """One compiled pattern per (pattern, case): audits run the same greps on every node
    file and every benchmark version."""
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False  # the error is reported once, as one line, below
    options.case_sensitive = case_sensitive
    try:
        return re2.compile(pattern, options)
    except (re2.error, ValueError, TypeError) as exc:
        raise AuditError(f"invalid regex {pattern!r}: {_re2_message(exc)}") from None


def _re2_message(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    if text.startswith(("b'", 'b"')):  # the wrapper reports RE2's message as bytes
        text = text[2:-1]
    return " ".join(text.split())[:200]


_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
}


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    """Translate a POSIX bracket expression starting at pattern[i] == '['."""
    j = i + 1
    out = "["
    if pattern[j : j + 1] == "^":
        out += "^"
        j += 1
    if pattern[j : j + 1] == "]":
        out += r"\]"
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        if pattern.startswith("[:", j):
            end = pattern.find(":]", j)
            name = pattern[j + 2 : end] if end > 0 else ""
            if name not in _POSIX_CLASSES:
                raise AuditError(f"unsupported bracket class in regex {pattern!r}")
            out += _POSIX_CLASSES[name]
            j = end + 2
            continue
        ch = pattern[j]
        out += "\\" + ch if ch in "\\[" else ch
        j += 1
    if j >= len(pattern):
        raise AuditError(f"unterminated bracket in regex {pattern!r}")
    return out + "]", j + 1


def posix_to_python(pattern: str, extended: bool) -> str:
    """A POSIX basic (grep, sed) or extended (grep -E, awk) regex in Python syntax."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "[":
            text, i = _bracket(pattern, i)
            out.append(text)
            continue
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if not extended and nxt in "(){}|+?":
                out.append(nxt)
            elif nxt in "<>":
                out.append(r"\b")
            elif nxt in "wWsSbB" or nxt.isdigit():
                out.append("\\" + nxt)
            else:
                out.append(re.escape(nxt))
            i += 2
            continue
        if not extended and ch in "(){}|+?":
            out.append("\\" + ch)
        elif ch == "*" and (not out or out[-1] in ("(", "^", "|")):
            out.append(r"\*")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# -- lexing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lit:
    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class Sub:
    script: str
    quoted: bool


Part = Lit | Var | Sub
Word = tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Redir:
    fd: int
    op: str  # ">", ">>", "<", ">&"
    target: Word


Token = tuple[str, object]  # ("word", Word) | ("op", str) | ("redir", Redir)

_META = set(" \t\n|&;()<>")


def _matching_paren(text: str, start: int) -> int:
    """Index of the `)` closing the `$(` whose `(` is at text[start - 1]."""
    depth = 1
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                break
            i = end + 1
            continue
        if ch == '"':
            i = _skip_double(text, i + 1)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise AuditUnsupported("unbalanced $(")


def _skip_double(text: str, i: int) -> int:
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        if text.startswith("$(", i):
            i = _matching_paren(text, i + 2) + 1
            continue
        i += 1
    raise AuditUnsupported('unterminated "')


def _dollar(text: str, i: int, quoted: bool) -> tuple[Part, int]:
    """Parse the expansion at text[i] == '$'; returns the part and the next index."""
    if text.startswith("$((", i):
        raise AuditUnsupported("$((")
    if text.startswith("$(", i):
        end = _matching_paren(text, i + 2)
        return Sub(text[i + 2 : end], quoted), end + 1
    if text.startswith("${", i):
        end = text.find("}", i)
        name = text[i + 2 : end] if end > 0 else ""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise AuditUnsupported("${" + name[:20])
        return Var(name, quoted), end + 1
    match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9?#@*$!-]").match(text, i + 1)
    if not match:
        return Lit("$", quoted), i + 1
    name = match.group()
    if name not in ("?",) and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]", name):
        raise AuditUnsupported("$" + name)
    return Var(name, quoted), match.end()


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    parts: list[Part] = []
    started = False
    i = 0

    def flush() -> None:
        nonlocal parts, started
        if started:
            tokens.append(("word", tuple(parts)))
        parts = []
        started = False

    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1 : i + 2] == "\n":
            i += 2
            continue
        if ch in " \t":
            flush()
            i += 1
            continue
        if ch == "#" and not started:
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if ch in _META:
            fd = -1
            if ch in "<>" and started and len(parts) == 1:
                only = parts[0]
                if (
                    isinstance(only, Lit)
                    and not only.quoted
                    and re.fullmatch(r"[0-9]{1,4}", only.text)
                ):
                    fd = int(only.text)
                    parts = []
                    started = False
            flush()
            if ch in "<>":
                op = ch
                i += 1
                if ch == ">" and text[i : i + 1] in (">", "&"):
                    op += text[i]
                    i += 1
                while text[i : i + 1] in (" ", "\t"):
                    i += 1
                sub = tokenize_word(text, i)
                if sub is None:
                    raise AuditUnsupported("redirection without target")
                target, i = sub
                tokens.append(
                    ("redir", Redir(fd if fd >= 0 else (0 if op == "<" else 1), op, target))
                )
                continue
            two = text[i : i + 2]
            if two in ("&&", "||", ";;"):
                tokens.append(("op", two))
                i += 2
                continue
            tokens.append(("op", "\n" if ch == "\n" else ch))
            i += 1
            continue
        sub = tokenize_word(text, i)
        assert sub is not None
        word, i = sub
        parts.extend(word)
        started = True
    flush()
    return tokens


def tokenize_word(text: str, i: int) -> tuple[Word, int] | None:
    """Read one word (up to a metacharacter) starting at text[i]."""
    parts: list[Part] = []
    start = i
    while i < len(text) and text[i] not in _META:
        ch = text[i]
        if ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise AuditUnsupported("unterminated '")
            parts.append(Lit(text[i + 1 : end], True))
            i = end + 1
        elif ch == '"':
            i = _double_quoted(text, i + 1, parts)
        elif ch == "\\":
            if i + 1 < len(text):
                parts.append(Lit(text[i + 1], True))
            i += 2
        elif ch == "$":
            part, i = _dollar(text, i, False)
            parts.append(part)
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise AuditUnsupported("unterminated `")
            parts.append(Sub(text[i + 1 : end], False))
            i = end + 1
        else:
            j = i
            while j < len(text) and text[j] not in _META and text[j] not in "'\"\\$`":
                j += 1
            parts.append(Lit(text[i:j], False))
            i = j
    if i == start:
        return None
    return tuple(parts), i


def _double_quoted(text: str, i: int, parts: list[Part]) -> int:
    buf: list[str] = []
    parts.append(Lit("", True))  # "" is a word even when empty
    while i < len(text):
        ch = text[i]
        if ch == '"':
            if buf:
                parts.append(Lit("".join(buf), True))
            return i + 1
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in '$`"\\\n':
            if text[i + 1] != "\n":
                buf.append(text[i + 1])
            i += 2
            continue
        if ch == "$":
            part, i = _dollar(text, i, True)
            if isinstance(part, Lit):
                buf.append(part.text)
                continue
            if buf:
                parts.append(Lit("".join(buf), True))
                buf = []
            parts.append(part)
            continue
        if ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise AuditUnsupported("unterminated `")
            if buf:
                parts.append(Lit("".join(buf), True))
                buf = []
            parts.append(Sub(text[i + 1 : end], True))
            i = end + 1
            continue
        buf.append(ch)
        i += 1
    raise AuditUnsupported('unterminated "')


# -- parsing ------------------------------------------------------------------------------


@dataclass(slots=True)
class Simple:
    assigns: list[tuple[str, Word]]
    words: list[Word]
    redirs: list[Redir]


@dataclass(slots=True)
class Pipeline:
    commands: list[Node]
    negate: bool


@dataclass(slots=True)
class AndOr:
    first: Node
    rest: list[tuple[str, Node]]


@dataclass(slots=True)
class Seq:
    items: list[Node]


@dataclass(slots=True)
class If:
    branches: list[tuple[Node, Node]]
    otherwise: Node | None


@dataclass(slots=True)
class For:
    var: str
    words: list[Word] | None
    body: Node


@dataclass(slots=True)
class Group:
    body: Node


Node = Simple | Pipeline | AndOr | Seq | If | For | Group

_KEYWORDS = {"if", "then", "elif", "else", "fi", "for", "in", "do", "done", "{", "}", "!"}
_UNSUPPORTED_KEYWORDS = {"while", "until", "case", "esac", "function", "select", "[["}
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")


def _literal(word: Word) -> str | None:
    """The word's text if it is one unquoted literal (how keywords are recognised)."""
    if len(word) == 1 and isinstance(word[0], Lit) and not word[0].quoted:
        return word[0].text
    return None


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def peek_keyword(self) -> str | None:
        token = self.peek()
        if token and token[0] == "word":
            text = _literal(token[1])  # type: ignore[arg-type]
            if text in _KEYWORDS or text in _UNSUPPORTED_KEYWORDS:
                return text
        return None

    def skip_separators(self) -> None:
        while (token := self.peek()) and token[0] == "op" and token[1] in (";", "\n"):
            self.pos += 1

    def expect_keyword(self, keyword: str) -> None:
        self.skip_separators()
        if self.peek_keyword() != keyword:
            raise AuditUnsupported(f"syntax (expected {keyword})")
        self.pos += 1

    def parse_list(self, stops: frozenset[str]) -> Seq:
        items: list[Node] = []
        while True:
            self.skip_separators()
            token = self.peek()
            if token is None or (token[0] == "op" and token[1] == ")"):
                break
            keyword = self.peek_keyword()
            if keyword in stops:
                break
            items.append(self.parse_and_or())
            token = self.peek()
            if token and token[0] == "op" and token[1] == "&":
                raise AuditUnsupported("&")
        return Seq(items)

    def parse_and_or(self) -> Node:
        first = self.parse_pipeline()
        rest: list[tuple[str, Node]] = []
        while (token := self.peek()) and token[0] == "op" and token[1] in ("&&", "||"):
            self.pos += 1
            while (nl := self.peek()) and nl == ("op", "\n"):
                self.pos += 1
            rest.append((str(token[1]), self.parse_pipeline()))
        return AndOr(first, rest) if rest else first

    def parse_pipeline(self) -> Node:
        negate = False
        if self.peek_keyword() == "!":
            self.pos += 1
            negate = True
        commands = [self.parse_command()]
        while (token := self.peek()) and token == ("op", "|"):
            self.pos += 1
            while (nl := self.peek()) and nl == ("op", "\n"):
                self.pos += 1
            commands.append(self.parse_command())
        if len(commands) == 1 and not negate:
            return commands[0]
        return Pipeline(commands, negate)

    def parse_command(self) -> Node:
        keyword = self.peek_keyword()
        if keyword in _UNSUPPORTED_KEYWORDS:
            raise AuditUnsupported(str(keyword))
        if keyword == "if":
            return self.parse_if()
        if keyword == "for":
            return self.parse_for()
        if keyword == "{":
            self.pos += 1
            body = self.parse_list(frozenset({"}"}))
            self.expect_keyword("}")
            return Group(body)
        token = self.peek()
        if token == ("op", "("):
            self.pos += 1
            body = self.parse_list(frozenset())
            if self.peek() != ("op", ")"):
                raise AuditUnsupported("syntax (expected ))")
            self.pos += 1
            return Group(body)
        if keyword is not None:
            raise AuditUnsupported(f"syntax (unexpected {keyword})")
        return self.parse_simple()

    def parse_simple(self) -> Simple:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirs: list[Redir] = []
        while (token := self.peek()) is not None:
            kind, value = token
            if kind == "redir":
                redirs.append(value)  # type: ignore[arg-type]
            elif kind == "word":
                word: Word = value  # type: ignore[assignment]
                first = word[0]
                match = None
                if not words and isinstance(first, Lit) and not first.quoted:
                    match = _ASSIGN.match(first.text)
                if match:
                    rest = match.string[match.end() :]
                    value_word: Word = ((Lit(rest, False),) if rest else ()) + word[1:]
                    assigns.append((match.group(1), value_word))
                else:
                    words.append(word)
            else:
                break
            self.pos += 1
        if not assigns and not words and not redirs:
            token = self.peek()
            raise AuditUnsupported(f"syntax (unexpected {token[1] if token else 'end'})")
        return Simple(assigns, words, redirs)

    def parse_if(self) -> If:
        self.pos += 1
        branches: list[tuple[Node, Node]] = []
        otherwise: Node | None = None
        while True:
            cond = self.parse_list(frozenset({"then"}))
            self.expect_keyword("then")
            body = self.parse_list(frozenset({"elif", "else", "fi"}))
            branches.append((cond, body))
            keyword = self.peek_keyword()
            self.pos += 1
            if keyword == "elif":
                continue
            if keyword == "else":
                otherwise = self.parse_list(frozenset({"fi"}))
                self.expect_keyword("fi")
            elif keyword != "fi":
                raise AuditUnsupported("syntax (expected fi)")
            return If(branches, otherwise)

    def parse_for(self) -> For:
        self.pos += 1
        token = self.peek()
        name = _literal(token[1]) if token and token[0] == "word" else None  # type: ignore[arg-type]
        if not name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise AuditUnsupported("syntax (for)")
        self.pos += 1
        words: list[Word] | None = None
        if self.peek_keyword() == "in":
            self.pos += 1
            words = []
            while (token := self.peek()) and token[0] == "word":
                words.append(token[1])  # type: ignore[arg-type]
                self.pos += 1
        self.expect_keyword("do")
        body = self.parse_list(frozenset({"done"}))
        self.expect_keyword("done")
        return For(name, words, body)


def parse(script: str) -> Seq:
    parser = _Parser(tokenize(script))
    tree = parser.parse_list(frozenset())
    if parser.peek() is not None:
        token = parser.peek()
        raise AuditUnsupported(f"syntax (unexpected {token[1] if token else ''})")
    return tree


def first_unsupported(tree: Node) -> str | None:
    """The first literal command name (or script fragment) the emulator cannot run, found
    without running anything: so a check reports `audit not supported: kubectl` even when
    `kubectl` sits in a branch a fake node would not reach."""
    nodes: list[Node] = [tree]
    while nodes:
        node = nodes.pop(0)
        if isinstance(node, Seq):
            nodes[:0] = node.items
        elif isinstance(node, Pipeline):
            nodes[:0] = node.commands
        elif isinstance(node, AndOr):
            nodes[:0] = [node.first, *(n for _, n in node.rest)]
        elif isinstance(node, If):
            extra = [n for pair in node.branches for n in pair]
            nodes[:0] = extra + ([node.otherwise] if node.otherwise else [])
        elif isinstance(node, For):
            found = _word_subs_unsupported(node.words or [])
            if found:
                return found
            nodes.insert(0, node.body)
        elif isinstance(node, Group):
            nodes.insert(0, node.body)
        else:
            for redir in node.redirs:
                target = _literal(redir.target)
                if redir.op in (">", ">>") and target != "/dev/null":
                    return f"redirection to {target or 'a file'}"
            found = _word_subs_unsupported([w for _, w in node.assigns] + node.words)
            if found:
                return found
            if node.words:
                name = _static_text(node.words[0])
                if name is not None:
                    base = PurePosixPath(name).name or name
                    if base not in COMMANDS:
                        return base
                    inner = (
                        _static_text(node.words[2])
                        if base in ("sh", "bash")
                        and len(node.words) > 2
                        and _static_text(node.words[1]) == "-c"
                        else None
                    )
                    if inner is not None:
                        try:
                            found = first_unsupported(parse(inner))
                        except AuditUnsupported as exc:
                            return exc.command
                        if found:
                            return found
    return None


def _static_text(word: Word) -> str | None:
    if all(isinstance(part, Lit) for part in word):
        return "".join(part.text for part in word)  # type: ignore[union-attr]
    return None


def _word_subs_unsupported(words: list[Word]) -> str | None:
    for word in words:
        for part in word:
            if isinstance(part, Sub):
                try:
                    found = first_unsupported(parse(part.script))
                except AuditUnsupported as exc:
                    return exc.command
                if found:
                    return found
    return None


# -- interpreting -------------------------------------------------------------------------


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Shell:
    """One audit's interpreter state: variables, the node, the budget, the absence notes."""

    def __init__(self, root: NodeRoot, notes: list[str] | None = None) -> None:
        self.root = root
        self.vars: dict[str, str] = {}
        self.notes: list[str] = notes if notes is not None else []
        self.steps = 0
        self.depth = 0
        self.last_status = 0

    # paths: audits run with cwd "/" and never leave the root (NodeRoot resolves chroot-like)
    @staticmethod
    def node_path(path: str) -> str:
        return path if path.startswith("/") else "/" + path

    def note(self, text: str) -> None:
        if text not in self.notes and len(self.notes) < 20:
            self.notes.append(text)

    def run_script(self, script: str, stdin: str = "") -> tuple[str, int]:
        if self.depth >= MAX_DEPTH:
            raise AuditError("audit nests sh -c / $(...) too deeply")
        self.depth += 1
        try:
            return self.run(parse(script), stdin)
        except _Exit as exc:
            return "", exc.status
        finally:
            self.depth -= 1

    def run(self, node: Node, stdin: str) -> tuple[str, int]:
        if isinstance(node, Seq):
            out: list[str] = []
            status = 0
            for item in node.items:
                text, status = self.run(item, stdin)
                out.append(text)
            return _cap("".join(out)), status
        if isinstance(node, AndOr):
            text, status = self.run(node.first, stdin)
            outputs = [text]
            for op, item in node.rest:
                if (op == "&&") == (status == 0):
                    text, status = self.run(item, stdin)
                    outputs.append(text)
            return _cap("".join(outputs)), status
        if isinstance(node, Pipeline):
            data = stdin
            status = 0
            for command in node.commands:
                data, status = self.run(command, data)
            if node.negate:
                status = 0 if status else 1
            return data, status
        if isinstance(node, If):
            collected: list[str] = []
            for cond, body in node.branches:
                text, status = self.run(cond, stdin)
                collected.append(text)
                if status == 0:
                    text, status = self.run(body, stdin)
                    return _cap("".join(collected) + text), status
            if node.otherwise is not None:
                text, status = self.run(node.otherwise, stdin)
                return _cap("".join(collected) + text), status
            return "".join(collected), 0
        if isinstance(node, For):
            items = (
                self.expand_words(node.words) if node.words is not None else []
            )  # `for x; do` iterates "$@", which audits never have
            collected = []
            status = 0
            for value in items:
                self.vars[node.var] = value
                text, status = self.run(node.body, stdin)
                collected.append(text)
            return _cap("".join(collected)), status
        if isinstance(node, Group):
            return self.run(node.body, stdin)
        return self.run_simple(node, stdin)

    def run_simple(self, node: Simple, stdin: str) -> tuple[str, int]:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise AuditError(f"audit runs more than {MAX_STEPS} commands")
        self.last_status = 0
        values = [
            (name, "".join(self.expand_word(word, split=False))) for name, word in node.assigns
        ]
        if not node.words:
            for name, value in values:
                self.vars[name] = value
            return "", self.last_status
        argv = self.expand_words(node.words)
        discard = False
        for redir in node.redirs:
            target = "".join(self.expand_word(redir.target, split=False))
            if redir.op in (">", ">>"):
                if target != "/dev/null":
                    raise AuditUnsupported(f"redirection to {target}")
                if redir.fd == 1:
                    discard = True
            elif redir.op == "<":
                text = self.root.read_text(self.node_path(target))
                if text is None:
                    self.note(f"{target} absent")
                    return "", 1
                stdin = text
        if not argv:
            return "", self.last_status
        out, status = self.run_argv(argv, stdin)
        return ("" if discard else out), status

    def run_argv(self, argv: list[str], stdin: str) -> tuple[str, int]:
        name = PurePosixPath(argv[0]).name or argv[0]
        command = COMMANDS.get(name)
        if command is None:
            raise AuditUnsupported(name)
        out, status = command(self, argv[1:], stdin)
        return _cap(out), status

    # -- expansion ------------------------------------------------------------------------

    def expand_words(self, words: list[Word]) -> list[str]:
        fields: list[str] = []
        for word in words:
            fields.extend(self.expand_word(word, split=True))
        return fields

    def expand_word(self, word: Word, split: bool) -> list[str]:
        """Fields of one word: unquoted expansions are split on blanks (sh's default IFS),
        quoted text never is; no pathname expansion (audits quote their globs)."""
        fields: list[str] = []
        current: str | None = None
        for part in word:
            if isinstance(part, Lit):
                current = (current or "") + part.text
                if len(current) > MAX_OUTPUT:
                    raise AuditError(f"audit expands a word past {MAX_OUTPUT} characters")
                continue
            value = self.vars.get(part.name, "") if isinstance(part, Var) else self.substitute(part)
            if isinstance(part, Var) and part.name == "?":
                value = str(self.last_status)
            if part.quoted or not split:
                current = (current or "") + value
                continue
            pieces = value.split()
            if not pieces:
                continue
            if value[:1].isspace() and current is not None:
                fields.append(current)
                current = None
            for index, piece in enumerate(pieces):
                if index == 0:
                    current = (current or "") + piece
                else:
                    fields.append(current or "")
                    current = piece
            if value[-1:].isspace():
                fields.append(current or "")
                current = None
            if current is not None and len(current) > MAX_OUTPUT:
                raise AuditError(f"audit expands a word past {MAX_OUTPUT} characters")
        if current is not None:
            fields.append(current)
        if sum(len(f) for f in fields) > MAX_OUTPUT:
            raise AuditError(f"audit expands a word past {MAX_OUTPUT} characters")
        return fields

    def substitute(self, part: Sub) -> str:
        saved = dict(self.vars)
        try:
            out, status = self.run_script(part.script)
        finally:
            self.vars = saved
        self.last_status = status
        return out.rstrip("\n")


def _cap(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT]


_COMMAND_POSITION = re.compile(
    r"(?:^|[|;&(`\n]|\$\(|\b(?:then|do|else|elif|if|while|until|!)\s)\s*([A-Za-z_/.][\w./-]*)"
)


def _first_foreign_command(script: str) -> str | None:
    """For a script the parser refuses: the first word in command position that is not an
    emulated command (`kubectl` in a `while read` loop), so the reason names the program."""
    text = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    for match in _COMMAND_POSITION.finditer(text):
        word = match.group(1)
        if "=" in text[match.end(1) : match.end(1) + 1]:
            continue  # an assignment
        name = PurePosixPath(word).name or word
        if name not in COMMANDS and name not in _KEYWORDS and name not in _UNSUPPORTED_KEYWORDS:
            return name
    return None


def run_audit(script: str, root: NodeRoot) -> AuditRun:
    """Emulate one audit against the node. Raises AuditUnsupported / AuditError when the
    audit leaves the supported subset or its bounds."""
    try:
        tree = parse(script)
        found = first_unsupported(tree)
    except AuditUnsupported as exc:
        raise AuditUnsupported(_first_foreign_command(script) or exc.command) from None
    except RecursionError:
        raise AuditError("audit nests too deeply") from None
    if found:
        raise AuditUnsupported(found)
    shell = Shell(root)
    try:
        out, status = shell.run(tree, "")
    except _Exit as exc:
        out, status = "", exc.status
    except RecursionError:
        raise AuditError("audit nests too deeply") from None
    return AuditRun(out, status, shell.notes)


# -- commands -----------------------------------------------------------------------------

Command = Callable[[Shell, list[str], str], tuple[str, int]]


def _lines(text: str) -> list[str]:
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _int_arg(value: str, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise AuditUnsupported(f"{what} {value}") from None
    if number < 0 or number > 1_000_000:
        raise AuditUnsupported(f"{what} {value}")
    return number


def _cmd_true(_sh: Shell, _args: list[str], _stdin: str) -> tuple[str, int]:
    return "", 0


def _cmd_false(_sh: Shell, _args: list[str], _stdin: str) -> tuple[str, int]:
    return "", 1


def _cmd_exit(sh: Shell, args: list[str], _stdin: str) -> tuple[str, int]:
    raise _Exit(_int_arg(args[0], "exit") % 256 if args else sh.last_status)


def _cmd_echo(_sh: Shell, args: list[str], _stdin: str) -> tuple[str, int]:
    newline = True
    while args and args[0] in ("-n", "-e", "-E", "-ne", "-en"):
        newline = newline and "n" not in args[0]
        args = args[1:]
    return " ".join(args) + ("\n" if newline else ""), 0


def _cmd_cat(sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    files = [a for a in args if a == "-" or not a.startswith("-")]
    if len(files) != len(args) and any(a not in ("-",) for a in args if a.startswith("-")):
        raise AuditUnsupported("cat " + next(a for a in args if a.startswith("-")))
    if not files:
        return stdin, 0
    out: list[str] = []
    status = 0
    for name in files:
        if name == "-":
            out.append(stdin)
            continue
        path = sh.node_path(name)
        text = sh.root.read_text(path)
        if text is None:
            status = 1
            sh.note(f"{name} absent" if not sh.root.exists(path) else f"{name} unreadable")
            continue
        out.append(text)
    return "".join(out), status


def _test_unary(sh: Shell, op: str, arg: str) -> bool:
    if op == "-z":
        return arg == ""
    if op == "-n":
        return arg != ""
    path = sh.node_path(arg) if arg else ""
    if op in ("-L", "-h"):
        return bool(arg) and sh.root.is_symlink(path)
    info = sh.root.stat(path) if arg else None
    if info is None:
        if arg:
            sh.note(f"{arg} absent")
        return False
    if op == "-d":
        return info.is_dir
    if op == "-f":
        return not info.is_dir
    if op in ("-e", "-r", "-w", "-x", "-s"):
        return True
    raise AuditUnsupported(f"test {op}")


_TEST_UNARY = {"-z", "-n", "-e", "-f", "-d", "-r", "-w", "-x", "-s", "-L", "-h"}
_TEST_INT = {"-eq": int.__eq__, "-ne": int.__ne__, "-gt": int.__gt__}
_TEST_INT |= {"-ge": int.__ge__, "-lt": int.__lt__, "-le": int.__le__}


def _test_eval(sh: Shell, args: list[str]) -> bool:
    if not args:
        return False
    if args[0] == "!" and len(args) > 1:
        return not _test_eval(sh, args[1:])
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        if args[0] in _TEST_UNARY:
            return _test_unary(sh, args[0], args[1])
        raise AuditUnsupported(f"test {args[0]}")
    if len(args) == 3:
        left, op, right = args
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        if op in _TEST_INT:
            try:
                return bool(_TEST_INT[op](int(left), int(right)))
            except ValueError:
                return False
    raise AuditUnsupported("test " + " ".join(args[:2]))


def _cmd_test(sh: Shell, args: list[str], _stdin: str) -> tuple[str, int]:
    return "", 0 if _test_eval(sh, args) else 1


def _cmd_bracket(sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    if not args or args[-1] != "]":
        raise AuditUnsupported("[ without ]")
    return _cmd_test(sh, args[:-1], stdin)


def _cmd_sh(sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    if len(args) < 2 or args[0] != "-c":
        raise AuditUnsupported("sh " + (args[0] if args else "without -c"))
    child = Shell(sh.root, sh.notes)
    child.steps = sh.steps
    child.depth = sh.depth
    out, status = child.run_script(args[1], stdin)
    sh.steps = child.steps
    return out, status


def _ps_select(sh: Shell, args: list[str]) -> tuple[list[str], int]:
    everyone = full = headers = False
    names: list[str] | None = None
    columns: list[str] | None = None
    headers = True
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--no-headers", "--no-header"):
            headers = False
        elif arg.startswith("-") and len(arg) > 1 and not arg.startswith("--"):
            letters = arg[1:]
            j = 0
            while j < len(letters):
                letter = letters[j]
                if letter in "eA":
                    everyone = True
                elif letter == "f":
                    full = True
                elif letter == "w":
                    pass
                elif letter in "Co":
                    value = letters[j + 1 :]
                    if not value:
                        i += 1
                        value = args[i] if i < len(args) else ""
                    if letter == "C":
                        names = [n for n in value.split(",") if n]
                    else:
                        columns = (columns or []) + value.split(",")
                    break
                else:
                    raise AuditUnsupported(f"ps -{letter}")
                j += 1
        else:
            raise AuditUnsupported(f"ps {arg}")
        i += 1
    processes = sh.root.processes
    if names is not None:
        # ps -C matches the 15-character command name (comm), as procps does
        chosen = [p for p in processes if p.name[:15] in names]
        if not chosen:
            sh.note(f"no running process named {','.join(names)}")
    elif everyone:
        chosen = list(processes)
    else:
        chosen = []
    rows: list[str] = []
    if columns is not None:
        if all(c.endswith("=") for c in columns):
            headers = False
        names_only = [c.rstrip("=") for c in columns]
        for column in names_only:
            if column not in ("pid", "ppid", "cmd", "args", "command", "comm"):
                raise AuditUnsupported(f"ps -o {column}")
        if headers:
            rows.append(" ".join(c.upper() for c in names_only))
        for proc in chosen:
            values = {
                "pid": str(proc.pid),
                "ppid": "1",
                "cmd": proc.command_line,
                "args": proc.command_line,
                "command": proc.command_line,
                "comm": proc.name[:15],
            }
            rows.append(" ".join(values[c] for c in names_only))
    elif full:
        if headers:
            rows.append("UID          PID    PPID  C STIME TTY          TIME CMD")
        for proc in chosen:
            rows.append(
                f"root     {proc.pid:>7} {1:>7}  0 00:00 ?        00:00:00 {proc.command_line}"
            )
    else:
        if headers:
            rows.append("    PID TTY          TIME CMD")
        for proc in chosen:
            rows.append(f"{proc.pid:>7} ?        00:00:00 {proc.name[:15]}")
    return rows, 0 if chosen or names is None else 1


def _cmd_ps(sh: Shell, args: list[str], _stdin: str) -> tuple[str, int]:
    rows, status = _ps_select(sh, args)
    return _join(rows), status


def _split_short(args: list[str], with_value: str) -> list[str]:
    """-vE -> -v -E; -A1 -> -A 1 (for commands with single-letter options)."""
    out: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            out.extend(args[index:])
            break
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            letters = arg[1:]
            for j, letter in enumerate(letters):
                out.append("-" + letter)
                if letter in with_value:
                    if letters[j + 1 :]:
                        out.append(letters[j + 1 :])
                    break
            continue
        out.append(arg)
    return out


def _cmd_grep(sh: Shell, raw: list[str], stdin: str) -> tuple[str, int]:
    args = _split_short(raw, "AemBC")
    invert = only = quiet = ignore = count = False
    mode = "basic"
    after = 0
    limit = -1
    patterns: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i + 1 :])
            break
        if arg.startswith("-") and len(arg) > 1 and not rest:
            if arg in ("-v", "--invert-match"):
                invert = True
            elif arg in ("-o", "--only-matching"):
                only = True
            elif arg in ("-q", "--quiet", "-s"):
                quiet = quiet or arg != "-s"
            elif arg in ("-i", "--ignore-case"):
                ignore = True
            elif arg in ("-c", "--count"):
                count = True
            elif arg in ("-E", "--extended-regexp"):
                mode = "extended"
            elif arg in ("-F", "--fixed-strings"):
                mode = "fixed"
            elif arg in ("-A", "-m", "-e"):
                i += 1
                if i >= len(args):
                    raise AuditUnsupported(f"grep {arg}")
                if arg == "-e":
                    patterns.append(args[i])
                elif arg == "-A":
                    after = _int_arg(args[i], "grep -A")
                else:
                    limit = _int_arg(args[i], "grep -m")
            else:
                raise AuditUnsupported(f"grep {arg}")
        else:
            rest.append(arg)
        i += 1
    if not patterns:
        if not rest:
            raise AuditUnsupported("grep without a pattern")
        patterns.append(rest.pop(0))
    flags = re.IGNORECASE if ignore else 0
    if mode == "fixed":
        source = "|".join(re.escape(p) for p in patterns)
    else:
        source = "|".join(f"(?:{posix_to_python(p, mode == 'extended')})" for p in patterns)
    regex = compile_safe(source, flags)
    inputs: list[tuple[str, str]] = []
    status_error = False
    if rest:
        for name in rest:
            text = sh.root.read_text(sh.node_path(name))
            if text is None:
                sh.note(f"{name} absent")
                status_error = True
                continue
            inputs.append((name, text))
    else:
        inputs.append(("", stdin))
    prefix = len(rest) > 1
    out: list[str] = []
    selected = 0
    for name, text in inputs:
        lines = _lines(text)
        last_printed = -1
        pending_after = 0
        for index, line in enumerate(lines):
            hit = bool(regex.search(line)) != invert
            if hit and (limit < 0 or selected < limit):
                selected += 1
                if quiet or count:
                    continue
                if after and last_printed >= 0 and index > last_printed + 1:
                    out.append("--")
                head = f"{name}:" if prefix else ""
                if only and not invert:
                    out.extend(head + m.group() for m in regex.finditer(line) if m.group())
                else:
                    out.append(head + line)
                last_printed = index
                pending_after = after
            elif pending_after and not quiet and not count:
                out.append((f"{name}-" if prefix else "") + line)
                last_printed = index
                pending_after -= 1
        if count:
            out.append((f"{name}:" if prefix else "") + str(selected))
    if quiet:
        return "", 0 if selected else (2 if status_error else 1)
    return _join(out), 0 if selected else (2 if status_error else 1)


_SED_S = re.compile(r"^\s*s(.)")


def _sed_parse(script: str, extended: bool) -> list[tuple[Any, str, bool]]:
    commands: list[tuple[Any, str, bool]] = []
    rest = script.strip()
    while rest:
        match = _SED_S.match(rest)
        if not match or match.group(1) in "\\\n ":
            raise AuditUnsupported("sed " + rest.split()[0][:20])
        delim = match.group(1)
        fields: list[str] = []
        buf: list[str] = []
        i = match.end()
        while i < len(rest) and len(fields) < 2:
            ch = rest[i]
            if ch == "\\" and i + 1 < len(rest):
                buf.append(rest[i + 1] if rest[i + 1] == delim else rest[i : i + 2])
                i += 2
                continue
            if ch == delim:
                fields.append("".join(buf))
                buf = []
            else:
                buf.append(ch)
            i += 1
        if len(fields) < 2:
            raise AuditUnsupported("sed (unterminated s command)")
        flag_match = re.compile(r"[gI0-9]*").match(rest, i)
        flags = flag_match.group() if flag_match else ""
        rest = rest[i + len(flags) :].lstrip()
        if rest.startswith(";"):
            rest = rest[1:].lstrip()
        elif rest:
            raise AuditUnsupported("sed " + rest[:20])
        if any(ch.isdigit() for ch in flags):
            raise AuditUnsupported("sed s///N")
        pattern = compile_safe(
            posix_to_python(fields[0], extended), re.IGNORECASE if "I" in flags else 0
        )
        commands.append((pattern, fields[1], "g" in flags))
    return commands


def _sed_replacement(template: str, budget: list[int]) -> Callable[[Any], str]:
    """The replacement function of `s/re/template/`; `budget` (characters) bounds what all
    replacements may produce, so `s/./<long>/g` cannot build gigabytes before the cap."""

    def replace(match: Any) -> str:
        out: list[str] = []
        i = 0
        while i < len(template):
            ch = template[i]
            if ch == "\\" and i + 1 < len(template):
                nxt = template[i + 1]
                if nxt in "0123456789":
                    index = int(nxt)
                    out.append((match.group(index) or "") if index <= (match.re.groups) else "")
                elif nxt == "n":
                    out.append("\n")
                else:
                    out.append(nxt)
                i += 2
                continue
            out.append(match.group() if ch == "&" else ch)
            i += 1
        text = "".join(out)
        budget[0] -= len(text)
        if budget[0] < 0:
            raise AuditError(f"sed output longer than {MAX_OUTPUT} characters")
        return text

    return replace


def _cmd_sed(sh: Shell, raw: list[str], stdin: str) -> tuple[str, int]:
    scripts: list[str] = []
    files: list[str] = []
    extended = False
    i = 0
    while i < len(raw):
        arg = raw[i]
        if arg == "-e" and i + 1 < len(raw):
            scripts.append(raw[i + 1])
            i += 2
            continue
        if arg in ("-E", "-r", "--regexp-extended"):
            extended = True
        elif arg.startswith("-") and len(arg) > 1:
            raise AuditUnsupported(f"sed {arg}")
        elif not scripts and not files:
            scripts.append(arg)
        else:
            files.append(arg)
        i += 1
    if not scripts:
        raise AuditUnsupported("sed without a script")
    commands = [c for script in scripts for c in _sed_parse(script, extended)]
    text = stdin
    if files:
        out_cat, status = _cmd_cat(sh, files, stdin)
        if status:
            return "", 2
        text = out_cat
    out: list[str] = []
    budget = [MAX_OUTPUT]
    for line in _lines(text):
        edited = line
        for pattern, template, every in commands:
            replace = _sed_replacement(template, budget)
            edited = pattern.sub(replace, edited, count=0 if every else 1)
        out.append(edited)
    return _join(out), 0


_AWK_PROGRAM = re.compile(r"^\s*\{\s*print\s*(?P<args>[^;{}]*?)\s*;?\s*\}\s*$")
_AWK_ITEM = re.compile(r'\s*(?:\$(?P<field>NF|[0-9]{1,6})|"(?P<text>[^"\\]*)")\s*(?P<sep>,)?')


def _cmd_awk(sh: Shell, raw: list[str], stdin: str) -> tuple[str, int]:
    separator = " "
    args = list(raw)
    program: str | None = None
    files: list[str] = []
    while args:
        arg = args.pop(0)
        if arg == "-F" and args:
            separator = args.pop(0)
        elif arg.startswith("-F") and len(arg) > 2:
            separator = arg[2:]
        elif arg.startswith("-") and len(arg) > 1 and program is None:
            raise AuditUnsupported(f"awk {arg}")
        elif program is None:
            program = arg
        else:
            files.append(arg)
    match = _AWK_PROGRAM.match(program or "")
    if not match:
        raise AuditUnsupported("awk program " + (program or "")[:30].strip())
    items: list[tuple[str, str, bool]] = []  # (field or "", text, comma after)
    body = match.group("args")
    position = 0
    while position < len(body):
        item = _AWK_ITEM.match(body, position)
        if not item or item.end() == position:
            raise AuditUnsupported("awk program " + (program or "")[:30].strip())
        items.append((item.group("field") or "", item.group("text") or "", bool(item.group("sep"))))
        position = item.end()
    splitter: Any = None
    if separator == "\\t":
        separator = "\t"
    if separator != " " and len(separator) > 1:
        splitter = compile_safe(posix_to_python(separator, True))
    text = stdin
    if files:
        text, status = _cmd_cat(sh, files, stdin)
        if status:
            return "", 2
    out: list[str] = []
    size = 0
    for line in _lines(text):
        if separator == " ":
            fields = line.split()
        elif splitter is not None:
            fields = splitter.split(line)
        else:
            fields = line.split(separator)
        if not items:
            out.append(line)
            continue
        pieces: list[str] = []
        for field_name, literal, comma in items:
            if field_name:
                index = len(fields) if field_name == "NF" else int(field_name)
                value = line if index == 0 else (fields[index - 1] if index <= len(fields) else "")
            else:
                value = literal
            pieces.append(value + (" " if comma else ""))
            size += len(pieces[-1])
            if size > MAX_OUTPUT:
                raise AuditError(f"awk output longer than {MAX_OUTPUT} characters")
        out.append("".join(pieces))
    return _join(out), 0


def _head_tail_count(args: list[str], name: str) -> tuple[int, list[str]]:
    count = 10
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-n" and i + 1 < len(args):
            count = _int_arg(args[i + 1], f"{name} -n")
            i += 2
            continue
        if arg.startswith("-n") and len(arg) > 2:
            count = _int_arg(arg[2:], f"{name} -n")
        elif re.fullmatch(r"-\d+", arg):
            count = _int_arg(arg[1:], name)
        elif arg.startswith("-"):
            raise AuditUnsupported(f"{name} {arg}")
        else:
            files.append(arg)
        i += 1
    return count, files


def _cmd_head(sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    count, files = _head_tail_count(args, "head")
    text, status = _cmd_cat(sh, files, stdin) if files else (stdin, 0)
    return _join(_lines(text)[:count]), status


def _cmd_tail(sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    count, files = _head_tail_count(args, "tail")
    text, status = _cmd_cat(sh, files, stdin) if files else (stdin, 0)
    lines = _lines(text)
    return _join(lines[len(lines) - count :] if count else []), status


def _cmd_uniq(_sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    if args:
        raise AuditUnsupported("uniq " + args[0])
    out: list[str] = []
    for line in _lines(stdin):
        if not out or out[-1] != line:
            out.append(line)
    return _join(out), 0


def _cmd_sort(_sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    if any(a != "-u" for a in args):
        raise AuditUnsupported("sort " + next(a for a in args if a != "-u"))
    lines = sorted(_lines(stdin))
    if args:
        lines = sorted(set(lines))
    return _join(lines), 0


def _cmd_wc(_sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    if args != ["-l"]:
        raise AuditUnsupported("wc " + " ".join(args)[:20])
    return f"{stdin.count(chr(10))}\n", 0


def _tr_set(spec: str) -> str:
    escapes = {"\\n": "\n", "\\t": "\t", "\\0": "\0", "\\\\": "\\", "\\r": "\r"}
    out: list[str] = []
    i = 0
    while i < len(spec):
        two = spec[i : i + 2]
        if two in escapes:
            out.append(escapes[two])
            i += 2
            continue
        if i + 2 < len(spec) and spec[i + 1] == "-":
            low, high = ord(spec[i]), ord(spec[i + 2])
            if high - low > 256 or high < low:
                raise AuditUnsupported("tr range")
            out.extend(chr(c) for c in range(low, high + 1))
            i += 3
            continue
        if spec.startswith("[:", i):
            raise AuditUnsupported("tr class")
        out.append(spec[i])
        i += 1
    return "".join(out)


def _cmd_tr(_sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    if len(args) == 2 and args[0] == "-d":
        return stdin.translate({ord(c): None for c in _tr_set(args[1])}), 0
    if len(args) == 2 and not args[0].startswith("-"):
        source, target = _tr_set(args[0]), _tr_set(args[1])
        if not target:
            raise AuditUnsupported("tr with an empty set")
        target = target + target[-1] * max(0, len(source) - len(target))
        return stdin.translate({ord(s): t for s, t in zip(source, target, strict=False)}), 0
    raise AuditUnsupported("tr " + " ".join(args)[:20])


def _cmd_cut(_sh: Shell, args: list[str], stdin: str) -> tuple[str, int]:
    parsed = _split_short(args, "df")
    delimiter = "\t"
    wanted: list[int] = []
    i = 0
    while i < len(parsed):
        if parsed[i] == "-d" and i + 1 < len(parsed):
            delimiter = parsed[i + 1]
        elif parsed[i] == "-f" and i + 1 < len(parsed):
            wanted = [_int_arg(x, "cut -f") for x in parsed[i + 1].split(",")]
        else:
            raise AuditUnsupported("cut " + parsed[i])
        i += 2
    if len(delimiter) != 1 or not wanted:
        raise AuditUnsupported("cut")
    out: list[str] = []
    for line in _lines(stdin):
        fields = line.split(delimiter)
        out.append(
            line
            if len(fields) == 1
            else delimiter.join(fields[n - 1] for n in wanted if 0 < n <= len(fields))
        )
    return _join(out), 0


_STAT_FORMAT = re.compile(r"%(.)")


def _mode_string(mode: int, is_dir: bool) -> str:
    chars = "d" if is_dir else "-"
    for shift in (6, 3, 0):
        bits = (mode >> shift) & 7
        chars += (
            ("r" if bits & 4 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 1 else "-")
        )
    return chars


def _cmd_stat(sh: Shell, raw: list[str], _stdin: str) -> tuple[str, int]:
    fmt: str | None = None
    files: list[str] = []
    newline = True
    i = 0
    while i < len(raw):
        arg = raw[i]
        if arg in ("-c", "--format", "--printf") and i + 1 < len(raw):
            fmt = raw[i + 1]
            newline = arg != "--printf"
            i += 2
            continue
        if arg.startswith("--format="):
            fmt = arg.split("=", 1)[1]
        elif arg.startswith("-c") and len(arg) > 2:
            fmt = arg[2:]
        elif arg in ("-L", "--dereference"):
            pass
        elif arg.startswith("-") and len(arg) > 1:
            raise AuditUnsupported(f"stat {arg}")
        else:
            files.append(arg)
        i += 1
    if fmt is None:
        raise AuditUnsupported("stat without -c")
    if not files:
        return "", 1  # "stat: missing operand"
    out: list[str] = []
    status = 0
    for name in files:
        info = sh.root.stat(sh.node_path(name))
        if info is None:
            sh.note(f"{name} absent")
            status = 1
            continue

        def directive(match: re.Match[str], info: object = info, name: str = name) -> str:
            assert info is not None
            letter = match.group(1)
            values = {
                "a": info.permissions,  # type: ignore[attr-defined]
                "A": _mode_string(info.mode, info.is_dir),  # type: ignore[attr-defined]
                "U": info.owner,  # type: ignore[attr-defined]
                "G": info.group,  # type: ignore[attr-defined]
                "u": str(info.uid),  # type: ignore[attr-defined]
                "g": str(info.gid),  # type: ignore[attr-defined]
                "n": name,
                "F": "directory" if info.is_dir else "regular file",  # type: ignore[attr-defined]
                "%": "%",
            }
            if letter not in values:
                raise AuditUnsupported(f"stat %{letter}")
            return str(values[letter])

        out.append(_STAT_FORMAT.sub(directive, fmt) + ("\n" if newline else ""))
    return "".join(out), status


def _cmd_find(sh: Shell, args: list[str], _stdin: str) -> tuple[str, int]:
    starts: list[str] = []
    i = 0
    while i < len(args) and not args[i].startswith("-") and args[i] not in ("!", "("):
        starts.append(args[i])
        i += 1
    names: list[str] = []
    kind: str | None = None
    min_depth, max_depth = 0, MAX_FIND_DEPTH
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else None
        if arg in ("-print", "-xdev", "-mount"):
            i += 1
            continue
        if value is None:
            raise AuditUnsupported(f"find {arg}")
        if arg == "-name":
            names.append(value)
        elif arg == "-type" and value in ("f", "d", "l"):
            kind = value
        elif arg == "-mindepth":
            min_depth = _int_arg(value, "find -mindepth")
        elif arg == "-maxdepth":
            max_depth = min(MAX_FIND_DEPTH, _int_arg(value, "find -maxdepth"))
        else:
            raise AuditUnsupported(f"find {arg}")
        i += 2
    out: list[str] = []
    status = 0
    budget = [MAX_FIND_ENTRIES]

    def visit(shown: str, node_path: str, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise AuditError(f"find visits more than {MAX_FIND_ENTRIES} entries")
        link = sh.root.is_symlink(node_path)
        info = None if link else sh.root.stat(node_path)
        entry_kind = "l" if link else ("d" if info and info.is_dir else "f")
        base = PurePosixPath(node_path).name or "/"
        if (
            depth >= min_depth
            and (kind is None or kind == entry_kind)
            and all(fnmatch.fnmatchcase(base, pattern) for pattern in names)
        ):
            out.append(shown)
        if entry_kind == "d" and depth < max_depth:
            for child in sh.root.list_dir(node_path):
                joiner = "" if shown.endswith("/") else "/"
                visit(shown + joiner + child, node_path.rstrip("/") + "/" + child, depth + 1)

    for start in starts or ["."]:
        path = sh.node_path(start if start != "." else "/")
        if not sh.root.exists(path) and not sh.root.is_symlink(path):
            sh.note(f"{start} absent")
            status = 1
            continue
        visit(start, path, 0)
    return _join(out), status


def _cmd_xargs(sh: Shell, raw: list[str], stdin: str) -> tuple[str, int]:
    replace: str | None = None
    skip_empty = False
    per_call_lines = 0
    per_call_items = 0
    args = list(raw)
    while args and args[0].startswith("-"):
        arg = args.pop(0)
        if arg in ("-r", "--no-run-if-empty"):
            skip_empty = True
        elif arg == "-I" and args:
            replace = args.pop(0)
        elif arg.startswith("-I") and len(arg) > 2:
            replace = arg[2:]
        elif arg == "-L" and args:
            per_call_lines = _int_arg(args.pop(0), "xargs -L")
        elif arg.startswith("-L") and len(arg) > 2:
            per_call_lines = _int_arg(arg[2:], "xargs -L")
        elif arg == "-n" and args:
            per_call_items = _int_arg(args.pop(0), "xargs -n")
        else:
            raise AuditUnsupported(f"xargs {arg}")
    command = args or ["echo"]
    name = PurePosixPath(command[0]).name
    if name not in COMMANDS or name in ("sh", "bash"):
        raise AuditUnsupported(name)
    calls: list[list[str]] = []
    if replace is not None:
        for line in _lines(stdin):
            item = line.strip()
            if not item:
                continue
            if sum(a.count(replace) for a in command) * len(item) > MAX_OUTPUT:
                raise AuditError(f"xargs -I makes a command longer than {MAX_OUTPUT} characters")
            calls.append([a.replace(replace, item) for a in command])
    else:
        lines = [line for line in _lines(stdin) if line.strip()]
        try:
            items = shlex.split(stdin)
        except ValueError:
            items = stdin.split()
        if per_call_lines:
            for start in range(0, len(lines), per_call_lines):
                chunk = " ".join(lines[start : start + per_call_lines])
                calls.append(command + chunk.split())
        elif per_call_items:
            for start in range(0, len(items), per_call_items):
                calls.append(command + items[start : start + per_call_items])
        elif items:
            calls.append(command + items)
        elif not skip_empty:
            calls.append(list(command))
    out: list[str] = []
    status = 0
    for call in calls:
        sh.steps += 1
        if sh.steps > MAX_STEPS:
            raise AuditError(f"audit runs more than {MAX_STEPS} commands")
        text, code = sh.run_argv(call, "")
        out.append(text)
        if 0 < code < 126:
            status = 123
    return _cap("".join(out)), status


COMMANDS: dict[str, Command] = {
    "true": _cmd_true,
    ":": _cmd_true,
    "false": _cmd_false,
    "exit": _cmd_exit,
    "echo": _cmd_echo,
    "cat": _cmd_cat,
    "test": _cmd_test,
    "[": _cmd_bracket,
    "sh": _cmd_sh,
    "bash": _cmd_sh,
    "ps": _cmd_ps,
    "grep": _cmd_grep,
    "sed": _cmd_sed,
    "awk": _cmd_awk,
    "head": _cmd_head,
    "tail": _cmd_tail,
    "uniq": _cmd_uniq,
    "sort": _cmd_sort,
    "wc": _cmd_wc,
    "tr": _cmd_tr,
    "cut": _cmd_cut,
    "stat": _cmd_stat,
    "find": _cmd_find,
    "xargs": _cmd_xargs,
}
