"""Pod Security Standards checks: each control fires on the value it forbids, at its line, and
stays quiet on every value the specification allows, across workload kinds and container
lists; the fixes, applied to the manifest, make the check pass.

Target lines are marked with a trailing `#A`, `#B` ... comment, so the expected line is read
from the manifest itself (`at(M, "#A")`) and stays right when a manifest is edited.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from kubeward.misconfig.engine import FieldFix, Selection, load_metadata
from kubeward.misconfig.kubernetes.load import load_text
from kubeward.misconfig.kubernetes.scan import (
    ManifestScan,
    check_loaded,
    find_manifests,
    scan_manifest_files,
)

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "k8s-manifests"
BASELINE_IDS = [f"KW-K8S-{n:03d}" for n in range(10, 22)]
RESTRICTED_IDS = [f"KW-K8S-{n:03d}" for n in range(30, 37)]


def run(text: str, rule: str) -> ManifestScan:
    scan = check_loaded([load_text(text, "m.yaml")], Selection(enable=frozenset({rule})))
    assert scan.warnings == []
    return scan


def found(text: str, rule: str) -> list[tuple[int | None, str]]:
    """(line, message) of every finding of `rule`, in file order."""
    return [(f.location.line, f.message) for f in run(text, rule).findings if f.rule_id == rule]


def fixes(text: str, rule: str) -> list[tuple[FieldFix, ...]]:
    """The fixes of each violation of `rule`, in the order the findings are reported."""
    pairs = [(f, v) for f, v, _ in run(text, rule).violations if f.rule_id == rule]
    pairs.sort(key=lambda p: (p[0].location.line or 0, p[0].message))
    return [v.fixes for _, v in pairs]


def at(text: str, marker: str) -> int:
    """The 1-based line of the one line of `text` that holds `marker`."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.endswith(marker)]
    assert len(lines) == 1, f"{marker} marks {len(lines)} lines"
    return lines[0]


def apply_fixes(text: str, rule: str) -> str:
    """The manifest (one document) with every fix of `rule` applied, as `--fix` would."""
    data = yaml.safe_load(text)
    for fix_set in fixes(text, rule):
        for fix in fix_set:
            parent: Any = data
            for key in fix.path[:-1]:
                if isinstance(key, int):
                    parent = parent[key]
                else:
                    if not isinstance(parent.get(key), dict | list):
                        parent[key] = {}
                    parent = parent[key]
            last = fix.path[-1]
            if fix.op == "set":
                parent[last] = fix.value
            elif fix.op == "add":
                if not isinstance(parent.get(last), list):
                    parent[last] = []
                if fix.value not in parent[last]:
                    parent[last].append(fix.value)
            else:
                raise AssertionError(f"unexpected op {fix.op}")
    return yaml.safe_dump(data, sort_keys=False)


# --- metadata -------------------------------------------------------------------------------


def test_every_control_has_complete_metadata() -> None:
    metadata = load_metadata()
    for check_id in BASELINE_IDS + RESTRICTED_IDS:
        meta = metadata[check_id]
        level = "baseline" if check_id in BASELINE_IDS else "restricted"
        assert meta.target == "kubernetes"
        assert dict(meta.mappings)["pss"] == level
        assert f"pss-{level}" in meta.tags
        assert meta.description and meta.remediation
        assert meta.references[0] == (
            f"https://kubernetes.io/docs/concepts/security/pod-security-standards/#{level}"
        )


# --- KW-K8S-010 HostProcess -----------------------------------------------------------------

HOST_PROCESS = """\
apiVersion: v1
kind: Pod
metadata:
  name: hpc
spec:
  os:
    name: windows
  securityContext:
    windowsOptions:
      hostProcess: true #A
  initContainers:
    - name: setup
      securityContext:
        windowsOptions:
          hostProcess: false
  containers:
    - name: agent
      securityContext:
        windowsOptions:
          runAsUserName: "NT AUTHORITY\\\\SYSTEM"
          hostProcess: true #B
"""


def test_host_process_pod_and_container() -> None:
    assert found(HOST_PROCESS, "KW-K8S-010") == [
        (at(HOST_PROCESS, "#A"), "pod sets securityContext.windowsOptions.hostProcess: true"),
        (at(HOST_PROCESS, "#B"), 'container "agent" sets windowsOptions.hostProcess: true'),
    ]


def test_host_process_false_or_unset_passes() -> None:
    manifest = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: win
spec:
  template:
    spec:
      securityContext:
        windowsOptions:
          hostProcess: false
      containers:
        - name: app
          securityContext:
            windowsOptions:
              runAsUserName: ContainerUser
"""
    assert found(manifest, "KW-K8S-010") == []


# --- KW-K8S-011 Host namespaces -------------------------------------------------------------

HOST_NAMESPACES = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  template:
    spec:
      hostNetwork: true #A
      hostPID: true #B
      hostIPC: false
      containers:
        - name: agent
"""


def test_host_namespaces_one_finding_per_field() -> None:
    assert found(HOST_NAMESPACES, "KW-K8S-011") == [
        (at(HOST_NAMESPACES, "#A"), "pod sets hostNetwork: true"),
        (at(HOST_NAMESPACES, "#B"), "pod sets hostPID: true"),
    ]


