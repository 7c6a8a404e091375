"""The live sensor against the real kernel (root, no kernel module): the netlink process
connector, fanotify and /proc/net, plus a real Docker container end to end."""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import imagebuild as ib
import peers_docker
from kubeward.runtime.sources import sensor_fanotify, sensor_netlink
from kubeward.runtime.sources.sensor import FD_UNKNOWN, Sensor, SensorError, _ppm_flags
from kubeward.runtime.sources.sensor_container import split_image
from kubeward.runtime.sources.sensor_netlink import (
    PROC_EVENT_EXEC,
    PROC_EVENT_EXIT,
    PROC_EVENT_FORK,
    ProcEvent,
    parse_messages,
)
from kubeward.runtime.sources.sensor_procfs import container_of_cgroup, exe_flags_text
from kubeward.runtime.sources.sensor_procnet import parse_table
from sensor_runs import ATTEMPTS, Event, cat_hostname, collect, connect_and_accept, first

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sensor needs root")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


MY_NAME = Path("/proc/self/comm").read_text().strip()


# ---------------------------------------------------------------------------------------------
# Live: a host process
# ---------------------------------------------------------------------------------------------


def test_exec_and_open_of_a_host_process() -> None:
    before = open_fds()
    with Sensor(enable={"exec", "file"}, resolve_containers=False) as sensor:
        sh_pid, events = cat_hostname(sensor)
    assert open_fds() == before  # every netlink, fanotify and event descriptor closed

    sh = first(events, evt__type="execve", proc__pid=sh_pid)
    assert sh is not None
    assert sh["proc.name"] == "sh"
    assert sh["proc.cmdline"] == "sh -c cat /etc/hostname"
    assert sh["proc.args"] == "-c cat /etc/hostname"
    assert sh["proc.exe"] == "/bin/sh"
    assert sh["proc.exepath"] == os.path.realpath("/bin/sh")
    assert sh["proc.pname"] == MY_NAME
    assert sh["proc.ppid"] == os.getpid()
    assert sh["proc.apid"][0] == os.getpid()
    assert sh["user.name"] == "root"
    assert sh["user.uid"] == 0
    assert sh["group.name"] == "root"
    assert sh["container.id"] == "host"
    assert sh["container.name"] == "host"
    assert sh["proc.cwd"] == os.getcwd().rstrip("/") + "/"
    assert sh["evt.rawres"] == 0
    assert sh["evt.res"] == "SUCCESS"
    assert abs(sh["evt.time"] - time.time_ns()) < 60 * 10**9

    cat = first(events, evt__type="execve", proc__ppid=sh_pid)
    assert cat is not None
    assert cat["proc.name"] == "cat"
    assert cat["proc.cmdline"] == "cat /etc/hostname"
    assert cat["proc.pname"] == "sh"
    assert cat["proc.aname"][:2] == ["sh", MY_NAME]
    assert cat["proc.pcmdline"] == "sh -c cat /etc/hostname"
    assert cat["user.name"] == "root"

    opened = first(events, evt__type="openat", proc__pid=cat["proc.pid"], fd__name="/etc/hostname")
    assert opened is not None
    assert opened["proc.name"] == "cat"
    assert opened["proc.cmdline"] == "cat /etc/hostname"
    assert opened["evt.is_open_read"] is True
    assert opened["evt.is_open_write"] is False
    assert opened["evt.arg.flags"].startswith("O_RDONLY")
    assert opened["fd.typechar"] == "f"
    assert opened["fd.type"] == "file"
    assert opened["fd.directory"] == "/etc"
    assert opened["fd.filename"] == "hostname"
    assert opened["fd.num"] >= 0
    assert opened["fd.ino"] == os.stat("/etc/hostname").st_ino
    assert opened["evt.num"] > cat["evt.num"]


def test_fork_and_exit_of_a_host_process() -> None:
    with Sensor(enable={"exec", "fork", "exit"}, resolve_containers=False) as sensor:
        child = subprocess.Popen(["/bin/sh", "-c", "sleep 0.3; exit 3"])
        child.wait()
        events = collect(
            sensor,
            lambda evs: (
                first(evs, evt__type="procexit", proc__pid=child.pid) is not None
                and first(evs, evt__type="clone", evt__rawres=child.pid) is not None
            ),
        )
    clone = first(events, evt__type="clone", evt__rawres=child.pid)
    assert clone is not None
    assert (clone["proc.pid"], clone["evt.res"], clone["evt.args"]) == (
        os.getpid(),
        "SUCCESS",
        f"res={child.pid}",
    )
    exited = first(events, evt__type="procexit", proc__pid=child.pid)
    assert exited is not None
    assert exited["proc.name"] == "sh"
    assert (exited["evt.arg.status"], exited["evt.arg.ret"], exited["evt.arg.sig"]) == (768, 3, 0)
    assert exited["evt.args"] == "status=768"


