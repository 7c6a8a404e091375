"""A pure-Python twin of BuildKit's Dockerfile parser, used before the real one.

Why: the `dockerfile` package (BuildKit v0.12.5's parser in Go, via cgo) costs about 0.7 ms
per 3 KB file, the largest single cost of the Dockerfile scanner, and the Go runtime it loads
does not survive fork(). `parse_fast` re-implements the same syntax (parser.go,
line_parsers.go, split_command.go and the heredoc word lexer) with str methods and regular
expressions, and returns the very tuples `dockerfile.parse_string` would.

BuildKit stays the reference and the fallback: whenever this module is not certain to give
BuildKit's exact result (every input BuildKit rejects, and a few rare constructs declined on
purpose) it returns None and the caller runs the real parser, which also words the error.
tests/misconfig/test_fastparse.py proves equality on a corpus and on crafted inputs.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple


class FastHeredoc(NamedTuple):
    """Same fields and types as `dockerfile.Heredoc`."""

    name: str
    file_descriptor: int
    content: str


class FastCommand(NamedTuple):
    """Same fields, order and types as `dockerfile.Command`."""

    cmd: str
    sub_cmd: str | None
    json: bool
    original: str
    start_line: int
    end_line: int
    flags: tuple[str, ...]
    value: tuple[str, ...]
    heredocs: tuple[FastHeredoc, ...]


class _Decline(Exception):
    """Not sure to match BuildKit (or BuildKit fails): let the caller use the real parser."""


# NUL (the Go side reads a C string), CR (callers normalise line endings) and the four
# separators Python calls whitespace and Go does not: with them gone, str.split/strip/isspace
# treat exactly Go's unicode.IsSpace set as space.
_UNSUPPORTED = ("\x00", "\r", "\x1c", "\x1d", "\x1e", "\x1f")
_MAX_LINE_BYTES = 65000  # bufio.Scanner refuses lines above 65535 bytes
# reDirectives in parser.go is `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, with Go's
# `\s` = [\t\n\f\r ]; the value part is done by hand (a lazy group is quadratic here).
_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=")
_GO_SPACE = "\t\n\f\r "
_ASCII_WS = re.compile(r"[\t\v\f\r ]+")  # reWhitespace / tokenWhitespace
_FLAG_SPACE = frozenset(" \t\n\v\f\r")  # unicode.IsSpace on single ASCII bytes
_ASCII_SPACES = re.compile(r"[ \t\n\v\f\r]+")
# parseWords without escapes: runs of non-space characters and quoted strings (the quotes
# kept); an unterminated quote runs to the end.
_PLAIN_WORD = re.compile(r"""(?:[^\s'"]|"[^"]*(?:"|\Z)|'[^']*(?:'|\Z))+""")
_HEREDOC_WORD = re.compile(r"([0-9]*)<<(-?)([^<]*)\Z")
_HEREDOC_CMDS = frozenset({"add", "copy", "run"})
_LEXER_SPECIAL = re.compile(r"['\"\\$]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON = json.JSONDecoder()

_Parsed = tuple[str, tuple[str, ...], tuple[str, ...], bool, str | None]  # see _node
_Values = tuple[tuple[str, ...], bool]  # (values, json form)


def parse_fast(text: str) -> tuple[FastCommand, ...] | None:
    """BuildKit's parse of `text` (line endings normalised, no BOM), or None when unsure.

    Never raises; linear in the input apart from bounded per-line work."""
    try:
        return _parse(text)
    except Exception:  # _Decline, and any surprise: the real parser decides
        return None


def _parse(text: str) -> tuple[FastCommand, ...] | None:
    if any(char in text for char in _UNSUPPORTED):
        return None
    if not text.isascii():
        try:
            text.encode("utf-8")  # lone surrogates cannot reach Go
        except UnicodeEncodeError:
            return None
    if text.startswith("\ufeff"):  # BuildKit strips one BOM from the first line
        text = text[1:]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(text) * 4 > _MAX_LINE_BYTES and any(  # a line Go's scanner refuses
        len(line) * 4 > _MAX_LINE_BYTES and len(line.encode()) > _MAX_LINE_BYTES for line in lines
    ):
        return None
    count = len(lines)
    escape = _directives(lines)
    double = escape + escape
    commands: list[FastCommand] = []
    new_command = FastCommand.__new__
    index = 0
    while index < count:
        line = lines[index].lstrip()
        index += 1
        if not line or line[0] == "#":
            continue
        start = index
        end = line.rstrip(" \t")
        # the continuation mark: a final escape (before spaces/tabs) not itself escaped
        if end[-1:] == escape and (len(end) == 1 or end[-2:] != double):
            parts = [end[:-1]]
            while index < count:
                raw = lines[index]
                index += 1
                stripped = raw.lstrip()
                if not stripped or stripped[0] == "#":
                    continue  # comment and blank lines inside a continuation are dropped
                end = raw.rstrip(" \t")
                if end[-1:] == escape and (len(end) == 1 or end[-2:] != double):
                    parts.append(end[:-1])
                else:
                    parts.append(raw)
                    break
            line = "".join(parts)
        cmd, flags, values, is_json, sub_cmd = _node(line, escape, nested=False)
        heredocs: tuple[FastHeredoc, ...] = ()
        original = line
        if "<<" in line and not is_json:
            target = cmd.lower()
            if target == "onbuild" and sub_cmd is not None:
                target = sub_cmd.lower()
            if target in _HEREDOC_CMDS:
                docs, index = _read_heredocs(line, lines, index)
                if cmd.lower() != "onbuild":  # the dockerfile package reads the inner node
                    heredocs = docs
                    if docs:
                        original = line + "\n" + "".join(h.content + h.name + "\n" for h in docs)
        commands.append(
            new_command(
                FastCommand, cmd, sub_cmd, is_json, original, start, index, flags, values, heredocs
            )
        )
    if not commands:
        return None  # "file with no instructions"
    return tuple(commands)


def _directives(lines: list[str]) -> str:
    """The escape character set by the leading parser directives (escape, syntax)."""
    escape = "\\"
    seen: set[str] = set()
    for line in lines:
        token = line.lstrip()
        match = _DIRECTIVE.match(token)
        if match is None:
            break
        after = token[match.end() :]
        value = after.strip(_GO_SPACE)
        if not value:
            if not after:
                break
            value = after[-1]  # `\s*(.+?)` backtracks to give the group one character
        key = match.group(1).lower()
        if key not in ("escape", "syntax"):  # v0.12 knows no `check` directive
            break
        if key in seen:
            raise _Decline("repeated parser directive")
        seen.add(key)
        if key == "escape":
            escape = value
            if escape not in ("\\", "`"):
                raise _Decline("invalid escape token")
    return escape


def _node(line: str, escape: str, *, nested: bool) -> _Parsed:
    """newNodeFromLine as seen by the dockerfile package: (cmd, flags, values, json, sub_cmd)."""
    stripped = line.strip()
    split = _ASCII_WS.split(stripped, maxsplit=1)
    cmd = split[0]
    if not cmd:
        raise _Decline("empty instruction")  # reported as cmd=None; too odd to bother
    if not cmd.isascii():
        raise _Decline("non-ASCII instruction")  # Go lowercases some letters differently
    flags: tuple[str, ...] = ()
    rest = ""
    if len(split) == 2:
        rest = split[1]
        if rest.startswith("--"):
            rest, flags = _extract_flags(rest)
        rest = rest.strip()
    kind = cmd.lower()
    parser = _DISPATCH.get(kind)
    if parser is not None:
        values, is_json = parser(rest, escape)
        return cmd, flags, values, is_json, None
    if kind != "onbuild":
        return cmd, flags, ("",), False, None  # parseIgnore: one empty value
    if not rest:
        return cmd, flags, (), False, None
    sub, _, values, is_json, _ = _node(rest, escape, nested=True)
    if nested:  # ONBUILD ONBUILD ...: the wrapper sees the container node's empty value
        return cmd, flags, ("",), False, None
    return cmd, flags, values, is_json, sub  # the inner instruction's flags are dropped


def _extract_flags(line: str) -> tuple[str, tuple[str, ...]]:
    """extractBuilderFlags: leading `--flag[=value]` words; always escaped by backslash.

    Go walks bytes here, so non-ASCII text inside a flag would be mangled: declined."""
    words: list[str] = []
    word: list[str] = []
    phase = 0  # 0 between words, 1 in a word, 2 in a quote
    blank_ok = False
    quote = ""
    size = len(line)
    pos = 0
    while pos < size:
        char = line[pos]
        if phase == 0:
            if char in _FLAG_SPACE:
                pos += 1
                continue
            if char != "-" or pos + 1 == size or line[pos + 1] != "-":
                return line[pos:], tuple(words)
            phase = 1
        if char > "\x7f":
            raise _Decline("non-ASCII flag")
        if phase == 1:
            if char in _FLAG_SPACE:
                phase = 0
                text = "".join(word)
                if text == "--":
                    return line[pos:], tuple(words)
                if blank_ok or text:
                    words.append(text)
                word = []
                blank_ok = False
                pos += 1
                continue
            if char in ("'", '"'):
                quote = char
                blank_ok = True
                phase = 2
                pos += 1
                continue
        elif char == quote:
            phase = 1
            pos += 1
            continue
        if char == "\\":
            if pos + 1 == size:
                phase = 1
                pos += 1
                continue
            pos += 1
            char = line[pos]
            if char > "\x7f":
                raise _Decline("non-ASCII flag")
        word.append(char)
        pos += 1
    if phase:
        text = "".join(word)
        if text != "--" and (blank_ok or text):
            words.append(text)
    return "", tuple(words)


def _json_array(rest: str) -> tuple[str, ...] | None:
    """parseJSON: the strings of a JSON array, None when not JSON (shell form follows);
    declines where Go's encoding/json and Python's json could disagree."""
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:  # Go decodes the first value and ignores whatever follows it
        items, _ = _JSON.raw_decode(rest)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    for item in items:
        if not isinstance(item, str):
            raise _Decline("JSON array of non-strings")  # an error in Go, or NaN/1e999
        if "\x00" in item or (not item.isascii() and _SURROGATE.search(item)):
            raise _Decline("JSON string Go would change")
    return tuple(items)


def _maybe_json(rest: str, _escape: str) -> _Values:
    if not rest:
        return (), False
    items = _json_array(rest)
    if items is not None:
        return items, True
    return (rest,), False


def _maybe_json_list(rest: str, escape: str) -> _Values:
    items = _json_array(rest)
    if items is not None:
        return items, True
    return _whitespace_delimited(rest, escape)


def _whitespace_delimited(rest: str, _escape: str) -> _Values:
    if not rest:
        return (), False
    if rest.isascii():
        return tuple(rest.split()), False
    return tuple(_ASCII_WS.split(rest)), False


def _string(rest: str, _escape: str) -> _Values:
    return ((rest,) if rest else ()), False


def _words(rest: str, escape: str) -> list[str]:
    """parseWords: split on whitespace outside quotes, keeping quotes and escapes."""
    if escape not in rest:
        if "'" not in rest and '"' not in rest:
            return rest.split()
        return _PLAIN_WORD.findall(rest)  # quotes but no escape: a regular language
    words: list[str] = []
    word: list[str] = []
    phase = 0  # 0 between words, 1 in a word, 2 in a quote
    blank_ok = False
    quote = ""
    size = len(rest)
    pos = 0
    while pos < size:
        char = rest[pos]
        if phase == 0:
            if char.isspace():
                pos += 1
                continue
            phase = 1
        if phase == 1:
            if char.isspace():
                phase = 0
                if blank_ok or word:
                    words.append("".join(word))
                word = []
                blank_ok = False
                pos += 1
                continue
            if char in ("'", '"'):
                quote = char
                blank_ok = True
                phase = 2
            elif char == escape:
                if pos + 1 == size:
                    pos += 1
                    continue
                word.append(char)
                pos += 1
                char = rest[pos]
        elif char == quote:
            phase = 1
        elif char == escape and quote != "'":
            if pos + 1 == size:
                phase = 1
                pos += 1
                continue
            word.append(char)
            pos += 1
            char = rest[pos]
        word.append(char)
        pos += 1
    if phase and (blank_ok or word):
        words.append("".join(word))
    return words


def _name_or_name_value(rest: str, escape: str) -> _Values:
    return tuple(_words(rest, escape)), False


def _name_value(rest: str, escape: str) -> _Values:
    """ENV and LABEL: `key=value ...`, or the legacy `key value` (first word has no `=`)."""
    words = _words(rest, escape)
    if not words:
        return (), False
    if "=" not in words[0]:
        parts = _ASCII_WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise _Decline("must have two arguments")
        return (parts[0], parts[1]), False
    out: list[str] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise _Decline("can't find =")
        out += (key, value)
    return tuple(out), False


def _health(rest: str, escape: str) -> _Values:
    """HEALTHCHECK: a type word (NONE, CMD), then CMD's arguments like RUN's."""
    if not rest:
        return (), False
    split = rest.split(maxsplit=1)
    if not rest.isascii():  # Go splits the type word bytewise, on ASCII spaces and 0x85/0xA0
        split = _ASCII_SPACES.split(rest, maxsplit=1)
        if not split[0].isascii() and any(b in (0x85, 0xA0) for b in split[0].encode()):
            raise _Decline("HEALTHCHECK type word Go would cut inside a character")
    values, is_json = _maybe_json(split[1] if len(split) == 2 else "", escape)
    return (split[0], *values), is_json


_DISPATCH = {
    "add": _maybe_json_list,
    "arg": _name_or_name_value,
    "cmd": _maybe_json,
    "copy": _maybe_json_list,
    "entrypoint": _maybe_json,
    "env": _name_value,
    "expose": _whitespace_delimited,
    "from": _whitespace_delimited,
    "healthcheck": _health,
    "label": _name_value,
    "maintainer": _string,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _string,
    "user": _string,
    "volume": _maybe_json_list,
    "workdir": _string,
}


def _read_heredocs(line: str, lines: list[str], index: int) -> tuple[tuple[FastHeredoc, ...], int]:
    """Find the heredocs opened on `line` and read their bodies from lines[index:]."""
    docs: list[FastHeredoc] = []
    count = len(lines)
    for fd, chomp, name in _heredoc_words(line):
        body: list[str] = []
        while True:
            if index >= count:
                raise _Decline("unterminated heredoc")
            raw = lines[index]
            index += 1
            if (raw.lstrip("\t") if chomp else raw) == name:
                break
            body.append(raw)
            body.append("\n")  # the last line of the text is never body: it must terminate
        docs.append(FastHeredoc(name, fd, "".join(body)))
    return tuple(docs), index


def _heredoc_words(line: str) -> list[tuple[int, bool, str]]:
    """heredocsFromLine: (fd, chomp, name) for each `[n]<<[-]word` shell word of `line`."""
    # nothing for the lexer to do but split when no quote, escape or `$` is present
    words = _lex(line, raw=True) if _LEXER_SPECIAL.search(line) else line.split()
    found: list[tuple[int, bool, str]] = []
    for word in words or ():
        if "<<" not in word:
            continue
        match = _HEREDOC_WORD.match(word)
        if match is None or not match.group(3):
            continue
        digits, dash, rest = match.groups()
        if len(digits) > 9:
            raise _Decline("huge heredoc file descriptor")
        if _LEXER_SPECIAL.search(rest):
            if '"' in rest and "\\" in rest:
                raise _Decline("escape inside quotes in a heredoc name")  # Go's raw lexer
            if "$" in rest:
                raise _Decline("variable in heredoc name")
            cooked = _lex(rest, raw=False)
            if cooked is None:
                raise _Decline("heredoc name does not lex")  # an error in Go
            if len(cooked) != 1:
                continue
            again = _lex(rest, raw=True)
            if again is None or len(again) != 1:
                raise _Decline("inconsistent heredoc name")
            rest = cooked[0]
        found.append((int(digits) if digits else 0, dash == "-", rest))
    return found


def _lex(text: str, *, raw: bool) -> list[str] | None:
    """BuildKit's shell lexer as heredoc detection runs it (escape `\\`, no variable known and
    unknown ones kept as written): the words of `text`, None on a lexing error. `raw` keeps
    quotes and escapes in the words; the cooked form is only used on `$`-free text."""
    words: list[str] = []
    word: list[str] = []
    size = len(text)
    pos = 0
    while pos < size:
        char = text[pos]
        if char == "$":
            end = _dollar(text, pos)
            if end < 0:
                return None
            piece = text[pos:end]
            if len(piece) > 3 and _SPACE.search(piece):  # added char by char: spaces split
                for item in piece:
                    if not item.isspace():
                        word.append(item)
                    elif word:
                        words.append("".join(word))
                        word = []
            else:
                word.append(piece)
            pos = end
        elif char == "'":
            end = text.find("'", pos + 1)
            if end < 0:
                return None
            if raw or end > pos + 1:  # an empty cooked string adds nothing to the word
                word.append(text[pos : end + 1] if raw else text[pos + 1 : end])
            pos = end + 1
        elif char == '"':
            end = _double_quote_end(text, pos)
            if end < 0:
                return None
            if raw or end > pos + 2:
                word.append(text[pos:end] if raw else _unquote_double(text[pos + 1 : end - 1]))
            pos = end
        elif char == "\\":
            if raw:
                word.append(char)
            pos += 1
            if pos < size:
                word.append(text[pos])
                pos += 1
        elif char.isspace():
            if word:
                words.append("".join(word))
                word = []
            pos += 1
        else:
            word.append(char)
            pos += 1
    if word:
        words.append("".join(word))
    return words


def _unquote_double(inner: str) -> str:
    """The text of a double-quoted string: `\\` escapes only `"`, `$` and itself."""
    out: list[str] = []
    pos = 0
    size = len(inner)
    while pos < size:
        char = inner[pos]
        if char == "\\" and pos + 1 < size and inner[pos + 1] in ('"', "$", "\\"):
            pos += 1
            char = inner[pos]
        out.append(char)
        pos += 1
    return "".join(out)


def _double_quote_end(text: str, pos: int) -> int:
    """Index after the double-quoted string starting at text[pos], -1 when unterminated."""
    size = len(text)
    pos += 1
    while pos < size:
        char = text[pos]
        if char == '"':
            return pos + 1
        if char == "$":
            pos = _dollar(text, pos)
            if pos < 0:
                return -1
            continue
        pos += 1
        if char == "\\" and pos < size and text[pos] in ('"', "$", "\\"):
            pos += 1
    return -1


_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_SPACE = re.compile(r"\s")  # str.isspace, i.e. Go's unicode.IsSpace here


def _dollar(text: str, pos: int) -> int:
    """Index after the `$` reference at text[pos] (kept as written, since no variable is
    known), -1 on a syntax error. BuildKit v0.12.5 accepts `${name}` and the `-`, `+`, `?`
    modifiers, with or without `:` (after `:` any one character)."""
    size = len(text)
    after = pos + 1
    if after >= size or text[after] != "{":
        return after + 1 if text.startswith("$", after) else after  # `$$` is one parameter
    pos = after + 1
    if pos >= size or text[pos] in "{}:":
        return -1
    char = text[pos]
    if char > "\x7f":
        raise _Decline("non-ASCII variable name")
    if char.isdecimal():
        while pos < size and text[pos].isdecimal():
            pos += 1
    elif char in _SPECIAL_PARAMS:
        pos += 1
    else:
        while pos < size and (text[pos].isalnum() or text[pos] == "_"):
            if text[pos] > "\x7f":
                raise _Decline("non-ASCII variable name")  # Unicode tables may differ
            pos += 1
    if pos >= size:
        return -1
    char = text[pos]
    pos += 1
    if char == "}":
        return pos
    if char == ":":
        if pos >= size:
            return -1
        pos += 1
    elif char not in "+-?":
        return -1
    return _brace_end(text, pos)


def _brace_end(text: str, pos: int) -> int:
    """Index after the `}` closing a `${name<op>word}` word, -1 when there is none."""
    size = len(text)
    while pos < size:
        char = text[pos]
        if char == "}":
            return pos + 1
        if char == "$":
            pos = _dollar(text, pos)
            if pos < 0:
                return -1
        elif char == "'":
            pos = text.find("'", pos + 1)
            if pos < 0:
                return -1
            pos += 1
        elif char == '"':
            pos = _double_quote_end(text, pos)
            if pos < 0:
                return -1
        elif char == "\\":
            pos += 2
        else:
            pos += 1
    return -1
