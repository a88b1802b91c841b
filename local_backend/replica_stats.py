"""What the replica pool reports: scale events, per-replica info, pool statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ScaleEvent:
    time: float  # wall clock (time.time())
    kind: str  # "scale up", "scale down", "start failed", "replica exited"
    from_replicas: int  # replicas ready or starting before the event
    to_replicas: int
    reason: str


@dataclass(frozen=True)
class ReplicaInfo:
    slot: int
    port: int
    pid: int | None
    state: str
    in_flight: int
    served: int


@dataclass(frozen=True)
class PoolStats:
    ready: int
    starting: int
    queue_depth: int
    in_flight: int
    recent_queue_wait: float  # p90 seconds over the last wait_window seconds
    scale_events: int  # ever, not just those still kept in ``events``
    replicas: tuple[ReplicaInfo, ...]


def p90(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
