"""A gateway process killed mid-load: SIGTERM loses no ledger record; SIGKILL loses at most the
documented bound (the records not yet written: at most ``ledger.max_pending``)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]
CHILD = Path(__file__).with_name("ledger_child.py")
MAX_PENDING = 2000


def _run_and_kill(paths: list[Path], sig: int) -> tuple[list[str], int]:
    process = subprocess.Popen(
        [sys.executable, str(CHILD), ",".join(map(str, paths)), str(MAX_PENDING)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    time.sleep(1.5)  # mid-load: over a flush interval of answered calls, some not yet written
    process.send_signal(sig)
    out, _ = process.communicate(timeout=30)
    ids = [line for line in out.splitlines() if line]
    return ids, process.returncode


def _ledger_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM llm_usage")}


def test_sigterm_loses_no_record_of_any_gateway_in_the_process(tmp_path: Path) -> None:
    paths = [tmp_path / "usage-a.sqlite", tmp_path / "usage-b.sqlite"]
    answered, code = _run_and_kill(paths, signal.SIGTERM)
    assert code == -signal.SIGTERM  # it still ends the way SIGTERM ends a process
    assert len(answered) > 100
    recorded = _ledger_ids(paths[0]) | _ledger_ids(paths[1])
    assert _ledger_ids(paths[0]) and _ledger_ids(paths[1])
    assert set(answered) <= recorded, f"{len(set(answered) - recorded)} answered calls missing"


def test_sigkill_loses_at_most_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    answered, code = _run_and_kill([path], signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert len(answered) > 100
    missing = set(answered) - (_ledger_ids(path) if path.exists() else set())
    assert len(missing) <= MAX_PENDING
