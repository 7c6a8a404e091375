"""Download advisory feeds into the cache and rebuild the local vulnerability database.

Feeds are large, change slowly and come from servers we do not control, so each one is kept
in `<cache>/db/downloads/` and revalidated with conditional GETs (ETag, If-Modified-Since);
the database is then rebuilt from the whole set of kept files by vulndb.build, which
replaces it atomically. Policy:

- A source that fails (network, HTTP error, over the size cap, not the archive or JSON its
  URL promises) and has no earlier download fails the whole update (UpdateError, exit 2):
  the previous database stays as it was, never replaced by one that silently lacks a source.
- A source that fails but has an earlier download is built from that file, with a warning
  (UpdateResult.stale).
- When every input is byte-identical to the last build of this database (typically all 304)
  and the database file is unchanged since, the rebuild is skipped (UpdateResult.up_to_date).
- Connection errors, timeouts, 429 and 5xx are retried with exponential backoff and jitter;
  a Retry-After longer than RETRY_AFTER_CAP fails the source at once instead of waiting.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from kubeward import __version__
from kubeward.errors import KubewardError

if TYPE_CHECKING:
    import httpx

    from kubeward.vulndb.build import BuildStats

log = logging.getLogger(__name__)

_OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"
_OSV_ECOSYSTEMS = (
    "PyPI",
    "npm",
    "Go",
    "Maven",
    "RubyGems",
    "crates.io",
    "Packagist",
    "Debian",
    "Alpine",
)
_ALPINE_RELEASES = tuple(f"v3.{minor}" for minor in range(16, 22))

# Built in this order; later sources replace records with the same id (see vulndb.build).
DEFAULT_SOURCES: dict[str, str] = {
    **{f"osv-{eco.lower()}": f"{_OSV_BUCKET}/{eco}/all.zip" for eco in _OSV_ECOSYSTEMS},
    "debian-tracker": "https://security-tracker.debian.org/tracker/data/json",
    **{
        f"alpine-{release}-{repo}": f"https://secdb.alpinelinux.org/{release}/{repo}.json"
        for release in _ALPINE_RELEASES
        for repo in ("main", "community")
    },
}

MAX_DOWNLOAD_BYTES = 2 * 1024**3  # the largest OSV archive is a few hundred MiB
RETRY_AFTER_CAP = 60.0  # seconds; a server asking for longer is reported, not waited for
BACKOFF_CAP = 30.0
WORKERS = 4  # parallel downloads: most feeds are small and latency-bound
_CHUNK = 1 << 20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_RETRY_STATUS = frozenset({408, 429})

# (source name, bytes so far, total bytes or None); also called with done == total at the end.
DownloadProgress = Callable[[str, int, "int | None"], None]


class UpdateError(KubewardError):
    """The database could not be updated; the previous one (if any) is unchanged."""

    def __init__(self, message: str, result: UpdateResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, slots=True)
class UpdateResult:
    downloaded: list[str]  # fetched anew (200, or a changed file:// mirror)
    not_modified: list[str]  # 304, or an unchanged file:// mirror: the kept file is current
    failed: list[tuple[str, str]]  # (name, one-line reason)
    stats: BuildStats | None  # None when the rebuild was skipped or did not happen
    stale: list[str] = field(default_factory=list)  # failed, built from an earlier download
    up_to_date: bool = False  # nothing changed since the last build: the database was kept
    # Built, but no advisory came from these: a format vulndb.build does not recognise,
    # or only malformed records. Reported, since their packages would match nothing.
    empty: list[str] = field(default_factory=list)


def validate_source(name: str, url: str) -> None:
    """Raise ValueError with a one-line reason if name or url cannot be used as a source."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid source name {name!r}: use letters, digits, '.', '_', '-'")
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"source {name}: URL {url!r} has no host")
    elif parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ValueError(f"source {name}: use file:///absolute/path, not {url!r}")
    else:
        raise ValueError(f"source {name}: unsupported URL {url!r} (http, https or file)")


def downloads_dir(cache_dir: Path) -> Path:
    return cache_dir / "db" / "downloads"


# -- one source ------------------------------------------------------------------------------


