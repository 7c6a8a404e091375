"""Normalise declared licence strings to SPDX expressions (license-expression).

Packages declare licences in many dialects: SPDX (Alpine, newer Fedora), DEP-5 short names
("GPL-2+", "Expat", "GPL-1+ or Artistic"), legacy rpm tags ("GPLv2+ and LGPLv2+", "ASL 2.0").
license-expression validates and canonicalises SPDX; the small alias layer here rewrites the
other dialects into SPDX first. Anything that still is not valid SPDX is returned as declared,
so a licence is never invented. Called once per package, hence the cache.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# Whole-token aliases (lower case, single spaces) for names no pattern below derives.
# "BSD" and "Artistic" are ambiguous; we map them to what they mean in the distributions that
# use them bare: Fedora's legacy "BSD" tag is mostly the 3-clause text, and Debian's and
# Fedora's "Artistic" is Perl's original Artistic licence (/usr/share/common-licenses/Artistic).
# SPDX has no public-domain identifier; scancode's LicenseRef (which license-expression knows)
# keeps the fact machine-readable.
_ALIASES: dict[str, str] = {
    "expat": "MIT",
    "mit/x11": "MIT",
    "mit-style": "MIT",
    "bsd": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "bsd-2": "BSD-2-Clause",
    "bsd-4": "BSD-4-Clause",
    "modified bsd": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "artistic": "Artistic-1.0-Perl",
    "perl": "Artistic-1.0-Perl OR GPL-1.0-or-later",
    "public-domain": "LicenseRef-scancode-public-domain",
    "public domain": "LicenseRef-scancode-public-domain",
    "publicdomain": "LicenseRef-scancode-public-domain",
    "asl": "Apache-2.0",
    "apache": "Apache-2.0",
    "psf": "PSF-2.0",
    "python": "Python-2.0",
    "zlib/libpng": "zlib-acknowledgement",
    "boost": "BSL-1.0",
    "ofl": "OFL-1.1",
}

# Family names as written -> SPDX family, for "<family> <version>" forms ("ASL 2.0", "MPLv1.1").
_FAMILIES: dict[str, str] = {
    "asl": "Apache",
    "apache": "Apache",
    "apache license": "Apache",
    "apache license version": "Apache",
    "mpl": "MPL",
    "mozilla public license": "MPL",
    "epl": "EPL",
    "cddl": "CDDL",
    "artistic": "Artistic",
    "python": "Python",
    "psf": "PSF",
    "ofl": "OFL",
    "zpl": "ZPL",
    "bsl": "BSL",
    "cc0": "CC0",
}

_GNU = {"gpl": "GPL", "lgpl": "LGPL", "agpl": "AGPL", "gfdl": "GFDL", "fdl": "GFDL"}

# "GPLv2+", "GPL-2+", "GPL 2.0 or later", "LGPL-2.1-only", "GFDL-NIV-1.3+", "GPL+" (Fedora).
_GNU_RE = re.compile(
    r"(?P<fam>agpl|lgpl|gpl|gfdl|fdl)(?P<niv>-niv)?"
    r"(?:[\s-]*(?:(?P<v>v)|version\s*)?(?P<ver>\d+(?:\.\d+)?))?"
    r"(?P<mod>\+|-only|-or-later)?"
)
# "Apache 2.0", "MPLv1.1", "ASL-2", "Apache License, Version 2.0".
_VERSIONED_RE = re.compile(
    r"(?P<fam>[a-z][a-z0-9 ]*?)[\s-]*(?:v|version\s*)?(?P<ver>\d+(?:\.\d+)*)"
)

# Exception phrases (DEP-5 "GPL-2+ with Autoconf exception") -> SPDX exception, keyed by the
# GPL major version where the id depends on it (0: any).
_EXCEPTIONS: dict[str, dict[int, str]] = {
    "autoconf": {2: "Autoconf-exception-2.0", 3: "Autoconf-exception-3.0"},
    "bison": {0: "Bison-exception-2.2"},
    "classpath": {0: "Classpath-exception-2.0"},
    "gcc": {2: "GCC-exception-2.0", 3: "GCC-exception-3.1"},
    "gcc runtime library": {3: "GCC-exception-3.1"},
    "libtool": {0: "Libtool-exception"},
    "font": {0: "Font-exception-2.0"},
    "font embedding": {0: "Font-exception-2.0"},
    "llvm": {0: "LLVM-exception"},
}

# Operators and parentheses; "or later" is folded into "+" before this split.
_SPLIT_RE = re.compile(r"(\(|\)|\s+(?:and|or|with)\s+|\s*&\s*|\s*\|\s*)", re.IGNORECASE)
_OR_LATER_RE = re.compile(
    r"(?:\s*,)?\s+or\s+(?:any\s+)?(?:later|newer|greater)(?:\s+versions?)?", re.IGNORECASE
)
_OPERATORS = {"and": "AND", "or": "OR", "with": "WITH", "&": "AND", "|": "OR"}

_licensing: Any = None


def _get_licensing() -> Any:
    global _licensing  # noqa: PLW0603 - built lazily once: loading the index costs ~50 ms
    if _licensing is None:
        from license_expression import get_spdx_licensing

        _licensing = get_spdx_licensing()
    return _licensing


def _valid(expression: str) -> str | None:
    """The canonical rendering of `expression` when it is valid SPDX with known symbols."""
    try:
        info = _get_licensing().validate(expression, strict=True)
    except Exception:  # the library's own error path raises on odd keys
        return None
    if info.errors or not info.normalized_expression:
        return None
    return str(info.normalized_expression)


def _gnu_id(token: str) -> str | None:
    m = _GNU_RE.fullmatch(token)
    if m is None:
        return None
    fam = _GNU[m["fam"]]
    ver = m["ver"]
    mod = m["mod"] or ""
    if ver is None:
        # Fedora's "GPL+" / "LGPL+": any version ever published.
        if mod != "+" or fam not in ("GPL", "LGPL"):
            return None
        ver = "1.0" if fam == "GPL" else "2.0"
    elif "." not in ver:
        # rpm's legacy "LGPLv2" tag means the Lesser GPL, which began at 2.1; DEP-5's
        # "LGPL-2" is the Library GPL 2.0.
        ver += ".1" if fam == "LGPL" and ver == "2" and m["v"] else ".0"
    niv = "-no-invariants" if m["niv"] else ""
    suffix = "-or-later" if mod in ("+", "-or-later") else "-only"
    return f"{fam}-{ver}{niv}{suffix}"


def _license_id(token: str) -> str | None:
    """An SPDX id (or small expression) for one licence name, or None."""
    key = " ".join(token.lower().replace("_", " ").split())
    key = key.removeprefix("the ")
    for suffix in (" license", " licence", " licensed"):
        if key.endswith(suffix) and key != suffix.strip():
            key = key.removesuffix(suffix)
            break
    if key in _ALIASES:
        return _ALIASES[key]
    gnu = _gnu_id(key)
    if gnu is not None:
        return gnu
    m = _VERSIONED_RE.fullmatch(key.replace(",", ""))
    if m is not None:
        fam = _FAMILIES.get(m["fam"].strip())
        if fam is not None:
            ver = m["ver"] if "." in m["ver"] else m["ver"] + ".0"
            return f"{fam}-{ver}"
    if " " in key:
        return None
    return key  # maybe an SPDX id in another case; validation decides and canonicalises


def _exception_id(token: str, license_id: str) -> str | None:
    key = " ".join(token.lower().split()).removesuffix(" exception")
    table = _EXCEPTIONS.get(key)
    if table is None:
        return token if " " not in token else None
    m = re.search(r"-(\d+)\.", license_id)
    major = int(m.group(1)) if m else 0
    return table.get(major) or table.get(0)


def _translate(text: str) -> str | None:
    """Rewrite a non-SPDX expression token by token into SPDX syntax, or None."""
    text = _OR_LATER_RE.sub("+", text)
    out: list[str] = []
    previous_license = ""
    expect_exception = False
    for raw in _SPLIT_RE.split(text):
        part = raw.strip()
        if not part:
            continue
        op = _OPERATORS.get(part.lower())
        if op is not None:
            out.append(op)
            expect_exception = op == "WITH"
            continue
        if part in "()":
            out.append(part)
            continue
        if expect_exception:
            ident = _exception_id(part, previous_license)
        else:
            ident = _license_id(part)
            if ident is not None and " " in ident:
                ident = f"({ident})"
            previous_license = ident or ""
        if ident is None:
            return None
        out.append(ident)
    if not out:
        return None
    return " ".join(out).replace("( ", "(").replace(" )", ")")


@lru_cache(maxsize=8192)
def normalize_license(declared: str) -> str:
    """The SPDX expression for `declared`, or the trimmed declared text when it has none."""
    text = declared.strip()
    if not text:
        return ""
    direct = _valid(text)
    if direct is not None:
        return direct
    translated = _translate(text)
    if translated is not None:
        result = _valid(translated)
        if result is not None:
            return result
    return text
