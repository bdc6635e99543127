"""Headers are bounded in time and size: a connection that sends nothing, or its headers a
byte at a time, is closed; headers over the limit get a 431 without growing the sidecar."""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ltv_webhook.header_limits import MAX_HEADER_BYTES
from tests.webhooks.sidecar import Sidecar, event_body

HEADER_TIMEOUT = 1.0  # the body timeout, which headers share
WAIT_SECONDS = 15  # far beyond the timeout: "held forever" shows as still open after this


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    process = Sidecar(tmp_path_factory.mktemp("home"), body_timeout_seconds=HEADER_TIMEOUT)
    process.start()
    yield process
    process.stop()


def _closed_by_server(sock: socket.socket, trickle: bytes = b"") -> tuple[bool, int]:
    """Send `trickle` a byte per 0.2 s until the server closes; (closed, bytes sent)."""
    sent = 0
    for _ in range(int(WAIT_SECONDS / 0.2)):
        if select.select([sock], [], [], 0.2)[0]:
            try:
                if not sock.recv(4096):  # what else arrives (the rest of an answer) is skipped
                    return True, sent
            except ConnectionResetError:
                return True, sent
            continue
        if sent < len(trickle):
            try:
                sock.sendall(trickle[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                return True, sent
            sent += 1
    return False, sent


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_connection_that_sends_nothing_is_closed(sidecar: Sidecar) -> None:
    with socket.create_connection(("127.0.0.1", sidecar.port)) as sock:
        closed, _ = _closed_by_server(sock)
    assert closed, f"an idle connection was still open after {WAIT_SECONDS} s"


def test_headers_sent_a_byte_at_a_time_are_cut_off(sidecar: Sidecar) -> None:
    head = f"POST /webhooks/samcart/{sidecar.token()} HTTP/1.1\r\nHost: x\r\n".encode()
    slow = b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"  # 40 s at one byte per 0.2 s
    with socket.create_connection(("127.0.0.1", sidecar.port)) as sock:
        sock.sendall(head)
        closed, sent = _closed_by_server(sock, slow)
    assert closed, f"slow headers were still being read after {WAIT_SECONDS} s"
    assert sent < len(slow) // 2
    # ... and a keep-alive connection's next request has the same limit.
    with socket.create_connection(("127.0.0.1", sidecar.port)) as sock:
        body = event_body(1)
        sock.sendall(head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        sock.sendall(head)
        closed, _ = _closed_by_server(sock, slow)
    assert closed


def test_headers_over_the_limit_get_431(sidecar: Sidecar) -> None:
    head = f"POST /webhooks/samcart/{sidecar.token()} HTTP/1.1\r\nHost: x\r\n".encode()
    with socket.create_connection(("127.0.0.1", sidecar.port)) as sock:
        sock.sendall(head + b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 1000))
        sock.settimeout(WAIT_SECONDS)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:100]
    assert b"headers_too_large" in reply
    assert httpx.get(f"{sidecar.base}/healthz").status_code == 200


def test_endless_headers_do_not_grow_the_sidecar(sidecar: Sidecar) -> None:
    assert sidecar.process is not None
    before = _rss_kib(sidecar.process.pid)
    chunk = b"X-Endless-" + b"a" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", sidecar.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            while sent < 64 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
    grown = _rss_kib(sidecar.process.pid) - before
    assert sent < 16 * 1024 * 1024, f"the sidecar read {sent} bytes of headers"
    assert grown < 16 * 1024, f"the sidecar grew by {grown} KiB"


def test_a_413_reaches_a_sender_that_asked_to_close_the_connection(sidecar: Sidecar) -> None:
    """The answer comes before the body is read; closing at once with the rest of the body
    unread made the kernel reset the connection, and the sender never saw its 413."""
    body = b"x" * (1024 * 1024 + 1)
    head = (
        f"POST /webhooks/samcart/{sidecar.token()} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", sidecar.port)) as sock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(head + body)  # the answer may still be readable after these
            sock.settimeout(WAIT_SECONDS)
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 413 "), reply[:100]
