from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmgateway.accounting.ledger import UsageRecord
from llmgateway.accounting.ledger.postgres_store import PostgresLedgerStore
from llmgateway.accounting.ledger.sqlite_store import SqliteLedgerStore
from llmgateway.usage_cli import add_usage_parser
from tests.accounting.ledger.factory import make_record

MAY1 = datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
MAY2 = datetime(2024, 5, 2, 23, 59, tzinfo=timezone.utc)


def records() -> list[UsageRecord]:
    return [
        make_record(key="alpha", model="chat", deployment="a", created_at=MAY1, cost_total=Decimal("0.25")),
        make_record(key="alpha", model="chat", deployment="b", created_at=MAY2, cost_total=Decimal("0.5"),
                    cache="hit"),
        make_record(key="beta", model="embed", deployment="e", created_at=MAY2, outcome="error",
                    cost_total=Decimal("0.000000123")),
    ]  # fmt: skip


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "usage.sqlite"

    async def fill() -> None:
        store = SqliteLedgerStore(path)
        await store.write(records())
        await store.aclose()

    asyncio.run(fill())
    return path


def usage(argv: Sequence[str], capsys: Any) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="llmgateway")
    add_usage_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["usage", *argv])
    code = args.run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_table_is_aligned_with_a_totals_line(ledger_file: Path, capsys: Any) -> None:
    code, out, _ = usage(["--sqlite", str(ledger_file), "--by", "key,model"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "key", "model", "calls", "errors", "cache_hits", "prompt_tokens", "completion_tokens", "cost",
        "currency",
    ]  # fmt: skip
    assert lines[2].split() == ["alpha", "chat", "2", "0", "1", "20", "10", "0.75", "USD"]
    assert lines[3].split() == ["beta", "embed", "1", "1", "0", "10", "5", "0.000000123", "USD"]
    assert lines[-1].split() == ["TOTAL", "3", "1", "1", "30", "15", "0.750000123", "USD"]
    # Aligned: the cost column ends at the same place on every row.
    ends = {line.index("USD") for line in lines[2:4]} | {lines[-1].index("USD")}
    assert len(ends) == 1


def test_csv_by_day(ledger_file: Path, capsys: Any) -> None:
    code, out, _ = usage(["--sqlite", str(ledger_file), "--by", "day", "--format", "csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["day"], r["calls"], r["cost"]) for r in rows] == [
        ("2024-05-01", "1", "0.25"),
        ("2024-05-02", "2", "0.500000123"),
    ]


def test_json_by_deployment_with_range_and_filter(ledger_file: Path, capsys: Any) -> None:
    argv = ["--sqlite", str(ledger_file), "--by", "deployment", "--format", "json"]
    code, out, _ = usage([*argv, "--since", "2024-05-02", "--until", "2024-05-02"], capsys)
    assert code == 0
    data = json.loads(out)
    assert [(d["deployment"], d["cost"], d["errors"]) for d in data] == [
        ("b", "0.5", 0),
        ("e", "0.000000123", 1),
    ]
    _, out, _ = usage([*argv, "--until", "2024-05-01"], capsys)
    assert [d["deployment"] for d in json.loads(out)] == ["a"]
    _, out, _ = usage([*argv, "--where", "key=beta"], capsys)
    assert [d["deployment"] for d in json.loads(out)] == ["e"]


def test_config_file_names_the_ledger(
    ledger_file: Path, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("LEDGER_FILE", str(ledger_file))
    config = tmp_path / "gateway.yaml"
    config.write_text("models: {}\nledger:\n  backend: sqlite\n  path: ${LEDGER_FILE}\n")
    code, out, _ = usage(["--config", str(config), "--format", "json"], capsys)
    assert code == 0
    assert {d["model"]: d["calls"] for d in json.loads(out)} == {"chat": 2, "embed": 1}


def test_clear_errors(ledger_file: Path, tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    code, _, err = usage(["--sqlite", str(tmp_path / "missing.sqlite")], capsys)
    assert code == 2 and "no ledger file" in err and "--sqlite PATH" in err
    assert not (tmp_path / "missing.sqlite").exists()
    monkeypatch.chdir(tmp_path)
    code, _, err = usage([], capsys)  # default: ./llmgateway_usage.sqlite
    assert code == 2 and "llmgateway_usage.sqlite" in err
    code, _, err = usage(["--sqlite", str(ledger_file), "--by", "colour"], capsys)
    assert code == 2 and "choose one or more of" in err
    code, _, err = usage(["--sqlite", str(ledger_file), "--since", "May 1"], capsys)
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = usage(["--sqlite", str(ledger_file), "--table", "other"], capsys)
    assert code == 2 and "no such table" in err
    off = tmp_path / "off.yaml"
    off.write_text("ledger: {backend: off}\n")
    code, _, err = usage(["--config", str(off)], capsys)
    assert code == 2 and "ledger is off" in err


def test_help_lists_the_options(capsys: Any) -> None:
    parser = argparse.ArgumentParser(prog="llmgateway")
    add_usage_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["usage", "--help"])
    out = capsys.readouterr().out
    for option in ("--config", "--sqlite", "--postgres", "--table", "--by", "--since", "--until", "--format"):
        assert option in out


def test_postgres_ledger(postgres_dsn: str, capsys: Any) -> None:
    async def fill() -> None:
        store = PostgresLedgerStore(postgres_dsn)
        await store.write(records())
        await store.aclose()

    asyncio.run(fill())
    code, out, _ = usage(["--postgres", postgres_dsn, "--by", "key", "--format", "json"], capsys)
    assert code == 0
    assert {d["key"]: d["cost"] for d in json.loads(out)} == {"alpha": "0.75", "beta": "0.000000123"}
