"""DpkgAnalyzer against dpkg-query itself, plus copyright licences and hostile input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext
from kubeward.analyze.dpkg import DpkgAnalyzer, parse_copyright
from kubeward.model import Location, Package

LAYER = "sha256:" + "ab" * 32
REAL_STATUS = Path("/var/lib/dpkg/status")
QUERY_FORMAT = "${db:Status-Status} ${Package} ${Version} ${Architecture}\n"


def run(files: dict[str, bytes]) -> InventoryBuilder:
    analyzer = DpkgAnalyzer(ScanContext())
    facts = InventoryBuilder()
    for path, data in files.items():
        assert analyzer.wants(path, 0o644), path
        analyzer.analyze(AnalyzedFile(path, data, LAYER), facts)
    analyzer.finish(facts)
    return facts


def triples(facts: InventoryBuilder) -> set[tuple[str, str, str | None]]:
    return {(p.name, p.version, p.arch) for p in facts.packages}


def dpkg_query(status: bytes, tmp_path: Path) -> set[tuple[str, str, str]]:
    """What dpkg-query calls installed (dpkg's configured states) for this status file."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query not installed")
    admin = tmp_path / "admin"
    (admin / "info").mkdir(parents=True)
    (admin / "updates").mkdir()
    (admin / "status").write_bytes(status)
    out = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "-W", f"-f={QUERY_FORMAT}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    listed = set()
    for line in out.splitlines():
        state, name, version, arch = line.split(" ")
        if state in ("installed", "triggers-pending", "triggers-awaited"):
            listed.add((name, version, arch))
    return listed


def test_real_status_matches_dpkg_query(tmp_path: Path) -> None:
    if not REAL_STATUS.exists():
        pytest.skip("not a dpkg system")
    data = REAL_STATUS.read_bytes()
    facts = run({"var/lib/dpkg/status": data})
    expected = dpkg_query(data, tmp_path)
    assert len(expected) > 50
    assert triples(facts) == expected
    assert facts.warnings == []
    dpkg = next(p for p in facts.packages if p.name == "dpkg")
    assert dpkg.ecosystem == "deb"
    assert dpkg.purl == ""
    assert dpkg.location == Location(path="var/lib/dpkg/status", layer=LAYER)
    assert (dpkg.source_name, dpkg.source_version) == ("dpkg", dpkg.version)


def _stanza(name: str, status: str, version: str = "1.0-1", extra: str = "") -> str:
    return (
        f"Package: {name}\nStatus: {status}\nPriority: optional\n"
        f"Maintainer: Someone <someone@example.org>\nArchitecture: amd64\n"
        f"Version: {version}\n{extra}Description: test package\n second line\n .\n third\n"
    )


def test_every_state_matches_dpkg_query(tmp_path: Path) -> None:
    stanzas = [
        _stanza("p-installed", "install ok installed", "1:2.3-4"),
        _stanza("p-hold", "hold ok installed"),
        _stanza("p-deinstall", "deinstall ok installed"),
        _stanza("p-purge-sel", "purge ok installed"),
        _stanza("p-reinstreq", "install reinstreq installed"),
        _stanza("p-conffiles", "deinstall ok config-files"),
        _stanza("p-notinst", "purge ok not-installed"),
        _stanza("p-halfinst", "install ok half-installed"),
        _stanza("p-unpacked", "install ok unpacked"),
        _stanza("p-halfconf", "install ok half-configured"),
        _stanza("p-awaited", "install ok triggers-awaited", extra="Triggers-Awaited: p-hold\n"),
        _stanza("p-pending", "install ok triggers-pending", extra="Triggers-Pending: ldconfig\n"),
    ]
    data = "\n".join(stanzas).encode()
    facts = run({"var/lib/dpkg/status": data})
    assert triples(facts) == dpkg_query(data, tmp_path)
    assert {p.name for p in facts.packages} == {
        "p-installed",
        "p-hold",
        "p-deinstall",
        "p-purge-sel",
        "p-reinstreq",
        "p-awaited",
        "p-pending",
    }
    assert facts.warnings == []


def test_source_and_multiarch_name() -> None:
    data = (
        _stanza("libc6", "install ok installed", "2.36-9+deb12u4", "Multi-Arch: same\n")
        + "\n"
        + _stanza("libcrypt1:amd64", "install ok installed", "1:4.4.33-2", "Source: libxcrypt\n")
        + "\n"
        + _stanza(
            "bsdutils", "install ok installed", "1:2.38.1-5+b1", "Source: util-linux (2.38.1-5)\n"
        )
    ).encode()
    pkgs = {p.name: p for p in run({"var/lib/dpkg/status": data}).packages}
    assert sorted(pkgs) == ["bsdutils", "libc6", "libcrypt1"]
    assert (pkgs["libc6"].source_name, pkgs["libc6"].source_version) == (
        "libc6",
        "2.36-9+deb12u4",
    )
    assert (pkgs["libcrypt1"].source_name, pkgs["libcrypt1"].source_version) == (
        "libxcrypt",
        "1:4.4.33-2",
    )
    assert (pkgs["bsdutils"].source_name, pkgs["bsdutils"].source_version) == (
        "util-linux",
        "2.38.1-5",
    )


DISTROLESS_BASE = b"""Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Installed-Size: 3214
Section: localization
Priority: required
Description: time zone and daylight-saving time data

Package: netbase
Version: 6.4
Architecture: all
Multi-Arch: foreign
Maintainer: Marco d'Itri <md@linux.it>
Description: Basic TCP/IP networking system
"""

DISTROLESS_LIBSSL = b"""Package: libssl3
Status: install ok installed
Source: openssl
Version: 3.0.11-1~deb12u2
Architecture: arm64
Description: Secure Sockets Layer toolkit - shared libraries
"""


def test_distroless_status_d() -> None:
    analyzer = DpkgAnalyzer(ScanContext())
    assert not analyzer.wants("var/lib/dpkg/status.d/libssl3.md5sums", 0o644)
    assert not analyzer.wants("var/lib/dpkg/status.d/sub/dir", 0o644)
    assert not analyzer.wants("var/lib/dpkg/status-old", 0o644)
    facts = run(
        {
            "var/lib/dpkg/status.d/libssl3": DISTROLESS_LIBSSL,
            "var/lib/dpkg/status.d/base": DISTROLESS_BASE,
        }
    )
    assert sorted(facts.packages, key=Package.sort_key) == [
        Package(
            name="libssl3",
            version="3.0.11-1~deb12u2",
            ecosystem="deb",
            purl="",
            location=Location(path="var/lib/dpkg/status.d/libssl3", layer=LAYER),
            source_name="openssl",
            source_version="3.0.11-1~deb12u2",
            arch="arm64",
        ),
        Package(
            name="netbase",
            version="6.4",
            ecosystem="deb",
            purl="",
            location=Location(path="var/lib/dpkg/status.d/base", layer=LAYER),
            source_name="netbase",
            source_version="6.4",
            arch="all",
        ),
        Package(
            name="tzdata",
            version="2024a-0+deb12u1",
            ecosystem="deb",
            purl="",
            location=Location(path="var/lib/dpkg/status.d/base", layer=LAYER),
            source_name="tzdata",
            source_version="2024a-0+deb12u1",
            arch="all",
        ),
    ]
    assert facts.warnings == []


# Packages of Debian 12's essential set whose copyright files are DEP-5, as shipped.
REAL_COPYRIGHTS = {
    "grep": ("GPL-3.0-or-later",),
    "hostname": ("GPL-2.0-only",),
    "dash": ("BSD-3-Clause", "GPL-2.0-or-later", "LicenseRef-scancode-public-domain"),
    "tar": (
        "GPL-2.0-or-later",
        "GPL-3.0-or-later",
        "GPL-3.0-or-later WITH Bison-exception-2.2",
        "LGPL-3.0-or-later",
    ),
    "ncurses-base": ("BSD-3-Clause", "MIT", "X11"),
    "base-files": (),  # not DEP-5
}


@pytest.mark.parametrize(("package", "expected"), sorted(REAL_COPYRIGHTS.items()))
def test_real_copyright_files(package: str, expected: tuple[str, ...]) -> None:
    path = Path("/usr/share/doc") / package / "copyright"
    if not path.exists():
        pytest.skip(f"{path} not installed")
    assert parse_copyright(path.read_bytes().decode("utf-8", errors="replace")) == expected


COPYRIGHT = b"""Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: demo

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files: lib/*
Copyright: 2021 Someone Else
License: Expat
 Permission is hereby granted ...

Files: doc/*
License: Permission to use, copy, modify and distribute this software is granted

License: GPL-2+
 This program is free software ...
 .
 On Debian systems ...
"""


def test_licences_joined_in_finish() -> None:
    status = (
        _stanza("demo", "install ok installed", "1.0-1")
        + "\n"
        + _stanza("other", "install ok installed")
    )
    # Copyright files arrive before the status file: the join happens in finish().
    facts = run(
        {
            "usr/share/doc/demo/copyright": COPYRIGHT,
            "usr/share/doc/other/copyright": b"This is not DEP-5.\nLicense: GPL\n",
            "var/lib/dpkg/status": status.encode(),
        }
    )
    licences = {p.name: p.licenses for p in facts.packages}
    assert licences == {"demo": ("GPL-2.0-or-later", "MIT"), "other": ()}
    analyzer = DpkgAnalyzer(ScanContext())
    assert not analyzer.wants("usr/share/doc/demo/changelog.gz", 0o644)
    assert not analyzer.wants("usr/share/doc/demo/sub/copyright", 0o644)


@pytest.mark.parametrize(
    ("data", "warning"),
    [
        (
            bytes(range(256)) * 40,
            "var/lib/dpkg/status: skipped 1 malformed dpkg stanza(s), first at line 1: "
            r"not a field: '\x00\x01\x02\x03\x04\x05\x06\x07\x08\t'",
        ),
        (
            (
                _stanza("ok", "install ok installed") + "\nPackage: trunc\nStatus: install ok inst"
            ).encode(),
            "var/lib/dpkg/status: skipped 1 malformed dpkg stanza(s), first at line 12: "
            "bad Status field",
        ),
        (
            (
                _stanza("ok", "install ok installed") + "\nPackage: trunc\nStatus: install ok in"
                "stalled\nVers"
            ).encode(),
            "var/lib/dpkg/status: skipped 1 malformed dpkg stanza(s), first at line 12: "
            "not a field: 'Vers'",
        ),
        (
            (_stanza("ok", "install ok installed") + "\nStatus: install ok installed\n").encode(),
            "var/lib/dpkg/status: skipped 1 malformed dpkg stanza(s), first at line 12: "
            "no Package field",
        ),
        (
            (
                _stanza("ok", "install ok installed") + "\nPackage: nov\n"
                "Status: install ok installed\n"
            ).encode(),
            "var/lib/dpkg/status: skipped 1 malformed dpkg stanza(s), first at line 12: "
            "no Version field",
        ),
    ],
)
def test_hostile_status_warns(data: bytes, warning: str) -> None:
    facts = run({"var/lib/dpkg/status": data})
    assert facts.warnings == [warning]
    expected = {("ok", "1.0-1", "amd64")} if b"Package: ok" in data else set()
    assert triples(facts) == expected


def test_huge_continuation_and_non_utf8() -> None:
    huge = " " + "x" * 5_000_000 + "\n"
    data = (
        _stanza("big", "install ok installed", extra="Long-Field: start\n" + huge * 3)
        + "\n"
        + _stanza("caf\xe9", "install ok installed")
    ).encode("latin-1")
    facts = run({"var/lib/dpkg/status": data})
    assert triples(facts) == {("big", "1.0-1", "amd64"), ("caf\ufffd", "1.0-1", "amd64")}
    assert facts.warnings == []


def test_hostile_copyright_gives_no_licence() -> None:
    status = _stanza("demo", "install ok installed").encode()
    facts = run(
        {
            "usr/share/doc/demo/copyright": b"Format: copyright-format\x00\xff\n\nLicense:",
            "var/lib/dpkg/status": status,
        }
    )
    assert [p.licenses for p in facts.packages] == [()]
    assert facts.warnings == []
