"""One /metrics for all the workers of ``llmgateway serve --workers N``.

Each worker answers the scrapes that reach it, so on its own it would show only its own
counters, and Prometheus would see them jump between workers. With several workers, the server
gives them a shared directory (``LLMGATEWAY_METRICS_DIR``): every worker writes a snapshot of its
counters there each second, and a scrape adds the other workers' latest snapshots to the live
counters of the worker that answers. Snapshots of workers that exited are kept, so counters never
go backwards. Gauges about deployments (breaker, latency, in flight at the deployment) are the
answering worker's view.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from llmgateway.server.metrics import Metrics

DIR_ENV = "LLMGATEWAY_METRICS_DIR"
logger = logging.getLogger("llmgateway.server")


class MetricsShare:
    def __init__(self, directory: str | Path, metrics: Metrics, interval: float = 1.0) -> None:
        self._directory = Path(directory)
        self._metrics = metrics
        self._interval = interval
        self._own = self._directory / f"{os.getpid()}.json"

    @classmethod
    def from_env(cls, metrics: Metrics) -> MetricsShare | None:
        directory = os.environ.get(DIR_ENV)
        return cls(directory, metrics) if directory else None

    def write(self) -> None:
        """This worker's snapshot, replaced atomically (a reader never sees half a file)."""
        partial = self._own.with_suffix(".tmp")
        partial.write_text(json.dumps(self._metrics.snapshot()))
        os.replace(partial, self._own)

    async def run(self) -> None:
        """Write the snapshot every ``interval`` seconds, and once more at the end."""
        try:
            while True:
                await asyncio.sleep(self._interval)
                self.write()
        finally:
            self.write()

    def others(self) -> list[dict[str, Any]]:
        snapshots = []
        for path in self._directory.glob("*.json"):
            if path == self._own:
                continue
            try:
                snapshots.append(json.loads(path.read_text()))
            except (OSError, ValueError) as exc:  # being replaced right now: next scrape
                logger.debug("metrics snapshot %s unreadable: %s", path, exc)
        return snapshots

    def combined(self) -> Metrics:
        return self._metrics.plus(self.others())
