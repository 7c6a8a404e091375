"""Cluster-level checks as pure functions: PSA labels, anonymous probe, versions, CVE feed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeward.cluster import checks_cluster as cc
from kubeward.errors import UsageError
from kubeward.model import Severity

FEED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "osv" / "k8s-cve-feed-osv"


def _ids(pairs: object) -> list[str]:
    return [check_id for check_id, _ in pairs]  # type: ignore[attr-defined]


def test_psa_labels() -> None:
    enforce = cc.PSA_ENFORCE
    assert _ids(cc.psa_violations("shop", {enforce: "restricted"})) == []
    assert _ids(cc.psa_violations("shop", {enforce: "baseline"})) == []
    assert _ids(cc.psa_violations("shop", None)) == ["KW-K8S-202"]
    assert _ids(cc.psa_violations("shop", {"team": "a"})) == ["KW-K8S-202"]
    [(_, bad)] = cc.psa_violations("shop", {enforce: "strict"})
    assert "(written 'strict', not a level)" in bad.message
    [(check_id, priv)] = cc.psa_violations("shop", {enforce: "privileged"})
    assert check_id == "KW-K8S-203"
    assert priv.message.startswith("namespace shop enforces the privileged Pod Security level")
    for system in ("kube-system", "kube-public", "kube-node-lease"):
        assert _ids(cc.psa_violations(system, {})) == []
        assert _ids(cc.psa_violations(system, {enforce: "privileged"})) == []


def test_anonymous_probe_statuses() -> None:
    assert _ids(cc.anonymous_violations(401, "/api")) == []
    assert _ids(cc.anonymous_violations(0, "/api")) == []  # no answer: not judged
    assert _ids(cc.anonymous_violations(403, "/api")) == ["KW-K8S-200"]
    assert _ids(cc.anonymous_violations(200, "/api")) == ["KW-K8S-201"]


@pytest.mark.parametrize(
    ("text", "core"),
    [
        ("v1.30.2", "1.30.2"),
        ("1.30.2", "1.30.2"),
        ("v1.29.3-eks-ae9a62a", "1.29.3"),
        ("v1.27.3-gke.100", "1.27.3"),
        ("v1.28.5+k3s1", "1.28.5"),
        ("v1.31.0-rc.1", "1.31.0-rc.1"),
        ("v1.31.0-alpha.2", "1.31.0-alpha.2"),
        ("latest", None),
        ("v1.30", None),
    ],
)
def test_core_version(text: str, core: str | None) -> None:
    assert cc.core_version(text) == core


def test_version_skew() -> None:
    assert cc.skew_violation("v1.30.2", "v1.30.0", ["a"]) is None
    assert cc.skew_violation("v1.30.2", "v1.27.9", ["a"]) is None  # n-3 allowed from 1.28
    older = cc.skew_violation("v1.30.2", "v1.26.15", ["a"])
    assert older is not None
    assert older.message == (
        "kubelet v1.26.15 on Node/a is 4 minor versions older than the API server v1.30.2: "
        "the version skew policy allows at most 3"
    )
    old_policy = cc.skew_violation("v1.27.1", "v1.24.0", ["a", "b"])
    assert old_policy is not None and "allows at most 2" in old_policy.message
    newer = cc.skew_violation("v1.29.0", "v1.30.1", [f"n{i}" for i in range(7)])
    assert newer is not None
    assert "on Node/n0, Node/n1, Node/n2, Node/n3, Node/n4, 2 more is newer" in newer.message
    assert cc.skew_violation("v1.29.0", "garbage", ["a"]) is None


def test_feed_from_shared_data_matches_versions() -> None:
    feed = cc.CveFeed.load(FEED)
    assert feed.warnings == []
    assert len(feed.records) == 47  # every record has a "kubernetes" SEMVER entry
    # CVE-2017-1002101: apiserver and kubelet 1.9.0 up to 1.9.4
    hits = {h.record.id: h for h in feed.affecting("v1.9.3", cc.APISERVER_PACKAGES)}
    assert "CVE-2017-1002101" in hits
    hit = hits["CVE-2017-1002101"]
    assert (hit.package, hit.version, hit.fixed) == ("k8s.io/apiserver", "1.9.3", "1.9.4")
    assert hit.record.severity is Severity.HIGH  # CVSS 3.0 8.8
    fixed = {h.record.id for h in feed.affecting("v1.9.4", cc.APISERVER_PACKAGES)}
    assert "CVE-2017-1002101" not in fixed
    # vendor builds compare as their upstream release
    eks = {h.record.id for h in feed.affecting("v1.9.3-eks-1", cc.APISERVER_PACKAGES)}
    assert eks == set(hits)


def test_feed_bad_input(tmp_path: Path) -> None:
    good = {
        "id": "CVE-2099-0001",
        "summary": "a  made-up\nproblem",
        "affected": [
            {
                "package": {"ecosystem": "kubernetes", "name": "k8s.io/kubelet"},
                "severity": [
                    {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
                ],
                "ranges": [
                    {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "v1.2.3"}]}
                ],
            },
            {"package": {"ecosystem": "Go", "name": "k8s.io/kubelet"}, "ranges": []},
        ],
        "references": [{"url": "https://example.com/a"}],
    }
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "types.json").write_text(json.dumps({"id": "X", "affected": [5]}))
    (tmp_path / "other.json").write_text(json.dumps({"id": "GO-1", "affected": []}))
    (tmp_path / "notes.txt").write_text("ignored")
    feed = cc.CveFeed.load(tmp_path)
    assert [r.id for r in feed.records] == ["CVE-2099-0001"]
    record = feed.records[0]
    assert (record.summary, record.severity) == ("a made-up problem", Severity.CRITICAL)
    assert record.references == ("https://example.com/a",)
    assert len(feed.warnings) == 3
    assert feed.warnings[0].startswith("k8s CVE feed broken.json: skipped: ")
    assert feed.warnings[1] == (
        "k8s CVE feed list.json: skipped: malformed record (not an OSV record (no id))"
    )
    assert feed.warnings[2].startswith("k8s CVE feed types.json: skipped: malformed record")
    [hit] = feed.affecting("v1.2.2", cc.KUBELET_PACKAGES)
    assert hit.fixed == "1.2.3"
    assert cc.cve_violation(hit, "kubelet v1.2.2").message == (
        "CVE-2099-0001: a made-up problem — kubelet v1.2.2 is affected (k8s.io/kubelet; "
        "fixed in 1.2.3)"
    )
    assert feed.affecting("v1.2.3", cc.KUBELET_PACKAGES) == []
    assert feed.affecting("v1.2.2", cc.APISERVER_PACKAGES) == []
    assert feed.affecting("not-a-version", cc.KUBELET_PACKAGES) == []


def test_feed_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        cc.CveFeed.load(tmp_path / "missing")
