"""Fake Kubernetes nodes for the node benchmark tests: a spec of components, flags and files
turned into a directory that `NodeRoot` (and `kubeward bench node --root`) reads.

`compliant()` gives a kubeadm-style control plane + worker node that passes every automated
packaged check; tests change one thing in the spec and build it. `mode="process"` writes
`proc/<pid>/cmdline` (NUL-separated argv); `mode="manifest"` hides /proc, so the control
plane is read from static pod manifests and the kubelet from its systemd drop-in.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ETCD_UID = 990
OTHER_UID = 1000  # "kube" in the fake /etc/passwd

PROGRAMS = {
    "apiserver": "kube-apiserver",
    "controllermanager": "kube-controller-manager",
    "scheduler": "kube-scheduler",
    "etcd": "etcd",
    "kubelet": "kubelet",
    "proxy": "kube-proxy",
}
MANIFESTS = {
    "apiserver": "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "controllermanager": "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    "scheduler": "/etc/kubernetes/manifests/kube-scheduler.yaml",
    "etcd": "/etc/kubernetes/manifests/etcd.yaml",
}
KUBELET_DROPIN = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
PKI = "/etc/kubernetes/pki"
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass
class FileSpec:
    text: str | None  # None: a directory
    mode: int = 0o600
    uid: int = 0
    gid: int = 0


@dataclass
class NodeSpec:
    flags: dict[str, dict[str, str]]  # component -> flag -> value (ordered)
    files: dict[str, FileSpec] = field(default_factory=dict)
    kubelet_config: dict[str, Any] | None = None
    kubelet_config_text: str | None = None  # raw text instead of kubelet_config
    proxy_config: dict[str, Any] | None = None
    mode: str = "process"  # or "manifest"
    image_version: str = "v1.28.4"
    extra_args: dict[str, list[str]] = field(default_factory=dict)  # raw argv tails

    def copy(self) -> NodeSpec:
        return copy.deepcopy(self)

    def set(self, component: str, flag: str, value: str) -> NodeSpec:
        self.flags[component][flag] = value
        return self

    def drop(self, component: str, flag: str) -> NodeSpec:
        self.flags[component].pop(flag, None)
        return self

    def remove_component(self, component: str) -> NodeSpec:
        self.flags.pop(component, None)
        if component in MANIFESTS:
            self.files.pop(MANIFESTS[component], None)
        if component == "kubelet":
            self.files.pop(KUBELET_DROPIN, None)
        return self

    def argv(self, component: str) -> list[str]:
        args = [f"{flag}={value}" for flag, value in self.flags[component].items()]
        return [PROGRAMS[component], *args, *self.extra_args.get(component, [])]


def compliant(mode: str = "process") -> NodeSpec:
    """A node that passes every automated check of both packaged benchmarks."""
    pki = PKI
    flags = {
        "apiserver": {
            "--advertise-address": "10.0.0.10",
            "--anonymous-auth": "false",
            "--authorization-mode": "Node,RBAC",
            "--enable-admission-plugins": "NodeRestriction",
            "--profiling": "false",
            "--audit-log-path": "/var/log/kubernetes/audit.log",
            "--audit-log-maxage": "30",
            "--audit-log-maxbackup": "10",
            "--audit-log-maxsize": "100",
            "--service-account-lookup": "true",
            "--service-account-key-file": f"{pki}/sa.pub",
            "--etcd-certfile": f"{pki}/apiserver-etcd-client.crt",
            "--etcd-keyfile": f"{pki}/apiserver-etcd-client.key",
            "--etcd-cafile": f"{pki}/etcd/ca.crt",
            "--tls-cert-file": f"{pki}/apiserver.crt",
            "--tls-private-key-file": f"{pki}/apiserver.key",
            "--client-ca-file": f"{pki}/ca.crt",
            "--kubelet-client-certificate": f"{pki}/apiserver-kubelet-client.crt",
            "--kubelet-client-key": f"{pki}/apiserver-kubelet-client.key",
            "--kubelet-certificate-authority": f"{pki}/ca.crt",
        },
        "controllermanager": {
            "--kubeconfig": "/etc/kubernetes/controller-manager.conf",
            "--profiling": "false",
            "--use-service-account-credentials": "true",
            "--service-account-private-key-file": f"{pki}/sa.key",
            "--root-ca-file": f"{pki}/ca.crt",
            "--bind-address": "127.0.0.1",
        },
        "scheduler": {
            "--kubeconfig": "/etc/kubernetes/scheduler.conf",
            "--profiling": "false",
            "--bind-address": "127.0.0.1",
        },
        "etcd": {
            "--data-dir": "/var/lib/etcd",
            "--cert-file": f"{pki}/etcd/server.crt",
            "--key-file": f"{pki}/etcd/server.key",
            "--client-cert-auth": "true",
            "--peer-cert-file": f"{pki}/etcd/peer.crt",
            "--peer-key-file": f"{pki}/etcd/peer.key",
            "--peer-client-cert-auth": "true",
            "--trusted-ca-file": f"{pki}/etcd/ca.crt",
        },
        "kubelet": {
            "--config": KUBELET_CONFIG,
            "--kubeconfig": "/etc/kubernetes/kubelet.conf",
        },
        "proxy": {"--config": "/var/lib/kube-proxy/config.conf"},
    }
    files: dict[str, FileSpec] = {
        "/etc/passwd": FileSpec(
            "root:x:0:0::/root:/bin/sh\netcd:x:990:990::/:/sbin/nologin\n"
            "kube:x:1000:1000::/:/bin/sh\n",
            0o644,
        ),
        "/etc/group": FileSpec("root:x:0:\netcd:x:990:\nkube:x:1000:\n", 0o644),
        "/etc/kubernetes/admin.conf": FileSpec("apiVersion: v1\nkind: Config\n"),
        "/etc/kubernetes/scheduler.conf": FileSpec("apiVersion: v1\nkind: Config\n"),
        "/etc/kubernetes/controller-manager.conf": FileSpec("apiVersion: v1\nkind: Config\n"),
        "/etc/kubernetes/kubelet.conf": FileSpec("apiVersion: v1\nkind: Config\n"),
        "/var/lib/etcd": FileSpec(None, 0o700, ETCD_UID, ETCD_UID),
        "/var/lib/etcd/member": FileSpec(None, 0o700, ETCD_UID, ETCD_UID),
        PKI: FileSpec(None, 0o755),
        f"{PKI}/etcd": FileSpec(None, 0o755),
        "/var/lib/kube-proxy/config.conf": FileSpec("", 0o644),  # written in build()
        KUBELET_CONFIG: FileSpec(""),  # written in build() while the kubelet is there
        KUBELET_DROPIN: FileSpec(
            "[Service]\n"
            'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/'
            'bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"\n'
            'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"\n'
            "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n"
            "ExecStart=\n"
            "ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS "
            "$KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n"
        ),
        "/var/lib/kubelet/kubeadm-flags.env": FileSpec(
            'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/'
            'containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.9"\n',
            0o644,
        ),
    }
    for name in ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub"):
        files[f"{PKI}/{name}"] = FileSpec("x\n")
    for name in ("ca.crt", "server.crt", "server.key"):
        files[f"{PKI}/etcd/{name}"] = FileSpec("x\n")
    for path in MANIFESTS.values():
        files[path] = FileSpec("")  # written in build() from the flags
    kubelet_config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": f"{PKI}/ca.crt"},
        },
        "authorization": {"mode": "Webhook"},
        "rotateCertificates": True,
        "staticPodPath": "/etc/kubernetes/manifests",
    }
    proxy_config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "metricsBindAddress": "127.0.0.1:10249",
    }
    return NodeSpec(flags, files, kubelet_config, None, proxy_config, mode)


def _write(root: Path, node_path: str, spec: FileSpec, text: str | None = None) -> None:
    host = root / node_path.lstrip("/")
    if spec.text is None and text is None:
        host.mkdir(parents=True, exist_ok=True)
    else:
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(text if text is not None else spec.text or "")
    os.chown(host, spec.uid, spec.gid)
    os.chmod(host, spec.mode)


def manifest_text(spec: NodeSpec, component: str) -> str:
    argv = spec.argv(component)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": PROGRAMS[component], "namespace": "kube-system"},
        "spec": {
            "hostNetwork": True,
            "containers": [
                {
                    "name": PROGRAMS[component],
                    "image": f"registry.k8s.io/{PROGRAMS[component]}:{spec.image_version}",
                    "command": argv,
                }
            ],
        },
    }
    return yaml.dump(pod, Dumper=_DUMPER, sort_keys=False)


def build(spec: NodeSpec, root: Path) -> Path:
    """Write the node described by `spec` under `root` (created) and return `root`."""
    root.mkdir(parents=True, exist_ok=True)
    generated: dict[str, str] = {}
    for component, path in MANIFESTS.items():
        if path in spec.files and component in spec.flags:
            generated[path] = manifest_text(spec, component)
    if spec.proxy_config is not None:
        generated["/var/lib/kube-proxy/config.conf"] = yaml.dump(spec.proxy_config, Dumper=_DUMPER)
    # directories first, so files inside get their own modes after
    for path in sorted(spec.files):
        if spec.files[path].text is None:
            _write(root, path, spec.files[path])
    for path in sorted(spec.files):
        file_spec = spec.files[path]
        if path == KUBELET_CONFIG:
            continue
        text = generated.get(path)
        if file_spec.text is not None or text is not None:
            _write(root, path, file_spec, text)
    if "kubelet" in spec.flags:
        config = spec.kubelet_config_text
        if config is None and spec.kubelet_config is not None:
            config = yaml.dump(spec.kubelet_config, Dumper=_DUMPER)
        if config is not None and KUBELET_CONFIG in spec.files:
            _write(root, KUBELET_CONFIG, spec.files[KUBELET_CONFIG], config)
    if spec.mode == "process":
        pid = 100
        for component in PROGRAMS:
            if component in spec.flags:
                process(root, pid, spec.argv(component))
                pid += 1
    return root


def process(root: Path, pid: int, argv: list[str]) -> None:
    """A /proc/PID/cmdline entry with `argv` NUL-separated, as Linux writes it."""
    folder = root / "proc" / str(pid)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
