"""Synthetic comparison results for the report tests: several models, all five tasks, failures,
missing values and estimated costs, built deterministically (no gateway, no model)."""

from __future__ import annotations

import random
import statistics
from decimal import Decimal

from llmgateway.compare.records import TASKS, CallRecord, CompareResult, Summary, Task

# model -> (latency ms, ttft ms, tokens/s, cost per call, estimated)
MODELS: dict[str, tuple[float, float, float, Decimal, bool]] = {
    "smollm2": (2400.0, 180.0, 28.0, Decimal("0.00048"), False),
    "fast-expensive": (60.0, 12.0, 420.0, Decimal("0.0021"), False),
    "slow-cheap": (900.0, 520.0, 35.0, Decimal("0.000031"), True),
    "broken": (5.0, 0.0, 0.0, Decimal(0), False),
}
QUALITY: dict[Task, dict[str, float]] = {
    "translation": {"bleu": 21.4, "chrf": 48.0},
    "summarization": {"rougeL": 30.2},
    "qa": {"em": 40.0, "f1": 55.5},
    "chat": {"chrf": 31.0, "rougeL": 18.9},
    "code": {"pass@1": 50.0},
}
ITEMS = 6


def make_result(
    models: dict[str, tuple[float, float, float, Decimal, bool]] | None = None, currency: str = "USD"
) -> CompareResult:
    models = models or MODELS
    rng = random.Random(7)
    records: list[CallRecord] = []
    summaries: list[Summary] = []
    for task in TASKS:
        for model, (latency, ttft, rate, cost, estimated) in models.items():
            spec = (latency, ttft, rate, cost, estimated, currency)
            calls = [_record(rng, model, task, i, *spec) for i in range(ITEMS)]
            records += calls
            summaries.append(_summary(model, task, calls, cost, estimated, currency))
    return CompareResult(
        models=list(models),
        suites=list(TASKS),
        started_at="2026-05-10T12:00:00+00:00",
        finished_at="2026-05-10T12:03:21+00:00",
        records=records,
        summaries=summaries,
        settings={"concurrency": 4, "limit": None, "max_tokens": 48, "temperature": 0.0},
    )


def _record(
    rng: random.Random, model: str, task: Task, index: int, latency: float, ttft: float, rate: float,
    cost: Decimal, estimated: bool, currency: str,
) -> CallRecord:  # fmt: skip
    if model == "broken":
        return CallRecord(
            model=model, suite=task, item_id=f"{task}-{index}", ok=False, latency_ms=latency,
            error=f"upstream said 503 <overloaded> on try {index}", error_type="ServiceUnavailableError",
        )  # fmt: skip
    # slow-cheap fails once per suite (a timeout after retries), and reports no TTFT on chat.
    failed = model == "slow-cheap" and index == 0
    no_ttft = task == "chat" and model == "slow-cheap"
    return CallRecord(
        model=model,
        suite=task,
        item_id=f"{task}-{index}",
        ok=not failed,
        latency_ms=latency * rng.uniform(0.7, 1.6),
        ttft_ms=None if no_ttft else ttft * rng.uniform(0.8, 1.3),
        output_tokens=40,
        tokens_per_s=None if failed else rate * rng.uniform(0.8, 1.2),
        cost=Decimal(0) if failed else cost,
        currency=currency,
        cost_estimated=estimated,
        retries=2 if failed else 0,
        deployment=f"{model}-1",
        error="timed out after 30 s" if failed else None,
        error_type="APITimeoutError" if failed else None,
        output="" if failed else f"answer {index}, with a comma",
        scores={} if failed else {name: rng.uniform(0, 100) for name in QUALITY[task]},
    )


def _summary(
    model: str, task: Task, calls: list[CallRecord], cost: Decimal, estimated: bool, currency: str
) -> Summary:
    ok = [c for c in calls if c.ok]
    latencies = sorted(c.latency_ms for c in ok)
    ttfts = [c.ttft_ms for c in ok if c.ttft_ms is not None]
    rates = [c.tokens_per_s for c in ok if c.tokens_per_s is not None]
    total = sum((c.cost for c in calls), Decimal(0))
    return Summary(
        model=model, suite=task, task=task, calls=len(calls), errors=len(calls) - len(ok),
        retries=sum(c.retries for c in calls),
        latency_p50_ms=statistics.median(latencies) if latencies else None,
        latency_p95_ms=latencies[-1] if latencies else None,
        ttft_p50_ms=statistics.median(ttfts) if ttfts else None,
        tokens_per_s=statistics.median(rates) if rates else None,
        cost_total=total, cost_per_call=total / len(calls), currency=currency, cost_estimated=estimated,
        quality={} if not ok else dict(QUALITY[task]),
        perplexity=None if model != "smollm2" else 12.34,
    )  # fmt: skip
