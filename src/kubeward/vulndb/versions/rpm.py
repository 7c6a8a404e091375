"""RPM versions ([epoch:]version[-release]) ordered as rpm's rpmvercmp and rpmverCmp order them.

Written here rather than taken from a library: the matcher sorts many versions and wants a key
built once per version (a tuple compared in C); rpm's own Python bindings come with the system
rpm, not from PyPI, and the pure Python ports compare pairwise. Tests cross-check rpm 4.18's
`rpm.vercmp`.

As rpm: segments are ASCII digit runs (numeric, leading zeros ignored) or letter runs, every other
character only separates; '~' sorts before everything, even the end; '^' sorts after the end but
before any further segment; a missing epoch is 0; a missing release sorts before any release.
Stricter than rpm, which compares any non-empty text: the epoch must be digits, version and
release must be non-empty and use only the characters rpmbuild allows (ASCII letters, digits
and "._+~^"), and at most MAX_LENGTH characters in all.
"""

from __future__ import annotations

import re
from typing import TypeAlias

from kubeward.vulndb.versions import InvalidVersion

__all__ = ["MAX_LENGTH", "Key", "compare", "parse"]

MAX_LENGTH = 1024
"""Longest accepted version: real ones stay under 100 characters, this bounds the work."""

Key: TypeAlias = tuple[int, str, str]
"""(epoch, version, release): compares with < and == exactly as rpm orders the versions.

The two strings are encodings (see `_part_key`), not the text itself: comparing them is one C
string comparison, which keeps sorting many versions fast. A missing release is ""."""

_EVR = re.compile(
    r"(?:(?P<epoch>[0-9]+):)?(?P<version>[A-Za-z0-9._+~^]+)(?:-(?P<release>[A-Za-z0-9._+~^]+))?"
)
_SEGMENT = re.compile(r"[0-9]+|[A-Za-z]+|[~^]")

# Segment classes in rpmvercmp's order at one position: '~' < end < '^' < letters < digits.
_TILDE = "\x00"
_END = "\x01"
_CARET = "\x02"
_ALPHA = "\x03"
_NUMBER = "\x04"
_END_ALPHA = "\x00"  # below every letter, so "abc" < "abcd" as in strcmp


def _part_key(text: str) -> str:
    """A string whose comparison is rpmvercmp on `text` (a version or a release).

    Each segment is encoded as its class, then for letters the letters and a terminator, for
    digits the length without leading zeros and then the digits (so longer numbers are larger);
    every encoding is prefix-free, so comparing the concatenations compares segment by segment,
    and the final end marker meets the other text's next segment as rpmvercmp's end does.
    """
    out: list[str] = []
    for segment in _SEGMENT.findall(text):
        first = segment[0]
        if first == "~":
            out.append(_TILDE)
        elif first == "^":
            out.append(_CARET)
        elif first.isdigit():
            digits = segment.lstrip("0")
            out += (_NUMBER, chr(len(digits)), digits)
        else:
            out += (_ALPHA, segment, _END_ALPHA)
    out.append(_END)
    return "".join(out)


def parse(version: str) -> Key:
    """The sort key of an RPM [epoch:]version[-release]; raises InvalidVersion."""
    if not isinstance(version, str):
        raise InvalidVersion(f"not a version string: {type(version).__name__}")
    if len(version) > MAX_LENGTH:
        raise InvalidVersion(f"version longer than {MAX_LENGTH} characters")
    match = _EVR.fullmatch(version)
    if match is None:
        if not version:
            raise InvalidVersion("version string is empty")
        raise InvalidVersion(f"not an RPM [epoch:]version[-release]: {version!r}")
    epoch, upstream, release = match.group("epoch", "version", "release")
    return (
        int(epoch) if epoch is not None else 0,
        _part_key(upstream),
        _part_key(release) if release is not None else "",
    )


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm's `rpm.vercmp(a, b)`; raises InvalidVersion."""
    key_a = parse(a)
    key_b = parse(b)
    return (key_a > key_b) - (key_a < key_b)
