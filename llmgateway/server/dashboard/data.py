"""The JSON the dashboard page draws: usage over time from the ledger store (grouped in SQL, never
loaded record by record) and live deployment health from the gateway. Money is exact decimal text."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmgateway.accounting.ledger.store import UsageBucket, UsageHistory
    from llmgateway.client import Gateway

NO_LEDGER = "no usage ledger configured"
NO_HISTORY = "this usage ledger store cannot answer the dashboard (it has no timeseries/recent)"
GROUPS = ("model", "deployment", "key")
MAX_RECENT = 500


@dataclass(frozen=True)
class TimeRange:
    seconds: int
    bucket_seconds: int  # about 60-100 points per chart


RANGES = {
    "1h": TimeRange(3600, 60),
    "24h": TimeRange(86400, 900),
    "7d": TimeRange(7 * 86400, 7200),
}


def parse_range(value: str | None) -> TimeRange:
    """The range named by ``?range=``; 1h by default. Raises ValueError naming the choices."""
    found = RANGES.get(value or "1h")
    if found is None:
        raise ValueError(f"unknown range {value!r}; choose one of {', '.join(RANGES)}")
    return found


def parse_group(value: str | None) -> str:
    group = value or "model"
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; choose one of {', '.join(GROUPS)}")
    return group


def money(amount: Decimal) -> str:
    """Exact plain decimal text (never exponent notation), without trailing zeros."""
    return format(amount.normalize(), "f") if amount else "0"


def _history(gateway: Gateway) -> UsageHistory | str:
    """The ledger store, or why there is none to read."""
    from llmgateway.accounting.ledger.store import UsageHistory

    ledger = gateway.services.ledger
    if ledger is None:
        return NO_LEDGER
    if not isinstance(ledger.store, UsageHistory):
        return NO_HISTORY
    return ledger.store


def _window(chosen: TimeRange, now: datetime) -> tuple[datetime, list[datetime]]:
    """The first instant of the range and the starts of its buckets; the range is widened to whole
    buckets so the first one is not cut short."""
    size = chosen.bucket_seconds
    last = int(now.timestamp()) // size * size
    first = last - (chosen.seconds // size - 1) * size
    count = (last - first) // size + 1
    starts = [datetime.fromtimestamp(first + i * size, timezone.utc) for i in range(count)]
    return starts[0], starts


def _unavailable(message: str) -> dict[str, Any]:
    return {"ledger": False, "message": message}


async def summary(gateway: Gateway, chosen: TimeRange, now: datetime | None = None) -> dict[str, Any]:
    ledger = gateway.services.ledger
    if ledger is None:
        return _unavailable(NO_LEDGER)
    from llmgateway.accounting.ledger.money import exact_sum

    since, _ = _window(chosen, now or datetime.now(timezone.utc))
    totals = await ledger.store.totals([], since=since)  # one row per currency
    cost: dict[str, Decimal] = {}
    for total in totals:
        cost[total.currency] = exact_sum([total.cost], cost.get(total.currency))
    return {
        "ledger": True,
        "since": since.isoformat(),
        "calls": sum(t.calls for t in totals),
        "errors": sum(t.errors for t in totals),
        "cache_hits": sum(t.cache_hits for t in totals),
        "prompt_tokens": sum(t.prompt_tokens for t in totals),
        "completion_tokens": sum(t.completion_tokens for t in totals),
        "cost": {currency: money(amount) for currency, amount in sorted(cost.items())},
    }


async def timeseries(
    gateway: Gateway, chosen: TimeRange, group: str, now: datetime | None = None
) -> dict[str, Any]:
    store = _history(gateway)
    if isinstance(store, str):
        return _unavailable(store)
    since, starts = _window(chosen, now or datetime.now(timezone.utc))
    rows = await store.timeseries(chosen.bucket_seconds, since, group_by=group)
    return {
        "ledger": True,
        "group": group,
        "bucket_seconds": chosen.bucket_seconds,
        "buckets": [start.isoformat() for start in starts],
        "series": _series(rows, starts),
        "requests": _requests(rows, starts),
    }


def _series(rows: list[UsageBucket], starts: list[datetime]) -> list[dict[str, Any]]:
    """One dense series per (group, currency), biggest spender first."""
    from llmgateway.accounting.ledger.money import exact_sum

    index = {start: i for i, start in enumerate(starts)}
    series: dict[tuple[str | None, str], dict[str, Any]] = {}
    for row in rows:
        at = index.get(row.start)
        if at is None:  # a record from the future (clock skew): not on this chart
            continue
        entry = series.setdefault(
            (row.group, row.currency),
            {
                "name": row.group,
                "currency": row.currency,
                "cost": [Decimal(0)] * len(starts),
                "calls": [0] * len(starts),
                "errors": [0] * len(starts),
                "cache_hits": [0] * len(starts),
                "tokens": [0] * len(starts),
            },
        )
        entry["cost"][at] = exact_sum([row.cost], entry["cost"][at])
        entry["calls"][at] += row.calls
        entry["errors"][at] += row.errors
        entry["cache_hits"][at] += row.cache_hits
        entry["tokens"][at] += row.prompt_tokens + row.completion_tokens
    ordered = sorted(series.values(), key=lambda s: (-exact_sum(s["cost"]), -sum(s["calls"])))
    for entry in ordered:
        entry["total_cost"] = money(exact_sum(entry["cost"]))
        entry["cost"] = [money(amount) for amount in entry["cost"]]
    return ordered


def _requests(rows: list[UsageBucket], starts: list[datetime]) -> dict[str, list[int]]:
    index = {start: i for i, start in enumerate(starts)}
    out = {name: [0] * len(starts) for name in ("calls", "errors", "cache_hits")}
    for row in rows:
        at = index.get(row.start)
        if at is not None:
            out["calls"][at] += row.calls
            out["errors"][at] += row.errors
            out["cache_hits"][at] += row.cache_hits
    return out


async def recent(gateway: Gateway, limit: int) -> dict[str, Any]:
    store = _history(gateway)
    if isinstance(store, str):
        return _unavailable(store)
    records = await store.recent(max(1, min(limit, MAX_RECENT)))
    return {
        "ledger": True,
        "calls": [
            {
                "id": r.id,
                "time": r.created_at.astimezone(timezone.utc).isoformat(),
                "key": r.key,
                "team": r.team,
                "model": r.model,
                "deployment": r.deployment,
                "provider": r.provider,
                "outcome": r.outcome,
                "status_code": r.status_code,
                "error_type": r.error_type,
                "latency_ms": round(r.latency_ms, 1),
                "ttft_ms": None if r.ttft_ms is None else round(r.ttft_ms, 1),
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "cost": money(r.cost_total),
                "currency": r.currency,
                "estimated": r.estimated,
                "cache": r.cache,
                "stream": r.stream,
                "attempts": r.attempts,
            }
            for r in records
        ],
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 1)


def deployments(gateway: Gateway) -> dict[str, Any]:
    """Live health of every deployment, from the router's own statistics (no I/O)."""
    now = time.monotonic()
    # Which public model each deployment serves.
    routes = gateway.routes()
    items = []
    for model, route in routes.items():
        for deployment in route.deployments:
            stats = deployment.stats
            window = stats.window.counts(now)
            snapshot = deployment.breaker.snapshot(now)
            items.append(
                {
                    "name": deployment.name,
                    "kind": deployment.kind,
                    "model": model,
                    "latency_ewma_ms": _ms(stats.current_latency(now)) if stats.samples else None,
                    "p95_ms": _ms(stats.p95()),
                    "ttft_ms": _ms(stats.ttft_ewma),
                    "tokens_per_second": (
                        None if stats.tokens_per_second is None else round(stats.tokens_per_second, 1)
                    ),
                    "error_rate": round(window.failure_rate, 4),
                    "window_calls": window.calls,
                    "in_flight": stats.in_flight,
                    "samples": stats.samples,
                    "breaker": snapshot["state"],
                    "breaker_open_for_s": snapshot["open_for"],
                }
            )
    return {"deployments": items, "generated_at": datetime.now(timezone.utc).isoformat()}
