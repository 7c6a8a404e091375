"""RpmAnalyzer on damaged and forged databases: a warning and a skip, never an exception,
never a hang. Databases are built here byte by byte (headers, SQLite, Berkeley DB hash) or
are real ones from ../shared/data/rpmdb with single fields overwritten.
"""

import random
import sqlite3
import struct
from pathlib import Path

import pytest

from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext
from kubeward.analyze.rpm import MAX_WARNINGS_PER_FILE, RpmAnalyzer
from kubeward.analyze.rpmdb.header import RpmHeader

pytestmark = pytest.mark.timeout(60)

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
INT32, STRING, BIN, STRING_ARRAY, I18NSTRING = 4, 6, 7, 8, 9
NAME, VERSION, RELEASE, EPOCH, LICENSE, ARCH, SOURCERPM = 1000, 1001, 1002, 1003, 1014, 1022, 1044


def make_header(entries: list[tuple[int, int, object]], *, region: bool = True) -> bytes:
    """A stored header blob laid out as rpm does: index, then data, region trailer last."""
    index: list[tuple[int, int, int, int]] = []
    data = bytearray()
    for tag, kind, value in entries:
        if kind == INT32:
            assert isinstance(value, list)
            data += b"\0" * (-len(data) % 4)
            index.append((tag, kind, len(data), len(value)))
            data += struct.pack(f">{len(value)}I", *value)
        elif kind == STRING:
            assert isinstance(value, str)
            index.append((tag, kind, len(data), 1))
            data += value.encode() + b"\0"
        else:
            assert isinstance(value, list)
            index.append((tag, kind, len(data), len(value)))
            data += b"".join(v.encode() + b"\0" for v in value)
    if region:
        count = len(index) + 1
        index.insert(0, (63, BIN, len(data), 16))
        data += struct.pack(">IIiI", 63, BIN, -16 * count, 16)
    head = struct.pack(">II", len(index), len(data))
    return head + b"".join(struct.pack(">IIiI", *e) for e in index) + bytes(data)


def good_header(name: str = "pkg", epoch: int | None = None) -> bytes:
    entries: list[tuple[int, int, object]] = [
        (NAME, STRING, name),
        (VERSION, STRING, "1.0"),
        (RELEASE, STRING, "2"),
        (LICENSE, STRING, "MIT"),
        (ARCH, STRING, "x86_64"),
        (SOURCERPM, STRING, f"{name}-1.0-2.src.rpm"),
    ]
    if epoch is not None:
        entries.append((EPOCH, INT32, [epoch]))
    return make_header(entries)


def make_sqlite(blobs: list[object]) -> bytes:
    con = sqlite3.connect(":memory:")
    con.execute(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"
    )
    con.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    con.commit()
    data = con.serialize()
    con.close()
    return data


PAGE = 512


def make_bdb(
    records: list[tuple[int, bytes]], *, order: str = "<", inline_max: int = 64
) -> tuple[bytearray, dict[int, list[int]]]:
    """A Berkeley DB hash file: meta page, one hash page, overflow chains after it.

    Returns the file and, per record, the pages of its overflow chain.
    """
    pages: list[bytearray] = [bytearray(PAGE), bytearray(PAGE)]
    items: list[bytes] = []
    chains: dict[int, list[int]] = {}
    for record, value in records:
        items.append(b"\x01" + struct.pack(order + "I", record))
        if len(value) <= inline_max:
            items.append(b"\x01" + value)
            continue
        chain: list[int] = []
        for start in range(0, len(value), PAGE - 26):
            piece = value[start : start + PAGE - 26]
            chain.append(len(pages))
            page = bytearray(PAGE)
            struct.pack_into(order + "I", page, 8, len(pages))
            struct.pack_into(order + "H", page, 22, len(piece))
            page[25] = 7
            page[26 : 26 + len(piece)] = piece
            pages.append(page)
        for here, nxt in zip(chain, [*chain[1:], 0], strict=True):
            struct.pack_into(order + "I", pages[here], 16, nxt)
        chains[record] = chain
        items.append(b"\x03\0\0\0" + struct.pack(order + "II", chain[0], len(value)))
    hash_page = pages[1]
    struct.pack_into(order + "I", hash_page, 8, 1)
    struct.pack_into(order + "H", hash_page, 20, len(items))
    hash_page[25] = 13
    top = PAGE
    for i, item in enumerate(items):
        top -= len(item)
        hash_page[top : top + len(item)] = item
        struct.pack_into(order + "H", hash_page, 26 + 2 * i, top)
    assert 26 + 2 * len(items) <= top
    meta = pages[0]
    struct.pack_into(order + "IIIBB", meta, 12, 0x061561, 9, PAGE, 0, 8)
    struct.pack_into(order + "I", meta, 32, len(pages) - 1)
    return bytearray(b"".join(pages)), chains


