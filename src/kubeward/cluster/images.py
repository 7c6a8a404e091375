"""The images a cluster runs, each scanned once (`kubeward k8s --scanners vuln,secret`).

Pods say what they run twice: `spec.containers[].image` (the reference as written, often a
tag) and `status.containerStatuses[].imageID` (the digest the node pulled, as
"docker-pullable://repo@sha256:..." or "repo@sha256:..."). Images are deduplicated by that
digest when a status gives one (one tag may be two digests on two nodes, and two tags one
digest), else by the reference. Controllers' pod templates add the references no pod runs
yet. Each distinct image is scanned once, `jobs` at a time, and its findings are reported
against the image, naming the workloads that run it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubeward.model import Finding

log = logging.getLogger(__name__)

MAX_USERS = 5  # workloads named per image
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
STATUS_LISTS = ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")


@dataclass
class ImageUse:
    """One distinct image: the reference to pull (by digest when known) and who runs it."""

    key: str  # the digest ("sha256:...") or, without one, the reference
    reference: str  # as written in the pod spec
    pull: str  # what to pull: "repo@sha256:..." when the digest is known, else `reference`
    digest: str | None = None
    users: list[str] = field(default_factory=list)  # first MAX_USERS "Kind/ns/name"
    count: int = 0  # every user

    def add_user(self, user: str) -> None:
        self.count += 1
        if len(self.users) < MAX_USERS and user not in self.users:
            self.users.append(user)

    @property
    def users_text(self) -> str:
        text = ", ".join(self.users)
        more = self.count - len(self.users)
        return f"{text} and {more} more" if more > 0 else text


def repo_digest(image_id: str) -> tuple[str | None, str | None]:
    """(repository, "sha256:...") from a container status' imageID; the repository is None
    when only the digest is given (containerd's local "sha256:<config>" ids are not
    pullable: those give (None, None), the reference is pulled instead)."""
    text = image_id.strip()
    for scheme in ("docker-pullable://", "docker://", "containerd://"):
        text = text.removeprefix(scheme)
    repo, at, digest = text.rpartition("@")
    if at and digest.startswith("sha256:") and len(digest) == 71:
        return repo or None, digest
    return None, None


def _repository(reference: str) -> str:
    """The repository of a reference: "reg:5000/app:1.2@sha256:..." -> "reg:5000/app"."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


class ImageBook:
    """Distinct images seen so far; bounded by the number of distinct images, not pods."""

    def __init__(self) -> None:
        self.by_key: dict[str, ImageUse] = {}
        self._templates: dict[str, list[str]] = {}  # reference -> users, from templates

    def add_pod(self, pod: dict[str, Any], user: str) -> None:
        spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
        status = pod.get("status") if isinstance(pod.get("status"), dict) else {}
        assert isinstance(spec, dict) and isinstance(status, dict)
        digests: dict[str, tuple[str | None, str]] = {}  # container name -> (repo, digest)
        for list_name in STATUS_LISTS:
            items = status.get(list_name)
            for item in items if isinstance(items, list) else ():
                if not isinstance(item, dict):
                    continue
                repo, digest = repo_digest(str(item.get("imageID") or ""))
                if digest is not None and isinstance(item.get("name"), str):
                    digests[item["name"]] = (repo, digest)
        for list_name in CONTAINER_LISTS:
            containers = spec.get(list_name)
            for container in containers if isinstance(containers, list) else ():
                if not isinstance(container, dict):
                    continue
                reference = container.get("image")
                if not isinstance(reference, str) or not reference.strip():
                    continue
                repo, digest = digests.get(str(container.get("name")), (None, None))
                self._add(reference.strip(), repo, digest, user)

    def add_template(self, images: Iterable[str], user: str) -> None:
        """References of a controller's pod template (resolved against pods at the end)."""
        for reference in images:
            if reference.strip():
                self._templates.setdefault(reference.strip(), []).append(user)

    def _add(self, reference: str, repo: str | None, digest: str | None, user: str) -> None:
        if digest is not None:
            pull = f"{repo or _repository(reference)}@{digest}"
            use = self.by_key.setdefault(digest, ImageUse(digest, reference, pull, digest))
        else:
            use = self.by_key.setdefault(reference, ImageUse(reference, reference, reference))
        use.add_user(user)

    def distinct(self) -> list[ImageUse]:
        """Every distinct image: pods' images, then template references no pod runs (a
        template reference a pod runs counts its controller among that image's users)."""
        by_reference: dict[str, ImageUse] = {}
        for use in self.by_key.values():
            by_reference.setdefault(use.reference, use)
        for reference, users in self._templates.items():
            found = by_reference.get(reference)
            if found is None:
                found = self.by_key.setdefault(reference, ImageUse(reference, reference, reference))
                by_reference[reference] = found
            for user in users:
                found.add_user(user)
        self._templates.clear()
        return sorted(self.by_key.values(), key=lambda u: (u.reference, u.key))


@dataclass(frozen=True, slots=True)
class ImageScan:
    """What scanning one image gave."""

    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()


ScanImage = Callable[[ImageUse], ImageScan]


def scan_images(
    uses: list[ImageUse], scan: ScanImage, jobs: int
) -> tuple[list[Finding], list[str]]:
    """Scan each image once, `jobs` at a time; an image that cannot be pulled or scanned is
    one warning, the others go on. Findings name the image and its workloads."""
    findings: list[Finding] = []
    warnings: list[str] = []

    def one(use: ImageUse) -> ImageScan:
        try:
            return scan(use)
        except Exception as exc:  # a registry or a hostile image must not end the audit
            log.debug("scanning %s failed", use.pull, exc_info=True)
            text = " ".join(str(exc).split())[:300] or type(exc).__name__
            return ImageScan(warnings=(f"image {use.reference}: not scanned: {text}",))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, uses))
    for use, result in zip(uses, results, strict=True):
        warnings.extend(result.warnings)
        where = f"image {use.reference} (used by {use.users_text})"
        for finding in result.findings:
            location = dataclasses.replace(finding.location, resource=where)
            if finding.location.path is None:
                location = dataclasses.replace(location, path=use.pull)
            findings.append(dataclasses.replace(finding, location=location))
    return findings, warnings
