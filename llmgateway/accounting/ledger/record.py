"""One usage record per call, and its JSON form (for the spill file and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

OUTCOMES = ("ok", "error", "cancelled", "closed")
CACHE_STATES = ("hit", "miss", "skip", "refresh", "off", "no-store")
_MONEY = ("cost_input", "cost_output", "cost_compute", "cost_abandoned", "cost_total")


@dataclass(slots=True)
class UsageRecord:
    """What one call did and cost. ``id`` is the request id: stores ignore a second write of it."""

    id: str
    created_at: datetime  # aware, UTC
    key: str | None
    team: str | None
    model: str
    deployment: str | None
    provider: str | None
    outcome: str  # one of OUTCOMES
    error_type: str | None
    status_code: int | None
    cache: str  # one of CACHE_STATES
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    compute_seconds: float | None
    cost_input: Decimal
    cost_output: Decimal
    cost_compute: Decimal
    cost_abandoned: Decimal
    cost_total: Decimal
    currency: str
    estimated: bool
    latency_ms: float
    ttft_ms: float | None
    attempts: int


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(UsageRecord))


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def record_to_dict(record: UsageRecord) -> dict[str, Any]:
    """JSON-able form: money as exact decimal strings, time as ISO 8601 in UTC."""
    data = {name: getattr(record, name) for name in FIELD_NAMES}
    data["created_at"] = utc(record.created_at).isoformat()
    for name in _MONEY:
        data[name] = str(data[name])
    return data


def record_from_dict(data: dict[str, Any]) -> UsageRecord:
    """The inverse of ``record_to_dict``. Raises KeyError when a field is missing."""
    values = dict(data)
    values["created_at"] = utc(datetime.fromisoformat(values["created_at"]))
    for name in _MONEY:
        values[name] = Decimal(str(values[name]))
    return UsageRecord(**{name: values[name] for name in FIELD_NAMES})
