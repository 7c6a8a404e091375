"""Alpine package versions ordered as apk-tools orders them (its current token grammar).

Written here rather than taken from a library: nothing on PyPI implements apk's order, and the
matcher wants a key built once per version (a tuple compared in C). The grammar and the order
are apk-tools' `version.c`, restated:

    digits {.digits} [letter] {_suffix[digits]} [~hexhash] [-rdigits]

Suffixes order _alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p. Tokens are
compared in turn: a digit run after a '.' compares as text when either side has a leading zero
(Gentoo's rule), as a number otherwise; the hash compares as text. Where one version runs out of
tokens or has a different kind of token next, a pre-release suffix is lower than anything, and
otherwise the token kind that comes later in the grammar is the lower one (so 1.2 < 1.2.1,
1.2a < 1.2.1, 1.2 < 1.2_p1 < 1.2a, 1.2 < 1.2-r1). Versions apk-tools calls invalid (an unknown
suffix, a letter after a letter, '-' not followed by 'r' and digits ...) raise InvalidVersion, as
do text over MAX_LENGTH characters. Numbers are compared exactly, without apk's 64-bit limit.
"""

from __future__ import annotations

import re
from typing import TypeAlias

from kubeward.vulndb.versions import InvalidVersion

__all__ = ["MAX_LENGTH", "Key", "compare", "parse"]

MAX_LENGTH = 1024
"""Longest accepted version: real ones stay under 100 characters, this bounds the work."""

Key: TypeAlias = tuple[int | str | tuple[int, int | str], ...]
"""Alternating (rank, value) elements ending with the end rank: compares with < and == exactly
as apk-tools orders the versions."""

_VERSION = re.compile(
    r"(?P<digits>[0-9]+(?:\.[0-9]+)*)"
    r"(?P<letter>[a-z])?"
    r"(?P<suffixes>(?:_[a-z]+[0-9]*)*)"
    r"(?:~(?P<hash>[0-9a-f]+))?"
    r"(?:-r(?P<revision>[0-9]+))?"
)
_SUFFIX = re.compile(r"_([a-z]+)([0-9]*)")

# Rank of a token where two versions differ in kind or one has ended: apk-tools treats a
# pre-release suffix as lowest, and otherwise the kind later in the grammar as lower.
_PRE_SUFFIX = 0
_END = 1
_REVISION = 2
_HASH = 3
_SUFFIX_NUMBER = 4
_POST_SUFFIX = 5
_LETTER = 6
_DIGITS = 7
_INITIAL_DIGITS = 8

# apk-tools' suffix values; "none" (5) sits between pre- and post-release.
_SUFFIX_NONE = 5
_SUFFIX_VALUES = {
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "rc": 4,
    "cvs": 6,
    "svn": 7,
    "git": 8,
    "hg": 9,
    "p": 10,
}


def parse(version: str) -> Key:
    """The sort key of an Alpine version; raises InvalidVersion where apk-tools calls it invalid."""
    if not isinstance(version, str):
        raise InvalidVersion(f"not a version string: {type(version).__name__}")
    if len(version) > MAX_LENGTH:
        raise InvalidVersion(f"version longer than {MAX_LENGTH} characters")
    match = _VERSION.fullmatch(version)
    if match is None:
        if not version:
            raise InvalidVersion("version string is empty")
        raise InvalidVersion(f"not an Alpine version: {version!r}")
    out: list[int | str | tuple[int, int | str]] = []
    first, *rest = match["digits"].split(".")
    out += (_INITIAL_DIGITS, int(first))
    for digits in rest:
        # Gentoo's rule: a leading zero means "compare as text"; such runs sort below any
        # run without one ('0' is the lowest digit), so the pair below keeps that total.
        out += (_DIGITS, (0, digits) if digits[0] == "0" else (1, int(digits)))
    letter = match["letter"]
    if letter is not None:
        out += (_LETTER, letter)
    for name, number in _SUFFIX.findall(match["suffixes"]):
        value = _SUFFIX_VALUES.get(name)
        if value is None:
            raise InvalidVersion(f"unknown suffix _{name} in Alpine version: {version!r}")
        out += (_PRE_SUFFIX if value < _SUFFIX_NONE else _POST_SUFFIX, value)
        if number:
            out += (_SUFFIX_NUMBER, int(number))
    commit_hash = match["hash"]
    if commit_hash is not None:
        out += (_HASH, commit_hash)
    revision = match["revision"]
    if revision is not None:
        out += (_REVISION, int(revision))
    out += (_END, 0)
    return tuple(out)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `apk version -t a b` says <, = or >; raises InvalidVersion."""
    key_a = parse(a)
    key_b = parse(b)
    return (key_a > key_b) - (key_a < key_b)
