"""RpmAnalyzer against real rpm databases of all three formats and against rpm itself.

Real databases come from ../shared/data/rpmdb (read in place, never copied into the repo);
rpm and rpmbuild are the Debian peers listed in PEERS.md.
"""

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from kubeward.analyze import rpm as rpm_module
from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext
from kubeward.analyze.rpm import RpmAnalyzer, split_source_rpm
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Location, Package

TESTDATA = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "rpmdb"
    / "knqyf263-go-rpmdb"
    / "pkg"
    / "testdata"
)
LAYER = "sha256:" + "cd" * 32
# rpm -qa with the version exactly as kubeward prints it ("EPOCH:" only when the tag is set),
# plus the facts kubeward reads; rpm prints "(none)" for an absent tag.
QUERY_FORMAT = (
    "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}"
    "\\t%{LICENSE}\\n"
)


def scan(path: str, data: bytes) -> InventoryBuilder:
    analyzer = RpmAnalyzer(ScanContext())
    assert analyzer.wants(path, 0o644)
    facts = InventoryBuilder()
    analyzer.analyze(AnalyzedFile(path=path, data=data, layer=LAYER), facts)
    analyzer.finish(facts)
    return facts


@pytest.fixture
def raw_licenses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make licences the declared text, so tests can compare with rpm's own output."""
    monkeypatch.setattr(rpm_module, "normalize_license", lambda text: f"<{text}>")


