"""The replica pool's scaling decisions, checked directly: no processes, no event loop, no clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from local_backend.replica_process import Replica, ReplicaState
from local_backend.scaling import PoolObservation, ScalingPolicy, StartReplica, StopReplica

NOW = 1000.0
POLICY = ScalingPolicy(
    min_replicas=1,
    max_replicas=3,
    target_queue_wait=0.5,
    wait_window=10.0,
    idle_seconds=30.0,
    restart_backoff=1.0,
)


def policy(**changes: Any) -> ScalingPolicy:
    return dataclasses.replace(POLICY, **changes)


def replica(
    serial: int, *, state: ReplicaState = ReplicaState.READY, in_flight: int = 0, idle_for: float = 0.0
) -> Replica:
    log = Path("unused.log")  # never opened: no process is started
    return Replica(serial, serial, 9000 + serial, log, state, in_flight=in_flight, last_used=NOW - idle_for)


def observe(
    replicas: Sequence[Replica] = (),
    *,
    waits: Sequence[tuple[float, float, float]] = (),
    head_since: float | None = None,
    evidence_since: float = 0.0,
    next_start_at: float = 0.0,
) -> PoolObservation:
    return PoolObservation(list(replicas), waits, head_since, evidence_since, next_start_at)


def waited(seconds: float, *, assigned_ago: float = 1.0) -> tuple[float, float, float]:
    """A wait record as the slot queue keeps it: (assigned at, enqueued at, waited seconds)."""
    assigned = NOW - assigned_ago
    return (assigned, assigned - seconds, seconds)


# ---- starting ---------------------------------------------------------------------------------


def test_below_min_replicas_starts_one() -> None:
    decision = policy(min_replicas=2).decide(NOW, observe([replica(0)]))
    assert decision == StartReplica("below min_replicas=2")


def test_min_zero_cold_start_only_when_a_call_is_queued() -> None:
    cold = policy(min_replicas=0)
    assert cold.decide(NOW, observe(head_since=NOW - 0.01)) == StartReplica(
        "cold start: calls queued with no replica up"
    )
    assert cold.decide(NOW, observe()) is None  # an empty pool with nothing to do stays empty


def test_queue_wait_over_target_starts_one_at_or_under_does_not() -> None:
    busy = [replica(0, in_flight=8)]
    over = observe(busy, waits=[waited(0.8)] * 10)
    assert POLICY.decide(NOW, over) == StartReplica("queue wait 0.80s > target 0.5s")
    at_target = observe(busy, waits=[waited(0.5)] * 10)
    assert POLICY.decide(NOW, at_target) is None


def test_the_age_of_the_queue_head_alone_can_start_one() -> None:
    decision = POLICY.decide(NOW, observe([replica(0, in_flight=8)], head_since=NOW - 2.0))
    assert decision == StartReplica("queue wait 2.00s > target 0.5s")


def test_at_max_replicas_nothing_starts_however_long_the_wait() -> None:
    full = [replica(0, in_flight=8), replica(1, in_flight=8)]
    long_wait = observe(full, waits=[waited(60.0)], head_since=NOW - 60.0)
    assert policy(max_replicas=2).decide(NOW, long_wait) is None
    assert POLICY.decide(NOW, long_wait) == StartReplica("queue wait 60.00s > target 0.5s")


def test_a_starting_replica_holds_every_decision() -> None:
    starting = replica(1, state=ReplicaState.STARTING)
    below_min = observe([starting], head_since=NOW - 60.0)
    assert policy(min_replicas=2).decide(NOW, below_min) is None
    idle_surplus = observe([replica(0, idle_for=600.0), replica(2, idle_for=600.0), starting])
    assert policy(min_replicas=0).decide(NOW, idle_surplus) is None


def test_back_off_holds_starts_but_not_idle_reclaim() -> None:
    until = NOW + 5.0
    assert policy(min_replicas=2).decide(NOW, observe([replica(0)], next_start_at=until)) is None
    assert policy(min_replicas=0).decide(NOW, observe(head_since=NOW - 1.0, next_start_at=until)) is None
    surplus = observe([replica(0, idle_for=60.0), replica(1, idle_for=60.0)], next_start_at=until)
    assert isinstance(POLICY.decide(NOW, surplus), StopReplica)
    # the back-off ends at next_start_at exactly
    assert POLICY.decide(until, observe([], next_start_at=until)) == StartReplica("below min_replicas=1")


# ---- the queue-wait signal --------------------------------------------------------------------


def test_queue_wait_is_the_p90_of_waits_in_the_window() -> None:
    waits = [waited(0.1)] * 9 + [waited(3.0)]
    assert POLICY.queue_wait(NOW, observe(waits=waits)) == 0.1  # p90 of ten: the 9th smallest
    assert POLICY.queue_wait(NOW, observe(waits=[*waits, waited(3.0)])) == 3.0
    stale = [waited(5.0, assigned_ago=10.5), waited(0.2)]
    assert POLICY.queue_wait(NOW, observe(waits=stale)) == 0.2  # assigned before the window
    assert POLICY.queue_wait(NOW, observe()) == 0.0


def test_waits_from_before_capacity_grew_do_not_count() -> None:
    grew_at = NOW - 2.0
    # queued before the new replica was ready, though assigned after it: the old capacity's wait
    old = (NOW - 1.0, grew_at - 3.0, 2.0)
    assert POLICY.queue_wait(NOW, observe(waits=[old], evidence_since=grew_at)) == 0.0
    assert POLICY.queue_wait(NOW, observe(waits=[old])) == 2.0
    # a head queued long ago counts only from when capacity grew
    head = observe(head_since=NOW - 30.0, evidence_since=grew_at)
    assert POLICY.queue_wait(NOW, head) == pytest.approx(2.0)


def test_hysteresis_the_wait_that_caused_a_start_does_not_cause_a_second() -> None:
    replicas = [replica(0, in_flight=8), replica(1)]
    backlog = [(NOW - 0.5, NOW - 4.0, 3.5)] * 10  # queued before replica 1 came up, served since
    assert POLICY.decide(NOW, observe(replicas, waits=backlog, evidence_since=NOW - 1.0)) is None
    assert POLICY.decide(NOW, observe(replicas, waits=backlog)) == StartReplica(
        "queue wait 3.50s > target 0.5s"
    )


# ---- stopping ---------------------------------------------------------------------------------


def test_idle_reclaim_stops_the_newest_idle_replica() -> None:
    replicas = [
        replica(0, idle_for=45.0),
        replica(1, idle_for=600.0, in_flight=1),  # busy: a long call, not idle
        replica(2, idle_for=30.0),  # idle exactly idle_seconds: counts
        replica(3, idle_for=29.9),  # used recently
    ]
    decision = policy(min_replicas=1).decide(NOW, observe(replicas))
    assert decision == StopReplica(replicas[2], "replica 2 idle 30.0s >= 30s")


def test_idle_reclaim_keeps_min_replicas() -> None:
    idle = [replica(0, idle_for=600.0), replica(1, idle_for=600.0)]
    assert policy(min_replicas=2).decide(NOW, observe(idle)) is None
    decision = policy(min_replicas=1).decide(NOW, observe(idle))
    assert isinstance(decision, StopReplica) and decision.replica is idle[1]


def test_min_zero_reclaims_the_last_replica() -> None:
    last = replica(0, idle_for=31.0)
    assert policy(min_replicas=0).decide(NOW, observe([last])) == StopReplica(
        last, "replica 0 idle 31.0s >= 30s"
    )
    assert policy(min_replicas=0).decide(NOW, observe([replica(0, idle_for=29.0)])) is None


def test_queued_calls_hold_idle_reclaim() -> None:
    idle = [replica(0, in_flight=8), replica(1, idle_for=600.0)]
    assert POLICY.decide(NOW, observe(idle, head_since=NOW - 0.1)) is None
    assert isinstance(POLICY.decide(NOW, observe(idle)), StopReplica)


# ---- back-off after failed starts -------------------------------------------------------------


def test_restart_delay_doubles_up_to_a_minute() -> None:
    assert [POLICY.restart_delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert policy(restart_backoff=0.25).restart_delay(3) == 1.0
    assert POLICY.restart_delay(5000) == 60.0  # a worker that never starts: no float overflow
