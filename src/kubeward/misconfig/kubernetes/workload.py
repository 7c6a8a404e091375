"""One pod-spec view over every workload kind, so a check is written once for all of them.

`pod_view(obj)` finds the pod spec of a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
ReplicationController, Job, CronJob, PodTemplate or OpenShift DeploymentConfig (any
apiVersion: old `extensions/v1beta1` manifests still deploy somewhere), and each container
carries the path of its fields, so a finding can point at the exact line. `effective`
implements the precedence Kubernetes applies: a container's securityContext field wins over
the pod's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubeward.misconfig.kubernetes.objects import K8sObject, PathKey, value_at

# kind -> path from the object to its pod template (metadata + spec); Pod is the pod itself
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "PodTemplate": ("template",),
    # OpenShift (apps.openshift.io/v1): its pods pass Pod Security Admission like any other
    "DeploymentConfig": ("spec", "template"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# securityContext fields a container may set and that override the pod-level field
POD_LEVEL_FIELDS = frozenset(
    {"runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile",
     "windowsOptions", "appArmorProfile"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ContainerView:
    """One container of a pod spec: `list_name` is containers / initContainers /
    ephemeralContainers, `path` the path from the object root to the container."""

    pod: PodView
    list_name: str
    index: int
    data: dict[str, Any]
    path: tuple[PathKey, ...]

    @property
    def name(self) -> str:
        value = self.data.get("name")
        return str(value) if value is not None else f"{self.list_name}[{self.index}]"

    @property
    def image(self) -> str:
        value = self.data.get("image")
        return value if isinstance(value, str) else ""

    @property
    def security_context(self) -> dict[str, Any]:
        value = self.data.get("securityContext")
        return value if isinstance(value, dict) else {}

    def get(self, *path: PathKey) -> Any:
        """The value at `path` inside this container, or None."""
        return value_at(self.data, path)

    def line_of(self, *path: PathKey) -> int:
        return self.pod.obj.line_of(*self.path, *path)

    def effective(self, field: str) -> tuple[Any, tuple[PathKey, ...] | None]:
        """The value of securityContext `field` that applies to this container and the
        path where it is set (container over pod, per the Kubernetes API), or (None, None)."""
        value = self.security_context.get(field)
        if value is not None:
            return value, (*self.path, "securityContext", field)
        if field in POD_LEVEL_FIELDS:
            pod_value = self.pod.security_context.get(field)
            if pod_value is not None:
                return pod_value, (*self.pod.spec_path, "securityContext", field)
        return None, None


@dataclass(frozen=True, slots=True)
class PodView:
    """The pod spec of a workload, with the paths of its spec and template metadata."""

    obj: K8sObject
    spec: dict[str, Any]
    spec_path: tuple[PathKey, ...]
    metadata: dict[str, Any]  # the pod template's metadata (the Pod's own for a Pod)
    metadata_path: tuple[PathKey, ...]

    @property
    def security_context(self) -> dict[str, Any]:
        value = self.spec.get("securityContext")
        return value if isinstance(value, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        value = self.metadata.get("annotations")
        return value if isinstance(value, dict) else {}

    def containers(self, *lists: str) -> Iterator[ContainerView]:
        """Every container of the given lists (default: all three), in spec order."""
        for list_name in lists or CONTAINER_LISTS:
            items = self.spec.get(list_name)
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    path = (*self.spec_path, list_name, index)
                    yield ContainerView(self, list_name, index, item, path)

    def line_of(self, *path: PathKey) -> int:
        """Line of a field of the pod spec (`line_of("hostNetwork")`)."""
        return self.obj.line_of(*self.spec_path, *path)

    def volumes(self) -> Iterator[tuple[int, dict[str, Any]]]:
        items = self.spec.get("volumes")
        if isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    yield index, item


def pod_view(obj: K8sObject) -> PodView | None:
    """The pod spec of a workload object, or None for other kinds or a malformed spec."""
    if "pod_view" in obj.cache:
        view: PodView | None = obj.cache["pod_view"]
        return view
    view = None
    template_path = TEMPLATE_PATHS.get(obj.kind)
    if template_path is not None:
        template = obj.get(*template_path) if template_path else obj.data
        if isinstance(template, dict):
            spec = template.get("spec")
            metadata = template.get("metadata")
            if isinstance(spec, dict):
                view = PodView(
                    obj,
                    spec,
                    (*template_path, "spec"),
                    metadata if isinstance(metadata, dict) else {},
                    (*template_path, "metadata"),
                )
    obj.cache["pod_view"] = view
    return view