def test_host_namespaces_false_passes() -> None:
    manifest = HOST_NAMESPACES.replace("true #A", "false").replace("true #B", "false")
    assert found(manifest, "KW-K8S-011") == []


# --- KW-K8S-012 Privileged ------------------------------------------------------------------

PRIVILEGED = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      initContainers:
        - name: init
          securityContext:
            privileged: true #A
      containers:
        - name: db
          securityContext:
            privileged: false
        - name: sidecar
          securityContext:
            privileged: true #B
"""


def test_privileged_containers_and_init_containers() -> None:
    assert found(PRIVILEGED, "KW-K8S-012") == [
        (at(PRIVILEGED, "#A"), 'init container "init" sets privileged: true'),
        (at(PRIVILEGED, "#B"), 'container "sidecar" sets privileged: true'),
    ]


def test_privileged_ephemeral_container() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: debugged
spec:
  containers:
    - name: app
  ephemeralContainers:
    - name: debugger
      securityContext:
        privileged: true #A
"""
    assert found(manifest, "KW-K8S-012") == [
        (at(manifest, "#A"), 'ephemeral container "debugger" sets privileged: true')
    ]


def test_unprivileged_passes() -> None:
    manifest = PRIVILEGED.replace("true #A", "false").replace("true #B", "false")
    assert found(manifest, "KW-K8S-012") == []


DEPLOYMENT_CONFIG = """\
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: frontend
spec:
  replicas: 2
  selector:
    app: frontend
  strategy:
    type: Rolling
  triggers:
    - type: ConfigChange
  template:
    metadata:
      labels:
        app: frontend
    spec:
      containers:
        - name: web
          image: registry.example.com/frontend:1.4.0
          securityContext:
            allowPrivilegeEscalation: false
            privileged: true #A
"""


def test_openshift_deployment_config_is_a_workload() -> None:
    """Its pods pass Pod Security Admission like a Deployment's: the same controls apply
    to its pod template, at its lines, with fixes into that template."""
    assert found(DEPLOYMENT_CONFIG, "KW-K8S-012") == [
        (at(DEPLOYMENT_CONFIG, "#A"), 'container "web" sets privileged: true')
    ]
    unprivileged = DEPLOYMENT_CONFIG.replace("true #A", "false")
    assert found(unprivileged, "KW-K8S-012") == []
    assert fixes(unprivileged, "KW-K8S-032") == [
        (FieldFix(("spec", "template", "spec", "securityContext", "runAsNonRoot"), True),)
    ]
    fixed = apply_fixes(unprivileged, "KW-K8S-032")
    assert found(fixed, "KW-K8S-032") == []
    assert found(fixed, "KW-K8S-012") == []


# --- KW-K8S-013 Baseline capabilities -------------------------------------------------------

CAPABILITIES = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      containers:
        - name: migrate
          securityContext:
            capabilities:
              add:
                - NET_BIND_SERVICE
                - SYS_CHROOT
                - AUDIT_WRITE
                - NET_RAW #A
                - CAP_CHOWN #B
                - chown #C
      ephemeralContainers:
        - name: debug
          securityContext:
            capabilities:
              add: [SYS_PTRACE] #D
"""


def test_capabilities_outside_the_default_set() -> None:
    rest = ", which is not in the baseline default set"
    assert found(CAPABILITIES, "KW-K8S-013") == [
        (at(CAPABILITIES, "#A"), f'container "migrate" adds capability "NET_RAW"{rest}'),
        (at(CAPABILITIES, "#B"), f'container "migrate" adds capability "CAP_CHOWN"{rest}'),
        (at(CAPABILITIES, "#C"), f'container "migrate" adds capability "chown"{rest}'),
        (at(CAPABILITIES, "#D"), f'ephemeral container "debug" adds capability "SYS_PTRACE"{rest}'),
    ]


def test_capabilities_in_the_default_set_pass() -> None:
    every = "[AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, "
    every += "SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT]"
    manifest = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app
      securityContext:
        capabilities:
          drop: [ALL]
          add: {every}
"""
    assert found(manifest, "KW-K8S-013") == []


# --- KW-K8S-014 hostPath volumes ------------------------------------------------------------

HOST_PATH = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
spec:
  template:
    spec:
      containers:
        - name: app
      volumes:
        - name: cache
          emptyDir: {}
        - name: sock
          hostPath: #A
            path: /var/run/docker.sock
            type: Socket
        - name: logs
          hostPath: {} #B
"""


def test_host_path_volumes() -> None:
    assert found(HOST_PATH, "KW-K8S-014") == [
        (at(HOST_PATH, "#A"), 'volume "sock" mounts hostPath "/var/run/docker.sock"'),
        (at(HOST_PATH, "#B"), 'volume "logs" mounts hostPath'),
    ]


def test_no_host_path_passes() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app
  volumes:
    - name: config
      configMap:
        name: app
    - name: nothing
      hostPath:
"""
    assert found(manifest, "KW-K8S-014") == []


# --- KW-K8S-015 Host ports ------------------------------------------------------------------

