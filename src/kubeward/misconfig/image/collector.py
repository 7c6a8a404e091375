"""Keeps the bytes of the few small files image checks read (account databases, credential
files) during the single walk, so the checks never reopen a layer.

Everything else the image checks need (modes, sizes, which paths exist) is in the FileTree;
file contents are kept only for these paths and only up to MAX_FILE_BYTES each, so a hostile
image cannot make the scan hold large files in memory.
"""

from __future__ import annotations

from typing import ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder, ScanContext

MAX_FILE_BYTES = 1 << 20

ACCOUNT_FILES = frozenset({"etc/passwd", "etc/shadow", "etc/group"})

# credential files by their last path components: (parent directory or "", basename)
CREDENTIAL_FILES: tuple[tuple[str, str], ...] = (
    (".aws", "credentials"),
    (".docker", "config.json"),
    (".ssh", "id_rsa"),
    (".ssh", "id_dsa"),
    (".ssh", "id_ecdsa"),
    (".ssh", "id_ed25519"),
    ("", ".npmrc"),
    ("", ".pypirc"),
    ("", ".git-credentials"),
    ("", ".netrc"),
)


def is_credential_path(path: str) -> bool:
    """True for a credential file kubeward looks into, wherever it sits (any home)."""
    parent, _, base = path.rpartition("/")
    parent_base = parent.rpartition("/")[2]
    for directory, name in CREDENTIAL_FILES:
        if base == name and (not directory or parent_base == directory):
            return True
    return False


class ImageFilesCollector(Analyzer):
    """Holds the account databases and credential files for the image checks."""

    name: ClassVar[str] = "image-files"
    basenames: ClassVar[frozenset[str]] = frozenset(
        {"passwd", "shadow", "group", *(name for _, name in CREDENTIAL_FILES)}
    )

    def __init__(self, context: ScanContext) -> None:
        super().__init__(context)
        self.files: dict[str, bytes] = {}

    def wants(self, path: str, mode: int) -> bool:
        return path in ACCOUNT_FILES or is_credential_path(path)

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        if len(file.data) > MAX_FILE_BYTES:
            facts.warn(
                f"misconfig: skipped {file.path!r}: {len(file.data)} bytes is over the "
                f"{MAX_FILE_BYTES}-byte cap for image check files"
            )
            return
        self.files[file.path] = file.data
