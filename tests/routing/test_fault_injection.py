"""The issue's must-show suite: routing and reliability under injected faults.

2,000 calls per scenario, 16 at a time, every other one streamed (and read to its end), against
mock deployments that fail at random: 429s with Retry-After, 5xx, timeouts, connection resets,
2-second stalls and streams that drop before their first token.

- A: one healthy deployment and two faulty ones: no call may fail, and the slowest 1 % of calls
  must stay near the healthy deployment's own latency (hedging covers the stalls, the breaker
  ejects the faulty ones).
- B: no healthy deployment (one refuses every connection, two fail 30 %): at least 99.5 % of
  calls succeed, which also shows the breakers never leave the model with nothing to try.

Run with ``pytest -s`` to see the summary table.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from llmgateway import Gateway
from llmgateway.errors import GatewayError

CALLS = 2000
CONCURRENCY = 16
BASE_LATENCY_MS = 10.0
JITTER_MS = 2.0
MESSAGES = [{"role": "user", "content": "ping under faults"}]

# The fault mix: drawn at random, 30 % of a faulty deployment's calls.
FAULTS: list[dict[str, Any]] = [
    {"fault": "rate_limit", "retry_after": 1.0},
    {"fault": "error", "status": 503},
    {"fault": "timeout", "seconds": 1.0},
    {"fault": "reset"},
    {"fault": "delay", "seconds": 2.0},
    {"fault": "drop_stream", "after_chunks": 0},
]
BREAKER = {"failure_rate": 0.2, "min_calls": 5, "open_seconds": 1.0, "max_open_seconds": 10.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def mock(name: str, seed: int, **settings: Any) -> dict[str, Any]:
    base = {"latency_ms": BASE_LATENCY_MS, "jitter_ms": JITTER_MS, "seed": seed}
    return {"name": name, "provider": "mock", "settings": {**base, **settings}}


def faulty(name: str, seed: int, rate: float = 0.3) -> dict[str, Any]:
    return mock(name, seed, fault_rate=rate, faults=FAULTS)


def gateway(deployments: list[dict[str, Any]]) -> Gateway:
    routing = {"policy": "latency", "hedging": {"enabled": True}, "breaker": BREAKER}
    return Gateway({"models": {"m": {"routing": routing, "deployments": deployments}}})


@dataclass
class Run:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful calls
    failures: list[str] = field(default_factory=list)
    winners: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    own: dict[str, list[float]] = field(default_factory=dict)  # ms of each deployment's good tries
    hedges: int = 0
    seconds: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.latencies) + len(self.failures)

    @property
    def success_rate(self) -> float:
        return len(self.latencies) / self.calls if self.calls else 0.0

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000.0 if self.latencies else float("nan")


async def one_call(gw: Gateway, index: int, run: Run) -> None:
    started = time.perf_counter()
    try:
        if index % 2:
            stream = await gw.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            text = [c.choices[0].delta.content or "" async for c in stream if c.choices]
            metadata = stream.gateway
            assert "".join(text) == "You said: ping under faults"
        else:
            reply = await gw.chat.completions.create(model="m", messages=MESSAGES)
            metadata = reply.gateway
            assert reply.text() == "You said: ping under faults"
    except GatewayError as exc:
        attempts = ", ".join(f"{a.deployment}:{a.outcome}:{a.error}" for a in exc.attempts)
        run.failures.append(f"{type(exc).__name__}: {exc.message} [{attempts}]")
        return
    run.latencies.append(time.perf_counter() - started)
    assert metadata is not None
    run.winners[metadata.deployment] += 1
    for attempt in metadata.attempts:
        run.outcomes[(attempt.deployment, attempt.outcome)] += 1
        run.hedges += attempt.hedge
        if attempt.outcome == "ok":
            run.own.setdefault(attempt.deployment, []).append(attempt.latency_ms)


async def drive(gw: Gateway, name: str) -> Run:
    run = Run(name)
    indexes = iter(range(CALLS))

    async def worker() -> None:
        for index in indexes:
            await one_call(gw, index, run)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    run.seconds = time.perf_counter() - started
    return run


def report(run: Run, gw: Gateway) -> None:
    print(
        f"\n{run.name}: {run.calls} calls in {run.seconds:.1f}s, {len(run.failures)} failures "
        f"({run.success_rate:.2%} ok), p50 {run.ms(0.5):.1f} ms, p95 {run.ms(0.95):.1f} ms, "
        f"p99 {run.ms(0.99):.1f} ms, max {run.ms(1.0):.1f} ms, hedges {run.hedges}"
    )
    for d in gw.deployments():
        own = run.own.get(d.name, [])
        own_p99 = percentile(own, 0.99) if own else float("nan")
        hedge_after = d.stats.p95()
        tries = {o: run.outcomes[(d.name, o)] for o in ("ok", "error", "cancelled")}
        print(
            f"  {d.name:13} served {run.winners[d.name]:5}  tries {tries}  breaker {d.breaker.state.value:9}"
            f"  own p99 {own_p99:.1f} ms  stats p95 (hedge delay) "
            f"{hedge_after * 1000.0 if hedge_after is not None else float('nan'):.1f} ms"
        )
    for failure in run.failures[:5]:
        print("  failed:", failure)


SUMMARY: list[Run] = []


@pytest.fixture(scope="module", autouse=True)
def summary_table() -> Any:
    yield
    if SUMMARY:
        print("\n\nscenario                          calls  failures   ok %    p50 ms   p95 ms   p99 ms")
        for run in SUMMARY:
            print(
                f"{run.name:32} {run.calls:6} {len(run.failures):9} {run.success_rate:7.2%} "
                f"{run.ms(0.5):8.1f} {run.ms(0.95):8.1f} {run.ms(0.99):8.1f}"
            )


async def test_a_one_healthy_two_faulty_no_client_visible_failure() -> None:
    gw = gateway([mock("healthy", 1), faulty("faulty-1", 2), faulty("faulty-2", 3)])
    async with gw:
        run = await drive(gw, "A: 1 healthy + 2 x 30% faults")
    report(run, gw)
    SUMMARY.append(run)
    # The healthy deployment's own latency, alone, with the same settings: the bar to stay near.
    alone = gateway([mock("healthy-alone", 1)])
    async with alone:
        baseline = await drive(alone, "A baseline: healthy alone")
    report(baseline, alone)
    SUMMARY.append(baseline)
    healthy_own = run.own["healthy"]
    print(f"  healthy deployment's own p99 in the run: {percentile(healthy_own, 0.99):.1f} ms")
    assert run.failures == []
    assert run.ms(0.99) < 250.0
    assert run.ms(0.99) < baseline.ms(0.99) + 200.0


async def test_b_no_healthy_deployment_still_answers() -> None:
    refusing = mock("refusing", 4, script=[{"fault": "reset"}], repeat=True)
    gw = gateway([refusing, faulty("faulty-1", 5), faulty("faulty-2", 6)])
    async with gw:
        run = await drive(gw, "B: refusing + 2 x 30% faults")
    report(run, gw)
    SUMMARY.append(run)
    assert run.calls == CALLS
    assert run.success_rate >= 0.995, run.failures[:5]
