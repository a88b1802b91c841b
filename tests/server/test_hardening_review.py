"""Holes a review found: early answers that kept the connection, admin bodies past the depth
limit (a form content type, UTF-16), a dashboard cookie that crashed int(), admin errors that
skipped the scrubber."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.server.harness import MASTER_KEY, RunningServer, mock_config
from tests.server.test_hardening_body import read_response

ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    keys = {"backend": "sqlite", "path": str(tmp_path_factory.mktemp("keys") / "keys.sqlite")}
    with RunningServer(mock_config(keys=keys, max_json_depth=16)) as running:
        yield running


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ("authorization: Bearer wrong-key-0123456789", 401),
        (f"authorization: Bearer {MASTER_KEY}\r\ncontent-length: 999999999", 413),
    ],
)
def test_an_answer_before_the_body_closes_the_connection(
    server: RunningServer, extra: str, status: int
) -> None:
    lines = ["POST /v1/chat/completions HTTP/1.1", "host: gateway", "content-type: application/json", extra]
    if "content-length" not in extra:
        lines.append("content-length: 100000")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"mod')  # then trickles on
        got, headers, _, closed = read_response(sock)
    assert got == status and headers.get("connection") == "close" and closed


def _deep(depth: int) -> str:
    return json.dumps({"name": "deep", "metadata": {"x": json.loads("[" * depth + "]" * depth)}})


def test_admin_bodies_cannot_pass_the_depth_limit(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, headers=ADMIN) as http:
        form = {"content-type": "application/x-www-form-urlencoded"}
        assert http.post("/admin/keys", content=_deep(900), headers=form).status_code == 400
        utf16 = _deep(900).encode("utf-16")
        answer = http.post("/admin/keys", content=utf16, headers={"content-type": "application/json"})
        assert answer.status_code == 400
        assert not [k for k in http.get("/admin/keys").json()["data"] if k["name"] == "deep"]


def test_a_huge_dashboard_cookie_is_a_401_not_a_500(server: RunningServer) -> None:
    for value in ("9" * 5000 + ".x", "\u00b2.x"):
        cookie = f"llmgateway_ui={value}".encode()
        answer = httpx.get(f"{server.url}/ui/api/summary", headers=[(b"cookie", cookie)])
        assert answer.status_code in (401, 303), answer.text


def test_admin_errors_are_scrubbed(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, headers=ADMIN) as http:
        answer = http.patch("/admin/keys/nokey0000000", json={"name": f"x Bearer {MASTER_KEY}"})
    assert answer.status_code in (400, 404) and MASTER_KEY not in answer.text


def test_an_early_answer_does_not_invite_an_expected_upload(server: RunningServer) -> None:
    """A client waiting for 100 Continue gets its 401 at once, and no invitation to upload."""
    import time

    lines = [
        "POST /v1/chat/completions HTTP/1.1",
        "host: gateway",
        "content-type: application/json",
        "authorization: Bearer wrong-key-0123456789",
        "content-length: 40000000",
        "expect: 100-continue",
    ]
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        started = time.monotonic()
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, _, _, _ = read_response(sock)
        waited = time.monotonic() - started
    assert status == 401 and waited < 0.9  # not the drain's second
