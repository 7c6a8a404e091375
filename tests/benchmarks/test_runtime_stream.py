"""The runtime benchmark's generated syscall events have exactly the keys, in the same order,
as the live sensor's events: the generator writes its own copy of the sensor's field blocks
(a generated process has no /proc to be read from), and this test is what keeps the copy
true when the sensor changes."""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kubeward.runtime.sources.sensor import Sensor
from sensor_runs import Event, cat_hostname, connect_and_accept, first

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sensor needs root")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


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


def _host_process() -> Any:
    world = bench.World(random.Random(1))
    return world.host_procs[3]  # cron: a host process, as the sensor sees this test's


def _numbered(event: Event) -> Event:
    """The generator's event as the stream holds it (generate() numbers syscall events)."""
    return {**event, "evt.num": 1}


def test_exec_and_open_keys_are_the_sensors() -> None:
    with Sensor(enable={"exec", "file"}, resolve_containers=False) as sensor:
        sh_pid, events = cat_hostname(sensor)
    real_exec = first(events, evt__type="execve", proc__ppid=sh_pid)
    assert real_exec is not None
    real_open = first(events, evt__type="openat", proc__pid=real_exec["proc.pid"])
    assert real_open is not None

    proc = _host_process()
    generated_exec = _numbered(bench.exec_fields(proc, 1))
    generated_open = _numbered(bench.open_fields(proc, "/etc/hostname", False, 3, 1))
    assert list(generated_exec) == list(real_exec)
    assert list(generated_open) == list(real_open)


def test_connect_keys_are_the_sensors() -> None:
    port, _client, events = connect_and_accept()
    real = first(events, evt__type="connect", fd__sport=port)
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