HOST_PORTS = """\
apiVersion: v1
kind: ReplicationController
metadata:
  name: rc
spec:
  template:
    spec:
      initContainers:
        - name: warm
          ports:
            - containerPort: 9000
              hostPort: 9000 #A
      containers:
        - name: web
          ports:
            - containerPort: 80
              hostPort: 0
            - containerPort: 443
            - containerPort: 8080
              hostPort: 8080 #B
"""


def test_host_ports() -> None:
    assert found(HOST_PORTS, "KW-K8S-015") == [
        (at(HOST_PORTS, "#A"), 'init container "warm" uses hostPort 9000'),
        (at(HOST_PORTS, "#B"), 'container "web" uses hostPort 8080'),
    ]


def test_host_port_zero_or_unset_passes() -> None:
    manifest = HOST_PORTS.replace("9000 #A", "0").replace("8080 #B", "0")
    assert found(manifest, "KW-K8S-015") == []


# --- KW-K8S-016 AppArmor --------------------------------------------------------------------

APPARMOR = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    container.apparmor.security.beta.kubernetes.io/app: unconfined #A
    container.apparmor.security.beta.kubernetes.io/b: runtime/default
    container.apparmor.security.beta.kubernetes.io/c: localhost/k8s-nginx
    container.apparmor.security.beta.kubernetes.io/d: ""
    apparmor.example.com/other: unconfined
spec:
  securityContext:
    appArmorProfile:
      type: Unconfined #B
  initContainers:
    - name: init
      securityContext:
        appArmorProfile:
          type: Unconfined #C
  containers:
    - name: app
      securityContext:
        appArmorProfile:
          type: RuntimeDefault
    - name: b
      securityContext:
        appArmorProfile:
          type: Localhost
          localhostProfile: k8s-apparmor-example
    - name: c
      securityContext:
        appArmorProfile: {} #D
"""


def test_apparmor_fields_and_annotations() -> None:
    assert found(APPARMOR, "KW-K8S-016") == [
        (
            at(APPARMOR, "#A"),
            'annotation container.apparmor.security.beta.kubernetes.io/app is "unconfined"',
        ),
        (at(APPARMOR, "#B"), 'pod sets appArmorProfile type "Unconfined"'),
        (at(APPARMOR, "#C"), 'init container "init" sets appArmorProfile type "Unconfined"'),
        (at(APPARMOR, "#D"), 'container "c" sets appArmorProfile type null'),
    ]


def test_apparmor_allowed_values_pass() -> None:
    manifest = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            container.apparmor.security.beta.kubernetes.io/job: localhost/custom
        spec:
          securityContext:
            appArmorProfile:
              type: RuntimeDefault
          containers:
            - name: job
              securityContext:
                appArmorProfile:
                  type: Localhost
                  localhostProfile: custom
"""
    assert found(manifest, "KW-K8S-016") == []


# --- KW-K8S-017 SELinux ---------------------------------------------------------------------

SELINUX = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  securityContext:
    seLinuxOptions:
      type: spc_t #A
  initContainers:
    - name: init
      securityContext:
        seLinuxOptions:
          type: container_engine_t
  containers:
    - name: app
      securityContext:
        seLinuxOptions:
          type: container_t
          user: system_u #B
          role: system_r #C
          level: "s0:c123,c456"
  ephemeralContainers:
    - name: debug
      securityContext:
        seLinuxOptions:
          type: container_kvm_t
"""


def test_selinux_type_user_and_role() -> None:
    assert found(SELINUX, "KW-K8S-017") == [
        (at(SELINUX, "#A"), 'pod sets seLinuxOptions.type "spc_t"'),
        (at(SELINUX, "#B"), 'container "app" sets seLinuxOptions.user "system_u"'),
        (at(SELINUX, "#C"), 'container "app" sets seLinuxOptions.role "system_r"'),
    ]


def test_selinux_allowed_types_pass() -> None:
    manifest = """\
apiVersion: v1
kind: PodTemplate
metadata:
  name: tmpl
template:
  spec:
    securityContext:
      seLinuxOptions:
        type: container_init_t
        user: ""
        role: ""
    containers:
      - name: app
        securityContext:
          seLinuxOptions:
            type: ""
            level: s0
"""
    assert found(manifest, "KW-K8S-017") == []


# --- KW-K8S-018 /proc mount -----------------------------------------------------------------

PROC_MOUNT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      containers:
        - name: builder
          securityContext:
            procMount: Unmasked #A
        - name: app
          securityContext:
            procMount: Default
"""


def test_proc_mount_unmasked() -> None:
    assert found(PROC_MOUNT, "KW-K8S-018") == [
        (at(PROC_MOUNT, "#A"), 'container "builder" sets procMount: "Unmasked"')
    ]


def test_proc_mount_allowed_in_a_user_namespace_pod() -> None:
    manifest = PROC_MOUNT.replace(
        "    spec:\n      containers:", "    spec:\n      hostUsers: false\n      containers:"
    )
    assert "hostUsers: false" in manifest
    assert found(manifest, "KW-K8S-018") == []
    host_users = manifest.replace("hostUsers: false", "hostUsers: true")
    assert found(host_users, "KW-K8S-018") == [
        (at(host_users, "#A"), 'container "builder" sets procMount: "Unmasked"')
    ]


# --- KW-K8S-019 Baseline seccomp ------------------------------------------------------------

