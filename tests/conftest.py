"""Shared fixtures: a real mock upstream on localhost, and gateway builders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from bench.mock_upstream import serve

if TYPE_CHECKING:
    from local_backend.engine import LocalEngine
    from local_backend.service import LocalService


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


@pytest.fixture
def redis_url() -> str:
    """The real Redis on this machine; fails (never skips) when it is not running."""
    from tests.services import REDIS_URL, require

    require(REDIS_URL, "redis")
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses."""
    from tests.services import unique_name

    return unique_name("llmgw_test") + ":"


@pytest.fixture
async def postgres_dsn() -> AsyncIterator[str]:
    """The real PostgreSQL on this machine, with a fresh schema first on the search path.
    Fails (never skips) when the server is not running."""
    import asyncpg

    from tests.services import POSTGRES_DSN, require, unique_name

    require(POSTGRES_DSN, "postgres")
    schema = unique_name("llmgw_test")
    connection = await asyncpg.connect(POSTGRES_DSN)
    await connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_DSN}?search_path={schema}"
    finally:
        await connection.execute(f"DROP SCHEMA {schema} CASCADE")
        await connection.close()


# The local models, loaded once for the whole run (loading dominates: the tokenizer alone is
# converted from the bundled GGUF file each time). torch is imported only by tests that use them.


@pytest.fixture(scope="session")
def tiny_engine() -> LocalEngine:
    """A 2-layer random Llama with the SmolLM2 tokenizer: fast, deterministic, meaningless text."""
    from local_backend.engine import LocalEngine

    return LocalEngine.load("tiny", device="cpu")


@pytest.fixture(scope="session")
def bundled_engine() -> LocalEngine:
    """The real bundled SmolLM2-135M-Instruct."""
    from local_backend.engine import LocalEngine

    return LocalEngine.load("bundled", device="cpu")


@pytest.fixture
async def tiny_service(tiny_engine: LocalEngine) -> AsyncIterator[LocalService]:
    """A fresh scheduler and service per test on the shared tiny engine."""
    from local_backend.scheduler import BatchScheduler
    from local_backend.service import LocalService

    scheduler = BatchScheduler(tiny_engine, max_batch=8, max_queue=16)
    await scheduler.start(warmup=False)
    service = LocalService(tiny_engine, scheduler, model_id="tiny", default_max_tokens=16)
    try:
        yield service
    finally:
        await service.aclose()
