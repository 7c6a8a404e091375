"""Format detection, dispatch, OSV zips, counting, and the build of the whole reference set
(timed, then used for a 10,000-name lookup)."""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import time
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeward.vulndb import build as build_module
from kubeward.vulndb.build import BuildStats, build_database
from kubeward.vulndb.importers import detect
from kubeward.vulndb.importers.detect import classify, iter_sources
from kubeward.vulndb.importers.osv import parse_osv
from kubeward.vulndb.model import Advisory, Affected, OnBadRecord, Range
from kubeward.vulndb.store import Database, DatabaseError, SourceInfo

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def osv_json(advisory_id: str, name: str = "pkg", fixed: str = "1.0") -> bytes:
    return json.dumps(
        {
            "id": advisory_id,
            "modified": "2024-01-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": name},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                    ],
                }
            ],
        }
    ).encode()


@pytest.mark.parametrize(
    ("name", "data", "source"),
    [
        (
            "GO-1.json",
            b'{\n  "schema_version": "1.3.1",\n  "id": "GO-1",\n  "modified": "x"}',
            "osv",
        ),
        ("a.json", b'{"id":"A","affected":[]}', "osv"),
        ("PYSEC-1.yaml", b"id: PYSEC-1\nmodified: 2023-01-01\n", "osv"),
        ("x.yml", b"---\naffected: []\nid: X\n", "osv"),
        ("410.json", b'{"id": 410, "module_name": "m", "vulnerable_versions": "<1"}', "nodejs-wg"),
        (
            "main.json",
            b'{"distroversion": "v3.18", "reponame": "main", "packages": []}',
            "alpine-secdb",
        ),
        ("main.yaml", b"---\ndistroversion: v3.11\nreponame: main\npackages:\n", "alpine-secdb"),
        ("t.json", b'{"openssl": {"CVE-2020-1": {"releases": {}}}}', "debian-tracker"),
        ("t.json", b' { "zlib" : { "TEMP-0000000-1" : {}}}', "debian-tracker"),
        ("CVE-1.yml", b"---\ngem: rack\ncve: 2020-1\npatched_versions:\n- '>= 1'\n", "rubysec"),
        ("CVE-2.yml", b"---\nengine: jruby\ntitle: t\n", "rubysec"),
        ("a.yaml", b"title: t\nbranches:\n  1.x: {}\nreference: composer://a/b\n", "friendsofphp"),
        ("b.yaml", b"branches: {}\nreference: 'composer://a/b'\n", "friendsofphp"),
        ("list", b"[29 Mar 2023] DSA-5380-1 xorg-server - security update\n", "debian-dsa"),
        ("list", b"[01 Apr 2023] DLA-3380-1 firmware-nonfree - security update\n", "debian-dla"),
        ("all.zip", b"", "osv"),
        # skipped: other JSON/YAML, Node core advisories, the tracker's config, text
        ("index.json", b'{"1": {"cve": []}}', None),
        ("1.json", b'{"cve": ["CVE-1"], "vulnerable": "8.x", "patched": "^8.1"}', None),
        ("config.json", b'{"repositories": {"etch": "http://x"}}', None),
        ("b.yaml", b"branches: {}\nreference: https://x\n", None),
        ("c.yaml", b"gem: rack\n", None),
        ("d.yaml", b"details: 'id: x'\nsummary: 'modified: y'\n", None),
        ("e.json", b'{"details": "\\"id\\": \\"x\\", \\"modified\\": 1"}', None),
        ("list", b"DSA-1 no date\n", None),
        ("notes.txt", b"anything", None),
    ],
)
def test_classify(name: str, data: bytes, source: str | None) -> None:
    assert classify(Path("feed") / name, data) == source


