"""What an image check sees: the config, the squashed tree's metadata and a few small files.

Checks stay pure functions over this value: the walk that fills it happens once, in
`kubeward.sbom.scan_image`, and only the files `ImageFilesCollector` asked for are in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeward.artifact.filetree import FileTree


@dataclass(frozen=True)
class ImageSubject:
    config: dict[str, Any]  # the image config JSON (architecture, os, config, rootfs, history)
    tree: FileTree  # every visible path with kind, size, mode and layer
    files: dict[str, bytes]  # small files kept by ImageFilesCollector, by path
    reference: str  # what the user typed (oci:DIR:TAG, alpine:3.19, docker-archive:F ...)
    # where the image came from (Image.kind): "registry", "oci", "docker-archive" ...;
    # None when unknown, then the reference's prefix decides
    source: str | None = None
    _body: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        body = self.config.get("config") if isinstance(self.config, dict) else None
        object.__setattr__(self, "_body", body if isinstance(body, dict) else {})

    @property
    def body(self) -> dict[str, Any]:
        """The runtime part of the config (User, Env, Healthcheck ...), {} when absent."""
        return self._body

    def env(self) -> list[tuple[str, str]]:
        """The config's Env as (name, value) pairs; malformed entries are skipped."""
        raw = self._body.get("Env")
        if not isinstance(raw, list):
            return []
        out: list[tuple[str, str]] = []
        for item in raw:
            if isinstance(item, str):
                name, _, value = item.partition("=")
                if name:
                    out.append((name, value))
        return out
