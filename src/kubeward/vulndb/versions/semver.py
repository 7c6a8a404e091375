"""SemVer 2.0.0 versions and npm ranges, for npm packages (and the base of cargo and golang).

`satisfies` is a line-by-line port of node's `semver` 7.6.3 `Range` (same regular expressions,
same string rewriting), because npm advisories mean exactly what that package answers, quirks
included; tests cross-check it against the real package. No maintained Python library does this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion

__all__ = [
    "MAX_LENGTH",
    "MAX_RANGE_LENGTH",
    "Key",
    "canonical_range",
    "compare",
    "parse",
    "parse_strict",
    "prerelease_key",
    "satisfies",
]

MAX_LENGTH = 256  # node's MAX_LENGTH: longer version strings are not versions
# Not in node: node's expressions are quadratic on runs like "v v v"; this bounds a
# hostile range to ~0.15 s, and real ranges are a few dozen characters.
MAX_RANGE_LENGTH = 2048
_MAX_SAFE_INTEGER = 2**53 - 1
_STRICT_MAX_LENGTH = 1024


class Key(NamedTuple):
    """SemVer precedence as a plain tuple: build metadata is not part of it.

    `final` puts a release after all of its pre-releases; each pre-release identifier is
    (0, number, "") or (1, 0, text), so numbers sort numerically and before text.
    """

    major: int
    minor: int
    patch: int
    final: bool
    prerelease: tuple[tuple[int, int, str], ...]


def prerelease_key(prerelease: str | None) -> tuple[tuple[int, int, str], ...]:
    """The sort key of a dot-separated pre-release that has already been validated."""
    if not prerelease:
        return ()
    return tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in prerelease.split("."))


def _key(major: int, minor: int, patch: int, prerelease: str | None) -> Key:
    return Key(major, minor, patch, not prerelease, prerelease_key(prerelease))


def _invalid(text: str) -> InvalidVersion:
    shown = text if len(text) <= 80 else text[:80] + "..."
    return InvalidVersion(f"not a semantic version: {shown!r}")


# --- node semver's regular expressions, built the way internal/re.js builds its `safeRe` ---

# JavaScript's \s and String.prototype.trim() whitespace; \d is ASCII-only in JavaScript.
_JS_SPACE_CHARS = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_SPACE_BODY = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_LDN = "[a-zA-Z0-9-]"


def _js(source: str, flags: int = 0) -> re.Pattern[str]:
    """Compile a node-semver source string: apply makeSafeRegex, then translate to Python."""
    for token, limit in ((r"\s", 1), (r"\d", MAX_LENGTH), (_LDN, MAX_LENGTH - 6)):
        source = source.replace(token + "*", f"{token}{{0,{limit}}}")
        source = source.replace(token + "+", f"{token}{{1,{limit}}}")
    source = source.replace(r"[v=\s]", f"[v={_JS_SPACE_BODY}]")
    source = source.replace(r"\s", f"[{_JS_SPACE_BODY}]").replace(r"\d", "[0-9]")
    return re.compile(source.replace("$", r"\Z"), flags)


_NUMERICIDENTIFIER = r"0|[1-9]\d*"
_NONNUMERICIDENTIFIER = rf"\d*[a-zA-Z-]{_LDN}*"
_MAINVERSION = rf"({_NUMERICIDENTIFIER})\.({_NUMERICIDENTIFIER})\.({_NUMERICIDENTIFIER})"
_MAINVERSIONLOOSE = r"(\d+)\.(\d+)\.(\d+)"
_PRERELEASEIDENTIFIER = rf"(?:{_NUMERICIDENTIFIER}|{_NONNUMERICIDENTIFIER})"
_PRERELEASEIDENTIFIERLOOSE = rf"(?:\d+|{_NONNUMERICIDENTIFIER})"
_PRERELEASE = rf"(?:-({_PRERELEASEIDENTIFIER}(?:\.{_PRERELEASEIDENTIFIER})*))"
_PRERELEASELOOSE = rf"(?:-?({_PRERELEASEIDENTIFIERLOOSE}(?:\.{_PRERELEASEIDENTIFIERLOOSE})*))"
_BUILD = rf"(?:\+({_LDN}+(?:\.{_LDN}+)*))"
_FULLPLAIN = rf"v?{_MAINVERSION}{_PRERELEASE}?{_BUILD}?"
_LOOSEPLAIN = rf"[v=\s]*{_MAINVERSIONLOOSE}{_PRERELEASELOOSE}?{_BUILD}?"
_GTLT = r"((?:<|>)?=?)"
_XRANGEIDENTIFIER = rf"{_NUMERICIDENTIFIER}|x|X|\*"
_XRANGEPLAIN = (
    rf"[v=\s]*({_XRANGEIDENTIFIER})(?:\.({_XRANGEIDENTIFIER})"
    rf"(?:\.({_XRANGEIDENTIFIER})(?:{_PRERELEASE})?{_BUILD}?)?)?"
)

_FULL = _js(rf"^{_FULLPLAIN}$")
_XRANGE = _js(rf"^{_GTLT}\s*{_XRANGEPLAIN}$")
_TILDETRIM = _js(r"(\s*)(?:~>?)\s+")
_TILDE = _js(rf"^(?:~>?){_XRANGEPLAIN}$")
_CARETTRIM = _js(r"(\s*)(?:\^)\s+")
_CARET = _js(rf"^(?:\^){_XRANGEPLAIN}$")
_COMPARATOR = _js(rf"^{_GTLT}\s*({_FULLPLAIN})$|^$")
_COMPARATORTRIM = _js(rf"(\s*){_GTLT}\s*({_LOOSEPLAIN}|{_XRANGEPLAIN})")
_HYPHENRANGE = _js(rf"^\s*({_XRANGEPLAIN})\s+-\s+({_XRANGEPLAIN})\s*$")
_STAR = _js(r"(<|>)?=?\s*\*")
_GTE0 = _js(r"^\s*>=\s*0\.0\.0\s*$")
_GTE0PRE = _js(r"^\s*>=\s*0\.0\.0-0\s*$")
_SPACES = re.compile(f"[{_JS_SPACE_BODY}]+")

# SemVer 2.0.0's own grammar, no prefixes: what Cargo and the spec accept.
_STRICT = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][a-zA-Z0-9-]*)"
    r"(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][a-zA-Z0-9-]*))*))?"
    r"(?:\+([a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*))?",
    re.ASCII,
)


@lru_cache(maxsize=8192)
def _node_parse(version: str) -> Key:
    """`new SemVer(version)` in node, strict mode."""
    if len(version) > MAX_LENGTH:
        raise _invalid(version)
    m = _FULL.search(version.strip(_JS_SPACE_CHARS))
    if m is None:
        raise _invalid(version)
    major, minor, patch = int(m[1]), int(m[2]), int(m[3])
    if max(major, minor, patch) > _MAX_SAFE_INTEGER:
        raise _invalid(version)
    # node keeps numeric pre-release identifiers >= 2**53-1 as strings and then compares
    # them as lossy floats; we compare all numeric identifiers exactly, as SemVer says.
    return _key(major, minor, patch, m[4])


def parse(version: str) -> Key:
    """Parse an npm version as node's `semver` does (optional "v"), plus an optional "="."""
    if len(version) > MAX_LENGTH:
        raise _invalid(version)
    trimmed = version.strip(_JS_SPACE_CHARS)
    if trimmed.startswith("="):
        # node accepts "=1.2.3" only in loose mode; advisories and lockfiles do write it.
        return _node_parse(trimmed[1:])
    return _node_parse(version)


