"""Version schemes: one module per scheme, each with the same functions.

    parse(version: str) -> key        # a totally ordered key; raises InvalidVersion
    compare(a: str, b: str) -> int    # <0, 0, >0; raises InvalidVersion
    satisfies(version: str, expression: str) -> bool
        # only where the ecosystem has a requirement syntax that advisories use
        # (semver: npm ranges; rubygems: "~> 1.2, >= 1.2.3"; composer: ">=1.0,<1.2.3 || ^2.0";
        # cargo: Cargo requirements). Raises InvalidVersion / InvalidConstraint.

Modules are imported lazily through `scheme_for(ecosystem)`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from kubeward.errors import KubewardError


class InvalidVersion(KubewardError, ValueError):
    """The text is not a version of this scheme: the finding says "not comparable"."""


class InvalidConstraint(KubewardError, ValueError):
    """A requirement expression this scheme cannot read."""


# kubeward ecosystem key -> module under kubeward.vulndb.versions
SCHEMES: dict[str, str] = {
    "deb": "dpkg",
    "rpm": "rpm",
    "apk": "apk",
    "pypi": "pep440",
    "npm": "semver",
    "golang": "golang",
    "maven": "maven",
    "gem": "rubygems",
    "cargo": "cargo",
    "composer": "composer",
}


def scheme_for(ecosystem: str) -> ModuleType:
    """The version scheme module for an ecosystem key (KeyError if none)."""
    return importlib.import_module(f"{__name__}.{SCHEMES[ecosystem]}")
