"""An image as every source presents it: a config and its layers, bottom first.

Sources (registry, archives, layouts, the daemon) only locate bytes; the walker reads them.
A layer's `open()` returns the blob as stored (gzip, zstd or plain tar: the walker sniffs
the magic bytes rather than trusting media types, which archives get wrong).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from kubeward.model import ArtifactInfo, LayerInfo


@dataclass(frozen=True)
class Layer:
    diff_id: str  # "sha256:..." of the uncompressed tar, from the config's rootfs.diff_ids
    open: Callable[[], BinaryIO]  # a fresh stream of the blob as stored
    digest: str | None = None  # the blob digest ("sha256:..."), when the source names one
    size: int | None = None  # the blob size, when known
    media_type: str = ""
    verified: bool = False  # True when the source already checked `digest` (registry cache)
    created_by: str = ""


@dataclass
class Image:
    name: str  # what the user typed
    kind: str  # "registry" | "docker-archive" | "oci-archive" | "oci" | "docker-daemon"
    config: dict[str, Any]  # the image config JSON (architecture, os, config, rootfs, history)
    layers: list[Layer]
    config_digest: str | None = None
    manifest_digest: str | None = None
    repo_tags: tuple[str, ...] = ()
    closers: list[Callable[[], None]] = field(default_factory=list)

    def info(self) -> ArtifactInfo:
        return ArtifactInfo(
            name=self.name,
            kind=self.kind,
            image_id=self.config_digest,
            repo_digest=self.manifest_digest,
            architecture=self.config.get("architecture"),
            os=self.config.get("os"),
            layers=tuple(
                LayerInfo(
                    diff_id=layer.diff_id,
                    digest=layer.digest,
                    size=layer.size,
                    created_by=layer.created_by,
                )
                for layer in self.layers
            ),
            repo_tags=self.repo_tags,
        )

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.closers.clear()


def layers_from_config(
    config: dict[str, Any], blobs: list[tuple[str | None, int | None, str]]
) -> list[tuple[str, str]]:
    """Pair each manifest blob with its config diff_id and history `created_by`.

    `blobs` is (digest, size, media_type) per manifest layer, bottom first. Raises ValueError
    when the counts disagree. History entries with `empty_layer` make no layer.
    """
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if not isinstance(diff_ids, list) or len(diff_ids) != len(blobs):
        raise ValueError(
            f"image config lists {len(diff_ids) if isinstance(diff_ids, list) else 0} diff_ids "
            f"but the manifest has {len(blobs)} layers"
        )
    history = [
        h for h in (config.get("history") or []) if isinstance(h, dict) and not h.get("empty_layer")
    ]
    created = [str(h.get("created_by", "")) for h in history]
    if len(created) != len(blobs):
        created = [""] * len(blobs)
    return [(str(d), c) for d, c in zip(diff_ids, created, strict=True)]
