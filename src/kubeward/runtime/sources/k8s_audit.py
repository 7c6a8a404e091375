"""Kubernetes audit events, from files and from the kube-apiserver audit webhook.

Both paths accept what Falco's k8saudit plugin accepts: an ``Event``, an ``EventList``, or a
JSON array of either, and keep an event only when its ``stageTimestamp`` is a valid RFC 3339
time (the time Falco gives the event). Files may be JSON lines (what ``--audit-log-path``
writes) or one JSON document. Bad input is reported and skipped, never raised.
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Final

import orjson

from kubeward.runtime.fields.k8s_audit import SOURCE, event_timestamp_ns

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DOCUMENT_BYTES",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "MAX_WARNINGS_PER_FILE",
    "SOURCE",
    "AuditWebhookServer",
    "events_from_json",
    "read_audit_file",
]

log = logging.getLogger(__name__)

MAX_LINE_BYTES: Final = 16 * 1024 * 1024
"""One JSON line; the apiserver's own default batch cap is 10 MiB."""
MAX_DOCUMENT_BYTES: Final = 128 * 1024 * 1024
"""A file that is one (pretty-printed) JSON document is parsed whole, so it gets its own cap."""
MAX_FILE_BYTES: Final = 4 * 1024 * 1024 * 1024
"""Reading stops here: a runaway or endless file must not run forever."""
MAX_BODY_BYTES: Final = 12 * 1024 * 1024
"""Webhook request body: the apiserver's 10 MiB batch cap plus 20 %, Falco's choice too."""

MAX_WARNINGS_PER_FILE: Final = 100
"""A file of garbage gives this many warnings and a count, not one per line."""

_CHUNK: Final = 1024 * 1024
_DRAIN_LIMIT: Final = 1024 * 1024
_MAX_NESTING: Final = 8  # arrays of arrays of events: JSON allows 1024 levels, Python's stack not


def events_from_json(value: Any, where: str, warnings: list[str]) -> Iterator[dict[str, Any]]:
    """The audit events in one decoded JSON value, problems appended to ``warnings`` as
    ``where: message``. Unlike Falco, which drops a whole payload when one element of an
    array is unrecognised, only the bad element is dropped."""
    return _events(value, where, warnings, 0)


def _events(value: Any, where: str, warnings: list[str], depth: int) -> Iterator[dict[str, Any]]:
    if type(value) is list:
        if depth >= _MAX_NESTING:
            warnings.append(f"{where}: arrays nested more than {_MAX_NESTING} deep")
            return
        for position, item in enumerate(value):
            yield from _events(item, f"{where}: [{position}]", warnings, depth + 1)
        return
    kind = value.get("kind") if type(value) is dict else None
    if kind == "Event":
        event = _checked_event(value, where, warnings)
        if event is not None:
            yield event
        return
    if kind == "EventList" and type(value.get("items")) is list:
        # As in Falco, list items are taken as events whatever their own kind says.
        for position, item in enumerate(value["items"]):
            event = _checked_event(item, f"{where}: items[{position}]", warnings)
            if event is not None:
                yield event
        return
    warnings.append(f"{where}: data not recognized as a k8s audit event")


def _checked_event(value: Any, where: str, warnings: list[str]) -> dict[str, Any] | None:
    if type(value) is not dict:
        warnings.append(f"{where}: audit event is not a JSON object")
        return None
    if event_timestamp_ns(value) is None:
        warnings.append(f"{where}: audit event has no valid stageTimestamp")
        return None
    return value