SECCOMP_BASELINE = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    seccomp.security.alpha.kubernetes.io/pod: unconfined
spec:
  securityContext:
    seccompProfile:
      type: Unconfined #A
  initContainers:
    - name: init
      securityContext:
        seccompProfile:
          type: Unconfined #B
  containers:
    - name: local
      securityContext:
        seccompProfile:
          type: Localhost
          localhostProfile: profiles/audit.json
    - name: default
      securityContext:
        seccompProfile:
          type: RuntimeDefault
    - name: empty
      securityContext:
        seccompProfile: {} #C
"""


def test_seccomp_unconfined_anywhere() -> None:
    assert found(SECCOMP_BASELINE, "KW-K8S-019") == [
        (at(SECCOMP_BASELINE, "#A"), 'pod sets seccompProfile type "Unconfined"'),
        (at(SECCOMP_BASELINE, "#B"), 'init container "init" sets seccompProfile type "Unconfined"'),
        (at(SECCOMP_BASELINE, "#C"), 'container "empty" sets seccompProfile type null'),
    ]


def test_seccomp_unset_passes_baseline() -> None:
    # the alpha annotation is ignored by the API server since 1.27 and by the current policy
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    seccomp.security.alpha.kubernetes.io/pod: unconfined
spec:
  containers:
    - name: app
"""
    assert found(manifest, "KW-K8S-019") == []


# --- KW-K8S-020 Sysctls ---------------------------------------------------------------------

SYSCTLS = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  securityContext:
    sysctls:
      - name: kernel.shm_rmid_forced
        value: "1"
      - name: net.ipv4.ip_local_reserved_ports
        value: "30000-30100"
      - name: net.ipv4.tcp_keepalive_probes
        value: "5"
      - name: net.ipv4.tcp_wmem
        value: "4096 65536 16777216"
      - name: kernel.msgmax #A
        value: "65536"
      - name: net.core.somaxconn #B
        value: "1024"
      - name: net.ipv4.tcp_slow_start_after_idle #C
        value: "0"
  containers:
    - name: app
"""


def test_sysctls_outside_the_safe_list() -> None:
    assert found(SYSCTLS, "KW-K8S-020") == [
        (at(SYSCTLS, "#A"), 'pod sets unsafe sysctl "kernel.msgmax"'),
        (at(SYSCTLS, "#B"), 'pod sets unsafe sysctl "net.core.somaxconn"'),
        (at(SYSCTLS, "#C"), 'pod sets unsafe sysctl "net.ipv4.tcp_slow_start_after_idle"'),
    ]


def test_every_safe_sysctl_passes() -> None:
    names = [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    ]
    items = "".join(f"\n        - name: {n}\n          value: '1'" for n in names)
    manifest = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      securityContext:
        sysctls:{items}
      containers:
        - name: app
"""
    assert found(manifest, "KW-K8S-020") == []


# --- KW-K8S-021 Probe / lifecycle hosts -----------------------------------------------------

PROBE_HOSTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
        - name: proxy
          restartPolicy: Always
          startupProbe:
            tcpSocket:
              port: 15000
              host: 10.0.0.1 #A
      containers:
        - name: web
          livenessProbe:
            httpGet:
              path: /healthz
              port: 8080
              host: 169.254.169.254 #B
          readinessProbe:
            tcpSocket:
              port: 8080
              host: "::1" #C
          startupProbe:
            httpGet:
              port: 8080
              host: localhost #D
          lifecycle:
            postStart:
              httpGet:
                port: 80
                host: 127.0.0.1 #E
            preStop:
              tcpSocket:
                port: 80
                host: db.internal #F
        - name: clean
          livenessProbe:
            httpGet:
              port: 8080
              httpHeaders:
                - name: Host
                  value: web.example.com
          readinessProbe:
            tcpSocket:
              port: 8080
              host: ""
          startupProbe:
            exec:
              command: [cat, /tmp/ready]
          lifecycle:
            preStop:
              sleep:
                seconds: 5
"""


def test_probe_and_lifecycle_hosts_one_finding_per_field() -> None:
    assert found(PROBE_HOSTS, "KW-K8S-021") == [
        (
            at(PROBE_HOSTS, "#A"),
            'init container "proxy" sets startupProbe.tcpSocket.host "10.0.0.1"',
        ),
        (
            at(PROBE_HOSTS, "#B"),
            'container "web" sets livenessProbe.httpGet.host "169.254.169.254"',
        ),
        (at(PROBE_HOSTS, "#C"), 'container "web" sets readinessProbe.tcpSocket.host "::1"'),
        (at(PROBE_HOSTS, "#D"), 'container "web" sets startupProbe.httpGet.host "localhost"'),
        (
            at(PROBE_HOSTS, "#E"),
            'container "web" sets lifecycle.postStart.httpGet.host "127.0.0.1"',
        ),
        (
            at(PROBE_HOSTS, "#F"),
            'container "web" sets lifecycle.preStop.tcpSocket.host "db.internal"',
        ),
    ]
    assert fixes(PROBE_HOSTS, "KW-K8S-021") == [()] * 6


def test_probe_host_on_an_ephemeral_container() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: debugged
spec:
  containers:
    - name: app
  ephemeralContainers:
    - name: debugger
      lifecycle:
        preStop:
          httpGet:
            port: 80
            host: node.local #A
"""
    assert found(manifest, "KW-K8S-021") == [
        (
            at(manifest, "#A"),
            'ephemeral container "debugger" sets lifecycle.preStop.httpGet.host "node.local"',
        )
    ]


