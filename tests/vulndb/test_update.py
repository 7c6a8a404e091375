"""vulndb.update and `kubeward db update` against a local HTTP server (127.0.0.1, random
port) serving generated OSV all.zip archives and an Alpine secdb file: conditional GETs,
retries, failure policy, atomic rebuilds and size caps."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kubeward.cli import db_update
from kubeward.errors import UsageError
from kubeward.vulndb import update
from kubeward.vulndb.store import Database
from kubeward.vulndb.update import DEFAULT_SOURCES, UpdateError, update_database

# -- feeds ------------------------------------------------------------------------------------


def osv_record(vuln_id: str, ecosystem: str, name: str, fixed: str) -> dict[str, Any]:
    return {
        "schema_version": "1.6.0",
        "id": vuln_id,
        "modified": "2024-01-02T03:04:05Z",
        "published": "2024-01-01T00:00:00Z",
        "summary": f"{name} is vulnerable",
        "aliases": [f"CVE-2024-{zlib.crc32(vuln_id.encode()) % 9000 + 1000}"],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def osv_zip(records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buf.getvalue()


PYPI = [
    osv_record("PYSEC-2024-1", "PyPI", "requests", "2.32.0"),
    osv_record("PYSEC-2024-2", "PyPI", "urllib3", "2.2.2"),
]
NPM = [osv_record("GHSA-aaaa-bbbb-cccc", "npm", "lodash", "4.17.21")]
ALPINE = {
    "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
    "archs": ["x86_64"],
    "reponame": "main",
    "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
    "distroversion": "v3.19",
    "packages": [
        {"pkg": {"name": "openssl", "secfixes": {"3.1.4-r1": ["CVE-2023-5363"]}}},
        {"pkg": {"name": "zlib", "secfixes": {"1.3.1-r0": ["CVE-2023-45853"]}}},
    ],
}


# -- the server -------------------------------------------------------------------------------


@dataclass
class Route:
    body: bytes
    etag: str = '"v1"'
    fail_times: int = 0  # answer `fail_status` this many times first
    fail_status: int = 500
    retry_after: str | None = None
    forever: bool = False  # stream without end (and without Content-Length)
    gzip: bool = False  # send gzip Content-Encoding although identity was asked for
    cut_times: int = 0  # promise the whole body, send half of it and hang up, this many times
    attempts: int = 0


@dataclass
class Feeds:
    base: str
    routes: dict[str, Route]
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def headers_for(self, path: str) -> list[dict[str, str]]:
        return [headers for seen_path, headers in self.seen if seen_path == path]


@pytest.fixture
def feeds() -> Iterator[Feeds]:
    state = Feeds("", {})
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with lock:
                state.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = state.routes.get(self.path)
                if route is not None:
                    route.attempts += 1
            if route is None:
                self._send(404, b"not here")
                return
            if route.fail_times > 0:
                route.fail_times -= 1
                extra = {"Retry-After": route.retry_after} if route.retry_after else {}
                self._send(route.fail_status, b"busy", extra)
                return
            if route.forever:
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"\0" * 65536
                try:
                    while True:
                        self.wfile.write(chunk)
                except OSError:
                    return
            if route.cut_times > 0:
                route.cut_times -= 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(route.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(route.body[: len(route.body) // 2])
                self.close_connection = True
                return
            if self.headers.get("If-None-Match") == route.etag:
                self._send(304, b"", {"ETag": route.etag})
                return
            if route.gzip:
                body = gzip.compress(route.body)
                self._send(200, body, {"ETag": route.etag, "Content-Encoding": "gzip"})
                return
            self._send(200, route.body, {"ETag": route.etag})

        def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client hanging up mid-answer is part of the tests, not news on stderr

    server = Server(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    state.routes.update(
        {
            "/PyPI/all.zip": Route(osv_zip(PYPI)),
            "/npm/all.zip": Route(osv_zip(NPM)),
            "/v3.19/main.json": Route(json.dumps(ALPINE).encode()),
        }
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def sources(feeds: Feeds) -> dict[str, str]:
    return {
        "osv-pypi": feeds.url("/PyPI/all.zip"),
        "osv-npm": feeds.url("/npm/all.zip"),
        "alpine-v3.19-main": feeds.url("/v3.19/main.json"),
    }


class Run:
    def __init__(self, tmp_path: Path) -> None:
        self.cache = tmp_path / "cache"
        self.db = tmp_path / "out" / "kubeward.db"
        self.bad: list[str] = []

    def __call__(self, srcs: dict[str, str], **kwargs: Any) -> update.UpdateResult:
        options: dict[str, Any] = {"timeout": 5.0, "retries": 2, "backoff": 0.001}
        options.update(kwargs)
        return update_database(self.db, self.cache, srcs, on_bad=self.bad.append, **options)

    def ids(self) -> set[str]:
        with Database.open(self.db) as db:
            return {row[0] for row in db._query("SELECT id FROM advisories")}

    def downloads(self) -> list[str]:
        root = update.downloads_dir(self.cache)
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


FIRST_IDS = {
    "PYSEC-2024-1",
    "PYSEC-2024-2",
    "GHSA-aaaa-bbbb-cccc",
    "CVE-2023-5363",
    "CVE-2023-45853",
}


# -- tests ------------------------------------------------------------------------------------


def test_default_sources() -> None:
    assert len(DEFAULT_SOURCES) == 9 + 1 + 12
    assert DEFAULT_SOURCES["osv-pypi"] == (
        "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
    )
    assert DEFAULT_SOURCES["osv-crates.io"] == (
        "https://osv-vulnerabilities.storage.googleapis.com/crates.io/all.zip"
    )
    assert DEFAULT_SOURCES["debian-tracker"] == (
        "https://security-tracker.debian.org/tracker/data/json"
    )
    assert DEFAULT_SOURCES["alpine-v3.16-main"] == "https://secdb.alpinelinux.org/v3.16/main.json"
    assert DEFAULT_SOURCES["alpine-v3.21-community"] == (
        "https://secdb.alpinelinux.org/v3.21/community.json"
    )
    for name, url in DEFAULT_SOURCES.items():
        update.validate_source(name, url)


def test_first_update_builds_the_database(feeds: Feeds, run: Run) -> None:
    result = run(sources(feeds))
    assert result.downloaded == ["osv-pypi", "osv-npm", "alpine-v3.19-main"]
    assert (result.not_modified, result.failed, result.stale) == ([], [], [])
    assert result.stats is not None
    assert result.stats.records == 5
    assert result.stats.size == run.db.stat().st_size
    assert run.ids() == FIRST_IDS
    with Database.open(run.db) as db:
        found = db.lookup("pypi", None, ["requests"])
        assert [c.advisory.id for c in found["requests"]] == ["PYSEC-2024-1"]
        assert db.status().counts["advisories"] == 5
    assert run.downloads() == [
        ".builds.json",
        ".lock",
        "alpine-v3.19-main/.meta.json",
        "alpine-v3.19-main/main.json",
        "osv-npm/.meta.json",
        "osv-npm/all.zip",
        "osv-pypi/.meta.json",
        "osv-pypi/all.zip",
    ]
    first = feeds.headers_for("/PyPI/all.zip")[0]
    assert "if-none-match" not in first
    assert first["accept-encoding"] == "identity"


def test_second_update_is_not_modified_and_skips_the_rebuild(feeds: Feeds, run: Run) -> None:
    run(sources(feeds))
    before = run.db.stat()
    result = run(sources(feeds))
    assert result.downloaded == []
    assert result.not_modified == ["osv-pypi", "osv-npm", "alpine-v3.19-main"]
    assert result.up_to_date is True
    assert result.stats is None
    for path in ("/PyPI/all.zip", "/npm/all.zip", "/v3.19/main.json"):
        assert [h.get("if-none-match") for h in feeds.headers_for(path)] == [None, '"v1"']
    after = run.db.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)


def test_a_changed_source_is_downloaded_and_rebuilt(feeds: Feeds, run: Run) -> None:
    run(sources(feeds))
    extra = osv_record("GHSA-dddd-eeee-ffff", "npm", "minimist", "1.2.6")
    feeds.routes["/npm/all.zip"] = Route(osv_zip([*NPM, extra]), etag='"v2"')
    result = run(sources(feeds))
    assert result.downloaded == ["osv-npm"]
    assert result.not_modified == ["osv-pypi", "alpine-v3.19-main"]
    assert result.stats is not None and result.stats.records == 6
    assert run.ids() == FIRST_IDS | {"GHSA-dddd-eeee-ffff"}


def test_a_database_deleted_since_is_rebuilt_from_kept_files(feeds: Feeds, run: Run) -> None:
    run(sources(feeds))
    run.db.unlink()
    result = run(sources(feeds))
    assert result.not_modified == ["osv-pypi", "osv-npm", "alpine-v3.19-main"]
    assert result.stats is not None and result.up_to_date is False
    assert run.ids() == FIRST_IDS


def test_server_errors_are_retried(feeds: Feeds, run: Run) -> None:
    feeds.routes["/PyPI/all.zip"].fail_times = 2
    result = run(sources(feeds), retries=3)
    assert result.downloaded == ["osv-pypi", "osv-npm", "alpine-v3.19-main"]
    assert feeds.routes["/PyPI/all.zip"].attempts == 3
    assert run.ids() == FIRST_IDS


def test_retries_run_out(feeds: Feeds, run: Run) -> None:
    feeds.routes["/PyPI/all.zip"].fail_times = 5
    with pytest.raises(UpdateError) as caught:
        run(sources(feeds), retries=1)
    assert feeds.routes["/PyPI/all.zip"].attempts == 2
    assert caught.value.result is not None
    assert caught.value.result.failed == [("osv-pypi", "HTTP 500 Internal Server Error")]


def test_retry_after_is_honoured_up_to_the_cap(feeds: Feeds, run: Run) -> None:
    route = feeds.routes["/PyPI/all.zip"]
    route.fail_times, route.fail_status, route.retry_after = 1, 429, "1"
    started = time.monotonic()
    run(sources(feeds))
    assert route.attempts == 2
    assert time.monotonic() - started >= 1.0

    route = feeds.routes["/npm/all.zip"]
    route.fail_times, route.fail_status, route.retry_after = 1, 503, "3600"
    route.etag = '"v2"'
    started = time.monotonic()
    result = run(sources(feeds))
    assert time.monotonic() - started < 5
    assert route.attempts == 2  # one in the first update, one now: no waiting an hour
    assert result.failed == [
        (
            "osv-npm",
            "HTTP 503 Service Unavailable; server asks to retry after 3600 s, over the 60 s cap",
        )
    ]
    assert result.stale == ["osv-npm"]


def test_client_errors_are_not_retried(feeds: Feeds, run: Run) -> None:
    srcs = {**sources(feeds), "osv-go": feeds.url("/Go/all.zip")}
    with pytest.raises(UpdateError) as caught:
        run(srcs, retries=3)
    assert len(feeds.headers_for("/Go/all.zip")) == 1
    assert str(caught.value) == (
        "1 of 4 sources could not be downloaded and have no earlier download (osv-go); "
        "no database built"
    )
    assert caught.value.result is not None
    assert caught.value.result.failed == [("osv-go", "HTTP 404 Not Found")]
    assert not run.db.exists()


def test_connection_refused_is_retried_then_reported(run: Run) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UpdateError) as caught:
        run({"osv-pypi": f"http://127.0.0.1:{port}/PyPI/all.zip"}, retries=2)
    assert caught.value.result is not None
    [(name, reason)] = caught.value.result.failed
    assert name == "osv-pypi"
    assert "refused" in reason.lower()
    assert "\n" not in reason
    assert not run.db.exists()


def test_permanent_failure_on_first_update_builds_nothing(feeds: Feeds, run: Run) -> None:
    feeds.routes["/npm/all.zip"].fail_times = 100
    with pytest.raises(UpdateError) as caught:
        run(sources(feeds))
    assert caught.value.exit_code == 2
    assert "(osv-npm); no database built" in str(caught.value)
    assert not run.db.exists()
    assert not run.db.parent.exists()


def test_failure_with_an_earlier_download_uses_it(feeds: Feeds, run: Run) -> None:
    run(sources(feeds))
    feeds.routes["/npm/all.zip"].fail_times = 100
    extra = osv_record("PYSEC-2024-3", "PyPI", "jinja2", "3.1.4")
    feeds.routes["/PyPI/all.zip"] = Route(osv_zip([*PYPI, extra]), etag='"v2"')
    result = run(sources(feeds))
    assert result.downloaded == ["osv-pypi"]
    assert result.not_modified == ["alpine-v3.19-main"]
    assert result.failed == [("osv-npm", "HTTP 500 Internal Server Error")]
    assert result.stale == ["osv-npm"]
    assert result.stats is not None
    assert run.ids() == FIRST_IDS | {"PYSEC-2024-3"}  # lodash still there, from the old file


def test_an_interrupted_build_leaves_the_old_database(
    feeds: Feeds, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubeward.vulndb.store import DatabaseWriter

    run(sources(feeds))
    old = run.db.read_bytes()
    feeds.routes["/npm/all.zip"] = Route(osv_zip([*NPM, *PYPI]), etag='"v2"')
    real_add = DatabaseWriter.add
    added: list[str] = []

    def add_then_fail(self: DatabaseWriter, advisory: Any) -> None:
        if len(added) == 3:  # the real build is midway: the temp database has 3 records
            raise OSError(28, "No space left on device")
        added.append(advisory.id)
        real_add(self, advisory)

    monkeypatch.setattr(DatabaseWriter, "add", add_then_fail)
    with pytest.raises(UpdateError) as caught:
        run(sources(feeds))
    assert str(caught.value) == (
        "building the database failed ([Errno 28] No space left on device); "
        "the previous database is unchanged"
    )
    assert len(added) == 3
    assert run.db.read_bytes() == old
    assert [p.name for p in run.db.parent.iterdir()] == ["kubeward.db"]  # no temp file left
    monkeypatch.undo()
    # The new download was kept: the next update rebuilds although everything is a 304.
    result = run(sources(feeds))
    assert result.not_modified == ["osv-pypi", "osv-npm", "alpine-v3.19-main"]
    assert result.stats is not None
    assert result.stats.replaced == 2
    assert run.ids() == FIRST_IDS


def test_a_truncated_zip_on_first_update_fails(feeds: Feeds, run: Run) -> None:
    body = osv_zip(PYPI)
    feeds.routes["/PyPI/all.zip"] = Route(body[: len(body) // 2])
    with pytest.raises(UpdateError) as caught:
        run(sources(feeds))
    assert caught.value.result is not None
    [(name, reason)] = caught.value.result.failed
    assert name == "osv-pypi"
    assert reason.startswith("not a valid zip archive (")
    assert not run.db.exists()
    assert "osv-pypi/.meta.json" not in run.downloads()
    assert not [p for p in run.downloads() if p.endswith(".part")]


def test_a_connection_cut_midway_is_retried(feeds: Feeds, run: Run) -> None:
    feeds.routes["/PyPI/all.zip"].cut_times = 1
    result = run(sources(feeds))
    assert result.downloaded == ["osv-pypi", "osv-npm", "alpine-v3.19-main"]
    assert feeds.routes["/PyPI/all.zip"].attempts == 2
    assert run.ids() == FIRST_IDS

    feeds.routes["/PyPI/all.zip"] = Route(osv_zip(PYPI[:1]), etag='"v2"', cut_times=9)
    result = run(sources(feeds), retries=1)
    [(name, reason)] = result.failed
    assert (name, result.stale) == ("osv-pypi", ["osv-pypi"])
    assert reason.startswith("peer closed connection without sending complete message body")
    assert "\n" not in reason
    assert run.ids() == FIRST_IDS  # built from the earlier, complete download


def test_a_corrupt_download_keeps_the_earlier_one(feeds: Feeds, run: Run) -> None:
    run(sources(feeds))
    kept = (update.downloads_dir(run.cache) / "osv-pypi" / "all.zip").read_bytes()
    feeds.routes["/PyPI/all.zip"] = Route(b"<html>captive portal</html>", etag='"v2"')
    feeds.routes["/v3.19/main.json"] = Route(b"<html>captive portal</html>", etag='"v2"')
    result = run(sources(feeds))
    assert result.failed == [
        ("osv-pypi", "not a valid zip archive (File is not a zip file)"),
        ("alpine-v3.19-main", "not JSON (starts with '<html>captive portal</html>')"),
    ]
    assert result.stale == ["osv-pypi", "alpine-v3.19-main"]
    assert result.up_to_date is True  # same inputs as the last build: nothing to rebuild
    assert (update.downloads_dir(run.cache) / "osv-pypi" / "all.zip").read_bytes() == kept
    assert run.ids() == FIRST_IDS


def test_a_download_that_never_ends_stops_at_the_cap(feeds: Feeds, run: Run) -> None:
    feeds.routes["/PyPI/all.zip"] = Route(b"", forever=True)
    started = time.monotonic()
    with pytest.raises(UpdateError) as caught:
        run(sources(feeds), max_bytes=1 << 20)
    assert time.monotonic() - started < 10
    assert caught.value.result is not None
    assert caught.value.result.failed == [("osv-pypi", "download exceeds the 1048576 byte limit")]
    assert feeds.routes["/PyPI/all.zip"].attempts == 1  # not retried
    assert not [p for p in run.downloads() if p.endswith(".part")]


def test_a_compressed_answer_is_kept_decoded_and_capped(feeds: Feeds, run: Run) -> None:
    feeds.routes["/v3.19/main.json"].gzip = True
    run(sources(feeds))
    kept = update.downloads_dir(run.cache) / "alpine-v3.19-main" / "main.json"
    assert kept.read_bytes() == feeds.routes["/v3.19/main.json"].body
    assert run.ids() == FIRST_IDS

    bomb = Route(b"[" + b" " * (8 << 20) + b"]", etag='"v2"', gzip=True)  # ~8 KiB on the wire
    feeds.routes["/v3.19/main.json"] = bomb
    result = run(sources(feeds), max_bytes=1 << 20)
    assert result.failed == [("alpine-v3.19-main", "download exceeds the 1048576 byte limit")]
    assert kept.read_bytes() == json.dumps(ALPINE).encode()


def test_a_declared_length_over_the_cap_is_refused_unread(feeds: Feeds, run: Run) -> None:
    with pytest.raises(UpdateError) as caught:
        run({"osv-pypi": feeds.url("/PyPI/all.zip")}, max_bytes=100)
    assert caught.value.result is not None
    size = len(feeds.routes["/PyPI/all.zip"].body)
    assert caught.value.result.failed == [("osv-pypi", f"{size} bytes, over the 100 byte limit")]


def test_file_mirror(tmp_path: Path, run: Run) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "all.zip").write_bytes(osv_zip(PYPI))
    srcs = {"osv-pypi": (mirror / "all.zip").as_uri()}
    assert run(srcs).downloaded == ["osv-pypi"]
    assert run.ids() == {"PYSEC-2024-1", "PYSEC-2024-2"}
    second = run(srcs)
    assert (second.not_modified, second.up_to_date) == (["osv-pypi"], True)
    (mirror / "all.zip").write_bytes(osv_zip([*PYPI, *NPM]))
    assert run(srcs).downloaded == ["osv-pypi"]
    assert run.ids() == {"PYSEC-2024-1", "PYSEC-2024-2", "GHSA-aaaa-bbbb-cccc"}
    with pytest.raises(UpdateError) as caught:
        run({"osv-npm": (mirror / "nope.zip").as_uri()})
    assert caught.value.result is not None
    assert caught.value.result.failed == [
        ("osv-npm", f"cannot read {mirror / 'nope.zip'}: No such file or directory")
    ]


def test_one_update_per_cache_at_a_time(feeds: Feeds, run: Run) -> None:
    import fcntl

    directory = update.downloads_dir(run.cache)
    directory.mkdir(parents=True)
    with (directory / ".lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UpdateError) as caught:
            run(sources(feeds))
    assert str(caught.value) == (
        f"another kubeward db update is using {directory}; try again when it ends"
    )
    assert feeds.seen == []
    assert run(sources(feeds)).stats is not None


def test_invalid_sources_are_refused(run: Run) -> None:
    for name, url, message in [
        ("osv pypi", "http://127.0.0.1/x", "invalid source name 'osv pypi'"),
        ("osv-pypi", "ftp://127.0.0.1/x", "source osv-pypi: unsupported URL"),
        ("osv-pypi", "file://host/x", "source osv-pypi: use file:///absolute/path"),
        ("osv-pypi", "http:///x", "source osv-pypi: URL 'http:///x' has no host"),
    ]:
        with pytest.raises(UpdateError, match=message.replace("(", r"\(")):
            run({name: url})
    with pytest.raises(UpdateError, match="no advisory sources selected"):
        run({})


# -- the command ------------------------------------------------------------------------------


def test_select_sources() -> None:
    chosen = db_update.select_sources(
        ["osv-pypi=file:///srv/mirror/PyPI/all.zip", "extra=http://127.0.0.1/x.json"],
        ["osv-pypi,extra", "osv-npm"],
    )
    assert chosen == {
        "osv-pypi": "file:///srv/mirror/PyPI/all.zip",
        "osv-npm": DEFAULT_SOURCES["osv-npm"],
        "extra": "http://127.0.0.1/x.json",
    }
    assert db_update.select_sources(None, None) == DEFAULT_SOURCES
    with pytest.raises(UsageError, match="--url osv-pypi: expected NAME=URL"):
        db_update.select_sources(["osv-pypi"], None)
    with pytest.raises(UsageError, match="--only: unknown source nope; known: osv-pypi, "):
        db_update.select_sources(None, ["nope"])


def _cli(argv: list[str]) -> int:
    from kubeward.cli.main import main

    return main(argv)


def test_cli_update(feeds: Feeds, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    db = cache / "db" / "kubeward.db"
    argv = ["db", "update", "--cache-dir", str(cache), "--retries", "0"]
    for name, url in sources(feeds).items():
        argv += ["--url", f"{name}={url}"]
    argv += ["--only", ",".join(sources(feeds))]
    assert _cli(argv) == 0
    out, err = capsys.readouterr()
    assert out == ""
    size = db.stat().st_size
    assert re.fullmatch(
        rf"database {re.escape(str(db))} updated: 5 advisories, {size / 1024:.1f} KiB, "
        r"in \d+\.\d s \(0 malformed records skipped; sources: 3 downloaded, "
        r"0 not modified\)\n",
        err,
    ), err

    assert _cli(argv) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        f"database {db} is up to date (3 sources: 0 downloaded, 3 not modified)\n",
    )

    feeds.routes["/npm/all.zip"].fail_times = 100
    feeds.routes["/npm/all.zip"].etag = '"v2"'
    assert _cli(argv) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "kubeward: warning: osv-npm: HTTP 500 Internal Server Error; using the earlier download",
        f"database {db} is up to date (3 sources: 0 downloaded, 2 not modified, 1 failed and kept)",
    ]

    assert _cli([*argv, "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_cli_reports_malformed_records(
    feeds: Feeds, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [{"id": f"BAD-{i}", "affected": "not a list", "modified": "x"} for i in range(12)]
    feeds.routes["/npm/all.zip"] = Route(osv_zip([*NPM, *records]))
    argv = ["db", "update", "--cache-dir", str(tmp_path), "--retries", "0"]
    argv += ["--url", f"osv-npm={feeds.url('/npm/all.zip')}", "--only", "osv-npm"]
    assert _cli(argv) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 12
    assert all(line.startswith("kubeward: warning: ") for line in lines[:10])
    assert "BAD-" in lines[0]
    assert lines[10] == (
        "kubeward: warning: 2 more malformed records not shown (--debug shows them)"
    )
    assert "1 advisories" in lines[11]
    assert "(12 malformed records skipped;" in lines[11]


def test_cli_first_update_failure_exits_2(
    feeds: Feeds, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    db = tmp_path / "my.db"
    argv = ["db", "update", "--cache-dir", str(cache), "--db", str(db), "--retries", "0"]
    argv += ["--url", f"osv-go={feeds.url('/Go/all.zip')}", "--only", "osv-go", "-q"]
    assert _cli(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "kubeward: error: osv-go: HTTP 404 Not Found",
        "kubeward: error: 1 of 1 sources could not be downloaded and have no earlier "
        "download (osv-go); no database built",
    ]
    assert not db.exists()


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["db", "update", "--cache-dir", str(tmp_path)]
    with pytest.raises(UsageError, match="--timeout must be positive"):
        db_update.run(_parse([*base, "--timeout", "0"]))
    with pytest.raises(UsageError, match="--retries must be 0 or more"):
        db_update.run(_parse([*base, "--retries", "-1"]))
    with pytest.raises(UsageError, match="--url x=ftp://h/a: source x: unsupported URL"):
        db_update.run(_parse([*base, "--url", "x=ftp://h/a"]))


def _parse(argv: list[str]) -> argparse.Namespace:
    from kubeward.cli import db_args, main

    parser = argparse.ArgumentParser()
    main._global_options(parser, suppress=False)
    db_args.add_arguments(parser)
    return parser.parse_args(argv[1:])