@lru_cache(maxsize=8192)
def parse_strict(version: str) -> Key:
    """Parse exactly SemVer 2.0.0 (no "v", no spaces, numbers of any size)."""
    if len(version) > _STRICT_MAX_LENGTH:
        raise _invalid(version)
    m = _STRICT.fullmatch(version)
    if m is None:
        raise _invalid(version)
    return _key(int(m[1]), int(m[2]), int(m[3]), m[4])


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as node's `semver.compare` (build metadata is ignored)."""
    ka, kb = parse(a), parse(b)
    return (ka > kb) - (ka < kb)


# --- npm ranges: node-semver classes/range.js ---


class _Comparator(NamedTuple):
    operator: str  # "", "<", "<=", ">", ">="; "" with key None is node's ANY
    key: Key | None
    value: str  # node's Comparator.value, the canonical text

    def test(self, version: Key) -> bool:
        key = self.key
        if key is None:
            return True
        op = self.operator
        if op == "":
            return version == key
        if op == "<":
            return version < key
        if op == "<=":
            return version <= key
        if op == ">":
            return version > key
        return version >= key


_NULL_SET = "<0.0.0-0"


def _is_x(part: str | None) -> bool:
    return not part or part.lower() == "x" or part == "*"


def _hyphen_replace(include_prerelease: bool) -> Callable[[re.Match[str]], str]:
    z = "-0" if include_prerelease else ""

    def replace(m: re.Match[str]) -> str:
        start, f_major, f_minor, f_patch, f_pre = m[1], m[2], m[3], m[4], m[5]
        end, t_major, t_minor, t_patch, t_pre = m[7], m[8], m[9], m[10], m[11]
        if _is_x(f_major):
            start = ""
        elif _is_x(f_minor):
            start = f">={f_major}.0.0{z}"
        elif _is_x(f_patch):
            start = f">={f_major}.{f_minor}.0{z}"
        elif f_pre:
            start = f">={start}"
        else:
            start = f">={start}{z}"
        if _is_x(t_major):
            end = ""
        elif _is_x(t_minor):
            end = f"<{int(t_major) + 1}.0.0-0"
        elif _is_x(t_patch):
            end = f"<{t_major}.{int(t_minor) + 1}.0-0"
        elif t_pre:
            end = f"<={t_major}.{t_minor}.{t_patch}-{t_pre}"
        elif include_prerelease:
            end = f"<{t_major}.{t_minor}.{int(t_patch) + 1}-0"
        else:
            end = f"<={end}"
        return f"{start} {end}".strip(_JS_SPACE_CHARS)

    return replace