def fake_parser(tag: str, calls: list[str]):  # type: ignore[no-untyped-def]
    def parse(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
        calls.append(f"{tag}:{Path(origin).name}")
        if b"bad" in data:
            on_bad(f"{origin}: bad record")
            return
        yield Advisory(id=f"{tag}-{Path(origin).stem}", source=tag)

    return parse


@pytest.fixture
def fake_parsers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every non-OSV importer replaced by a recorder (the real ones are tested elsewhere)."""
    calls: list[str] = []
    module = types.ModuleType("fake_importers")
    for source in detect.PARSERS:
        if source != "osv":
            setattr(module, source.replace("-", "_"), fake_parser(source, calls))
            monkeypatch.setitem(
                detect.PARSERS, source, ("fake_importers", source.replace("-", "_"))
            )
    monkeypatch.setitem(sys.modules, "fake_importers", module)
    monkeypatch.setattr(detect, "_parsers", {})
    return calls


def write(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_directory_dispatch_groups_by_source(tmp_path: Path, fake_parsers: list[str]) -> None:
    feed = tmp_path / "feed"
    write(
        feed,
        {
            "LICENSE": b"id: x\nmodified: y\n",
            "README.md": b"# readme",
            ".git/x.json": osv_json("HIDDEN-1"),
            "osv/b/GHSA-2.json": osv_json("GHSA-2"),
            "osv/a/GHSA-1.json": osv_json("GHSA-1"),
            "npm/1.json": b'{"module_name": "m", "vulnerable_versions": "<1"}',
            "npm/2.json": b'{"module_name": "m", "vulnerable_versions": "<1", "x": "bad"}',
            "gems/r/CVE-1.yml": b"gem: r\npatched_versions: []\n",
            "pypi/PYSEC-1.yaml": b"id: PYSEC-1\nmodified: x\n",
            "data/DSA/list": b"[29 Mar 2023] DSA-5380-1 xorg-server - security update\n",
            "other.txt": b"nothing",
        },
    )
    outside = tmp_path / "outside.json"
    outside.write_bytes(osv_json("OUTSIDE-1"))
    (feed / "link.json").symlink_to(outside)
    (feed / "inside-link.json").symlink_to(feed / "osv" / "a" / "GHSA-1.json")
    bad: list[str] = []
    batches = [
        (source, origin, [a.id for a in advisories])
        for source, origin, advisories in iter_sources([feed], bad.append)
    ]
    # Sources in order of first appearance (a directory's files before its subdirectories,
    # each sorted by name); the symlink leading outside the tree is not followed.
    assert batches == [
        ("osv", str(feed), ["GHSA-1", "GHSA-1", "GHSA-2", "PYSEC-1"]),
        ("debian-dsa", str(feed), ["debian-dsa-list"]),
        ("rubysec", str(feed), ["rubysec-CVE-1"]),
        ("nodejs-wg", str(feed), ["nodejs-wg-1"]),
    ]
    assert bad == [f"{feed}/npm/2.json: bad record"]
    assert fake_parsers == [
        "debian-dsa:list",
        "rubysec:CVE-1.yml",
        "nodejs-wg:1.json",
        "nodejs-wg:2.json",
    ]


def test_single_file_and_missing_path(tmp_path: Path, fake_parsers: list[str]) -> None:
    write(tmp_path, {"main.yaml": b"distroversion: v3.11\npackages: []\n", "x.txt": b"x"})
    bad: list[str] = []
    paths = [tmp_path / "main.yaml", tmp_path / "x.txt", tmp_path / "nope"]
    batches = [(s, o, [a.id for a in it]) for s, o, it in iter_sources(paths, bad.append)]
    assert batches == [("alpine-secdb", str(tmp_path / "main.yaml"), ["alpine-secdb-main"])]
    assert bad == [f"{tmp_path / 'nope'}: no such file or directory"]


def test_importer_that_raises_is_contained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]:
        yield Advisory(id="R-1", source="rubysec")
        raise KeyError("oops")

    module = types.ModuleType("broken_importer")
    module.parse = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "broken_importer", module)
    monkeypatch.setitem(detect.PARSERS, "rubysec", ("broken_importer", "parse"))
    monkeypatch.setattr(detect, "_parsers", {})
    write(tmp_path, {"CVE-1.yml": b"gem: r\ntitle: t\n"})
    bad: list[str] = []
    [(_, _, advisories)] = list(iter_sources([tmp_path], bad.append))
    assert [a.id for a in advisories] == ["R-1"]
    assert bad == [f"{tmp_path}/CVE-1.yml: rubysec importer failed: KeyError: 'oops'"]


def test_missing_importer_module_skips_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(detect.PARSERS, "rubysec", ("kubeward.no_such_module", "parse"))
    monkeypatch.setattr(detect, "_parsers", {})
    write(tmp_path, {"CVE-1.yml": b"gem: r\ntitle: t\n", "GO-1.json": osv_json("GO-1")})
    bad: list[str] = []
    batches = [(s, [a.id for a in it]) for s, _, it in iter_sources([tmp_path], bad.append)]
    assert (batches, bad) == ([("osv", ["GO-1"])], [])


def make_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_osv_zip_import(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    make_zip(
        archive,
        {
            "GHSA-1.json": osv_json("GHSA-1", "requests", "2.0"),
            "dir/": b"",
            "PYSEC-2.json": osv_json("PYSEC-2", "flask", "3.0"),
            "broken.json": b'{"id": ',
            "notes.txt": b"ignored",
            "bomb.json": b'{"id": "BOMB", "x": "' + b"a" * (4 << 20) + b'"}',
        },
    )
    bad: list[str] = []
    stats = build_database([archive], tmp_path / "db" / "k.db", bad.append)
    assert (stats.records, stats.advisories, stats.skipped, stats.replaced) == (2, 2, 2, 0)
    assert stats.sources == (SourceInfo("osv", str(archive), 2, 2),)
    assert bad == [
        f"{archive}:broken.json: not valid JSON or YAML: Expecting value: line 1 column 8 (char 7)",
        f"{archive}:bomb.json: skipped, compression ratio over 200",
    ]
    with Database.open(tmp_path / "db" / "k.db") as db:
        [candidate] = db.lookup("pypi", None, ["Flask"])["Flask"]
    assert candidate.affected.ranges == (
        Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "3.0"))),
    )


def test_zip_member_caps_and_bad_archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "MAX_MEMBER_BYTES", 1000)
    archive = tmp_path / "osv.zip"
    make_zip(archive, {"big.json": osv_json("BIG-1", "x" * 2000), "ok.json": osv_json("OK-1")})
    not_zip = tmp_path / "fake.zip"
    not_zip.write_bytes(b"PK\x03\x04 not really")
    bad: list[str] = []
    found = [(s, [a.id for a in it]) for s, _, it in iter_sources([archive, not_zip], bad.append)]
    assert found == [("osv", ["OK-1"]), ("osv", [])]
    big = len(osv_json("BIG-1", "x" * 2000))
    assert bad == [
        f"{archive}:big.json: skipped, {big} bytes is over 1000",
        f"{not_zip}: not a readable zip archive: File is not a zip file",
    ]


def test_zip_member_lying_about_its_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "MAX_MEMBER_BYTES", 100)
    data = osv_json("LIE-1", "y" * 300)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("lie.json", data)
    raw = buffer.getvalue()
    size = len(data).to_bytes(4, "little")
    # Rewrite the central directory's declared size (ZipFile trusts it) to 50 bytes.
    raw = raw.replace(size + size, (50).to_bytes(4, "little") * 2)
    path = tmp_path / "lie.zip"
    path.write_bytes(raw)
    bad: list[str] = []
    assert [a.id for a in detect.iter_zip(path, parse_osv, bad.append)] == []
    assert bad == [f"{path}:lie.json: cannot read the member: Bad CRC-32 for file 'lie.json'"]


def test_build_counts_malformed_records_and_replacements(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    write(
        feed,
        {
            "a/GHSA-1.json": osv_json("GHSA-1", "one", "1.0"),
            "b/GHSA-1.json": osv_json("GHSA-1", "one", "2.0"),
            "b/GHSA-2.json": osv_json("GHSA-2", "two"),
            "c/bad1.json": b'{"id": "BAD", "affected": 1}',
            "c/bad2.yaml": b"id: BAD2\nmodified: [\n",
        },
    )
    out = tmp_path / "k.db"
    bad: list[str] = []
    stats = build_database([feed], out, bad.append)
    assert (stats.records, stats.advisories, stats.skipped, stats.replaced) == (3, 2, 2, 1)
    assert stats.sources == (SourceInfo("osv", str(feed), 3, 2),)
    assert stats.size == out.stat().st_size
    assert len(bad) == 2
    with Database.open(out) as db:
        [candidate] = db.lookup("pypi", None, ["one"])["one"]
        assert candidate.affected.ranges == (
            Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "2.0"))),
        )
        assert db.status().sources == [SourceInfo("osv", str(feed), 3, 2)]


def test_nothing_importable_leaves_old_database(tmp_path: Path) -> None:
    out = tmp_path / "k.db"
    write(tmp_path / "good", {"GO-1.json": osv_json("GO-1")})
    build_database([tmp_path / "good"], out, lambda m: None)
    before = out.read_bytes()
    write(tmp_path / "empty", {"README.md": b"x", "bad.json": b'{"id": "X", "modified": 1}'})
    bad: list[str] = []
    with pytest.raises(DatabaseError) as exc:
        build_database([tmp_path / "empty"], out, bad.append)
    assert str(exc.value) == f"no importable advisories found in {tmp_path / 'empty'}"
    assert bad == [
        f"{tmp_path / 'empty'}/bad.json (X): malformed OSV record: 'modified' is not text"
    ]
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["empty", "good", "k.db"]
    with pytest.raises(DatabaseError, match="no such file or directory: /nonexistent"):
        build_database([Path("/nonexistent")], out, bad.append)


def test_progress_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "PROGRESS_EVERY", 2)
    write(tmp_path / "f", {f"G-{i}.json": osv_json(f"G-{i}") for i in range(5)})
    seen: list[tuple[str, int]] = []
    build_database(
        [tmp_path / "f"], tmp_path / "k.db", lambda m: None, lambda s, n: seen.append((s, n))
    )
    assert seen == [("osv", 2), ("osv", 4)]


# --- the whole reference set -------------------------------------------------------------

FULL_PATHS = [DATA / "osv", DATA / "debian", DATA / "alpine"]
OTHER_IMPORTERS = {
    "debian-dsa": "debian",
    "debian-dla": "debian",
    "alpine-secdb": "alpine",
    "rubysec": "rubysec",
    "friendsofphp": "friendsofphp",
    "nodejs-wg": "nodejs_wg",
}


@pytest.fixture(scope="module")
def full_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildStats]:
    out = tmp_path_factory.mktemp("full") / "kubeward.db"
    stats = build_database(FULL_PATHS, out, lambda message: None)
    assert stats.seconds < 60, stats
    return out, stats


def _importable(module: str) -> bool:
    try:
        importlib.import_module(f"kubeward.vulndb.importers.{module}")
    except ImportError:
        return False
    return True


def test_full_import_counts(full_db: tuple[Path, BuildStats]) -> None:
    path, stats = full_db
    by_source = {(s.name, Path(s.origin).name): s for s in stats.sources}
    osv = by_source[("osv", "osv")]
    # 132 PSF + 1,206 RustSec + 4,291 Go + 48 k8s + 2,660 PyPI records, one malformed-free
    # pass (the feed's last_updated.json and .id-allocator are not records).
    assert (osv.records, osv.skipped) == (8337, 0)
    for source, module in OTHER_IMPORTERS.items():
        if _importable(module):
            assert any(s.name == source and s.records > 0 for s in stats.sources), source
    with Database.open(path) as db:
        status = db.status()
        [go] = db.lookup("golang", None, ["github.com/goharbor/harbor"])[
            "github.com/goharbor/harbor"
        ][:1]
    assert status.counts["advisories"] == stats.advisories
    assert status.sources == list(stats.sources)
    assert go.affected.ranges[0].type == "SEMVER"


def test_lookup_of_10000_names_is_fast(full_db: tuple[Path, BuildStats]) -> None:
    path, _ = full_db
    with Database.open(path) as db:
        real = [
            row[0]
            for row in db._conn.execute(
                "SELECT DISTINCT name FROM affected WHERE ecosystem = 'golang' ORDER BY name"
            )
        ]
        names = (real + [f"example.com/none/{i}" for i in range(10_000)])[:10_000]
        seconds = float("inf")
        for _ in range(3):  # best of three: this machine's neighbours are noisy
            start = time.perf_counter()
            found = db.lookup("golang", None, names)
            seconds = min(seconds, time.perf_counter() - start)
    assert len(found) == len(real)
    assert seconds < 0.5, seconds


def test_osv_pypi_record_from_full_import(full_db: tuple[Path, BuildStats]) -> None:
    path, _ = full_db
    with Database.open(path) as db:
        candidates = db.lookup("pypi", None, ["Jinja2"])["Jinja2"]
    [pysec] = [c for c in candidates if c.advisory.id == "PYSEC-2019-217"]
    assert pysec.affected == Affected(
        "pypi",
        "jinja2",
        (Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "2.10.1"))),),
        versions=pysec.affected.versions,
    )
    assert len(pysec.affected.versions) == 31