def read_audit_file(
    path: str | os.PathLike[str],
    *,
    warnings: list[str] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``("k8s_audit", event)`` for every audit event in a file, in file order.

    The file is read as JSON lines, each line an Event, an EventList or an array; when its
    first line is not JSON on its own, the file is tried as one JSON document. A bad line is
    one ``file:line: message`` warning and reading goes on. Warnings go to ``warnings`` when
    given, else to the log.
    """
    name = os.fspath(path)
    sink = _Warnings(name, warnings)
    try:
        with Path(name).open("rb") as f:
            yield from _read(
                f,
                name,
                sink,
                max_line=max_line_bytes,
                max_document=max_document_bytes,
                max_file=max_file_bytes,
            )
    except OSError as e:
        sink.append(f"{name}: cannot read: {e.strerror or e}")
    finally:
        sink.finish()


class _Warnings(list[str]):
    """One file's warnings, passed on as they come, up to a cap; the rest are counted."""

    def __init__(self, name: str, target: list[str] | None) -> None:
        super().__init__()
        self._name = name
        self._target = target
        self._suppressed = 0

    def append(self, message: str) -> None:
        if len(self) >= MAX_WARNINGS_PER_FILE:
            self._suppressed += 1
            return
        super().append(message)
        if self._target is not None:
            self._target.append(message)
        else:
            log.warning("%s", message)

    def finish(self) -> None:
        if self._suppressed:
            message = f"{self._name}: {self._suppressed} more warnings not shown"
            if self._target is not None:
                self._target.append(message)
            else:
                log.warning("%s", message)


def _read(
    f: IO[bytes],
    name: str,
    warnings: list[str],
    *,
    max_line: int,
    max_document: int,
    max_file: int,
) -> Iterator[tuple[str, dict[str, Any]]]:
    total = 0
    first_json_line = True
    lineno = 0
    while True:
        line = f.readline(max_line + 1)
        if not line:
            return
        lineno += 1
        total += len(line)
        if total > max_file:
            warnings.append(f"{name}:{lineno}: file larger than {max_file} bytes, rest not read")
            return
        if len(line) > max_line and not line.endswith(b"\n"):
            total += _skip_rest_of_line(f, max_file - total + 1)
            warnings.append(f"{name}:{lineno}: line longer than {max_line} bytes, skipped")
            if total > max_file:
                warnings.append(
                    f"{name}:{lineno}: file larger than {max_file} bytes, rest not read"
                )
                return
        elif line.strip():
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                if first_json_line:
                    document = _try_document(f, min(max_document, max_file))
                    if document is not None:
                        for event in events_from_json(document, name, warnings):
                            yield SOURCE, event
                        return
                    f.seek(total)
                first_json_line = False
                warnings.append(f"{name}:{lineno}: invalid JSON: {e.msg}")
            else:
                first_json_line = False
                for event in events_from_json(value, f"{name}:{lineno}", warnings):
                    yield SOURCE, event


def _skip_rest_of_line(f: IO[bytes], budget: int) -> int:
    """Read past the end of an over-long line, but never further than ``budget`` bytes."""
    skipped = 0
    while skipped < budget:
        chunk = f.readline(min(_CHUNK, budget - skipped))
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            break
    return skipped


def _try_document(f: IO[bytes], max_document: int) -> Any:
    """The whole file as one JSON document, or None (the caller goes on line by line)."""
    f.seek(0)
    data = f.read(max_document + 1)
    if len(data) > max_document:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


class _EventQueue:
    """A bounded FIFO that drops the oldest events when full.

    Dropping the oldest keeps the webhook answering at once (the apiserver never waits on a
    slow rule engine) and keeps the newest activity, the part a responder can still act on.
    """

    def __init__(self, maxsize: int) -> None:
        self._items: collections.deque[dict[str, Any]] = collections.deque(maxlen=maxsize)
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put_many(self, events: list[dict[str, Any]]) -> None:
        with self._cond:
            maxlen = self._items.maxlen or 0
            overflow = len(self._items) + len(events) - maxlen
            if overflow > 0:
                self.dropped += overflow
            self._items.extend(events)
            self._cond.notify_all()

    def get(self, timeout: float | None) -> dict[str, Any] | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)


