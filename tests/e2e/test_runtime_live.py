"""End to end, live: `kubeward runtime --source sensor` with Falco's stable rules, watching a
real container under a real dockerd.

In one container, an interactive shell with a terminal (`docker exec -it`, through a pty) reads
/etc/shadow: the runtime must report Falco's "Terminal shell in container" for the shell and
"Read sensitive file untrusted" for the read, each with the container's id in its JSON
``output_fields``. A benign command in the same container (`docker exec CONTAINER ls /`) must
report nothing. The runtime runs as the CLI does (a subprocess writing JSON lines), with the
stable rules file read in place from the shared Falco data.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

import imagebuild as ib
import peers_docker
from falco_data import STABLE_RULES
from kubeward.runtime.sources import sensor_procfs
from kubeward.runtime.sources.sensor import Sensor
from kubeward.runtime.sources.sensor_fanotify import (
    FAN_CLOSE_NOWRITE,
    FAN_OPEN,
    FileEvent,
)
from kubeward.runtime.sources.sensor_procfs import ContainerRoot, ProcessTable, ProcInfo

KUBEWARD = str(Path(sys.executable).with_name("kubeward"))
IMAGE = "kw-live/box:1"
SHADOW_LINE = "root:*:19000:0:99999:7:::"
PROGRAMS = {"bin/sh": "/usr/bin/dash", "bin/cat": "/usr/bin/cat", "bin/ls": "/usr/bin/ls"}

START_TIMEOUT = 30.0
ALERT_TIMEOUT = 20.0

Alert = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# The image and the daemon
# ---------------------------------------------------------------------------------------------


def _box_image() -> bytes:
    """A root filesystem with the host's dash, cat and ls and the libraries they load, and an
    /etc/shadow to steal."""
    entries = [ib.dir_("bin")]
    seen = {"bin"}

    def add_file(name: str, source: str) -> None:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory not in seen:
                seen.add(directory)
                entries.append(ib.dir_(directory))
        if name not in seen:
            seen.add(name)
            entries.append(ib.Entry(name, Path(source).read_bytes(), "file", 0o755))

    for name, source in PROGRAMS.items():
        add_file(name, source)
        libs = subprocess.run(["ldd", source], capture_output=True, text=True, check=True)
        for line in libs.stdout.splitlines():
            path = line.split("=>")[-1].split("(")[0].strip()
            if path.startswith("/"):
                add_file(path.lstrip("/"), os.path.realpath(path))
    entries += [
        ib.dir_("etc"),
        ib.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ib.file("etc/group", "root:x:0:\n"),
        ib.file("etc/shadow", SHADOW_LINE + "\n", 0o640),
        ib.dir_("proc"),
        ib.dir_("sys"),
        ib.dir_("dev"),
        ib.dir_("root", 0o700),
        ib.dir_("tmp", 0o1777),
    ]
    return ib.layer_tar(entries)


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peers_docker.DockerDaemon]:
    daemon = peers_docker.start(tmp_path_factory.mktemp("runtime-live") / "d")
    try:
        daemon.docker("import", "-", IMAGE, input=_box_image())
        yield daemon
    finally:
        peers_docker.stop(daemon)


# ---------------------------------------------------------------------------------------------
# The runtime subprocess
# ---------------------------------------------------------------------------------------------


class Runtime:
    """`kubeward runtime` running in the background: its JSON lines and stderr, read by two
    threads so that neither pipe ever fills."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.alerts: list[Alert] = []
        self.bad_lines: list[str] = []
        self.stderr: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None and process.stderr is not None
        self._threads = [
            threading.Thread(target=self._pump, args=(process.stdout, self._lines), daemon=True),
            threading.Thread(target=self._pump_err, args=(process.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream: IO[str], into: queue.Queue[str]) -> None:
        for line in stream:
            into.put(line)

    def _pump_err(self, stream: IO[str]) -> None:
        for line in stream:
            self.stderr.append(line)

    def _take(self, timeout: float) -> None:
        """Move the JSON lines printed so far (waiting up to ``timeout`` for one) to alerts."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            try:
                self.alerts.append(json.loads(line))
            except ValueError:
                self.bad_lines.append(line)
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return

    def wait_for(self, done: Callable[[list[Alert]], bool], timeout: float = ALERT_TIMEOUT) -> None:
        """Read alerts until ``done(alerts)`` or the deadline (then the test's asserts say
        what is missing)."""
        deadline = time.monotonic() + timeout
        while not done(self.alerts) and time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._take(0.5)
                break
            self._take(0.1)

    def wait_ready(self) -> None:
        """The first stats sample is printed once the sensor is started and events flow
        through the engine."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            if any(line.startswith("kubeward: stats ") for line in list(self.stderr)):
                return
            time.sleep(0.05)
        raise AssertionError(f"kubeward runtime did not start:\n{''.join(self.stderr)}")

    def stop(self) -> int:
        """SIGTERM (a clean stop: queued events are still processed), then what is left."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for thread in self._threads:
            thread.join(10)
        self._take(0)
        return self.process.returncode


def start_runtime(dockerd: peers_docker.DockerDaemon) -> Runtime:
    args = [KUBEWARD, "runtime", "--rules", str(STABLE_RULES), "--source", "sensor", "-f", "json"]
    process = subprocess.Popen(
        [*args, "--stats-interval", "0.2"],  # a stats line on stderr: the sensor is running
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dockerd.env(),  # DOCKER_HOST: container names and images from this daemon
        start_new_session=True,
    )
    return Runtime(process)


# ---------------------------------------------------------------------------------------------
# An interactive shell with a terminal
# ---------------------------------------------------------------------------------------------


def _read_until(master: int, want: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while want not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            seen += chunk
    return seen


def interactive_shell(dockerd: peers_docker.DockerDaemon, container: str, line: str) -> bytes:
    """`docker exec -it CONTAINER sh` on a real pseudo-terminal; types ``line`` and exit;
    returns what the terminal showed."""
    master, slave = pty.openpty()
    try:
        shell = subprocess.Popen(
            ["docker", "exec", "-it", container, "sh"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dockerd.env(),
            start_new_session=True,
        )
        os.close(slave)
        slave = -1
        try:
            shown = _read_until(master, b"# ", 30)  # dash's root prompt
            os.write(master, line.encode() + b"\n")
            shown += _read_until(master, SHADOW_LINE.encode(), 30)
            os.write(master, b"exit\n")
            shown += _read_until(master, b"\x00never", 5)
            shell.wait(30)
        finally:
            if shell.poll() is None:
                shell.kill()
                shell.wait(10)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return shown


# ---------------------------------------------------------------------------------------------
# The live test
# ---------------------------------------------------------------------------------------------

TERMINAL_SHELL = "Terminal shell in container"
SENSITIVE_READ = "Read sensitive file untrusted"


def of_container(alerts: list[Alert], cid: str) -> list[Alert]:
    return [a for a in alerts if a["output_fields"].get("container.id") == cid]


def rules_of(alerts: list[Alert]) -> list[str]:
    return sorted(a["rule"] for a in alerts)


def check_container_ids(alerts: list[Alert]) -> None:
    """Falco (0.41 and later, its default ``append_output: [suggested_output: true]``) adds
    the container plugin's suggested fields to every syscall alert: container.id among them."""
    missing = [a["rule"] for a in alerts if "container.id" not in a["output_fields"]]
    assert missing == [], f"alerts without container.id in output_fields: {missing}"


@pytest.mark.e2e
@pytest.mark.skipif(os.geteuid() != 0, reason="the live sensor needs root")
def test_terminal_shell_and_shadow_read_in_a_container_are_reported(
    dockerd: peers_docker.DockerDaemon,
) -> None:
    assert STABLE_RULES.is_file(), STABLE_RULES
    name = f"kw-live-{os.getpid()}"
    # `-i` keeps the entrypoint shell's stdin open: it waits there, and the container stays up.
    out = dockerd.docker("run", "-d", "-i", "--network", "none", "--name", name, IMAGE, "sh")
    cid = out.decode().strip()[:12]
    assert len(cid) == 12 and all(c in "0123456789abcdef" for c in cid)
    runtime: Runtime | None = None
    try:
        runtime = start_runtime(dockerd)
        runtime.wait_ready()

        # (a) An interactive shell with a terminal reads /etc/shadow.
        shown = interactive_shell(dockerd, name, "cat /etc/shadow")
        assert SHADOW_LINE.encode() in shown  # the shell really ran it

        def both(alerts: list[Alert]) -> bool:
            found = rules_of(of_container(alerts, cid))
            return TERMINAL_SHELL in found and SENSITIVE_READ in found

        runtime.wait_for(both)
        check_container_ids(runtime.alerts)
        interactive = of_container(runtime.alerts, cid)
        assert rules_of(interactive) == [SENSITIVE_READ, TERMINAL_SHELL], runtime.alerts
        (shell,) = [a for a in interactive if a["rule"] == TERMINAL_SHELL]
        (read,) = [a for a in interactive if a["rule"] == SENSITIVE_READ]
        for alert in (shell, read):
            assert alert["source"] == "syscall"
            assert alert["output_fields"]["container.id"] == cid
            assert alert["output_fields"]["user.name"] == "root"  # the container's passwd
        assert shell["priority"] == "Notice"
        assert shell["output_fields"]["evt.type"] == "execve"
        assert shell["output_fields"]["proc.name"] == "sh"
        assert shell["output_fields"]["proc.cmdline"] == "sh"
        assert shell["output_fields"]["proc.tty"] > 0  # docker exec -t: a pseudo-terminal
        assert read["priority"] == "Warning"
        assert read["output_fields"]["evt.type"] == "openat"
        assert read["output_fields"]["fd.name"] == "/etc/shadow"
        assert read["output_fields"]["proc.pname"] == "sh"
        assert read["output_fields"]["proc.tty"] == shell["output_fields"]["proc.tty"]

        # (b) A benign command in the same container: no alert. A non-interactive read of
        # /etc/shadow afterwards is a barrier: once its alert is out, every event of `ls`
        # (which ran before it) has been through the rules.
        before = len(runtime.alerts)
        listing = dockerd.docker("exec", name, "ls", "/")
        assert "etc" in listing.decode().split()
        dockerd.docker("exec", name, "cat", "/etc/shadow")

        def barrier(alerts: list[Alert]) -> bool:
            return any(
                a["rule"] == SENSITIVE_READ and a["output_fields"]["proc.tty"] == 0
                for a in of_container(alerts[before:], cid)
            )

        runtime.wait_for(barrier)
        after = of_container(runtime.alerts[before:], cid)
        assert rules_of(after) == [SENSITIVE_READ], after
        assert after[0]["output_fields"]["fd.name"] == "/etc/shadow"
        assert after[0]["output_fields"]["proc.tty"] == 0  # no terminal: not the shell's cat
    finally:
        code = runtime.stop() if runtime is not None else None
        with contextlib.suppress(RuntimeError):
            dockerd.docker("rm", "-f", name)
    assert code == 0, "".join(runtime.stderr)
    assert runtime.bad_lines == []
    assert not any("Traceback" in line for line in runtime.stderr), "".join(runtime.stderr)
    assert not [a for a in runtime.alerts if a["output_fields"].get("proc.name") == "ls"]
    check_container_ids(runtime.alerts)


# ---------------------------------------------------------------------------------------------
# The sensor behaviours the live test relies on, pinned without a container or root
# ---------------------------------------------------------------------------------------------

OVERLAY_DEV = os.makedev(0, 39)
DISK_DEV = os.makedev(254, 0)
FULL_ID = "a3886a9e1043" + "0" * 52
ROOT = ContainerRoot("a3886a9e1043", FULL_ID, "docker", "/d/overlay2/x/diff")
MERGED = "/d/overlay2/x/merged"
READ_CLOSE = FAN_OPEN | FAN_CLOSE_NOWRITE


def file_event(mask: int, dev: int, path: str = "/etc/shadow", pid: int | None = None) -> FileEvent:
    return FileEvent(mask, os.getpid() if pid is None else pid, path, dev, 42, 0o100640)


def opens(sensor: Sensor, records: list[FileEvent]) -> list[dict[str, Any]]:
    for record in records:
        sensor._on_file(record, time.monotonic())
    events = []
    while (item := sensor.poll(0)) is not None:
        events.append(item[1])
    return events


def file_sensor() -> Sensor:
    return Sensor(enable={"file"}, resolve_containers=False, with_env=False)


@pytest.mark.parametrize(
    "records",
    [
        # the order the kernel reports an open through an overlay, read as it happens
        [
            file_event(FAN_OPEN, DISK_DEV),
            file_event(FAN_OPEN, OVERLAY_DEV),
            file_event(FAN_CLOSE_NOWRITE, OVERLAY_DEV),
            file_event(FAN_CLOSE_NOWRITE, DISK_DEV),
        ],
        # the disk's report merged with its close, the overlay's not
        [
            file_event(READ_CLOSE, DISK_DEV),
            file_event(FAN_OPEN, OVERLAY_DEV),
            file_event(FAN_CLOSE_NOWRITE, OVERLAY_DEV),
        ],
        # the overlay's report merged, closing the disk's pending open
        [
            file_event(FAN_OPEN, DISK_DEV),
            file_event(READ_CLOSE, OVERLAY_DEV),
            file_event(FAN_CLOSE_NOWRITE, DISK_DEV),
        ],
    ],
)
def test_an_open_through_an_overlay_is_one_event(records: list[FileEvent]) -> None:
    (event,) = opens(file_sensor(), records)
    assert event["fd.name"] == "/etc/shadow"
    assert event["evt.is_open_read"] is True


def test_two_opens_of_one_file_are_two_events() -> None:
    events = opens(file_sensor(), [file_event(READ_CLOSE, DISK_DEV)] * 2)
    assert [e["fd.name"] for e in events] == ["/etc/shadow", "/etc/shadow"]


def _reaped_in_container(sensor: Sensor, pid: int, *, complete: bool = False) -> None:
    """The table as after `docker exec CONTAINER cat` whose /proc was gone before it was read:
    the process known only as the fork of a host process (runc)."""
    table = sensor._table
    table._procs[pid] = ProcInfo(pid, 1, name="runc", uid=0, gid=0, complete=complete)
    table.container_roots[OVERLAY_DEV] = ROOT
    sensor._overlays = {OVERLAY_DEV: (MERGED, ROOT.upperdir)}


def test_a_reaped_process_is_put_in_the_container_whose_root_it_uses() -> None:
    sensor = file_sensor()
    pid = 2**22 + 17  # above any pid this machine gives: only the table knows it
    _reaped_in_container(sensor, pid)
    assert opens(sensor, [file_event(READ_CLOSE, DISK_DEV, "/bin/x", pid)])[0]["container.id"] == (
        "host"
    )
    (event,) = opens(
        sensor,
        [file_event(READ_CLOSE, OVERLAY_DEV, pid=pid), file_event(READ_CLOSE, DISK_DEV, pid=pid)],
    )
    assert event["container.id"] == "a3886a9e1043"
    assert event["container.full_id"] == FULL_ID
    assert event["container.type"] == "docker"
    assert event["fd.containername"] == "a3886a9e1043:/etc/shadow"


@pytest.mark.parametrize(
    ("path", "complete", "upper"),
    [
        (MERGED + "/etc/shadow", False, ROOT.upperdir),  # reached from the host, not inside
        ("/etc/shadow", True, ROOT.upperdir),  # its cgroup was read: it is on the host
        ("/etc/shadow", False, "/d/overlay2/y/diff"),  # another overlay took the number
    ],
)
def test_a_process_stays_on_the_host(path: str, complete: bool, upper: str) -> None:
    sensor = file_sensor()
    pid = 2**22 + 18
    _reaped_in_container(sensor, pid, complete=complete)
    sensor._overlays = {OVERLAY_DEV: (MERGED, upper)}
    (event,) = opens(sensor, [file_event(READ_CLOSE, OVERLAY_DEV, path, pid)])
    assert event["container.id"] == "host"


def test_a_partly_read_exec_keeps_what_it_had_before(monkeypatch: pytest.MonkeyPatch) -> None:
    table = ProcessTable(with_env=False)
    pid = 2**22 + 19
    table._procs[pid] = ProcInfo(
        pid, 7, name="sh", uid=0, gid=0, tty=34816, container_id="a3886a9e1043",
        container_full_id=FULL_ID, container_type="docker",
    )  # fmt: skip
    # stat read (the new name), then reaped: status and cgroup gone
    monkeypatch.setattr(
        sensor_procfs, "read_process", lambda pid, boot, with_env: ProcInfo(pid, 7, name="cat")
    )
    info = table.exec(pid)
    assert (info.name, info.uid, info.gid, info.tty) == ("cat", 0, 0, 34816)
    assert (info.container_id, info.container_full_id) == ("a3886a9e1043", FULL_ID)


def test_fields_follow_the_current_snapshot() -> None:
    """Fields built from a snapshot the process thread has since replaced are not reused."""
    sensor = file_sensor()
    pid = 2**22 + 20
    names = []
    for name in ("runc", "cat"):
        sensor._table._procs[pid] = ProcInfo(pid, 1, name=name)
        fields = sensor._process_fields(pid)
        assert fields is not None
        names.append(fields["proc.name"])
    assert names == ["runc", "cat"]