def _replace_tilde(m: re.Match[str]) -> str:
    major, minor, patch, pre = m[1], m[2], m[3], m[4]
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0 <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
    if pre:
        return f">={major}.{minor}.{patch}-{pre} <{major}.{int(minor) + 1}.0-0"
    return f">={major}.{minor}.{patch} <{major}.{int(minor) + 1}.0-0"


def _caret_replace(include_prerelease: bool) -> Callable[[re.Match[str]], str]:
    z = "-0" if include_prerelease else ""

    def replace(m: re.Match[str]) -> str:
        major, minor, patch, pre = m[1], m[2], m[3], m[4]
        if _is_x(major):
            return ""
        if _is_x(minor):
            return f">={major}.0.0{z} <{int(major) + 1}.0.0-0"
        if _is_x(patch):
            if major == "0":
                return f">={major}.{minor}.0{z} <{major}.{int(minor) + 1}.0-0"
            return f">={major}.{minor}.0{z} <{int(major) + 1}.0.0-0"
        if major != "0":
            low = f">={major}.{minor}.{patch}-{pre}" if pre else f">={major}.{minor}.{patch}"
            return f"{low} <{int(major) + 1}.0.0-0"
        # node adds the -0 floor for includePrerelease only below 1.0.0
        low = f">={major}.{minor}.{patch}-{pre}" if pre else f">={major}.{minor}.{patch}{z}"
        if minor == "0":
            return f"{low} <{major}.{minor}.{int(patch) + 1}-0"
        return f"{low} <{major}.{int(minor) + 1}.0-0"

    return replace


def _xrange_replace(include_prerelease: bool) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        gtlt, major, minor, patch = m[1], m[2], m[3], m[4]
        x_major = _is_x(major)
        x_minor = x_major or _is_x(minor)
        x_patch = x_minor or _is_x(patch)
        if gtlt == "=" and x_patch:
            gtlt = ""
        pre = "-0" if include_prerelease else ""
        if x_major:
            return "<0.0.0-0" if gtlt in (">", "<") else "*"
        if gtlt and x_patch:
            minor_n = 0 if x_minor else int(minor)
            major_n, patch_n = int(major), 0
            if gtlt == ">":
                gtlt = ">="
                if x_minor:
                    major_n, minor_n = major_n + 1, 0
                else:
                    minor_n += 1
            elif gtlt == "<=":
                gtlt = "<"
                if x_minor:
                    major_n += 1
                else:
                    minor_n += 1
            if gtlt == "<":
                pre = "-0"
            # node prints the untouched parts as written; they have no leading zeros
            return f"{gtlt}{major_n}.{minor_n}.{patch_n}{pre}"
        if x_minor:
            return f">={major}.0.0{pre} <{int(major) + 1}.0.0-0"
        if x_patch:
            return f">={major}.{minor}.0{pre} <{major}.{int(minor) + 1}.0-0"
        return m[0]

    return replace


def _split_spaces(text: str) -> list[str]:
    return _SPACES.split(text)


def _trim(text: str) -> str:
    return text.strip(_JS_SPACE_CHARS)


