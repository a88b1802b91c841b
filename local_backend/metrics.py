"""``/metrics`` in the Prometheus text format: queue depth, running batch, tokens/s, replicas."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local_backend.service import LocalService


@dataclass
class ThroughputMeter:
    """Generated tokens per second over a sliding window, fed as requests finish."""

    window_seconds: float = 10.0
    _events: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, tokens: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._events.append((now, tokens))
        self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._trim(now)
        return sum(tokens for _, tokens in self._events) / self.window_seconds

    def _trim(self, now: float) -> None:
        while self._events and self._events[0][0] < now - self.window_seconds:
            self._events.popleft()


def _line(name: str, kind: str, help_text: str, value: float) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n{name} {value:g}\n"


def render_metrics(service: LocalService, replicas: int = 1) -> str:
    stats = service.scheduler.stats
    parts = [
        _line("local_backend_queue_depth", "gauge", "Requests waiting to join the batch", stats.queued),
        _line("local_backend_running_batch", "gauge", "Requests in the running batch", stats.active),
        _line(
            "local_backend_tokens_per_second",
            "gauge",
            "Generated tokens/s over the last 10 s",
            service.throughput.rate(),
        ),
        _line(
            "local_backend_completion_tokens_total", "counter", "Generated tokens", service.completion_tokens
        ),
        _line("local_backend_requests_total", "counter", "Finished generations", service.requests),
        _line(
            "local_backend_cancelled_total", "counter", "Requests dropped by their client", stats.cancelled
        ),
        _line("local_backend_decode_steps_total", "counter", "Batched decode steps", stats.steps),
        _line("local_backend_replicas", "gauge", "Engine replicas serving", replicas),
    ]
    return "".join(parts)
