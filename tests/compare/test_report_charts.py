"""The PNG charts on synthetic results: drawn, readable sizes, the right scales, and the models
they cannot plot named in their legends instead of crashing."""

from __future__ import annotations

import struct
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from llmgateway.compare.report.charts import DPI, draw_charts, draw_cost_vs_quality
from llmgateway.compare.report.speed_charts import draw_latency, draw_throughput
from tests.compare.report_fixtures import MODELS, make_result

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def legend_texts(figure: object) -> list[str]:
    texts: list[str] = []
    for axes in figure.axes:  # type: ignore[attr-defined]
        legend = axes.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return texts


def test_three_pngs_of_readable_size(tmp_path: Path) -> None:
    paths = draw_charts(make_result(), tmp_path / "charts")
    assert [p.name for p in paths] == ["cost_vs_quality.png", "latency.png", "throughput.png"]
    for path in paths:
        width, height = png_size(path)
        assert 800 <= width <= 2000 and 500 <= height <= 1200, (path.name, width, height)
        assert path.stat().st_size > 30_000, path.name  # drawn, not an empty canvas


def test_cost_vs_quality_one_point_per_model_and_suite_log_cost_when_spread() -> None:
    figure = draw_cost_vs_quality(make_result())
    axes = figure.axes[0]
    assert figure.dpi == DPI
    assert len(axes.collections) == 3 * 5  # broken failed everywhere: not plotted
    assert axes.get_xscale() == "log" and axes.get_ylim() == (-4, 104)
    assert "USD" in axes.get_xlabel() and "log scale" in axes.get_xlabel()
    texts = legend_texts(figure)
    assert {"smollm2", "fast-expensive", "slow-cheap", "broken", "qa (f1)", "code (pass@1)"} <= set(texts)
    assert "broken: all calls failed (every suite)" in texts


def test_cost_axis_is_linear_when_costs_are_close_and_symlog_with_a_free_model() -> None:
    close = {
        name: (*spec[:3], Decimal("0.001") * (i + 1), False) for i, (name, spec) in enumerate(MODELS.items())
    }
    assert draw_cost_vs_quality(make_result(close)).axes[0].get_xscale() == "linear"
    free = dict(MODELS, smollm2=(*MODELS["smollm2"][:3], Decimal(0), False))
    axes = draw_cost_vs_quality(make_result(free)).axes[0]
    assert axes.get_xscale() == "symlog" and "free calls at 0" in axes.get_xlabel()


def test_cost_in_another_currency_is_named_not_plotted() -> None:
    result = make_result()
    for summary in result.summaries:
        if summary.model == "slow-cheap":
            summary.currency = "EUR"
    figure = draw_cost_vs_quality(result)
    assert len(figure.axes[0].collections) == 2 * 5
    assert "slow-cheap: cost in EUR, not USD (every suite)" in legend_texts(figure)


def test_latency_boxes_per_suite_with_ttft_on_a_shared_log_axis() -> None:
    figure = draw_latency(make_result())
    panels = [axes for axes in figure.axes if axes.get_title()]
    assert [p.get_title() for p in panels] == ["translation", "summarization", "qa", "chat", "code"]
    assert all(p.get_yscale() == "log" for p in panels)
    # Per panel: latency + TTFT boxes for smollm2 and fast-expensive, slow-cheap's chat has no TTFT.
    boxes = [len(p.patches) for p in panels]
    assert boxes == [6, 6, 6, 5, 6]
    assert all("all 6 calls failed" in [t.get_text() for t in p.texts] for p in panels)
    assert {"total latency", "time to first token", "broken"} <= set(legend_texts(figure))


def test_throughput_bars_with_no_data_noted() -> None:
    figure = draw_throughput(make_result())
    axes = figure.axes[0]
    assert len(axes.patches) == 3 * 5
    assert axes.get_yscale() == "log"  # 420 vs 28 tokens/s
    assert "broken: no measured rate (every suite)" in legend_texts(figure)
    assert sum(t.get_text() == "no data" for t in axes.texts) == 5


def test_charts_of_a_run_without_calls_draw_without_crashing(tmp_path: Path) -> None:
    result = make_result()
    result.records, result.summaries = [], []
    for path in draw_charts(result, tmp_path):
        assert png_size(path)[0] > 500


def test_importing_the_report_package_does_not_import_matplotlib() -> None:
    code = "import sys, llmgateway.compare.report; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