def _parse_comparator(text: str, include_prerelease: bool) -> str:
    """node's parseComparator: carets, tildes, x-ranges and stars to plain comparators."""
    caret = _caret_replace(include_prerelease)
    xrange = _xrange_replace(include_prerelease)
    text = " ".join(_CARET.sub(caret, c, count=1) for c in _split_spaces(_trim(text)))
    text = " ".join(_TILDE.sub(_replace_tilde, c, count=1) for c in _split_spaces(_trim(text)))
    text = " ".join(_XRANGE.sub(xrange, _trim(c), count=1) for c in _split_spaces(text))
    return _STAR.sub("", _trim(text), count=1)


def _make_comparator(text: str) -> _Comparator:
    text = " ".join(_split_spaces(_trim(text)))
    m = _COMPARATOR.search(text)
    if m is None:
        raise InvalidConstraint(f"invalid comparator: {text[:80]!r}")
    operator = m[1] or ""
    if operator == "=":
        operator = ""
    if not m[2]:
        return _Comparator("", None, "")
    try:
        key = _node_parse(m[2])
    except InvalidVersion as exc:
        raise InvalidConstraint(f"invalid comparator: {text[:80]!r}") from exc
    version = f"{key.major}.{key.minor}.{key.patch}"
    if key.prerelease:
        version += "-" + ".".join(str(n) if t == 0 else s for t, n, s in key.prerelease)
    return _Comparator(operator, key, operator + version)


def _parse_set(text: str, include_prerelease: bool) -> tuple[_Comparator, ...]:
    """node's Range.parseRange for one ||-separated part (strict mode)."""
    text = _HYPHENRANGE.sub(_hyphen_replace(include_prerelease), text, count=1)
    text = _COMPARATORTRIM.sub(r"\1\2\3", text)
    text = _TILDETRIM.sub(r"\1~", text)
    text = _CARETTRIM.sub(r"\1^", text)
    parts = " ".join(_parse_comparator(c, include_prerelease) for c in text.split(" "))
    gte0 = _GTE0PRE if include_prerelease else _GTE0
    # every comparator is built (and may be rejected) before a null set short-cuts the rest
    built = [_make_comparator(gte0.sub("", _trim(p), count=1)) for p in _split_spaces(parts)]
    comparators: dict[str, _Comparator] = {}
    for comparator in built:
        if comparator.value == _NULL_SET:
            return (comparator,)
        comparators[comparator.value] = comparator
    if len(comparators) > 1:
        comparators.pop("", None)
    return tuple(comparators.values())


@lru_cache(maxsize=4096)
def _parse_range(expression: str, include_prerelease: bool) -> tuple[tuple[_Comparator, ...], ...]:
    """node's Range constructor (strict mode)."""
    if len(expression) > MAX_RANGE_LENGTH:
        raise InvalidConstraint(f"range longer than {MAX_RANGE_LENGTH} characters")
    raw = _SPACES.sub(" ", _trim(expression))
    sets = [c for c in (_parse_set(_trim(r), include_prerelease) for r in raw.split("||")) if c]
    if not sets:
        raise InvalidConstraint(f"invalid npm range: {raw[:80]!r}")
    if len(sets) > 1:
        first = sets[0]
        sets = [c for c in sets if c[0].value != _NULL_SET] or [first]
        if len(sets) > 1:
            for c in sets:
                if len(c) == 1 and c[0].key is None:
                    sets = [c]
                    break
    return tuple(sets)


def canonical_range(expression: str, *, include_prerelease: bool = False) -> str:
    """The range as plain comparators, as node's `semver.validRange` prints it."""
    sets = _parse_range(expression, include_prerelease)
    return "||".join(" ".join(c.value for c in s) for s in sets) or "*"


def _test_set(comparators: tuple[_Comparator, ...], version: Key, include_prerelease: bool) -> bool:
    if not all(c.test(version) for c in comparators):
        return False
    if version.final or include_prerelease:
        return True
    # A pre-release only matches a set that names a pre-release of the same major.minor.patch.
    return any(
        c.key is not None and not c.key.final and c.key[:3] == version[:3]  # major, minor, patch
        for c in comparators
    )


def satisfies(version: str, expression: str, *, include_prerelease: bool = False) -> bool:
    """Whether `version` is in the npm range `expression`, as node's `semver.satisfies`.

    Unlike node, which answers false for anything it cannot read, a bad version raises
    InvalidVersion and a bad range InvalidConstraint.
    """
    key = parse(version)
    sets = _parse_range(expression, include_prerelease)
    return any(_test_set(s, key, include_prerelease) for s in sets)
