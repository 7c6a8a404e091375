"""End to end: `kubeward fs --scanners secret` on Dockerfiles and Kubernetes manifests.

All values are fake, generated for this test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

KUBEWARD = str(Path(sys.executable).with_name("kubeward"))
GITLAB = "glpat-" + "Xq3vR8mT2kLp9WzN4bYc"
SLACK_HOOK = "https://hooks.slack.com/services/" + "T0A1B2C3D/B4E5F6G7H/q8R9s0T1u2V3w4X5y6Z7a8B9"
PASSWORD = "pZ4x" + "Lk9qTr2mW7vB"

DOCKERFILE = f"""FROM debian:12
ARG GITLAB_TOKEN={GITLAB}
RUN curl -X POST -d 'ok' {SLACK_HOOK}
ENV APP_MODE=production
"""

MANIFESTS = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: prod
spec:
  template:
    spec:
      containers:
        - name: app
          image: shop:1
          env:
            - name: DB_PASSWORD
              value: "{PASSWORD}"
---
apiVersion: v1
kind: Secret
metadata:
  name: shop-db
  namespace: prod
type: Opaque
data:
  username: YWRtaW4=
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  mode: production
"""


def test_dockerfile_and_manifests(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "shop.yaml").write_text(MANIFESTS)
    done = subprocess.run(
        [KUBEWARD, "fs", str(tmp_path), "--scanners", "secret", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for raw in (GITLAB, SLACK_HOOK, PASSWORD):
        assert raw not in done.stdout and raw not in done.stderr
    report = json.loads(done.stdout)
    found = sorted(
        (f["ruleId"], f["location"]["path"], f["location"]["line"], f["location"]["resource"])
        for f in report["findings"]
    )
    assert found == [
        ("gitlab-pat", "Dockerfile", 2, None),  # an ARG default
        ("kubernetes-env-secret-value", "deploy/shop.yaml", 14, None),  # a literal env value
        ("kubernetes-secret-manifest", "deploy/shop.yaml", 17, "Secret/prod/shop-db"),
        ("slack-webhook-url", "Dockerfile", 3, None),  # in a RUN step
    ]


def test_config_file_disables_rules_and_announces_the_default_allowlist(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "testdata").mkdir()
    (tmp_path / "testdata" / "fixture.env").write_text(f"GITLAB_TOKEN={GITLAB}\n")
    (tmp_path / "kubeward.yaml").write_text(
        "secrets:\n  disable: [slack-webhook-url]\n  default_allowlist: true\n"
    )
    done = subprocess.run(
        [KUBEWARD, "fs", str(tmp_path), "--scanners", "secret", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    found = sorted((f["ruleId"], f["location"]["path"]) for f in report["findings"])
    # the webhook rule is disabled; testdata/ is skipped by the default allowlist
    assert found == [("gitlab-pat", "Dockerfile")]
    assert report["warnings"][0].startswith(
        "secret scanning skipped paths matching the default test-fixture allowlist"
    )
    assert done.stderr.splitlines()[0].startswith("kubeward: warning: secret scanning skipped")
