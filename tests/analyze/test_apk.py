"""ApkAnalyzer: packages from lib/apk/db/installed."""

from __future__ import annotations

from kubeward.analyze.apk import ApkAnalyzer
from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext
from kubeward.model import Location, Package

LAYER = "sha256:" + "cd" * 32
PATH = "lib/apk/db/installed"

# Shaped like an Alpine 3.19 database; checksums and sizes are made up.
INSTALLED = b"""C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Ter\xc3\xa4s <timo.teras@iki.fi>
t:1704309523
c:5b5c3bb5ab2b0a1bbf5e1ce7a0a1b2c3d4e5f6a7
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1BBBBBBBBBBBBBBBBBBBBBBBBBBBB=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q1CCCCCCCCCCCCCCCCCCCCCCCCCCCC=

C:Q1DDDDDDDDDDDDDDDDDDDDDDDDDDDD=
P:libcrypto3
V:3.1.4-r5
A:x86_64
S:1738548
I:4443136
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1706544343
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3
F:lib
R:libcrypto.so.3
a:0:0:755
Z:Q1EEEEEEEEEEEEEEEEEEEEEEEEEEEE=
F:usr/lib/engines-3
R:afalg.so
Z:Q1FFFFFFFFFFFFFFFFFFFFFFFFFFFF=

C:Q1GGGGGGGGGGGGGGGGGGGGGGGGGGGG=
P:ca-certificates-bundle
V:20240226-r0
A:x86_64
S:126485
I:228864
T:Pre generated bundle of Mozilla certificates
U:https://www.mozilla.org/en-US/about/governance/policies/security-group/certs/
L:MPL-2.0 AND MIT
o:ca-certificates
m:Natanael Copa <ncopa@alpinelinux.org>
t:1709041140
p:ca-certificates-cacert=20240226-r0
F:etc
F:etc/ssl
F:etc/ssl/certs
R:ca-certificates.crt
Z:Q1HHHHHHHHHHHHHHHHHHHHHHHHHHHH=

C:Q1IIIIIIIIIIIIIIIIIIIIIIIIIIII=
P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
F:bin
R:busybox

C:Q1JJJJJJJJJJJJJJJJJJJJJJJJJJJJ=
P:legacy-licence
V:1.0-r0
A:x86_64
L:GPL2+ BSD
"""


def run(data: bytes) -> InventoryBuilder:
    analyzer = ApkAnalyzer(ScanContext())
    facts = InventoryBuilder()
    assert analyzer.wants(PATH, 0o644)
    analyzer.analyze(AnalyzedFile(PATH, data, LAYER), facts)
    analyzer.finish(facts)
    return facts


def pkg(name: str, version: str, lic: tuple[str, ...], source: str) -> Package:
    return Package(
        name=name,
        version=version,
        ecosystem="apk",
        purl="",
        location=Location(path=PATH, layer=LAYER),
        licenses=lic,
        source_name=source,
        source_version=version,
        arch="x86_64",
    )


def test_installed_database() -> None:
    facts = run(INSTALLED)
    assert facts.warnings == []
    assert facts.packages == [
        pkg("musl", "1.2.4_git20230717-r4", ("MIT",), "musl"),
        pkg("libcrypto3", "3.1.4-r5", ("Apache-2.0",), "openssl"),
        pkg("ca-certificates-bundle", "20240226-r0", ("MPL-2.0 AND MIT",), "ca-certificates"),
        pkg("busybox", "1.36.1-r15", ("GPL-2.0-only",), "busybox"),
        pkg("legacy-licence", "1.0-r0", ("GPL2+ BSD",), "legacy-licence"),
    ]


def test_crlf_and_missing_origin() -> None:
    facts = run(b"P:zlib\r\nV:1.3.1-r0\r\nA:aarch64\r\n\r\n\r\n")
    assert facts.packages == [
        Package(
            name="zlib",
            version="1.3.1-r0",
            ecosystem="apk",
            purl="",
            location=Location(path=PATH, layer=LAYER),
            source_name="zlib",
            source_version="1.3.1-r0",
            arch="aarch64",
        )
    ]


def test_wants() -> None:
    analyzer = ApkAnalyzer(ScanContext())
    assert not analyzer.wants("usr/lib/apk/db/installed", 0o644)
    assert not analyzer.wants("lib/apk/db/installed.bak", 0o644)


def test_hostile_input_warns() -> None:
    garbage = bytes(range(256)) * 20
    truncated = INSTALLED[: INSTALLED.index(b"V:1.36.1-r15")]  # busybox loses its V: line
    facts = run(truncated + b"\n\n" + garbage + b"\n\nP:caf\xe9\nV:1-r0\n")
    assert facts.warnings == [
        "lib/apk/db/installed: skipped 2 malformed apk stanza(s), first at stanza 4: no V: field"
    ]
    assert [(p.name, p.version) for p in facts.packages] == [
        ("musl", "1.2.4_git20230717-r4"),
        ("libcrypto3", "3.1.4-r5"),
        ("ca-certificates-bundle", "20240226-r0"),
        ("caf\ufffd", "1-r0"),
    ]


def test_empty_database() -> None:
    facts = run(b"")
    assert (facts.packages, facts.warnings) == ([], [])
