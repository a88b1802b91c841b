"""A SIGKILLed process loses at most max_pending records (none in strict mode)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.accounting.ledger.kill_child import MAX_PENDING

ROOT = Path(__file__).resolve().parents[3]


def run_child(path: Path, count: int, mode: str) -> int:
    child = subprocess.run(
        [sys.executable, "-m", "tests.accounting.ledger.kill_child", str(path), str(count), mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    connection = sqlite3.connect(path)
    try:
        ids = [int(row[0]) for row in connection.execute("SELECT id FROM llm_usage")]
    finally:
        connection.close()
    assert len(set(ids)) == len(ids) and all(0 <= i < count for i in ids)
    return len(ids)


def test_sigkill_loses_at_most_max_pending(tmp_path: Path) -> None:
    count = 30_000
    stored = run_child(tmp_path / "usage.sqlite", count, "batched")
    assert count - stored <= MAX_PENDING


def test_sigkill_in_strict_mode_loses_nothing(tmp_path: Path) -> None:
    stored = run_child(tmp_path / "usage.sqlite", 300, "strict")
    assert stored == 300
