"""The speed charts: latency and TTFT distributions per model and suite, and output throughput."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmgateway.compare.records import CallRecord, CompareResult
from llmgateway.compare.report.cells import model_order, records_of, suite_order
from llmgateway.compare.report.charts import (
    LOG_SPREAD,
    collapse_notes,
    model_colours,
    new_figure,
    note_handles,
    plain_ticks,
    sectioned_legend,
    spread,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BOX_WIDTH = 0.34


def draw_latency(result: CompareResult) -> Figure:
    """One panel per suite; per model two boxes: total latency (solid) and time to first token
    (hatched). One shared y axis, logarithmic when the times spread over more than 10x."""
    from matplotlib.patches import Patch

    suites, models = suite_order(result), model_order(result)
    columns = min(3, max(1, len(suites)))
    rows = max(1, math.ceil(len(suites) / columns))
    figure = new_figure(4.6 * columns + 2.4, 3.9 * rows + 0.6)
    panels = figure.subplots(rows, columns, squeeze=False, sharey=True).ravel()
    colours = model_colours(result)
    every_time: list[float] = []
    for axes, suite in zip(panels, suites, strict=False):
        every_time += _latency_panel(axes, result, suite, models, colours)
    for axes in panels[len(suites) :]:
        axes.axis("off")
    log = spread(every_time) > LOG_SPREAD
    if log:
        panels[0].set_yscale("log")
        plain_ticks(panels[0].yaxis)
    for axes in panels[::columns]:
        axes.set_ylabel("milliseconds" + (" (log scale)" if log else ""))
    kinds = [
        Patch(facecolor="0.55", edgecolor="black", label="total latency"),
        Patch(facecolor="0.9", edgecolor="black", hatch="///", label="time to first token"),
    ]
    models_legend = [Patch(facecolor=colours[m], edgecolor="black", label=m) for m in models]
    sections = [("Box", kinds), ("Model", models_legend)]
    if len(panels) > len(suites):  # a spare panel holds the legend; otherwise right of the top row
        sectioned_legend(panels[-1], sections, anchor=(0.0, 1.0))
    else:
        sectioned_legend(panels[columns - 1], sections)
    figure.suptitle(
        "Latency per call, by suite\nbox: quartiles and median; whiskers: 1.5 IQR; circles: outliers"
    )
    if not suites:
        panels[0].text(0.5, 0.5, "no calls", transform=panels[0].transAxes, ha="center")
    return figure


def _latency_panel(
    axes: Axes, result: CompareResult, suite: str, models: Sequence[str], colours: dict[str, Any]
) -> list[float]:
    """Draw one suite's boxes; returns the times drawn (for the shared scale)."""
    drawn: list[float] = []
    for index, model in enumerate(models):
        records = records_of(result, model, suite)
        latency = [r.latency_ms for r in records if r.ok]
        ttft = [r.ttft_ms for r in records if r.ok and r.ttft_ms is not None]
        for offset, values, hatch in ((-0.19, latency, None), (0.19, ttft, "///")):
            if values:
                _box(axes, values, index + offset, colours[model], hatch)
        drawn += latency + ttft
        if not latency:
            why = "no calls" if not records else f"all {len(records)} calls failed"
            axes.text(
                index, 0.5, why, transform=axes.get_xaxis_transform(), rotation=90, ha="center",
                va="center", fontsize=9, color="firebrick",
            )  # fmt: skip
    axes.set_xticks(range(len(models)), models, rotation=20 if len(models) > 2 else 0, ha="right")
    axes.set_xlim(-0.6, len(models) - 0.4)
    axes.set_title(suite)
    axes.grid(True, axis="y", which="major", alpha=0.3)
    return drawn


def _box(axes: Axes, values: list[float], position: float, colour: Any, hatch: str | None) -> None:
    parts = axes.boxplot(
        values, positions=[position], widths=BOX_WIDTH, patch_artist=True, manage_ticks=False,
        medianprops={"color": "black", "linewidth": 1.5}, flierprops={"markersize": 4},
    )  # fmt: skip
    for patch in parts["boxes"]:
        patch.set_facecolor(colour)
        patch.set_alpha(0.35 if hatch else 0.85)
        if hatch:
            patch.set_hatch(hatch)


def draw_throughput(result: CompareResult) -> Figure:
    """Output tokens per second after the first token: one bar per model per suite at the
    median of its calls, whiskers from the 25th to the 75th percentile."""
    suites, models = suite_order(result), model_order(result)
    figure = new_figure(min(16.0, max(8.0, 0.42 * len(suites) * max(1, len(models)) + 4.0)), 5.6)
    axes = figure.add_subplot()
    colours = model_colours(result)
    width = 0.8 / max(1, len(models))
    medians: list[float] = []
    notes: list[tuple[str, str, str]] = []
    lows: list[float] = []
    for m_index, model in enumerate(models):
        for s_index, suite in enumerate(suites):
            x = s_index - 0.4 + width * (m_index + 0.5)
            records = records_of(result, model, suite)
            rates = _rates(records)
            if not rates:
                notes.append((model, suite, "no calls" if not records else "no measured rate"))
                axes.text(x, 0.02, "no data", transform=axes.get_xaxis_transform(), rotation=90,
                          ha="center", va="bottom", fontsize=8, color="firebrick")  # fmt: skip
                continue
            low, median, high = _quartiles(rates)
            medians.append(median)
            lows.append(low)
            axes.bar(x, median, width * 0.92, color=colours[model], edgecolor="black", linewidth=0.5)
            axes.errorbar(x, median, yerr=[[median - low], [high - median]], color="black", capsize=3)
            axes.annotate(f"{median:,.0f}", (x, high), textcoords="offset points", xytext=(0, 3),
                          ha="center", fontsize=7)  # fmt: skip
    log = spread(medians) > LOG_SPREAD
    if log:
        # Bars on a log axis start at the decade below the smallest whisker, not at an arbitrary value.
        axes.set_yscale("log")
        axes.set_ylim(bottom=10 ** math.floor(math.log10(min(v for v in lows if v > 0))))
        plain_ticks(axes.yaxis)
    axes.set_xticks(range(len(suites)), suites)
    axes.set_xlabel("suite")
    axes.set_ylabel("output tokens per second" + (" (log scale)" if log else ""))
    axes.grid(True, axis="y", which="major", alpha=0.3)
    axes.set_title("Output throughput\nbar: median call; whisker: 25th-75th percentile")
    handles = [_swatch(colours[m], m) for m in models]
    sections = [("Model", handles)]
    if notes:
        sections.append(("No data", note_handles(collapse_notes(notes, suites))))
    sectioned_legend(axes, sections)
    return figure


def _swatch(colour: Any, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, edgecolor="black", label=label)


def _rates(records: Sequence[CallRecord]) -> list[float]:
    return [r.tokens_per_s for r in records if r.ok and r.tokens_per_s is not None and r.tokens_per_s > 0]


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    import numpy

    low, median, high = numpy.percentile(values, [25, 50, 75])
    return float(low), float(median), float(high)
