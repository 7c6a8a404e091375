"""Go module and Go toolchain (stdlib) versions, ordered as golang.org/x/mod/semver orders them.

Module versions are SemVer with Go's rules: "v1" and "v1.2" are short for v1.0.0 and v1.2.0,
and build metadata, including "+incompatible", is ignored, so v2.0.0+incompatible == v2.0.0
(x/mod's semver.Compare answers 0). Pseudo-versions (v0.0.0-20191109021931-daa7c04131f5,
v1.2.4-0.2019..., v1.2.3-pre.0.2019...) are ordinary pre-releases and sort as Go intends.
Unlike x/mod, the "v" is optional, because OSV's SEMVER ranges for Go write "1.2.3"; and Go
release names as kubeward reports the stdlib ("v1.21rc2", "v1.8beta1") mean 1.21.0-rc.2 and
1.8.0-beta.1, which is where OSV puts them ("1.21.0-rc.2" < "1.21.0"). Invalid text raises
InvalidVersion instead of sorting first as in x/mod.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kubeward.vulndb.versions import InvalidVersion
from kubeward.vulndb.versions.semver import Key, prerelease_key

__all__ = ["MAX_LENGTH", "Key", "compare", "parse"]

MAX_LENGTH = 1024  # far beyond any real version; keeps int() and the regex cheap

_NUM = r"0|[1-9][0-9]*"
_PRE_IDENT = r"0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*"
_MODULE = re.compile(
    rf"({_NUM})(?:\.({_NUM})(?:\.({_NUM})"
    rf"(?:-((?:{_PRE_IDENT})(?:\.(?:{_PRE_IDENT}))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?)?",
    re.ASCII,
)
# go1.21rc2, go1.8beta1: the only pre-release spellings the Go project has released
_RELEASE = re.compile(rf"({_NUM})\.({_NUM})(beta|rc)([1-9][0-9]*)", re.ASCII)


@lru_cache(maxsize=8192)
def parse(version: str) -> Key:
    """A Go module or toolchain version ("v1.2.3", "1.2.3", "v1.21rc2", "go1.21.5")."""
    if len(version) > MAX_LENGTH:
        raise InvalidVersion(f"not a Go version: {version[:80]!r}...")
    text = version
    if text.startswith("v"):
        text = text[1:]
    elif text.startswith("go"):
        text = text[2:]
    m = _MODULE.fullmatch(text)
    if m is not None:
        prerelease = m[4]
        return Key(
            int(m[1]), int(m[2] or 0), int(m[3] or 0), not prerelease, prerelease_key(prerelease)
        )
    m = _RELEASE.fullmatch(text)
    if m is not None:
        return Key(int(m[1]), int(m[2]), 0, False, ((1, 0, m[3]), (0, int(m[4]), "")))
    raise InvalidVersion(f"not a Go version: {version[:80]!r}")


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as x/mod's semver.Compare, for valid versions."""
    ka, kb = parse(a), parse(b)
    return (ka > kb) - (ka < kb)
