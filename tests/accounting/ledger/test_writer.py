from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from llmgateway.accounting.ledger import Ledger, LedgerConfig, build_ledger
from llmgateway.accounting.ledger.sqlite_store import SqliteLedgerStore
from tests.accounting.ledger.factory import make_record
from tests.accounting.ledger.fake_store import FakeStore


def make_ledger(store: FakeStore, tmp_path: Path, **settings: Any) -> Ledger:
    config = LedgerConfig(spill_path=str(tmp_path / "spill.jsonl"), **settings)
    return Ledger(store, config)  # type: ignore[arg-type]


def spill_files(folder: Path) -> list[Path]:
    return list(folder.glob("spill.jsonl*"))


async def eventually(condition: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def test_flushes_when_a_batch_is_full(tmp_path: Path) -> None:
    store = FakeStore()
    ledger = make_ledger(store, tmp_path, batch_size=10, flush_interval=60)
    for _ in range(25):
        await ledger.record(make_record())
    await eventually(lambda: len(store.rows) == 20)
    await asyncio.sleep(0.05)
    assert store.batches == [10, 10]
    assert ledger.pending == 5
    await ledger.flush()
    assert len(store.rows) == 25 and ledger.pending == 0
    await ledger.aclose()


async def test_flushes_after_the_interval(tmp_path: Path) -> None:
    store = FakeStore()
    ledger = make_ledger(store, tmp_path, batch_size=500, flush_interval=0.05)
    for _ in range(3):
        await ledger.record(make_record())
    assert not store.rows  # record() only queues
    await eventually(lambda: len(store.rows) == 3)
    assert store.batches == [3]
    await ledger.aclose()


async def test_backpressure_waits_and_never_drops(tmp_path: Path) -> None:
    store = FakeStore()
    store.gate.clear()  # the database is slow: nothing commits until the gate opens
    ledger = make_ledger(store, tmp_path, batch_size=10, max_pending=20, flush_interval=0.01)
    for _ in range(20):
        await ledger.record(make_record())
    blocked = asyncio.create_task(ledger.record(make_record(id="21st")))
    await asyncio.sleep(0.1)
    assert not blocked.done()
    assert ledger.pending == 20
    store.gate.set()
    await asyncio.wait_for(blocked, 5)
    await ledger.aclose()
    assert len(store.rows) == 21 and "21st" in store.rows


async def test_strict_record_is_committed_when_it_returns(tmp_path: Path) -> None:
    store = FakeStore()
    ledger = make_ledger(store, tmp_path, strict=True, flush_interval=60)
    await ledger.record(make_record(id="one"))
    assert "one" in store.rows
    # Concurrent strict calls share transactions (group commit).
    await asyncio.gather(*(ledger.record(make_record()) for _ in range(200)))
    assert len(store.rows) == 201
    assert len(store.batches) <= 3
    await ledger.aclose()


async def test_aclose_writes_everything(tmp_path: Path) -> None:
    store = FakeStore()
    ledger = make_ledger(store, tmp_path, batch_size=100, flush_interval=60)
    for _ in range(1234):
        await ledger.record(make_record())
    ledger.record_nowait(make_record(id="late"))
    await ledger.aclose()
    assert len(store.rows) == 1235 and store.closed
    assert not (tmp_path / "spill.jsonl").exists()


async def test_outage_then_recovery_keeps_every_record(tmp_path: Path, caplog: Any) -> None:
    store = FakeStore(failures=4)
    ledger = make_ledger(store, tmp_path, batch_size=50, flush_interval=0.01)
    with caplog.at_level(logging.WARNING, logger="llmgateway.accounting.ledger.writer"):
        for _ in range(120):
            await ledger.record(make_record())
        await asyncio.wait_for(ledger.flush(), 10)
    assert len(store.rows) == 120 and store.failures == 0
    messages = [r.getMessage() for r in caplog.records]
    assert any("failed" in m and "ConnectionError" in m for m in messages)
    assert any("recovered" in m for m in messages)
    await ledger.aclose()


async def test_spill_on_shutdown_then_replay(tmp_path: Path, caplog: Any) -> None:
    down = FakeStore(failures=-1)
    ledger = make_ledger(down, tmp_path, batch_size=10, flush_interval=0.01)
    for index in range(35):
        await ledger.record(make_record(id=f"r{index}"))
    with caplog.at_level(logging.WARNING, logger="llmgateway.accounting.ledger.writer"):
        await ledger.aclose(timeout=0.2)
    spill_file = tmp_path / "spill.jsonl"
    assert len(spill_file.read_text().splitlines()) == 35
    assert any("35 records could not be written" in r.getMessage() for r in caplog.records)
    await ledger.record(make_record(id="after-close"))  # a straggler goes to the spill file too
    assert len(spill_file.read_text().splitlines()) == 36

    up = FakeStore()
    replaying = make_ledger(up, tmp_path, batch_size=10, flush_interval=0.01)
    await replaying.start()
    await eventually(lambda: len(up.rows) == 36)
    await eventually(lambda: not spill_files(tmp_path))
    assert up.rows["r7"] == make_record(id="r7", created_at=up.rows["r7"].created_at)
    await replaying.aclose()


async def test_spill_while_still_down_keeps_one_copy(tmp_path: Path) -> None:
    down = FakeStore(failures=-1)
    ledger = make_ledger(down, tmp_path, flush_interval=0.01)
    for index in range(5):
        await ledger.record(make_record(id=f"r{index}"))
    await ledger.aclose(timeout=0.1)
    again = make_ledger(FakeStore(failures=-1), tmp_path, flush_interval=0.01)
    await again.start()
    await again.record(make_record(id="new"))
    await again.aclose(timeout=0.1)
    files = spill_files(tmp_path)
    assert [f.name for f in files] == ["spill.jsonl"]
    assert len(files[0].read_text().splitlines()) == 6


def test_records_carry_over_to_a_new_event_loop(tmp_path: Path) -> None:
    store = FakeStore()
    ledger = make_ledger(store, tmp_path, flush_interval=60)

    async def first() -> None:
        await ledger.record(make_record(id="a"))

    async def second() -> None:
        await ledger.record(make_record(id="b"))
        await ledger.flush()

    asyncio.run(first())  # its loop closes with "a" unwritten
    ledger.record_nowait(make_record(id="c"))  # no loop running at all
    asyncio.run(second())
    assert set(store.rows) == {"a", "b", "c"}
    asyncio.run(ledger.aclose())


async def test_build_ledger(tmp_path: Path) -> None:
    assert build_ledger(LedgerConfig(backend="off")) is None
    assert build_ledger(LedgerConfig.model_validate({"backend": False})) is None  # YAML's bare `off`
    ledger = build_ledger(LedgerConfig(path=str(tmp_path / "u.sqlite")))
    assert ledger is not None and isinstance(ledger.store, SqliteLedgerStore)
    assert ledger.spill_path == tmp_path / "u.sqlite.spill.jsonl"
    await ledger.record(make_record(id="x"))
    await ledger.aclose()
    reader = SqliteLedgerStore(tmp_path / "u.sqlite", create=False)
    [total] = await reader.totals([])
    await reader.aclose()
    assert total.calls == 1


def test_config_validation() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="needs dsn"):
        LedgerConfig(backend="postgres")
    with pytest.raises(ValidationError, match="plain SQL identifier"):
        LedgerConfig(table="usage; DROP TABLE x")
    with pytest.raises(ValidationError, match="at least batch_size"):
        LedgerConfig(batch_size=100, max_pending=10)
    assert LedgerConfig(backend="postgres", dsn="postgresql://db/x").resolved_spill_path() == Path(
        "llmgateway_llm_usage.spill.jsonl"
    )


def test_record_dict_round_trip() -> None:
    import json

    from llmgateway.accounting.ledger import record_from_dict, record_to_dict

    record = make_record(ttft_ms=1.5, compute_seconds=0.2, status_code=None)
    data = json.loads(json.dumps(record_to_dict(record)))
    assert data["cost_total"] == "0.0000045"
    assert record_from_dict(data) == record
