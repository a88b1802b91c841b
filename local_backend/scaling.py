"""When the replica pool grows or shrinks: the scaler's decisions, apart from the processes.

Given what the pool observes on one scaler tick (its replicas, the queue, recent waits), the
policy answers: start a replica, stop this one, or do nothing, and why. It starts and stops
nothing and reads no clock, so every decision can be checked without a process
(``local_backend.replicas`` carries the decisions out).

- start: while below ``min_replicas``; when calls are queued and no replica is up (cold start);
  or, below ``max_replicas``, when the queue wait exceeds ``target_queue_wait``. Never while a
  replica is still starting (its effect is not known yet) nor during the back-off after a failed
  start.
- the queue wait is the larger of the p90 wait of calls assigned in the last ``wait_window``
  seconds and the age of the call at the head of the queue, counting only time since capacity
  last grew: waits caused by the old capacity (or by a cold start) do not trigger a second start.
- stop: with nothing queued, the newest ready replica with no call for ``idle_seconds``, while
  more than ``min_replicas`` are ready (one per tick).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from local_backend.replica_process import Replica, ReplicaState
from local_backend.replica_stats import p90

MAX_RESTART_BACKOFF = 60.0  # seconds; a worker that keeps failing is retried at least this often


@dataclass(frozen=True)
class PoolObservation:
    """What the scaler sees of the pool at one instant (a view of live state, read at once)."""

    replicas: Sequence[Replica]  # ready or starting, in start order
    waits: Iterable[tuple[float, float, float]]  # (assigned at, enqueued at, waited s) of recent calls
    queue_head_since: float | None  # when the oldest queued call arrived; None: nothing queued
    evidence_since: float  # when capacity last grew: earlier waits were the old capacity's
    next_start_at: float  # no start before this (back-off after a failed start)


@dataclass(frozen=True)
class StartReplica:
    reason: str


@dataclass(frozen=True)
class StopReplica:
    replica: Replica
    reason: str


ScaleDecision = StartReplica | StopReplica | None


@dataclass(frozen=True)
class ScalingPolicy:
    min_replicas: int
    max_replicas: int
    target_queue_wait: float  # seconds
    wait_window: float  # seconds of assigned calls the p90 wait looks back over
    idle_seconds: float
    restart_backoff: float  # seconds after the first failed start; doubles with each further one

    def decide(self, now: float, pool: PoolObservation) -> ScaleDecision:
        """The one thing to do on this tick, if any."""
        if any(r.state is ReplicaState.STARTING for r in pool.replicas):
            return None  # one start at a time; its effect is not known yet
        reason = self.start_reason(now, pool) if now >= pool.next_start_at else None
        if reason is not None:
            return StartReplica(reason)
        if pool.queue_head_since is None:
            return self.idle_victim(now, pool)
        return None

    def start_reason(self, now: float, pool: PoolObservation) -> str | None:
        """Why the pool needs one more replica now, or None."""
        total = len(pool.replicas)
        if total < self.min_replicas:
            return f"below min_replicas={self.min_replicas}"
        if total == 0 and pool.queue_head_since is not None:
            return "cold start: calls queued with no replica up"
        if total >= self.max_replicas:
            return None
        wait = self.queue_wait(now, pool)
        if wait > self.target_queue_wait:
            return f"queue wait {wait:.2f}s > target {self.target_queue_wait:g}s"
        return None

    def idle_victim(self, now: float, pool: PoolObservation) -> StopReplica | None:
        """The replica to stop for idleness, if more than ``min_replicas`` are ready."""
        ready = [r for r in pool.replicas if r.state is ReplicaState.READY]
        if len(ready) <= self.min_replicas:
            return None
        idle = [r for r in ready if r.in_flight == 0 and now - r.last_used >= self.idle_seconds]
        if not idle:
            return None
        victim = max(idle, key=lambda r: r.serial)  # the newest: routing packs load onto the oldest
        idle_for = now - victim.last_used
        return StopReplica(victim, f"replica {victim.slot} idle {idle_for:.1f}s >= {self.idle_seconds:g}s")

    def queue_wait(self, now: float, pool: PoolObservation) -> float:
        """Queue wait since capacity last grew: max(p90 of recent waits, age of the queue head)."""
        since = max(now - self.wait_window, pool.evidence_since)
        waits = [w for at, queued, w in pool.waits if at >= since and queued >= pool.evidence_since]
        head = pool.queue_head_since
        head_age = now - max(head, pool.evidence_since) if head is not None else 0.0
        return max(p90(waits), head_age)

    def restart_delay(self, failures: int) -> float:
        """Seconds to wait before the next start after ``failures`` failed starts in a row."""
        doublings = min(failures - 1, 64)  # past the cap anyway; 2.0 ** 1024 would overflow
        return min(self.restart_backoff * 2.0**doublings, MAX_RESTART_BACKOFF)