def test_probes_without_a_host_pass() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app
      livenessProbe:
        httpGet:
          port: 8080
          host: null
      readinessProbe:
        grpc:
          port: 9090
      startupProbe:
        tcpSocket:
          port: 8080
          host: 8080
      lifecycle:
        postStart:
          exec:
            command: [touch, /tmp/started]
        preStop:
          httpGet: "not a mapping"
"""
    assert found(manifest, "KW-K8S-021") == []
    # the same manifest without its six marked host lines
    unmarked = [line for line in PROBE_HOSTS.splitlines(keepends=True) if " #" not in line]
    assert len(unmarked) == len(PROBE_HOSTS.splitlines()) - 6
    assert found("".join(unmarked), "KW-K8S-021") == []


# --- KW-K8S-030 Restricted volume types -----------------------------------------------------

VOLUMES = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: backup
          volumes:
            - name: share
              nfs: #A
                server: nfs.example.com
                path: /exports
            - name: repo
              gitRepo: #B
                repository: https://example.com/repo.git
            - name: host
              hostPath: #C
                path: /data
            - name: future
              fancyVolume: #D
                size: 1Gi
            - name: scratch
              emptyDir: {}
"""


def test_volume_types_outside_the_restricted_list() -> None:
    rest = "which the restricted policy does not allow"
    assert found(VOLUMES, "KW-K8S-030") == [
        (at(VOLUMES, "#A"), f'volume "share" uses volume type "nfs", {rest}'),
        (at(VOLUMES, "#B"), f'volume "repo" uses volume type "gitRepo", {rest}'),
        (at(VOLUMES, "#C"), f'volume "host" uses volume type "hostPath", {rest}'),
        (at(VOLUMES, "#D"), f'volume "future" uses volume type "fancyVolume", {rest}'),
    ]


def test_restricted_volume_types_pass() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app
  volumes:
    - name: a
      configMap: {name: cm}
    - name: b
      secret: {secretName: s}
    - name: c
      emptyDir: {medium: Memory}
    - name: d
      projected: {sources: []}
    - name: e
      downwardAPI: {items: []}
    - name: f
      csi: {driver: secrets-store.csi.k8s.io}
    - name: g
      ephemeral: {volumeClaimTemplate: {spec: {}}}
    - name: h
      persistentVolumeClaim: {claimName: data}
    - name: i
      image: {reference: "registry.example.com/models:1"}
    - name: defaulted-to-empty-dir
"""
    assert found(manifest, "KW-K8S-030") == []


# --- KW-K8S-031 Privilege escalation --------------------------------------------------------

ESCALATION = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
        - name: init
          securityContext:
            allowPrivilegeEscalation: false
      containers:
        - name: web #A
          image: nginx
        - name: sidecar
          securityContext:
            allowPrivilegeEscalation: true #B
"""


def test_privilege_escalation_missing_or_true() -> None:
    assert found(ESCALATION, "KW-K8S-031") == [
        (
            at(ESCALATION, "#A"),
            'container "web" does not set securityContext.allowPrivilegeEscalation: false',
        ),
        (at(ESCALATION, "#B"), 'container "sidecar" sets allowPrivilegeEscalation: true'),
    ]


def test_privilege_escalation_fixes_make_the_check_pass() -> None:
    base = ("spec", "template", "spec", "containers")
    assert fixes(ESCALATION, "KW-K8S-031") == [
        (FieldFix((*base, 0, "securityContext", "allowPrivilegeEscalation"), False),),
        (FieldFix((*base, 1, "securityContext", "allowPrivilegeEscalation"), False),),
    ]
    assert found(apply_fixes(ESCALATION, "KW-K8S-031"), "KW-K8S-031") == []


def test_privilege_escalation_no_fix_next_to_privileged() -> None:
    # the API rejects allowPrivilegeEscalation: false on a privileged container
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app #A
      securityContext:
        privileged: true
"""
    assert found(manifest, "KW-K8S-031") == [
        (
            at(manifest, "#A"),
            'container "app" does not set securityContext.allowPrivilegeEscalation: false',
        )
    ]
    assert fixes(manifest, "KW-K8S-031") == [()]


def test_privilege_escalation_windows_pod_exempt() -> None:
    manifest = ESCALATION.replace(
        "    spec:\n      initContainers:",
        "    spec:\n      os: {name: windows}\n      initContainers:",
    )
    assert "windows" in manifest
    assert found(manifest, "KW-K8S-031") == []


# --- KW-K8S-032 runAsNonRoot ----------------------------------------------------------------

NON_ROOT_UNSET = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app #A
    - name: sidecar
      securityContext:
        runAsNonRoot: true
  ephemeralContainers:
    - name: debug #B
"""


