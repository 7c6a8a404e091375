"""Pod Security Standards: one check per control of the Baseline and Restricted profiles.

Each check follows the control as the newest policy version of the upstream implementation
(k8s.io/pod-security-admission, `policy/check_*.go`) evaluates it, which is what a namespace
labelled `pod-security.kubernetes.io/enforce: <level>` (version `latest`) admits: the same
fields, the same allowed values, init and ephemeral containers treated like containers. The
difference is the shape of the answer: one violation per offending field, on its line, so a
finding can be fixed where it is.

Interpretations (where the specification page, the code or a manifest leave a choice):

- Allowed-value lists are those of the newest released policy. Sysctls: the v1.32 set (the
  five of v1.0, `ip_local_reserved_ports` from v1.27, the four TCP keepalive/FIN sysctls
  from v1.29, `tcp_rmem`/`tcp_wmem` from v1.32); additions announced for an unreleased
  policy version (`tcp_slow_start_after_idle`, `tcp_notsent_lowat` for v1.37) wait for its
  release. SELinux types include `container_engine_t` (v1.31). Restricted volumes include
  `image` (allowed by the code since v1.33 although the page still lists eight types).
- User namespaces (`spec.hostUsers: false`): since policy v1.35 the Restricted runAsNonRoot
  and runAsUser controls and the Baseline /proc mount control do not apply to such pods.
  Restricted re-imposes the /proc mount rule (`procMount_restricted`: the Baseline rule
  without the exemption). KW-K8S-018 reports it for pods that share the host's users and
  KW-K8S-036 for user-namespaced pods only, so one field is never reported twice.
- Probe and lifecycle hosts (policy v1.34): any non-empty `host` is forbidden, loopback
  names and addresses (`localhost`, `127.0.0.1`, `::1`) included, as the released policy
  has it (a draft allowed them). Ephemeral containers are visited too, as upstream visits
  them, although the API server rejects probes and lifecycle hooks there.
- Seccomp annotations (`seccomp.security.alpha.kubernetes.io/*`) are only read by policy
  versions before v1.19 and the API server ignores them since v1.27: only the
  `seccompProfile` fields are checked. The AppArmor beta annotations are still checked by
  the current policy, next to the `appArmorProfile` fields.
- Windows pods (`spec.os.name: windows`) are exempt from the three controls the
  specification marks Linux-only since v1.25: privilege escalation, Restricted seccomp and
  Restricted capabilities. Every other control applies to them as upstream applies it.
- A pod-level value the specification forbids is reported even when every container
  overrides it (runAsNonRoot: false, runAsUser: 0 at pod level), as the admission
  controller rejects such a pod too.
- A volume with no source is defaulted to emptyDir by the API server, so it passes; a
  source key we do not know is outside the Restricted list, as upstream treats it.
- A forbidden value is reported only when it is written with the API's type
  (`privileged: true`, `hostPort: 8080`): a string there would be rejected by the API server
  before any policy. A required value (`allowPrivilegeEscalation: false`,
  `runAsNonRoot: true`) written any other way is reported, as it does not meet the control.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from typing import Any

from kubeward.misconfig.engine import FieldFix, Violation, check
from kubeward.misconfig.kubernetes.objects import K8sObject, PathKey
from kubeward.misconfig.kubernetes.workload import ContainerView, PodView, pod_view

# Capabilities Baseline allows in `add` (the container runtime's default set, minus NET_RAW)
BASELINE_CAPABILITIES = frozenset(
    {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
     "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
)  # fmt: skip
RESTRICTED_ADD_CAPABILITY = "NET_BIND_SERVICE"
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
# policy version in which each safe sysctl became allowed (newest list: v1.32)
SAFE_SYSCTLS: dict[str, str] = {
    "kernel.shm_rmid_forced": "1.0",
    "net.ipv4.ip_local_port_range": "1.0",
    "net.ipv4.tcp_syncookies": "1.0",
    "net.ipv4.ping_group_range": "1.0",
    "net.ipv4.ip_unprivileged_port_start": "1.0",
    "net.ipv4.ip_local_reserved_ports": "1.27",
    "net.ipv4.tcp_keepalive_time": "1.29",
    "net.ipv4.tcp_fin_timeout": "1.29",
    "net.ipv4.tcp_keepalive_intvl": "1.29",
    "net.ipv4.tcp_keepalive_probes": "1.29",
    "net.ipv4.tcp_rmem": "1.32",
    "net.ipv4.tcp_wmem": "1.32",
}
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
     "persistentVolumeClaim", "projected", "secret"}
)  # fmt: skip
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE_HANDLERS = ("postStart", "preStop")
# handler actions that carry a `host` (exec, grpc and sleep have none)
HOST_ACTIONS = ("httpGet", "tcpSocket")
_WHO = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}
_MAX_SHOWN = 120


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _show(value: Any) -> str:
    """A field value as a message shows it: YAML-like scalars, long strings cut."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "..."
    return json.dumps(text, ensure_ascii=False)


