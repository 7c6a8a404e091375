"""The SQLite store: round trip, lookups, merging of reused ids, atomic replacement, and
one-line errors for every kind of unusable file."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest

from kubeward.vulndb.model import Advisory, Affected, Range
from kubeward.vulndb.store import (
    SCHEMA_VERSION,
    Candidate,
    Database,
    DatabaseError,
    DatabaseWriter,
    SourceInfo,
    default_db_path,
)

DJANGO = Advisory(
    id="GHSA-1",
    source="osv",
    summary="Django bug",
    details="details",
    published="2024-01-01T00:00:00Z",
    modified="2024-02-01T00:00:00Z",
    aliases=("CVE-2024-1", "PYSEC-2024-1"),
    references=("https://a", "https://b"),
    severity=(("CVSS_V3", "CVSS:3.1/AV:N"), ("RATING", "high")),
    affected=(
        Affected(
            "pypi",
            "Django",  # stored normalised
            (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "4.2.1"))),),
            versions=("4.0", "4.1"),
        ),
        Affected("pypi", "djangorestframework", (Range("ECOSYSTEM", (("introduced", "3.0"),)),)),
    ),
)
OPENSSL = Advisory(
    id="DSA-1-1",
    source="debian-dsa",
    withdrawn="2024-03-01T00:00:00Z",
    affected=(
        Affected(
            "deb",
            "openssl",
            (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "1.1.1n-0+deb11u1"))),),
            distro="debian:11",
        ),
        Affected("deb", "openssl", distro="debian:12", status="unfixed"),
    ),
)
NO_AFFECTED = Advisory(id="PSF-2017-1", source="osv", aliases=("CVE-2014-4616",))


def bare(advisory: Advisory) -> Advisory:
    return Advisory(
        id=advisory.id,
        source=advisory.source,
        summary=advisory.summary,
        details=advisory.details,
        published=advisory.published,
        modified=advisory.modified,
        withdrawn=advisory.withdrawn,
        aliases=advisory.aliases,
        references=advisory.references,
        severity=advisory.severity,
    )


def build(path: Path, *advisories: Advisory) -> DatabaseWriter:
    with DatabaseWriter(path) as writer:
        for advisory in advisories:
            writer.add(advisory)
        writer.add_source("osv", "/feeds/osv", len(advisories), 2)
        writer.commit()
    return writer


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = default_db_path(tmp_path / "cache")
    build(path, DJANGO, OPENSSL, NO_AFFECTED)
    return path


def test_default_path() -> None:
    assert default_db_path(Path("/c")) == Path("/c/db/kubeward.db")


def test_round_trip_lookup_language_packages(db_path: Path) -> None:
    with Database.open(db_path) as db:
        found = db.lookup("pypi", None, ["Django", "flask", "djangorestframework"])
    assert found == {
        "Django": [
            Candidate(
                bare(DJANGO),
                Affected(
                    "pypi",
                    "django",
                    (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "4.2.1"))),),
                    versions=("4.0", "4.1"),
                ),
            )
        ],
        "djangorestframework": [
            Candidate(
                bare(DJANGO),
                Affected(
                    "pypi", "djangorestframework", (Range("ECOSYSTEM", (("introduced", "3.0"),)),)
                ),
            )
        ],
    }
    # One Advisory object per id, shared by its candidates.
    assert found["Django"][0].advisory is found["djangorestframework"][0].advisory


def test_lookup_by_distro_returns_withdrawn_too(db_path: Path) -> None:
    with Database.open(db_path) as db:
        assert db.lookup("deb", "debian:12", ["openssl", "zlib"]) == {
            "openssl": [
                Candidate(
                    bare(OPENSSL), Affected("deb", "openssl", distro="debian:12", status="unfixed")
                )
            ]
        }
        [candidate] = db.lookup("deb", "debian:11", ["openssl"])["openssl"]
        assert candidate.advisory.withdrawn == "2024-03-01T00:00:00Z"
        assert candidate.affected.distro == "debian:11"
        assert db.lookup("deb", None, ["openssl"]) == {}
        assert db.lookup("deb", "debian:10", ["openssl"]) == {}
        assert db.lookup("pypi", None, []) == {}
        assert db.advisory("PSF-2017-1") == NO_AFFECTED
        assert db.advisory("nope") is None


def test_lookup_many_names_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    advisories = [
        Advisory(
            id=f"X-{i}",
            source="osv",
            aliases=(f"CVE-{i}",),
            affected=(Affected("npm", f"pkg{i}", (Range("SEMVER", (("introduced", "0"),)),)),),
        )
        for i in range(2500)
    ]
    build(path, *advisories)
    names = [f"PKG{i}" for i in range(0, 3000, 2)]
    with Database.open(path) as db:
        found = db.lookup("npm", None, names)
    assert sorted(found) == sorted(f"PKG{i}" for i in range(0, 2500, 2))
    assert found["PKG1998"][0].advisory.aliases == ("CVE-1998",)
    assert found["PKG1998"][0].affected.name == "pkg1998"


def test_reused_id_merges_per_package_and_distro(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    rng = (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "1"))),)
    first = Advisory(
        id="CVE-1",
        source="alpine-secdb",
        summary="first",
        details="kept",
        aliases=("A", "B"),
        affected=(
            Affected("apk", "curl", rng, distro="alpine:3.10"),
            Affected("apk", "libcurl", rng, distro="alpine:3.10"),
        ),
    )
    fixed2 = (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "2"))),)
    second = Advisory(
        id="CVE-1",
        source="alpine-secdb",
        summary="second",
        aliases=("B", "C"),
        affected=(
            Affected("apk", "curl", fixed2, distro="alpine:3.10"),
            Affected("apk", "curl", rng, distro="alpine:3.11"),
        ),
    )
    writer = build(path, first, second)
    assert (writer.records, writer.replaced) == (2, 1)
    with Database.open(path) as db:
        found = db.lookup("apk", "alpine:3.10", ["curl", "libcurl"])
        assert [c.affected.ranges for c in found["curl"]] == [fixed2]
        assert [c.affected.ranges for c in found["libcurl"]] == [rng]
        assert [c.affected.ranges for c in db.lookup("apk", "alpine:3.11", ["curl"])["curl"]] == [
            rng
        ]
        advisory = found["curl"][0].advisory
        assert (advisory.summary, advisory.details, advisory.aliases) == (
            "second",
            "kept",
            ("A", "B", "C"),
        )
        assert db.status().counts == {"advisories": 1, "affected": 3, "aliases": 3}


def test_status(db_path: Path) -> None:
    with Database.open(db_path) as db:
        status = db.status()
        assert db.check() == []
    assert status.path == db_path
    assert status.size == db_path.stat().st_size
    assert status.schema_version == SCHEMA_VERSION
    assert status.sources == [SourceInfo("osv", "/feeds/osv", 3, 2)]
    assert status.counts == {"advisories": 3, "affected": 4, "aliases": 3}
    assert 0 <= status.age_days < 0.01
    assert status.built_at.endswith("Z")


def test_text_that_is_not_utf8_encodable_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    build(path, Advisory(id="X-1", source="osv", summary="bad \ud800 text", aliases=("\udcff",)))
    with Database.open(path) as db:
        advisory = db.advisory("X-1")
    assert advisory is not None
    assert (advisory.summary, advisory.aliases) == ("bad ? text", ("?",))


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_exception_inside_writer_leaves_old_database_untouched(db_path: Path) -> None:
    before = db_path.read_bytes()
    with pytest.raises(RuntimeError, match="boom"), DatabaseWriter(db_path) as writer:
        writer.add(OPENSSL)
        for i in range(6000):  # past one batch, so rows reached the temp file
            writer.add(Advisory(id=f"X-{i}", source="osv"))
        raise RuntimeError("boom")
    assert db_path.read_bytes() == before
    assert listing(db_path.parent) == ["kubeward.db"]


def test_leaving_without_commit_aborts(db_path: Path) -> None:
    before = db_path.read_bytes()
    with DatabaseWriter(db_path) as writer:
        writer.add(OPENSSL)
    assert db_path.read_bytes() == before
    assert listing(db_path.parent) == ["kubeward.db"]


def test_commit_replaces_database_and_open_readers_keep_theirs(db_path: Path) -> None:
    with Database.open(db_path) as old:
        build(db_path, NO_AFFECTED)
        assert old.lookup("pypi", None, ["django"])["django"][0].advisory.id == "GHSA-1"
    with Database.open(db_path) as new:
        assert new.lookup("pypi", None, ["django"]) == {}
        assert new.status().counts["advisories"] == 1
    assert listing(db_path.parent) == ["kubeward.db"]


def test_missing_database(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    with pytest.raises(DatabaseError) as exc:
        Database.open(path)
    assert str(exc.value) == (
        f"no vulnerability database at {path}: run `kubeward db update` "
        "(or `kubeward db import PATH...`)"
    )


def _sqlite_without_our_tables(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()


def _wrong_schema(path: Path) -> None:
    build(path, DJANGO)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


def _garbage(n: int) -> bytes:
    return random.Random(1).randbytes(n)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: p.write_bytes(os.urandom(5000)),
            "{p} is not a kubeward vulnerability database (not SQLite)",
        ),
        (lambda p: p.write_bytes(b""), "{p} is not a kubeward vulnerability database (not SQLite)"),
        (
            lambda p: p.write_text("SQLite format 3"),
            "{p} is not a kubeward vulnerability database (not SQLite)",
        ),
        (
            _sqlite_without_our_tables,
            "{p} is not a kubeward vulnerability database"
            " (no table meta, advisories, aliases, affected)",
        ),
        (
            _wrong_schema,
            "vulnerability database {p} has schema version 99, this kubeward reads 1: "
            "run `kubeward db update` to rebuild it",
        ),
    ],
)
def test_unusable_files_give_one_line(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.db"
    make(path)
    with pytest.raises(DatabaseError) as exc:
        Database.open(path)
    assert str(exc.value) == message.format(p=path)


def test_truncated_database(db_path: Path) -> None:
    data = db_path.read_bytes()
    db_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatabaseError) as exc:
        Database.open(db_path)
    assert str(exc.value) == (
        f"vulnerability database {db_path} is truncated ({len(data) // 2} of {len(data)} bytes):"
        " run `kubeward db update` to rebuild it"
    )


def test_corrupt_schema_page(db_path: Path) -> None:
    data = bytearray(db_path.read_bytes())
    data[100:4096] = _garbage(3996)  # page 1 after the header: the schema
    db_path.write_bytes(bytes(data))
    with pytest.raises(DatabaseError) as exc:
        Database.open(db_path)
    assert str(exc.value) == (
        f"{db_path} is not a readable kubeward vulnerability database"
        " (corrupt: database disk image is malformed)"
    )


def test_corrupt_index_pages_fail_lookup_and_check_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    build(
        path,
        *[
            Advisory(id=f"X-{i}", source="osv", affected=(Affected("npm", f"p{i}"),))
            for i in range(3000)
        ],
    )
    data = bytearray(path.read_bytes())
    end = len(data) - 4096  # the last page holds ANALYZE's statistics; the index is before it
    data[end - 7 * 4096 : end] = _garbage(7 * 4096)
    path.write_bytes(bytes(data))
    message = (
        f"vulnerability database {path} cannot be read (corrupt: database disk image is"
        " malformed): run `kubeward db update` to rebuild it"
    )
    with Database.open(path) as db:
        assert db.status().counts["affected"] == 3000  # meta is intact
        with pytest.raises(DatabaseError) as exc:
            db.lookup("npm", None, [f"p{i}" for i in range(3000)])
        assert str(exc.value) == message
        with pytest.raises(DatabaseError) as exc:
            db.check()
        assert str(exc.value) == message


def test_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatabaseError, match="cannot write the database in"):
        DatabaseWriter(blocker / "db" / "k.db").__enter__()