def scan(path: str, data: bytes) -> InventoryBuilder:
    facts = InventoryBuilder()
    RpmAnalyzer(ScanContext()).analyze(AnalyzedFile(path=path, data=data, layer=None), facts)
    return facts


def names(facts: InventoryBuilder) -> list[str]:
    return sorted(p.name for p in facts.packages)


# --- headers, through SQLite (the simplest container to put a forged blob in) ---


def test_builder_header_reads_back() -> None:
    facts = scan("var/lib/rpm/rpmdb.sqlite", make_sqlite([good_header("a", epoch=0)]))
    assert facts.warnings == []
    [p] = facts.packages
    assert (p.name, p.version, p.arch, p.source_name, p.source_version) == (
        "a",
        "0:1.0-2",
        "x86_64",
        "a",
        "1.0-2",
    )
    assert p.metadata == (("epoch", "0"), ("release", "2"), ("sourceRpm", "a-1.0-2.src.rpm"))


def test_dribble_entry_replaces_region_entry() -> None:
    blob = make_header([(NAME, STRING, "old"), (VERSION, STRING, "1"), (RELEASE, STRING, "1")])
    # Append a later index entry for NAME pointing at a new string (rpm's dribble entries).
    count, length = struct.unpack_from(">II", blob)
    index = blob[8 : 8 + 16 * count] + struct.pack(">IIiI", NAME, STRING, length, 1)
    data = blob[8 + 16 * count :] + b"new\0"
    forged = struct.pack(">II", count + 1, len(data)) + index + data
    assert RpmHeader(forged).string(NAME) == "new"


def test_header_array_and_i18n_types() -> None:
    header = RpmHeader(
        make_header(
            [
                (NAME, I18NSTRING, ["summary", "résumé"]),
                (1118, STRING_ARRAY, ["/a", "/b", "/c"]),
                (EPOCH, INT32, [7, 8]),
            ]
        )
    )
    assert header.string(NAME) == "summary"
    assert header.string_array(NAME) == ["summary", "résumé"]
    assert header.string_array(1118) == ["/a", "/b", "/c"]
    assert header.int32(EPOCH) == 7
    assert header.string(LICENSE) is None


def forged_headers() -> dict[str, tuple[bytes, str]]:
    good = good_header("x")
    count = struct.unpack_from(">I", good)[0]
    name_entry = 8 + 16 * 1  # index entry 0 is the region, 1 is NAME

    def patched(offset: int, fmt: str, *values: int) -> bytes:
        b = bytearray(good)
        struct.pack_into(fmt, b, offset, *values)
        return bytes(b)

    no_nul = struct.pack(">IIIIiI", 1, 1, NAME, STRING, 0, 1) + b"x"
    return {
        "2^31 entries": (patched(0, ">I", 2**31), "claims 2147483648 index entries"),
        "2^32-1 entries": (patched(0, ">I", 2**32 - 1), "claims 4294967295 index entries"),
        "zero entries": (patched(0, ">I", 0), "claims 0 index entries"),
        "huge data": (patched(4, ">I", 2**31), "claims 2147483648 bytes of data"),
        "truncated": (good[:-5], "blob has"),
        "short": (b"\0\0\0", "too short"),
        "offset past data": (patched(name_entry + 8, ">i", 10**6), "out of range"),
        "negative offset": (patched(name_entry + 8, ">i", -4), "out of range"),
        "bad type": (patched(name_entry + 4, ">I", 77), "out of range"),
        "int type for name": (patched(name_entry + 4, ">I", INT32), "not a string"),
        "no NUL": (no_nul, "runs past"),
        "region trailer out of range": (patched(8 + 8, ">i", 10**6), "region tag 63"),
        "no name": (make_header([(VERSION, STRING, "1"), (RELEASE, STRING, "1")]), "no name"),
        "index count too big for blob": (patched(0, ">I", count + 1000), "blob has"),
    }


