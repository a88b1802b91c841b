"""Summaries: exact percentiles, exact Decimal cost sums, error and retry counts, quality."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from llmgateway.compare.aggregate import percentile, summarise, total_cost
from llmgateway.compare.records import CallRecord
from tests.compare.mock_models import qa_suite


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([float(v) for v in range(1, 21)], 95, 19.05),
        ([7.0], 95, 7.0),
        ([30.0, 10.0, 20.0], 50, 20.0),  # unsorted input
        ([10.0, 20.0], 0, 10.0),
        ([10.0, 20.0], 100, 20.0),
        ([100.0, 200.0, 300.0, 400.0, 1000.0], 95, 880.0),
    ],
)
def test_percentile_interpolates_between_closest_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected, abs=1e-12)


def test_percentile_of_nothing_is_none_and_out_of_range_is_refused() -> None:
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def _record(item_id: str, ok: bool = True, **fields: object) -> CallRecord:
    defaults: dict[str, object] = {"latency_ms": 100.0, "output": f"answer {item_id[1:]}" if ok else ""}
    return CallRecord(model="m", suite="facts", item_id=item_id, ok=ok, **{**defaults, **fields})  # type: ignore[arg-type]


def test_summary_counts_costs_and_percentiles_exactly(tmp_path: Path) -> None:
    suite = qa_suite(tmp_path, 5)
    records = [
        _record("q0", latency_ms=100.0, ttft_ms=10.0, tokens_per_s=50.0, cost=Decimal("0.000001"),
                scores={"em": 100.0, "f1": 100.0}),
        _record("q1", latency_ms=300.0, ttft_ms=30.0, tokens_per_s=70.0, cost=Decimal("0.0000025"),
                retries=2, scores={"em": 0.0, "f1": 50.0}),
        _record("q2", latency_ms=200.0, ttft_ms=20.0, tokens_per_s=None, cost=Decimal("0.1"),
                scores={"em": 100.0, "f1": 100.0}),
        _record("q3", ok=False, latency_ms=5000.0, error="down", error_type="UpstreamServerError", retries=2),
        _record("q4", latency_ms=400.0, ttft_ms=None, cost=Decimal("0.0000005"),
                scores={"em": 0.0, "f1": 0.0}),
        # Another model's and another suite's records are not this summary's.
        CallRecord(model="other", suite="facts", item_id="q0", ok=True, latency_ms=1.0, cost=Decimal(9)),
        CallRecord(model="m", suite="elsewhere", item_id="q0", ok=True, latency_ms=1.0, cost=Decimal(9)),
    ]  # fmt: skip
    summary = summarise(suite, "m", records, perplexity=12.5)
    assert (summary.model, summary.suite, summary.task) == ("m", "facts", "qa")
    assert (summary.calls, summary.errors, summary.retries) == (5, 1, 4)
    # Over the four answered calls: 100, 200, 300, 400 ms (the failure's 5 s is not a latency).
    assert summary.latency_p50_ms == 250.0
    assert summary.latency_p95_ms == pytest.approx(385.0)
    assert summary.ttft_p50_ms == 20.0 and summary.tokens_per_s == 60.0
    assert summary.cost_total == Decimal("0.100004") and isinstance(summary.cost_total, Decimal)
    assert summary.cost_per_call == Decimal("0.0200008")
    assert summary.currency == "USD" and not summary.cost_estimated
    # Mean over all five items, the failed call counting 0.
    assert summary.quality == {"em": 40.0, "f1": 50.0} and summary.primary == 50.0
    assert summary.perplexity == 12.5


def test_summary_of_a_model_with_only_failures(tmp_path: Path) -> None:
    suite = qa_suite(tmp_path, 2)
    records = [_record("q0", ok=False, error="x"), _record("q1", ok=False, error="x", retries=1)]
    summary = summarise(suite, "m", records)
    assert (summary.calls, summary.errors, summary.retries) == (2, 2, 1)
    assert summary.latency_p50_ms is None and summary.ttft_p50_ms is None and summary.tokens_per_s is None
    assert summary.quality == {"em": 0.0, "f1": 0.0} and summary.cost_total == 0
    assert summary.perplexity is None


def test_summary_without_records_is_empty(tmp_path: Path) -> None:
    summary = summarise(qa_suite(tmp_path, 2), "m", [])
    assert summary.calls == 0 and summary.quality == {} and summary.cost_per_call == 0


def test_cost_estimated_when_any_call_is_and_mixed_currencies_keep_the_most_used() -> None:
    records = [
        _record("q0", cost=Decimal("0.5"), currency="EUR"),
        _record("q1", cost=Decimal("0.25"), currency="EUR", cost_estimated=True),
        _record("q2", cost=Decimal("7"), currency="USD"),
    ]
    assert total_cost(records[:1]) == (Decimal("0.5"), "EUR", False)
    assert total_cost(records[:2]) == (Decimal("0.75"), "EUR", True)
    assert total_cost(records) == (Decimal("0.75"), "EUR", True)  # flagged: the USD call is left out
