"""Shared fixtures: a real mock upstream on localhost, and gateway builders."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bench.mock_upstream import serve


@pytest.fixture
async def upstream_url() -> AsyncIterator[str]:
    """A real OpenAI-compatible HTTP server on 127.0.0.1 (the benchmark's mock), per test."""
    server = await serve("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.close()
        await server.wait_closed()