@pytest.mark.parametrize("case", sorted(forged_headers()))
def test_forged_header_is_warned_and_skipped(case: str) -> None:
    blob, message = forged_headers()[case]
    facts = scan(
        "var/lib/rpm/rpmdb.sqlite", make_sqlite([good_header("a"), blob, good_header("b")])
    )
    assert names(facts) == ["a", "b"]
    assert len(facts.warnings) == 1
    assert facts.warnings[0].startswith("var/lib/rpm/rpmdb.sqlite: package record 2: ")
    assert message in facts.warnings[0]


def test_epoch_with_wrong_type_is_a_damaged_record() -> None:
    blob = make_header(
        [(NAME, STRING, "a"), (VERSION, STRING, "1"), (RELEASE, STRING, "1"), (EPOCH, STRING, "1")]
    )
    facts = scan("var/lib/rpm/rpmdb.sqlite", make_sqlite([blob]))
    assert facts.packages == []
    assert facts.warnings == [
        "var/lib/rpm/rpmdb.sqlite: package record 1: tag 1003 has type 6 count 1, not int32"
    ]


def test_warnings_are_capped_per_file() -> None:
    facts = scan("var/lib/rpm/rpmdb.sqlite", make_sqlite([b"junk"] * 50))
    assert facts.packages == []
    assert len(facts.warnings) == MAX_WARNINGS_PER_FILE + 1
    assert facts.warnings[-1] == "var/lib/rpm/rpmdb.sqlite: 30 more problems not shown"


# --- whole files ---


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\0" * 100,
        bytes(random.Random(1).randrange(256) for _ in range(5000)),
        b"SQLite format 3\0" + bytes(random.Random(2).randrange(256) for _ in range(5000)),
        b"RpmP" + bytes(random.Random(3).randrange(256) for _ in range(5000)),
    ],
    ids=["empty", "zeros", "random", "sqlite-magic", "ndb-magic"],
)
def test_garbage_file(data: bytes) -> None:
    facts = scan("var/lib/rpm/Packages", data)
    assert facts.packages == []
    assert len(facts.warnings) >= 1
    assert all(w.startswith("var/lib/rpm/Packages: ") for w in facts.warnings)


def test_sqlite_without_packages_table_and_with_a_view() -> None:
    con = sqlite3.connect(":memory:")
    con.execute(
        "CREATE VIEW Packages AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)"
        " SELECT i AS hnum, x'00' AS blob FROM n"
    )
    data = con.serialize()
    facts = scan("var/lib/rpm/rpmdb.sqlite", data)
    assert facts.packages == []
    assert facts.warnings == ["var/lib/rpm/rpmdb.sqlite: SQLite database has no Packages table"]


def test_sqlite_non_blob_rows() -> None:
    facts = scan("var/lib/rpm/rpmdb.sqlite", make_sqlite(["text", 5, good_header("a")]))
    assert names(facts) == ["a"]
    assert facts.warnings == [
        "var/lib/rpm/rpmdb.sqlite: package record 1: blob is not binary",
        "var/lib/rpm/rpmdb.sqlite: package record 2: blob is not binary",
    ]


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.9])
def test_truncated_real_sqlite(fraction: float) -> None:
    data = (TESTDATA / "cbl-mariner-2.0" / "rpmdb.sqlite").read_bytes()
    full = {p.name for p in scan("var/lib/rpm/rpmdb.sqlite", data).packages}
    facts = scan("var/lib/rpm/rpmdb.sqlite", data[: int(len(data) * fraction)])
    assert {p.name for p in facts.packages} < full
    assert len(facts.warnings) >= 1


# --- Berkeley DB hash ---


