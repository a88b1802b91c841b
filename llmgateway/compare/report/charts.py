"""PNG charts of a run: cost against quality, latency distributions, throughput.

matplotlib is imported inside the functions (Agg canvas, no pyplot: no global figure state, safe
from any thread). Each chart says in its legend what it could not plot (a model whose calls all
failed, a cost in another currency) instead of failing or silently leaving it out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmgateway.compare.records import PRIMARY_METRIC, CompareResult, Summary
from llmgateway.compare.report.cells import model_order, ordered, suite_order

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 110
SUITE_MARKERS = ("o", "s", "^", "D", "P", "X", "v", "*", "h", "<")
# How much larger the biggest value must be than the smallest for an axis to go logarithmic.
LOG_SPREAD = 10.0
CHART_FILES = ("cost_vs_quality.png", "latency.png", "throughput.png")


def draw_charts(result: CompareResult, directory: Path) -> list[Path]:
    """Draw the three charts into ``directory``; returns their paths."""
    from llmgateway.compare.report.speed_charts import draw_latency, draw_throughput

    directory.mkdir(parents=True, exist_ok=True)
    cost, latency, throughput = (directory / name for name in CHART_FILES)
    save(draw_cost_vs_quality(result), cost)
    save(draw_latency(result), latency)
    save(draw_throughput(result), throughput)
    return [cost, latency, throughput]


def new_figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "the comparison charts need matplotlib: pip install 'llmgateway[eval]' (or pass "
            "--no-charts / charts=False)"
        ) from exc
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save(figure: Figure, path: Path) -> None:
    figure.savefig(path, dpi=DPI, facecolor="white")


def model_colours(result: CompareResult) -> dict[str, Any]:
    """A fixed colour per model, in the run's model order, shared by every chart."""
    from matplotlib import colormaps

    models = model_order(result)
    palette = colormaps["tab10" if len(models) <= 10 else "tab20"]
    return {model: palette(i % palette.N) for i, model in enumerate(models)}


def note_handles(notes: Sequence[str]) -> list[Any]:
    """Legend entries that are only text (a legend is laid out with the axes; free text is not)."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], linestyle="none", label=note) for note in notes]


def plain_ticks(axis: Any) -> None:
    """Log-axis ticks as plain decimals (0.0001, 300): money and rates read better than powers of
    ten. Minor ticks at 2 and 5 are labelled too while the axis spans at most 3 decades."""
    from matplotlib.ticker import FuncFormatter

    def minor(value: float, _pos: int | None) -> str:
        low, high = sorted(axis.get_view_interval())
        few_decades = low > 0 and high / low <= 1000
        leading = round(value / 10 ** math.floor(math.log10(value))) if value > 0 else 0
        return _plain_number(value) if few_decades and leading in (2, 5) else ""

    axis.set_major_formatter(FuncFormatter(lambda value, _pos: _plain_number(value)))
    axis.set_minor_formatter(FuncFormatter(minor))


def _plain_number(value: float) -> str:
    """12 significant digits are enough for a tick and hide float noise (9.999999999999999e-06)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return format(Decimal(f"{value:.12g}").normalize(), "f")