class _Failure(Exception):
    """A download attempt failed; `retry_after` is set when another attempt may succeed."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Outcome:
    name: str
    status: str  # "downloaded" | "not_modified" | "failed"
    reason: str = ""


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _local_filename(url: str) -> str:
    """The file name to keep a download under: the URL's own, so that its extension (and
    names such as `all.zip`) tell vulndb.build the format; `json` alone becomes data.json."""
    base = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    if base in ("json", "yaml", "zip"):
        return f"data.{base}"
    return base or "data"


def _expected_kind(url: str) -> str:
    path = urlsplit(url).path.lower().rstrip("/")
    if path.endswith(".zip"):
        return "zip"
    if path.endswith((".json", "/json")):
        return "json"
    return ""


def _check_content(path: Path, url: str) -> None:
    """Catch truncated archives and HTML error pages served with 200 before they are kept:
    a bad download must never replace a good one."""
    kind = _expected_kind(url)
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise _Failure(f"not a valid zip archive ({_one_line(str(exc), 80)})") from None
    elif kind == "json":
        with path.open("rb") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith((b"{", b"[")):
            shown = _one_line(head[:40].decode("utf-8", "replace"), 40)
            raise _Failure(f"not JSON (starts with {shown!r})")


class _Source:
    """One feed: its kept file, the sidecar with validators, and how to refresh them."""

    def __init__(self, directory: Path, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.directory = directory
        # Everything of a source lives in its own folder; names cannot start with ".", so
        # the dot-files beside them (lock, build records, partial downloads) never collide.
        self.meta_path = directory / name / ".meta.json"
        self.meta = self._load_meta()

    def _load_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(meta, dict) or not all(
            isinstance(meta.get(k), str) for k in ("file", "sha256", "url")
        ):
            return {}
        kept = self.directory / self.name / meta["file"]
        try:
            if kept.stat().st_size != meta.get("size"):
                return {}
        except OSError:
            return {}
        return meta

    @property
    def kept(self) -> Path | None:
        """The earlier download of this source, if there is a usable one."""
        if not self.meta:
            return None
        return self.directory / self.name / str(self.meta["file"])

    @property
    def same_url(self) -> bool:
        return bool(self.meta) and self.meta.get("url") == self.url

    def store(self, temp: Path, digest: str, size: int, validators: dict[str, Any]) -> None:
        """Move a checked download into place, then record it; the old file is replaced only
        now, so a failed attempt never costs the earlier download."""
        folder = self.directory / self.name
        folder.mkdir(parents=True, exist_ok=True)
        filename = _local_filename(self.url)
        os.replace(temp, folder / filename)
        for other in folder.iterdir():
            if other.name != filename and not other.name.startswith("."):
                with contextlib.suppress(OSError):
                    other.unlink()
        meta = {
            "url": self.url,
            "file": filename,
            "size": size,
            "sha256": digest,
            "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **validators,
        }
        _write_json(self.meta_path, meta)
        self.meta = meta


def _write_json(path: Path, data: object) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def _temp_file(directory: Path, name: str) -> Iterator[tuple[Path, Any]]:
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield Path(temp), fh
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)  # gone already when the download was kept


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Fetcher:
    def __init__(
        self,
        client: httpx.Client,
        directory: Path,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        max_bytes: int,
        progress: DownloadProgress | None,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.directory = directory
        self.retries = retries
        self.backoff = backoff
        self.max_bytes = max_bytes
        self.progress = progress
        self.cancelled = threading.Event()  # set on Ctrl-C: downloads stop at the next chunk

    def fetch(self, source: _Source) -> _Outcome:
        attempt = 0
        while True:
            try:
                if source.url.startswith("file:"):
                    return self._copy(source)
                return self._get(source)
            except _Failure as failure:
                if failure.retry_after is None or attempt >= self.retries:
                    return _Outcome(source.name, "failed", failure.reason)
                if failure.retry_after > RETRY_AFTER_CAP:
                    reason = (
                        f"{failure.reason}; server asks to retry after "
                        f"{failure.retry_after:.0f} s, over the {RETRY_AFTER_CAP:.0f} s cap"
                    )
                    return _Outcome(source.name, "failed", reason)
                delay = min(BACKOFF_CAP, self.backoff * 2**attempt)
                delay = max(failure.retry_after, delay + random.uniform(0, self.backoff))
                log.info("%s: %s; retrying in %.1f s", source.name, failure.reason, delay)
                if self.cancelled.wait(delay):
                    return _Outcome(source.name, "failed", "cancelled")
                attempt += 1

    def _get(self, source: _Source) -> _Outcome:
        import httpx

        headers: dict[str, str] = {}
        if source.same_url:
            if source.meta.get("etag"):
                headers["If-None-Match"] = str(source.meta["etag"])
            if source.meta.get("last_modified"):
                headers["If-Modified-Since"] = str(source.meta["last_modified"])
        try:
            with self.client.stream("GET", source.url, headers=headers) as response:
                return self._receive(source, response)
        except httpx.UnsupportedProtocol:
            raise _Failure(f"unsupported URL {source.url}") from None
        except httpx.TimeoutException:
            raise _Failure(f"no answer within {self.timeout:g} s", retry_after=0.0) from None
        except httpx.TransportError as exc:
            raise _Failure(_one_line(str(exc) or type(exc).__name__), retry_after=0.0) from None
        except httpx.HTTPError as exc:  # too many redirects, invalid URL ...
            raise _Failure(_one_line(str(exc) or type(exc).__name__)) from None

    def _receive(self, source: _Source, response: httpx.Response) -> _Outcome:
        status = response.status_code
        if status == 304:
            if source.kept is None:
                raise _Failure("server answered 304 Not Modified to an unconditional request")
            return _Outcome(source.name, "not_modified")
        if status != 200:
            reason = f"HTTP {status} {response.reason_phrase}".rstrip()
            if status in _RETRY_STATUS or status >= 500:
                raise _Failure(reason, retry_after=_retry_after(response) or 0.0)
            raise _Failure(reason)
        length = response.headers.get("content-length", "")
        total = int(length) if length.isdigit() else None
        if total is not None and total > self.max_bytes:
            raise _Failure(f"{total} bytes, over the {self.max_bytes} byte limit")
        if response.headers.get("content-encoding", "identity").lower() != "identity":
            # Sent compressed although we asked for identity: keep the decoded bytes (what
            # the URL names); the cap in _keep counts them, which bounds a bomb.
            total = None
        validators = {
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
        }
        return self._keep(source, response.iter_bytes(_CHUNK), total, validators)

    def _copy(self, source: _Source) -> _Outcome:
        """file:// mirrors: copied like a download, (size, mtime) standing in for an ETag."""
        path = Path(url2pathname(urlsplit(source.url).path))
        try:
            st = path.stat()
        except OSError as exc:
            raise _Failure(f"cannot read {path}: {exc.strerror or exc}") from None
        validator = f"{st.st_size}:{st.st_mtime_ns}"
        if source.same_url and source.meta.get("mirror_stat") == validator:
            return _Outcome(source.name, "not_modified")
        if st.st_size > self.max_bytes:
            raise _Failure(f"{st.st_size} bytes, over the {self.max_bytes} byte limit")

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    yield chunk

        try:
            return self._keep(source, chunks(), st.st_size, {"mirror_stat": validator})
        except OSError as exc:
            raise _Failure(f"cannot read {path}: {exc.strerror or exc}") from None

    def _keep(
        self,
        source: _Source,
        chunks: Iterator[bytes],
        total: int | None,
        validators: dict[str, Any],
    ) -> _Outcome:
        digest = hashlib.sha256()
        done = 0
        with _temp_file(self.directory, source.name) as (temp, fh):
            for chunk in chunks:
                if self.cancelled.is_set():
                    raise _Failure("cancelled")
                done += len(chunk)
                if done > self.max_bytes:
                    raise _Failure(f"download exceeds the {self.max_bytes} byte limit")
                digest.update(chunk)
                fh.write(chunk)
                if self.progress is not None:
                    self.progress(source.name, done, total)
            fh.close()
            _check_content(temp, source.url)
            source.store(temp, digest.hexdigest(), done, validators)
        if self.progress is not None:
            self.progress(source.name, done, done)
        return _Outcome(source.name, "downloaded")


