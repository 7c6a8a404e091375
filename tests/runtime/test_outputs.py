"""Alert outputs: Falco's text and JSON lines, files, and the webhook with retries and drops."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubeward.runtime.engine import Alert
from kubeward.runtime.outputs import (
    LineWriter,
    WebhookWriter,
    alert_json,
    json_line,
    rfc3339_ns,
    text_line,
    text_time,
)

# 2018-10-25T14:09:12.581541000Z, the stageTimestamp of Falco's create_nginx_pod_privileged.json
T = 1540476552581541000


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def alert(output: str = "Pod started (user=bob)", tags: tuple[str, ...] = ("k8s", "a")) -> Alert:
    return Alert(
        rule="Create Privileged Pod",
        priority="Warning",
        time=T,
        output=output,
        output_fields={"ka.user.name": "bob", "ka.req.pod.containers.image": ["nginx"], "x": None},
        source="k8s_audit",
        tags=tags,
        hostname="node-1",
    )


def test_times() -> None:
    assert text_time(T) == "14:09:12.581541000"
    assert rfc3339_ns(T) == "2018-10-25T14:09:12.581541000Z"
    assert rfc3339_ns(5) == "1970-01-01T00:00:00.000000005Z"


def test_times_of_one_second_and_after_a_zone_change(monkeypatch: pytest.MonkeyPatch) -> None:
    # Formatted seconds are cached: the fraction, the next second and a new zone still show.
    assert text_time(T + 1) == "14:09:12.581541001"
    assert text_time(T + 1_000_000_000) == "14:09:13.581541000"
    assert rfc3339_ns(T + 1) == "2018-10-25T14:09:12.581541001Z"
    assert rfc3339_ns(T - 1_000_000_000) == "2018-10-25T14:09:11.581541000Z"
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    assert text_time(T) == "19:39:12.581541000"
    assert rfc3339_ns(T) == "2018-10-25T14:09:12.581541000Z"


def test_text_line_is_falcos() -> None:
    assert text_line(alert()) == "14:09:12.581541000: Warning Pod started (user=bob)"


def test_json_has_falcos_keys_and_order() -> None:
    line = json_line(alert())
    assert line == (
        b'{"hostname":"node-1",'
        b'"output":"14:09:12.581541000: Warning Pod started (user=bob)",'
        b'"output_fields":{"evt.time":1540476552581541000,'
        b'"ka.req.pod.containers.image":["nginx"],"ka.user.name":"bob","x":null},'
        b'"priority":"Warning","rule":"Create Privileged Pod","source":"k8s_audit",'
        b'"tags":["a","k8s"],"time":"2018-10-25T14:09:12.581541000Z"}'
    )
    assert json.loads(line) == alert_json(alert())


def test_line_writer_stream_and_file(tmp_path: Path) -> None:
    stream = io.StringIO()
    writer = LineWriter(stream, "text")
    writer.write(alert())
    writer.close()
    assert stream.getvalue() == "14:09:12.581541000: Warning Pod started (user=bob)\n"
    assert writer.written == 1

    target = tmp_path / "alerts.jsonl"
    target.write_text("earlier line\n")
    file_writer = LineWriter.open_file(str(target), "json")
    file_writer.write(alert("one"))
    # Line-buffered: the line is on disk before close.
    assert target.read_text().splitlines()[1].startswith('{"hostname":"node-1"')
    file_writer.write(alert("two"))
    file_writer.close()
    lines = target.read_text().splitlines()
    assert lines[0] == "earlier line"
    assert [json.loads(x)["output"] for x in lines[1:]] == [
        "14:09:12.581541000: Warning one",
        "14:09:12.581541000: Warning two",
    ]
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        LineWriter(stream, "xml")


class Receiver:
    """An httpx transport that answers from a script of status codes (or exceptions)."""

    def __init__(self, script: list[int | Exception], gate: threading.Event | None = None):
        self.script = script
        self.gate = gate
        self.bodies: list[bytes] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.gate is not None:
            self.gate.wait(5)
        self.bodies.append(request.content)
        self.headers.append(request.headers)
        answer = self.script.pop(0) if self.script else 200
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)


def test_webhook_posts_falco_json() -> None:
    receiver = Receiver([200])
    writer = WebhookWriter(
        "http://sidekick:2801/", transport=httpx.MockTransport(receiver), backoff=0.001
    )
    writer.write(alert())
    writer.close()
    assert receiver.bodies == [json_line(alert())]
    assert receiver.headers[0]["content-type"] == "application/json"
    stats = writer.stats()
    assert (stats.sent, stats.failed, stats.dropped, stats.retries, stats.pending) == (
        1,
        0,
        0,
        0,
        0,
    )


def test_webhook_retries_then_gives_up() -> None:
    boom = httpx.ConnectError("refused")
    receiver = Receiver([503, boom, 200, 500, 500, 500, 400])
    writer = WebhookWriter(
        "http://sidekick/", transport=httpx.MockTransport(receiver), retries=2, backoff=0.001
    )
    for n in range(3):
        writer.write(alert(f"alert {n}"))
    writer.close()
    # 1st: 503, error, 200 -> sent after 2 retries; 2nd: 500 x3 -> failed; 3rd: 400 -> failed.
    stats = writer.stats()
    assert (stats.sent, stats.failed, stats.dropped, stats.retries) == (1, 2, 0, 4)
    assert len(receiver.bodies) == 7


def test_webhook_never_blocks_and_counts_drops() -> None:
    gate = threading.Event()
    receiver = Receiver([], gate=gate)
    writer = WebhookWriter(
        "http://sidekick/", transport=httpx.MockTransport(receiver), queue_size=2
    )
    started = time.monotonic()
    for n in range(10):
        writer.write(alert(f"alert {n}"))
    assert time.monotonic() - started < 1.0
    gate.set()
    writer.close()
    stats = writer.stats()
    # One in flight when the queue filled (or not yet taken), two queued, the rest dropped.
    assert stats.sent + stats.dropped == 10
    assert stats.sent in (2, 3)
    writer.write(alert("after close"))
    assert writer.stats().dropped == 10 - stats.sent + 1
