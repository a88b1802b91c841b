"""The audit store protocol: append-only (no update, no delete), queried newest first."""

from __future__ import annotations

from typing import Protocol

from llmgateway.audit.entry import AuditEntry, AuditQuery


class AuditStore(Protocol):
    async def append(self, entry: AuditEntry) -> None:
        """Store ``entry`` for good (there is no way to change or remove it)."""
        ...

    async def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Entries matching ``query``, newest first (ties: the later written first)."""
        ...

    async def aclose(self) -> None: ...
