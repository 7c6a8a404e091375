"""The advisory database: one SQLite file, written whole and swapped in atomically, read
with a single index on (ecosystem, distro, name) so that a scan's thousands of packages are
looked up in a handful of queries.

Why this shape: a scan only ever asks "which advisories name these packages", so affected
rows are keyed for that and carry their ranges as JSON; a build never edits a live database
(a failed or interrupted import leaves the previous file untouched).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

import orjson

from kubeward.errors import KubewardError
from kubeward.vulndb.model import Advisory, Affected, Range
from kubeward.vulndb.names import normalize

SCHEMA_VERSION = 1
_TABLES = ("meta", "advisories", "aliases", "affected")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_BATCH = 5000  # rows per executemany
_IN_CHUNK = 900  # bound parameters per IN (...) list, under SQLite's old 999 limit

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisories(
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    summary TEXT NOT NULL,
    details TEXT NOT NULL,
    published TEXT,
    modified TEXT,
    withdrawn TEXT,
    severity TEXT NOT NULL,
    refs TEXT NOT NULL
);
CREATE TABLE aliases(id TEXT NOT NULL, alias TEXT NOT NULL);
CREATE TABLE affected(
    advisory_id TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    distro TEXT NOT NULL,
    status TEXT NOT NULL,
    ranges TEXT NOT NULL,
    versions TEXT NOT NULL
);
"""

# Created after the bulk insert: building an index once over sorted keys is far cheaper
# than maintaining it row by row.
_INDEXES = (
    "CREATE INDEX affected_package ON affected(ecosystem, distro, name)",
    "CREATE INDEX aliases_by_id ON aliases(id, alias)",
    "CREATE INDEX aliases_by_alias ON aliases(alias, id)",
)

# A reused id: the later record wins for each field it fills.
_UPSERT_ADVISORY = """
INSERT INTO advisories VALUES (?,?,?,?,?,?,?,?,?)
ON CONFLICT(id) DO UPDATE SET
    source = excluded.source,
    summary = CASE WHEN excluded.summary <> '' THEN excluded.summary ELSE summary END,
    details = CASE WHEN excluded.details <> '' THEN excluded.details ELSE details END,
    published = coalesce(excluded.published, published),
    modified = coalesce(excluded.modified, modified),
    withdrawn = coalesce(excluded.withdrawn, withdrawn),
    severity = CASE WHEN excluded.severity <> '[]' THEN excluded.severity ELSE severity END,
    refs = CASE WHEN excluded.refs <> '[]' THEN excluded.refs ELSE refs END
"""

# {marks} is only ever a run of "?" placeholders.
_LOOKUP = (
    "SELECT advisory_id, name, status, ranges, versions FROM affected"
    " WHERE ecosystem = ? AND distro = ? AND name IN ({marks})"
    " ORDER BY name, advisory_id, rowid"
)
_ALIASES = "SELECT id, alias FROM aliases WHERE id IN ({marks}) ORDER BY id, rowid"
_ADVISORIES = (
    "SELECT id, source, summary, details, published, modified, withdrawn, severity, refs"
    " FROM advisories WHERE id IN ({marks})"
)


class DatabaseError(KubewardError):
    """The vulnerability database is missing, unreadable, corrupt or of another schema."""


def default_db_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "db" / "kubeward.db"


class SourceInfo(NamedTuple):
    name: str  # "osv", "debian-dsa", ...
    origin: str  # the path (or URL) it was imported from
    records: int  # advisories read from it (including ones a later record replaced)
    skipped: int  # malformed records reported and skipped


@dataclass(frozen=True, slots=True)
class Candidate:
    """One affected entry that names a looked-up package, with its advisory (whose
    `affected` is left empty: the entry that matched is `affected`)."""

    advisory: Advisory
    affected: Affected


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    path: Path
    size: int
    built_at: str
    schema_version: int
    sources: list[SourceInfo]
    counts: dict[str, int]  # "advisories", "affected", "aliases"
    age_days: float


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _dumps(value: object) -> str:
    return _encode(value) if value else "[]"


def _clean(value: object) -> object:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _ranges_json(ranges: tuple[Range, ...]) -> str:
    return _dumps([{"type": r.type, "events": r.events} for r in ranges])