class AuditWebhookServer:
    """An HTTP(S) endpoint for the kube-apiserver audit webhook backend.

    The apiserver POSTs ``EventList`` JSON batches; each valid event goes on a bounded queue
    (oldest dropped when full, counted in ``dropped``) and the request is answered 200 as soon
    as the body is parsed. A body over ``max_body_bytes`` gets 413 without being parsed, a
    non-JSON content type 415, bad JSON or no audit event 400, another method 405, another
    path 404.

    The socket is bound on construction (``port=0`` picks a free port, see ``address``);
    ``start`` serves it from a background thread. With ``cert_file`` and ``key_file`` it
    serves HTTPS; with ``client_ca_file`` as well it requires a client certificate signed by
    that CA (the apiserver's webhook kubeconfig can present one), so that nobody else on the
    network can inject events.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9765,
        *,
        path: str = "/k8s-audit",
        max_body_bytes: int = MAX_BODY_BYTES,
        queue_size: int = 100_000,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        client_ca_file: str | os.PathLike[str] | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        if (cert_file is None) != (key_file is None):
            raise ValueError("cert_file and key_file go together")
        if client_ca_file is not None and cert_file is None:
            raise ValueError("client_ca_file needs cert_file and key_file")
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._path = path
        self._max_body = max_body_bytes
        self._timeout = request_timeout
        self._queue = _EventQueue(queue_size)
        self._lock = threading.Lock()
        self.received = 0
        """Events put on the queue (including ones later dropped)."""
        self.rejected_requests = 0
        """Requests answered with an error status."""
        self.invalid_events = 0
        """Items of accepted batches skipped as not being valid audit events."""
        self._tls = _tls_context(cert_file, key_file, client_ca_file) if cert_file else None
        server_class = _Server6 if ":" in host else _Server
        self._httpd = server_class((host, port), self._handler_class())
        if self._tls is not None:
            # The handshake happens on the first read, in the request's own thread, so a slow
            # or silent client cannot stall accept() for everyone else.
            self._httpd.socket = self._tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> AuditWebhookServer:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.2},
                name="k8s-audit-webhook",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and wake every consumer waiting in ``get``."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self._queue.close()

    def __enter__(self) -> AuditWebhookServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- what consumers see ---------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        scheme = "https" if self._tls is not None else "http"
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{port}{self._path}"

    @property
    def dropped(self) -> int:
        """Events discarded because the queue was full."""
        return self._queue.dropped

    def pending(self) -> int:
        """Events waiting on the queue."""
        return len(self._queue)

    def get(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None:
        """The next event, waiting up to ``timeout`` seconds; None on timeout or after stop."""
        event = self._queue.get(timeout)
        return None if event is None else (SOURCE, event)

    def events(self, poll: float = 0.5) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every event in arrival order, until the server is stopped and the queue drained."""
        while True:
            item = self.get(poll)
            if item is not None:
                yield item
            elif self._queue.closed and not len(self._queue):
                return

    # -- request handling -----------------------------------------------------------------

    def _accept(self, events: list[dict[str, Any]], invalid: int) -> None:
        self._queue.put_many(events)
        with self._lock:
            self.received += len(events)
            self.invalid_events += invalid

    def _rejected(self) -> None:
        with self._lock:
            self.rejected_requests += 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = server._timeout
            server_version = "kubeward"
            sys_version = ""

            def handle_expect_100(self) -> bool:
                # Refuse an oversized body before the client sends it.
                if self._declared_length() > server._max_body:
                    self.close_connection = True
                    server._rejected()
                    self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"body too large\n")
                    return False
                return super().handle_expect_100()

            def do_POST(self) -> None:
                if self.path.split("?", 1)[0] != server._path:
                    self._fail(HTTPStatus.NOT_FOUND, "not found")
                    return
                ctype = self.headers.get("Content-Type", "")
                if ctype.split(";", 1)[0].strip().lower() != "application/json":
                    self._fail(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "content type must be JSON")
                    return
                if self.headers.get("Transfer-Encoding"):
                    self._fail(HTTPStatus.LENGTH_REQUIRED, "chunked bodies are not accepted")
                    return
                length = self._declared_length()
                if length < 0:
                    self._fail(HTTPStatus.LENGTH_REQUIRED, "a valid Content-Length is required")
                    return
                if length > server._max_body:
                    self._fail(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
                    self._drain(length)
                    return
                body = self.rfile.read(length)
                if len(body) != length:  # the client went away mid-body
                    self.close_connection = True
                    server._rejected()
                    return
                try:
                    value = orjson.loads(body)
                except orjson.JSONDecodeError as e:
                    self._fail(HTTPStatus.BAD_REQUEST, f"invalid JSON: {e.msg}", keep=True)
                    return
                problems: list[str] = []
                events = list(events_from_json(value, "webhook", problems))
                if not events and problems:
                    self._fail(HTTPStatus.BAD_REQUEST, problems[0], keep=True)
                    return
                server._accept(events, len(problems))
                for problem in problems:
                    log.debug("%s", problem)
                self._reply(HTTPStatus.OK, b"")

            def _refuse_method(self) -> None:
                if self.path.split("?", 1)[0] != server._path:
                    self._fail(HTTPStatus.NOT_FOUND, "not found")
                else:
                    self._fail(HTTPStatus.METHOD_NOT_ALLOWED, "only POST", allow=True)

            do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _refuse_method

            def _declared_length(self) -> int:
                try:
                    return int(self.headers.get("Content-Length", "0"))
                except ValueError:
                    return -1

            def _drain(self, length: int) -> None:
                # Reading a small excess lets the client finish sending and read our answer;
                # closing on unread bytes would reset the connection under it.
                if length > server._max_body + _DRAIN_LIMIT:
                    return
                try:
                    while length > 0:
                        chunk = self.rfile.read(min(length, _CHUNK))
                        if not chunk:
                            return
                        length -= len(chunk)
                except OSError:
                    return

            def _fail(
                self, status: HTTPStatus, message: str, *, keep: bool = False, allow: bool = False
            ) -> None:
                # A body left unread would be taken for the next request: close instead.
                if not keep:
                    self.close_connection = True
                server._rejected()
                headers = {"Allow": "POST"} if allow else {}
                self._reply(status, message.encode() + b"\n", headers)

            def _reply(
                self, status: HTTPStatus, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("k8s-audit webhook %s: " + format, self.client_address[0], *args)

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Failed TLS handshakes and dropped connections are routine on an open port.
        log.debug("k8s-audit webhook: request from %s failed", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _tls_context(
    cert_file: str | os.PathLike[str] | None,
    key_file: str | os.PathLike[str] | None,
    client_ca_file: str | os.PathLike[str] | None,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    assert cert_file is not None
    context.load_cert_chain(os.fspath(cert_file), None if key_file is None else os.fspath(key_file))
    if client_ca_file is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=os.fspath(client_ca_file))
    return context
