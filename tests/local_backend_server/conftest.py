"""Fixtures: a fresh scheduler and service per test on the shared tiny engine (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from local_backend.engine import LocalEngine
from local_backend.scheduler import BatchScheduler
from local_backend.service import LocalService


@pytest.fixture
async def tiny_service(tiny_engine: LocalEngine) -> AsyncIterator[LocalService]:
    scheduler = BatchScheduler(tiny_engine, max_batch=8, max_queue=16)
    await scheduler.start(warmup=False)
    service = LocalService(tiny_engine, scheduler, model_id="tiny", default_max_tokens=16)
    try:
        yield service
    finally:
        await service.aclose()
