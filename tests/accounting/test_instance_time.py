"""Processor-sharing attribution of a dedicated endpoint's instance time."""

from __future__ import annotations

import pytest

from llmgateway.accounting.instance_time import InstanceClock


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sequential_calls_get_their_full_time() -> None:
    clock = FakeClock()
    instance = InstanceClock(clock=clock)
    a = instance.start()
    clock.now += 2.0
    assert instance.stop(a) == pytest.approx(2.0)
    clock.now += 50.0  # idle: nobody's
    b = instance.start()
    clock.now += 3.0
    assert instance.stop(b) == pytest.approx(3.0)


def test_two_overlapping_calls_split_the_overlap() -> None:
    clock = FakeClock()
    instance = InstanceClock(clock=clock)
    a = instance.start()
    clock.now += 1.0  # a alone: 1
    b = instance.start()
    clock.now += 2.0  # shared: 1 each
    used_a = instance.stop(a)
    clock.now += 4.0  # b alone: 4
    used_b = instance.stop(b)
    assert used_a == pytest.approx(2.0)
    assert used_b == pytest.approx(5.0)
    assert used_a + used_b == pytest.approx(7.0)  # the instance's busy time
    assert instance.stop(b) == 0.0  # counted once


def test_shares_sum_to_busy_time_with_several_instances() -> None:
    clock = FakeClock()
    instance = InstanceClock(2, clock=clock)
    tickets = []
    busy = 0.0
    # Start 4 calls one second apart, then stop them one second apart.
    for _ in range(4):
        tickets.append(instance.start())
        clock.now += 1.0
        busy += min(instance.in_flight, 2) * 1.0
    used = []
    for ticket in tickets:
        used.append(instance.stop(ticket))
        clock.now += 1.0
        busy += min(instance.in_flight, 2) * 1.0
    assert sum(used) == pytest.approx(busy)
    # With 2 instances and 2 calls, each call has a whole instance: the first second is all a's.
    assert used[0] == pytest.approx(1 + 1 + 2 / 3 + 2 / 4)
    assert all(u <= 8.0 for u in used)


def test_many_random_overlaps_sum_to_busy_time() -> None:
    import random

    rng = random.Random(7)
    clock = FakeClock()
    instance = InstanceClock(3, clock=clock)
    open_tickets: list[object] = []
    total = busy = 0.0
    for _ in range(5000):
        dt = rng.random()
        busy += min(instance.in_flight, 3) * dt
        clock.now += dt
        if open_tickets and rng.random() < 0.5:
            total += instance.stop(open_tickets.pop(rng.randrange(len(open_tickets))))  # type: ignore[arg-type]
        else:
            open_tickets.append(instance.start())
    for ticket in open_tickets:
        total += instance.stop(ticket)  # type: ignore[arg-type]
    assert total == pytest.approx(busy, rel=1e-9)


def test_default_clock_and_validation() -> None:
    instance = InstanceClock()
    assert instance.stop(instance.start()) >= 0.0
    with pytest.raises(ValueError):
        InstanceClock(0)