@pytest.mark.parametrize("order", ["<", ">"])
def test_bdb_builder_round_trip(order: str) -> None:
    big = good_header("big-" + "x" * 2000)  # spans several overflow pages
    small = struct.pack(">II", 0, 0) + b"\0" * 16  # a value short enough to stay on the page
    data, chains = make_bdb(
        [(0, struct.pack(order + "I", 3)), (1, big), (2, good_header("b")), (3, small)],
        order=order,
    )
    assert len(chains[1]) > 3
    facts = scan("var/lib/rpm/Packages", bytes(data))
    # Record 0 is rpm's counter and is skipped silently; record 3's header has no tags.
    assert names(facts) == ["b", "big-" + "x" * 2000]
    assert facts.warnings == [
        "var/lib/rpm/Packages: package record 3: header claims 0 index entries"
    ]


def test_bdb_overflow_cycle() -> None:
    data, chains = make_bdb([(1, good_header("loop-" + "y" * 1500)), (2, good_header("ok"))])
    chain = chains[1]
    last = chain[-1]
    struct.pack_into("<I", data, last * PAGE + 16, chain[0])  # last page -> first page
    # Claim more bytes than the chain holds, so the reader must walk round the cycle.
    item_at = _offpage_item(data, record=1)
    struct.pack_into("<I", data, PAGE + item_at + 8, len(data) - 1)
    facts = scan("var/lib/rpm/Packages", bytes(data))
    assert names(facts) == ["ok"]
    assert facts.warnings == [
        f"var/lib/rpm/Packages: package record 1 (page 1): overflow chain loops back to page "
        f"{chain[0]}"
    ]


def _offpage_item(data: bytearray, record: int) -> int:
    """Offset, within hash page 1, of the off-page value item of `record`."""
    entries = struct.unpack_from("<H", data, PAGE + 20)[0]
    offsets = struct.unpack_from(f"<{entries}H", data, PAGE + 26)
    for i in range(0, entries, 2):
        if data[PAGE + offsets[i] + 1 : PAGE + offsets[i] + 5] == struct.pack("<I", record):
            return int(offsets[i + 1])
    raise AssertionError(record)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("next-past-eof", "overflow chain points to page 4000000000"),
        ("next-to-meta", "overflow chain points to page 0"),
        ("wrong-type", "overflow chain reaches page"),
        ("page-length", "claims 65535 bytes"),
        ("huge-tlen", "overflow item claims 4294967295 bytes"),
        ("unknown-item", "unknown item type 9"),
    ],
)
def test_bdb_forged_overflow(tamper: str, message: str) -> None:
    data, chains = make_bdb([(1, good_header("t-" + "z" * 1500)), (2, good_header("ok"))])
    chain = chains[1]
    item_at = _offpage_item(data, record=1)
    if tamper == "next-past-eof":
        struct.pack_into("<I", data, chain[0] * PAGE + 16, 4_000_000_000)
    elif tamper == "next-to-meta":
        struct.pack_into("<I", data, chain[0] * PAGE + 16, 0)
    elif tamper == "wrong-type":
        data[chain[1] * PAGE + 25] = 13
    elif tamper == "page-length":
        struct.pack_into("<H", data, chain[0] * PAGE + 22, 0xFFFF)
    elif tamper == "huge-tlen":
        struct.pack_into("<I", data, PAGE + item_at + 8, 2**32 - 1)
    else:
        data[PAGE + item_at] = 9
    facts = scan("var/lib/rpm/Packages", bytes(data))
    assert names(facts) == ["ok"]
    assert len(facts.warnings) == 1
    assert facts.warnings[0].startswith("var/lib/rpm/Packages: package record 1 (page 1): ")
    assert message in facts.warnings[0]


def test_bdb_forged_hash_page() -> None:
    data, _ = make_bdb([(1, good_header("a")), (2, good_header("b"))])
    struct.pack_into("<H", data, PAGE + 20, 0xFFFF)  # more items than the page can index
    facts = scan("var/lib/rpm/Packages", bytes(data))
    assert facts.packages == []
    assert facts.warnings == ["var/lib/rpm/Packages: Berkeley DB page 1 claims 65535 items"]


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (20, "<I", 100, "Berkeley DB page size 100 is invalid"),
        (24, "<B", 1, "Berkeley DB file is encrypted"),
        (25, "<B", 9, "Berkeley DB metadata page has type 9"),
    ],
)
def test_bdb_forged_meta_page(offset: int, fmt: str, value: int, message: str) -> None:
    data, _ = make_bdb([(1, good_header("a"))])
    struct.pack_into(fmt, data, offset, value)
    facts = scan("var/lib/rpm/Packages", bytes(data))
    assert facts.packages == []
    assert facts.warnings == [f"var/lib/rpm/Packages: {message}"]


