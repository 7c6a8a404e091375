"""Maven versions (ComparableVersion of maven-artifact 3.8) and version ranges like "[1.0,2.0)".

Written here because no Python package implements Maven's ordering. Maven's pairwise compare is
not transitive for a few odd shapes ("1.sp.1" > "1" > "1-alpha" > "1.sp.1"); our key places the
empty "null" item consistently, so it agrees with Maven on every pair except such cycles.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion

__all__ = ["compare", "parse", "satisfies"]

# Caps for text from strangers: real Maven versions and ranges are far shorter.
MAX_VERSION_LENGTH = 256
MAX_RANGE_LENGTH = 8192

# Well-known qualifiers in ComparableVersion order; "" is the release itself.
_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_QUALIFIER_RANK = {q: i for i, q in enumerate(_QUALIFIERS)}
_RELEASE_RANK = _QUALIFIER_RANK[""]
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}

# The key is one flat tuple: each item is a tag, then its value. A tag says how the item compares
# with "nothing" (below, or above) and then its type (string < list < number), so that _END, a
# list that has ended, sorts between the items below nothing and those above it, as in Maven.
_STR_BELOW, _LIST_BELOW, _INT_BELOW = 1, 2, 3
_END = 4
_STR_ABOVE, _LIST_ABOVE, _INT_ABOVE = 9, 10, 11
_UNKNOWN_RANK = len(_QUALIFIERS)

_NUMERIC = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_COMMON = re.compile(r"([0-9]+(?:\.[0-9]+)*)([-.]?)([a-zA-Z]+)(?:(-?)([0-9]+))?")
_RUNS = re.compile(r"[.\-]|\d+|[^\d.\-]+")
_BAD = re.compile(r"[\s\x00-\x1f\x7f]")

Atom = int | str
Key = tuple[int | str, ...]


def _levels(version: str) -> list[list[Atom]]:
    """ComparableVersion.parseVersion, normalized, as levels.

    Maven's item tree is a chain: each list holds numbers and qualifiers, and at most one
    sub-list, always last. Level k is the atoms of the k-th list down the chain.
    """
    levels: list[list[Atom]] = [[]]
    current = levels[0]
    pending: str | None = None  # the run of digits or letters being read
    digits = False
    for run in _RUNS.findall(version.lower()):
        if run == "." or run == "-":  # noqa: PLR1714 - faster than a set for one char
            if pending is None:
                current.append(0)
            elif digits:
                current.append(int(pending))
            else:
                current.append(_ALIASES.get(pending, pending))
            pending = None
            if run == "-":
                current = []
                levels.append(current)
        elif run[0].isdecimal():
            if pending is not None:  # letters then digits: "rc1" is rc, then a sub-list
                if current:
                    current = []
                    levels.append(current)
                if len(pending) == 1:
                    pending = _SHORT.get(pending, pending)
                current.append(_ALIASES.get(pending, pending))
                current = []
                levels.append(current)
            pending, digits = run, True
        else:
            if pending is not None:  # digits then letters: a number, then a sub-list
                current.append(int(pending))
                current = []
                levels.append(current)
            pending, digits = run, False
    if pending is not None:
        if digits:
            current.append(int(pending))
        else:
            if current:
                levels.append([])
            levels[-1].append(_ALIASES.get(pending, pending))
    # Normalize from the innermost list out: trailing 0 and "" go, then lists left empty.
    for atoms in levels:
        while atoms and (atoms[-1] == 0 or atoms[-1] == ""):
            atoms.pop()
    while len(levels) > 1 and not levels[-1]:
        levels.pop()
    return levels


def _common_levels(match: re.Match[str]) -> list[list[Atom]]:
    """The levels of "1.2.3-SNAPSHOT", "1.0.Final", "2.0-M1", "1.0-beta-2", without the loop."""
    head, sep, letters, dash, number = match.groups()
    numbers: list[Atom] = [int(part) for part in head.split(".")]
    letters = letters.lower()
    if number is None:
        levels = [numbers, [_ALIASES.get(letters, letters)]]
    elif not dash:  # letters then digits: a1 is alpha-1
        if len(letters) == 1:
            letters = _SHORT.get(letters, letters)
        levels = [numbers, [_ALIASES.get(letters, letters)], [int(number)]]
    elif sep == ".":  # "1.0.alpha-1": the qualifier stays in the top list
        levels = [[*numbers, _ALIASES.get(letters, letters)], [int(number)]]
    else:
        levels = [numbers, [_ALIASES.get(letters, letters)], [int(number)]]
    for atoms in levels:
        while atoms and (atoms[-1] == 0 or atoms[-1] == ""):
            atoms.pop()
    while len(levels) > 1 and not levels[-1]:
        levels.pop()
    return levels


def _qualifier(text: str) -> tuple[int, tuple[int | str, ...]]:
    """A lone qualifier's sign against nothing and its tagged value; "" is not handled."""
    rank = _QUALIFIER_RANK.get(text)
    if rank is None:
        return 1, (_STR_ABOVE, _UNKNOWN_RANK, text)
    if rank < _RELEASE_RANK:
        return -1, (_STR_BELOW, rank)
    return 1, (_STR_ABOVE, rank)


