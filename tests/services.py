"""Connections to the real Redis and PostgreSQL this project's machines (and CI) run.

A test that needs one fails with a clear message when the server is not there: it never passes
or skips silently. Each test gets its own Redis key prefix and its own PostgreSQL schema.
"""

from __future__ import annotations

import os
import socket
import uuid

REDIS_URL = os.environ.get("LLMGATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_DSN = os.environ.get("LLMGATEWAY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def require(url: str, what: str) -> None:
    """Fail with a clear message unless the server at ``url`` accepts connections."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    default = 6379 if what == "redis" else 5432
    require_port(parts.hostname or "127.0.0.1", parts.port or default, what)


def require_port(host: str, port: int, what: str) -> None:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        raise RuntimeError(
            f"{what} is not reachable at {host}:{port} ({exc}); this test needs the real server: "
            f"start it, or point LLMGATEWAY_TEST_{what.upper()}_URL/DSN at one"
        ) from exc


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
