"""The spill file: records the database could not take by shutdown, one JSON object per line.

A starting ledger claims the file by renaming it (so a replica that spills meanwhile starts a new
one instead of losing lines to our delete), re-sends the records (ids make that idempotent), and
deletes its claim once they are committed. Claims left by a process that died are taken over.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from llmgateway.accounting.ledger.record import UsageRecord, record_from_dict, record_to_dict

logger = logging.getLogger(__name__)


def append(path: Path, records: Iterable[UsageRecord]) -> int:
    """Append records and fsync; returns how many were written."""
    lines = [json.dumps(record_to_dict(r), separators=(",", ":")) + "\n" for r in records]
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.writelines(lines)
        file.flush()
        os.fsync(file.fileno())
    return len(lines)


def claim(path: Path) -> list[Path]:
    """Rename the spill file and any abandoned claims to claims of this process."""
    candidates = [path, *sorted(path.parent.glob(f"{path.name}.replay-*"))]
    claimed = []
    for candidate in candidates:
        target = path.with_name(f"{path.name}.replay-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            os.replace(candidate, target)
        except FileNotFoundError:
            continue
        claimed.append(target)
    return claimed


def read(paths: Iterable[Path]) -> list[UsageRecord]:
    """The records in the files; a torn last line (a crash mid-append) is skipped with a warning."""
    records = []
    for path in paths:
        with path.open(encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(record_from_dict(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    logger.warning("ledger spill %s line %d is unreadable, skipped: %s", path, number, exc)
    return records


def remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