def _who(container: ContainerView) -> str:
    return f"{_WHO.get(container.list_name, 'container')} {_show(container.name)}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _windows(pod: PodView) -> bool:
    return _dict(pod.spec.get("os")).get("name") == "windows"


def _user_namespace(pod: PodView) -> bool:
    return pod.spec.get("hostUsers") is False


def _settable(obj: K8sObject, path: tuple[PathKey, ...], *, as_list: bool = False) -> bool:
    """True when a "set" (or, with `as_list`, an "add") at `path` can be applied: every
    existing step is a mapping (or list for an index), and the target fits the operation."""
    value: Any = obj.data
    for key in path[:-1]:
        if isinstance(key, int):
            if not isinstance(value, list) or not 0 <= key < len(value):
                return False
            value = value[key]
        else:
            if not isinstance(value, dict):
                return False
            value = value.get(key)
            if value is None:
                return True  # the rest of the path is created
    if not isinstance(value, dict):
        return False
    target = value.get(path[-1])
    return not as_list or target is None or isinstance(target, list)


def _fix(obj: K8sObject, path: tuple[PathKey, ...], value: Any) -> tuple[FieldFix, ...]:
    return (FieldFix(path, value),) if _settable(obj, path) else ()


# --- Baseline -------------------------------------------------------------------------------


@check("KW-K8S-010", "kubernetes")
def host_process(obj: K8sObject) -> Iterator[Violation]:
    """Windows HostProcess containers run on the host with its network and file system."""
    pod = pod_view(obj)
    if pod is None:
        return
    options = _dict(pod.security_context.get("windowsOptions"))
    if options.get("hostProcess") is True:
        yield Violation(
            "pod sets securityContext.windowsOptions.hostProcess: true",
            line=pod.line_of("securityContext", "windowsOptions", "hostProcess"),
        )
    for c in pod.containers():
        if _dict(c.security_context.get("windowsOptions")).get("hostProcess") is True:
            yield Violation(
                f"{_who(c)} sets windowsOptions.hostProcess: true",
                line=c.line_of("securityContext", "windowsOptions", "hostProcess"),
            )


@check("KW-K8S-011", "kubernetes")
def host_namespaces(obj: K8sObject) -> Iterator[Violation]:
    """Sharing the node's network, PID or IPC namespace breaks the pod's isolation."""
    pod = pod_view(obj)
    if pod is None:
        return
    for field in HOST_NAMESPACES:
        if pod.spec.get(field) is True:
            yield Violation(f"pod sets {field}: true", line=pod.line_of(field))


@check("KW-K8S-012", "kubernetes")
def privileged(obj: K8sObject) -> Iterator[Violation]:
    """A privileged container has every capability and device of the node."""
    pod = pod_view(obj)
    if pod is None:
        return
    for c in pod.containers():
        if c.security_context.get("privileged") is True:
            yield Violation(
                f"{_who(c)} sets privileged: true", line=c.line_of("securityContext", "privileged")
            )


