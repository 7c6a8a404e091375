# ruff: noqa: E501
"""The matcher on hand-made advisories: OSV range semantics, near misses, merging, evidence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubeward.model import Inventory, Location, OSInfo, Package, Severity
from kubeward.vulndb.match import MatchStats, match_inventory
from kubeward.vulndb.model import Advisory, Affected, Range


@dataclass(frozen=True)
class Cand:
    advisory: Advisory
    affected: Affected


class FakeDB:
    """Answers lookups from a list of advisories, keyed like the real store."""

    def __init__(self, advisories: list[Advisory]) -> None:
        self.rows: dict[tuple[str, str, str], list[Cand]] = {}
        for adv in advisories:
            for aff in adv.affected:
                key = (aff.ecosystem, aff.distro or "", aff.name)
                self.rows.setdefault(key, []).append(Cand(adv, aff))
        self.calls: list[tuple[str, str | None, list[str]]] = []

    def lookup(
        self, ecosystem: str, distro: str | None, names: Iterable[str]
    ) -> dict[str, list[Cand]]:
        names = list(names)
        self.calls.append((ecosystem, distro, names))
        out: dict[str, list[Cand]] = {}
        for name in names:
            found = self.rows.get((ecosystem, distro or "", name))
            if found:
                out[name] = found
        return out


def osv(id_: str, name: str, *events: tuple[str, str], eco: str = "pypi", **kw: object) -> Advisory:
    return Advisory(
        id=id_,
        source="osv",
        affected=(Affected(eco, name, ranges=(Range("ECOSYSTEM", tuple(events)),)),),
        **kw,  # type: ignore[arg-type]
    )


def pkg(name: str, version: str, eco: str = "pypi", **kw: object) -> Package:
    return Package(name, version, eco, "", Location(path=f"site/{name}", layer="sha256:l1"), **kw)  # type: ignore[arg-type]


def ids(findings: list) -> list[tuple[str, str, str | None]]:  # type: ignore[type-arg]
    return [(f.package.name, f.rule_id, f.fixed_version) for f in findings]


def run(advisories: list[Advisory], *packages: Package, os: OSInfo | None = None) -> list:  # type: ignore[type-arg]
    inv = Inventory(os=os, packages=tuple(packages))
    return match_inventory(
        inv, FakeDB(advisories), distro_key=lambda i, v, c: f"{i}:{v.split('.')[0]}"
    )


def test_fixed_bound_is_exclusive_and_names_the_fix() -> None:
    adv = osv("PYSEC-1", "requests", ("introduced", "0"), ("fixed", "2.20.0"))
    assert ids(run([adv], pkg("requests", "2.19.1"))) == [("requests", "PYSEC-1", "2.20.0")]
    assert ids(run([adv], pkg("requests", "2.20.0"))) == []  # equal to the fix: not affected
    assert ids(run([adv], pkg("Requests", "2.20.1"))) == []


def test_several_intervals_and_last_affected() -> None:
    adv = osv(
        "GHSA-x",
        "django",
        ("introduced", "0"),
        ("fixed", "2.2.24"),
        ("introduced", "3.0"),
        ("fixed", "3.1.12"),
    )
    assert ids(run([adv], pkg("Django", "2.2.1"))) == [("Django", "GHSA-x", "2.2.24")]
    assert ids(run([adv], pkg("Django", "2.2.24"))) == []
    assert ids(run([adv], pkg("Django", "3.0.5"))) == [("Django", "GHSA-x", "3.1.12")]
    assert ids(run([adv], pkg("Django", "3.2"))) == []
    last = osv("PYSEC-9", "jinja2", ("introduced", "2.0"), ("last_affected", "2.10"))
    assert ids(run([last], pkg("Jinja2", "2.10"))) == [("Jinja2", "PYSEC-9", None)]
    assert ids(run([last], pkg("Jinja2", "2.10.1"))) == []
    assert ids(run([last], pkg("Jinja2", "1.9"))) == []


def test_explicit_versions_withdrawn_and_unfixed() -> None:
    listed = Advisory(
        "OSV-L", "osv", affected=(Affected("pypi", "pyyaml", versions=("5.1", "5.1.1")),)
    )
    assert ids(run([listed], pkg("PyYAML", "5.1"))) == [("PyYAML", "OSV-L", None)]
    assert ids(run([listed], pkg("PyYAML", "5.2"))) == []
    gone = osv(
        "PYSEC-W", "urllib3", ("introduced", "0"), ("fixed", "9"), withdrawn="2024-01-01T00:00:00Z"
    )
    stats = MatchStats()
    inv = Inventory(packages=(pkg("urllib3", "1.24.1"),))
    assert match_inventory(inv, FakeDB([gone]), distro_key=lambda i, v, c: None, stats=stats) == []
    assert stats.withdrawn_ignored == 1


def test_aliases_merge_into_one_finding_with_evidence() -> None:
    pysec = osv(
        "PYSEC-2021-59",
        "urllib3",
        ("introduced", "0"),
        ("fixed", "1.26.5"),
        aliases=("CVE-2021-33503", "GHSA-q2q7-5pp4-w6pg"),
        summary="ReDoS in urllib3",
    )
    ghsa = osv(
        "GHSA-q2q7-5pp4-w6pg",
        "urllib3",
        ("introduced", "1.25.4"),
        ("fixed", "1.26.5"),
        aliases=("CVE-2021-33503",),
        severity=(("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"),),
    )
    [finding] = run([pysec, ghsa], pkg("urllib3", "1.26.4"))
    assert finding.rule_id == "CVE-2021-33503"
    assert finding.aliases == ("GHSA-q2q7-5pp4-w6pg", "PYSEC-2021-59")
    assert finding.severity == Severity.HIGH
    assert finding.fixed_version == "1.26.5"
    assert finding.title == "ReDoS in urllib3"
    assert finding.location == Location(path="site/urllib3", layer="sha256:l1")
    assert dict(finding.evidence) == {
        "advisories": "GHSA-q2q7-5pp4-w6pg,PYSEC-2021-59",
        "affected": "introduced 0, fixed 1.26.5 (ECOSYSTEM) | introduced 1.25.4, fixed 1.26.5 (ECOSYSTEM)",
        "installed": "1.26.4",
        "scheme": "pep440",
        "severitySource": "CVSS_V3 7.5",
        "sources": "osv",
    }
    assert finding.remediation == "Upgrade urllib3 to 1.26.5 or later"


def test_debian_matches_by_source_package_and_release() -> None:
    dsa = Advisory(
        "DSA-5000-1",
        "debian-dsa",
        aliases=("CVE-2022-0001",),
        affected=(
            Affected(
                "deb",
                "openssl",
                ranges=(Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "1.1.1n-0+deb11u1"))),),
                distro="debian:11",
            ),
        ),
    )
    libssl = pkg(
        "libssl1.1",
        "1.1.1k-1+deb11u1",
        "deb",
        source_name="openssl",
        source_version="1.1.1k-1+deb11u1",
    )
    bullseye = OSInfo("debian", "11", "bullseye")
    [finding] = run([dsa], libssl, os=bullseye)
    assert (finding.rule_id, finding.fixed_version) == ("CVE-2022-0001", "1.1.1n-0+deb11u1")
    assert dict(finding.evidence)["distro"] == "debian:11"
    # another release: not matched
    assert run([dsa], libssl, os=OSInfo("debian", "12", "bookworm")) == []
    # fixed version installed: not matched
    fixed = pkg("libssl1.1", "1.1.1n-0+deb11u1", "deb", source_name="openssl")
    assert run([dsa], fixed, os=bullseye) == []


def test_unparsable_version_is_reported_as_not_comparable() -> None:
    adv = osv("PYSEC-2", "weird", ("introduced", "0"), ("fixed", "2.0"))
    [finding] = run([adv], pkg("weird", "not a version!"))
    assert dict(finding.evidence)["comparable"] == "no"
    assert "not comparable" in finding.message
    assert finding.fixed_version is None


def test_an_unparsable_bound_is_not_comparable_every_time() -> None:
    bad = osv("PYSEC-3", "pkg-a", ("introduced", "0"), ("fixed", "not-a-version!"))
    bad2 = osv("PYSEC-4", "pkg-a", ("introduced", "0"), ("fixed", "not-a-version!"))
    findings = run([bad, bad2], pkg("pkg-a", "1.0"), pkg("pkg-a", "2.0"))
    assert [dict(f.evidence).get("comparable") for f in findings] == ["no"] * 4
