"""An in-memory LedgerStore that can be held shut or made to fail."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from llmgateway.accounting.ledger import UsageRecord, UsageTotal


class FakeStore:
    def __init__(self, failures: int = 0) -> None:
        self.rows: dict[str, UsageRecord] = {}
        self.batches: list[int] = []
        self.failures = failures  # the next N writes raise; -1: all of them
        self.gate = asyncio.Event()
        self.gate.set()
        self.closed = False

    async def write(self, records: Sequence[UsageRecord]) -> None:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1 if self.failures > 0 else 0
            raise ConnectionError("database is down")
        self.batches.append(len(records))
        for record in records:
            self.rows.setdefault(record.id, record)

    async def totals(
        self,
        group_by: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, str] | None = None,
    ) -> list[UsageTotal]:
        raise NotImplementedError

    async def spent(self, column: str | None, value: str | None, since: datetime | None = None) -> Decimal:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.closed = True