@check("KW-K8S-013", "kubernetes")
def baseline_capabilities(obj: K8sObject) -> Iterator[Violation]:
    """Only the container runtime's default capabilities may be added (exact names, as the
    policy compares them: `CAP_SYS_ADMIN` or `sys_admin` are not in the list either)."""
    pod = pod_view(obj)
    if pod is None:
        return
    for c in pod.containers():
        capabilities = _dict(c.security_context.get("capabilities"))
        for index, capability in enumerate(_list(capabilities.get("add"))):
            if capability not in BASELINE_CAPABILITIES:
                yield Violation(
                    f"{_who(c)} adds capability {_show(capability)}, which is not in the "
                    "baseline default set",
                    line=c.line_of("securityContext", "capabilities", "add", index),
                )


@check("KW-K8S-014", "kubernetes")
def host_path_volumes(obj: K8sObject) -> Iterator[Violation]:
    """A hostPath volume exposes the node's file system to the pod."""
    pod = pod_view(obj)
    if pod is None:
        return
    for index, volume in pod.volumes():
        source = volume.get("hostPath")
        if source is not None:
            path = _dict(source).get("path")
            where = f" {_show(path)}" if path is not None else ""
            yield Violation(
                f"volume {_show(volume.get('name'))} mounts hostPath{where}",
                line=pod.line_of("volumes", index, "hostPath"),
            )


@check("KW-K8S-015", "kubernetes")
def host_ports(obj: K8sObject) -> Iterator[Violation]:
    """A host port binds the node's interface, bypassing network policies and services."""
    pod = pod_view(obj)
    if pod is None:
        return
    for c in pod.containers():
        for index, port in enumerate(_list(c.data.get("ports"))):
            host_port = _dict(port).get("hostPort")
            if _is_int(host_port) and host_port != 0:
                yield Violation(
                    f"{_who(c)} uses hostPort {host_port}",
                    line=c.line_of("ports", index, "hostPort"),
                )


def _profile_types(pod: PodView, field: str, allowed: Collection[object]) -> Iterator[Violation]:
    """A `field` profile (appArmorProfile, seccompProfile) set on the pod or a container
    whose type is not one of `allowed`; unset profiles are the other checks' business."""
    places: list[tuple[str, dict[str, Any], Callable[..., int]]] = [
        ("pod", pod.security_context, pod.line_of)
    ]
    places += [(_who(c), c.security_context, c.line_of) for c in pod.containers()]
    for who, context, line_of in places:
        profile = context.get(field)
        if profile is not None:
            kind = _dict(profile).get("type")
            if kind not in allowed:
                yield Violation(
                    f"{who} sets {field} type {_show(kind)}",
                    line=line_of("securityContext", field, "type"),
                )


@check("KW-K8S-016", "kubernetes")
def apparmor(obj: K8sObject) -> Iterator[Violation]:
    """The AppArmor profile may only be the runtime default or a profile loaded on the node,
    through the `appArmorProfile` fields or the (deprecated, still honoured) annotations."""
    pod = pod_view(obj)
    if pod is None:
        return
    yield from _profile_types(pod, "appArmorProfile", APPARMOR_TYPES)
    for key, value in pod.annotations.items():
        if not isinstance(key, str) or not key.startswith(APPARMOR_ANNOTATION_PREFIX):
            continue
        text = "" if value is None else str(value)
        if text and text != "runtime/default" and not text.startswith("localhost/"):
            yield Violation(
                f"annotation {key} is {_show(text)}",
                line=obj.line_of(*pod.metadata_path, "annotations", key),
            )


def _selinux(
    options: Any, who: str, line_of: Callable[..., int], prefix: tuple[PathKey, ...]
) -> Iterator[Violation]:
    opts = _dict(options)
    kind = opts.get("type")
    if kind is not None and kind not in SELINUX_TYPES:
        yield Violation(
            f"{who} sets seLinuxOptions.type {_show(kind)}",
            line=line_of(*prefix, "seLinuxOptions", "type"),
        )
    for field in ("user", "role"):
        value = opts.get(field)
        if value is not None and value != "":
            yield Violation(
                f"{who} sets seLinuxOptions.{field} {_show(value)}",
                line=line_of(*prefix, "seLinuxOptions", field),
            )


