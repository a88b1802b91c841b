"""The key store protocol, and what every store shares: minting a new key from its spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from llmgateway.server.keys.model import KeyBudget, KeyRecord, KeySpec, KeyUpdate, utcnow, validated
from llmgateway.server.keys.secrets import format_key, hash_secret, new_key_id, new_secret

if TYPE_CHECKING:
    from llmgateway.server.settings import KeyStoreConfig


class KeyStore(Protocol):
    async def create(self, spec: KeySpec | Mapping[str, Any]) -> tuple[KeyRecord, str]:
        """Store a new key; returns its record and the full key ``sk-llmgw-<id>-<secret>``, the
        only time the secret exists outside the caller's hands."""
        ...

    async def get(self, key_id: str) -> KeyRecord | None: ...

    async def list(self, include_revoked: bool = False) -> list[KeyRecord]:
        """Every key, oldest first (expired ones included: they can be extended)."""
        ...

    async def revoke(self, key_id: str) -> KeyRecord | None:
        """Revoke a key for good (revoking twice keeps the first time); None if unknown."""
        ...

    async def update(self, key_id: str, **fields: Any) -> KeyRecord | None:
        """Change the given fields (see ``KeyUpdate``); None if unknown. Raises
        ``BadRequestError`` for invalid fields."""
        ...

    async def aclose(self) -> None: ...


def mint(spec: KeySpec | Mapping[str, Any]) -> tuple[KeyRecord, str]:
    """A new record for ``spec`` and its full key."""
    if not isinstance(spec, KeySpec):
        spec = validated(KeySpec, spec)
    key_id, secret = new_key_id(), new_secret()
    record = KeyRecord(
        id=key_id,
        name=spec.name,
        secret_hash=hash_secret(secret),
        created_at=utcnow(),
        team=spec.team,
        models=tuple(spec.models),
        rpm=spec.rpm,
        tpm=spec.tpm,
        budget=spec.budget,
        expires_at=spec.expires_at,
        metadata=dict(spec.metadata),
        pii=spec.pii,
    )
    return record, format_key(key_id, secret)


# Column order of both stores' tables.
COLUMNS = (
    "id", "secret_hash", "name", "team", "models", "rpm", "tpm", "budget_hard", "budget_soft",
    "budget_period", "budget_currency", "expires_at", "created_at", "revoked_at", "metadata", "pii",
)  # fmt: skip


def _budget_columns(budget: KeyBudget | None) -> dict[str, Any]:
    if budget is None:
        return dict.fromkeys(("budget_hard", "budget_soft", "budget_period", "budget_currency"))
    return {
        "budget_hard": budget.hard,
        "budget_soft": budget.soft,
        "budget_period": budget.period,
        "budget_currency": budget.currency,
    }


def columns_of(record: KeyRecord) -> dict[str, Any]:
    """A record as column values (Python types: the stores convert what their database needs)."""
    return {
        "id": record.id,
        "secret_hash": record.secret_hash,
        "name": record.name,
        "team": record.team,
        "models": list(record.models),
        "rpm": record.rpm,
        "tpm": record.tpm,
        **_budget_columns(record.budget),
        "expires_at": record.expires_at,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
        "metadata": dict(record.metadata),
        "pii": record.pii,
    }


def update_columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated column values of an ``update(**fields)`` call."""
    values = validated(KeyUpdate, fields).changes()
    if "budget" in values:
        values.update(_budget_columns(values.pop("budget")))
    return values


def record_of(row: Mapping[str, Any]) -> KeyRecord:
    """A record from column values already converted to Python types."""
    budget = None
    if row["budget_hard"] is not None or row["budget_soft"] is not None:
        budget = KeyBudget(
            hard=row["budget_hard"],
            soft=row["budget_soft"],
            period=row["budget_period"] or "month",
            currency=row["budget_currency"] or "USD",
        )
    return KeyRecord(
        id=row["id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        created_at=row["created_at"],
        team=row["team"],
        models=tuple(row["models"]),
        rpm=row["rpm"],
        tpm=row["tpm"],
        budget=budget,
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        metadata=row["metadata"],
        pii=row["pii"],
    )


def build_key_store(config: KeyStoreConfig, *, create: bool = True) -> KeyStore:
    """The store ``server.keys`` names. ``create=False`` never creates a file or table (reads)."""
    if config.backend == "postgres":
        from llmgateway.server.keys.postgres_store import PostgresKeyStore

        assert config.dsn is not None
        return PostgresKeyStore(config.dsn, config.table, create=create)
    from llmgateway.server.keys.sqlite_store import SqliteKeyStore

    return SqliteKeyStore(config.path, config.table, create=create)
