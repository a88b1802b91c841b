"""A spy on bench.timing.take_turns for the benchmark harness tests: it keeps every variant's
measured nanoseconds, so a test can check that the result reports what was measured (how many
calls, their median and p95), not just that some number came out."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

import pytest

import bench.timing
from bench.timing import p95_us


class TurnsSpy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs: list[dict[str, list[int]]] = []
        original = bench.timing.take_turns

        async def recorded(calls: Mapping[str, bench.timing.Call], rounds: int) -> dict[str, list[int]]:
            timings = await original(calls, rounds)
            self.runs.append(timings)
            return timings

        monkeypatch.setattr(bench.timing, "take_turns", recorded)

    def check(self, rows: Mapping[str, Mapping[str, Any]], calls: int) -> None:
        """``rows`` (one alternate() result) is the summary of one recorded run, of ``calls`` calls
        of each variant; each run can back one result only."""
        for index, run in enumerate(self.runs):
            if set(run) == set(rows) and all(_summarises(rows[name], nanos) for name, nanos in run.items()):
                del self.runs[index]
                break
        else:
            raise AssertionError(f"no measured run of these variants has these medians and p95s: {rows}")
        for name, nanos in run.items():
            assert len(nanos) == calls, f"{name}: {len(nanos)} calls measured, {calls} asked"
            assert 0 < rows[name]["median_us"] <= rows[name]["p95_us"] <= max(nanos) / 1000.0


def _summarises(row: Mapping[str, Any], nanos: list[int]) -> bool:
    return bool(
        row["median_us"] == pytest.approx(statistics.median(nanos) / 1000.0)
        and row["p95_us"] == pytest.approx(p95_us(nanos))
    )