def _common_key(match: re.Match[str]) -> Key | None:
    """The key of "1.2.3-SNAPSHOT", "2.0-M1" or "1.0-beta-2" straight away, else None.

    Only shapes where the qualifier is the first item of its own list and is not the release
    ("" from ga/final); the rest go through _common_levels and _encode.
    """
    head, sep, letters, dash, number = match.groups()
    if dash and sep == ".":
        return None
    letters = letters.lower()
    if number is not None and not dash and len(letters) == 1:
        letters = _SHORT.get(letters, letters)
    letters = _ALIASES.get(letters, letters)
    if not letters:
        return None
    key = list(_numeric_key(head))
    key.pop()  # its _END: the qualifier's list comes first
    sign, value = _qualifier(letters)
    key.append(_LIST_ABOVE if sign > 0 else _LIST_BELOW)
    key += value
    ends = 2
    if number is not None and int(number):
        key += (_LIST_ABOVE, _INT_ABOVE, int(number))
        ends = 3
    key += (_END,) * ends
    return tuple(key)


def _encode(levels: list[list[Atom]]) -> Key:
    backwards: list[list[int | str]] = []  # each level's key, back to front, innermost first
    signs: list[int] = []
    rest = 0  # how what follows compares with nothing: -1, 0 or 1
    for atoms in reversed(levels):
        level: list[int | str] = []
        for atom in reversed(atoms):
            if isinstance(atom, int):
                if atom:
                    level += (atom, _INT_ABOVE)
                    rest = 1
                else:  # 0 equals nothing: Maven looks further, so it takes what follows
                    level += (0, _INT_ABOVE if rest > 0 else _INT_BELOW)
            else:
                rank = _QUALIFIER_RANK.get(atom)
                if rank is None:
                    level += (atom, _UNKNOWN_RANK, _STR_ABOVE)
                    rest = 1
                elif rank < _RELEASE_RANK:
                    level += (rank, _STR_BELOW)
                    rest = -1
                elif rank > _RELEASE_RANK:
                    level += (rank, _STR_ABOVE)
                    rest = 1
                else:
                    level += (rank, _STR_ABOVE if rest > 0 else _STR_BELOW)
        backwards.append(level)
        signs.append(rest)
    key: list[int | str] = []
    depth = len(levels)
    for index in range(depth - 1, -1, -1):
        if index != depth - 1:  # a sub-list is an item of its parent: its tag first
            key.append(_LIST_ABOVE if signs[index] > 0 else _LIST_BELOW)
        key += reversed(backwards[index])
    key += (_END,) * depth
    return tuple(key)


def _numeric_key(version: str) -> Key:
    numbers = list(map(int, version.split(".")))
    while numbers and not numbers[-1]:
        numbers.pop()
    key: list[int | str] = [_INT_ABOVE, 0] * len(numbers)
    key[1::2] = numbers
    key.append(_END)
    return tuple(key)


