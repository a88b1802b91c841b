"""Request bodies a client controls the framing of: chunked bodies without a Content-Length, a
Content-Length that lies either way, and a body that stalls (408 within server.body_timeout_seconds,
the connection closed, and every other client served meanwhile)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.server.harness import MASTER_KEY, RunningServer, mock_config

BODY_TIMEOUT = 1.0
MAX_BODY = 64 * 1024
CHAT = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}).encode()
AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    config = mock_config(body_timeout_seconds=BODY_TIMEOUT, max_body_bytes=MAX_BODY)
    with RunningServer(config) as running:
        yield running


def head(path: str, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: gateway", "content-type: application/json"]
    lines += [f"authorization: Bearer {MASTER_KEY}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict[str, str], bytes, bool]:
    """Status, headers, body and whether the server closed the connection after it."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            raise AssertionError(f"connection closed before a response: {data!r}")
        data += part
    top, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = top.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += sock.recv(65536)
    sock.settimeout(0.5)  # a closing server closes at once; keep-alive would wait seconds
    try:
        closed = sock.recv(1) == b""
    except TimeoutError:
        closed = False
    return int(status_line.split()[1]), headers, body[:length], closed


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_chunked_body_without_length_over_the_limit_gets_413(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head("/v1/chat/completions", "transfer-encoding: chunked"))
        for _ in range(MAX_BODY // 8192 + 2):
            sock.sendall(chunk(b"x" * 8192))
        status, _, body, _ = read_response(sock)
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"


def test_chunked_body_within_the_limit_is_served(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head("/v1/chat/completions", "transfer-encoding: chunked"))
        for i in range(0, len(CHAT), 7):
            sock.sendall(chunk(CHAT[i : i + 7]))
        sock.sendall(b"0\r\n\r\n")
        status, _, body, _ = read_response(sock)
    assert status == 200 and json.loads(body)["choices"]


def test_declared_length_over_the_limit_is_refused_unread(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head("/v1/chat/completions", f"content-length: {MAX_BODY * 100}"))
        status, _, _, _ = read_response(sock)  # at once: nothing of the body was sent
    assert status == 413


def test_length_shorter_than_the_body_does_not_smuggle_a_request(server: RunningServer) -> None:
    # The declared length ends the body mid-JSON; the rest is no valid next request: refused with
    # 400 (by the app or the HTTP parser, whichever answers first) and the connection closed.
    smuggled = head("/v1/chat/completions", f"content-length: {len(CHAT)}") + CHAT
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head("/v1/chat/completions", "content-length: 10") + smuggled)
        sock.settimeout(5)
        received = b""
        while part := sock.recv(65536):
            received += part
    assert received.startswith(b"HTTP/1.1 400"), received
    assert b" 200 OK" not in received


def test_length_longer_than_the_body_times_out_with_408(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head("/v1/chat/completions", f"content-length: {len(CHAT) + 100}") + CHAT)
        started = time.monotonic()
        status, headers, body, closed = read_response(sock)
        waited = time.monotonic() - started
    assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"
    assert headers["connection"] == "close" and closed
    assert BODY_TIMEOUT * 0.8 <= waited < BODY_TIMEOUT + 2


def test_stalled_body_gets_408_while_others_are_served(server: RunningServer) -> None:
    answered: list[float] = []

    def others() -> None:
        with httpx.Client(timeout=5) as client:
            for _ in range(5):
                started = time.monotonic()
                response = client.post(f"{server.url}/v1/chat/completions", content=CHAT, headers=AUTH)
                assert response.status_code == 200
                answered.append(time.monotonic() - started)
                time.sleep(0.1)

    stalled = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    try:
        for sock in stalled:
            sock.sendall(head("/v1/chat/completions", f"content-length: {len(CHAT)}") + CHAT[:20])
        started = time.monotonic()
        worker = threading.Thread(target=others)
        worker.start()
        results = [read_response(sock) for sock in stalled]
        waited = time.monotonic() - started
        worker.join()
    finally:
        for sock in stalled:
            sock.close()
    assert all(status == 408 and closed for status, _, _, closed in results)
    assert waited < BODY_TIMEOUT + 2
    assert len(answered) == 5 and max(answered) < BODY_TIMEOUT  # never queued behind the stalled


def test_trickled_chunks_cannot_outlast_the_timeout(server: RunningServer) -> None:
    # Each chunk arrives quickly, but the body as a whole does not: the deadline is for all of it.
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head("/v1/chat/completions", "transfer-encoding: chunked"))
        started = time.monotonic()
        sock.settimeout(0.25)
        response = b""
        while time.monotonic() - started < BODY_TIMEOUT + 3:
            try:
                sock.sendall(chunk(b" "))
            except OSError:
                break
            try:
                response += sock.recv(65536)
            except TimeoutError:
                continue
            if b"\r\n\r\n" in response:
                break
        waited = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 408"), response
    assert waited < BODY_TIMEOUT + 1.5


def test_admin_api_body_times_out_too(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head("/admin/keys", "content-length: 50") + b'{"name": ')
        status, _, body, closed = read_response(sock)
    assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout" and closed