# -- the update --------------------------------------------------------------------------------


@contextlib.contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """One update per cache at a time: two would race on the kept files and sidecars."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX; no lock, os.replace keeps files whole
        yield
        return
    with (directory / ".lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UpdateError(
                f"another kubeward db update is using {directory}; try again when it ends"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _clean_partials(directory: Path) -> None:
    # Left by a killed update; safe to delete under the lock.
    for partial in [*directory.glob(".*.part"), *directory.glob("*/.*.part")]:
        with contextlib.suppress(OSError):
            partial.unlink()


def _db_state(db_path: Path) -> dict[str, int] | None:
    try:
        st = db_path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _builds_file(directory: Path) -> Path:
    return directory / ".builds.json"


def _load_builds(directory: Path) -> dict[str, Any]:
    try:
        builds = json.loads(_builds_file(directory).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return builds if isinstance(builds, dict) else {}


def update_database(
    db_path: Path,
    cache_dir: Path,
    sources: dict[str, str],
    *,
    timeout: float,
    retries: int,
    progress: DownloadProgress | None = None,
    on_bad: Callable[[str], None],
    build_progress: Callable[[str, int], None] | None = None,
    backoff: float = 1.0,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    workers: int = WORKERS,
) -> UpdateResult:
    """Refresh every source, then rebuild db_path from them (see the module docstring for
    what happens when sources fail). Raises UpdateError when no database can be built."""
    if not sources:
        raise UpdateError("no advisory sources selected")
    for name, url in sources.items():
        try:
            validate_source(name, url)
        except ValueError as exc:
            raise UpdateError(str(exc)) from None
    directory = downloads_dir(cache_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    import httpx

    with _exclusive(directory):
        _clean_partials(directory)
        feeds = [_Source(directory, name, url) for name, url in sources.items()]
        client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            # identity: feeds are kept as published (zips gain nothing from gzip anyway)
            headers={"User-Agent": f"kubeward/{__version__}", "Accept-Encoding": "identity"},
        )
        fetcher = _Fetcher(
            client,
            directory,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_bytes=max_bytes,
            progress=_locked(progress),
        )
        with client:
            pool = ThreadPoolExecutor(max_workers=max(1, workers))
            try:
                outcomes = list(pool.map(fetcher.fetch, feeds))
            finally:
                # On Ctrl-C, stop the running downloads instead of waiting for them to end.
                fetcher.cancelled.set()
                pool.shutdown(wait=True, cancel_futures=True)
        return _build(
            db_path, directory, feeds, outcomes, on_bad=on_bad, build_progress=build_progress
        )


def _locked(progress: DownloadProgress | None) -> DownloadProgress | None:
    if progress is None:
        return None
    lock = threading.Lock()

    def report(name: str, done: int, total: int | None) -> None:
        with lock:
            progress(name, done, total)

    return report


def _build(
    db_path: Path,
    directory: Path,
    feeds: list[_Source],
    outcomes: list[_Outcome],
    *,
    on_bad: Callable[[str], None],
    build_progress: Callable[[str, int], None] | None,
) -> UpdateResult:
    downloaded = [o.name for o in outcomes if o.status == "downloaded"]
    not_modified = [o.name for o in outcomes if o.status == "not_modified"]
    failed = [(o.name, o.reason) for o in outcomes if o.status == "failed"]
    by_name = {feed.name: feed for feed in feeds}
    stale = [name for name, _ in failed if by_name[name].kept is not None]
    missing = [(name, reason) for name, reason in failed if by_name[name].kept is None]
    result = UpdateResult(downloaded, not_modified, failed, None, stale)
    if missing:
        # Names only: the reasons are in result.failed, one line each.
        names = ", ".join(name for name, _ in missing)
        kept = "the previous database is unchanged" if db_path.exists() else "no database built"
        raise UpdateError(
            f"{len(missing)} of {len(feeds)} sources could not be downloaded and have no "
            f"earlier download ({names}); {kept}",
            result,
        )

    inputs = {feed.name: str(feed.meta["sha256"]) for feed in feeds}
    key = str(db_path.resolve())
    builds = _load_builds(directory)
    last = builds.get(key)
    state = _db_state(db_path)
    if (
        isinstance(last, dict)
        and state is not None
        and last.get("inputs") == inputs
        and last.get("db") == state
        and last.get("kubeward") == __version__
    ):
        return UpdateResult(downloaded, not_modified, failed, None, stale, up_to_date=True)

    from kubeward.vulndb import build

    paths = [feed.kept for feed in feeds if feed.kept is not None]
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        stats = build.build_database(paths, db_path, on_bad, build_progress)
    except KubewardError as exc:
        raise UpdateError(f"{exc}; the previous database is unchanged", result) from exc
    except Exception as exc:
        reason = _one_line(str(exc) or type(exc).__name__)
        raise UpdateError(
            f"building the database failed ({reason}); the previous database is unchanged",
            result,
        ) from exc
    builds = {k: v for k, v in builds.items() if Path(k).exists()}  # forget deleted databases
    builds[key] = {"inputs": inputs, "db": _db_state(db_path), "kubeward": __version__}
    _write_json(_builds_file(directory), builds)
    imported = {info.origin for info in stats.sources if info.records > 0}
    empty = [feed.name for feed in feeds if str(feed.kept) not in imported]
    return UpdateResult(downloaded, not_modified, failed, stats, stale, empty=empty)
