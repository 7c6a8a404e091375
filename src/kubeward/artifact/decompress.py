"""Turn a stored layer blob into bounded chunks of tar bytes, hashing both sides on the way.

The compression is sniffed from the magic bytes (gzip, zstd, else plain tar) because media
types lie: docker-archive layers are plain tars whatever the manifest said. gzip goes through
ISA-L (isal), about 2-3x faster than zlib here, which is what keeps a scan close to the cost
of `gzip -dc`. Every output chunk is at most CHUNK bytes, so a decompression bomb costs at
most one chunk of memory before the byte cap stops it.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from kubeward.errors import LayerError

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class LayerStream:
    """Iterates the uncompressed bytes of one blob in chunks of at most CHUNK.

    `compressed_sha256` and `sha256` are the hex digests of what was read, complete once the
    iteration has ended; `on_read(n)` is called with each compressed read (for progress).
    """

    def __init__(
        self,
        raw: BinaryIO,
        label: str,
        max_bytes: int,
        hash_compressed: bool = False,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        self._raw = raw
        self._label = label
        self._max_bytes = max_bytes
        self._hash_compressed = hashlib.sha256() if hash_compressed else None
        self._hash = hashlib.sha256()
        self._on_read = on_read
        self.total_out = 0
        self.compression = "none"

    @property
    def sha256(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    @property
    def compressed_sha256(self) -> str | None:
        if self._hash_compressed is None:
            return None
        return "sha256:" + self._hash_compressed.hexdigest()

    def _read_raw(self, n: int) -> bytes:
        try:
            data = self._raw.read(n)
        except OSError as exc:
            raise LayerError(f"{self._label}: cannot read blob: {exc}") from exc
        if data:
            if self._hash_compressed is not None:
                self._hash_compressed.update(data)
            if self._on_read is not None:
                self._on_read(len(data))
        return data

    def _emit(self, out: bytes) -> bytes:
        self.total_out += len(out)
        if self.total_out > self._max_bytes:
            raise LayerError(
                f"{self._label}: decompressed size exceeds the cap of {self._max_bytes} bytes "
                "(decompression bomb? raise --max-layer-bytes if the image is genuine)"
            )
        self._hash.update(out)
        return out

    def __iter__(self) -> Iterator[bytes]:
        head = self._read_raw(CHUNK)
        if head.startswith(GZIP_MAGIC):
            self.compression = "gzip"
            yield from self._gzip(head)
        elif head.startswith(ZSTD_MAGIC):
            self.compression = "zstd"
            yield from self._zstd(head)
        else:
            data = head
            while data:
                yield self._emit(data)
                data = self._read_raw(CHUNK)

    def _gzip(self, data: bytes) -> Iterator[bytes]:
        from isal import isal_zlib

        decomp = isal_zlib.decompressobj(31)
        try:
            while True:
                if not data:
                    data = self._read_raw(CHUNK)
                    if not data:
                        break
                out = decomp.decompress(data, CHUNK)
                data = decomp.unconsumed_tail
                if out:
                    yield self._emit(out)
                if decomp.eof:
                    # Concatenated gzip members are one stream (RFC 1952); trailing zero
                    # padding after the last member is tolerated as gzip(1) does.
                    rest = decomp.unused_data + data
                    if not rest:
                        rest = self._read_raw(CHUNK)
                    if not rest.strip(b"\0"):
                        while self._read_raw(CHUNK):
                            pass
                        return
                    decomp = isal_zlib.decompressobj(31)
                    data = rest
            if not decomp.eof:
                raise LayerError(f"{self._label}: gzip stream is truncated")
        except isal_zlib.error as exc:  # type: ignore[misc]  # isal ships no stubs
            raise LayerError(f"{self._label}: corrupt gzip stream: {exc}") from exc

    def _zstd(self, head: bytes) -> Iterator[bytes]:
        import io

        import zstandard

        class _Prepended(io.RawIOBase):
            """The already-sniffed head followed by the rest of the blob."""

            def __init__(self, outer: LayerStream, first: bytes) -> None:
                self._outer = outer
                self._first: bytes | None = first

            def readable(self) -> bool:
                return True

            def read(self, n: int = -1) -> bytes:
                if self._first:
                    first, self._first = self._first, None
                    return first
                return self._outer._read_raw(CHUNK if n is None or n < 0 else n)

        source = typing.cast("typing.IO[bytes]", _Prepended(self, head))
        reader = zstandard.ZstdDecompressor().stream_reader(
            source, read_size=CHUNK, read_across_frames=True
        )
        try:
            while True:
                out = reader.read(CHUNK)
                if not out:
                    break
                yield self._emit(out)
        except zstandard.ZstdError as exc:
            raise LayerError(f"{self._label}: corrupt zstd stream: {exc}") from exc


_DONE = object()


def prefetch(chunks: Iterable[bytes], depth: int = 4) -> Iterator[bytes]:
    """Iterate `chunks` from a background thread, at most `depth` chunks ahead.

    Reading, inflating and hashing all release the GIL, so on two cores they run beside
    the tar parsing and analyzers instead of before them. Errors in the producer are
    re-raised here; closing the iterator early stops the producer.
    """
    q: queue.Queue[object] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    thread = threading.Thread(target=produce, name="kubeward-layer-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        stop.set()
        thread.join()
