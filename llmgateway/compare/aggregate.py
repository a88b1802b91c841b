"""Per-model, per-suite summaries of a run's call records: speed, cost, errors and quality."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from llmgateway.compare.records import CallRecord, Summary

if TYPE_CHECKING:
    from llmgateway.compare.metrics import Scorers
    from llmgateway.compare.suites import Suite


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation between the closest ranks (numpy's
    default method): p50 of [1, 2, 3, 4] is 2.5, p95 of 1..20 is 19.05. ``None`` for no values."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def total_cost(records: Sequence[CallRecord]) -> tuple[Decimal, str, bool]:
    """(total, currency, estimated) of the records' exact costs.

    A model's deployments normally bill in one currency. Should they not, the total is of the
    currency most calls were billed in and is flagged estimated (it leaves the others out)."""
    if not records:
        return Decimal(0), "USD", False
    currencies = Counter(r.currency for r in records)
    currency = currencies.most_common(1)[0][0]
    total = sum((r.cost for r in records if r.currency == currency), Decimal(0))
    estimated = any(r.cost_estimated for r in records) or len(currencies) > 1
    return total, currency, estimated


def summarise(
    suite: Suite,
    model: str,
    records: Sequence[CallRecord],
    perplexity: float | None = None,
    *,
    scorers: Scorers | None = None,
) -> Summary:
    """``model``'s summary over ``suite`` from the run's records (others are ignored).

    Latency, TTFT and tokens/s are over the successful calls (a failure's time-to-error is no
    answer's latency); calls, errors, retries and cost over every call. Quality is the suite
    score over the items the model was asked (every item, unless the run was interrupted), a
    failed call counting 0."""
    from llmgateway.compare.metrics import suite_scores

    mine = [r for r in records if r.model == model and r.suite == suite.name]
    answered = [r for r in mine if r.ok]
    by_id = {item.id: item for item in suite.items}
    quality = (
        suite_scores(
            suite.task,
            [by_id[r.item_id] for r in mine],
            [r.output if r.ok else None for r in mine],
            [r.scores for r in mine],
            scorers=scorers,
        )
        if mine
        else {}
    )
    cost, currency, estimated = total_cost(mine)
    ttfts = [r.ttft_ms for r in answered if r.ttft_ms is not None]
    rates = [r.tokens_per_s for r in answered if r.tokens_per_s is not None]
    return Summary(
        model=model,
        suite=suite.name,
        task=suite.task,
        calls=len(mine),
        errors=len(mine) - len(answered),
        retries=sum(r.retries for r in mine),
        latency_p50_ms=percentile([r.latency_ms for r in answered], 50),
        latency_p95_ms=percentile([r.latency_ms for r in answered], 95),
        ttft_p50_ms=percentile(ttfts, 50),
        tokens_per_s=percentile(rates, 50),
        cost_total=cost,
        cost_per_call=cost / len(mine) if mine else Decimal(0),
        currency=currency,
        cost_estimated=estimated,
        quality=quality,
        perplexity=perplexity,
    )
