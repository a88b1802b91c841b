"""Audit entries in this process's memory: for tests and SDK use; gone when the process ends."""

from __future__ import annotations

from llmgateway.audit.entry import AuditEntry, AuditQuery


class MemoryAuditStore:
    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []

    async def append(self, entry: AuditEntry) -> None:
        self._entries.append(entry)

    async def query(self, query: AuditQuery) -> list[AuditEntry]:
        # Stable sort on time over the written order reversed: newest first, ties later-written first.
        newest = sorted(reversed(self._entries), key=lambda entry: entry.time, reverse=True)
        return [entry for entry in newest if query.matches(entry)][: query.limit]

    async def aclose(self) -> None:
        return None
