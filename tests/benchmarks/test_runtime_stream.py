"""The runtime benchmark's generated syscall events have exactly the keys, in the same order,
as the live sensor's events: the generator writes its own copy of the sensor's field blocks
(a generated process has no /proc to be read from), and this test is what keeps the copy
true when the sensor changes."""

from __future__ import annotations

import importlib.util
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kubeward.runtime.sources.sensor import Sensor

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sensor needs root")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
Event = dict[str, Any]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kubeward_benchmark_runtime", BENCHMARKS / "runtime.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load()


def _collect(sensor: Sensor, done: Any, timeout: float = 15.0) -> list[Event]:
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(events):
        item = sensor.poll(0.1)
        if item is not None:
            events.append(item[1])
    return events


def _find(events: list[Event], **want: Any) -> Event | None:
    for event in events:
        if all(event.get(k.replace("__", ".")) == v for k, v in want.items()):
            return event
    return None


def _host_process() -> Any:
    world = bench.World(random.Random(1))
    return world.host_procs[3]  # cron: a host process, as the sensor sees this test's


def _numbered(event: Event) -> Event:
    """The generator's event as the stream holds it (generate() numbers syscall events)."""
    return {**event, "evt.num": 1}


def test_exec_and_open_keys_are_the_sensors() -> None:
    with Sensor(enable={"exec", "file"}, resolve_containers=False) as sensor:
        events: list[Event] = []
        for _attempt in range(5):  # cat can exit before its exec is read: try again
            child = subprocess.Popen(["/bin/sh", "-c", "cat /etc/hostname"])
            child.wait()
            events = _collect(
                sensor,
                lambda evs: (
                    _find(evs, evt__type="openat", fd__name="/etc/hostname", proc__name="cat")
                    is not None
                    and _find(evs, evt__type="execve", proc__name="cat") is not None
                ),
            )
            if _find(events, evt__type="execve", proc__name="cat") is not None:
                break
    real_exec = _find(events, evt__type="execve", proc__name="cat")
    real_open = _find(events, evt__type="openat", fd__name="/etc/hostname", proc__name="cat")
    assert real_exec is not None and real_open is not None

    proc = _host_process()
    generated_exec = _numbered(bench.exec_fields(proc, 1))
    generated_open = _numbered(bench.open_fields(proc, "/etc/hostname", False, 3, 1))
    assert list(generated_exec) == list(real_exec)
    assert list(generated_open) == list(real_open)


def test_connect_keys_are_the_sensors() -> None:
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
                events = _collect(
                    sensor, lambda evs: _find(evs, evt__type="connect", fd__sport=port) is not None
                )
            finally:
                client.kill()
                client.wait()
    finally:
        server.close()
        for s in accepted:
            s.close()
    real = _find(events, evt__type="connect", fd__sport=port)
    assert real is not None

    generated = _numbered(
        bench.net_fields(
            _host_process(),
            "connect",
            local=("127.0.0.1", 40000),
            remote=("127.0.0.1", port),
            fd=3,
            ts=1,
        )
    )
    assert list(generated) == list(real)