def test_run_as_non_root_unset_gets_a_pod_level_fix() -> None:
    message = "does not set runAsNonRoot: true and the pod does not either"
    assert found(NON_ROOT_UNSET, "KW-K8S-032") == [
        (at(NON_ROOT_UNSET, "#A"), f'container "app" {message}'),
        (at(NON_ROOT_UNSET, "#B"), f'ephemeral container "debug" {message}'),
    ]
    pod_fix = (FieldFix(("spec", "securityContext", "runAsNonRoot"), True),)
    assert fixes(NON_ROOT_UNSET, "KW-K8S-032") == [pod_fix, pod_fix]
    assert found(apply_fixes(NON_ROOT_UNSET, "KW-K8S-032"), "KW-K8S-032") == []


def test_run_as_non_root_container_overrides_pod() -> None:
    manifest = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: s
spec:
  template:
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: inherits
        - name: root
          securityContext:
            runAsNonRoot: false #A
"""
    assert found(manifest, "KW-K8S-032") == [
        (at(manifest, "#A"), 'container "root" sets runAsNonRoot: false')
    ]
    path = ("spec", "template", "spec", "containers", 1, "securityContext", "runAsNonRoot")
    assert fixes(manifest, "KW-K8S-032") == [(FieldFix(path, True),)]
    assert found(apply_fixes(manifest, "KW-K8S-032"), "KW-K8S-032") == []


def test_run_as_non_root_false_at_pod_level_even_if_containers_override() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  securityContext:
    runAsNonRoot: false #A
  containers:
    - name: app
      securityContext:
        runAsNonRoot: true
"""
    assert found(manifest, "KW-K8S-032") == [(at(manifest, "#A"), "pod sets runAsNonRoot: false")]
    assert found(apply_fixes(manifest, "KW-K8S-032"), "KW-K8S-032") == []


def test_run_as_non_root_fix_on_the_container_when_another_opts_out() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app #A
    - name: legacy
      securityContext:
        runAsNonRoot: false #B
"""
    assert found(manifest, "KW-K8S-032") == [
        (
            at(manifest, "#A"),
            'container "app" does not set runAsNonRoot: true and the pod does not either',
        ),
        (at(manifest, "#B"), 'container "legacy" sets runAsNonRoot: false'),
    ]
    assert fixes(manifest, "KW-K8S-032") == [
        (FieldFix(("spec", "containers", 0, "securityContext", "runAsNonRoot"), True),),
        (FieldFix(("spec", "containers", 1, "securityContext", "runAsNonRoot"), True),),
    ]
    assert found(apply_fixes(manifest, "KW-K8S-032"), "KW-K8S-032") == []


def test_run_as_non_root_user_namespace_exempt_windows_not() -> None:
    userns = NON_ROOT_UNSET.replace(
        "spec:\n  containers:", "spec:\n  hostUsers: false\n  containers:"
    )
    assert found(userns, "KW-K8S-032") == []
    windows = NON_ROOT_UNSET.replace(
        "spec:\n  containers:", "spec:\n  os:\n    name: windows\n  containers:"
    )
    assert [line for line, _ in found(windows, "KW-K8S-032")] == [
        at(windows, "#A"),
        at(windows, "#B"),
    ]


# --- KW-K8S-033 runAsUser -------------------------------------------------------------------

RUN_AS_USER = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  securityContext:
    runAsUser: 0 #A
  initContainers:
    - name: init
      securityContext:
        runAsUser: 1000
  containers:
    - name: app
      securityContext:
        runAsUser: 0 #B
  ephemeralContainers:
    - name: debug
      securityContext:
        runAsUser: 0 #C
"""


def test_run_as_user_zero() -> None:
    assert found(RUN_AS_USER, "KW-K8S-033") == [
        (at(RUN_AS_USER, "#A"), "pod sets runAsUser: 0"),
        (at(RUN_AS_USER, "#B"), 'container "app" sets runAsUser: 0'),
        (at(RUN_AS_USER, "#C"), 'ephemeral container "debug" sets runAsUser: 0'),
    ]


def test_run_as_user_non_zero_or_user_namespace_passes() -> None:
    non_zero = RUN_AS_USER.replace("0 #A", "1").replace("0 #B", "65534").replace("0 #C", "10001")
    assert found(non_zero, "KW-K8S-033") == []
    userns = RUN_AS_USER.replace(
        "spec:\n  securityContext:", "spec:\n  hostUsers: false\n  securityContext:"
    )
    assert found(userns, "KW-K8S-033") == []


# --- KW-K8S-034 Restricted seccomp ----------------------------------------------------------

SECCOMP_UNSET = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: j
spec:
  template:
    spec:
      initContainers:
        - name: init #A
      containers:
        - name: app #B
