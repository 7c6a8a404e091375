"""Image references ("alpine", "ghcr.io/o/app:1@sha256:...") parsed and normalised as docker does.

Users type the short familiar forms; the registry client needs the API host, the full repository
path and what to pull. The grammar is distribution's reference grammar, so a reference docker
accepts is accepted here and one it rejects fails with the same kind of one-line reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubeward.errors import ArtifactError

DOCKER_HUB_DOMAIN = "docker.io"
DOCKER_HUB_REGISTRY = "registry-1.docker.io"  # where docker.io's v2 API actually lives
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

_NAME_MAX = 255
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    rf"(?:\[[a-fA-F0-9:]+\]|{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*)(?::[0-9]+)?",
    re.ASCII,
)
_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_HEX64_RE = re.compile(r"[a-f0-9]{64}", re.ASCII)
# go-digest's registered algorithms and their hex lengths; anything else cannot be verified.
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True, slots=True)
class Reference:
    registry: str  # API host[:port]; "registry-1.docker.io" for Docker Hub
    repository: str  # full path: "library/alpine"
    tag: str | None = None  # "latest" when neither tag nor digest was given
    digest: str | None = None  # "sha256:<hex>"; wins over the tag when pulling

    @property
    def domain(self) -> str:
        """The registry as users write it: "docker.io" for Docker Hub."""
        return DOCKER_HUB_DOMAIN if self.registry in _DOCKER_HUB_ALIASES else self.registry

    @property
    def name(self) -> str:
        """The familiar repository name: "alpine", "user/app", "ghcr.io/o/app"."""
        if self.domain == DOCKER_HUB_DOMAIN:
            return self.repository.removeprefix("library/")
        return f"{self.domain}/{self.repository}"

    @property
    def pull_target(self) -> str:
        """What goes after /manifests/: the digest when there is one, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _fail(text: str, why: str) -> ArtifactError:
    shown = text if len(text) <= 300 else text[:300] + "..."
    return ArtifactError(f"invalid image reference {shown!r}: {why}")


def validate_digest(text: str, digest: str) -> None:
    if not _DIGEST_RE.fullmatch(digest):
        raise _fail(text, "digest must look like sha256:<64 hex digits>")
    algorithm, hexpart = digest.split(":", 1)
    expected = DIGEST_HEX_LENGTHS.get(algorithm)
    if expected is None:
        raise _fail(text, f"unsupported digest algorithm {algorithm!r}")
    if len(hexpart) != expected or hexpart != hexpart.lower():
        raise _fail(text, f"{algorithm} digest must be {expected} lowercase hex digits")


def parse_reference(text: str) -> Reference:
    """Parse and normalise a reference the way `docker pull` does; ArtifactError when invalid."""
    if not text or text != text.strip() or any(c.isspace() for c in text):
        raise _fail(text, "invalid reference format")
    remainder = text
    digest: str | None = None
    if "@" in remainder:
        remainder, _, digest = remainder.partition("@")
        validate_digest(text, digest)
    tag: str | None = None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise _fail(text, "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
    if not remainder:
        raise _fail(text, "repository name is empty")
    if len(remainder) > _NAME_MAX:
        raise _fail(text, f"repository name must not be more than {_NAME_MAX} characters")

    first, sep, rest = remainder.partition("/")
    # docker's rule: the first component is a host when it looks like one; otherwise Docker Hub.
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        if not _DOMAIN_RE.fullmatch(first):
            raise _fail(text, f"invalid registry host {first!r}")
        domain, path = first, rest
    else:
        domain, path = DOCKER_HUB_DOMAIN, remainder
    if domain in _DOCKER_HUB_ALIASES:
        domain = DOCKER_HUB_DOMAIN
        if "/" not in path:
            path = f"library/{path}"

    if path.lower() != path:
        raise _fail(text, "repository name must be lowercase")
    for component in path.split("/"):
        if not _PATH_COMPONENT_RE.fullmatch(component):
            raise _fail(
                text,
                f"invalid repository path component {component!r} "
                "(lowercase letters, digits and single . _ __ or - separators)",
            )
    if _HEX64_RE.fullmatch(text):
        raise _fail(text, "a repository name cannot be a 64-hex-digit image ID")

    if tag is None and digest is None:
        tag = "latest"
    registry = DOCKER_HUB_REGISTRY if domain == DOCKER_HUB_DOMAIN else domain
    return Reference(registry=registry, repository=path, tag=tag, digest=digest)
