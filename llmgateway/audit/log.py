"""The audit log: every entry is one JSON line on the ``llmgateway.audit`` logger, and, when a
store is configured, a row in it. Writes are awaited: an admin action answers after its entry is
stored."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from llmgateway.audit.entry import DEFAULT_LIMIT, AuditEntry, AuditQuery, clean_details, new_entry_id

if TYPE_CHECKING:
    from llmgateway.audit.store import AuditStore

LOGGER_NAME = "llmgateway.audit"


class AuditLog:
    """Append-only: ``record`` and ``query``, no update or delete. Without a store (``stored``
    False) entries only go to the logger and ``query`` answers an empty list."""

    def __init__(self, store: AuditStore | None = None) -> None:
        self.store = store
        self._logger = logging.getLogger(LOGGER_NAME)

    @property
    def stored(self) -> bool:
        """Whether entries are kept somewhere ``query`` can read them back."""
        return self.store is not None

    async def record(
        self,
        action: str,
        *,
        actor: str,
        target: str | None = None,
        outcome: str = "ok",
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        source: str | None = None,
    ) -> None:
        """Store one entry and log it. ``details`` holds field names and non-secret values (money
        and times become strings; a full virtual key, or a field named key / secret /
        secret_hash, is removed). Never raises for a failed store: see below."""
        entry = AuditEntry(
            id=new_entry_id(),
            time=datetime.now(timezone.utc),
            actor=actor,
            action=action,
            target=target,
            outcome=outcome,
            details=clean_details(details),
            request_id=request_id,
            source=source,
        )
        line = entry.public()
        if self.store is None:
            self._logger.info(json.dumps(line))
            return
        try:
            await self.store.append(entry)
        except Exception as exc:
            # The action this entry describes has already happened (the key is created, changed
            # or revoked; the call refused): failing the request now would tell the client it did
            # not, and it would retry an action that took effect. So the entry is kept in the log
            # line, at ERROR, with why it was not stored, for an operator to act on.
            line["stored"] = False
            line["store_error"] = f"{type(exc).__name__}: {exc}"
            self._logger.error(json.dumps(line))
            return
        self._logger.info(json.dumps(line))

    async def query(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[AuditEntry]:
        """Entries newest first, with ``since <= time < until`` (times need a zone) and at most
        ``limit`` (1 to 1000) of them. Raises ValueError for a bad limit or a naive time."""
        query = AuditQuery(action=action, actor=actor, target=target, since=since, until=until, limit=limit)
        if self.store is None:
            return []
        return await self.store.query(query)

    async def aclose(self) -> None:
        if self.store is not None:
            await self.store.aclose()