def test_open_for_writing(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    # The writer lives a little, so that its exec is read before it is gone (the race of
    # docs/runtime-sensor.md does not belong in this test).
    code = f"import time; time.sleep(0.3); open({str(target)!r}, 'w').write('x')"
    with Sensor(enable={"exec", "file"}, resolve_containers=False) as sensor:
        child = subprocess.Popen([sys.executable, "-c", code])
        child.wait()
        events = collect(
            sensor, lambda evs: first(evs, evt__type="openat", fd__name=str(target)) is not None
        )
    opened = first(events, evt__type="openat", fd__name=str(target))
    assert opened is not None
    assert opened["proc.pid"] == child.pid
    assert opened["proc.name"] == os.path.basename(sys.executable)[:15]
    assert opened["evt.is_open_write"] is True
    assert opened["evt.is_open_read"] is None  # O_WRONLY or O_RDWR: a closed file cannot say
    assert opened["fd.filename"] == "written.txt"


def test_connect_and_accept_seen_through_proc_net() -> None:
    port, client_pid, events = connect_and_accept()
    connect = first(events, evt__type="connect", fd__sport=port)
    assert connect is not None
    assert connect["proc.pid"] == client_pid
    assert connect["fd.sip"] == "127.0.0.1"
    assert connect["fd.l4proto"] == "tcp"
    assert connect["fd.type"] == "ipv4"
    assert connect["fd.typechar"] == "4"
    assert connect["fd.is_server"] is False
    assert connect["fd.name"] == f"127.0.0.1:{connect['fd.cport']}->127.0.0.1:{port}"
    assert connect["evt.rawres"] == 0
    assert connect["fd.num"] >= 0
    accept = first(events, evt__type="accept", fd__sport=port)
    assert accept is not None
    assert accept["proc.pid"] == os.getpid()
    assert accept["fd.cport"] == connect["fd.cport"]
    assert accept["fd.is_server"] is True


def test_queue_full_drops_and_counts() -> None:
    with Sensor(enable={"exec"}, queue_size=2, resolve_containers=False) as sensor:
        for _ in range(6):
            subprocess.run(["/bin/true"], check=True)
        deadline = time.monotonic() + 10
        while sensor.stats()["dropped_queue_full"] < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = sensor.stats()
        assert stats["queued"] == 2
        assert stats["dropped_queue_full"] >= 4
        assert sensor.dropped >= stats["dropped_queue_full"]
        assert sensor.poll(1) is not None  # the queue still delivers what it holds
        assert sensor.poll(1) is not None


# ---------------------------------------------------------------------------------------------
# Errors: one clear line
# ---------------------------------------------------------------------------------------------


def test_not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SensorError) as caught:
        Sensor().start()
    assert str(caught.value) == (
        "the live sensor needs root: the netlink process connector and fanotify are "
        "privileged (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
    )


def test_kernel_without_the_process_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_connector() -> socket.socket:
        raise OSError(errno.EPROTONOSUPPORT, os.strerror(errno.EPROTONOSUPPORT))

    monkeypatch.setattr(sensor_netlink, "_new_socket", no_connector)
    with pytest.raises(SensorError) as caught:
        Sensor().start()
    assert str(caught.value) == (
        "this kernel has no netlink process connector (CONFIG_CONNECTOR and CONFIG_PROC_EVENTS): "
        "Protocol not supported"
    )


class _NoFanotify:
    """fanotify_init failing as on a kernel built without CONFIG_FANOTIFY."""

    def init(self, flags: int, event_flags: int) -> int:
        ctypes.set_errno(errno.ENOSYS)
        return -1

    def mark(self, *args: object) -> int:
        raise AssertionError("never reached")


def test_kernel_without_fanotify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sensor_fanotify, "_syscalls", lambda: _NoFanotify())
    before = open_fds()
    with pytest.raises(SensorError) as caught:
        Sensor().start()
    assert str(caught.value) == (
        "this kernel has no fanotify (CONFIG_FANOTIFY): file events are unavailable"
    )
    assert open_fds() == before  # the connector opened first is closed again
    with Sensor(enable={"exec"}, resolve_containers=False):
        pass  # without file events, fanotify is never asked for