@check("KW-K8S-017", "kubernetes")
def selinux(obj: K8sObject) -> Iterator[Violation]:
    """A custom SELinux user or role, or a type outside the container types, lifts the
    confinement the container runtime's policy applies."""
    pod = pod_view(obj)
    if pod is None:
        return
    yield from _selinux(
        pod.security_context.get("seLinuxOptions"), "pod", pod.line_of, ("securityContext",)
    )
    for c in pod.containers():
        yield from _selinux(
            c.security_context.get("seLinuxOptions"), _who(c), c.line_of, ("securityContext",)
        )


def _proc_mount(pod: PodView, context: str = "") -> Iterator[Violation]:
    for c in pod.containers():
        value = c.security_context.get("procMount")
        if value is not None and value != "Default":
            yield Violation(
                f"{_who(c)} sets procMount: {_show(value)}{context}",
                line=c.line_of("securityContext", "procMount"),
            )


@check("KW-K8S-018", "kubernetes")
def proc_mount(obj: K8sObject) -> Iterator[Violation]:
    """An unmasked /proc exposes kernel interfaces the default masks hide. Baseline (v1.35)
    allows it in a user-namespace pod (`hostUsers: false`), where /proc belongs to the pod;
    KW-K8S-036 covers that case for Restricted."""
    pod = pod_view(obj)
    if pod is None or _user_namespace(pod):
        return
    yield from _proc_mount(pod)


@check("KW-K8S-019", "kubernetes")
def baseline_seccomp(obj: K8sObject) -> Iterator[Violation]:
    """A seccomp profile, when set, must be the runtime default or a node-local profile:
    Unconfined (or any other type) removes the system call filter."""
    pod = pod_view(obj)
    if pod is None:
        return
    yield from _profile_types(pod, "seccompProfile", SECCOMP_TYPES)


@check("KW-K8S-020", "kubernetes")
def sysctls(obj: K8sObject) -> Iterator[Violation]:
    """Only sysctls that are namespaced and isolated between pods may be set."""
    pod = pod_view(obj)
    if pod is None:
        return
    for index, item in enumerate(_list(pod.security_context.get("sysctls"))):
        name = _dict(item).get("name")
        if name not in SAFE_SYSCTLS:
            yield Violation(
                f"pod sets unsafe sysctl {_show(name)}",
                line=pod.line_of("securityContext", "sysctls", index, "name"),
            )


@check("KW-K8S-021", "kubernetes")
def probe_lifecycle_host(obj: K8sObject) -> Iterator[Violation]:
    """A probe or lifecycle hook with `host` makes the kubelet send requests from the node to
    any address the pod author names instead of the pod's own IP: a way to reach the node's
    loopback services and hosts the pod's network policies keep it from (policy v1.34)."""
    pod = pod_view(obj)
    if pod is None:
        return
    handlers: list[tuple[tuple[str, ...], str]] = [((probe,), probe) for probe in PROBES]
    handlers += [(("lifecycle", hook), f"lifecycle.{hook}") for hook in LIFECYCLE_HANDLERS]
    for c in pod.containers():
        for path, label in handlers:
            handler = _dict(c.get(*path))
            for action in HOST_ACTIONS:
                host = _dict(handler.get(action)).get("host")
                if isinstance(host, str) and host != "":
                    yield Violation(
                        f"{_who(c)} sets {label}.{action}.host {_show(host)}",
                        line=c.line_of(*path, action, "host"),
                    )


# --- Restricted -----------------------------------------------------------------------------


