"""Which distribution an image or root filesystem is: os-release, then older release files.

Advisories are keyed by distribution and release, so the OS identity decides which vulnerability
data applies. os-release is authoritative; /etc/alpine-release, /etc/debian_version and
/etc/redhat-release only speak when it is missing (minimal and old images), and the lowest
priority offered wins in the InventoryBuilder.
"""

from __future__ import annotations

import re
from typing import ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder
from kubeward.model import OSInfo

# path -> priority (lower wins).
_PRIORITIES: dict[str, int] = {
    "etc/os-release": 0,
    "usr/lib/os-release": 1,
    "etc/alpine-release": 2,
    "etc/debian_version": 3,
    "etc/redhat-release": 4,
}

_DQ_ESCAPES = frozenset('$"\\`')
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARENTHESISED_RE = re.compile(r"\(([^()]*)\)")
_REDHAT_RE = re.compile(
    r"(?P<name>.+?)\s+release\s+(?P<version>[0-9][0-9.]*)(?:\s*\((?P<codename>[^)]*)\))?"
)

# Distribution names in redhat-release -> os-release ID; for the ones whose os-release
# VERSION_ID is only the major version, the minor part is dropped to match.
_REDHAT_IDS: tuple[tuple[str, str], ...] = (
    ("red hat enterprise linux", "rhel"),
    ("centos", "centos"),
    ("rocky linux", "rocky"),
    ("almalinux", "almalinux"),
    ("oracle linux", "ol"),
    ("fedora", "fedora"),
    ("amazon linux", "amzn"),
    ("scientific linux", "scientific"),
)
_MAJOR_ONLY = frozenset({"centos", "fedora"})


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=VALUE assignments per os-release(5): shell-style quoting, "#" comments."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or _KEY_RE.fullmatch(key) is None:
            continue
        values[key] = _shell_value(value.strip())
    return values


def _shell_value(value: str) -> str:
    """One shell word as os-release(5) allows it; an unbalanced quote ends at the line end.

    shlex does not honour the "\\$" and "\\`" escapes inside double quotes, hence our own.
    """
    out: list[str] = []
    quote = ""
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                out.append(c)
        elif c == "\\" and i + 1 < n and (not quote or value[i + 1] in _DQ_ESCAPES):
            i += 1
            out.append(value[i])
        elif c == quote or (not quote and c in "\"'"):
            quote = "" if quote else c
        elif not quote and c.isspace():
            rest = value[i:].lstrip()
            if not rest or rest.startswith("#"):
                break
            out.append(" ")  # invalid unquoted whitespace: keep the words
            i = n - len(rest)
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def os_from_os_release(text: str, path: str) -> OSInfo | None:
    values = parse_os_release(text)
    if not values:
        return None
    os_id = values.get("ID", "linux").lower()  # os-release(5): ID defaults to "linux"
    codename = values.get("VERSION_CODENAME") or values.get("UBUNTU_CODENAME", "")
    if not codename and os_id == "debian":
        m = _PARENTHESISED_RE.search(values.get("VERSION", ""))
        if m:
            codename = m.group(1).strip()
    return OSInfo(
        id=os_id,
        version=values.get("VERSION_ID", ""),
        codename=codename,
        name=values.get("PRETTY_NAME") or values.get("NAME", ""),
        path=path,
    )


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def os_from_alpine_release(text: str, path: str) -> OSInfo | None:
    version = _first_line(text)
    if not version:
        return None
    return OSInfo(id="alpine", version=version, path=path)


def os_from_debian_version(text: str, path: str) -> OSInfo | None:
    """ "12.5" is release 12; testing and unstable write "bookworm/sid", a codename."""
    line = _first_line(text)
    if not line:
        return None
    if line[0].isdigit():
        return OSInfo(id="debian", version=line.split(".", 1)[0], path=path)
    return OSInfo(id="debian", version="", codename=line.split("/", 1)[0], path=path)


def os_from_redhat_release(text: str, path: str) -> OSInfo | None:
    line = _first_line(text)
    m = _REDHAT_RE.match(line)
    if m is None:
        return None
    lowered = m["name"].lower()
    os_id = next((i for prefix, i in _REDHAT_IDS if lowered.startswith(prefix)), None)
    if os_id is None:
        return None
    version = m["version"].rstrip(".")
    if os_id in _MAJOR_ONLY:
        version = version.split(".", 1)[0]
    return OSInfo(id=os_id, version=version, codename=m["codename"] or "", name=line, path=path)


_PARSERS = {
    "etc/os-release": os_from_os_release,
    "usr/lib/os-release": os_from_os_release,
    "etc/alpine-release": os_from_alpine_release,
    "etc/debian_version": os_from_debian_version,
    "etc/redhat-release": os_from_redhat_release,
}


class OSReleaseAnalyzer(Analyzer):
    """Offers the OS identity from each release file it sees, with that file's priority."""

    name: ClassVar[str] = "os-release"
    basenames: ClassVar[frozenset[str]] = frozenset(p.rsplit("/", 1)[1] for p in _PRIORITIES)

    def wants(self, path: str, mode: int) -> bool:
        return path in _PRIORITIES

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        parser = _PARSERS.get(file.path)
        if parser is None:
            return
        info = parser(file.data.decode("utf-8", errors="replace"), file.path)
        if info is None:
            facts.warn(f"{file.path}: no distribution identity found, skipped")
            return
        facts.set_os(info, _PRIORITIES[file.path])
