"""Circuit breaker per deployment: closed -> open -> half-open -> closed.

- closed: calls flow; once ``min_calls`` have been seen in the window and the failure rate (or the
  slow-call rate) reaches its threshold, the breaker opens.
- open: the router puts the deployment behind every closed one for ``open_seconds`` (doubling on
  each consecutive opening, up to ``max_open_seconds``). It is never removed outright: when
  nothing else answers, an open deployment is still tried, so a model always has something to try.
- half-open: after the open period, up to ``half_open_probes`` calls probe it; that many successes
  close it, one failure opens it again for longer.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from llmgateway.routing.stats import SlidingWindow

logger = logging.getLogger(__name__)


class BreakerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    failure_rate: float = Field(default=0.5, gt=0, le=1, description="open at this failure rate")
    slow_call_ms: float | None = Field(default=None, gt=0, description="a call slower than this is slow")
    slow_call_rate: float = Field(default=0.8, gt=0, le=1, description="open at this slow-call rate")
    min_calls: int = Field(default=10, ge=1, description="calls in the window before it may open")
    window_seconds: float = Field(default=30.0, gt=0)
    open_seconds: float = Field(default=5.0, gt=0)
    max_open_seconds: float = Field(default=60.0, gt=0)
    half_open_probes: int = Field(default=2, ge=1)


class BreakerState(str, enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, config: BreakerConfig | None = None, name: str = "") -> None:
        self.config = config or BreakerConfig()
        self.name = name
        self.state = BreakerState.CLOSED
        self.open_until = 0.0
        self._openings = 0
        self._probes_in_flight = 0
        self._probe_successes = 0
        self._window = SlidingWindow(self.config.window_seconds)
        # Told of every opening decided here (name, seconds): how replicas share breaker state.
        self.on_open: Callable[[str, float], None] | None = None

    def available(self, now: float) -> bool:
        """Whether the router may send this deployment ordinary traffic now."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if now < self.open_until:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probes_in_flight = 0
            self._probe_successes = 0
            logger.info("breaker %s: half-open, probing", self.name)
        return self._probes_in_flight < self.config.half_open_probes

    def on_start(self) -> bool:
        """A try begins; true when it is a half-open probe (hand that back with its result)."""
        if self.state is BreakerState.HALF_OPEN:
            self._probes_in_flight += 1
            return True
        return False

    def on_result(self, *, failed: bool, latency: float, now: float, probe: bool = False) -> None:
        slow_ms = self.config.slow_call_ms
        slow = slow_ms is not None and latency * 1000.0 >= slow_ms
        if probe:
            self._probes_in_flight = max(0, self._probes_in_flight - 1)
        if self.state is BreakerState.HALF_OPEN:
            if not probe:
                return  # a straggler from before: only probes decide a half-open breaker
            if failed or slow:
                self._open(now, "a probe failed" if failed else "a probe was slow")
                return
            self._probe_successes += 1
            if self._probe_successes >= self.config.half_open_probes:
                self._close()
            return
        if self.state is BreakerState.OPEN:
            return  # a straggler started before the breaker opened
        self._window.add(failed, slow, now)
        if not (failed or slow):
            return  # a good call can only lower the rates: nothing to decide
        counts = self._window.counts(now)
        if counts.calls < self.config.min_calls:
            return
        if counts.failure_rate >= self.config.failure_rate:
            self._open(now, f"failure rate {counts.failure_rate:.0%} over {counts.calls} calls")
        elif slow_ms is not None and counts.slow_rate >= self.config.slow_call_rate:
            self._open(now, f"slow-call rate {counts.slow_rate:.0%} over {counts.calls} calls")

    def on_abandoned(self, probe: bool = False) -> None:
        """A try ended without a verdict on the deployment (cancelled, or the request's fault)."""
        if probe:
            self._probes_in_flight = max(0, self._probes_in_flight - 1)

    def _open(self, now: float, reason: str) -> None:
        seconds = min(self.config.open_seconds * 2**self._openings, self.config.max_open_seconds)
        self._openings += 1
        self.state = BreakerState.OPEN
        self.open_until = now + seconds
        logger.warning("breaker %s: open for %.1fs (%s)", self.name, seconds, reason)
        if self.on_open is not None:
            self.on_open(self.name, seconds)

    def open_elsewhere(self, seconds: float, now: float) -> None:
        """Another replica opened its breaker of this deployment: stay off it as long too.
        (Probing when the time is up happens here as usual; it is not told back.)"""
        if self.state is BreakerState.OPEN and self.open_until >= now + seconds - 0.5:
            return  # already open about as long (e.g. its own opening, read back from Redis)
        self.state = BreakerState.OPEN
        self.open_until = now + seconds
        self._probes_in_flight = 0
        logger.warning("breaker %s: open for %.1fs (opened by another replica)", self.name, seconds)

    def _close(self) -> None:
        self.state = BreakerState.CLOSED
        self._openings = 0
        self._window.reset()
        logger.info("breaker %s: closed again after %d good probes", self.name, self._probe_successes)

    def snapshot(self, now: float | None = None) -> dict[str, object]:
        now = time.monotonic() if now is None else now
        return {"state": self.state.value, "open_for": max(0.0, self.open_until - now)}
