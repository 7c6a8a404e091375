"""Debian importers against the real DSA/DLA lists (read in place) and a tracker JSON fixture."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from kubeward.vulndb.importers.debian import parse_dla_list, parse_dsa_list, parse_tracker_json
from kubeward.vulndb.model import Advisory, Affected, Range

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
TRACKER = SHARED / "debian" / "security-tracker" / "data"
needs_data = pytest.mark.skipif(not TRACKER.is_dir(), reason="shared data not present")


def fixed(version: str) -> tuple[Range, ...]:
    return (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", version))),)


UNFIXED = (Range("ECOSYSTEM", (("introduced", "0"),)),)


def run(parser: Any, data: bytes, origin: str = "test") -> tuple[list[Advisory], list[str]]:
    bad: list[str] = []
    return list(parser(data, origin, bad.append)), bad


@pytest.fixture(scope="module")
def dsa() -> tuple[dict[str, Advisory], list[Advisory], list[str], float]:
    data = (TRACKER / "DSA" / "list").read_bytes()
    start = time.perf_counter()
    advisories, bad = run(parse_dsa_list, data, "DSA/list")
    elapsed = time.perf_counter() - start
    return {a.id: a for a in advisories}, advisories, bad, elapsed


@needs_data
def test_dsa_exact_advisory(dsa: Any) -> None:
    by_id = dsa[0]
    assert by_id["DSA-5380-1"] == Advisory(
        id="DSA-5380-1",
        source="debian-dsa",
        summary="xorg-server - security update",
        published="2023-03-29",
        aliases=("CVE-2023-1393",),
        affected=(
            Affected("deb", "xorg-server", fixed("2:1.20.11-1+deb11u6"), distro="debian:11"),
        ),
    )
    openssl = by_id["DSA-5139-1"]
    assert openssl.aliases == ("CVE-2022-1292",)
    assert openssl.affected == (
        Affected("deb", "openssl", fixed("1.1.1n-0+deb10u2"), distro="debian:10"),
        Affected("deb", "openssl", fixed("1.1.1n-0+deb11u2"), distro="debian:11"),
    )


@needs_data
def test_dsa_not_affected_and_unfixed(dsa: Any) -> None:
    by_id = dsa[0]
    # [lenny] - vlc <not-affected> (Vulnerable code not present) / [squeeze] - vlc 1.1.3-1squeeze5
    assert by_id["DSA-2218-1"].affected == (
        Affected("deb", "vlc", fixed("1.1.3-1squeeze5"), distro="debian:6"),
    )
    # [woody] - phpmyadmin <unfixed> / [sarge] - phpmyadmin 4:2.6.2-3sarge1
    php = by_id["DSA-880-1"]
    assert php.published == "2005-11-02"
    assert php.aliases == ("CVE-2005-2869", "CVE-2005-3300", "CVE-2005-3301", "CVE-2005-3787")
    assert php.affected == (
        Affected("deb", "phpmyadmin", UNFIXED, distro="debian:3.0", status="unfixed"),
        Affected("deb", "phpmyadmin", fixed("4:2.6.2-3sarge1"), distro="debian:3.1"),
    )
    # "[jessie] - virtualbox <end-of-life>" is skipped without a warning.
    assert all(
        a.name != "virtualbox" or a.distro != "debian:8" for a in by_id["DSA-3699-1"].affected
    )


@needs_data
def test_dsa_whole_list(dsa: Any) -> None:
    _, advisories, bad, elapsed = dsa
    # grep -c '^\[' DSA/list -> 5406 headers, no id twice (awk '{print $4}' | sort | uniq -d).
    assert len(advisories) == 5406
    # The only malformed line: "[woody] - kernel-image-2.4.17-ia64 kernel-image-2.4.17-ia64"
    # (DSA-423, line 17244) has a package name where the version belongs.
    assert bad == [
        "DSA/list:17244: DSA-423: [woody] kernel-image-2.4.17-ia64: "
        "not a Debian version 'kernel-image-2.4.17-ia64'"
    ]
    # grep -cP '^\s+\[[a-z]+\] - ' -> 6988 package lines; 55 <not-affected>, 4 <end-of-life>
    # (grep -cP '^\s+\[[a-z]+\] - \S+ <...>'), 1 malformed, none repeated within an entry.
    assert sum(len(a.affected) for a in advisories) == 6988 - 55 - 4 - 1
    # grep -cP '^\s+\[[a-z]+\] - \S+ <unfixed>' -> 3
    assert sum(1 for a in advisories for x in a.affected if x.status == "unfixed") == 3
    assert {a.source for a in advisories} == {"debian-dsa"}
    assert elapsed < 5


@needs_data
def test_dla_whole_list() -> None:
    data = (TRACKER / "DLA" / "list").read_bytes()
    start = time.perf_counter()
    advisories, bad = run(parse_dla_list, data, "DLA/list")
    assert time.perf_counter() - start < 5
    assert bad == []
    assert len(advisories) == 3534  # grep -c '^\[' DLA/list
    # 3535 package lines, one "[squeeze] - virtualbox-ose <end-of-life>"
    assert sum(len(a.affected) for a in advisories) == 3534
    by_id = {a.id: a for a in advisories}
    assert by_id["DLA-3325-1"] == Advisory(
        id="DLA-3325-1",
        source="debian-dla",
        summary="openssl - security update",
        published="2023-02-20",
        aliases=(
            "CVE-2022-2097",
            "CVE-2022-4304",
            "CVE-2022-4450",
            "CVE-2023-0215",
            "CVE-2023-0286",
        ),
        affected=(Affected("deb", "openssl", fixed("1.1.1n-0+deb10u4"), distro="debian:10"),),
    )


LIST = b"""\
[29 Mar 2023] DSA-9999-1 foo - security update
\t{CVE-2023-0001 CVE-2023-0002}
\t[bullseye] - foo 1.2-3+deb11u1 (bug #12345; medium)
\t[buster] - foo <not-affected> (Vulnerable code not present)
\t[bookworm] - foo <unfixed>
\t[sid] - foo 1.2-4
\t[hamm2] - foo 1.0-1
\t[stretch] - foo <end-of-life>
\tNOTE: fixed in testing at time of DSA
[01 Foo 2023] DSA-9998-1 bar - broken header
\t[bullseye] - bar 1.0-1
[02 Jan 2023] DSA-9997-1 baz
\t{not-an-id CVE-2023-0003}
\tgarbage here
"""


def test_list_semantics_and_bad_lines() -> None:
    advisories, bad = run(parse_dsa_list, LIST)
    assert advisories == [
        Advisory(
            id="DSA-9999-1",
            source="debian-dsa",
            summary="foo - security update",
            published="2023-03-29",
            aliases=("CVE-2023-0001", "CVE-2023-0002"),
            affected=(
                Affected("deb", "foo", fixed("1.2-3+deb11u1"), distro="debian:11"),
                Affected("deb", "foo", UNFIXED, distro="debian:12", status="unfixed"),
            ),
        ),
        Advisory(
            id="DSA-9997-1",
            source="debian-dsa",
            summary="baz",
            published="2023-01-02",
            aliases=("CVE-2023-0003",),
        ),
    ]
    assert bad == [
        "test:7: DSA-9999-1: unknown release 'hamm2'",
        "test:10: unreadable advisory header '[01 Foo 2023] DSA-9998-1 bar - broken header'",
        "test:13: DSA-9997-1: not an advisory id 'not-an-id'",
        "test:14: DSA-9997-1: unreadable line 'garbage here'",
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage \x80\x81",
        bytes(random.Random(7).randrange(256) for _ in range(20000)),
        b"\t[bullseye] - foo 1.0-1\n",  # a body line before any header
        "[29 Mar 2023] DSA-1-1 caf\u00e9\n\t[bullseye] - caf\u00e9 1.0\n".encode("latin-1"),
        b"[99 Mar 2023] DSA-1-1 x\n",
        b"[01 Mar 2023] DSA-1-1 x\n\t[bullseye] - foo \xff\xfe\n",
    ],
)
def test_list_hostile_inputs_never_raise(data: bytes) -> None:
    advisories, bad = run(parse_dla_list, data)
    assert data == b"" or bad
    for a in advisories:
        assert all(x.distro == "debian:11" for x in a.affected) or not a.affected


def test_list_non_utf8_is_reported_and_read() -> None:
    data = b"[01 Mar 2023] DLA-1-1 caf\xe9 - x\n\t[bullseye] - foo 1.0-1\n"
    advisories, bad = run(parse_dla_list, data)
    assert len(bad) == 1 and "not UTF-8" in bad[0]
    assert advisories[0].affected == (Affected("deb", "foo", fixed("1.0-1"), distro="debian:11"),)


# The tracker's JSON export (https://security-tracker.debian.org/tracker/data/json) is not in
# the shared data (over 4 MiB). Shaped as the export is: {source package: {CVE: {description,
# scope, releases: {codename: {status, repositories, fixed_version, urgency}}}}}. Package
# names, CVE ids and versions are public facts (openssl per DSA-5343-1 / DLA-3325-1).
TRACKER_JSON: dict[str, Any] = {
    "openssl": {
        "CVE-2023-0286": {
            "description": "There is a type confusion vulnerability relating to X.400 address "
            "processing inside an X.509 GeneralName.",
            "scope": "remote",
            "releases": {
                "bookworm": {
                    "status": "resolved",
                    "repositories": {"bookworm": "3.0.8-1"},
                    "fixed_version": "3.0.8-1",
                    "urgency": "not yet assigned",
                },
                "bullseye": {
                    "status": "resolved",
                    "repositories": {
                        "bullseye": "1.1.1n-0+deb11u3",
                        "bullseye-security": "1.1.1n-0+deb11u4",
                    },
                    "fixed_version": "1.1.1n-0+deb11u4",
                    "urgency": "not yet assigned",
                },
                "buster": {
                    "status": "resolved",
                    "repositories": {
                        "buster": "1.1.1n-0+deb10u3",
                        "buster-security": "1.1.1n-0+deb10u4",
                    },
                    "fixed_version": "1.1.1n-0+deb10u4",
                    "urgency": "high",
                },
                "sid": {
                    "status": "resolved",
                    "repositories": {"sid": "3.0.8-1"},
                    "fixed_version": "3.0.8-1",
                    "urgency": "not yet assigned",
                },
            },
        },
        "CVE-2022-3602": {
            "description": "A buffer overrun can be triggered in X.509 certificate verification.",
            "scope": "remote",
            "releases": {
                "bullseye": {
                    "status": "resolved",
                    "repositories": {"bullseye": "1.1.1n-0+deb11u3"},
                    "fixed_version": "0",
                    "urgency": "not yet assigned",
                },
                "bookworm": {
                    "status": "resolved",
                    "repositories": {"bookworm": "3.0.8-1"},
                    "fixed_version": "3.0.7-1",
                    "urgency": "not yet assigned",
                },
            },
        },
    },
    "openssl1.0": {
        "CVE-2023-0286": {
            "description": "There is a type confusion vulnerability relating to X.400 address "
            "processing inside an X.509 GeneralName.",
            "scope": "remote",
            "releases": {
                "buster": {
                    "status": "open",
                    "repositories": {"buster": "1.0.2u-1~deb9u7"},
                    "urgency": "end-of-life",
                },
            },
        },
    },
    "tar": {
        "CVE-2005-2541": {
            "description": "Tar 1.15.1 does not properly warn the user when extracting setuid or "
            "setgid files, which may allow local users or remote attackers to gain privileges.",
            "scope": "remote",
            "releases": {
                "bookworm": {
                    "status": "open",
                    "repositories": {"bookworm": "1.34+dfsg-1.2"},
                    "urgency": "unimportant",
                },
                "bullseye": {
                    "status": "open",
                    "repositories": {"bullseye": "1.34+dfsg-1"},
                    "urgency": "unimportant",
                },
                "sid": {
                    "status": "open",
                    "repositories": {"sid": "1.34+dfsg-1.2"},
                    "urgency": "unimportant",
                },
            },
        },
    },
    "linux": {
        "CVE-2023-1989": {
            "description": "A use-after-free flaw was found in btsdio_remove in "
            "drivers/bluetooth/btsdio.c in the Linux Kernel.",
            "scope": "local",
            "releases": {
                "bullseye": {
                    "status": "undetermined",
                    "repositories": {"bullseye": "5.10.179-1"},
                    "urgency": "medium",
                },
                "trixie": {
                    "status": "resolved",
                    "repositories": {},
                    "fixed_version": "6.1.27-1",
                    "urgency": "low",
                },
                "duke2": {"status": "open", "repositories": {}, "urgency": "low"},
                "buster": "not an object",
                "bookworm": {
                    "status": "resolved",
                    "fixed_version": "not a version!",
                    "urgency": "low",
                },
                "stretch": {"status": "nonsense", "urgency": "low"},
            },
        },
        "not an id": {"releases": {}},
        "CVE-2023-0002": ["wrong", "type"],
    },
    "openssh": {  # only sid and not-affected releases: no advisory
        "CVE-2023-28531": {
            "description": "ssh-add in OpenSSH before 9.3 adds smartcard keys to ssh-agent "
            "without the intended per-hop destination constraints.",
            "scope": "remote",
            "releases": {
                "bullseye": {"status": "resolved", "fixed_version": "0", "urgency": "low"},
                "sid": {"status": "resolved", "fixed_version": "1:9.3p1-1", "urgency": "low"},
            },
        },
    },
    "Bad Name!": {"CVE-2023-0003": {"releases": {}}},
    "zlib": "not an object",
}


def test_tracker_json() -> None:
    advisories, bad = run(parse_tracker_json, json.dumps(TRACKER_JSON).encode(), "data/json")
    by_id = {a.id: a for a in advisories}
    assert list(by_id) == ["CVE-2023-0286", "CVE-2022-3602", "CVE-2005-2541", "CVE-2023-1989"]
    assert by_id["CVE-2023-0286"] == Advisory(
        id="CVE-2023-0286",
        source="debian-tracker",
        summary="There is a type confusion vulnerability relating to X.400 address processing "
        "inside an X.509 GeneralName.",
        severity=(("RATING", "high"),),
        affected=(
            Affected("deb", "openssl", fixed("3.0.8-1"), distro="debian:12"),
            Affected("deb", "openssl", fixed("1.1.1n-0+deb11u4"), distro="debian:11"),
            Affected("deb", "openssl", fixed("1.1.1n-0+deb10u4"), distro="debian:10"),
            # end-of-life urgency: still affected, never fixed
            Affected("deb", "openssl1.0", UNFIXED, distro="debian:10", status="unfixed"),
        ),
    )
    # fixed_version "0": bullseye not affected; "not yet assigned" gives no rating
    assert by_id["CVE-2022-3602"].affected == (
        Affected("deb", "openssl", fixed("3.0.7-1"), distro="debian:12"),
    )
    assert by_id["CVE-2022-3602"].severity == ()
    tar = by_id["CVE-2005-2541"]
    assert tar.severity == (("RATING", "negligible"),)
    assert tar.affected == (
        Affected("deb", "tar", UNFIXED, distro="debian:12", status="unfixed"),
        Affected("deb", "tar", UNFIXED, distro="debian:11", status="unfixed"),
    )
    linux = by_id["CVE-2023-1989"]
    assert linux.severity == (("RATING", "medium"),)  # most severe of medium and low
    assert linux.affected == (
        Affected("deb", "linux", UNFIXED, distro="debian:11", status="unfixed"),
        Affected("deb", "linux", fixed("6.1.27-1"), distro="debian:13"),
    )
    assert bad == [
        "data/json: linux CVE-2023-1989: unknown release 'duke2'",
        "data/json: linux CVE-2023-1989 [buster]: release entry is not an object",
        "data/json: linux CVE-2023-1989 [bookworm]: resolved without a Debian version "
        "('not a version!')",
        "data/json: linux CVE-2023-1989 [stretch]: unknown status 'nonsense'",
        "data/json: linux not an id: not an id with an object",
        "data/json: linux CVE-2023-0002: not an id with an object",
        "data/json: package 'Bad Name!': not a package name with an object",
        "data/json: package 'zlib': not a package name with an object",
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'"text"',
        b"{" * 100000,
        b'{"openssl": {"CVE-2023-0286": {"releases": {"bullseye": {"status": "resolved"}}}}}',
        b'{"openssl": {"CVE-2023-0286": {"releases": [], "description": 5}}}',
        '{"caf\u00e9": {}}'.encode("latin-1"),
    ],
)
def test_tracker_json_hostile_inputs_never_raise(data: bytes) -> None:
    advisories, bad = run(parse_tracker_json, data)
    assert bad
    assert all(not a.affected for a in advisories)


def test_tracker_json_speed() -> None:
    # The real export has on the order of 10^5 (package, CVE) pairs; 60,000 x 4 releases here.
    record = TRACKER_JSON["openssl"]["CVE-2023-0286"]
    doc = {f"pkg{i}": {f"CVE-2023-{i * 10 + j}": record for j in range(10)} for i in range(6000)}
    data = json.dumps(doc).encode()
    start = time.perf_counter()
    advisories, bad = run(parse_tracker_json, data)
    assert time.perf_counter() - start < 8
    assert bad == [] and len(advisories) == 60000
    assert sum(len(a.affected) for a in advisories) == 180000  # sid skipped
