"""The run as data files: summary.csv, calls.csv and result.json.

Money is written as exact decimal strings (never floats); quality scores become one column per
metric, empty where a row has no such score. result.json is ``CompareResult.to_dict()``, which
``CompareResult.from_dict`` reads back to an equal result.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from llmgateway.compare.records import PRIMARY_METRIC, CallRecord, CompareResult
from llmgateway.compare.report.cells import ordered

SUMMARY_FIELDS = (
    "model",
    "suite",
    "task",
    "calls",
    "errors",
    "retries",
    "latency_p50_ms",
    "latency_p95_ms",
    "ttft_p50_ms",
    "tokens_per_s",
    "cost_total",
    "cost_per_call",
    "currency",
    "cost_estimated",
    "primary_metric",
    "primary",
    "perplexity",
)
# Every CallRecord field but its scores, which are spread into one column per metric.
CALL_FIELDS = tuple(f.name for f in fields(CallRecord) if f.name != "scores")


def write_summary_csv(result: CompareResult, path: Path) -> Path:
    summaries = ordered(result)
    metrics = _metric_columns(s.quality for s in summaries)
    rows = []
    for s in summaries:
        row: dict[str, Any] = {name: getattr(s, name, None) for name in SUMMARY_FIELDS}
        row["primary_metric"] = PRIMARY_METRIC[s.task]
        row["primary"] = s.primary
        rows.append({**row, **s.quality})
    return _write_csv(path, [*SUMMARY_FIELDS, *metrics], rows)


def write_calls_csv(result: CompareResult, path: Path) -> Path:
    metrics = _metric_columns(r.scores for r in result.records)
    rows = [{**{name: getattr(r, name) for name in CALL_FIELDS}, **r.scores} for r in result.records]
    return _write_csv(path, [*CALL_FIELDS, *metrics], rows)


def write_result_json(result: CompareResult, path: Path) -> Path:
    path.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_result_json(path: Path) -> CompareResult:
    """A result written by ``write_result_json`` (or ``llmgateway compare --out``)."""
    return CompareResult.from_dict(json.loads(path.read_text(encoding="utf-8")))


def _metric_columns(scores: Iterable[Mapping[str, float]]) -> list[str]:
    names: dict[str, None] = {}
    for score in scores:
        names.update(dict.fromkeys(score))
    return sorted(names)


def _cell(value: Any) -> Any:
    # None is an empty cell; everything else as str() writes it (Decimal exactly, bools as True/False).
    return "" if value is None else value


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header), extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({name: _cell(row.get(name)) for name in header})
    return path
