"""One audit entry, the actions the gateway records, and the filters a query takes."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

# What the gateway records. Blocked calls name the guard that refused them in ``details``.
KEY_CREATED = "key.created"
KEY_UPDATED = "key.updated"
KEY_BUDGET_CHANGED = "key.budget_changed"
KEY_PII_CHANGED = "key.pii_changed"
KEY_REVOKED = "key.revoked"
CALL_BLOCKED = "call.blocked"

# Field names that never go into an entry, whoever passes them.
_KEY_PREFIX = "sk-llmgw-"

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def utc_time(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive time is refused (it would be read as the host's local time)."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; give one, e.g. 2026-01-01T00:00:00Z")
    return moment.astimezone(timezone.utc)


def new_entry_id() -> str:
    return secrets.token_hex(10)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def _scrubbed(value: Any) -> Any:
    # Defence in depth: callers pass field names and new values, never secrets, but a full
    # virtual key or a secret-named field that slips in anyway is cut out here.
    if isinstance(value, dict):
        from llmgateway.secret_scrub import is_secret_name  # the gateway's one rule for such names

        return {k: _scrubbed(v) for k, v in value.items() if not is_secret_name(str(k))}
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    if isinstance(value, str) and _KEY_PREFIX in value:
        return "[redacted virtual key]"
    return value


def clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``details`` as a plain JSON object (money and times as strings), secrets removed."""
    if not details:
        return {}
    plain = json.loads(json.dumps(dict(details), default=_jsonable))
    scrubbed: dict[str, Any] = _scrubbed(plain)
    return scrubbed


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One administrative action or blocked call. ``actor`` is "master", a virtual key's id or
    "cli:<os user>"; ``target`` the key acted on; ``details`` what changed (never a secret)."""

    id: str
    time: datetime
    actor: str
    action: str
    target: str | None = None
    outcome: str = "ok"
    details: Mapping[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    source: str | None = None

    def public(self) -> dict[str, Any]:
        """The entry as JSON (time in ISO 8601, UTC)."""
        return {
            "id": self.id,
            "time": self.time.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "details": dict(self.details),
            "request_id": self.request_id,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of a query: exact action / actor / target, ``since <= time < until``, newest
    first, at most ``limit`` entries."""

    action: str | None = None
    actor: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1 to {MAX_LIMIT}, not {self.limit!r}")
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None:
                object.__setattr__(self, name, utc_time(moment))

    def matches(self, entry: AuditEntry) -> bool:
        return (
            (self.action is None or entry.action == self.action)
            and (self.actor is None or entry.actor == self.actor)
            and (self.target is None or entry.target == self.target)
            and (self.since is None or entry.time >= self.since)
            and (self.until is None or entry.time < self.until)
        )