@pytest.mark.parametrize("pages", [1, 3, 12, 22])
def test_truncated_real_bdb(pages: int) -> None:
    data = (TESTDATA / "libuuid" / "Packages").read_bytes()
    facts = scan("var/lib/rpm/Packages", data[: pages * 4096 + 100])
    assert names(facts) in ([], ["libuuid"])
    assert facts.warnings[0] == (
        f"var/lib/rpm/Packages: Berkeley DB file is truncated: {pages} of 23 pages present"
    )


# --- NDB ---

NDB = TESTDATA / "sle15-bci" / "Packages.db"


def test_ndb_slot_past_eof() -> None:
    data = bytearray(NDB.read_bytes())
    struct.pack_into("<I", data, 32 + 8, 0x7FFFFFFF)  # slot 0's block offset
    facts = scan("var/lib/rpm/Packages.db", bytes(data))
    assert len(facts.packages) == 34
    assert "system-user-root" not in names(facts)
    assert facts.warnings == [
        "var/lib/rpm/Packages.db: package record 1: NDB slot points outside the file"
    ]


def test_ndb_block_count_past_eof() -> None:
    data = bytearray(NDB.read_bytes())
    struct.pack_into("<I", data, 32 + 12, 0xFFFFFFFF)
    facts = scan("var/lib/rpm/Packages.db", bytes(data))
    assert len(facts.packages) == 34
    assert facts.warnings == [
        "var/lib/rpm/Packages.db: package record 1: NDB slot points outside the file"
    ]


def test_ndb_checksum_and_length() -> None:
    data = bytearray(NDB.read_bytes())
    slots = [struct.unpack_from("<4sIII", data, 32 + 16 * i) for i in range(3)]
    start0 = slots[0][2] * 16
    data[start0 + 100] ^= 0xFF  # a byte inside blob 1's header data
    start1 = slots[1][2] * 16
    struct.pack_into("<I", data, start1 + 12, 2**31)  # blob 2 claims a huge length
    start2 = slots[2][2] * 16
    data[start2 : start2 + 4] = b"XXXX"  # blob 3 lost its magic
    facts = scan("var/lib/rpm/Packages.db", bytes(data))
    assert len(facts.packages) == 32
    assert facts.warnings == [
        "var/lib/rpm/Packages.db: package record 1: NDB blob checksum mismatch",
        "var/lib/rpm/Packages.db: package record 2: NDB blob length 2147483648 does not fit"
        " its blocks",
        "var/lib/rpm/Packages.db: package record 3: NDB blob header does not match its slot",
    ]


def test_ndb_header_claims_too_many_slot_pages() -> None:
    data = bytearray(NDB.read_bytes())
    struct.pack_into("<I", data, 12, 0xFFFFFFFF)
    facts = scan("var/lib/rpm/Packages.db", bytes(data))
    assert facts.packages == []
    assert facts.warnings == ["var/lib/rpm/Packages.db: NDB header claims 4294967295 slot pages"]


@pytest.mark.parametrize("cut", [31, 4095, 4096 + 100, 700_000])
def test_truncated_real_ndb(cut: int) -> None:
    data = NDB.read_bytes()
    full = {p.name for p in scan("var/lib/rpm/Packages.db", data).packages}
    facts = scan("var/lib/rpm/Packages.db", data[:cut])
    got = {p.name for p in facts.packages}
    assert got < full
    assert len(facts.warnings) >= 1
    if cut == 700_000:
        # Every blob that ends before the cut is still read.
        assert len(got) == sum(
            1
            for _magic, index, block, blocks in struct.iter_unpack("<4sIII", data[32:4096])
            if index and (block + blocks) * 16 <= cut
        )
