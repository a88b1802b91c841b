"""How the reports write one number, and the order they list summaries in.

Shared by the terminal table, the HTML report and the charts, so a number reads the same
everywhere. Money stays ``Decimal`` all the way: it is rounded for display with decimal arithmetic,
never through a float; the CSV and JSON files carry the exact values.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from llmgateway.compare.records import PRIMARY_METRIC, CallRecord, CompareResult, Summary

MISSING = "-"
# Marks a cost computed from guessed usage (the backend did not report its tokens).
ESTIMATED = "~"
COST_DIGITS = 4


def fmt_ms(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.0f}"


def fmt_rate(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.1f}"


def fmt_score(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}"


def fmt_perplexity(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"


def fmt_money(value: Decimal, digits: int = COST_DIGITS) -> str:
    """``value`` to ``digits`` significant digits, in plain notation, without trailing zeros."""
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return "0"
    rounded = value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1))
    text = format(rounded, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_cost(value: Decimal, currency: str, estimated: bool, *, with_currency: bool) -> str:
    text = (ESTIMATED if estimated else "") + fmt_money(value)
    return f"{text} {currency}" if with_currency else text


def one_currency(summaries: Sequence[Summary]) -> str | None:
    """The currency every summary is in, or None when they differ (then each cell names its own)."""
    currencies = {s.currency for s in summaries}
    return currencies.pop() if len(currencies) == 1 else None


def ordered(result: CompareResult) -> list[Summary]:
    """Summaries in the run's suite order, then its model order (names it does not list go last,
    alphabetically); stable, so the same result always prints the same way."""
    suite_rank = {name: i for i, name in enumerate(result.suites)}
    model_rank = {name: i for i, name in enumerate(result.models)}
    last = len(suite_rank) + len(model_rank)
    return sorted(
        result.summaries,
        key=lambda s: (suite_rank.get(s.suite, last), s.suite, model_rank.get(s.model, last), s.model),
    )


def suite_order(result: CompareResult) -> list[str]:
    seen: dict[str, None] = {}
    for summary in ordered(result):
        seen.setdefault(summary.suite)
    return list(seen)


def model_order(result: CompareResult) -> list[str]:
    extra = sorted({s.model for s in result.summaries} | {r.model for r in result.records})
    return list(dict.fromkeys([*result.models, *extra]))


def metric_names(summaries: Sequence[Summary]) -> list[str]:
    """The quality metrics of one suite's summaries: the task's primary metric first, then the
    others alphabetically."""
    primaries = [PRIMARY_METRIC[s.task] for s in summaries]
    others = sorted({name for s in summaries for name in s.quality} - set(primaries))
    return list(dict.fromkeys(primaries)) + others


def records_of(result: CompareResult, model: str, suite: str) -> list[CallRecord]:
    return [r for r in result.records if r.model == model and r.suite == suite]


def first_errors(records: Sequence[CallRecord], limit: int = 3) -> list[str]:
    """The first ``limit`` distinct error messages of failed calls, each with its type."""
    messages: dict[str, None] = {}
    for record in records:
        if not record.ok:
            kind = f"{record.error_type}: " if record.error_type else ""
            messages.setdefault(f"{kind}{record.error or 'failed without a message'}")
        if len(messages) >= limit:
            break
    return list(messages)