@check("KW-K8S-030", "kubernetes")
def restricted_volumes(obj: K8sObject) -> Iterator[Violation]:
    """Restricted pods may only use ephemeral or PersistentVolume-backed volume types."""
    pod = pod_view(obj)
    if pod is None:
        return
    for index, volume in pod.volumes():
        sources = [k for k, v in volume.items() if k != "name" and v is not None]
        if not sources or any(k in RESTRICTED_VOLUME_TYPES for k in sources):
            continue  # no source: the API server defaults it to emptyDir
        yield Violation(
            f"volume {_show(volume.get('name'))} uses volume type {_show(sources[0])}, "
            "which the restricted policy does not allow",
            line=pod.line_of("volumes", index, sources[0]),
        )


@check("KW-K8S-031", "kubernetes")
def privilege_escalation(obj: K8sObject) -> Iterator[Violation]:
    """Without `allowPrivilegeEscalation: false` a process can gain privileges through
    set-user-ID binaries or file capabilities. Linux-only: Windows pods are exempt."""
    pod = pod_view(obj)
    if pod is None or _windows(pod):
        return
    for c in pod.containers():
        path = (*c.path, "securityContext", "allowPrivilegeEscalation")
        value = c.security_context.get("allowPrivilegeEscalation")
        if value is False:
            continue
        # the API rejects allowPrivilegeEscalation: false next to privileged: true
        fixes = () if c.security_context.get("privileged") is True else _fix(obj, path, False)
        if value is None:
            yield Violation(
                f"{_who(c)} does not set securityContext.allowPrivilegeEscalation: false",
                line=c.line_of(),
                fixes=fixes,
            )
        else:
            yield Violation(
                f"{_who(c)} sets allowPrivilegeEscalation: {_show(value)}",
                line=c.line_of("securityContext", "allowPrivilegeEscalation"),
                fixes=fixes,
            )


@check("KW-K8S-032", "kubernetes")
def run_as_non_root(obj: K8sObject) -> Iterator[Violation]:
    """runAsNonRoot: true makes the kubelet refuse to start a container as UID 0. It must be
    true at pod level or on every container, and false nowhere. Pods in a user namespace
    (`hostUsers: false`) are exempt since policy v1.35: their root is not the node's."""
    pod = pod_view(obj)
    if pod is None or _user_namespace(pod):
        return
    pod_value = pod.security_context.get("runAsNonRoot")
    pod_path = (*pod.spec_path, "securityContext", "runAsNonRoot")
    if pod_value is not None and pod_value is not True:
        yield Violation(
            f"pod sets runAsNonRoot: {_show(pod_value)}",
            line=pod.line_of("securityContext", "runAsNonRoot"),
            fixes=_fix(obj, pod_path, True),
        )
    containers = list(pod.containers())
    # one pod-level setting covers every container, unless one of them opts out explicitly
    pod_fix = pod_value is None and all(
        c.security_context.get("runAsNonRoot") in (None, True) for c in containers
    )
    for c in containers:
        value = c.security_context.get("runAsNonRoot")
        path = (*c.path, "securityContext", "runAsNonRoot")
        if value is None:
            if pod_value is True:
                continue
            yield Violation(
                f"{_who(c)} does not set runAsNonRoot: true and the pod does not either",
                line=c.line_of(),
                fixes=_fix(obj, pod_path, True) if pod_fix else _fix(obj, path, True),
            )
        elif value is not True:
            yield Violation(
                f"{_who(c)} sets runAsNonRoot: {_show(value)}",
                line=c.line_of("securityContext", "runAsNonRoot"),
                fixes=_fix(obj, path, True),
            )


@check("KW-K8S-033", "kubernetes")
def run_as_user(obj: K8sObject) -> Iterator[Violation]:
    """runAsUser: 0 runs the process as root whatever the image says. Pods in a user
    namespace (`hostUsers: false`) are exempt since policy v1.35."""
    pod = pod_view(obj)
    if pod is None or _user_namespace(pod):
        return
    value = pod.security_context.get("runAsUser")
    if _is_int(value) and value == 0:
        yield Violation("pod sets runAsUser: 0", line=pod.line_of("securityContext", "runAsUser"))
    for c in pod.containers():
        value = c.security_context.get("runAsUser")
        if _is_int(value) and value == 0:
            yield Violation(
                f"{_who(c)} sets runAsUser: 0", line=c.line_of("securityContext", "runAsUser")
            )


