"""Child process for test_crash: records N usage records into a SQLite ledger, then SIGKILLs itself
while the flusher is still busy. Usage: python -m tests.accounting.ledger.kill_child PATH N STRICT"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from llmgateway.accounting.ledger import LedgerConfig, build_ledger
from tests.accounting.ledger.factory import make_record

MAX_PENDING = 2_000


async def main(path: str, count: int, strict: bool) -> None:
    config = LedgerConfig(
        path=path, batch_size=200, flush_interval=0.05, max_pending=MAX_PENDING, strict=strict
    )
    ledger = build_ledger(config)
    assert ledger is not None
    for index in range(count):
        await ledger.record(make_record(id=str(index)))
    # Every record() has returned: die without a chance to flush.
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "strict"))
