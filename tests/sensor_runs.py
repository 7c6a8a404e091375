"""Runs of the live sensor against real processes, shared by the sensor's tests and the
runtime benchmark's test (which checks that generated events carry the sensor's keys)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from kubeward.runtime.sources.sensor import Sensor

Event = dict[str, Any]

ATTEMPTS = 5
"""``cat`` lives about a millisecond: now and then it has exited before its exec is read and
its command line is lost (docs/runtime-sensor.md). A test retries a few times and then
asserts exact values on a run where the sensor won the race."""


def collect(
    sensor: Sensor, done: Callable[[list[Event]], bool], timeout: float = 15.0
) -> list[Event]:
    """Events until ``done`` says enough (the machine runs other processes: tests filter)."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(events):
        item = sensor.poll(0.1)
        if item is not None:
            assert item[0] == "syscall"
            events.append(item[1])
    return events


def first(events: list[Event], **want: Any) -> Event | None:
    """The first event whose fields hold these values (``fd__name`` for ``fd.name``)."""
    for event in events:
        if all(event.get(k.replace("__", ".")) == v for k, v in want.items()):
            return event
    return None


def run_and_collect(sensor: Sensor, command: list[str]) -> tuple[int, list[Event]]:
    """Run ``sh -c 'cat FILE'``-like ``command``: its pid, and the events up to the open of
    /etc/hostname by its child."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    child.wait()

    def done(events: list[Event]) -> bool:
        cat = first(events, evt__type="execve", proc__ppid=child.pid)
        return (
            cat is not None
            and first(
                events, evt__type="openat", proc__pid=cat["proc.pid"], fd__name="/etc/hostname"
            )
            is not None
        )

    return child.pid, collect(sensor, done)


def cat_hostname(sensor: Sensor) -> tuple[int, list[Event]]:
    """``sh -c 'cat /etc/hostname'`` until a run whose cat exec was read in time."""
    sh_pid, events = 0, []
    for _attempt in range(ATTEMPTS):
        sh_pid, events = run_and_collect(sensor, ["/bin/sh", "-c", "cat /etc/hostname"])
        cat = first(events, evt__type="execve", proc__ppid=sh_pid)
        if cat is not None and cat["proc.cmdline"] == "cat /etc/hostname":
            break
    return sh_pid, events


def connect_and_accept() -> tuple[int, int, list[Event]]:
    """A child connects to a server of this process over loopback TCP while the sensor
    watches the network: (the server's port, the child's pid, the events up to the connect
    and the accept)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    code = (
        f"import socket, time; s = socket.create_connection(('127.0.0.1', {port})); time.sleep(3)"
    )
    try:
        with Sensor(enable={"net"}, resolve_containers=False, net_interval=0.1) as sensor:
            time.sleep(0.3)  # the first poll learns what already exists
            client = subprocess.Popen([sys.executable, "-c", code])
            try:
                events = collect(
                    sensor,
                    lambda evs: (
                        first(evs, evt__type="connect", fd__sport=port) is not None
                        and first(evs, evt__type="accept", fd__sport=port) is not None
                    ),
                )
            finally:
                client.kill()
                client.wait()
    finally:
        server.close()
        for s in accepted:
            s.close()
    return port, client.pid, events