def facts_of(packages: list[Package]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for p in packages:
        meta = dict(p.metadata)
        assert len(p.licenses) <= 1
        lic = p.licenses[0][1:-1] if p.licenses else "(none)"
        rows.append((p.name, p.version, p.arch or "(none)", meta.get("sourceRpm", "(none)"), lic))
    return sorted(rows)


def rpm_qa(dbpath: Path) -> list[tuple[str, ...]]:
    out = subprocess.run(
        ["rpm", "--dbpath", str(dbpath), "-qa", "--qf", QUERY_FORMAT],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(tuple(line.split("\t")) for line in out.splitlines())


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("var/lib/rpm/rpmdb.sqlite", True),
        ("usr/lib/sysimage/rpm/rpmdb.sqlite", True),
        ("var/lib/rpm/Packages", True),
        ("var/lib/rpm/Packages.db", True),
        ("usr/lib/sysimage/rpm/Packages.db", True),
        ("var/lib/rpm/rpmdb.sqlite-wal", False),
        ("var/lib/rpm/Name", False),
        ("home/user/var/lib/rpm/Packages", False),
        ("var/cache/Packages", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert RpmAnalyzer(ScanContext()).wants(path, 0o644) is wanted


def test_sqlite_matches_rpm_qa(tmp_path: Path, raw_licenses: None) -> None:
    source = TESTDATA / "cbl-mariner-2.0" / "rpmdb.sqlite"
    dbpath = tmp_path / "db"
    dbpath.mkdir()
    # rpm may want to write next to its database (lock, shm): query a copy.
    shutil.copyfile(source, dbpath / "rpmdb.sqlite")
    expected = rpm_qa(dbpath)
    assert len(expected) == 129

    facts = scan("var/lib/rpm/rpmdb.sqlite", source.read_bytes())

    assert facts.warnings == []
    assert facts_of(facts.packages) == expected
    # Three packages carry an epoch; spot-check the whole Package of one.
    with_epoch = sorted(p.name for p in facts.packages if ":" in p.version)
    assert with_epoch == ["ca-certificates-base", "ca-certificates-shared", "ca-certificates-tools"]
    base = next(p for p in facts.packages if p.name == "ca-certificates-base")
    assert base == Package(
        name="ca-certificates-base",
        version="1:2.0.0-1.cm2",
        ecosystem="rpm",
        purl="",
        location=Location(path="var/lib/rpm/rpmdb.sqlite", layer=LAYER),
        licenses=("<MPLv2.0>",),
        source_name="ca-certificates",
        source_version="2.0.0-1.cm2",
        arch="noarch",
        metadata=(
            ("epoch", "1"),
            ("release", "1.cm2"),
            ("sourceRpm", "ca-certificates-2.0.0-1.cm2.src.rpm"),
        ),
    )


SPEC_WITH_EPOCH = """\
Name: kwtest
Version: 1.2.3
Release: 4.kw1
Epoch: 3
Summary: kubeward test package
License: GPLv2+ and MIT

%description
Built by kubeward's tests.

%package data
Summary: kubeward test data
BuildArch: noarch

%description data
Built by kubeward's tests.

%files

%files data
"""

SPEC_PLAIN = """\
Name: kwplain
Version: 0.9
Release: 1
Summary: kubeward test package without an epoch
License: MIT
BuildArch: noarch

%description
Built by kubeward's tests.

%files
"""


def build_rpms(tmp_path: Path) -> list[Path]:
    top = tmp_path / "rpmbuild"
    for name, text in (("kwtest.spec", SPEC_WITH_EPOCH), ("kwplain.spec", SPEC_PLAIN)):
        spec = tmp_path / name
        spec.write_text(text)
        command = ["rpmbuild", "-bb", "--nodeps", "--target", "x86_64"]
        subprocess.run(
            [*command, "--define", f"_topdir {top}", str(spec)],
            check=True,
            capture_output=True,
        )
    return sorted((top / "RPMS").glob("*/*.rpm"))


def install(dbpath: Path, rpms: list[Path]) -> None:
    dbpath.mkdir()
    subprocess.run(["rpm", "--dbpath", str(dbpath), "--initdb"], check=True, capture_output=True)
    subprocess.run(
        ["rpm", "--dbpath", str(dbpath), "-i", "--justdb", "--nodeps", "--ignorearch"]
        + [str(r) for r in rpms],
        check=True,
        capture_output=True,
    )


def test_rpmbuild_packages_in_fresh_sqlite_db(tmp_path: Path) -> None:
    rpms = build_rpms(tmp_path)
    assert [r.name for r in rpms] == [
        "kwplain-0.9-1.noarch.rpm",
        "kwtest-data-1.2.3-4.kw1.noarch.rpm",
        "kwtest-1.2.3-4.kw1.x86_64.rpm",
    ]
    dbpath = tmp_path / "db"
    install(dbpath, rpms)

    path = "usr/lib/sysimage/rpm/rpmdb.sqlite"
    facts = scan(path, (dbpath / "rpmdb.sqlite").read_bytes())

    where = Location(path=path, layer=LAYER)
    kwtest = Package(
        name="kwtest",
        version="3:1.2.3-4.kw1",
        ecosystem="rpm",
        purl="",
        location=where,
        licenses=(normalize_license("GPLv2+ and MIT"),),
        source_name="kwtest",
        source_version="1.2.3-4.kw1",
        arch="x86_64",
        metadata=(
            ("epoch", "3"),
            ("release", "4.kw1"),
            ("sourceRpm", "kwtest-1.2.3-4.kw1.src.rpm"),
        ),
    )
    assert facts.warnings == []
    assert sorted(facts.packages, key=Package.sort_key) == [
        Package(
            name="kwplain",
            version="0.9-1",
            ecosystem="rpm",
            purl="",
            location=where,
            licenses=(normalize_license("MIT"),),
            source_name="kwplain",
            source_version="0.9-1",
            arch="noarch",
            metadata=(("release", "1"), ("sourceRpm", "kwplain-0.9-1.src.rpm")),
        ),
        kwtest,
        dataclasses.replace(kwtest, name="kwtest-data", arch="noarch"),
    ]


def test_declared_licence_goes_through_normalize_license(
    tmp_path: Path, raw_licenses: None
) -> None:
    dbpath = tmp_path / "db"
    install(dbpath, build_rpms(tmp_path))
    facts = scan("var/lib/rpm/rpmdb.sqlite", (dbpath / "rpmdb.sqlite").read_bytes())
    assert {p.name: p.licenses for p in facts.packages} == {
        "kwplain": ("<MIT>",),
        "kwtest": ("<GPLv2+ and MIT>",),
        "kwtest-data": ("<GPLv2+ and MIT>",),
    }
    assert facts_of(facts.packages) == rpm_qa(dbpath)


@pytest.mark.skipif(shutil.which("gpg") is None, reason="needs gpg to make a signing key")
def test_gpg_pubkey_listed_like_rpm_qa(tmp_path: Path, raw_licenses: None) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--passphrase", ""]
    subprocess.run(
        [*gpg, "--quick-gen-key", "kw <kw@example.invalid>", "ed25519", "sign", "never"],
        check=True,
        capture_output=True,
    )
    key = tmp_path / "key.asc"
    key.write_bytes(
        subprocess.run([*gpg, "--armor", "--export"], check=True, capture_output=True).stdout
    )
    dbpath = tmp_path / "db"
    install(dbpath, build_rpms(tmp_path)[:1])
    subprocess.run(["rpm", "--dbpath", str(dbpath), "--import", str(key)], check=True)

    facts = scan("var/lib/rpm/rpmdb.sqlite", (dbpath / "rpmdb.sqlite").read_bytes())

    expected = rpm_qa(dbpath)
    assert [row[0] for row in expected] == ["gpg-pubkey", "kwplain"]
    assert facts_of(facts.packages) == expected
    pubkey = next(p for p in facts.packages if p.name == "gpg-pubkey")
    assert (pubkey.arch, pubkey.source_name, pubkey.licenses) == (None, None, ("<pubkey>",))


def test_bdb_libuuid(raw_licenses: None) -> None:
    # Expected values read from the raw file with `strings -n 3 libuuid/Packages`: the one
    # header's strings are libuuid, 2.32.1, 42.el8_8, BSD, x86_64 and
    # util-linux-2.32.1-42.el8_8.src.rpm; it has no Epoch entry (no aligned tag 1003 =
    # 00 00 03 eb with type 4 in `xxd -p`). One header: the immutable-region index entry
    # (tag 63, type 7, small offset: 0000003f0000000700 in `xxd -p`) occurs once.
    data = (TESTDATA / "libuuid" / "Packages").read_bytes()
    facts = scan("var/lib/rpm/Packages", data)
    assert facts.warnings == []
    assert facts.packages == [
        Package(
            name="libuuid",
            version="2.32.1-42.el8_8",
            ecosystem="rpm",
            purl="",
            location=Location(path="var/lib/rpm/Packages", layer=LAYER),
            licenses=("<BSD>",),
            source_name="util-linux",
            source_version="2.32.1-42.el8_8",
            arch="x86_64",
            metadata=(("release", "42.el8_8"), ("sourceRpm", "util-linux-2.32.1-42.el8_8.src.rpm")),
        )
    ]


def test_ndb_sle15(raw_licenses: None) -> None:
    # The count is the number of blob-head magics: `grep -o -a BlbS Packages.db | wc -l` = 35
    # (the slot page holds 254 "Slot" records), and the immutable-region index entry
    # 0000003f0000000700 occurs 35 times in `xxd -p`. The facts below were each
    # found as whole strings with `strings -n 3 Packages.db | grep -x -F ...` (for example
    # gcc11-11.2.1+git610-1.3.9.src.rpm, "GPL-3.0-or-later WITH GCC-exception-3.1",
    # "BSD-3-Clause or GPL-2.0"), and no header holds an Epoch entry (no 000003eb00000004
    # in `xxd -p`).
    data = (TESTDATA / "sle15-bci" / "Packages.db").read_bytes()
    facts = scan("usr/lib/sysimage/rpm/Packages.db", data)
    assert facts.warnings == []
    assert len(facts.packages) == 35
    assert len({p.name for p in facts.packages}) == 35
    assert all(":" not in p.version for p in facts.packages)
    rows = facts_of(facts.packages)
    for row in [
        (
            "libgcc_s1",
            "11.2.1+git610-1.3.9",
            "x86_64",
            "gcc11-11.2.1+git610-1.3.9.src.rpm",
            "GPL-3.0-or-later WITH GCC-exception-3.1",
        ),
        ("libreadline7", "7.0-19.6.1", "x86_64", "bash-4.4-19.6.1.src.rpm", "GPL-3.0-or-later"),
        ("libpcre1", "8.45-20.10.1", "x86_64", "pcre-8.45-20.10.1.src.rpm", "BSD-3-Clause"),
        ("libcap2", "2.26-4.6.1", "x86_64", "libcap-2.26-4.6.1.src.rpm", "BSD-3-Clause or GPL-2.0"),
        (
            "system-user-root",
            "20190513-3.3.1",
            "noarch",
            "system-user-root-20190513-3.3.1.src.rpm",
            "MIT",
        ),
        ("rpm-ndb", "4.14.3-40.1", "x86_64", "rpm-ndb-4.14.3-40.1.src.rpm", "GPL-2.0-or-later"),
    ]:
        assert row in rows
    readline = next(p for p in facts.packages if p.name == "libreadline7")
    assert (readline.source_name, readline.source_version) == ("bash", "4.4-19.6.1")


@pytest.mark.parametrize(
    ("srpm", "expected"),
    [
        ("util-linux-2.32.1-42.el8_8.src.rpm", ("util-linux", "2.32.1-42.el8_8")),
        ("gcc11-11.2.1+git610-1.3.9.src.rpm", ("gcc11", "11.2.1+git610-1.3.9")),
        ("foo-1-2.nosrc.rpm", ("foo", "1-2")),
        ("foo-1.src.rpm", None),
        ("foo-1-2.x86_64.rpm", None),
        ("-1-2.src.rpm", None),
    ],
)
def test_split_source_rpm(srpm: str, expected: tuple[str, str] | None) -> None:
    assert split_source_rpm(srpm) == expected
