"""What the user typed -> which source opens it.

Prefixes follow skopeo/syft usage: `docker-archive:FILE[:name:tag]`, `oci-archive:FILE[:tag]`,
`oci:DIR[:tag]`, `rootfs:DIR`, `dir:DIR`, `docker-daemon:NAME`, `registry:REF` (or
`docker://REF`). Without a prefix, an existing path is sniffed (a directory holding
`oci-layout` is an OCI layout, any other directory a project tree; a tar holding
`manifest.json` is a docker archive, one holding `index.json` an OCI archive) and anything
else is a registry reference.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from kubeward.errors import UsageError

PREFIXES = ("docker-archive", "oci-archive", "oci", "rootfs", "dir", "docker-daemon", "registry")


@dataclass(frozen=True)
class Target:
    kind: str  # one of PREFIXES
    location: str  # path, daemon image name or registry reference
    selector: str | None = None  # tag or name:tag inside an archive or layout


def _split_path(rest: str, want_dir: bool) -> tuple[str, str | None]:
    """Split "PATH[:selector]" where PATH may itself hold colons: the longest existing
    prefix ending before a colon is the path."""
    if os.path.exists(rest):
        return rest, None
    idx = rest.find(":")
    while idx != -1:
        candidate = rest[:idx]
        if candidate and (os.path.isdir(candidate) if want_dir else os.path.isfile(candidate)):
            return candidate, rest[idx + 1 :] or None
        idx = rest.find(":", idx + 1)
    return rest, None


def _sniff_tar(path: str) -> str | None:
    try:
        with tarfile.open(path, "r:") as tar:
            names = set()
            for member in tar:
                names.add(member.name.lstrip("./"))
                if "manifest.json" in names:
                    return "docker-archive"
                if len(names) > 10_000:
                    break
            if "index.json" in names or "oci-layout" in names:
                return "oci-archive"
    except (tarfile.TarError, OSError):
        return None
    return None


def parse_target(text: str) -> Target:
    if not text:
        raise UsageError("no target given")
    if text.startswith("docker://"):
        return Target("registry", text[len("docker://") :])
    prefix, sep, rest = text.partition(":")
    if sep and prefix in PREFIXES:
        if not rest:
            raise UsageError(f"{prefix}: needs a location after the colon")
        if prefix in ("docker-archive", "oci-archive"):
            path, selector = _split_path(rest, want_dir=False)
            return Target(prefix, path, selector)
        if prefix == "oci":
            path, selector = _split_path(rest, want_dir=True)
            return Target(prefix, path, selector)
        return Target(prefix, rest)
    if os.path.isdir(text):
        kind = "oci" if os.path.isfile(os.path.join(text, "oci-layout")) else "dir"
        return Target(kind, text)
    if os.path.isfile(text):
        sniffed = _sniff_tar(text)
        if sniffed is None:
            raise UsageError(
                f"{text}: not a docker-archive or oci-archive tar (for a directory scan, "
                "give its folder)"
            )
        return Target(sniffed, text)
    if text.startswith(("/", "./", "../")):
        raise UsageError(f"{text}: no such file or directory")
    return Target("registry", text)


def check_local(target: Target) -> Path:
    """The path of a local target, or a one-line error when it is missing."""
    path = Path(target.location)
    if target.kind in ("oci", "rootfs", "dir"):
        if not path.is_dir():
            raise UsageError(f"{target.kind}:{target.location}: not a directory")
    elif not path.is_file():
        raise UsageError(f"{target.kind}:{target.location}: no such file")
    return path
