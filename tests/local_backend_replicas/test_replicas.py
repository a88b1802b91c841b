"""The elastic replica pool against real worker processes on 127.0.0.1.

Most tests use the benchmark's mock upstream as the worker (it answers /ping and the OpenAI routes
after a fixed latency), so scaling is fast and deterministic enough; one test runs the real
tiny-model local backend.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from llmgateway.errors import RateLimitError, ServiceUnavailableError
from llmgateway.types import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from local_backend.replicas import PoolStats, ReplicaPool, ReplicaStartError, one_gpu_per_replica
from tests.payloads import USER

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHAT = ChatCompletionRequest(model="m", messages=USER)  # type: ignore[arg-type]


def mock_worker(latency_ms: int = 200) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bench.mock_upstream",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ]

    return command


def repo_env(slot: int) -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), **one_gpu_per_replica(slot)}


def python_worker(code: str) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, "-c", code]


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def make_pool() -> AsyncIterator[Callable[..., ReplicaPool]]:
    """Builds pools with mock workers; every pool is stopped and its processes checked at the end."""
    pools: list[ReplicaPool] = []
    pids: set[int] = set()

    def make(**kwargs: Any) -> ReplicaPool:
        kwargs.setdefault("command", mock_worker())
        kwargs.setdefault("replica_env", repo_env)
        kwargs.setdefault("stop_grace", 2.0)
        kwargs.setdefault("startup_timeout", 15.0)
        kwargs.setdefault("scale_interval", 0.05)
        pool = ReplicaPool(**kwargs)
        pools.append(pool)
        original = pool.stats

        def stats() -> PoolStats:  # remember every worker the test saw
            current = original()
            pids.update(r.pid for r in current.replicas if r.pid is not None)
            return current

        pool.stats = stats  # type: ignore[method-assign]
        return pool

    try:
        yield make
    finally:
        for pool in pools:
            await pool.stop()
            pool.stats()
        assert not [pid for pid in pids if group_alive(pid)], "worker processes outlived stop()"


async def test_burst_scales_up_then_idle_scales_down(make_pool: Callable[..., ReplicaPool]) -> None:
    pool = make_pool(
        min_replicas=1, max_replicas=3, max_concurrency=1, target_queue_wait=0.2, idle_seconds=0.8
    )
    await pool.start()
    assert pool.stats().ready == 1
    peak = 1

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, pool.stats().ready)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    replies = await asyncio.gather(*(pool.chat(CHAT) for _ in range(16)))
    watcher.cancel()
    assert all(r.choices[0].message.content for r in replies)

    ups = [e for e in pool.events if e.kind == "scale up" and "queue wait" in e.reason]
    assert ups and ups[0].from_replicas == 1 and ups[0].to_replicas == 2
    assert peak >= 2
    stats = pool.stats()
    assert stats.recent_queue_wait > 0.2 and stats.queue_depth == 0 and stats.in_flight == 0
    assert stats.scale_events == len(pool.events)

    await eventually(lambda: pool.stats().ready == 1, what="scale down to min_replicas")
    downs = [e for e in pool.events if e.kind == "scale down"]
    assert len(downs) == peak - 1 and downs[-1].to_replicas == 1 and "idle" in downs[-1].reason
    assert (await pool.chat(CHAT)).choices  # the survivor still serves


async def test_cold_start_from_zero_and_back_to_zero(make_pool: Callable[..., ReplicaPool]) -> None:
    pool = make_pool(min_replicas=0, max_replicas=1, idle_seconds=0.5)
    await pool.start()
    assert pool.stats().ready == 0 and pool.events == []

    reply = await pool.chat(CHAT)
    assert reply.choices[0].message.content
    assert pool.events[0].kind == "scale up" and "cold start" in pool.events[0].reason
    assert pool.stats().recent_queue_wait > 0  # the call waited for the worker to come up

    await eventually(lambda: pool.stats().ready == 0, what="scale down to zero")
    assert pool.events[-1].kind == "scale down" and pool.events[-1].to_replicas == 0

    assert (await pool.chat(CHAT)).choices
    assert [e.kind for e in pool.events].count("scale up") == 2


async def test_full_queue_raises_rate_limit(make_pool: Callable[..., ReplicaPool]) -> None:
    pool = make_pool(min_replicas=1, max_replicas=1, max_concurrency=1, max_queue=2)
    await pool.start()
    results = await asyncio.gather(*(pool.chat(CHAT) for _ in range(5)), return_exceptions=True)
    limited = [r for r in results if isinstance(r, RateLimitError)]
    assert len(limited) == 2 and sum(not isinstance(r, BaseException) for r in results) == 3
    assert limited[0].retry_after is not None and limited[0].retry_after > 0
    assert "max_queue=2" in limited[0].message


async def test_killed_worker_is_replaced(make_pool: Callable[..., ReplicaPool]) -> None:
    pool = make_pool(min_replicas=1, max_replicas=1)
    await pool.start()
    old_pid = pool.stats().replicas[0].pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)

    def replaced() -> bool:
        replicas = pool.stats().replicas
        return len(replicas) == 1 and replicas[0].state == "ready" and replicas[0].pid != old_pid

    await eventually(replaced, what="a replacement replica")
    kinds = [(e.kind, e.reason) for e in pool.events]
    assert ("replica exited", "replica 0 exited with code -9") in kinds
    assert any(k == "scale up" and "below min_replicas" in r for k, r in kinds)
    assert (await pool.chat(CHAT)).choices


async def test_stop_kills_workers_and_fails_queued_calls(make_pool: Callable[..., ReplicaPool]) -> None:
    pool = make_pool(min_replicas=2, max_replicas=2, max_concurrency=1, command=mock_worker(1000))
    await pool.start()
    pids = [r.pid for r in pool.stats().replicas]
    assert len(pids) == 2 and all(pid is not None and group_alive(pid) for pid in pids)
    calls = [asyncio.create_task(pool.chat(CHAT)) for _ in range(3)]
    await eventually(lambda: pool.stats().queue_depth == 1, what="a queued call")

    started = time.monotonic()
    await pool.stop()
    assert time.monotonic() - started < 5
    assert not [pid for pid in pids if pid is not None and group_alive(pid)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    assert any(isinstance(r, ServiceUnavailableError) and "stopped" in r.message for r in results)
    assert pool.stats().replicas == ()


async def test_routing_call_surface_and_stream_slot(make_pool: Callable[..., ReplicaPool]) -> None:
    pool = make_pool(min_replicas=2, max_replicas=2, max_concurrency=1, command=mock_worker(50))
    await pool.start()
    await asyncio.gather(pool.chat(CHAT), pool.chat(CHAT))
    assert [r.served for r in pool.stats().replicas] == [1, 1]  # least loaded: one each
    await pool.chat(CHAT)
    assert [r.served for r in pool.stats().replicas] == [2, 1]  # ties go to the oldest

    completion = await pool.completions(CompletionRequest(model="m", prompt="hi"))
    assert completion.choices[0].text
    embedded = await pool.embeddings(EmbeddingRequest(model="m", input="hi"))
    assert embedded.data[0].embedding == [0.1, 0.2, 0.3, 0.4]

    stream = pool.stream_chat(CHAT)
    first = await stream.__anext__()
    assert first.choices and pool.stats().in_flight == 1  # the slot is held while streaming
    await stream.aclose()  # type: ignore[attr-defined]
    assert pool.stats().in_flight == 0
    text = "".join([c.choices[0].delta.content or "" async for c in pool.stream_chat(CHAT) if c.choices])
    assert "Paris" in text and pool.stats().in_flight == 0


async def test_worker_that_dies_reports_its_output(make_pool: Callable[..., ReplicaPool]) -> None:
    code = "import sys; print('loading...'); sys.stderr.write('boom: no such model\\n'); sys.exit(3)"
    pool = make_pool(command=python_worker(code))
    with pytest.raises(ReplicaStartError) as caught:
        await pool.start()
    message = str(caught.value)
    assert "exited with code 3" in message and "boom: no such model" in message
    assert caught.value.retryable and caught.value.status_code == 503
    assert [e.kind for e in pool.events] == ["scale up", "start failed"]


async def test_worker_that_never_answers_times_out(make_pool: Callable[..., ReplicaPool]) -> None:
    pool = make_pool(command=python_worker("import time; time.sleep(60)"), startup_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ReplicaStartError, match="did not answer /ping in time"):
        await pool.start()
    assert time.monotonic() - started < 5


async def test_failed_cold_start_fails_the_waiting_call(make_pool: Callable[..., ReplicaPool]) -> None:
    pool = make_pool(min_replicas=0, command=python_worker("raise SystemExit(2)"), restart_backoff=30)
    await pool.start()
    with pytest.raises(ReplicaStartError, match="exited with code 2"):
        await pool.chat(CHAT)
    with pytest.raises(ServiceUnavailableError, match="last start failed") as caught:
        await pool.chat(CHAT)  # backing off: fails fast, saying why
    assert caught.value.retry_after is not None and caught.value.retry_after > 20


PARENT = """
import asyncio, sys
from local_backend.replicas import ReplicaPool
from tests.local_backend_replicas.test_replicas import mock_worker, repo_env

