"""Each audit store (memory, SQLite, the real PostgreSQL) through AuditLog: round trip, filters,
newest-first order, limits; the log line of every entry; a failing store; log-only."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest

from llmgateway.audit import AuditLog
from llmgateway.audit.entry import AuditEntry
from llmgateway.audit.memory_store import MemoryAuditStore
from llmgateway.audit.postgres_store import PostgresAuditStore
from llmgateway.audit.sqlite_store import SqliteAuditStore


@pytest.fixture
async def memory_log() -> AsyncIterator[AuditLog]:
    made = AuditLog(MemoryAuditStore())
    yield made
    await made.aclose()


@pytest.fixture
async def sqlite_log(tmp_path: Path) -> AsyncIterator[AuditLog]:
    made = AuditLog(SqliteAuditStore(tmp_path / "audit.sqlite", "test_audit"))
    yield made
    await made.aclose()


@pytest.fixture
async def postgres_log(postgres_dsn: str) -> AsyncIterator[AuditLog]:
    made = AuditLog(PostgresAuditStore(postgres_dsn, "test_audit"))
    yield made
    await made.aclose()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def log(request: pytest.FixtureRequest) -> AuditLog:
    return cast(AuditLog, request.getfixturevalue(f"{request.param}_log"))


async def test_round_trip(log: AuditLog) -> None:
    assert log.stored
    await log.record(
        "key.budget_changed",
        actor="master",
        target="abcdefghijkl",
        details={
            "old": None,
            "new": {"hard": Decimal("5.50"), "until": datetime(2027, 1, 1, tzinfo=timezone.utc)},
        },
        request_id="req-1",
        source="10.0.0.7",
    )
    [entry] = await log.query()
    assert isinstance(entry, AuditEntry)
    assert entry.action == "key.budget_changed" and entry.actor == "master" and entry.target == "abcdefghijkl"
    assert entry.outcome == "ok" and entry.request_id == "req-1" and entry.source == "10.0.0.7"
    assert entry.details == {"old": None, "new": {"hard": "5.50", "until": "2027-01-01T00:00:00+00:00"}}
    assert entry.time.tzinfo is not None and entry.time.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - entry.time) < timedelta(seconds=30)
    public = entry.public()
    assert json.loads(json.dumps(public)) == public and public["id"] == entry.id


async def test_filters_and_newest_first(log: AuditLog) -> None:
    for n in range(6):
        await log.record(
            "key.created" if n % 2 == 0 else "key.revoked",
            actor="master" if n < 3 else "cli:ana",
            target=f"key{n % 3:09d}xyz"[:12],
            details={"n": n},
        )
    everything = await log.query()
    assert [e.details["n"] for e in everything] == [5, 4, 3, 2, 1, 0]
    assert [e.details["n"] for e in await log.query(action="key.created")] == [4, 2, 0]
    assert [e.details["n"] for e in await log.query(actor="cli:ana")] == [5, 4, 3]
    target = everything[-1].target
    assert [e.details["n"] for e in await log.query(target=target)] == [3, 0]
    assert [e.details["n"] for e in await log.query(actor="master", action="key.revoked")] == [1]
    assert [e.details["n"] for e in await log.query(limit=2)] == [5, 4]
    assert await log.query(action="key.nothing") == []

    # since is inclusive, until exclusive.
    third = everything[3]
    assert [e.details["n"] for e in await log.query(since=third.time)] == [5, 4, 3, 2]
    assert [e.details["n"] for e in await log.query(until=third.time)] == [1, 0]
    assert [e.details["n"] for e in await log.query(since=third.time, until=everything[1].time)] == [3, 2]
    # Another zone, same instant.
    shifted = third.time.astimezone(timezone(timedelta(hours=5)))
    assert [e.details["n"] for e in await log.query(since=shifted)] == [5, 4, 3, 2]


async def test_bad_queries(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="limit must be 1 to 1000"):
        await log.query(limit=0)
    with pytest.raises(ValueError, match="limit must be 1 to 1000"):
        await log.query(limit=1001)
    with pytest.raises(ValueError, match="no time zone"):
        await log.query(since=datetime(2026, 1, 1))


async def test_entries_are_logged_and_secrets_cut(log: AuditLog, caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-llmgw-abcdefghijkl-s3cr3t-s3cr3t"
    with caplog.at_level(logging.INFO, logger="llmgateway.audit"):
        await log.record(
            "key.updated",
            actor="master",
            target="abcdefghijkl",
            details={"name": "x", "secret_hash": "deadbeef", "note": f"was {key}", "key": key},
        )
    [record] = [r for r in caplog.records if r.name == "llmgateway.audit"]
    assert record.levelno == logging.INFO
    line = json.loads(record.getMessage())
    [entry] = await log.query()
    assert line == entry.public()
    assert entry.details == {"name": "x", "note": "[redacted virtual key]"}
    assert "s3cr3t" not in record.getMessage() and "deadbeef" not in record.getMessage()


class _BrokenStore(MemoryAuditStore):
    async def append(self, entry: AuditEntry) -> None:
        raise OSError("disk full")


async def test_failed_store_logs_the_entry_loudly(caplog: pytest.LogCaptureFixture) -> None:
    log = AuditLog(_BrokenStore())
    with caplog.at_level(logging.INFO, logger="llmgateway.audit"):
        await log.record("key.revoked", actor="master", target="abcdefghijkl")  # does not raise
    [record] = [r for r in caplog.records if r.name == "llmgateway.audit"]
    assert record.levelno == logging.ERROR
    line = json.loads(record.getMessage())
    assert line["action"] == "key.revoked" and line["target"] == "abcdefghijkl"
    assert line["stored"] is False and line["store_error"] == "OSError: disk full"


async def test_log_only(caplog: pytest.LogCaptureFixture) -> None:
    log = AuditLog()
    assert not log.stored
    with caplog.at_level(logging.INFO, logger="llmgateway.audit"):
        await log.record("call.blocked", actor="abcdefghijkl", target="abcdefghijkl", outcome="blocked")
    [record] = [r for r in caplog.records if r.name == "llmgateway.audit"]
    assert json.loads(record.getMessage())["outcome"] == "blocked"
    assert await log.query() == []
    await log.aclose()


async def test_readers_never_create(tmp_path: Path, postgres_dsn: str) -> None:
    """create=False on a file / database without the table: no entries, and nothing made."""
    import sqlite3

    path = tmp_path / "keys.sqlite"
    sqlite3.connect(path).close()
    reader = SqliteAuditStore(path, create=False)
    assert await AuditLog(reader).query() == []
    await reader.aclose()
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == []

    pg_reader = PostgresAuditStore(postgres_dsn, "never_made", create=False)
    assert await AuditLog(pg_reader).query() == []
    await pg_reader.aclose()


async def test_sqlite_entries_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    first = AuditLog(SqliteAuditStore(path))
    await first.record("key.created", actor="cli:ana", target="abcdefghijkl", details={"name": "a"})
    await first.aclose()
    second = AuditLog(SqliteAuditStore(path, create=False))
    [entry] = await second.query(actor="cli:ana")
    assert entry.details == {"name": "a"}
    await second.aclose()
