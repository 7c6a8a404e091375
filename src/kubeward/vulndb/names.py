"""Package names as advisories key them, per ecosystem, so one lookup finds them all."""

from __future__ import annotations

import re

_PEP503 = re.compile(r"[-_.]+")


def normalize(ecosystem: str, name: str) -> str:
    """The key under which advisories for `name` are stored and looked up."""
    name = name.strip()
    if ecosystem == "pypi":
        return _PEP503.sub("-", name).lower()  # PEP 503
    if ecosystem == "cargo":
        return name.lower().replace("_", "-")  # crates.io treats - and _ as one
    if ecosystem in ("npm", "composer"):
        return name.lower()
    return name  # Go module paths, Maven group:artifact, gems and OS packages are exact