def collapse_notes(notes: Sequence[tuple[str, str, str]], suites: Sequence[str]) -> list[str]:
    """(model, suite, reason) notes as one line per model and reason: "m: reason (every suite)"."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for model, suite, reason in notes:
        grouped.setdefault((model, reason), []).append(suite)
    return [
        f"{model}: {reason} ({'every suite' if set(suites) <= set(named) else ', '.join(named)})"
        for (model, reason), named in grouped.items()
    ]


def spread(values: Sequence[float]) -> float:
    positive = [v for v in values if v > 0]
    return max(positive) / min(positive) if positive else 1.0


def draw_cost_vs_quality(result: CompareResult) -> Figure:
    """x: cost per call (log when the costs spread over more than 10x); y: the suite's primary
    quality score, 0-100; colour = model, marker = suite."""
    from matplotlib.lines import Line2D

    figure = new_figure(10, 6.2)
    axes = figure.add_subplot()
    colours = model_colours(result)
    suites = suite_order(result)
    markers = {suite: SUITE_MARKERS[i % len(SUITE_MARKERS)] for i, suite in enumerate(suites)}
    summaries = ordered(result)
    currency = _main_currency(summaries)
    shown, notes = _plottable(summaries, currency)
    for s in shown:
        axes.scatter(
            float(s.cost_per_call), s.primary or 0.0, s=90, color=colours[s.model], marker=markers[s.suite],
            edgecolors="black", linewidths=0.6, zorder=3, alpha=0.9,
        )  # fmt: skip
    scale = _cost_axis(axes, [float(s.cost_per_call) for s in shown])
    estimated = any(s.cost_estimated for s in shown)
    axes.set_xlabel(f"cost per call ({currency}{scale}{'; some estimated' if estimated else ''})")
    axes.set_ylabel("primary quality score (0-100)")
    axes.set_ylim(-4, 104)
    axes.grid(True, which="major", alpha=0.3)
    axes.set_title("Cost per call vs quality (one point per model and suite)")
    if not shown:
        axes.text(0.5, 0.5, "nothing to plot", transform=axes.transAxes, ha="center", fontsize=14)
    model_handles = [
        Line2D([], [], marker="o", linestyle="none", markersize=9, color=colours[m], label=m)
        for m in model_order(result)
    ]
    suite_handles = [
        Line2D([], [], marker=markers[name], linestyle="none", markersize=9, color="0.45",
               label=f"{name} ({_metric_of(summaries, name)})")
        for name in suites
    ]  # fmt: skip
    sections = [("Model", model_handles), ("Suite (metric)", suite_handles)]
    if notes:
        sections.append(("Not plotted", note_handles(notes)))
    sectioned_legend(axes, sections)
    return figure


def sectioned_legend(
    axes: Axes, sections: Sequence[tuple[str, list[Any]]], anchor: tuple[float, float] = (1.02, 1.0)
) -> None:
    """One legend right of the axes, its entries grouped under bold section titles (one legend,
    so the layout engine makes room for all of it and nothing overlaps)."""
    handles: list[Any] = []
    titles: set[int] = set()
    for title, entries in sections:
        titles.add(len(handles))
        handles += [*note_handles([title]), *entries]
    legend = axes.legend(
        handles=handles, loc="upper left", bbox_to_anchor=anchor, fontsize=9, handlelength=1.4,
        frameon=False,
    )  # fmt: skip
    for index, text in enumerate(legend.get_texts()):
        if index in titles:
            text.set_fontweight("bold")


def _plottable(summaries: Sequence[Summary], currency: str) -> tuple[list[Summary], list[str]]:
    shown: list[Summary] = []
    notes: list[tuple[str, str, str]] = []
    for s in summaries:
        if s.calls and s.errors >= s.calls:
            notes.append((s.model, s.suite, "all calls failed"))
        elif s.primary is None:
            notes.append((s.model, s.suite, "no quality score"))
        elif s.currency != currency:
            notes.append((s.model, s.suite, f"cost in {s.currency}, not {currency}"))
        else:
            shown.append(s)
    return shown, collapse_notes(notes, list(dict.fromkeys(s.suite for s in summaries)))


def _main_currency(summaries: Sequence[Summary]) -> str:
    """The currency most summaries are in; costs in another cannot share the axis."""
    counts = Counter(s.currency for s in summaries)
    return counts.most_common(1)[0][0] if counts else "USD"


def _metric_of(summaries: Sequence[Summary], suite: str) -> str:
    return next((PRIMARY_METRIC[s.task] for s in summaries if s.suite == suite), "?")


def _cost_axis(axes: Axes, costs: Sequence[float]) -> str:
    """Log scale when costs spread over more than 10x (symmetric log when some are free);
    returns the words to add to the axis label."""
    positive = [c for c in costs if c > 0]
    if not positive or spread(positive) <= LOG_SPREAD:
        axes.set_xlim(left=0, right=max(costs, default=0) * 1.15 or 1.0)
        return ""
    if len(positive) < len(costs):
        axes.set_xscale("symlog", linthresh=min(positive))
        return ", symmetric log scale: free calls at 0"
    axes.set_xscale("log")
    axes.set_xlim(min(positive) / 2, max(positive) * 2)
    plain_ticks(axes.xaxis)
    return ", log scale"
