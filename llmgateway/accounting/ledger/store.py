"""What a ledger store does, and the totals it answers with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from llmgateway.accounting.ledger.record import UsageRecord

# Dimensions totals can be grouped and filtered by. "day" is the UTC calendar day (YYYY-MM-DD).
GROUP_COLUMNS = ("key", "team", "model", "deployment", "provider", "day", "cache", "outcome")
SpentColumn = Literal["key", "team", "model"]


@dataclass(slots=True)
class UsageTotal:
    """Totals of one group. ``group`` maps each grouped dimension to its value (None when the
    records had none). Each total is in one currency: stores also group by currency."""

    group: dict[str, str | None]
    calls: int = 0
    errors: int = 0  # outcome other than "ok"
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)
    currency: str = "USD"


@dataclass(slots=True)
class UsageBucket:
    """Totals of one time bucket (and group): ``start`` is the bucket's first instant (aware, UTC),
    a multiple of the bucket size since the Unix epoch."""

    start: datetime
    group: str | None
    calls: int = 0
    errors: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)
    currency: str = "USD"


class LedgerStore(Protocol):
    async def write(self, records: Sequence[UsageRecord]) -> None:
        """Insert in one transaction; a record whose id is already stored is skipped."""

    async def totals(
        self,
        group_by: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, str] | None = None,
    ) -> list[UsageTotal]:
        """Totals per group, ``since`` inclusive, ``until`` exclusive; ``where`` filters by equality
        on GROUP_COLUMNS. Sorted by the group values."""

    async def spent(
        self, column: SpentColumn | None, value: str | None, since: datetime | None = None
    ) -> Decimal:
        """Exact total cost of the records whose ``column`` equals ``value`` (all records when
        ``column`` is None), from ``since`` on. Sums across currencies."""

    async def aclose(self) -> None: ...


@runtime_checkable
class UsageHistory(Protocol):
    """What a store answers for the dashboard, in SQL, without loading the records."""

    async def timeseries(
        self,
        bucket_seconds: int,
        since: datetime,
        until: datetime | None = None,
        group_by: str | None = None,
    ) -> list[UsageBucket]:
        """Totals per time bucket (and per value of ``group_by``, one of GROUP_COLUMNS), ``since``
        inclusive, ``until`` exclusive; sorted by bucket, then group. Empty buckets are absent."""

    async def recent(self, limit: int) -> list[UsageRecord]:
        """The ``limit`` newest records, newest first."""


def check_bucket(bucket_seconds: int, group_by: str | None) -> None:
    if bucket_seconds < 1:
        raise ValueError("bucket_seconds must be at least 1")
    if group_by is not None:
        check_dimensions([group_by], None)


def check_dimensions(group_by: Sequence[str], where: Mapping[str, str] | None) -> None:
    for name in [*group_by, *(where or {})]:
        if name not in GROUP_COLUMNS:
            raise ValueError(f"unknown usage dimension {name!r}; choose from {', '.join(GROUP_COLUMNS)}")


async def spent_from_totals(
    store: LedgerStore, column: SpentColumn | None, value: str | None, since: datetime | None
) -> Decimal:
    """What a store's ``spent`` answers, from its ``totals``: the exact cost recorded for one
    key, team or model (or everything, with no column) since ``since``."""
    from llmgateway.accounting.ledger.money import exact_sum

    if column is not None and value is None:
        raise ValueError("spent() needs a value with a column")
    where: dict[str, str] | None = {column: value} if column is not None and value is not None else None
    return exact_sum([t.cost for t in await store.totals([], since=since, where=where)])


def in_group_order(totals: Iterable[UsageTotal]) -> list[UsageTotal]:
    """Totals sorted by their group values, a missing value (None) after every present one."""
    return sorted(totals, key=lambda t: [(v is None, v or "") for v in t.group.values()])


def in_time_order(buckets: Iterable[UsageBucket]) -> list[UsageBucket]:
    """Buckets by start time, then group (None last), then currency."""
    return sorted(buckets, key=lambda b: (b.start, b.group is None, b.group or "", b.currency))