def test_unwatchable_mount(tmp_path: Path) -> None:
    with pytest.raises(SensorError) as caught:
        Sensor(mounts=[str(tmp_path / "missing")]).start()
    assert (
        str(caught.value)
        == f"fanotify cannot watch {tmp_path / 'missing'}: No such file or directory"
    )


def test_unknown_event_kind() -> None:
    with pytest.raises(SensorError) as caught:
        Sensor(enable={"exec", "ptrace"})
    assert str(caught.value) == (
        "unknown sensor event kind(s): ptrace (known: exec, exit, file, fork, net)"
    )


# ---------------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------------


def _message(what: int, body: bytes) -> bytes:
    event = struct.pack("=IIQ", what, 0, 123) + body
    cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(event), 0) + event
    return struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn


def test_parse_connector_messages() -> None:
    data = (
        _message(PROC_EVENT_FORK, struct.pack("=IIII", 10, 10, 11, 11))
        + _message(PROC_EVENT_EXEC, struct.pack("=II", 11, 11))
        + _message(PROC_EVENT_EXIT, struct.pack("=IIII", 11, 11, 256, 17))
        + _message(0x40, struct.pack("=IIII", 1, 1, 0, 0))  # a gid change: not wanted
        + b"\x99" * 7  # a truncated tail
    )
    assert list(parse_messages(data)) == [
        ProcEvent(PROC_EVENT_FORK, 123, 11, 11, parent_tgid=10),
        ProcEvent(PROC_EVENT_EXEC, 123, 11, 11),
        ProcEvent(PROC_EVENT_EXIT, 123, 11, 11, exit_code=256),
    ]
    assert list(parse_messages(b"")) == []


ID = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"


@pytest.mark.parametrize(
    ("cgroup", "expected"),
    [
        (f"0::/docker/{ID}\n", ("3ad7b26ded6d", ID, "docker")),
        (f"0::/system.slice/docker-{ID}.scope\n", ("3ad7b26ded6d", ID, "docker")),
        (
            f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-pod1.slice/cri-containerd-{ID}.scope\n",
            ("3ad7b26ded6d", ID, "containerd"),
        ),
        (
            f"0::/kubepods.slice/kubepods-pod1.slice/crio-conmon-{ID}.scope\n"
            f"1:cpu:/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope\n",
            ("3ad7b26ded6d", ID, "cri-o"),
        ),
        (f"0::/machine.slice/libpod-{ID}.scope\n", ("3ad7b26ded6d", ID, "podman")),
        (f"4:memory:/kubepods/burstable/pod0a1b/{ID}\n", ("3ad7b26ded6d", ID, "cri")),
        ("0::/user.slice/user-0.slice/session-1.scope\n", ("host", None, None)),
        ("garbage", ("host", None, None)),
    ],
)
def test_container_id_from_cgroup(
    cgroup: str, expected: tuple[str, str | None, str | None]
) -> None:
    assert container_of_cgroup(cgroup) == expected


def test_proc_net_table() -> None:
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0  "
        "      0 1234 1 0\n"
        "   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000  "
        "      0 5678 1 0\n"
        "   2: broken line\n"
    )
    sockets = list(parse_table(text, "tcp", 4))
    assert [(s.local, s.remote, s.state, s.uid, s.inode) for s in sockets] == [
        (("127.0.0.1", 8080), ("0.0.0.0", 0), "0A", 0, 1234),
        (("127.0.0.1", 50000), ("127.0.0.1", 8080), "01", 1000, 5678),
    ]
    text6 = (
        "header\n"
        "   0: 00000000000000000000000001000000:0050 0000000000000000FFFF00000100007F:D431 01 "
        "00000000:00000000 00:00000000 00000000     0        0 99 1 0\n"
    )
    (s6,) = parse_table(text6, "tcp", 6)
    assert (s6.local, s6.remote) == (("::1", 80), ("127.0.0.1", 54321))


def test_small_helpers() -> None:
    assert _ppm_flags(os.O_RDONLY | os.O_CLOEXEC) == 4097
    assert _ppm_flags(os.O_WRONLY | os.O_APPEND) == 2 | 8
    assert _ppm_flags(os.O_RDWR) == 3
    assert exe_flags_text(1 | 8) == "EXE_WRITABLE|EXE_LOWER_LAYER"
    assert exe_flags_text(0) is None
    assert split_image("registry:5000/ns/app:1.2@sha256:ab") == (
        "registry:5000/ns/app",
        "1.2",
        "sha256:ab",
    )
    assert split_image("busybox") == ("busybox", None, None)
    assert FD_UNKNOWN == 2**31 - 1


# ---------------------------------------------------------------------------------------------
# End to end: a real container under a real dockerd
# ---------------------------------------------------------------------------------------------


