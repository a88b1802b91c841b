"""The ``audit:`` config section, and the audit log it (or the key store's) names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from llmgateway.audit.log import AuditLog
    from llmgateway.audit.store import AuditStore
    from llmgateway.server.settings import KeyStoreConfig

DEFAULT_TABLE = "llm_audit"


class AuditConfig(BaseModel):
    """Where audit entries are stored. Without this section they go where the virtual keys are
    (same SQLite file or same database, table ``llm_audit``), or only to the log."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["sqlite", "postgres", "memory"] = "sqlite"
    path: str = "llmgateway_audit.sqlite"
    dsn: str | None = None
    table: str = Field(default=DEFAULT_TABLE, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _dsn_for_postgres(self) -> AuditConfig:
        if self.backend == "postgres" and not self.dsn:
            raise ValueError("audit.backend postgres needs audit.dsn, e.g. postgresql://user@host/db")
        return self


def _store(config: AuditConfig, create: bool) -> AuditStore:
    if config.backend == "postgres":
        from llmgateway.audit.postgres_store import PostgresAuditStore

        assert config.dsn is not None
        return PostgresAuditStore(config.dsn, config.table, create=create)
    if config.backend == "memory":
        from llmgateway.audit.memory_store import MemoryAuditStore

        return MemoryAuditStore()
    from llmgateway.audit.sqlite_store import SqliteAuditStore

    return SqliteAuditStore(config.path, config.table, create=create)


def effective_audit_config(config: AuditConfig | None, keys: KeyStoreConfig | None) -> AuditConfig | None:
    """``config``, else the key store's place with table llm_audit, else None (log only)."""
    if config is not None:
        return config
    if keys is None:
        return None
    return AuditConfig(backend=keys.backend, path=keys.path, dsn=keys.dsn)


def build_audit_log(
    config: AuditConfig | None, keys: KeyStoreConfig | None, *, create: bool = True
) -> AuditLog:
    """The audit log the config names (see ``effective_audit_config``). ``create=False`` never
    makes a file or table (for reading)."""
    from llmgateway.audit.log import AuditLog

    effective = effective_audit_config(config, keys)
    return AuditLog(_store(effective, create) if effective is not None else None)
