"""The blob cache keeps only blobs that hashed to their name, and only inside its root."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeward.artifact.cache import BlobCache
from kubeward.errors import ArtifactError, DigestMismatchError

DATA = b"layer bytes " * 1000
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
MiB = 1024 * 1024


def chunks(data: bytes, size: int = 997) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_store_streams_verifies_and_renames(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "c")
    assert not cache.has(DIGEST)
    path = cache.store(DIGEST, chunks(DATA), MiB, size=len(DATA))
    assert path == tmp_path / "c" / "blobs" / "sha256" / DIGEST.removeprefix("sha256:")
    assert path.read_bytes() == DATA
    assert cache.has(DIGEST)
    assert cache.path(DIGEST) == path
    assert all_files(tmp_path) == [path]
    for directory in (tmp_path / "c", tmp_path / "c" / "blobs", path.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    # storing again (a concurrent pull) replaces it atomically with the same bytes
    assert cache.store(DIGEST, [DATA], MiB) == path
    assert all_files(tmp_path) == [path]


def test_mismatch_names_both_digests_and_leaves_nothing(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "c")
    bad = DATA[:-1] + b"X"
    actual = "sha256:" + hashlib.sha256(bad).hexdigest()
    with pytest.raises(DigestMismatchError) as info:
        cache.store(DIGEST, chunks(bad), MiB)
    assert str(info.value) == (
        f"blob content does not match its digest: expected {DIGEST}, got {actual}"
    )
    assert not cache.has(DIGEST)
    assert all_files(tmp_path) == []


def test_size_caps_and_declared_size(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "c")
    with pytest.raises(ArtifactError) as info:
        cache.store(DIGEST, chunks(DATA), 5000)
    assert str(info.value) == f"blob {DIGEST} is larger than the 5000 byte limit"
    with pytest.raises(ArtifactError) as info:
        cache.store(DIGEST, chunks(DATA), MiB, size=100)
    assert str(info.value) == f"blob {DIGEST} is longer than the 100 bytes declared"
    with pytest.raises(ArtifactError) as info:
        cache.store(DIGEST, chunks(DATA[:500]), MiB, size=len(DATA))
    assert str(info.value) == f"blob {DIGEST} is truncated: got 500 of {len(DATA)} bytes declared"
    assert all_files(tmp_path) == []


def test_failing_source_removes_partial_file(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "c")

    def broken() -> Iterator[bytes]:
        yield DATA[:100]
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        cache.store(DIGEST, broken(), MiB)
    assert all_files(tmp_path) == []


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:../../x",
        "sha256:../../" + "a" * 58,
        "sha256:" + "a" * 64 + "/../../x",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 128,
        "../sha256:" + "a" * 64,
        "a" * 64,
        "",
    ],
)
def test_hostile_digests_never_become_paths(tmp_path: Path, digest: str) -> None:
    cache = BlobCache(tmp_path / "c")
    for call in (cache.has, cache.path, lambda d: cache.store(d, [b"x"], MiB)):
        with pytest.raises(ArtifactError) as info:
            call(digest)
        assert "invalid or unsupported blob digest" in str(info.value)
    assert all_files(tmp_path) == []


def test_temp_file_is_scratch_inside_the_cache(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "c")
    with cache.temp_file(suffix=".tar") as scratch:
        scratch.write(b"scratch")
        scratch.seek(0)
        assert scratch.read() == b"scratch"
        where = Path(scratch.name)
        assert where.parent == tmp_path / "c" / "tmp"
        assert where.name.endswith(".tar")
        assert stat.S_IMODE(where.parent.stat().st_mode) == 0o700
    assert not where.exists()
