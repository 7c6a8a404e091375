"""End to end: `kubeward k8s --scanners secret` pulls each distinct image from a real registry
once, however many pods run it, and reports its findings against the image."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import imagebuild as ib
from fake_apiserver import FakeApiServer
from peers import push, start_registry

pytestmark = pytest.mark.e2e

KUBEWARD = str(Path(sys.executable).with_name("kubeward"))
GITHUB_TOKEN = "ghp_" + "Q9w8E7r6T5y4U3i2O1p0AsDfGhJkLzXcVbNm"  # fake, well-formed


def _pod(name: str, image: str, image_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {"containerStatuses": [{"name": "app", "image": image, "imageID": image_id}]},
    }


def test_two_pods_one_image_scanned_once(tmp_path: Path) -> None:
    built = ib.write_oci_layout(
        tmp_path / "layout",
        [[ib.file("app/config.env", f"GITHUB_TOKEN={GITHUB_TOKEN}\n")]],
        tag="1",
    )
    with start_registry(tmp_path) as registry:
        reference = push(tmp_path / "layout", "1", registry, "shop/app")
        repo = reference.rsplit(":", 1)[0]
        image_id = f"docker-pullable://{repo}@{built.manifest_digest}"
        pods = [_pod("a", reference, image_id), _pod("b", reference, image_id)]
        with FakeApiServer(pods) as server:
            kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
            done = subprocess.run(
                [KUBEWARD, "k8s", "--kubeconfig", str(kubeconfig), "--scanners", "secret",
                 "--insecure", "-f", "json", "-q", "--cache-dir", str(tmp_path / "cache")],
                capture_output=True, text=True, timeout=120, cwd=tmp_path,
            )  # fmt: skip
        log = registry.log.read_text()
    assert done.returncode == 0, done.stderr
    assert GITHUB_TOKEN not in done.stdout
    findings = json.loads(done.stdout)["findings"]
    assert [(f["kind"], f["location"]["resource"]) for f in findings] == [
        ("secret", f"image {reference} (used by Pod/shop/a, Pod/shop/b)")
    ]
    manifest_gets = [  # the registry's access log, one line per request
        line for line in log.splitlines()
        if '"GET /v2/shop/app/manifests/' in line and "kubeward/" in line
    ]  # fmt: skip
    assert len(manifest_gets) == 1, manifest_gets
    assert built.manifest_digest in manifest_gets[0]
