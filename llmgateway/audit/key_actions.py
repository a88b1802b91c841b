"""The audit entries of virtual key changes, shared by the admin API and ``llmgateway keys``:
field names and their new (public) values, never the key or its hash."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from llmgateway.audit.entry import KEY_BUDGET_CHANGED, KEY_CREATED, KEY_PII_CHANGED, KEY_REVOKED, KEY_UPDATED

if TYPE_CHECKING:
    from llmgateway.audit.log import AuditLog
    from llmgateway.server.keys.model import KeyRecord

# Fields of KeyRecord.public() that describe the key's settings (not its id, status or times
# the store sets).
_SETTINGS = ("name", "team", "models", "rpm", "tpm", "budget", "expires_at", "metadata", "pii")


class KeyAudit:
    """Records key actions on ``log`` for one actor, request and source."""

    def __init__(
        self, log: AuditLog, *, actor: str, request_id: str | None = None, source: str | None = None
    ) -> None:
        self.log = log
        self.actor = actor
        self.request_id = request_id
        self.source = source

    async def _record(self, action: str, target: str, details: dict[str, Any], outcome: str = "ok") -> None:
        await self.log.record(
            action,
            actor=self.actor,
            target=target,
            outcome=outcome,
            details=details,
            request_id=self.request_id,
            source=self.source,
        )

    async def created(self, record: KeyRecord) -> None:
        """key.created with its settings; a budget or PII mode it starts with is also recorded
        as set (from none), so each of those actions alone tells a key's whole history."""
        public = record.public()
        await self._record(KEY_CREATED, record.id, {name: public[name] for name in _SETTINGS})
        if record.budget is not None:
            await self._record(KEY_BUDGET_CHANGED, record.id, {"old": None, "new": public["budget"]})
        if record.pii is not None:
            await self._record(KEY_PII_CHANGED, record.id, {"old": None, "new": record.pii})

    async def updated(self, old: KeyRecord, new: KeyRecord, fields: Iterable[str]) -> None:
        """key.updated with the new values of ``fields``; key.budget_changed and
        key.pii_changed (old and new) when those really changed."""
        before, after = old.public(), new.public()
        await self._record(KEY_UPDATED, new.id, {name: after[name] for name in fields if name in after})
        if before["budget"] != after["budget"]:
            await self._record(KEY_BUDGET_CHANGED, new.id, {"old": before["budget"], "new": after["budget"]})
        if before["pii"] != after["pii"]:
            await self._record(KEY_PII_CHANGED, new.id, {"old": before["pii"], "new": after["pii"]})

    async def revoked(self, old: KeyRecord, new: KeyRecord) -> None:
        """key.revoked; outcome "unchanged" when the key was revoked already."""
        outcome = "ok" if old.revoked_at is None else "unchanged"
        await self._record(KEY_REVOKED, new.id, {"revoked_at": new.public()["revoked_at"]}, outcome)
