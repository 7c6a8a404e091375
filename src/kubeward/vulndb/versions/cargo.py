"""Cargo (crates.io) versions and requirements, for RustSec and OSV crates.io advisories.

Versions are strict SemVer 2.0.0 ordered by precedence (build metadata ignored; the `semver`
crate only uses it as a final tie-break, which matching never looks at). `satisfies` ports the
`semver` crate 1.x `VersionReq` parser and matcher, which Cargo and RustSec use: "1.2.3" means
"^1.2.3", commas AND comparators, and a pre-release only matches a requirement that names a
pre-release of the same major.minor.patch.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion
from kubeward.vulndb.versions.semver import Key, parse_strict, prerelease_key

__all__ = ["MAX_LENGTH", "Key", "compare", "parse", "satisfies"]

MAX_LENGTH = 1024
_U64_MAX = 2**64 - 1
_MAX_COMPARATORS = 32  # the semver crate refuses more

_OP = re.compile(r">=|<=|[=><~^]")
_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_IDENTS = re.compile(r"[0-9A-Za-z.-]*", re.ASCII)
_WILDCARDS = frozenset("*xX")  # never matches "", the slice past the end


@lru_cache(maxsize=8192)
def parse(version: str) -> Key:
    """A crate version ("1.2.3", "0.9.0-alpha.1+build"), exactly as the semver crate reads it."""
    key = parse_strict(version)
    if max(key.major, key.minor, key.patch) > _U64_MAX:
        raise InvalidVersion(f"version number over 2**64-1 in {version[:80]!r}")
    return key


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 by SemVer precedence."""
    ka, kb = parse(a), parse(b)
    return (ka > kb) - (ka < kb)


class _Comparator(NamedTuple):
    op: str  # "=", ">", ">=", "<", "<=", "~", "^", "*" (wildcard: "1.*", "1.2.x")
    major: int
    minor: int | None
    patch: int | None
    pre: tuple[bool, tuple[tuple[int, int, str], ...]]  # (no pre-release, identifiers)


def _bad(expression: str, why: str) -> InvalidConstraint:
    return InvalidConstraint(f"invalid Cargo requirement {expression[:80]!r}: {why}")


def _number(text: str, pos: int, expression: str) -> tuple[int, int]:
    m = _NUMBER.match(text, pos)
    if m is None:
        raise _bad(expression, "expected a number")
    digits = m[0]
    if len(digits) > 1 and digits[0] == "0":
        raise _bad(expression, "leading zero")
    if len(digits) > 20 or int(digits) > _U64_MAX:
        raise _bad(expression, "number too large")
    return int(digits), m.end()


def _identifiers(text: str, pos: int, expression: str, pre: bool) -> tuple[str, int]:
    m = _IDENTS.match(text, pos)
    assert m is not None  # the pattern matches the empty string
    found = m[0]
    for ident in found.split("."):
        if not ident:
            raise _bad(expression, "empty identifier")
        if pre and ident.isdigit() and len(ident) > 1 and ident[0] == "0":
            raise _bad(expression, "leading zero in a pre-release identifier")
    return found, m.end()


def _comparator(text: str, pos: int, expression: str) -> tuple[_Comparator, int]:
    m = _OP.match(text, pos)
    default_op = m is None
    op = "^" if m is None else m[0]
    if m is not None:
        pos = m.end()
    while text.startswith(" ", pos):
        pos += 1
    major, pos = _number(text, pos, expression)
    minor: int | None = None
    patch: int | None = None
    wildcard = False
    if text.startswith(".", pos):
        if text[pos + 1 : pos + 2] in _WILDCARDS:
            wildcard, pos = True, pos + 2
            if default_op:
                op = "*"
        else:
            minor, pos = _number(text, pos + 1, expression)
    if text.startswith(".", pos):
        if text[pos + 1 : pos + 2] in _WILDCARDS:
            pos += 2
            if default_op:
                op = "*"
        elif wildcard:
            raise _bad(expression, "a number after a wildcard")
        else:
            patch, pos = _number(text, pos + 1, expression)
    pre = ""
    if patch is not None and text.startswith("-", pos):
        pre, pos = _identifiers(text, pos + 1, expression, pre=True)
    if patch is not None and text.startswith("+", pos):
        _, pos = _identifiers(text, pos + 1, expression, pre=False)  # build: ignored
    while text.startswith(" ", pos):
        pos += 1
    return _Comparator(op, major, minor, patch, (not pre, prerelease_key(pre))), pos


