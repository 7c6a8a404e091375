"""A content-addressed blob cache: a blob lands under its digest only after it hashed to it.

Registry pulls stream every blob here, so a later scan of the same image downloads nothing and
readers can trust any file they find (it was verified on the way in). Digests come from
strangers' manifests, so they are validated before they become a path.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from kubeward.errors import ArtifactError, DigestMismatchError

_SHA256_RE = re.compile(r"sha256:([a-f0-9]{64})", re.ASCII)


def sha256_hex(digest: str) -> str:
    """The hex part of a "sha256:<64 lowercase hex>" digest; ArtifactError for anything else."""
    match = _SHA256_RE.fullmatch(digest) if isinstance(digest, str) else None
    if match is None:
        shown = repr(digest)[:100]
        raise ArtifactError(f"invalid or unsupported blob digest {shown} (want sha256:<64 hex>)")
    return match.group(1)


class BlobCache:
    """Blobs under root/blobs/sha256/<hex>; scratch files under root/tmp."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blob_dir = self.root / "blobs" / "sha256"
        self.tmp_dir = self.root / "tmp"

    def _ensure(self, directory: Path) -> None:
        # Each level we create gets 0o700 (mkdir(parents=True) would give parents the umask).
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        current = self.root
        for part in directory.relative_to(self.root).parts:
            current = current / part
            current.mkdir(mode=0o700, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.blob_dir / sha256_hex(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def store(
        self,
        digest: str,
        chunks: Iterable[bytes],
        max_bytes: int,
        *,
        size: int | None = None,
    ) -> Path:
        """Stream `chunks` into the cache as `digest`; return its path.

        Hashes while writing; on a digest mismatch, a size over `max_bytes` or a length other
        than `size` (when given) the partial file is removed and nothing is cached.
        """
        hex_expected = sha256_hex(digest)
        final = self.blob_dir / hex_expected
        self._ensure(self.blob_dir)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{hex_expected[:12]}-", dir=self.blob_dir)
        tmp = Path(tmp_name)
        try:
            hasher = hashlib.sha256()
            written = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    written += len(chunk)
                    if written > max_bytes:
                        raise ArtifactError(
                            f"blob {digest} is larger than the {max_bytes} byte limit"
                        )
                    if size is not None and written > size:
                        raise ArtifactError(
                            f"blob {digest} is longer than the {size} bytes declared"
                        )
                    hasher.update(chunk)
                    out.write(chunk)
            if size is not None and written != size:
                raise ArtifactError(
                    f"blob {digest} is truncated: got {written} of {size} bytes declared"
                )
            actual = "sha256:" + hasher.hexdigest()
            if actual != digest:
                raise DigestMismatchError(
                    f"blob content does not match its digest: expected {digest}, got {actual}"
                )
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final

    def temp_file(self, suffix: str = "") -> IO[bytes]:
        """A scratch file inside the cache (same filesystem), deleted when closed."""
        self._ensure(self.tmp_dir)
        return tempfile.NamedTemporaryFile(
            mode="w+b", dir=self.tmp_dir, prefix=".scratch-", suffix=suffix
        )
