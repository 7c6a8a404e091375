"""Hand-built ScanResults that the report writer tests render, handed out as fixtures.

Tests take these through fixtures only (never `from conftest import`), so that another
tests/ folder with its own conftest.py cannot shadow this one.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubeward.model import (
    ArtifactInfo,
    Finding,
    Inventory,
    LayerInfo,
    Location,
    OSInfo,
    Package,
    ScanResult,
    Severity,
)

BASE_LAYER = "sha256:" + "1" * 64
APP_LAYER = "sha256:" + "2" * 64
IMAGE_ID = "sha256:" + "a" * 64
REPO_DIGEST = "sha256:" + "d" * 64

OPENSSL = Package(
    name="libssl3",
    version="3.0.11-1~deb12u2",
    ecosystem="deb",
    purl="pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
    location=Location(path="var/lib/dpkg/status", layer=BASE_LAYER),
    licenses=("Apache-2.0",),
    source_name="openssl",
    source_version="3.0.11-1~deb12u2",
    arch="amd64",
)
REQUESTS = Package(
    name="requests",
    version="2.31.0",
    ecosystem="pypi",
    purl="pkg:pypi/requests@2.31.0",
    location=Location(
        path="usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", layer=APP_LAYER
    ),
    licenses=("MIT",),
)
BABEL = Package(
    name="@babel/core",
    version="7.23.2",
    ecosystem="npm",
    purl="pkg:npm/%40babel/core@7.23.2",
    location=Location(path="app/node_modules/@babel/core/package.json", layer=APP_LAYER),
    licenses=("MIT OR Apache-2.0",),
    metadata=(("dev", "true"),),
)
LOG4J = Package(
    name="org.apache.logging.log4j:log4j-core",
    version="2.14.1",
    ecosystem="maven",
    purl="pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
    location=Location(path="app/lib/log4j-core-2.14.1.jar", layer=APP_LAYER),
    licenses=("Apache-2.0",),
    metadata=(("groupId", "org.apache.logging.log4j"),),
)
CUSTOM = Package(
    name="inhouse",
    version="1.0",
    ecosystem="pypi",
    purl="pkg:pypi/inhouse@1.0",
    location=Location(path="app/inhouse-1.0.dist-info/METADATA", layer=APP_LAYER),
    licenses=("Proprietary, see LICENSE.txt",),
)


def make_result(*packages: Package, findings: tuple[Finding, ...] = ()) -> ScanResult:
    return ScanResult(
        artifact=ArtifactInfo(
            name="registry.example/shop/cart:1.4",
            kind="registry",
            image_id=IMAGE_ID,
            repo_digest=REPO_DIGEST,
            architecture="amd64",
            os="linux",
            layers=(
                LayerInfo(
                    diff_id=BASE_LAYER, digest="sha256:" + "b" * 64, size=1024, created_by=""
                ),
                LayerInfo(
                    diff_id=APP_LAYER,
                    digest="sha256:" + "c" * 64,
                    size=2048,
                    created_by="COPY app /app # buildkit",
                ),
            ),
            repo_tags=("registry.example/shop/cart:1.4",),
        ),
        inventory=Inventory(
            os=OSInfo(
                id="debian",
                version="12",
                codename="bookworm",
                name="Debian GNU/Linux 12 (bookworm)",
                path="etc/os-release",
            ),
            packages=tuple(sorted(packages, key=Package.sort_key)),
        ),
        findings=findings,
        warnings=("app/broken.jar: not a zip file",),
    )


LOG4SHELL = Finding(
    kind="vulnerability",
    rule_id="CVE-2021-44228",
    title="Apache Log4j2 JNDI features do not protect against attacker controlled LDAP",
    severity=Severity.CRITICAL,
    location=Location(path="app/lib/log4j-core-2.14.1.jar", layer=APP_LAYER),
    message="log4j-core 2.14.1 is affected; fixed in 2.15.0",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2021-44228",),
    package=LOG4J,
    fixed_version="2.15.0",
)


@pytest.fixture
def build_result() -> Callable[..., ScanResult]:
    """make_result: a two-layer Debian image holding the given packages."""
    return make_result


@pytest.fixture
def full_result() -> ScanResult:
    return make_result(OPENSSL, REQUESTS, BABEL, LOG4J, CUSTOM, findings=(LOG4SHELL,))


@pytest.fixture(autouse=True)
def fixed_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2024-01-02T03:04:05Z
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1704164645")


HOSTILE_TEXTS = (
    "evil\x00\x01\x1b[31mred\x1b[0m\r\nname",
    "</script><script>alert(1)</script>",
    "[bold red]markup[/] & <b>\"quoted\"</b> 'single'",
    "ünïcødé-名前-😀-\u202eevil\u2028line",
    "surrogate-\udcff-byte",
    "x" * 20_000,
)


@pytest.fixture
def hostile_result() -> ScanResult:
    packages = tuple(
        Package(
            name=text,
            version=text[:50] or "1",
            ecosystem="npm",
            purl=f"pkg:npm/{text}@1",
            location=Location(path=text, layer=APP_LAYER),
            licenses=(text, "MIT"),
            source_name=text,
            source_version=text,
            metadata=(("note", text),),
        )
        for text in HOSTILE_TEXTS
    )
    finding = Finding(
        kind="secret",
        rule_id=HOSTILE_TEXTS[0],
        title=HOSTILE_TEXTS[1],
        severity=Severity.HIGH,
        location=Location(path=HOSTILE_TEXTS[3], line=3),
        message=HOSTILE_TEXTS[2],
    )
    return ScanResult(
        artifact=ArtifactInfo(name=HOSTILE_TEXTS[1], kind="docker-archive"),
        inventory=Inventory(
            os=OSInfo(id=HOSTILE_TEXTS[3], version="", name=HOSTILE_TEXTS[0]),
            packages=tuple(sorted(packages, key=Package.sort_key)),
        ),
        findings=(finding,),
        warnings=HOSTILE_TEXTS,
    )
