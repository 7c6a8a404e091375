"""k8s_audit sources: audit files in every form Falco reads, and the audit webhook over HTTP(S)."""

import logging
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from falco_data import K8S_AUDIT_TRACES as TRACES
from kubeward.runtime.sources.k8s_audit import (
    MAX_WARNINGS_PER_FILE,
    AuditWebhookServer,
    read_audit_file,
)
from tlscert import self_signed


def trace_event(name: str) -> dict[str, Any]:
    event = orjson.loads((TRACES / name).read_bytes())
    assert isinstance(event, dict)
    return event


def ids(items: list[tuple[str, dict[str, Any]]]) -> list[str]:
    assert {source for source, _ in items} <= {"k8s_audit"}
    return [event["auditID"] for _, event in items]


EXEC = trace_event("exec_pod.json")
BINDING = trace_event("attach_cluster_admin_role.json")
SERVICE = trace_event("create_nginx_service_nodeport.json")


def event_list(*events: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": list(events)}


# -- files --------------------------------------------------------------------------------


def test_every_falco_trace_file() -> None:
    warnings: list[str] = []
    counts = {}
    for path in sorted(TRACES.glob("*.json")):
        counts[path.name] = len(list(read_audit_file(path, warnings=warnings)))
    assert len(counts) == 47
    # 45 files hold one Event as one line, one holds six Events as JSON lines, and one is the
    # {"kind": 0} that Falco's own test expects to be refused with this message.
    assert sum(counts.values()) == 51
    assert counts["create_configmap_sensitive_values.json"] == 6
    assert counts["fal_01_003.json"] == 0
    assert warnings == [f"{TRACES / 'fal_01_003.json'}:1: data not recognized as a k8s audit event"]


def test_json_lines_keep_file_order() -> None:
    path = TRACES / "create_configmap_sensitive_values.json"
    expected = [orjson.loads(line)["auditID"] for line in path.read_bytes().splitlines()]
    events = list(read_audit_file(path))
    assert ids(events) == expected
    assert events[0][1]["stageTimestamp"] == "2018-10-26T09:51:20.717013Z"
    assert events[5][1]["stageTimestamp"] == "2018-10-26T09:52:32.993095Z"


def test_array_eventlist_and_pretty_printed_documents(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_bytes(orjson.dumps([EXEC, BINDING]))
    assert ids(list(read_audit_file(array))) == [EXEC["auditID"], BINDING["auditID"]]

    listed = tmp_path / "eventlist.json"
    listed.write_bytes(orjson.dumps(event_list(SERVICE, EXEC)))
    assert ids(list(read_audit_file(listed))) == [SERVICE["auditID"], EXEC["auditID"]]

    pretty = tmp_path / "pretty.json"
    pretty.write_bytes(orjson.dumps(event_list(BINDING, SERVICE), option=orjson.OPT_INDENT_2))
    warnings: list[str] = []
    events = list(read_audit_file(pretty, warnings=warnings))
    assert ids(events) == [BINDING["auditID"], SERVICE["auditID"]]
    assert warnings == []

    nested = tmp_path / "nested.json"
    nested.write_bytes(orjson.dumps([event_list(EXEC), [SERVICE]], option=orjson.OPT_INDENT_2))
    assert ids(list(read_audit_file(nested))) == [EXEC["auditID"], SERVICE["auditID"]]


def test_a_bad_line_is_one_warning_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    no_stamp = {k: v for k, v in SERVICE.items() if k != "stageTimestamp"}
    lines = [
        orjson.dumps(event_list(EXEC, no_stamp, BINDING)),
        b'{"kind": "Event",',
        b"",
        b"   ",
        orjson.dumps([SERVICE, {"kind": "Other"}, 7]),
        b"not json",
        orjson.dumps(EXEC),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    warnings: list[str] = []
    events = list(read_audit_file(path, warnings=warnings))
    assert ids(events) == [EXEC["auditID"], BINDING["auditID"], SERVICE["auditID"], EXEC["auditID"]]
    assert warnings == [
        f"{path}:1: items[1]: audit event has no valid stageTimestamp",
        f"{path}:2: invalid JSON: unexpected end of data",
        f"{path}:5: [1]: data not recognized as a k8s audit event",
        f"{path}:5: [2]: data not recognized as a k8s audit event",
        f"{path}:6: invalid JSON: invalid literal, expected 'null'",
    ]


def test_deeply_nested_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(
        b"[" * 1000 + orjson.dumps(EXEC) + b"]" * 1000 + b"\n" + orjson.dumps([[EXEC]])
    )
    warnings: list[str] = []
    assert ids(list(read_audit_file(path, warnings=warnings))) == [EXEC["auditID"]]
    assert warnings == [
        f"{path}:1: [0]: [0]: [0]: [0]: [0]: [0]: [0]: [0]: arrays nested more than 8 deep"
    ]


def test_a_bad_first_line_does_not_lose_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(b'{"kind":\n' + orjson.dumps(EXEC) + b"\n" + orjson.dumps(SERVICE))
    warnings: list[str] = []
    assert ids(list(read_audit_file(path, warnings=warnings))) == [
        EXEC["auditID"],
        SERVICE["auditID"],
    ]
    assert warnings == [f"{path}:1: invalid JSON: unexpected end of data"]


def test_size_caps(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    small = orjson.dumps(EXEC)
    big = orjson.dumps(event_list(*[BINDING] * 40))
    path.write_bytes(b"\n".join([small, big, small, small, small]) + b"\n")
    assert len(small) < 2000 < len(big)
    warnings: list[str] = []
    events = list(read_audit_file(path, warnings=warnings, max_line_bytes=2000))
    assert len(events) == 4
    assert warnings == [f"{path}:2: line longer than 2000 bytes, skipped"]

    warnings = []
    cap = len(small) * 2 + len(big) + 3
    events = list(read_audit_file(path, warnings=warnings, max_file_bytes=cap))
    assert len(events) == 2 + 40
    assert warnings == [f"{path}:4: file larger than {cap} bytes, rest not read"]

    endless = tmp_path / "endless.log"
    endless.write_bytes(small + b"\n" + b"x" * 100_000)
    warnings = []
    events = list(
        read_audit_file(endless, warnings=warnings, max_line_bytes=2000, max_file_bytes=9000)
    )
    assert ids(events) == [EXEC["auditID"]]
    assert warnings == [
        f"{endless}:2: line longer than 2000 bytes, skipped",
        f"{endless}:2: file larger than 9000 bytes, rest not read",
    ]

    pretty = tmp_path / "pretty.json"
    pretty.write_bytes(orjson.dumps(event_list(EXEC), option=orjson.OPT_INDENT_2))
    warnings = []
    assert list(read_audit_file(pretty, warnings=warnings, max_document_bytes=100)) == []
    assert warnings[0] == f"{pretty}:1: invalid JSON: unexpected end of data"
    assert len(warnings) > 10


def test_garbage_gives_a_bounded_number_of_warnings(tmp_path: Path) -> None:
    path = tmp_path / "garbage.log"
    path.write_bytes(b"x\n" * (MAX_WARNINGS_PER_FILE + 50))
    warnings: list[str] = []
    assert list(read_audit_file(path, warnings=warnings)) == []
    assert len(warnings) == MAX_WARNINGS_PER_FILE + 1
    assert warnings[-1] == f"{path}: 50 more warnings not shown"


def test_unreadable_file_and_logged_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warnings: list[str] = []
    missing = tmp_path / "missing.json"
    assert list(read_audit_file(missing, warnings=warnings)) == []
    assert warnings == [f"{missing}: cannot read: No such file or directory"]

    caplog.set_level(logging.WARNING, logger="kubeward.runtime.sources.k8s_audit")
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": 0}\n')
    assert list(read_audit_file(bad)) == []
    assert caplog.messages == [f"{bad}:1: data not recognized as a k8s audit event"]


# -- webhook ------------------------------------------------------------------------------


def post(
    url: str,
    body: bytes,
    *,
    content_type: str = "application/json",
    method: str = "POST",
    context: ssl.SSLContext | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


@pytest.fixture
def server() -> Any:
    with AuditWebhookServer("127.0.0.1", 0, max_body_bytes=64 * 1024, queue_size=100) as srv:
        yield srv


def test_webhook_queues_eventlists_in_order(server: AuditWebhookServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.address[1]}/k8s-audit"
    status, body, _ = post(server.url, orjson.dumps(event_list(EXEC, BINDING, SERVICE)))
    assert (status, body) == (200, b"")
    status, _, _ = post(server.url, orjson.dumps(event_list(SERVICE, EXEC)))
    assert status == 200
    received = [server.get(timeout=5) for _ in range(5)]
    assert [item[0] if item else None for item in received] == ["k8s_audit"] * 5
    assert [item[1]["auditID"] for item in received if item] == [
        EXEC["auditID"],
        BINDING["auditID"],
        SERVICE["auditID"],
        SERVICE["auditID"],
        EXEC["auditID"],
    ]
    assert received[1] is not None and received[1][1] == BINDING
    assert server.get(timeout=0.05) is None
    assert (server.received, server.dropped, server.rejected_requests) == (5, 0, 0)


def test_webhook_refuses_bad_requests(server: AuditWebhookServer) -> None:
    status, body, _ = post(server.url, b"x" * (80 * 1024))
    assert (status, body) == (413, b"body too large\n")

    status, body, _ = post(server.url, b'{"kind": "EventList", "items": [')
    assert (status, body) == (400, b"invalid JSON: unexpected end of data\n")

    status, body, _ = post(server.url, b'{"kind": 0}')
    assert (status, body) == (400, b"webhook: data not recognized as a k8s audit event\n")

    status, body, headers = post(server.url, b"", method="GET")
    assert (status, body, headers["Allow"]) == (405, b"only POST\n", "POST")

    status, body, _ = post(server.url, orjson.dumps(event_list(EXEC)), content_type="text/plain")
    assert (status, body) == (415, b"content type must be JSON\n")

    other = server.url.replace("/k8s-audit", "/other")
    status, body, _ = post(other, orjson.dumps(event_list(EXEC)))
    assert (status, body) == (404, b"not found\n")

    assert server.rejected_requests == 6
    assert server.get(timeout=0.05) is None

    # Items that are not events are skipped; the valid ones still count.
    status, _, _ = post(server.url, orjson.dumps(event_list(EXEC, "junk", {"kind": "Event"})))
    assert status == 200
    item = server.get(timeout=5)
    assert item is not None and item[1]["auditID"] == EXEC["auditID"]
    assert (server.received, server.invalid_events) == (1, 2)


def test_webhook_drops_the_oldest_events_when_full() -> None:
    with AuditWebhookServer("127.0.0.1", 0, queue_size=2) as server:
        batch = [dict(EXEC, auditID=f"id-{i}") for i in range(5)]
        assert post(server.url, orjson.dumps(event_list(*batch)))[0] == 200
        assert post(server.url, orjson.dumps(event_list(dict(EXEC, auditID="id-5"))))[0] == 200
        assert server.dropped == 4
        assert server.pending() == 2
        got = [server.get(timeout=5) for _ in range(2)]
        assert [item[1]["auditID"] for item in got if item] == ["id-4", "id-5"]


def test_stop_wakes_consumers_and_ends_the_event_stream() -> None:
    server = AuditWebhookServer("127.0.0.1", 0).start()
    assert post(server.url, orjson.dumps(event_list(EXEC, SERVICE)))[0] == 200
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.append(list(server.events(poll=0.05))))
    waiter.start()
    server.stop()
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert [ids(items) for items in results] == [[EXEC["auditID"], SERVICE["auditID"]]]  # type: ignore[arg-type]
    assert server.get(timeout=None) is None


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_webhook_over_tls(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with AuditWebhookServer("127.0.0.1", 0, cert_file=cert, key_file=key) as server:
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        status, _, _ = post(server.url, orjson.dumps(event_list(BINDING)), context=context)
        assert status == 200
        item = server.get(timeout=5)
        assert item is not None and item[1]["auditID"] == BINDING["auditID"]
        with pytest.raises(urllib.error.URLError):
            post(
                server.url, orjson.dumps(event_list(BINDING)), context=ssl.create_default_context()
            )
        assert server.get(timeout=0.05) is None


def test_webhook_can_require_a_client_certificate(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with AuditWebhookServer(
        "127.0.0.1", 0, cert_file=cert, key_file=key, client_ca_file=cert
    ) as server:
        trusted = ssl.create_default_context(cafile=str(cert))
        with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):
            post(server.url, orjson.dumps(event_list(EXEC)), context=trusted)
        trusted.load_cert_chain(str(cert), str(key))
        assert post(server.url, orjson.dumps(event_list(EXEC)), context=trusted)[0] == 200
        item = server.get(timeout=5)
        assert item is not None and item[1]["auditID"] == EXEC["auditID"]


def test_bad_tls_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="cert_file and key_file go together"):
        AuditWebhookServer("127.0.0.1", 0, cert_file="c.pem")
    with pytest.raises(ValueError, match="client_ca_file needs cert_file and key_file"):
        AuditWebhookServer("127.0.0.1", 0, client_ca_file="ca.pem")