@lru_cache(maxsize=16384)
def parse(version: str) -> Key:
    """A sort key ordering Maven versions as ComparableVersion does: 1.0 == 1-ga < 1-sp1."""
    if not isinstance(version, str) or not version or len(version) > MAX_VERSION_LENGTH:
        raise InvalidVersion(f"not a Maven version: {str(version)[:80]!r}")
    if _NUMERIC.fullmatch(version):
        return _numeric_key(version)
    if _BAD.search(version):
        raise InvalidVersion(f"not a Maven version: {version!r}")
    common = _COMMON.fullmatch(version)
    if common is None:
        return _encode(_levels(version))
    return _common_key(common) or _encode(_common_levels(common))


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Maven version a sorts before, with or after b."""
    ka, kb = parse(a), parse(b)
    return (ka > kb) - (ka < kb)


class _Restriction:
    __slots__ = ("lower", "lower_inclusive", "upper", "upper_inclusive")

    def __init__(
        self, lower: Key | None, lower_inclusive: bool, upper: Key | None, upper_inclusive: bool
    ) -> None:
        self.lower = lower
        self.lower_inclusive = lower_inclusive
        self.upper = upper
        self.upper_inclusive = upper_inclusive

    def contains(self, key: Key) -> bool:
        lower, upper = self.lower, self.upper
        if lower is not None and (key < lower or (key == lower and not self.lower_inclusive)):
            return False
        return not (
            upper is not None and (key > upper or (key == upper and not self.upper_inclusive))
        )


def _bound(text: str, spec: str) -> Key:
    try:
        return parse(text)
    except InvalidVersion as exc:
        raise InvalidConstraint(f"bad version {text!r} in Maven range {spec!r}") from exc


def _parse_restriction(text: str, spec: str) -> _Restriction:
    lower_inclusive = text.startswith("[")
    upper_inclusive = text.endswith("]")
    inner = text[1:-1].strip()
    if "," not in inner:
        if not (lower_inclusive and upper_inclusive):
            raise InvalidConstraint(f"single version must be surrounded by []: {spec!r}")
        key = _bound(inner, spec)
        return _Restriction(key, True, key, True)
    low_text, _, high_text = inner.partition(",")
    low_text, high_text = low_text.strip(), high_text.strip()
    low = _bound(low_text, spec) if low_text else None
    high = _bound(high_text, spec) if high_text else None
    if (
        low is not None
        and high is not None
        and (high < low or (high == low and not (lower_inclusive and upper_inclusive)))
    ):
        raise InvalidConstraint(f"range defies version ordering: {spec!r}")
    return _Restriction(low, lower_inclusive, high, upper_inclusive)


@lru_cache(maxsize=4096)
def _parse_range(spec: str) -> tuple[_Restriction, ...] | None:
    """VersionRange.createFromVersionSpec: None for a bare (soft) version, which allows any."""
    if not spec or not spec.strip() or len(spec) > MAX_RANGE_LENGTH:
        raise InvalidConstraint(f"not a Maven version range: {spec[:80]!r}")
    restrictions: list[_Restriction] = []
    process = spec.strip()
    upper: Key | None = None
    while process.startswith(("[", "(")):
        close_paren, close_bracket = process.find(")"), process.find("]")
        index = close_bracket
        if (close_bracket < 0 or close_paren < close_bracket) and close_paren >= 0:
            index = close_paren
        if index < 0:
            raise InvalidConstraint(f"unbounded Maven range: {spec!r}")
        restriction = _parse_restriction(process[: index + 1], spec)
        # Maven only checks overlap against a previous set that had an upper bound.
        if upper is not None and (restriction.lower is None or restriction.lower < upper):
            raise InvalidConstraint(f"Maven ranges overlap: {spec!r}")
        restrictions.append(restriction)
        upper = restriction.upper
        process = process[index + 1 :].strip()
        if process.startswith(","):
            process = process[1:].strip()
    if process:
        if restrictions:
            raise InvalidConstraint(f"only fully-qualified sets allowed in a union: {spec!r}")
        _bound(process, spec)
        return None
    return tuple(restrictions)


def satisfies(version: str, expression: str) -> bool:
    """Whether a version lies in a Maven range; a bare version ("1.0") is a soft pin: any."""
    key = parse(version)
    restrictions = _parse_range(expression)
    if restrictions is None:
        return True
    return any(r.contains(key) for r in restrictions)
