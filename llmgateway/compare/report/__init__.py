"""Reports of a comparison run: the terminal table, CSV and JSON files, PNG charts, one HTML page.

``render_table(result)`` is the text ``llmgateway compare`` prints; ``write_reports(result, out)``
writes everything else into ``out``. matplotlib is imported only when charts are drawn.
"""

from __future__ import annotations

from pathlib import Path

from llmgateway.compare.records import CompareResult
from llmgateway.compare.report.files import (
    read_result_json,
    write_calls_csv,
    write_result_json,
    write_summary_csv,
)
from llmgateway.compare.report.html import write_html
from llmgateway.compare.report.table import render_table
from llmgateway.compare.requirements import require_eval_libraries

__all__ = ["read_result_json", "render_table", "write_reports"]


def write_reports(result: CompareResult, out: Path, *, charts: bool = True) -> list[Path]:
    """Write summary.csv, calls.csv, result.json, charts/*.png (unless ``charts=False``) and
    report.html into ``out`` (created if missing); returns the paths written, in that order.
    ConfigError, before anything is written, when charts are asked for without matplotlib."""
    from llmgateway.compare.report.charts import draw_charts

    if charts:
        require_eval_libraries((), charts=True, charts_off="write_reports(..., charts=False)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        write_summary_csv(result, out / "summary.csv"),
        write_calls_csv(result, out / "calls.csv"),
        write_result_json(result, out / "result.json"),
    ]
    drawn = draw_charts(result, out / "charts") if charts else []
    return [*written, *drawn, write_html(result, out / "report.html", drawn)]