async def main() -> None:
    pool = ReplicaPool(mock_worker(), replica_env=repo_env)
    await pool.start()
    print(pool.stats().replicas[0].pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def dead(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status  # killed, waiting for its new parent to reap it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
async def test_workers_die_with_a_killed_parent() -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 15)
        worker = int(line)
        assert not dead(worker)
    finally:
        parent.kill()
        await parent.wait()
    await eventually(lambda: dead(worker), timeout=5, what="the orphaned worker to die")


def test_bad_bounds_are_rejected() -> None:
    with pytest.raises(ValueError, match="min_replicas <= max_replicas"):
        ReplicaPool(min_replicas=3, max_replicas=2)
    with pytest.raises(ValueError, match="max_queue >= 1"):
        ReplicaPool(min_replicas=0, max_queue=0)


async def test_real_tiny_model_worker() -> None:
    pool = ReplicaPool(model="tiny", min_replicas=1, max_replicas=1, startup_timeout=120, stop_grace=5)
    try:
        await pool.start()
        reply = await pool.chat(ChatCompletionRequest(model="tiny", messages=USER, max_tokens=4))  # type: ignore[arg-type]
        assert reply.choices and reply.choices[0].message.role == "assistant"
        request = ChatCompletionRequest(model="tiny", messages=USER, max_tokens=4)  # type: ignore[arg-type]
        chunks = [chunk async for chunk in pool.stream_chat(request)]
        assert chunks and pool.stats().in_flight == 0
        pid = pool.stats().replicas[0].pid
    finally:
        await pool.stop()
    assert pid is not None and not group_alive(pid)
