"""Live statistics of one deployment, updated on every call and cheap to read.

- latency: peak-EWMA (a slower call raises the estimate at once; faster calls pull it down with a
  time-based decay), the signal the ``latency`` policy ranks on, scaled by calls in flight;
- time to first token and output tokens/s: plain EWMAs;
- success / failure / slow counts over a sliding window of time buckets;
- a ring of recent latencies for percentiles (the hedging delay uses p95).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

DECAY_SECONDS = 10.0  # peak-EWMA: how fast a latency spike is forgotten
EWMA_ALPHA = 0.2
WINDOW_SECONDS = 30.0
BUCKETS = 10
RECENT_LATENCIES = 128
HEDGE_MEDIANS = 4.0  # the hedge delay never exceeds this many median latencies


@dataclass
class WindowCounts:
    calls: int
    failures: int
    slow: int

    @property
    def failure_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0

    @property
    def slow_rate(self) -> float:
        return self.slow / self.calls if self.calls else 0.0


@dataclass
class SlidingWindow:
    """Call outcomes over the last ``seconds``, in ``buckets`` slices. Running totals make reads
    O(1) unless buckets have expired since the last write."""

    seconds: float = WINDOW_SECONDS
    buckets: int = BUCKETS
    _ids: list[int] = field(default_factory=list)
    _counts: list[list[int]] = field(default_factory=list)
    _totals: list[int] = field(default_factory=list)
    _newest: int = -1

    def __post_init__(self) -> None:
        self._ids = [-1] * self.buckets
        self._counts = [[0, 0, 0] for _ in range(self.buckets)]
        self._totals = [0, 0, 0]
        self._newest = -1

    def _expire(self, bucket: int) -> None:
        """Drop buckets that fell out of the window ending at ``bucket``."""
        if bucket == self._newest:
            return
        oldest = bucket - self.buckets + 1
        for index, bucket_id in enumerate(self._ids):
            if 0 <= bucket_id < oldest:
                counts = self._counts[index]
                for k in range(3):
                    self._totals[k] -= counts[k]
                    counts[k] = 0
                self._ids[index] = -1
        self._newest = max(self._newest, bucket)

    def add(self, failed: bool, slow: bool, now: float) -> None:
        bucket = int(now * self.buckets / self.seconds)
        self._expire(bucket)
        index = bucket % self.buckets
        counts = self._counts[index]
        if self._ids[index] != bucket:
            for k in range(3):
                self._totals[k] -= counts[k]
                counts[k] = 0
            self._ids[index] = bucket
        counts[0] += 1
        counts[1] += failed
        counts[2] += slow
        self._totals[0] += 1
        self._totals[1] += failed
        self._totals[2] += slow

    def counts(self, now: float) -> WindowCounts:
        self._expire(int(now * self.buckets / self.seconds))
        calls, failures, slow = self._totals
        return WindowCounts(calls, failures, slow)

    def reset(self) -> None:
        self.__post_init__()


@dataclass
class DeploymentStats:
    """Everything the router knows about one deployment's recent behaviour."""

    latency_ewma: float = 0.0  # seconds; 0 until the first success
    ttft_ewma: float | None = None
    tokens_per_second: float | None = None
    in_flight: int = 0
    window: SlidingWindow = field(default_factory=SlidingWindow)
    _recent: list[float] = field(default_factory=list)
    _next: int = 0
    _updated: float = 0.0
    _p95_cache: tuple[int, tuple[float, float]] = (-1, (0.0, 0.0))
    _samples: int = 0
    _plain_ewma: float = 0.0

    def started(self) -> None:
        self.in_flight += 1

    def finished(
        self,
        latency: float,
        *,
        failed: bool,
        slow: bool = False,
        ttft: float | None = None,
        output_tokens: int | None = None,
        now: float | None = None,
    ) -> None:
        now = time.monotonic() if now is None else now
        self.in_flight = max(0, self.in_flight - 1)
        self.window.add(failed, slow, now)
        if failed:
            return
        self._observe_latency(latency, now)
        if ttft is not None:
            self.ttft_ewma = (
                ttft if self.ttft_ewma is None else self.ttft_ewma + EWMA_ALPHA * (ttft - self.ttft_ewma)
            )
        if output_tokens and latency > 0:
            generating = max(latency - (ttft or 0.0), 1e-6)
            rate = output_tokens / generating
            current = self.tokens_per_second
            self.tokens_per_second = rate if current is None else current + EWMA_ALPHA * (rate - current)

    def abandoned(self) -> None:
        """A hedged call that lost the race: it neither failed nor answered."""
        self.in_flight = max(0, self.in_flight - 1)

    def _observe_latency(self, latency: float, now: float) -> None:
        current = self.current_latency(now)
        if latency >= current or self._samples == 0:
            self.latency_ewma = latency  # peak-sensitive: a spike counts in full at once
        else:
            weight = math.exp(-(now - self._updated) / DECAY_SECONDS) if self._updated else 0.0
            self.latency_ewma = current * weight + latency * (1.0 - weight)
        self._plain_ewma = (
            latency if self._samples == 0 else self._plain_ewma + EWMA_ALPHA * (latency - self._plain_ewma)
        )
        self._updated = now
        self._samples += 1
        if len(self._recent) < RECENT_LATENCIES:
            self._recent.append(latency)
        else:
            self._recent[self._next] = latency
            self._next = (self._next + 1) % RECENT_LATENCIES

    def current_latency(self, now: float | None = None) -> float:
        """The peak-EWMA as of now: a spike fades toward the plain average even while no new
        sample comes (a deployment that stalled once is not shunned forever)."""
        if not self._samples:
            return 0.0
        now = time.monotonic() if now is None else now
        excess = self.latency_ewma - self._plain_ewma
        if excess <= 0:
            return self.latency_ewma
        return self._plain_ewma + excess * math.exp(-(now - self._updated) / DECAY_SECONDS)

    def expected_latency(self, default: float, now: float | None = None) -> float:
        """Peak-EWMA scaled by the queue ahead: what the next call should expect."""
        base = self.current_latency(now) if self._samples else default
        return base * (self.in_flight + 1)

    def p95(self) -> float | None:
        """95th percentile of recent successful latencies (cached until a new sample)."""
        cached = self._percentiles()
        return cached[1] if cached else None

    def hedge_delay(self) -> float | None:
        """How long a try may run before a copy is worth starting: the p95, but at most four
        medians, so a deployment whose slow answers are common (p95 inside its stalls) still gets
        hedged at a sensible point."""
        cached = self._percentiles()
        return min(cached[1], HEDGE_MEDIANS * cached[0]) if cached else None

    def _percentiles(self) -> tuple[float, float] | None:
        if not self._recent:
            return None
        if self._p95_cache[0] != self._samples:
            ordered = sorted(self._recent)
            median = ordered[len(ordered) // 2]
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            self._p95_cache = (self._samples, (median, p95))
        return self._p95_cache[1]

    def error_rate(self, now: float | None = None) -> float:
        return self.window.counts(time.monotonic() if now is None else now).failure_rate

    @property
    def samples(self) -> int:
        return self._samples