@lru_cache(maxsize=4096)
def _parse_requirement(expression: str) -> tuple[_Comparator, ...]:
    if len(expression) > MAX_LENGTH:
        raise _bad(expression, f"longer than {MAX_LENGTH} characters")
    text = expression.lstrip(" ")
    if text[:1] in _WILDCARDS:
        if text[1:].strip(" ") == "":
            return ()  # "*": every version (that is not a pre-release)
        raise _bad(expression, "a wildcard must be the only comparator")
    comparators: list[_Comparator] = []
    pos = 0
    while True:
        comparator, pos = _comparator(text, pos, expression)
        comparators.append(comparator)
        if pos == len(text):
            return tuple(comparators)
        if text[pos] != ",":
            raise _bad(expression, f"expected a comma, found {text[pos]!r}")
        if len(comparators) == _MAX_COMPARATORS:
            raise _bad(expression, f"more than {_MAX_COMPARATORS} comparators")
        pos += 1
        while text.startswith(" ", pos):
            pos += 1


def _pre(version: Key) -> tuple[bool, tuple[tuple[int, int, str], ...]]:
    return version.final, version.prerelease


def _exact(c: _Comparator, v: Key) -> bool:
    return (
        v.major == c.major
        and (c.minor is None or v.minor == c.minor)
        and (c.patch is None or v.patch == c.patch)
        and _pre(v) == c.pre
    )


def _greater(c: _Comparator, v: Key) -> bool:
    if v.major != c.major:
        return v.major > c.major
    if c.minor is None:
        return False
    if v.minor != c.minor:
        return v.minor > c.minor
    if c.patch is None:
        return False
    if v.patch != c.patch:
        return v.patch > c.patch
    return _pre(v) > c.pre


def _less(c: _Comparator, v: Key) -> bool:
    if v.major != c.major:
        return v.major < c.major
    if c.minor is None:
        return False
    if v.minor != c.minor:
        return v.minor < c.minor
    if c.patch is None:
        return False
    if v.patch != c.patch:
        return v.patch < c.patch
    return _pre(v) < c.pre


def _tilde(c: _Comparator, v: Key) -> bool:
    if v.major != c.major:
        return False
    if c.minor is not None and v.minor != c.minor:
        return False
    if c.patch is not None and v.patch != c.patch:
        return v.patch > c.patch
    return _pre(v) >= c.pre


def _caret(c: _Comparator, v: Key) -> bool:
    if v.major != c.major:
        return False
    if c.minor is None:
        return True
    if c.patch is None:
        return v.minor >= c.minor if c.major > 0 else v.minor == c.minor
    if c.major > 0:
        if v.minor != c.minor:
            return v.minor > c.minor
        if v.patch != c.patch:
            return v.patch > c.patch
    elif c.minor > 0:
        if v.minor != c.minor:
            return False
        if v.patch != c.patch:
            return v.patch > c.patch
    elif v.minor != c.minor or v.patch != c.patch:
        return False
    return _pre(v) >= c.pre


def _matches(c: _Comparator, v: Key) -> bool:
    op = c.op
    if op in ("=", "*"):
        return _exact(c, v)
    if op == ">":
        return _greater(c, v)
    if op == ">=":
        return _exact(c, v) or _greater(c, v)
    if op == "<":
        return _less(c, v)
    if op == "<=":
        return _exact(c, v) or _less(c, v)
    if op == "~":
        return _tilde(c, v)
    return _caret(c, v)


def satisfies(version: str, expression: str) -> bool:
    """Whether a crate version meets a Cargo requirement (">= 1.2.3, < 2", "^0.9.4", "*")."""
    v = parse(version)
    comparators = _parse_requirement(expression)
    if not all(_matches(c, v) for c in comparators):
        return False
    if v.final:
        return True
    return any(
        c.minor == v.minor and c.patch == v.patch and c.major == v.major and not c.pre[0]
        for c in comparators
    )
