"""Debian package versions ([epoch:]upstream[-revision]) ordered as dpkg orders them.

Written here rather than taken from a library: sorting advisories needs a key built once per
version (a tuple compared in C), not a pairwise compare function, and none on PyPI gives that.
The order is Debian policy 5.6.12 and dpkg's verrevcmp; tests cross-check `dpkg --compare-versions`.

Validation follows dpkg where dpkg refuses a version (empty epoch, epoch over INT_MAX, nothing
after the colon, empty revision, inner spaces), plus a few stricter rules for text that no
package carries: any whitespace or character outside policy's alphabet, a signed epoch, and
more than MAX_LENGTH characters. dpkg only warns about an upstream not starting with a digit,
and still orders it, so such versions are accepted and ordered the same way.
"""

from __future__ import annotations

import re
from typing import TypeAlias

from kubeward.vulndb.versions import InvalidVersion

__all__ = ["MAX_LENGTH", "Key", "compare", "parse"]

MAX_LENGTH = 1024
"""Longest accepted version: real ones stay under 100 characters, this bounds the work."""

_INT_MAX = 2**31 - 1  # dpkg stores the epoch in a C int

Key: TypeAlias = tuple[int, str, str]
"""(epoch, upstream, revision): compares with < and == exactly as dpkg orders the versions.

The two strings are encodings (see `_part_key`), not the text itself: comparing them is one C
string comparison, which keeps sorting many versions fast."""

_EPOCH = re.compile(r"[0-9]+")
_UPSTREAM = re.compile(r"[A-Za-z0-9.+~:-]+")  # policy's alphabet; ':' only after an epoch
_REVISION = re.compile(r"[A-Za-z0-9.+~]+")
_DIGITS = re.compile(r"([0-9]+)")

# dpkg's order(): '~' first, then the end of a non-digit run, then letters, then the rest.
_WEIGHTS = str.maketrans({"~": "\x00", ".": "\u012e", "+": "\u012b", "-": "\u012d", ":": "\u013a"})
_END_RUN = "\x01"
_END = "\x01\x00"  # the ("", 0) pair that dpkg pads the shorter version with


def _part_key(text: str) -> str:
    """A string whose comparison is dpkg's verrevcmp on `text` (an upstream or a revision).

    verrevcmp walks alternating (non-digit run, digit run) pairs, padding the shorter text with
    ("", 0) pairs. A run is encoded by its characters' weights (letters as themselves, '~'
    below the "\x01" that ends the run, the rest above), a digit run by its length without
    leading zeros and then its digits; both are prefix-free, so comparing the concatenation
    compares pair by pair. The first pair may legitimately be ("", 0) (text starting with "0"),
    so it is always kept; every later pair has a non-empty run except a trailing ("", 0),
    which is dropped. The encoding then ends with ("", 0) itself, so where one encoding runs
    out the other's next run meets dpkg's padding, as in dpkg.
    """
    pieces = _DIGITS.split(text)  # [run, digits, run, digits, ..., run]
    out: list[str] = []
    last = len(pieces) - 1
    for index in range(0, last, 2):
        digits = pieces[index + 1].lstrip("0")
        out += (pieces[index].translate(_WEIGHTS), _END_RUN, chr(len(digits)), digits)
    tail = pieces[last]
    if last == 0 or tail:
        out += (tail.translate(_WEIGHTS), _END)
    out.append(_END)
    return "".join(out)


def parse(version: str) -> Key:
    """The sort key of a Debian version; raises InvalidVersion where dpkg would refuse it."""
    if not isinstance(version, str):
        raise InvalidVersion(f"not a version string: {type(version).__name__}")
    if len(version) > MAX_LENGTH:
        raise InvalidVersion(f"version longer than {MAX_LENGTH} characters")
    if not version:
        raise InvalidVersion("version string is empty")
    epoch = 0
    epoch_text, colon, rest = version.partition(":")
    if colon:
        if _EPOCH.fullmatch(epoch_text) is None:
            # dpkg reads the epoch with strtol: no leading number at all is "empty" to it.
            empty = _EPOCH.match(epoch_text.lstrip("+-")) is None
            raise InvalidVersion(
                f"epoch in version is {'empty' if empty else 'not number'}: {version!r}"
            )
        epoch = int(epoch_text)
        if epoch > _INT_MAX:
            raise InvalidVersion(f"epoch in version is too big: {version!r}")
        if not rest:
            raise InvalidVersion(f"nothing after colon in version number: {version!r}")
    else:
        rest = version
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise InvalidVersion(f"revision number is empty: {version!r}")
    if not upstream:
        raise InvalidVersion(f"version number is empty: {version!r}")
    if _UPSTREAM.fullmatch(upstream) is None:
        raise InvalidVersion(_bad_character(version, "version number"))
    if revision and _REVISION.fullmatch(revision) is None:
        raise InvalidVersion(_bad_character(version, "revision number"))
    return (epoch, _part_key(upstream), _part_key(revision))


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `dpkg --compare-versions a lt/eq/gt b`; raises InvalidVersion."""
    key_a = parse(a)
    key_b = parse(b)
    return (key_a > key_b) - (key_a < key_b)


def _bad_character(version: str, where: str) -> str:
    """Why a version with a character outside policy's alphabet is refused, in dpkg's words."""
    if any(char.isspace() for char in version.strip()):
        return f"version string has embedded spaces: {version!r}"
    if any(char.isspace() for char in version):
        return f"version string has leading or trailing spaces: {version!r}"
    return f"invalid character in {where}: {version!r}"
