"""RubyGems versions (Gem::Version) and requirements (Gem::Requirement) like "~> 5.2.4, >= 5.2.4.3".

Written here because no Python package implements Gem::Version; the ruby-advisory-db's
patched_versions and unaffected_versions are lists of such requirements. A comma-separated
requirement is an AND, as bundler-audit reads it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion

__all__ = ["compare", "is_prerelease", "parse", "satisfies"]

# Caps for text from strangers: real gem versions and requirements are far shorter.
MAX_VERSION_LENGTH = 256
MAX_REQUIREMENT_LENGTH = 4096

_SPACE = "[ \\t\\r\\n\\f\\v]*"  # Ruby's \s
_VERSION_PATTERN = r"[0-9]+(?>\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
_VERSION = re.compile(f"{_SPACE}({_VERSION_PATTERN}){_SPACE}")
_REQUIREMENT = re.compile(f"{_SPACE}(=|!=|>|<|>=|<=|~>)?{_SPACE}({_VERSION_PATTERN}){_SPACE}")
_NUMERIC = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_SEGMENTS = re.compile(r"[0-9]+|[a-zA-Z]+")

# Missing segments count as 0 and a string sorts below any number. The key is one flat tuple of
# tagged segments; _END, where a version has run out, sits where 0 would: above a 0 that is
# followed by a string (_ZERO_BELOW) and below a 0 that is followed by a number (a _NUMBER).
_STRING, _ZERO_BELOW, _END, _NUMBER = 1, 2, 3, 5

Key = tuple[int | str, ...]


def _segments(version: str) -> list[int | str]:
    """Gem::Version#segments of a stripped version, "-" read as ".pre." as RubyGems does."""
    return [
        int(s) if s[0].isdigit() else s for s in _SEGMENTS.findall(version.replace("-", ".pre."))
    ]


def _canonical_key(segments: list[int | str]) -> Key:
    """The key of Gem::Version#canonical_segments: trailing zeros dropped from the numeric part
    and from the string part (everything from the first string on)."""
    first = len(segments)
    for index, segment in enumerate(segments):
        if isinstance(segment, str):
            first = index
            break
    numeric, strings = segments[:first], segments[first:]
    while numeric and numeric[-1] == 0:
        numeric.pop()
    while strings and strings[-1] == 0:
        strings.pop()
    backwards: list[int | str] = [_END]
    zero = _NUMBER  # a 0 takes the side of the next segment that is not 0
    for segment in reversed(numeric + strings):
        if isinstance(segment, str):
            backwards += (segment, _STRING)
            zero = _ZERO_BELOW
        elif segment:
            backwards += (segment, _NUMBER)
            zero = _NUMBER
        else:
            backwards += (0, zero)
    backwards.reverse()
    return tuple(backwards)


def _numeric_key(numbers: list[int]) -> Key:
    while numbers and not numbers[-1]:
        numbers.pop()
    key: list[int | str] = [_NUMBER, 0] * len(numbers)
    key[1::2] = numbers
    key.append(_END)
    return tuple(key)


def _stripped(version: str) -> str:
    if not isinstance(version, str) or not version or len(version) > MAX_VERSION_LENGTH:
        raise InvalidVersion(f"not a RubyGems version: {str(version)[:80]!r}")
    match = _VERSION.fullmatch(version)
    if match is None:
        raise InvalidVersion(f"malformed RubyGems version: {version!r}")
    return match.group(1)


@lru_cache(maxsize=16384)
def parse(version: str) -> Key:
    """A sort key ordering versions as Gem::Version#<=>: 1.0 == 1.0.0, 1.0.a < 1.0 < 1.0.1."""
    if (
        isinstance(version, str)
        and len(version) <= MAX_VERSION_LENGTH
        and _NUMERIC.fullmatch(version)
    ):
        return _numeric_key(list(map(int, version.split("."))))
    return _canonical_key(_segments(_stripped(version)))


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as gem version a sorts before, with or after b."""
    ka, kb = parse(a), parse(b)
    return (ka > kb) - (ka < kb)


def is_prerelease(version: str) -> bool:
    """Gem::Version#prerelease?: any letter (or a "-", read as ".pre.")."""
    stripped = _stripped(version)
    return "-" in stripped or any(c.isalpha() for c in stripped)


def _release(version: str) -> Key:
    """The key of Gem::Version#release: the segments before the first string."""
    numbers: list[int] = []
    for segment in _segments(version):
        if isinstance(segment, str):
            break
        numbers.append(segment)
    return _numeric_key(numbers)


def _bump(version: str) -> Key:
    """The key of Gem::Version#bump: "2.2.1" -> "2.3", "2.2" -> "3", "3.1.0.rc5" -> "3.2"."""
    numbers: list[int] = []
    for segment in _segments(version):
        if isinstance(segment, str):
            break
        numbers.append(segment)
    if len(numbers) > 1:
        numbers.pop()
    numbers[-1] += 1
    return _numeric_key(numbers)


@lru_cache(maxsize=4096)
def _requirement(expression: str) -> tuple[tuple[str, Key, Key | None], ...]:
    """Parsed (operator, version key, "~>" upper bound key) for each comma-separated part."""
    if not isinstance(expression, str) or len(expression) > MAX_REQUIREMENT_LENGTH:
        raise InvalidConstraint(f"not a RubyGems requirement: {str(expression)[:80]!r}")
    parts: list[tuple[str, Key, Key | None]] = []
    for part in expression.split(","):
        match = _REQUIREMENT.fullmatch(part)
        if match is None:
            raise InvalidConstraint(f"bad RubyGems requirement {part.strip()!r} in {expression!r}")
        operator, version = match.group(1) or "=", match.group(2)
        upper = _bump(version) if operator == "~>" else None
        parts.append((operator, parse(version), upper))
    return tuple(parts)


def satisfies(version: str, expression: str) -> bool:
    """Gem::Requirement#satisfied_by?: every comma-separated part holds.

    "~> 2.2.1" means >= 2.2.1 and a release below 2.3; "~> 2.2" means >= 2.2 and below 3.
    """
    key = parse(version)
    release: Key | None = None
    for operator, bound, upper in _requirement(expression):
        if operator == "=":
            ok = key == bound
        elif operator == "!=":
            ok = key != bound
        elif operator == ">":
            ok = key > bound
        elif operator == "<":
            ok = key < bound
        elif operator == ">=":
            ok = key >= bound
        elif operator == "<=":
            ok = key <= bound
        else:  # "~>": Ruby compares the release of a prerelease with the bumped bound
            if release is None:
                release = _release(_stripped(version))
            ok = key >= bound and upper is not None and release < upper
        if not ok:
            return False
    return True
