"""`kubeward db import|status|update` through the real argument parser and error handling."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from kubeward.cli import main as cli

GO = b"""{"id": "GO-2024-1", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2024-9"],
 "affected": [{"package": {"ecosystem": "Go", "name": "example.com/m"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}]}]}"""
PYSEC = b"""id: PYSEC-2024-1
modified: 2024-01-01T00:00:00Z
affected:
- package: {ecosystem: PyPI, name: demo}
  versions: ['1.0']
"""


@pytest.fixture(autouse=True)
def db_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # Until the lead registers the command in cli/main.py COMMANDS.
    monkeypatch.setitem(
        cli.COMMANDS, "db", ("kubeward.cli.db", "manage the vulnerability database")
    )


def kubeward(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    root = tmp_path / "feed"
    (root / "go").mkdir(parents=True)
    (root / "go" / "GO-2024-1.json").write_bytes(GO)
    (root / "pypi").mkdir()
    (root / "pypi" / "PYSEC-2024-1.yaml").write_bytes(PYSEC)
    (root / "pypi" / "bad.yaml").write_bytes(b"id: BAD\nmodified: [x]\n")
    (root / "LICENSE").write_text("licence")
    return root


SUMMARY = re.compile(
    r"imported 2 advisories from 1 sources in \d+\.\d s \(1 malformed records skipped\)"
)


def test_import_then_status(capsys: pytest.CaptureFixture[str], tmp_path: Path, feed: Path) -> None:
    cache = tmp_path / "cache"
    code, out, err = kubeward(capsys, "--cache-dir", str(cache), "db", "import", str(feed))
    assert (code, out) == (0, "")
    lines = err.splitlines()
    assert lines[0] == (
        f"kubeward: warning: {feed}/pypi/bad.yaml (BAD): malformed OSV record:"
        " 'modified' is not text"
    )
    assert SUMMARY.fullmatch(lines[1]), lines
    assert len(lines) == 2
    db = cache / "db" / "kubeward.db"
    assert db.is_file()

    code, out, err = kubeward(capsys, "db", "status", "--cache-dir", str(cache))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"database    {db}"
    assert lines[1] == "schema      1"
    assert re.fullmatch(r"built       \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(0\.0 days ago\)", lines[2])
    assert re.fullmatch(r"size        \d+\.\d KiB", lines[3])
    assert lines[4:] == [
        "advisories  2",
        "affected    2",
        "aliases     1",
        "",
        "SOURCE   RECORDS   SKIPPED  ORIGIN",
        f"osv            2         1  {feed}",
    ]


def test_status_json_and_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, feed: Path
) -> None:
    db = tmp_path / "k.db"
    assert kubeward(capsys, "db", "import", "--db", str(db), "-q", str(feed))[:3] == (0, "", "")
    code, out, err = kubeward(capsys, "db", "status", "--db", str(db), "-f", "json", "--check")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["path"] == str(db)
    assert document["schema_version"] == 1
    assert document["size"] == db.stat().st_size
    assert document["counts"] == {"advisories": 2, "affected": 2, "aliases": 1}
    assert document["sources"] == [{"name": "osv", "origin": str(feed), "records": 2, "skipped": 1}]
    assert document["integrity"] == "ok"
    assert document["age_days"] == 0.0

    report = tmp_path / "status.json"
    code, out, err = kubeward(
        capsys, "--format", "json", "-o", str(report), "db", "status", "--db", str(db)
    )
    assert (code, out, err) == (0, "", "")
    assert "integrity" not in json.loads(report.read_text())


def one_line_error(result: tuple[int, str, str], message: str) -> None:
    assert result == (2, "", f"kubeward: error: {message}\n")


def test_status_without_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    one_line_error(
        kubeward(capsys, "--cache-dir", str(tmp_path), "db", "status"),
        f"no vulnerability database at {tmp_path}/db/kubeward.db: run `kubeward db update` "
        "(or `kubeward db import PATH...`)",
    )


def test_status_of_corrupt_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00\x01garbage" * 100)
    one_line_error(
        kubeward(capsys, "db", "status", "--db", str(junk)),
        f"{junk} is not a kubeward vulnerability database (not SQLite)",
    )
    one_line_error(
        kubeward(capsys, "db", "status", "--db", str(junk), "-f", "xml"),
        "--format xml: db status writes table or json",
    )


def test_import_of_nothing_keeps_old_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, feed: Path
) -> None:
    db = tmp_path / "k.db"
    assert kubeward(capsys, "db", "import", "--db", str(db), str(feed))[0] == 0
    before = db.read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("nothing")
    one_line_error(
        kubeward(capsys, "db", "import", "--db", str(db), str(empty)),
        f"no importable advisories found in {empty}",
    )
    one_line_error(
        kubeward(capsys, "db", "import", "--db", str(db), str(tmp_path / "missing")),
        f"no such file or directory: {tmp_path / 'missing'}",
    )
    assert db.read_bytes() == before


def test_many_malformed_records_are_summarised(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, feed: Path
) -> None:
    for i in range(13):
        (feed / f"bad{i:02}.json").write_bytes(b'{"id": "B", "modified": "x", "affected": 3}')
    code, out, err = kubeward(capsys, "db", "import", "--db", str(tmp_path / "k.db"), str(feed))
    lines = err.splitlines()
    assert (code, out, len(lines)) == (0, "", 12)
    assert lines[0] == (
        f"kubeward: warning: {feed}/bad00.json (B): malformed OSV record: 'affected' is not a list"
    )
    assert lines[10] == (
        "kubeward: warning: 4 more malformed records not shown (--debug shows them)"
    )
    assert re.fullmatch(
        r"imported 2 advisories from 1 sources in \d+\.\d s \(14 malformed records skipped\)",
        lines[11],
    )


def test_update_is_delegated(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[object] = []
    fake = types.ModuleType("kubeward.cli.db_update")
    fake.run = lambda args: seen.append(args) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kubeward.cli.db_update", fake)
    code, _, _ = kubeward(
        capsys,
        "--cache-dir",
        str(tmp_path),
        "db",
        "update",
        "--db",
        "x.db",
        "--url",
        "osv-go=https://mirror/go.zip",
        "--url",
        "debian-tracker=file:///t.json",
        "--only",
        "osv-go",
        "--timeout",
        "5",
        "--retries",
        "1",
    )
    assert code == 0
    [args] = seen
    assert (args.db, args.url, args.only, args.timeout, args.retries, args.cache_dir) == (  # type: ignore[attr-defined]
        "x.db",
        ["osv-go=https://mirror/go.zip", "debian-tracker=file:///t.json"],
        ["osv-go"],
        5.0,
        1,
        str(tmp_path),
    )


def test_db_needs_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["db"])
    assert exc.value.code == 2
    assert "the following arguments are required: SUBCOMMAND" in capsys.readouterr().err


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["db", "--help"])
    out = capsys.readouterr().out
    for name in ("import", "status", "update"):
        assert re.search(rf"^    {name} ", out, re.M), out
