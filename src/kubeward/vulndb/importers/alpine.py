"""Alpine secdb (secdb.alpinelinux.org JSON, or the old alpine-secdb repository's YAML).

Alpine backports fixes into its own package revisions ("1.31.1-r10"), so whether an apk is
fixed can only be read from Alpine's list of the revision that fixed each CVE. secdb lists
fixes only, never open issues: a CVE not listed is simply unknown here.

Decisions:
- One Advisory per CVE id per file (source "alpine-secdb"), the packages listing it merged.
  Secfix entries are free text: "CVE-2019-1234", "CVE-2019-1234 XSA-300", "XSA-300",
  "CVE_2019-2426", "CVE-2017-8073.patch". Every CVE in an entry gets the entry's other ids
  (XSA-, TALOS-, ZBX-, wnpa-sec-) as aliases; an entry without a CVE is keyed by its first id;
  "CVE-????-?????" placeholders and parenthesised notes are ignored.
- A CVE listed under several fixed versions of one package (a fix, then a completed fix;
  or fixes on two branches) gives one Range per version, so a version below the newest fix
  stays affected (OSV: affected if any range says so). Secfix version "0" means "never
  affected": no Affected.
- The name is the origin (source) package; the matcher maps binary apks to it.
- load_yaml() is shared with the other YAML feeds (RubySec, FriendsOfPHP).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from kubeward.vulndb.distros import distro_key
from kubeward.vulndb.model import Advisory, Affected, OnBadRecord, Range
from kubeward.vulndb.names import normalize

try:
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # PyYAML without libyaml: slower, same results
    _Loader = yaml.SafeLoader

MAX_YAML_BYTES = 8 * 1024 * 1024

_CVE = re.compile(r"CVE[-_ ](\d{4})-(\d{4,})", re.IGNORECASE)
_OTHER_ID = re.compile(r"\b([A-Za-z][A-Za-z]*(?:-[A-Za-z]+)*-\d+(?:-\d+)?)\b")
_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]*")
_APK_VERSION = re.compile(r"[0-9][A-Za-z0-9._+~-]*")


class YAMLRefused(ValueError):
    """A YAML document a feed importer will not load (aliases, size, encoding, syntax)."""


def load_yaml(data: bytes) -> Any:
    """One YAML document from untrusted bytes: UTF-8 only, safe tags only, no aliases.

    Aliases are refused outright (no feed uses them; they are how "billion laughs" documents
    grow), found by scanning parser events only when the text contains "*" at all, so the
    common case costs one parse. libyaml caps nesting depth itself.
    """
    if len(data) > MAX_YAML_BYTES:
        raise YAMLRefused(f"{len(data)} bytes, over the {MAX_YAML_BYTES} byte limit")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YAMLRefused(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        if "*" in text:
            for event in yaml.parse(text, Loader=_Loader):
                if isinstance(event, yaml.AliasEvent):
                    raise YAMLRefused("YAML aliases are refused")
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise YAMLRefused(f"YAML error: {' '.join(str(exc).split())[:160]}") from None
    except RecursionError:
        raise YAMLRefused("YAML nested too deeply") from None


def _load(data: bytes) -> Any:
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise YAMLRefused(f"not JSON ({type(exc).__name__}: {str(exc)[:100]})") from None
    return load_yaml(data)


def secfix_ids(entry: str) -> list[tuple[str, tuple[str, ...]]]:
    """(advisory id, aliases) pairs for one secfixes entry; [] when it names nothing."""
    cves: list[str] = []
    for m in _CVE.finditer(entry):
        cve = f"CVE-{m.group(1)}-{m.group(2)}"
        if cve not in cves:
            cves.append(cve)
    rest = _CVE.sub(" ", entry)
    rest = re.sub(r"\([^)]*\)", " ", rest)  # notes: "(BGP)", "(tcpdump -V)"
    others = [
        m.group(1) for m in _OTHER_ID.finditer(rest) if not m.group(1).upper().startswith("CVE-")
    ]
    others = list(dict.fromkeys(others))
    if cves:
        return [(cve, tuple(others)) for cve in cves]
    if others:
        return [(others[0], tuple(others[1:]))]
    return []


class _Merged:
    __slots__ = ("aliases", "ranges")

    def __init__(self) -> None:
        self.aliases: list[str] = []
        self.ranges: dict[str, list[Range]] = {}  # package -> one range per fixed version


def parse_secdb(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
    """One secdb file (a release's repository, e.g. v3.11/main): one Advisory per CVE."""
    try:
        document = _load(data)
    except YAMLRefused as exc:
        on_bad(f"{origin}: {exc}")
        return
    if not isinstance(document, dict):
        on_bad(f"{origin}: top level is {type(document).__name__}, not a secdb object")
        return
    release = document.get("distroversion")
    if not isinstance(release, str) or not re.fullmatch(r"v?\d+\.\d+|edge", release.strip()):
        on_bad(f"{origin}: distroversion {release!r:.40} is not a release like v3.11")
        return
    distro = distro_key("alpine", release)
    packages = document.get("packages")
    if packages is None:
        return  # an empty repository (v3.3/community)
    if not isinstance(packages, list):
        on_bad(f"{origin}: packages is {type(packages).__name__}, not a list")
        return
    merged: dict[str, _Merged] = {}
    for index, item in enumerate(packages):
        try:
            _package(merged, item, f"{origin}: packages[{index}]", on_bad)
        except Exception as exc:  # never let one record stop the import
            on_bad(f"{origin}: packages[{index}]: {type(exc).__name__}: {str(exc)[:100]}")
    for adv_id, m in merged.items():
        if not m.ranges:
            continue
        yield Advisory(
            id=adv_id,
            source="alpine-secdb",
            aliases=tuple(a for a in m.aliases if a != adv_id),
            affected=tuple(
                Affected("apk", name, tuple(ranges), distro=distro)
                for name, ranges in m.ranges.items()
            ),
        )


def _package(merged: dict[str, _Merged], item: Any, where: str, on_bad: OnBadRecord) -> None:
    pkg = item.get("pkg") if isinstance(item, dict) else None
    name = pkg.get("name") if isinstance(pkg, dict) else None
    if not isinstance(pkg, dict) or not isinstance(name, str) or not _PACKAGE.fullmatch(name):
        on_bad(f"{where}: no pkg with a package name")
        return
    where = f"{where} ({name})"
    secfixes = pkg.get("secfixes")
    if secfixes is None:
        return
    if not isinstance(secfixes, dict):
        on_bad(f"{where}: secfixes is {type(secfixes).__name__}, not a mapping")
        return
    name = normalize("apk", name)
    for key, entries in secfixes.items():
        version = "0" if key == 0 else key
        if not isinstance(version, str) or not (version == "0" or _APK_VERSION.fullmatch(version)):
            on_bad(f"{where}: {version!r:.40} is not an apk version")
            continue
        if entries is None:
            continue  # a version with nothing listed (heimdal 7.4.0-r0 in v3.6)
        if not isinstance(entries, list):
            on_bad(f"{where} {version}: {type(entries).__name__} instead of a list of ids")
            continue
        fixed = Range("ECOSYSTEM", (("introduced", "0"), ("fixed", version)))
        for entry in entries:
            ids = secfix_ids(entry) if isinstance(entry, str) else []
            if not ids:
                on_bad(f"{where} {version}: no advisory id in {entry!r:.60}")
                continue
            for adv_id, aliases in ids:
                m = merged.get(adv_id)
                if m is None:
                    m = merged[adv_id] = _Merged()
                for alias in aliases:
                    if alias not in m.aliases:
                        m.aliases.append(alias)
                if version == "0":
                    continue  # never affected
                ranges = m.ranges.setdefault(name, [])
                if fixed not in ranges:
                    ranges.append(fixed)
