"""Matching against the real advisory data in ../shared/data, with exact expected ids.

The database is built once from everything under osv/, debian/ and alpine/. Expected ids
were established from the advisory files themselves (named in each test), independently of
kubeward: for Debian an oracle reads the DSA list text and asks `dpkg --compare-versions`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kubeward.model import Finding, Inventory, Location, OSInfo, Package
from kubeward.vulndb.build import build_database
from kubeward.vulndb.match import match_inventory
from kubeward.vulndb.store import Database

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    path = tmp_path_factory.mktemp("vulndb") / "kubeward.db"
    build_database([DATA / "osv", DATA / "debian", DATA / "alpine"], path, lambda _: None)
    return Database.open(path)


def pkg(name: str, version: str, eco: str, **kw: str) -> Package:
    return Package(name, version, eco, "", Location(path=f"fixture/{name}"), **kw)  # type: ignore[arg-type]


def scan(db: Database, *packages: Package, os: OSInfo | None = None) -> list[Finding]:
    return match_inventory(Inventory(os=os, packages=packages), db)


def by_package(findings: list[Finding]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in findings:
        assert f.package is not None
        out.setdefault(f"{f.package.name} {f.package.version}", set()).add(f.rule_id)
    return out


def advisories_of(findings: list[Finding]) -> set[str]:
    return {a for f in findings for a in dict(f.evidence)["advisories"].split(",")}


def test_python_site_packages(db: Database) -> None:
    findings = scan(
        db,
        pkg("requests", "2.20.0", "pypi"),
        pkg("urllib3", "1.24.1", "pypi"),
        pkg("urllib3", "1.26.18", "pypi"),
        pkg("Jinja2", "2.10", "pypi"),
        pkg("PyYAML", "5.1", "pypi"),
    )
    got = by_package(findings)
    # pypa/advisory-database vulns/urllib3/*.yaml: fixes 1.24.2 (PYSEC-2019-132, -133),
    # 1.24.3 (PYSEC-2019-133 CRLF), 1.25.9, 1.26.5, 1.26.17, 1.26.18
    assert got["urllib3 1.24.1"] == {
        "CVE-2018-25091",
        "CVE-2019-11236",
        "CVE-2019-11324",
        "CVE-2020-26137",
        "CVE-2021-33503",
        "CVE-2023-43804",
        "CVE-2023-45803",
    }
    assert "urllib3 1.26.18" not in got  # equal to the last fix: nothing left
    assert got["requests 2.20.0"] == {"CVE-2023-32681"}  # PYSEC-2023-74, fixed 2.31.0
    assert got["Jinja2 2.10"] == {"CVE-2019-10906", "CVE-2020-28493"}  # fixed 2.10.1, 2.11.3
    assert got["PyYAML 5.1"] == {"CVE-2019-20477", "CVE-2020-14343", "CVE-2020-1747"}
    fix = {f.rule_id: f.fixed_version for f in findings if f.package and f.package.name == "PyYAML"}
    assert fix == {"CVE-2019-20477": "5.2b1", "CVE-2020-14343": "5.4", "CVE-2020-1747": "5.3.1"}
    urllib3 = next(f for f in findings if f.rule_id == "CVE-2021-33503")
    assert urllib3.aliases == ("GHSA-q2q7-5pp4-w6pg", "PYSEC-2021-108")
    assert dict(urllib3.evidence)["affected"] == "introduced 0, fixed 1.26.5 (ECOSYSTEM)"


def test_go_modules_and_withdrawn_advisories(db: Database) -> None:
    # golang/vulndb GO-2020-0015 (fixed 0.3.3), GO-2021-0113 (0.3.7), GO-2022-1059 (0.3.8),
    # GO-2026-5970 (0.39.0): all "introduced 0"
    got = by_package(scan(db, pkg("golang.org/x/text", "v0.3.0", "golang")))
    assert got == {
        "golang.org/x/text v0.3.0": {
            "CVE-2020-14040",
            "CVE-2021-38561",
            "CVE-2022-32149",
            "CVE-2026-56852",
        }
    }
    got = by_package(scan(db, pkg("golang.org/x/text", "v0.3.8", "golang")))
    assert got == {"golang.org/x/text v0.3.8": {"CVE-2026-56852"}}
    # GO-2022-0617 affects every k8s.io/kubernetes version but was withdrawn in 2024
    findings = scan(db, pkg("k8s.io/kubernetes", "v1.20.0", "golang"))
    assert "GO-2022-0617" not in advisories_of(findings)


def test_cargo_lock_crates(db: Database) -> None:
    # rustsec osv crates/RUSTSEC-2018-0018 (<0.6.13), -2019-0009 (0.6.5..0.6.10),
    # -2019-0012 (0.6.3..0.6.10), -2021-0003 (0.6.3..0.6.14, 1.0.0..1.6.1)
    got = by_package(
        scan(
            db,
            pkg("smallvec", "0.6.9", "cargo"),
            pkg("smallvec", "1.6.0", "cargo"),
            pkg("smallvec", "1.6.1", "cargo"),
        )
    )
    assert got == {
        "smallvec 0.6.9": {"CVE-2018-25023", "CVE-2019-15551", "CVE-2019-15554", "CVE-2021-25900"},
        "smallvec 1.6.0": {"CVE-2021-25900"},
    }


def test_gemfile_lock_gems(db: Database) -> None:
    # ruby-advisory-db gems/sinatra: CVE-2018-7212 patched >= 2.0.1 (so 2.0.1 is fixed),
    # CVE-2018-11627 >= 2.0.2, CVE-2022-29970 >= 2.2.0, CVE-2022-45442 ~> 2.2.3 / >= 3.0.4,
    # CVE-2024-21510 >= 4.1.0, CVE-2025-61921 >= 4.2.0
    got = by_package(scan(db, pkg("sinatra", "2.0.1", "gem"), pkg("sinatra", "2.2.3", "gem")))
    assert got == {
        "sinatra 2.0.1": {
            "CVE-2018-11627",
            "CVE-2022-29970",
            "CVE-2022-45442",
            "CVE-2024-21510",
            "CVE-2025-61921",
        },
        "sinatra 2.2.3": {"CVE-2024-21510", "CVE-2025-61921"},
    }


def test_composer_lock_packages(db: Database) -> None:
    # FriendsOfPHP guzzlehttp/guzzle: 6.x branches fixed in 6.5.6 (CVE-2022-29248), 6.5.7
    # (-31042, -31043), 6.5.8 (-31090, -31091); CVE-2016-5385 is >=6,<6.2.1; the two 2026
    # advisories have one branch "<7.12.1"
    got = by_package(
        scan(
            db,
            pkg("guzzlehttp/guzzle", "6.5.5", "composer"),
            pkg("guzzlehttp/guzzle", "6.5.8", "composer"),
        )
    )
    assert got == {
        "guzzlehttp/guzzle 6.5.5": {
            "CVE-2022-29248",
            "CVE-2022-31042",
            "CVE-2022-31043",
            "CVE-2022-31090",
            "CVE-2022-31091",
            "CVE-2026-55568",
            "CVE-2026-55767",
        },
        "guzzlehttp/guzzle 6.5.8": {"CVE-2026-55568", "CVE-2026-55767"},
    }


def test_alpine_3_11_apk_database(db: Database) -> None:
    # alpine-secdb v3.11/main.yaml: openssl 1.1.1d-r3 fixes CVE-2019-1551 (r1 and older fix
    # others); busybox CVE-2019-5747 fixed in 1.29.3-r10 and 1.30.1-r2, CVE-2018-20679 in
    # 1.29.3-r10; musl CVE-2019-14697 fixed in 1.1.23-r2
    alpine = OSInfo("alpine", "3.11.6")
    packages = [
        pkg("libssl1.1", "1.1.1d-r2", "apk", source_name="openssl"),
        pkg("busybox", "1.30.1-r1", "apk", source_name="busybox"),
        pkg("musl", "1.1.22-r3", "apk", source_name="musl"),
        pkg("musl-utils", "1.1.23-r2", "apk", source_name="musl"),
    ]
    got = by_package(scan(db, *packages, os=alpine))
    assert got == {
        "libssl1.1 1.1.1d-r2": {"CVE-2019-1551"},
        "busybox 1.30.1-r1": {"CVE-2019-5747"},
        "musl 1.1.22-r3": {"CVE-2019-14697"},
    }
    # the same packages in another release match nothing of v3.11
    other = by_package(scan(db, *packages, os=OSInfo("alpine", "3.18.4")))
    assert other == {}


def _dsa_oracle(source: str, release: str, installed: str) -> set[str]:
    """DSA ids whose [release] line for `source` has a fix newer than `installed`."""
    text = (DATA / "debian" / "security-tracker" / "data" / "DSA" / "list").read_text()
    current = ""
    fixes: list[tuple[str, str]] = []
    line_re = re.compile(rf"^\s+\[{release}\] - {re.escape(source)} (\S+)\s*$")
    for line in text.splitlines():
        if line.startswith("["):
            current = line.split("] ", 1)[1].split(" ", 1)[0]
            continue
        m = line_re.match(line)
        if m and not m.group(1).startswith("<"):
            fixes.append((current, m.group(1)))
    found = set()
    for advisory, fixed in fixes:
        lower = subprocess.run(["dpkg", "--compare-versions", installed, "lt", fixed])
        if lower.returncode == 0:
            found.add(advisory)
    return found


@pytest.mark.parametrize(
    ("binary", "source", "version"),
    [
        ("libssl1.1", "openssl", "1.1.1k-1"),
        ("curl", "curl", "7.74.0-1.3"),
        ("libtiff5", "tiff", "4.2.0-1"),
    ],
)
def test_debian_11_by_source_package(db: Database, binary: str, source: str, version: str) -> None:
    installed = pkg(binary, version, "deb", source_name=source, source_version=version)
    bullseye = OSInfo("debian", "11", "bullseye")
    expected = _dsa_oracle(source, "bullseye", version)
    assert expected, "the oracle found no advisory: the fixture version is too new"
    findings = scan(db, installed, os=bullseye)
    assert {a for a in advisories_of(findings) if a.startswith("DSA-")} == expected
    assert all(dict(f.evidence)["distro"] == "debian:11" for f in findings)
    # another release: none of bullseye's advisories apply
    bookworm = scan(db, installed, os=OSInfo("debian", "12", "bookworm"))
    assert not ({a for a in advisories_of(bookworm)} & expected)


def test_debian_fixed_version_installed_is_not_vulnerable(db: Database) -> None:
    # DSA list: the newest bullseye openssl fix in the data; installing exactly it matches none
    text = (DATA / "debian" / "security-tracker" / "data" / "DSA" / "list").read_text()
    fixes = re.findall(r"\[bullseye\] - openssl (\d\S+)", text)
    newest = fixes[0]  # the list is newest first
    installed = pkg("libssl1.1", newest, "deb", source_name="openssl", source_version=newest)
    findings = scan(db, installed, os=OSInfo("debian", "11", "bullseye"))
    assert not any(a.startswith("DSA-") for a in advisories_of(findings))
