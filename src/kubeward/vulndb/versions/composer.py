"""Composer versions and constraints, as composer/semver normalizes, orders and matches them.

Written here because no Python package reads Composer constraints. A version is normalized
("v1.2" -> "1.2.0.0", "2.x-dev" -> "2.9999999.9999999.9999999-dev") and then ordered as PHP's
version_compare() orders normalized versions. Branches ("dev-main") sort below every numbered
version and match only themselves ("== dev-main", "!= ...", "*"), as in Composer.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion

__all__ = ["compare", "normalize", "parse", "satisfies"]

# Caps for text from strangers: real Composer versions and constraints are far shorter.
MAX_VERSION_LENGTH = 256
MAX_CONSTRAINT_LENGTH = 4096

_I = re.IGNORECASE | re.ASCII
_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_STABILITIES = "stable|RC|beta|alpha|dev"
_ALIAS = re.compile(r"([^,\s]++) ++as ++([^,\s]++)", re.ASCII)
_FLAG = re.compile(f"@(?:{_STABILITIES})$", _I)
_BUILD = re.compile(r"([^,\s+]++)\+[^\s]++", re.ASCII)
_CLASSICAL = re.compile(r"v?(\d{1,5})(\.\d++)?(\.\d++)?(\.\d++)?" + _MODIFIER, _I)
_DATETIME = re.compile(r"v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)" + _MODIFIER, _I)
_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev", _I)
_BRANCH = re.compile(r"v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?", _I)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TRIM = " \t\n\r\0\x0b"  # PHP's trim()
_EXPANDED = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}

_OR = re.compile(r"\s*\|\|?\s*", re.ASCII)
_AND = re.compile(r"(?<!^)(?<!as)(?<![=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|$)", re.ASCII)
_CONSTRAINT_ALIAS = re.compile(r"([^,\s]++) ++as ++([^,\s]++)", re.ASCII)
_CONSTRAINT_FLAG = re.compile(f"([^,\\s]*?)@({_STABILITIES})", _I)
_REF = re.compile(r"(dev-[^,\s@]+?|[^,\s@]+?\.x-dev)#.+", _I)
_ANY = re.compile(r"(v)?[xX*](\.[xX*])*", _I)
_VERSION_RE = (
    r"v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.(\d++))?"
    rf"(?:{_MODIFIER}|\.([xX*][.-]?dev))(?:\+[^\s]+)?"
)
_TILDE = re.compile(f"~>?{_VERSION_RE}", _I)
_CARET = re.compile(f"\\^{_VERSION_RE}", _I)
_WILDCARD = re.compile(r"v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.[xX*])++", re.ASCII)
_HYPHEN = re.compile(f"(?P<from>{_VERSION_RE}) +- +(?P<to>{_VERSION_RE})", _I)
_BASIC = re.compile(r"(<>|!=|>=?|<=?|==?)?\s*(.*)", re.ASCII)
_HAS_MODIFIER = re.compile(f"-{_MODIFIER}$", re.ASCII)
_STABILITY = re.compile(_MODIFIER + r"(?:\+.*)?$", _I)
_BRANCH_NAME = re.compile(r"[0-9a-zA-Z-./]+")

# version_compare() on normalized versions: tokens are numbers or words, words ordered by
# prefix (dev < alpha = a < beta = b < RC = rc < number < pl = p), anything else below dev.
# A version that has run out (_END) sorts above RC and below any number, even 0.
_SPECIAL: tuple[tuple[str, int], ...] = (
    ("dev", 1), ("alpha", 2), ("a", 2), ("beta", 3), ("b", 3), ("RC", 4), ("rc", 4),
    ("pl", 7), ("p", 7),
)  # fmt: skip
_UNKNOWN, _END, _NUMBER, _BRANCH_TAG = 0, 5, 6, -1
_LONG_MAX = 2**63 - 1  # strtol() saturates
_TOKENS = re.compile(r"[0-9]+|[a-zA-Z]+")
_NUMERIC = re.compile(r"[vV]?[0-9]+(?:\.[0-9]+){0,3}")

Key = tuple[int | str, ...]


@lru_cache(maxsize=256)
def _word_order(word: str) -> int:
    for prefix, order in _SPECIAL:
        if word.startswith(prefix):
            return order
    return _UNKNOWN


def _invalid(version: str) -> InvalidVersion:
    return InvalidVersion(f"not a Composer version: {version[:80]!r}")


def normalize(version: str) -> str:
    """VersionParser::normalize: "v1.2-beta.1" -> "1.2.0.0-beta1"; raises InvalidVersion."""
    if not isinstance(version, str) or len(version) > MAX_VERSION_LENGTH:
        raise InvalidVersion(f"not a Composer version: {str(version)[:80]!r}")
    version = version.strip(_TRIM)
    original = version
    if _CONTROL.search(version):
        raise _invalid(original)
    if match := _ALIAS.fullmatch(version):
        version = match.group(1)
    if match := _FLAG.search(version):
        version = version[: match.start()]
    if version in ("master", "trunk", "default"):
        version = "dev-" + version
    if version[:4].lower() == "dev-":
        return "dev-" + version[4:]
    if match := _BUILD.fullmatch(version):
        version = match.group(1)
    if match := _CLASSICAL.fullmatch(version):
        major, minor, patch, extra = match.group(1, 2, 3, 4)
        version = major + (minor or ".0") + (patch or ".0") + (extra or ".0")
        stability, number, dev = match.group(5, 6, 7)
    elif match := _DATETIME.fullmatch(version):
        version = re.sub(r"\D", ".", match.group(1), flags=re.ASCII)
        stability, number, dev = match.group(2, 3, 4)
    else:
        if match := _DEV_SUFFIX.fullmatch(version):
            branch = _normalize_branch(match.group(1))
            if "dev-" not in branch:
                return branch
        raise _invalid(original)
    if stability:
        if stability == "stable":
            return version
        lowered = stability.lower()
        version += "-" + _EXPANDED.get(lowered, lowered) + (number or "").lstrip(".-")
    if dev:
        version += "-dev"
    return version


def _normalize_branch(name: str) -> str:
    name = name.strip(_TRIM)
    match = _BRANCH.fullmatch(name)
    if match is None:
        return "dev-" + name
    parts = [match.group(1)] + [
        (g or ".x").replace("*", "x").replace("X", "x") for g in match.group(2, 3, 4)
    ]
    return "".join(parts).replace("x", "9999999") + "-dev"


def _key(normalized: str) -> Key:
    if normalized.startswith("dev-"):
        return (_BRANCH_TAG, normalized)
    # A normalized version is dotted numbers, then maybe "-" and stability words and numbers.
    head, _, tail = normalized.partition("-")
    key: list[int | str] = []
    for number in head.split("."):
        key += (_NUMBER, min(int(number), _LONG_MAX))
    for token in _TOKENS.findall(tail):
        if token[0].isdigit():
            key += (_NUMBER, min(int(token), _LONG_MAX))
        else:
            key.append(_word_order(token))
    key.append(_END)
    return tuple(key)


@lru_cache(maxsize=16384)
def parse(version: str) -> Key:
    """A sort key: Composer's normalization, then version_compare() order."""
    if isinstance(version, str) and len(version) < 64 and _NUMERIC.fullmatch(version):
        numbers = version.lstrip("vV").split(".")
        if len(numbers[0]) <= 5:  # else a date version, which is not padded to four parts
            key: list[int | str] = []
            for number in numbers:
                key += (_NUMBER, min(int(number), _LONG_MAX))
            key += (_NUMBER, 0) * (4 - len(numbers))
            key.append(_END)
            return tuple(key)
    return _key(normalize(version))


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Composer version a sorts before, with or after b."""
    ka, kb = parse(a), parse(b)
    return (ka > kb) - (ka < kb)


# --- constraints -------------------------------------------------------------------------------

_MATCH_ALL = ("*", "", ())
_OPERATORS = {"=": "==", "==": "==", "<>": "!=", "!=": "!=", "<": "<", "<=": "<="}
_OPERATORS |= {">": ">", ">=": ">="}
Constraint = tuple[str, str, Key]  # operator, normalized version, its key


def _constraint(operator: str, version: str) -> Constraint:
    return (_OPERATORS[operator], version, _key(version))


def _manipulate(parts: list[str | None], position: int, increment: int = 0) -> str:
    """VersionParser::manipulateVersionString for parts[1..4], padding with 0."""
    out: list[str] = ["", *(p or "" for p in parts[1:5])]
    for i in range(4, 0, -1):
        if i > position:
            out[i] = "0"
        elif i == position and increment:
            out[i] = str(int(out[i] or "0") + increment)
    return ".".join(out[1:5])


def _stability(version: str) -> str:
    version = re.sub(r"#.+$", "", version)
    if version.startswith("dev-") or version.endswith("-dev"):
        return "dev"
    match = _STABILITY.search(version.lower())
    if match is None:
        return "stable"
    if match.group(3):
        return "dev"
    word = match.group(1)
    return {"beta": "beta", "b": "beta", "alpha": "alpha", "a": "alpha", "rc": "RC"}.get(
        word or "", "stable"
    )


def _parse_constraint(text: str) -> list[Constraint]:
    if match := _CONSTRAINT_ALIAS.fullmatch(text):
        text = match.group(1)
    modifier = ""
    if match := _CONSTRAINT_FLAG.fullmatch(text):
        text = match.group(1) or "*"
        if match.group(2) != "stable":
            modifier = match.group(2)
    if match := _REF.fullmatch(text):
        text = match.group(1)
    if match := _ANY.fullmatch(text):
        if match.group(1) or match.group(2):
            return [_constraint(">=", "0.0.0.0-dev")]
        return [_MATCH_ALL]

    if match := _TILDE.fullmatch(text):
        if text.startswith("~>"):
            raise InvalidConstraint(f'invalid operator "~>" in {text!r}: Composer uses "~"')
        groups: list[str | None] = [None, *match.groups()]
        position = next((i for i in (4, 3, 2) if groups[i]), 1)
        if groups[8]:
            position += 1
        suffix = "" if groups[5] or groups[7] or groups[8] else "-dev"
        low = normalize(text[1:] + suffix)
        high = _manipulate(groups, max(1, position - 1), 1) + "-dev"
        return [_constraint(">=", low), _constraint("<", high)]

    if match := _CARET.fullmatch(text):
        groups = [None, *match.groups()]
        if groups[1] != "0" or not groups[2]:
            position = 1
        elif groups[2] != "0" or not groups[3]:
            position = 2
        else:
            position = 3
        suffix = "" if groups[5] or groups[7] or groups[8] else "-dev"
        low = normalize(text[1:] + suffix)
        high = _manipulate(groups, position, 1) + "-dev"
        return [_constraint(">=", low), _constraint("<", high)]

    if match := _WILDCARD.fullmatch(text):
        groups = [None, *match.groups(), None]
        position = next((i for i in (3, 2) if groups[i]), 1)
        low = _manipulate(groups, position) + "-dev"
        high = _manipulate(groups, position, 1) + "-dev"
        if low == "0.0.0.0-dev":
            return [_constraint("<", high)]
        return [_constraint(">=", low), _constraint("<", high)]

    if match := _HYPHEN.fullmatch(text):
        groups = [None, *match.groups()]
        low_suffix = "" if groups[6] or groups[8] or groups[9] else "-dev"
        low = normalize(match.group("from")) + low_suffix
        to = match.group("to")
        if (groups[12] and groups[13]) or groups[15] or groups[17] or groups[18]:
            return [_constraint(">=", low), _constraint("<=", normalize(to))]
        normalize(to)
        high_parts = [None, groups[11], groups[12], groups[13], groups[14]]
        high = _manipulate(high_parts, 2 if groups[12] else 1, 1) + "-dev"
        return [_constraint(">=", low), _constraint("<", high)]

    match = _BASIC.fullmatch(text)
    if match is None:
        raise InvalidConstraint(f"not a Composer constraint: {text!r}")
    operator, version_text = match.group(1) or "=", match.group(2)
    try:
        version = normalize(version_text)
    except InvalidVersion:
        # "foo-dev" is read as the branch dev-foo
        if not (version_text.endswith("-dev") and _BRANCH_NAME.fullmatch(version_text)):
            raise
        version = normalize("dev-" + version_text[:-4])
    if operator not in ("==", "=") and modifier and _stability(version) == "stable":
        version += "-" + modifier
    elif (
        operator in ("<", ">=")
        and not _HAS_MODIFIER.search(version_text.lower())
        and not version_text.startswith("dev-")
    ):
        # "<1.2" excludes 1.2's pre-releases and ">=1.2" includes them
        version += "-dev"
    return [_constraint(operator, version)]


@lru_cache(maxsize=4096)
def _parse_constraints(expression: str) -> tuple[tuple[Constraint, ...], ...]:
    """VersionParser::parseConstraints: OR groups of AND-ed constraints."""
    if not isinstance(expression, str) or len(expression) > MAX_CONSTRAINT_LENGTH:
        raise InvalidConstraint(f"not a Composer constraint: {str(expression)[:80]!r}")
    if _CONTROL.search(expression.strip(_TRIM)):
        raise InvalidConstraint(f"not a Composer constraint: {expression[:80]!r}")
    groups: list[tuple[Constraint, ...]] = []
    try:
        for alternative in _OR.split(expression.strip(_TRIM)):
            parts = _AND.split(alternative)
            groups.append(tuple(c for part in parts for c in _parse_constraint(part)))
    except InvalidVersion as exc:
        raise InvalidConstraint(f"not a Composer constraint: {expression[:80]!r}") from exc
    return tuple(groups)


def _matches(constraint: Constraint, version: str, key: Key) -> bool:
    """Constraint::matchSpecific against the provider "== version"."""
    operator, bound, bound_key = constraint
    if operator == "*":
        return True
    branches = version.startswith("dev-") or bound.startswith("dev-")
    if operator == "!=":
        return version != bound if branches else key != bound_key
    if operator == "==":
        if version.startswith("dev-") and bound.startswith("dev-"):
            return version == bound
        return not branches and key == bound_key
    if branches:  # dev branches never match a comparison
        return False
    if operator == "<":
        return key < bound_key
    if operator == "<=":
        return key <= bound_key
    if operator == ">":
        return key > bound_key
    return key >= bound_key


def satisfies(version: str, expression: str) -> bool:
    """Whether a version matches a Composer constraint such as ">=1.0,<1.2.3 || ^2.0"."""
    normalized = normalize(version)
    key = _key(normalized)
    return any(
        all(_matches(c, normalized, key) for c in group) for group in _parse_constraints(expression)
    )
