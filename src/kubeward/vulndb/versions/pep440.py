"""PEP 440 versions for PyPI packages, through `packaging`, the reference implementation pip uses.

The key is packaging's `Version` itself; this module only maps its errors onto ours and caps
the length of what it is asked to read.
"""

from __future__ import annotations

from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion

__all__ = ["MAX_LENGTH", "compare", "parse", "satisfies"]

MAX_LENGTH = 1024  # far beyond any real version; bounds the work on hostile text


@lru_cache(maxsize=8192)
def parse(version: str) -> Version:
    """A PEP 440 version ("1.0", "1!2.0rc1.post3.dev4+local.7"); normalizes like pip."""
    if len(version) <= MAX_LENGTH:
        try:
            return Version(version)
        except ValueError:  # packaging's InvalidVersion, or a number too long for int()
            pass
    raise InvalidVersion(f"not a PEP 440 version: {version[:80]!r}")


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 in PEP 440 order."""
    va, vb = parse(a), parse(b)
    return (va > vb) - (va < vb)


@lru_cache(maxsize=1024)
def _specifiers(expression: str) -> SpecifierSet:
    if len(expression) > MAX_LENGTH:
        raise InvalidConstraint(f"specifier longer than {MAX_LENGTH} characters")
    try:
        return SpecifierSet(expression)
    except InvalidSpecifier as exc:
        raise InvalidConstraint(f"not a PEP 440 specifier: {expression[:80]!r}") from exc


def satisfies(version: str, expression: str, *, include_prerelease: bool = True) -> bool:
    """Whether `version` meets a specifier set (">=1.0,<1.2.3", "~=2.2", "==1.4.*").

    Pre-releases match by default: pip's "no pre-releases unless asked" is a rule for picking
    what to install, while an advisory's question is whether the installed version is in range.
    """
    return _specifiers(expression).contains(parse(version), prereleases=include_prerelease)
