"""Release keys and the codename tables; Debian's table is checked against the tracker's config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeward.vulndb.distros import (
    DEBIAN_CODENAMES,
    UBUNTU_CODENAMES,
    debian_codename,
    debian_release,
    distro_key,
    ubuntu_codename,
    ubuntu_release,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TRACKER_CONFIG = SHARED / "debian" / "security-tracker" / "data" / "config.json"


@pytest.mark.parametrize(
    ("os_id", "version_id", "codename", "key"),
    [
        ("debian", "11", "", "debian:11"),
        ("debian", "12.5", "", "debian:12"),
        ("debian", "5.0.10", "", "debian:5"),
        ("debian", "4.0", "", "debian:4"),
        ("debian", "3.1", "", "debian:3.1"),
        ("debian", "3.0r6", "", "debian:3.0"),
        ("debian", "", "bookworm", "debian:12"),
        ("debian", "bullseye", "", "debian:11"),
        ("debian", "", "sid", "debian:sid"),
        ("debian", "", "", "debian:unknown"),
        ("Debian", " 10 ", "", "debian:10"),
        ("alpine", "3.11.6", "", "alpine:3.11"),
        ("alpine", "v3.11", "", "alpine:3.11"),
        ("alpine", "3.9", "", "alpine:3.9"),
        ("alpine", "3.19_alpha20230901", "", "alpine:edge"),
        ("alpine", "edge", "", "alpine:edge"),
        ("alpine", "", "", "alpine:unknown"),
        ("ubuntu", "22.04", "jammy", "ubuntu:22.04"),
        ("ubuntu", "", "focal", "ubuntu:20.04"),
        ("ubuntu", "14.04.6", "", "ubuntu:14.04"),
        ("rhel", "8.9", "", "rhel:8.9"),
        ("", "", "", "linux:unknown"),
    ],
)
def test_distro_key(os_id: str, version_id: str, codename: str, key: str) -> None:
    assert distro_key(os_id, version_id, codename) == key


def test_lookups_both_ways() -> None:
    assert debian_release("Bullseye") == "11"
    assert debian_release("sid") is None
    assert debian_release("nonsense") is None
    assert debian_codename("11") == "bullseye"
    assert debian_codename("12.5") == "bookworm"
    assert debian_codename("3.1") == "sarge"
    assert debian_codename("99") is None
    assert ubuntu_release("noble") == "24.04"
    assert ubuntu_codename("18.04") == "bionic"
    assert ubuntu_codename("18.05") is None


def test_tables_are_one_to_one_and_ordered() -> None:
    for table in (DEBIAN_CODENAMES, UBUNTU_CODENAMES):
        assert len(set(table.values())) == len(table)
        numbers = [tuple(int(p) for p in v.split(".")) for v in table.values()]
        assert numbers == sorted(numbers)  # written oldest first
    assert DEBIAN_CODENAMES["wheezy"] == "7"
    assert DEBIAN_CODENAMES["forky"] == "14"
    assert len(DEBIAN_CODENAMES) == 19  # buzz 1.1 ... forky 14


@pytest.mark.skipif(not TRACKER_CONFIG.is_file(), reason="shared data not present")
def test_debian_table_matches_the_security_tracker_config() -> None:
    config = json.loads(TRACKER_CONFIG.read_text(encoding="utf-8"))
    names = list(config["distributions"])
    assert names[-1] == "sid"  # the tracker lists oldest first, unstable last
    releases = names[:-1]
    # potato 2.2 ... forky 14: every release the tracker knows is in the table ...
    assert releases == [
        "potato", "woody", "sarge", "etch", "lenny", "squeeze", "wheezy",
        "jessie", "stretch", "buster", "bullseye", "bookworm", "trixie", "forky",
    ]  # fmt: skip
    assert all(name in DEBIAN_CODENAMES for name in releases)
    # ... in the same order as our release numbers.
    order = list(DEBIAN_CODENAMES)
    assert [order.index(n) for n in releases] == sorted(order.index(n) for n in releases)
    # The releases the tracker marks with a role are the ones they were in April 2023.
    roles = {n: d.get("release") for n, d in config["distributions"].items() if d.get("release")}
    assert roles == {"buster": "oldstable", "bullseye": "stable", "bookworm": "testing",
                     "sid": "unstable"}  # fmt: skip
    assert [DEBIAN_CODENAMES[n] for n in ("buster", "bullseye", "bookworm")] == ["10", "11", "12"]
