"""`kubeward k8s` on hostile API server answers: objects with wrong types everywhere and
version strings of thousands of digits are skipped or unjudged, never a traceback."""

from __future__ import annotations

from typing import Any

from kubeward.cluster.audit import AuditOptions, audit
from kubeward.cluster.checks_cluster import core_version, minor_of, skew_violation
from kubeward.cluster.client import RESOURCE_TYPES, Cluster
from kubeward.cluster.images import ImageBook

HUGE = "v1." + "2" * 5000 + ".1"


class FakeCluster(Cluster):
    """Answers each list with the given items, /version with `version`."""

    def __init__(self, items: dict[str, list[Any]], version: Any) -> None:
        super().__init__(None, "ctx", "https://fake")
        self.items = items
        self.answer = version

    def get_json(self, path: str, query: list[tuple[str, str]] | None = None) -> Any:
        if path == "/version":
            return self.answer
        plural = next(r.plural for r in RESOURCE_TYPES if r.path() == path)
        return {"items": self.items.get(plural, []), "metadata": {}}

    def probe_status(self, path: str) -> int:
        return 401


def node(name: str, version: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"nodeInfo": {"kubeletVersion": version}}}


def test_versions_of_thousands_of_digits_are_not_versions() -> None:
    assert core_version(HUGE) is None
    assert core_version("v" + "1" * 5000 + ".2.3") is None
    assert core_version("v١.٢٨.٣") is None  # Arabic-Indic digits are no release
    assert minor_of(HUGE) is None
    assert skew_violation("v1.30.1", HUGE, ["n"]) is None
    assert core_version("v1.29.3-eks-ae9a62a") == "1.29.3"


def test_audit_with_huge_server_and_kubelet_versions_judges_no_skew() -> None:
    cluster = FakeCluster({"nodes": [node("a", HUGE)]}, {"gitVersion": "v" + "9" * 5000 + ".1.1"})
    options = AuditOptions(selection=_only("KW-K8S-212"), anonymous_probe=False)
    result = audit(cluster, options)
    assert result.findings == []
    assert result.kubelets == {HUGE: ["a"]}


def test_pod_with_containers_and_statuses_of_wrong_types_collects_no_image() -> None:
    pods: list[Any] = [
        {
            "metadata": {"name": "p1", "namespace": "ns"},
            "spec": {"containers": 5, "initContainers": True, "ephemeralContainers": "x"},
            "status": {"containerStatuses": 7, "initContainerStatuses": 1.5},
        },
        {
            "metadata": {"name": "p2", "namespace": "ns"},
            "spec": {"containers": {"name": "c", "image": "app:1"}},
            "status": 5,
        },
        {
            "metadata": {"name": "p3", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "app:2"}, 3, "x", {"image": 5}]},
            "status": {"containerStatuses": [{"name": "c", "imageID": 5}]},
        },
    ]
    book = ImageBook()
    for pod in pods:
        book.add_pod(pod, "Pod/ns/" + pod["metadata"]["name"])
    assert [(u.reference, u.users) for u in book.distinct()] == [("app:2", ["Pod/ns/p3"])]

    cluster = FakeCluster({"pods": pods}, {"gitVersion": "v1.30.1"})
    options = AuditOptions(selection=_only("KW-K8S-212"), anonymous_probe=False)
    options.collect_images = True
    result = audit(cluster, options)
    assert result.counts == {"Pod": 3}
    assert [u.reference for u in result.images.distinct()] == ["app:2"]


def _only(check_id: str) -> Any:
    from kubeward.misconfig.engine import Selection

    return Selection(frozenset({check_id}))