"""


def test_seccomp_required_gets_a_pod_level_fix() -> None:
    message = (
        "does not set seccompProfile type RuntimeDefault or Localhost and the pod does not either"
    )
    assert found(SECCOMP_UNSET, "KW-K8S-034") == [
        (at(SECCOMP_UNSET, "#A"), f'init container "init" {message}'),
        (at(SECCOMP_UNSET, "#B"), f'container "app" {message}'),
    ]
    path = ("spec", "template", "spec", "securityContext", "seccompProfile")
    pod_fix = (FieldFix(path, {"type": "RuntimeDefault"}),)
    assert fixes(SECCOMP_UNSET, "KW-K8S-034") == [pod_fix, pod_fix]
    assert found(apply_fixes(SECCOMP_UNSET, "KW-K8S-034"), "KW-K8S-034") == []


def test_seccomp_pod_level_covers_containers_not_their_overrides() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  securityContext:
    seccompProfile:
      type: Localhost
      localhostProfile: profiles/app.json
  containers:
    - name: inherits
    - name: own
      securityContext:
        seccompProfile:
          type: RuntimeDefault
    - name: loose
      securityContext:
        seccompProfile:
          type: Unconfined #A
"""
    assert found(manifest, "KW-K8S-034") == [
        (at(manifest, "#A"), 'container "loose" sets seccompProfile type "Unconfined"')
    ]
    path = ("spec", "containers", 2, "securityContext", "seccompProfile")
    assert fixes(manifest, "KW-K8S-034") == [(FieldFix(path, {"type": "RuntimeDefault"}),)]
    assert found(apply_fixes(manifest, "KW-K8S-034"), "KW-K8S-034") == []


def test_seccomp_bad_pod_level_and_uncovered_container() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  securityContext:
    seccompProfile:
      type: Unconfined #A
  containers:
    - name: app #B
"""
    assert found(manifest, "KW-K8S-034") == [
        (at(manifest, "#A"), 'pod sets seccompProfile type "Unconfined"'),
        (
            at(manifest, "#B"),
            'container "app" does not set seccompProfile type RuntimeDefault or Localhost '
            "and the pod does not either",
        ),
    ]
    assert fixes(manifest, "KW-K8S-034") == [
        (FieldFix(("spec", "securityContext", "seccompProfile"), {"type": "RuntimeDefault"}),),
        (
            FieldFix(
                ("spec", "containers", 0, "securityContext", "seccompProfile"),
                {"type": "RuntimeDefault"},
            ),
        ),
    ]
    assert found(apply_fixes(manifest, "KW-K8S-034"), "KW-K8S-034") == []


def test_seccomp_windows_pod_exempt() -> None:
    manifest = SECCOMP_UNSET.replace(
        "    spec:\n      initContainers:",
        "    spec:\n      os:\n        name: windows\n      initContainers:",
    )
    assert "windows" in manifest
    assert found(manifest, "KW-K8S-034") == []


# --- KW-K8S-035 Restricted capabilities -----------------------------------------------------

DROP_ALL = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: bare #A
    - name: partial
      securityContext:
        capabilities:
          drop: [NET_RAW] #B
    - name: lower
      securityContext:
        capabilities:
          drop: ["all"] #C
    - name: web
      securityContext:
        capabilities:
          drop: [ALL]
          add: [NET_BIND_SERVICE]
"""


def test_capabilities_must_drop_all() -> None:
    assert found(DROP_ALL, "KW-K8S-035") == [
        (
            at(DROP_ALL, "#A"),
            'container "bare" does not drop ALL capabilities (securityContext.capabilities.drop)',
        ),
        (at(DROP_ALL, "#B"), 'container "partial" drops ["NET_RAW"] but not ALL capabilities'),
        (at(DROP_ALL, "#C"), 'container "lower" drops ["all"] but not ALL capabilities'),
    ]


def test_capabilities_drop_fix_makes_the_check_pass() -> None:
    def drop(index: int) -> tuple[FieldFix, ...]:
        path = ("spec", "containers", index, "securityContext", "capabilities", "drop")
        return (FieldFix(path, "ALL", "add"),)

    assert fixes(DROP_ALL, "KW-K8S-035") == [drop(0), drop(1), drop(2)]
    assert found(apply_fixes(DROP_ALL, "KW-K8S-035"), "KW-K8S-035") == []


def test_capabilities_only_net_bind_service_may_be_added() -> None:
    manifest = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ds
spec:
  template:
    spec:
      initContainers:
        - name: init
          securityContext:
            capabilities:
              drop: [ALL]
              add:
                - NET_BIND_SERVICE
                - CHOWN #A
"""
    assert found(manifest, "KW-K8S-035") == [
        (
            at(manifest, "#A"),
            'init container "init" adds capability "CHOWN"; '
            "restricted allows only NET_BIND_SERVICE",
        )
    ]
    assert fixes(manifest, "KW-K8S-035") == [()]


def test_capabilities_windows_pod_exempt() -> None:
    manifest = DROP_ALL.replace(
        "spec:\n  containers:", "spec:\n  os:\n    name: windows\n  containers:"
    )
    assert found(manifest, "KW-K8S-035") == []


# --- KW-K8S-036 Restricted /proc mount in user-namespaced pods ------------------------------

USERNS_PROC = """\
apiVersion: v1
kind: Pod
metadata:
  name: builder
spec:
  hostUsers: false
  initContainers:
    - name: prepare
      securityContext:
        procMount: Unmasked #A
  containers:
    - name: buildkit
      securityContext:
        procMount: Unmasked #B
    - name: app
      securityContext:
        procMount: Default
    - name: plain
