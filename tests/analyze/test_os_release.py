"""OSReleaseAnalyzer: os-release parsing and the older release-file fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext
from kubeward.analyze.os_release import OSReleaseAnalyzer, parse_os_release
from kubeward.model import OSInfo

DEBIAN_12 = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""

ALPINE_3_19 = b"""NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
"""


def run(files: dict[str, bytes]) -> InventoryBuilder:
    analyzer = OSReleaseAnalyzer(ScanContext())
    facts = InventoryBuilder()
    for path, data in files.items():
        assert analyzer.wants(path, 0o644)
        analyzer.analyze(AnalyzedFile(path, data, "sha256:aa"), facts)
    analyzer.finish(facts)
    return facts


def test_debian_os_release() -> None:
    assert run({"etc/os-release": DEBIAN_12}).os == OSInfo(
        "debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)", "etc/os-release"
    )


def test_alpine_os_release() -> None:
    assert run({"etc/os-release": ALPINE_3_19}).os == OSInfo(
        "alpine", "3.19.1", "", "Alpine Linux v3.19", "etc/os-release"
    )


def test_this_machine() -> None:
    path = Path("/etc/os-release")
    if not path.exists():
        pytest.skip("no /etc/os-release")
    expected = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    info = run({"etc/os-release": path.read_bytes()}).os
    assert info is not None
    assert info.id == expected["ID"].strip('"')
    assert info.version == expected.get("VERSION_ID", "").strip('"')


def test_quoting_comments_and_escapes() -> None:
    text = """# a comment
ID='my-distro'
  VERSION_ID = "1.0"
PRETTY_NAME="My \\"quoted\\" \\$distro"
NAME=Plain # trailing comment
BROKEN="unbalanced
not an assignment
9BAD=x
EMPTY=
"""
    assert parse_os_release(text) == {
        "ID": "my-distro",
        "VERSION_ID": "1.0",
        "PRETTY_NAME": 'My "quoted" $distro',
        "NAME": "Plain",
        "BROKEN": "unbalanced",
        "EMPTY": "",
    }


def test_debian_codename_derived_from_version() -> None:
    text = b'ID=debian\nVERSION_ID="11"\nVERSION="11 (bullseye)"\nPRETTY_NAME="Debian 11"\n'
    info = run({"etc/os-release": text}).os
    assert info is not None
    assert (info.version, info.codename) == ("11", "bullseye")


def test_ubuntu_codename() -> None:
    text = (
        b'ID=ubuntu\nVERSION_ID="16.04"\nVERSION="16.04.7 LTS (Xenial Xerus)"\n'
        b"UBUNTU_CODENAME=xenial\n"
    )
    info = run({"etc/os-release": text}).os
    assert info is not None
    assert (info.id, info.version, info.codename) == ("ubuntu", "16.04", "xenial")


def test_missing_id_defaults_to_linux() -> None:
    info = run({"usr/lib/os-release": b"NAME=Something\n"}).os
    assert info == OSInfo("linux", "", "", "Something", "usr/lib/os-release")


def test_priorities() -> None:
    files = {
        "etc/redhat-release": b"Fedora release 39 (Thirty Nine)\n",
        "etc/debian_version": b"12.5\n",
        "etc/alpine-release": b"3.19.1\n",
        "usr/lib/os-release": ALPINE_3_19,
        "etc/os-release": DEBIAN_12,
    }
    for drop, expected_path in [
        (None, "etc/os-release"),
        ("etc/os-release", "usr/lib/os-release"),
        ("usr/lib/os-release", "etc/alpine-release"),
        ("etc/alpine-release", "etc/debian_version"),
        ("etc/debian_version", "etc/redhat-release"),
    ]:
        if drop:
            del files[drop]
        info = run(dict(files)).os
        assert info is not None
        assert info.path == expected_path


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("etc/alpine-release", b"3.19.1\n", OSInfo("alpine", "3.19.1", path="etc/alpine-release")),
        ("etc/debian_version", b"12.5\n", OSInfo("debian", "12", path="etc/debian_version")),
        ("etc/debian_version", b"10.13", OSInfo("debian", "10", path="etc/debian_version")),
        (
            "etc/debian_version",
            b"bookworm/sid\n",
            OSInfo("debian", "", "bookworm", path="etc/debian_version"),
        ),
        (
            "etc/redhat-release",
            b"Red Hat Enterprise Linux release 8.9 (Ootpa)\n",
            OSInfo(
                "rhel",
                "8.9",
                "Ootpa",
                "Red Hat Enterprise Linux release 8.9 (Ootpa)",
                "etc/redhat-release",
            ),
        ),
        (
            "etc/redhat-release",
            b"CentOS Linux release 7.9.2009 (Core)\n",
            OSInfo(
                "centos",
                "7",
                "Core",
                "CentOS Linux release 7.9.2009 (Core)",
                "etc/redhat-release",
            ),
        ),
        (
            "etc/redhat-release",
            b"Rocky Linux release 9.3 (Blue Onyx)\n",
            OSInfo(
                "rocky",
                "9.3",
                "Blue Onyx",
                "Rocky Linux release 9.3 (Blue Onyx)",
                "etc/redhat-release",
            ),
        ),
        (
            "etc/redhat-release",
            b"Fedora release 39",
            OSInfo("fedora", "39", "", "Fedora release 39", "etc/redhat-release"),
        ),
    ],
)
def test_fallback_files(path: str, data: bytes, expected: OSInfo) -> None:
    assert run({path: data}).os == expected


def test_wants_only_release_files() -> None:
    analyzer = OSReleaseAnalyzer(ScanContext())
    assert not analyzer.wants("usr/share/doc/os-release", 0o644)
    assert not analyzer.wants("etc/os-release.bak", 0o644)
    assert "os-release" in OSReleaseAnalyzer.basenames


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("etc/os-release", b"\xff\xfe\x00garbage\x80\n\n"),
        ("etc/os-release", b""),
        ("etc/alpine-release", b"\n\n"),
        ("etc/debian_version", b""),
        ("etc/redhat-release", b"Something else entirely\n"),
        ("etc/redhat-release", b"\x89PNG\r\n\x1a\n\x00\x00"),
    ],
)
def test_hostile_input_warns(path: str, data: bytes) -> None:
    facts = run({path: data})
    assert facts.os is None
    assert facts.warnings == [f"{path}: no distribution identity found, skipped"]


def test_non_utf8_value_is_replaced() -> None:
    info = run({"etc/os-release": b'ID=x\nPRETTY_NAME="caf\xe9"\n'}).os
    assert info == OSInfo("x", "", "", "caf\ufffd", "etc/os-release")
