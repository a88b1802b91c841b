"""report.html: the whole run in one self-contained file to open or mail.

No external assets: the CSS is inline, the charts are base64 PNGs inside the page, no JavaScript.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmgateway.compare.records import PRIMARY_METRIC, CompareResult
from llmgateway.compare.report.cells import (
    ESTIMATED,
    MISSING,
    first_errors,
    model_order,
    ordered,
    records_of,
    suite_order,
)
from llmgateway.compare.report.table import Column, suite_columns

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1280px; padding: 0 1.5em; color: #1d1d1f; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-variant-numeric: tabular-nums; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: right; }
th { background: #f4f4f6; } td.key, th.key { text-align: left; }
.settings td, .settings th { text-align: left; }
figure { margin: 1.2em 0 2em; } figure img { max-width: 100%; border: 1px solid #e4e4e4; }
figcaption, .note { color: #555; font-size: 0.92em; }
.errors li { font-family: ui-monospace, monospace; font-size: 0.9em; }
"""

CAPTIONS = {
    "cost_vs_quality.png": "Cost per call against the suite's primary quality score (0-100).",
    "latency.png": "Latency and time to first token per call, by suite and model.",
    "throughput.png": "Output tokens per second after the first token, by suite and model.",
}


def write_html(result: CompareResult, path: Path, charts: Sequence[Path] = ()) -> Path:
    path.write_text(render_html(result, charts), encoding="utf-8")
    return path


def render_html(result: CompareResult, charts: Sequence[Path] = ()) -> str:
    title = f"LLM comparison: {', '.join(result.models)}"
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="note">{_e(result.started_at)} to {_e(result.finished_at)}; '
        f"{len(result.records)} calls, {sum(not r.ok for r in result.records)} failed.</p>",
        "<h2>Settings</h2>",
        _settings(result),
        "<h2>Summary</h2>",
        *_summary(result),
        "<h2>Charts</h2>",
        *(_figure(path) for path in charts),
        "" if charts else '<p class="note">Charts were not drawn for this run.</p>',
        "<h2>Failed calls</h2>",
        *_failures(result),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _settings(result: CompareResult) -> str:
    rows: dict[str, Any] = {
        "models": result.models,
        "suites": result.suites,
        "started": result.started_at,
        "finished": result.finished_at,
    }
    # The run's own settings after these; its "suites" (items and source of each) replaces the names.
    rows.update(sorted(result.settings.items()))
    cells = "".join(f"<tr><th>{_e(key)}</th><td>{_setting(value)}</td></tr>" for key, value in rows.items())
    return f'<table class="settings">{cells}</table>'


def _setting(value: Any) -> str:
    """A setting's value as escaped HTML: a mapping one entry per line (the suites' sources...)."""
    if isinstance(value, dict):
        return "<br>".join(f"{_e(key)}: {_e(_plain(item))}" for key, item in value.items())
    return _e(_plain(value))


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={_plain(item)}" for key, item in value.items())
    return MISSING if value is None else str(value)


def _summary(result: CompareResult) -> list[str]:
    summaries = ordered(result)
    if not summaries:
        return ['<p class="note">No summaries: nothing was compared.</p>']
    parts: list[str] = []
    for suite in suite_order(result):
        block = [s for s in summaries if s.suite == suite]
        task = block[0].task
        named = suite if suite == task else f"{suite} ({task})"
        note = f"* primary metric {PRIMARY_METRIC[task]}"
        parts.append(f"<h3>{_e(named)} <span class='note'>{_e(note)}</span></h3>")
        parts.append(_html_table(suite_columns(block)))
    parts.append(
        f'<p class="note">{ESTIMATED} estimated cost (usage was guessed); {MISSING} not measured; '
        "latency and TTFT in milliseconds; tok/s: output tokens per second after the first token; "
        "quality scores 0-100; ppl: perplexity of the suite's reference texts. Costs are rounded to 4 "
        "significant digits here; summary.csv and result.json hold the exact values.</p>"
    )
    return parts


def _html_table(columns: Sequence[Column]) -> str:
    def cell(tag: str, column: Column, text: str) -> str:
        kind = ' class="key"' if column.left else ""
        return f"<{tag}{kind}>{_e(text)}</{tag}>"

    header = "".join(cell("th", c, c.header) for c in columns)
    rows = [
        "<tr>" + "".join(cell("td", c, c.cells[row]) for c in columns) + "</tr>"
        for row in range(len(columns[0].cells))
    ]
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = CAPTIONS.get(path.name, path.stem.replace("_", " "))
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)} ({_e(path.name)})</figcaption></figure>"
    )


def _failures(result: CompareResult) -> list[str]:
    parts: list[str] = []
    for model in model_order(result):
        lines = []
        for suite in suite_order(result):
            records = records_of(result, model, suite)
            failed = sum(not r.ok for r in records)
            if failed:
                messages = "".join(f"<li>{_e(m)}</li>" for m in first_errors(records, limit=3))
                counted = f"{suite}: {failed} of {len(records)} calls failed"
                lines.append(f"<p>{_e(counted)}</p><ul>{messages}</ul>")
        if lines:
            parts.append(f"<h3>{_e(model)}</h3><div class='errors'>{''.join(lines)}</div>")
    return parts or ['<p class="note">No call failed.</p>']