"""


def test_restricted_proc_mount_in_a_user_namespace_pod() -> None:
    rest = 'sets procMount: "Unmasked" in a pod with hostUsers: false'
    assert found(USERNS_PROC, "KW-K8S-036") == [
        (at(USERNS_PROC, "#A"), f'init container "prepare" {rest}'),
        (at(USERNS_PROC, "#B"), f'container "buildkit" {rest}'),
    ]
    # the baseline check leaves this pod alone: one field, one finding
    assert found(USERNS_PROC, "KW-K8S-018") == []


def test_restricted_proc_mount_leaves_other_pods_to_baseline() -> None:
    for host_users in ("hostUsers: true", "hostUsers: null"):
        manifest = USERNS_PROC.replace("hostUsers: false", host_users)
        assert found(manifest, "KW-K8S-036") == []
        assert [line for line, _ in found(manifest, "KW-K8S-018")] == [
            at(manifest, "#A"),
            at(manifest, "#B"),
        ]


def test_restricted_proc_mount_default_passes() -> None:
    manifest = USERNS_PROC.replace("Unmasked #A", "Default").replace("Unmasked #B", "Default")
    assert found(manifest, "KW-K8S-036") == []


# --- robustness and the corpus --------------------------------------------------------------


def test_malformed_pod_specs_do_not_raise() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: odd
  annotations: [not, a, mapping]
spec:
  securityContext: "strict"
  hostNetwork: "true"
  volumes: [plain, {name: v, hostPath: 3}]
  containers:
    - just-a-string
    - name: weird
      securityContext:
        capabilities: {add: "SYS_ADMIN", drop: "ALL"}
        seLinuxOptions: [type, spc_t]
        privileged: "true"
      ports: [80, {hostPort: "8080"}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: no-template
spec:
  template: nope
---
apiVersion: v1
kind: Service
metadata:
  name: svc
spec:
  ports: [{port: 80}]
"""
    ids = BASELINE_IDS + RESTRICTED_IDS
    scan = check_loaded([load_text(manifest, "m.yaml")], Selection(enable=frozenset(ids)))
    assert scan.warnings == []
    assert sorted((f.rule_id, f.location.line, f.message) for f in scan.findings) == [
        ("KW-K8S-014", 9, 'volume "v" mounts hostPath'),
        (
            "KW-K8S-030",
            9,
            'volume "v" uses volume type "hostPath", which the restricted policy does not allow',
        ),
        (
            "KW-K8S-031",
            12,
            'container "weird" does not set securityContext.allowPrivilegeEscalation: false',
        ),
        (
            "KW-K8S-032",
            12,
            'container "weird" does not set runAsNonRoot: true and the pod does not either',
        ),
        (
            "KW-K8S-034",
            12,
            'container "weird" does not set seccompProfile type RuntimeDefault or Localhost '
            "and the pod does not either",
        ),
        ("KW-K8S-035", 14, 'container "weird" drops "ALL" but not ALL capabilities'),
    ]
    # a fix into a pod securityContext or a drop list that is not one could not be applied
    escalation = ("spec", "containers", 1, "securityContext", "allowPrivilegeEscalation")
    assert sorted((f.rule_id, v.fixes) for f, v, _ in scan.violations) == [
        ("KW-K8S-014", ()),
        ("KW-K8S-030", ()),
        ("KW-K8S-031", (FieldFix(escalation, False),)),
        ("KW-K8S-032", ()),
        ("KW-K8S-034", ()),
        ("KW-K8S-035", ()),
    ]


def test_corpus_runs_without_errors() -> None:
    ids = BASELINE_IDS + RESTRICTED_IDS
    files = list(find_manifests(CORPUS))
    assert len(files) > 600
    scan = scan_manifest_files(files, Selection(enable=frozenset(ids)))
    assert [w for w in scan.warnings if "failed on" in w] == []
    counts = Counter(f.rule_id for f in scan.findings if f.rule_id in ids)
    assert dict(counts) == {
        "KW-K8S-011": 24,
        "KW-K8S-012": 15,
        "KW-K8S-013": 11,
        "KW-K8S-014": 53,
        "KW-K8S-015": 12,
        "KW-K8S-016": 4,
        "KW-K8S-018": 2,
        "KW-K8S-019": 4,
        "KW-K8S-020": 2,
        "KW-K8S-030": 84,
        "KW-K8S-031": 364,
        "KW-K8S-032": 347,
        "KW-K8S-034": 409,
        "KW-K8S-035": 393,
    }
    # no manifest of the corpus sets a probe or lifecycle host, or unmasks /proc in a
    # user-namespaced pod (kubesec's hostUsers: false pod leaves procMount unset)
    assert counts["KW-K8S-021"] == counts["KW-K8S-036"] == 0
    proc = [
        (f.location.path, f.location.line, f.message)
        for f in scan.findings
        if f.rule_id == "KW-K8S-018"
    ]
    unsafe_proc = "stackrox-kube-linter/tests/checks/unsafe-proc-mount.yml"
    assert proc == [  # its Deployment and its OpenShift DeploymentConfig
        (unsafe_proc, 13, 'container "app" sets procMount: "Unmasked"'),
        (unsafe_proc, 26, 'container "app" sets procMount: "Unmasked"'),
    ]
    # kubesec's user-namespace pod is exempt from runAsNonRoot (policy v1.35)
    userns = "controlplaneio-kubesec/test/asset/score-1-pod-hostUsers-set-to-false.yml"
    assert [f.rule_id for f in scan.findings if f.location.path == userns] == [
        "KW-K8S-031",
        "KW-K8S-034",
        "KW-K8S-035",
    ]
