"""What the client benchmarks share: variants that take turns call by call, median / p95
summaries, a table of timings with ratios against a baseline, and the JSON result file.

Taking turns (every variant once per round) means drift on the machine - other processes,
frequency changes - hits every variant alike, so their ratios stay meaningful on a busy box.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

Call = Callable[[], Awaitable[Any]]
Timing = dict[str, float]  # {"median_us": ..., "p95_us": ...}


async def warm(calls: Mapping[str, Call], times: int) -> None:
    """Each variant ``times`` times first: connections, imports, pydantic schemas, caches."""
    for call in calls.values():
        for _ in range(times):
            await call()


async def take_turns(calls: Mapping[str, Call], rounds: int) -> dict[str, list[int]]:
    """Nanoseconds of each call of each variant, the variants taking turns call by call."""
    timings: dict[str, list[int]] = {name: [] for name in calls}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, call in calls.items():
            start = clock()
            await call()
            timings[name].append(clock() - start)
    return timings


def median_us(nanos: Sequence[int]) -> float:
    return statistics.median(nanos) / 1000.0


def p95_us(nanos: Sequence[int]) -> float:
    """The 95th percentile by nearest rank: the smallest time that 95% of the calls do not exceed."""
    ordered = sorted(nanos)
    return ordered[math.ceil(0.95 * len(ordered)) - 1] / 1000.0


def summary(nanos: Sequence[int]) -> Timing:
    return {"median_us": median_us(nanos), "p95_us": p95_us(nanos)}


async def alternate(calls: Mapping[str, Call], rounds: int) -> dict[str, Timing]:
    """Median and p95 microseconds per call of each variant, taking turns for ``rounds`` rounds."""
    return {name: summary(nanos) for name, nanos in (await take_turns(calls, rounds)).items()}


def ratio(rows: Mapping[str, Timing], variant: str, baseline: str) -> dict[str, float]:
    """``variant``'s median and p95 as multiples of ``baseline``'s."""
    return {
        "median": rows[variant]["median_us"] / rows[baseline]["median_us"],
        "p95": rows[variant]["p95_us"] / rows[baseline]["p95_us"],
    }


def print_timings(title: str, rows: Mapping[str, Timing], baseline: str) -> None:
    """A table of the variants' median and p95 µs, each also as a multiple of ``baseline``'s."""
    width = max(len(title), *(len(name) for name in rows)) + 2
    print(f"\n{title:<{width}}{'median µs':>11}{'p95 µs':>10}{'median x':>10}{'p95 x':>8}")
    for name in rows:
        times = ratio(rows, name, baseline)
        row = rows[name]
        print(
            f"{name:<{width}}{row['median_us']:>11.1f}{row['p95_us']:>10.1f}"
            f"{times['median']:>10.2f}{times['p95']:>8.2f}"
        )
    print(f"(x: multiples of {baseline})")


def write_result(path: Path, result: Mapping[str, Any]) -> None:
    """The result as JSON at ``path``, with the machine it was measured on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": platform.platform(), **result}, indent=2))
    print(f"\nwrote {path}", file=sys.stderr)
