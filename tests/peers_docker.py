"""Start and stop a real dockerd for tests, with all its state in one temp dir (PEERS.md).

A test that needs the Docker Engine starts its own daemon on a private unix socket, so it never
touches a system daemon and leaves nothing behind: the daemon is stopped by PID and every mount
it left under the temp dir (netns/default, overlay) is unmounted. If dockerd cannot start, the
test fails with the daemon's log instead of being skipped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


@dataclass
class DockerDaemon:
    dir: Path
    host: str  # the DOCKER_HOST value: unix:///.../docker.sock
    pid: int
    log: Path
    process: subprocess.Popen[bytes]

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, input: bytes | None = None) -> bytes:
        """Run the docker CLI against this daemon; raise with its stderr on failure."""
        done = subprocess.run(
            ["docker", *args], env=self.env(), input=input, capture_output=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"docker {' '.join(args)} failed ({done.returncode}): {done.stderr.decode()}"
            )
        return done.stdout


def _ping(sock: Path) -> bool:
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=2) as client:
            return client.get("http://docker/_ping").text == "OK"
    except httpx.HTTPError:
        return False


def start(directory: Path) -> DockerDaemon:
    """Start dockerd with root, exec root, pidfile, socket and log all under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / "docker.sock"
    log = directory / "dockerd.log"
    args = [
        "dockerd",
        *("--data-root", str(directory / "root"), "--exec-root", str(directory / "exec")),
        *("--pidfile", str(directory / "dockerd.pid"), "-H", f"unix://{sock}"),
        *("--iptables=false", "--ip6tables=false", "--bridge=none"),
        "--storage-driver=overlay2",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    daemon = DockerDaemon(directory, f"unix://{sock}", process.pid, log, process)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if sock.exists() and _ping(sock):
            return daemon
        time.sleep(0.2)
    stop(daemon)
    raise RuntimeError(f"dockerd did not start; its log:\n{log.read_text(errors='replace')}")


def _mounts_under(directory: Path) -> list[str]:
    prefix = str(directory.resolve()) + "/"
    mounts: list[str] = []
    with open("/proc/self/mounts") as f:
        for line in f:
            point = line.split()[1].replace("\\040", " ")
            if point.startswith(prefix):
                mounts.append(point)
    return mounts


def _kill_pidfile(pidfile: Path, directory: Path) -> None:
    """Kill the containerd dockerd started if it outlived dockerd (checked: never a reused PID)."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if b"containerd" in cmdline and str(directory).encode() in cmdline:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def stop(daemon: DockerDaemon) -> None:
    """Stop dockerd by its PID, then unmount whatever it left mounted under its dir."""
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
        try:
            daemon.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            daemon.process.kill()
            daemon.process.wait(10)
    _kill_pidfile(daemon.dir / "exec" / "containerd" / "containerd.pid", daemon.dir)
    for point in sorted(_mounts_under(daemon.dir), key=len, reverse=True):
        subprocess.run(["umount", point], check=False, capture_output=True)
    left = _mounts_under(daemon.dir)
    if left:
        raise RuntimeError(f"mounts left after stopping dockerd: {left}")
