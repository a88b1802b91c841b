"""The terminal table: one block per suite, one row per model, aligned columns.

A block whose columns do not fit ``width`` is wrapped: the model column is repeated and the rest
continue underneath, so the table stays readable in a 120-column terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmgateway.compare.records import PRIMARY_METRIC, CompareResult, Summary
from llmgateway.compare.report.cells import (
    ESTIMATED,
    MISSING,
    first_errors,
    fmt_cost,
    fmt_ms,
    fmt_perplexity,
    fmt_rate,
    fmt_score,
    metric_names,
    one_currency,
    ordered,
    records_of,
    suite_order,
)

WIDTH = 120
GAP = "  "
# Longer model names are shortened in the middle (the HTML report and the files keep them whole).
NAME_WIDTH = 32


@dataclass(frozen=True)
class Column:
    header: str
    cells: list[str]
    left: bool = False

    @property
    def width(self) -> int:
        return max([len(self.header), *(len(cell) for cell in self.cells)])

    def pad(self, text: str) -> str:
        return text.ljust(self.width) if self.left else text.rjust(self.width)


def render_table(result: CompareResult, width: int = WIDTH) -> str:
    """The whole run as text: a title, one block per suite, the failures, and a key."""
    lines = [_title(result)]
    summaries = ordered(result)
    if not summaries:
        return "\n".join([*lines, "", "No summaries: nothing was compared."])
    for suite in suite_order(result):
        block = [s for s in summaries if s.suite == suite]
        lines += ["", _block_title(block), *_render(suite_columns(block), width)]
    lines += _failures(result, width)
    lines += [
        "",
        f"{ESTIMATED} estimated cost (usage was guessed)   {MISSING} not measured   "
        "* primary quality metric, 0-100",
        "ms: latency and time to first token (TTFT); tok/s: output tokens per second after the first token",
        "ppl: perplexity of the suite's references; costs to 4 significant digits (exact in summary.csv)",
    ]
    return "\n".join(line.rstrip() for line in lines)


def _title(result: CompareResult) -> str:
    failed = sum(1 for r in result.records if not r.ok)
    partial = "; INTERRUPTED, partial results" if result.settings.get("interrupted") else ""
    return (
        f"Comparison of {len(result.models)} models on {len(result.suites)} suites: "
        f"{len(result.records)} calls, {failed} failed ({result.started_at} to {result.finished_at}){partial}"
    )


def _block_title(block: Sequence[Summary]) -> str:
    suite, task = block[0].suite, block[0].task
    named = suite if suite == task else f"{suite} ({task})"
    return f"== {named}: * primary metric {PRIMARY_METRIC[task]}"


def suite_columns(block: Sequence[Summary]) -> list[Column]:
    currency = one_currency(block)
    unit = f" {currency}" if currency else ""

    def costs(field: str) -> list[str]:
        named = not currency  # mixed currencies: each cell names its own
        return [fmt_cost(getattr(s, field), s.currency, s.cost_estimated, with_currency=named) for s in block]

    columns = [
        Column("model", [shorten(s.model) for s in block], left=True),
        Column("calls", [str(s.calls) for s in block]),
        Column("err", [str(s.errors) for s in block]),
        Column("retry", [str(s.retries) for s in block]),
        Column("p50 ms", [fmt_ms(s.latency_p50_ms) for s in block]),
        Column("p95 ms", [fmt_ms(s.latency_p95_ms) for s in block]),
        Column("TTFT ms", [fmt_ms(s.ttft_p50_ms) for s in block]),
        Column("tok/s", [fmt_rate(s.tokens_per_s) for s in block]),
        Column(f"cost{unit}", costs("cost_total")),
        Column(f"per call{unit}", costs("cost_per_call")),
    ]
    primaries = {PRIMARY_METRIC[s.task] for s in block}
    for name in metric_names(block):
        header = f"{name}*" if name in primaries else name
        columns.append(Column(header, [fmt_score(s.quality.get(name)) for s in block]))
    columns.append(Column("ppl", [fmt_perplexity(s.perplexity) for s in block]))
    return columns


def shorten(name: str, width: int = NAME_WIDTH) -> str:
    """``name`` within ``width`` characters, its start and end kept (they tell names apart)."""
    if len(name) <= width:
        return name
    head = (width - 3 + 1) // 2
    return f"{name[:head]}...{name[len(name) - (width - 3 - head) :]}"


def _render(columns: Sequence[Column], width: int) -> list[str]:
    """Rows of the columns; when they are wider than ``width``, several stacked parts, each led
    by the first (key) column."""
    key, rest = columns[0], list(columns[1:])
    parts: list[list[Column]] = [[]]
    used = key.width
    for column in rest:
        if parts[-1] and used + len(GAP) + column.width > width:
            parts.append([])
            used = key.width
        parts[-1].append(column)
        used += len(GAP) + column.width
    lines: list[str] = []
    for number, part in enumerate(parts):
        shown = [key, *part]
        if number:
            lines.append("")
        header = GAP.join(c.pad(c.header) for c in shown)
        lines += [header, "-" * len(header)]
        lines += [GAP.join(c.pad(c.cells[row]) for c in shown) for row in range(len(key.cells))]
    return lines


def _failures(result: CompareResult, width: int) -> list[str]:
    """One line per model and suite with failed calls: how many, and the first message."""
    lines: list[str] = []
    for summary in ordered(result):
        if not summary.errors:
            continue
        messages = first_errors(records_of(result, summary.model, summary.suite), limit=1)
        first = f": {messages[0]}" if messages else ""
        failed = f"{summary.errors} of {summary.calls} calls failed"
        line = f"  {summary.model} on {summary.suite}: {failed}{first}"
        lines.append(line if len(line) <= width else line[: width - 3] + "...")
    return ["", "Failed calls:", *lines] if lines else []