@check("KW-K8S-034", "kubernetes")
def restricted_seccomp(obj: K8sObject) -> Iterator[Violation]:
    """Restricted requires a seccomp profile (RuntimeDefault or Localhost) at pod level or on
    every container: without one the container runs with no system call filter. Linux-only:
    Windows pods are exempt."""
    pod = pod_view(obj)
    if pod is None or _windows(pod):
        return
    default = {"type": "RuntimeDefault"}
    pod_profile = pod.security_context.get("seccompProfile")
    pod_path = (*pod.spec_path, "securityContext", "seccompProfile")
    pod_ok = pod_profile is not None and _dict(pod_profile).get("type") in SECCOMP_TYPES
    if pod_profile is not None and not pod_ok:
        yield Violation(
            f"pod sets seccompProfile type {_show(_dict(pod_profile).get('type'))}",
            line=pod.line_of("securityContext", "seccompProfile", "type"),
            fixes=_fix(obj, pod_path, default),
        )
    for c in pod.containers():
        profile = c.security_context.get("seccompProfile")
        path = (*c.path, "securityContext", "seccompProfile")
        if profile is None:
            if pod_ok:
                continue
            target = pod_path if pod_profile is None else path
            yield Violation(
                f"{_who(c)} does not set seccompProfile type RuntimeDefault or Localhost "
                "and the pod does not either",
                line=c.line_of(),
                fixes=_fix(obj, target, default),
            )
        elif _dict(profile).get("type") not in SECCOMP_TYPES:
            yield Violation(
                f"{_who(c)} sets seccompProfile type {_show(_dict(profile).get('type'))}",
                line=c.line_of("securityContext", "seccompProfile", "type"),
                fixes=_fix(obj, path, default),
            )


@check("KW-K8S-035", "kubernetes")
def restricted_capabilities(obj: K8sObject) -> Iterator[Violation]:
    """Restricted containers drop ALL capabilities and may add back only NET_BIND_SERVICE.
    Linux-only: Windows pods are exempt."""
    pod = pod_view(obj)
    if pod is None or _windows(pod):
        return
    for c in pod.containers():
        capabilities = _dict(c.security_context.get("capabilities"))
        drop = capabilities.get("drop")
        if "ALL" not in _list(drop):
            path = (*c.path, "securityContext", "capabilities", "drop")
            fixes = (FieldFix(path, "ALL", "add"),) if _settable(obj, path, as_list=True) else ()
            if drop is None:
                yield Violation(
                    f"{_who(c)} does not drop ALL capabilities (securityContext.capabilities.drop)",
                    line=c.line_of(),
                    fixes=fixes,
                )
            else:
                yield Violation(
                    f"{_who(c)} drops {_show_list(drop)} but not ALL capabilities",
                    line=c.line_of("securityContext", "capabilities", "drop"),
                    fixes=fixes,
                )
        for index, capability in enumerate(_list(capabilities.get("add"))):
            if capability != RESTRICTED_ADD_CAPABILITY:
                yield Violation(
                    f"{_who(c)} adds capability {_show(capability)}; restricted allows "
                    "only NET_BIND_SERVICE",
                    line=c.line_of("securityContext", "capabilities", "add", index),
                )


@check("KW-K8S-036", "kubernetes")
def restricted_proc_mount(obj: K8sObject) -> Iterator[Violation]:
    """Restricted (v1.35) keeps the default /proc masks even in a user-namespace pod, where
    Baseline lets them go: the masked files still reach the node's kernel. Only pods with
    `hostUsers: false` are reported here; KW-K8S-018 reports every other pod."""
    pod = pod_view(obj)
    if pod is None or not _user_namespace(pod):
        return
    yield from _proc_mount(pod, " in a pod with hostUsers: false")


def _show_list(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return _show(value)
