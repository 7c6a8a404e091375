"""Where alerts go: text or JSON lines on a stream or a file, and HTTP POSTs to a webhook.

Lines have Falco's shapes so that tools reading Falco's output read kubeward's: text is
``{time}: {Priority} {output}`` and JSON has Falco's keys (sorted, as Falco's JSON library
writes them). The webhook body is that same JSON object, which is what Falcosidekick
accepts. Posting happens on a background thread behind a bounded queue: a slow or dead
receiver costs dropped and failed counts, never a stalled engine.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Any, Final, Protocol

import orjson

from kubeward.runtime.engine import Alert

if TYPE_CHECKING:
    import httpx

__all__ = [
    "FORMATS",
    "AlertSink",
    "LineWriter",
    "WebhookStats",
    "WebhookWriter",
    "alert_json",
    "json_line",
    "rfc3339_ns",
    "text_line",
    "text_time",
]

log = logging.getLogger(__name__)

FORMATS: Final = ("text", "json")


# Formatting a second costs microseconds (localtime, strftime) and alerts come in bursts:
# the last second formatted is kept, with the local zone it was formatted in.
_last_local: tuple[int, object, str] = (-1, None, "")


def text_time(ns: int) -> str:
    """Falco's default ``%evt.time``: local wall time ``HH:MM:SS.nnnnnnnnn``."""
    global _last_local  # noqa: PLW0603 - a one-entry cache, replaced whole (thread-safe)
    seconds, fraction = divmod(ns, 1_000_000_000)
    zone = (time.timezone, time.altzone, time.daylight, time.tzname)
    cached = _last_local
    if cached[0] == seconds and cached[1] == zone:
        clock = cached[2]
    else:
        t = time.localtime(seconds)
        clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        _last_local = (seconds, zone, clock)
    return f"{clock}.{fraction:09d}"


def rfc3339_ns(ns: int) -> str:
    """The JSON ``time``: UTC, RFC 3339 with nanoseconds, ``2018-10-25T13:29:12.581541000Z``."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return f"{_utc_second(seconds)}.{fraction:09d}Z"


@lru_cache(maxsize=256)
def _utc_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def text_line(alert: Alert) -> str:
    """One alert as Falco prints it (no newline): ``13:29:12.581541000: Warning Pod ...``."""
    return f"{text_time(alert.time)}: {alert.priority} {alert.output}"


def alert_json(alert: Alert) -> dict[str, Any]:
    """The alert as Falco's JSON output object: ``output`` carries the time and priority
    prefix, ``output_fields`` the rule's fields plus ``evt.time`` (nanoseconds), ``tags`` is
    sorted and unique."""
    fields: dict[str, Any] = dict(alert.output_fields)
    fields["evt.time"] = alert.time
    return {
        "hostname": alert.hostname,
        "output": text_line(alert),
        "output_fields": fields,
        "priority": alert.priority,
        "rule": alert.rule,
        "source": alert.source,
        "tags": sorted(set(alert.tags)),
        "time": rfc3339_ns(alert.time),
    }


def json_line(alert: Alert) -> bytes:
    """``alert_json`` serialised on one line (no newline), keys sorted as Falco's are."""
    return orjson.dumps(alert_json(alert), option=orjson.OPT_SORT_KEYS, default=str)


class AlertSink(Protocol):
    """Anything alerts can be written to."""

    def write(self, alert: Alert) -> None: ...

    def close(self) -> None: ...


class LineWriter:
    """Alerts as text or JSON lines on an open text stream (stdout, or a file opened for
    appending and line-buffered by ``open_file``), flushed line by line."""

    def __init__(self, stream: IO[str], fmt: str = "text", *, owns_stream: bool = False) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}")
        self._stream = stream
        self._json = fmt == "json"
        self._owns = owns_stream
        self.written = 0

    @classmethod
    def open_file(cls, path: str, fmt: str = "text") -> LineWriter:
        """Append to ``path`` (created when missing), one line per alert as it comes."""
        return cls(open(path, "a", encoding="utf-8", buffering=1), fmt, owns_stream=True)

    def write(self, alert: Alert) -> None:
        line = json_line(alert).decode() if self._json else text_line(alert)
        self._stream.write(line + "\n")
        self._stream.flush()
        self.written += 1

    def close(self) -> None:
        if self._owns:
            self._stream.close()
        else:
            self._stream.flush()


@dataclass(frozen=True, slots=True)
class WebhookStats:
    sent: int
    """Alerts the receiver accepted (2xx)."""
    failed: int
    """Alerts given up on after the retries, or refused with a 4xx."""
    dropped: int
    """Alerts never sent because the queue was full or the writer was closing."""
    retries: int
    pending: int


_STOP: Final = object()


class WebhookWriter:
    """POSTs each alert's Falco JSON to ``url`` from a background thread.

    ``write`` only queues (a full queue drops the alert and counts it). The thread posts with
    ``timeout`` seconds per attempt; a connection error, a timeout, a 429 or a 5xx is retried
    up to ``retries`` times with exponential backoff from ``backoff`` seconds; another 4xx
    fails at once, since sending the same body again cannot succeed.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
        queue_size: int = 10_000,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx

        self.url = url
        self._retries = max(0, retries)
        self._backoff = backoff
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._closing = threading.Event()
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._sent = 0
        self._failed = 0
        self._dropped = 0
        self._retried = 0
        self._warned = False
        all_headers = {"Content-Type": "application/json", "User-Agent": "kubeward"}
        all_headers.update(headers or {})
        self._client = httpx.Client(
            timeout=timeout, headers=all_headers, transport=transport, follow_redirects=False
        )
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
        self._thread.start()

    def write(self, alert: Alert) -> None:
        if self._closing.is_set():
            self._count("_dropped")
            return
        try:
            self._queue.put_nowait(json_line(alert))
        except queue.Full:
            self._count("_dropped")

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued, waiting up to ``timeout`` seconds; what is left is dropped."""
        if self._closing.is_set():
            return
        self._closing.set()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._queue.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            # Out of time: cut the backoff short; the alert being retried counts as failed.
            self._abort.set()
            self._thread.join(1.0)
        left = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                left += 1
        if left:
            self._count("_dropped", left)
        if not self._thread.is_alive():
            self._client.close()

    def stats(self) -> WebhookStats:
        with self._lock:
            return WebhookStats(
                self._sent, self._failed, self._dropped, self._retried, self._queue.qsize()
            )

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def _run(self) -> None:
        while True:
            body = self._queue.get()
            if body is _STOP:
                return
            assert isinstance(body, bytes)
            self._post(body)

    def _post(self, body: bytes) -> None:
        import httpx

        for attempt in range(self._retries + 1):
            if attempt:
                self._count("_retried")
                # An interruptible sleep: close() must not outwait its own timeout.
                if self._abort.wait(self._backoff * 2 ** (attempt - 1)):
                    self._count("_failed")
                    return
            try:
                response = self._client.post(self.url, content=body)
            except httpx.HTTPError as exc:
                log.debug("webhook %s: %s", self.url, exc)
                continue
            if response.is_success:
                self._count("_sent")
                return
            if response.status_code != 429 and response.status_code < 500:
                self._failure(f"refused with HTTP {response.status_code}")
                return
        self._failure(f"not delivered after {self._retries + 1} attempts")

    def _failure(self, why: str) -> None:
        self._count("_failed")
        # One warning, not one per alert: a dead receiver would otherwise flood stderr.
        if not self._warned:
            self._warned = True
            log.warning(
                "webhook %s: an alert was %s; failures are counted in --stats", self.url, why
            )
        else:
            log.debug("webhook %s: an alert was %s", self.url, why)
