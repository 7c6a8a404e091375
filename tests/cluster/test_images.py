"""Distinct images of a cluster: deduplicated by digest, each scanned once, `jobs` at a time."""

from __future__ import annotations

import threading
import time
from typing import Any

from kubeward.cluster.images import ImageBook, ImageScan, ImageUse, repo_digest, scan_images
from kubeward.model import Finding, Location, Severity

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def _pod(name: str, image: str, image_id: str | None) -> dict[str, Any]:
    status = {"containerStatuses": [{"name": "app", "imageID": image_id}]} if image_id else {}
    return {"spec": {"containers": [{"name": "app", "image": image}]}, "status": status}


def test_repo_digest() -> None:
    assert repo_digest(f"docker-pullable://reg:5000/app@{D1}") == ("reg:5000/app", D1)
    assert repo_digest(f"docker.io/library/nginx@{D1}") == ("docker.io/library/nginx", D1)
    assert repo_digest(f"@{D1}") == (None, D1)
    assert repo_digest(D1) == (None, None)  # containerd's local config id: not pullable
    assert repo_digest("") == (None, None)
    assert repo_digest("nginx@sha256:short") == (None, None)


def test_dedup_by_digest_then_reference() -> None:
    book = ImageBook()
    book.add_pod(_pod("a", "reg:5000/app:1", f"reg:5000/app@{D1}"), "Pod/ns/a")
    book.add_pod(_pod("b", "reg:5000/app:1", f"reg:5000/app@{D1}"), "Pod/ns/b")
    book.add_pod(_pod("c", "reg:5000/app:latest", f"reg:5000/app@{D1}"), "Pod/ns/c")  # same digest
    book.add_pod(_pod("d", "reg:5000/app:1", f"reg:5000/app@{D2}"), "Pod/ns/d")  # tag moved
    book.add_pod(_pod("e", "nginx:1.25", None), "Pod/ns/e")  # pending: no status
    book.add_pod(_pod("f", "nginx:1.25", None), "Pod/ns/f")
    book.add_template(["nginx:1.25", "redis:7"], "Deployment/ns/web")
    book.add_pod({"spec": {"containers": [{"image": 5}, "x", {"image": " "}]}}, "Pod/ns/bad")
    uses = book.distinct()
    summary = [(u.key, u.pull, u.count, u.users) for u in uses]
    assert summary == [
        ("nginx:1.25", "nginx:1.25", 3, ["Pod/ns/e", "Pod/ns/f", "Deployment/ns/web"]),
        ("redis:7", "redis:7", 1, ["Deployment/ns/web"]),
        (D1, f"reg:5000/app@{D1}", 3, ["Pod/ns/a", "Pod/ns/b", "Pod/ns/c"]),
        (D2, f"reg:5000/app@{D2}", 1, ["Pod/ns/d"]),
    ]


def test_users_are_capped() -> None:
    use = ImageUse("k", "app:1", "app:1")
    for i in range(8):
        use.add_user(f"Pod/ns/p{i}")
    assert use.users_text == "Pod/ns/p0, Pod/ns/p1, Pod/ns/p2, Pod/ns/p3, Pod/ns/p4 and 3 more"


def test_each_image_scanned_once_with_bounded_concurrency() -> None:
    uses = [
        ImageUse(f"k{i}", f"app{i}:1", f"app{i}:1", users=["Pod/ns/p"], count=1) for i in range(6)
    ]
    calls: list[str] = []
    running = 0
    peak = 0
    lock = threading.Lock()

    def scan(use: ImageUse) -> ImageScan:
        nonlocal running, peak
        with lock:
            calls.append(use.key)
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        if use.key == "k3":
            raise RuntimeError("registry said no")
        finding = Finding(
            kind="secret", rule_id="r", title="t", severity=Severity.HIGH,
            location=Location(path="etc/x"), message="m",
        )  # fmt: skip
        return ImageScan((finding,), ("w",) if use.key == "k0" else ())

    findings, warnings = scan_images(uses, scan, jobs=2)
    assert sorted(calls) == [f"k{i}" for i in range(6)]
    assert peak == 2
    assert warnings == ["w", "image app3:1: not scanned: registry said no"]
    assert len(findings) == 5
    assert findings[0].location == Location(
        path="etc/x", resource="image app0:1 (used by Pod/ns/p)"
    )
