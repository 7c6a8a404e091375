"""The human-readable table: exact plain text off a terminal, escapes hostile text."""

from __future__ import annotations

import io
import os
import pty
from collections.abc import Iterator
from typing import BinaryIO

import pytest

from kubeward.model import ArtifactInfo, ScanResult
from kubeward.report import table

FULL_TABLE = """\
registry.example/shop/cart:1.4 (Debian GNU/Linux 12 (bookworm)): 5 packages

Name                                 Version           Ecosystem  Path
libssl3                              3.0.11-1~deb12u2  deb        var/lib/dpkg/status
org.apache.logging.log4j:log4j-core  2.14.1            maven      app/lib/log4j-core-2.14.1.jar
@babel/core                          7.23.2            npm        app/node_modules/@babel/core/package.json
inhouse                              1.0               pypi       app/inhouse-1.0.dist-info/METADATA
requests                             2.31.0            pypi       usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA

Findings: 1
Severity  ID              Package                              Installed  Fixed   Location                       Title
CRITICAL  CVE-2021-44228  org.apache.logging.log4j:log4j-core  2.14.1     2.15.0  app/lib/log4j-core-2.14.1.jar  Apache Log4j2 JNDI features do not protect against attacker controlled LDAP

Warnings: 1
- app/broken.jar: not a zip file
"""  # noqa: E501


def render(result: ScanResult) -> str:
    out = io.BytesIO()
    table.write(result, out)
    assert not out.closed
    return out.getvalue().decode("utf-8")


def test_plain_output_is_exact(full_result: ScanResult) -> None:
    assert render(full_result) == FULL_TABLE


def test_plain_output_ignores_terminal_environment(
    full_result: ScanResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert render(full_result) == FULL_TABLE


def test_empty_scan_is_one_header_line() -> None:
    result = ScanResult(artifact=ArtifactInfo(name="scratch", kind="fs"))
    assert render(result) == "scratch (unknown OS): 0 packages\n"


def test_hostile_text_is_escaped_not_interpreted(hostile_result: ScanResult) -> None:
    text = render(hostile_result)
    assert "\x1b" not in text
    assert "\x00" not in text
    assert "\u202e" not in text
    assert "\r" not in text
    assert "evil\\x00\\x01\\x1b[31mred\\x1b[0m\\r\\nname" in text
    assert "[bold red]markup[/]" in text  # printed literally, not as rich markup
    assert "</script><script>alert(1)</script>" in text
    assert "ünïcødé-名前-😀-\\u202eevil\\u2028line" in text
    assert "surrogate-?-byte" in text
    assert all(ch == "\n" or ch >= " " for ch in text)


@pytest.fixture
def terminal() -> Iterator[tuple[BinaryIO, int]]:
    leader, follower = pty.openpty()
    out = os.fdopen(follower, "wb", buffering=0)
    yield out, leader
    if not out.closed:
        out.close()
    os.close(leader)


def read_all(leader: int) -> str:
    """Everything written to the terminal, once its writer side is closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other side is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8")


def test_terminal_output_is_coloured_and_leaves_the_stream_open(
    full_result: ScanResult, terminal: tuple[BinaryIO, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich sizes itself from the env, not from `out`
    out, leader = terminal
    table.write(full_result, out)
    assert not out.closed
    out.close()
    shown = read_all(leader)
    assert "\x1b[" in shown  # styles are on
    assert "CVE-2021-44228" in shown
    assert "libssl3" in shown
    assert shown.endswith("- app/broken.jar: not a zip file\r\n")