class DatabaseWriter:
    """Builds a new database beside `path` and swaps it in on commit().

    Use as a context manager and call commit() inside it; leaving the block without
    commit(), or by an exception, deletes the temp file and leaves `path` as it was.

    An advisory id added again (the same OSV record in two dumps, or a CVE id that Alpine
    and Debian both key records by) is merged into the earlier one: the later record wins
    for every advisory field it fills, aliases are united, and its affected entries replace
    the earlier entries of the same (ecosystem, distro, package) while entries for other
    packages or releases are kept. `replaced` counts the records that reused an id.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.replaced = 0
        self.records = 0
        self.counts: dict[str, int] = {}  # rows per table, known after commit()
        self._sources: list[SourceInfo] = []
        self._seen: set[str] = set()
        # (advisory id, ecosystem, distro, name) -> affected rows written before the
        # latest record that named it: that id's rows for that package at or below this
        # rowid were superseded.
        self._cuts: dict[tuple[str, str, str, str], int] = {}
        self._advisories: list[tuple[Any, ...]] = []
        self._aliases: list[tuple[Any, ...]] = []
        self._affected: list[tuple[Any, ...]] = []
        self._alias_rows = 0
        self._affected_rows = 0
        self._tmp: Path | None = None
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> Self:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
        except OSError as exc:
            raise DatabaseError(f"cannot write the database in {self.path.parent}: {exc}") from exc
        os.close(fd)
        self._tmp = Path(tmp)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            self._conn = conn
            # A build writes a private file that is renamed only once complete, so the
            # journal and syncs that protect a live database buy nothing here.
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA cache_size=-65536")
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            self.abort()
            raise DatabaseError(f"cannot write the database {self.path}: {exc}") from exc
        except BaseException:
            self.abort()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tmp is not None:
            self.abort()

    def add(self, advisory: Advisory) -> None:
        reused = advisory.id in self._seen
        if reused:
            self.replaced += 1
        else:
            self._seen.add(advisory.id)
        cut = self._affected_rows
        self.records += 1
        self._advisories.append(
            (
                advisory.id,
                advisory.source,
                advisory.summary,
                advisory.details,
                advisory.published,
                advisory.modified,
                advisory.withdrawn,
                _dumps(advisory.severity),
                _dumps(advisory.references),
            )
        )
        for alias in dict.fromkeys(advisory.aliases):
            if alias != advisory.id:
                self._alias_rows += 1
                self._aliases.append((self._alias_rows, advisory.id, alias))
        for aff in advisory.affected:
            name = normalize(aff.ecosystem, aff.name)
            if reused:
                self._cuts[(advisory.id, aff.ecosystem, aff.distro or "", name)] = cut
            self._affected_rows += 1
            self._affected.append(
                (
                    self._affected_rows,
                    advisory.id,
                    aff.ecosystem,
                    name,
                    aff.distro or "",
                    aff.status,
                    _ranges_json(aff.ranges),
                    _dumps(aff.versions),
                )
            )
        if len(self._affected) >= _BATCH or len(self._advisories) >= _BATCH:
            try:
                self._flush()
            except sqlite3.Error as exc:
                raise DatabaseError(f"cannot write the database {self.path}: {exc}") from exc

    def add_source(self, name: str, origin: str, records: int, skipped: int) -> None:
        self._sources.append(SourceInfo(name, origin, records, skipped))

    def _flush(self) -> None:
        conn = self._connection()
        batches = (
            # A batch retried after an encoding error (below) overwrites its own rows.
            (_UPSERT_ADVISORY, self._advisories),
            ("INSERT OR REPLACE INTO aliases(rowid, id, alias) VALUES (?,?,?)", self._aliases),
            (
                "INSERT OR REPLACE INTO affected(rowid, advisory_id, ecosystem, name, distro,"
                " status, ranges, versions) VALUES (?,?,?,?,?,?,?,?)",
                self._affected,
            ),
        )
        for sql, rows in batches:
            try:
                conn.executemany(sql, rows)
            except UnicodeEncodeError:
                # Lone surrogates (JSON "\ud800") cannot be stored as UTF-8: replace them.
                conn.executemany(sql, [tuple(map(_clean, row)) for row in rows])
            rows.clear()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise DatabaseError("database writer is not open")
        return self._conn

    def commit(self) -> None:
        """Finish the file (indexes, statistics, meta), make it durable and move it over
        `path` in one rename."""
        conn = self._connection()
        tmp = self._tmp
        assert tmp is not None
        try:
            self._flush()
            if self.replaced:
                self._merge(conn)
            for statement in _INDEXES:  # not executescript: it would commit
                conn.execute(statement)
            counts = {
                table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
                for table in ("advisories", "affected", "aliases")
            }
            self.counts = counts
            meta = {
                "schema_version": str(SCHEMA_VERSION),
                "built_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "sources": json.dumps([s._asdict() for s in self._sources]),
                "counts": _dumps(counts),
                "replaced": str(self.replaced),
            }
            conn.executemany("INSERT INTO meta VALUES (?,?)", meta.items())
            conn.execute("COMMIT")
            conn.execute("ANALYZE")
            conn.close()
            self._conn = None
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            self._tmp = None
            _fsync_dir(self.path.parent)
        except (sqlite3.Error, OSError) as exc:
            self.abort()
            raise DatabaseError(f"cannot write the database {self.path}: {exc}") from exc
        except BaseException:
            self.abort()
            raise

    def _merge(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TEMP TABLE cuts(id TEXT, ecosystem TEXT, distro TEXT, name TEXT, row INT,"
            " PRIMARY KEY (id, ecosystem, distro, name))"
        )
        conn.executemany(
            "INSERT INTO cuts VALUES (?,?,?,?,?)", ((*k, v) for k, v in self._cuts.items())
        )
        conn.execute(
            "DELETE FROM affected WHERE rowid <= (SELECT row FROM cuts c"
            " WHERE c.id = affected.advisory_id AND c.ecosystem = affected.ecosystem"
            " AND c.distro = affected.distro AND c.name = affected.name)"
        )
        conn.execute("DROP TABLE cuts")
        conn.execute(
            "DELETE FROM aliases WHERE rowid NOT IN (SELECT min(rowid) FROM aliases"
            " GROUP BY id, alias)"
        )

    def abort(self) -> None:
        """Drop everything written so far; `path` is left as it was."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_header(path: Path) -> None:
    """Cheap checks before SQLite sees the file: the magic, and a size no smaller than the
    page count the header declares (catches truncated copies and downloads)."""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise DatabaseError(
            f"no vulnerability database at {path}: run `kubeward db update` "
            "(or `kubeward db import PATH...`)"
        ) from None
    except OSError as exc:
        raise DatabaseError(f"cannot read the vulnerability database {path}: {exc}") from exc
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise DatabaseError(f"{path} is not a kubeward vulnerability database (not SQLite)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The in-header page count is valid only when these two counters agree.
    if header[24:28] == header[92:96] and pages and size < pages * page_size:
        raise DatabaseError(
            f"vulnerability database {path} is truncated ({size} of {pages * page_size} bytes):"
            " run `kubeward db update` to rebuild it"
        )


def _loads(text: str) -> Any:
    """orjson where it matters: a lookup decodes tens of thousands of small documents."""
    return orjson.loads(text)


@functools.lru_cache(maxsize=65536)
def _ranges(text: str) -> tuple[Range, ...]:
    """Decoded ranges; many affected rows share the same text, so it is decoded once."""
    return tuple(
        Range(r["type"], tuple((k, v) for k, v in r["events"])) for r in orjson.loads(text)
    )


class Database:
    """A read-only view of a built database."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._advisories: dict[str, Advisory] = {}

    @classmethod
    def open(cls, path: Path) -> Database:
        path = Path(path)
        _check_header(path)
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open the vulnerability database {path}: {exc}") from exc
        try:
            tables = {
                row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            missing = [t for t in _TABLES if t not in tables]
            if missing:
                raise DatabaseError(
                    f"{path} is not a kubeward vulnerability database "
                    f"(no table {', '.join(missing)})"
                )
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = row[0] if row else None
            if version != str(SCHEMA_VERSION):
                raise DatabaseError(
                    f"vulnerability database {path} has schema version {version}, this kubeward "
                    f"reads {SCHEMA_VERSION}: run `kubeward db update` to rebuild it"
                )
        except sqlite3.Error as exc:
            conn.close()
            raise DatabaseError(
                f"{path} is not a readable kubeward vulnerability database (corrupt: {exc})"
            ) from exc
        except BaseException:
            conn.close()
            raise
        return cls(path, conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise DatabaseError(
                f"vulnerability database {self.path} cannot be read (corrupt: {exc}):"
                " run `kubeward db update` to rebuild it"
            ) from exc

    def lookup(
        self, ecosystem: str, distro: str | None, names: Iterable[str]
    ) -> dict[str, list[Candidate]]:
        """Candidates per name asked for (keys are the names as given; names without any
        advisory are absent). Withdrawn advisories are included: the matcher decides."""
        wanted: dict[str, list[str]] = {}
        for name in names:
            wanted.setdefault(normalize(ecosystem, name), []).append(name)
        keys = list(wanted)
        rows: list[Any] = []
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = _LOOKUP.format(marks=marks)
            rows.extend(self._query(sql, [ecosystem, distro or "", *chunk]))
        advisories = self._load_advisories({row[0] for row in rows})
        out: dict[str, list[Candidate]] = {}
        for advisory_id, name, status, ranges, versions in rows:
            advisory = advisories.get(advisory_id)
            if advisory is None:
                continue
            affected = Affected(
                ecosystem=ecosystem,
                name=name,
                ranges=_ranges(ranges),
                versions=tuple(_loads(versions)) if versions != "[]" else (),
                distro=distro or None,
                status=status,
            )
            candidate = Candidate(advisory, affected)
            for asked in wanted[name]:
                out.setdefault(asked, []).append(candidate)
        return out

    def _load_advisories(self, ids: set[str]) -> dict[str, Advisory]:
        cache = self._advisories
        missing = sorted(i for i in ids if i not in cache)
        for start in range(0, len(missing), _IN_CHUNK):
            chunk = missing[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            aliases: dict[str, list[str]] = {}
            for adv_id, alias in self._query(_ALIASES.format(marks=marks), chunk):
                aliases.setdefault(adv_id, []).append(alias)
            for row in self._query(_ADVISORIES.format(marks=marks), chunk):
                cache[row[0]] = Advisory(
                    id=row[0],
                    source=row[1],
                    summary=row[2],
                    details=row[3],
                    published=row[4],
                    modified=row[5],
                    withdrawn=row[6],
                    aliases=tuple(aliases.get(row[0], ())),
                    references=tuple(_loads(row[8])),
                    severity=tuple((t, s) for t, s in _loads(row[7])),
                )
        return {i: cache[i] for i in ids if i in cache}

    def advisory(self, advisory_id: str) -> Advisory | None:
        """One advisory by id (without its affected list)."""
        return self._load_advisories({advisory_id}).get(advisory_id)

    def meta(self) -> dict[str, str]:
        return {k: v for k, v in self._query("SELECT key, value FROM meta")}

    def status(self) -> DatabaseStatus:
        meta = self.meta()
        try:
            sources = [SourceInfo(**s) for s in json.loads(meta.get("sources", "[]"))]
            counts = {k: int(v) for k, v in json.loads(meta.get("counts", "{}")).items()}
        except (ValueError, TypeError) as exc:
            raise DatabaseError(f"vulnerability database {self.path} has corrupt meta") from exc
        for table in ("advisories", "affected", "aliases"):
            if table not in counts:
                counts[table] = int(self._query(f"SELECT count(*) FROM {table}")[0][0])  # noqa: S608
        built_at = meta.get("built_at", "")
        try:
            built = dt.datetime.fromisoformat(built_at)
            age = (dt.datetime.now(dt.UTC) - built).total_seconds() / 86400
        except ValueError:
            age = float("nan")
        return DatabaseStatus(
            path=self.path,
            size=self.path.stat().st_size,
            built_at=built_at,
            schema_version=SCHEMA_VERSION,
            sources=sources,
            counts=counts,
            age_days=age,
        )

    def check(self) -> list[str]:
        """Full integrity check (reads every page): the problems found, [] when sound;
        DatabaseError when the file is too damaged to be walked at all."""
        problems = [row[0] for row in self._query("PRAGMA integrity_check") if row[0] != "ok"]
        return problems
