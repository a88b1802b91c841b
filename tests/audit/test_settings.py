"""Which audit log a config gets: its own audit: section, else beside the virtual keys, else log only."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from llmgateway.audit import AuditConfig, build_audit_log
from llmgateway.audit.memory_store import MemoryAuditStore
from llmgateway.audit.postgres_store import PostgresAuditStore
from llmgateway.audit.sqlite_store import SqliteAuditStore
from llmgateway.server.settings import KeyStoreConfig


async def test_choices(tmp_path: Path) -> None:
    keys_file = str(tmp_path / "keys.sqlite")
    beside = build_audit_log(None, KeyStoreConfig(backend="sqlite", path=keys_file))
    assert isinstance(beside.store, SqliteAuditStore) and beside.stored
    assert str(beside.store.path) == keys_file and beside.store.table == "llm_audit"

    pg_keys = KeyStoreConfig(backend="postgres", dsn="postgresql://u@h/db", table="my_keys")
    in_pg = build_audit_log(None, pg_keys)
    assert isinstance(in_pg.store, PostgresAuditStore)
    assert in_pg.store.dsn == "postgresql://u@h/db" and in_pg.store.table == "llm_audit"

    own = build_audit_log(AuditConfig(backend="memory"), pg_keys)
    assert isinstance(own.store, MemoryAuditStore)
    own_file = build_audit_log(AuditConfig(path=str(tmp_path / "a.sqlite"), table="audit2"), None)
    assert isinstance(own_file.store, SqliteAuditStore) and own_file.store.table == "audit2"

    nothing = build_audit_log(None, None)
    assert nothing.store is None and not nothing.stored
    for log in (beside, in_pg, own, own_file, nothing):
        await log.aclose()


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"backend": "postgres"}, "audit.backend postgres needs audit.dsn"),
        ({"table": "bad name; drop"}, "String should match pattern"),
        ({"backend": "mysql"}, "Input should be 'sqlite', 'postgres' or 'memory'"),
        ({"paht": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config(fields: dict[str, str], words: str) -> None:
    with pytest.raises(ValidationError, match=words.replace("(", r"\(")):
        AuditConfig.model_validate(fields)