def _box_image() -> bytes:
    """A root filesystem with the host's dash and cat and the libraries they load."""

    def host_file(name: str, source: str) -> ib.Entry:
        return ib.Entry(name, Path(source).read_bytes(), "file", 0o755)

    libs = subprocess.run(["ldd", "/usr/bin/cat"], capture_output=True, text=True, check=True)
    entries = [
        ib.dir_("bin"),
        host_file("bin/sh", "/usr/bin/dash"),
        host_file("bin/cat", "/usr/bin/cat"),
    ]
    seen = {"bin"}
    for line in libs.stdout.splitlines():
        path = line.split("=>")[-1].split("(")[0].strip()
        if not path.startswith("/"):
            continue
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory not in seen:
                seen.add(directory)
                entries.append(ib.dir_(directory))
        entries.append(host_file(path.lstrip("/"), os.path.realpath(path)))
    entries += [
        ib.dir_("etc"),
        ib.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ib.file("etc/group", "root:x:0:\n"),
        ib.file("etc/shadow", "root:*:19000:0:99999:7:::\n", 0o640),
        ib.dir_("proc"),
        ib.dir_("sys"),
        ib.dir_("dev"),
        ib.dir_("tmp", 0o1777),
    ]
    return ib.layer_tar(entries)


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peers_docker.DockerDaemon]:
    daemon = peers_docker.start(tmp_path_factory.mktemp("sensor-docker") / "d")
    try:
        daemon.docker("import", "-", "kw-sensor/box:1", input=_box_image())
        yield daemon
    finally:
        peers_docker.stop(daemon)


@pytest.mark.e2e
def test_container_exec_and_sensitive_open(
    dockerd: peers_docker.DockerDaemon, tmp_path: Path
) -> None:
    with Sensor(docker_host=dockerd.host) as sensor:
        for attempt in range(ATTEMPTS):
            cidfile = tmp_path / f"cid{attempt}"
            dockerd.docker(
                "run", "--rm", "-t", "--network", "none", "--name", f"kw-sensor-e2e-{attempt}",
                "--cidfile", str(cidfile), "kw-sensor/box:1", "sh", "-c", "cat /etc/shadow",
            )  # fmt: skip
            cid = cidfile.read_text().strip()[:12]

            def done(events: list[Event], cid: str = cid) -> bool:
                return (
                    first(events, evt__type="openat", fd__name="/etc/shadow", container__id=cid)
                    is not None
                )

            events = collect(sensor, done)
            cat = first(events, evt__type="execve", proc__name="cat", container__id=cid)
            sh = first(events, evt__type="execve", proc__name="sh", container__id=cid)
            # A process can exec again before /proc is read for its first exec (a loaded
            # machine): then that exec is seen under its next name, and the run is retried.
            if (
                cat is not None
                and cat["proc.cmdline"] == "cat /etc/shadow"
                and sh is not None
                and sh["proc.cmdline"] == "sh -c cat /etc/shadow"
            ):
                break
    assert len(cid) == 12
    mine = [e for e in events if e.get("container.id") == cid]
    sh = first(mine, evt__type="execve", proc__name="sh")
    assert sh is not None
    assert sh["proc.cmdline"] == "sh -c cat /etc/shadow"
    assert sh["proc.vpid"] == 1
    assert sh["proc.tty"] != 0  # docker run -t: a terminal, as "Terminal shell in container"
    assert sh["proc.pname"] == "containerd-shim"
    assert sh["container.name"] == f"kw-sensor-e2e-{attempt}"
    assert sh["container.image"] == "kw-sensor/box:1"
    assert sh["container.image.repository"] == "kw-sensor/box"
    assert sh["container.type"] == "docker"
    assert sh["container.full_id"].startswith(cid)
    assert sh["user.name"] == "root"  # from the container's own /etc/passwd
    cat = first(mine, evt__type="execve", proc__name="cat")
    assert cat is not None
    assert cat["proc.cmdline"] == "cat /etc/shadow"
    assert cat["proc.pname"] == "sh"
    assert cat["proc.ppid"] == sh["proc.pid"]
    opened = first(mine, evt__type="openat", fd__name="/etc/shadow")
    assert opened is not None
    assert opened["proc.pid"] == cat["proc.pid"]
    assert opened["evt.is_open_read"] is True
    assert opened["fd.directory"] == "/etc"
    assert opened["container.name"] == f"kw-sensor-e2e-{attempt}"
    assert (
        len([e for e in mine if e["evt.type"] == "openat" and e["fd.name"] == "/etc/shadow"]) == 1
    )
