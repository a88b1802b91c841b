"""summary.csv, calls.csv and result.json: one row per model x suite / per call, exact money,
empty cells for missing values, and a JSON that reads back to an equal result."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

from llmgateway.compare.records import CompareResult
from llmgateway.compare.report import read_result_json, write_reports
from tests.compare.report_fixtures import ITEMS, MODELS, make_result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_write_reports_without_charts_writes_the_data_files_and_the_page(tmp_path: Path) -> None:
    written = write_reports(make_result(), tmp_path / "out", charts=False)
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written] == [
        "summary.csv",
        "calls.csv",
        "result.json",
        "report.html",
    ]
    assert not (tmp_path / "out" / "charts").exists()


def test_result_json_round_trips_exactly_with_money_as_strings(tmp_path: Path) -> None:
    result = make_result()
    write_reports(result, tmp_path, charts=False)
    raw = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert raw["summaries"][0]["cost_total"] == str(result.summaries[0].cost_total)
    assert isinstance(raw["records"][0]["cost"], str)
    again = read_result_json(tmp_path / "result.json")
    assert again == result
    assert CompareResult.from_dict(raw).summaries[2].cost_per_call == result.summaries[2].cost_per_call


def test_summary_csv_has_a_row_per_model_and_suite_and_a_column_per_metric(tmp_path: Path) -> None:
    result = make_result()
    write_reports(result, tmp_path, charts=False)
    rows = read_csv(tmp_path / "summary.csv")
    assert len(rows) == len(MODELS) * 5
    assert [(r["suite"], r["model"]) for r in rows[:4]] == [("translation", m) for m in MODELS]
    for metric in ("bleu", "chrf", "rougeL", "em", "f1", "pass@1"):
        assert metric in rows[0]
    qa = next(r for r in rows if r["suite"] == "qa" and r["model"] == "smollm2")
    shown = [qa[k] for k in ("primary_metric", "primary", "f1", "em", "bleu")]
    assert shown == ["f1", "55.5", "55.5", "40.0", ""]
    slow = next(r for r in rows if r["suite"] == "qa" and r["model"] == "slow-cheap")
    summary = next(s for s in result.summaries if s.suite == "qa" and s.model == "slow-cheap")
    # Exact decimal strings, not floats: 0.000155 / 6 keeps all its digits.
    assert Decimal(slow["cost_per_call"]) == summary.cost_per_call
    assert len(slow["cost_per_call"]) > 20
    assert (slow["cost_estimated"], slow["currency"], slow["perplexity"]) == ("True", "USD", "")
    broken = next(r for r in rows if r["model"] == "broken")
    assert (broken["errors"], broken["latency_p50_ms"], broken["primary"]) == (str(ITEMS), "", "")


def test_calls_csv_has_a_row_per_call_and_a_column_per_score(tmp_path: Path) -> None:
    result = make_result()
    write_reports(result, tmp_path, charts=False)
    rows = read_csv(tmp_path / "calls.csv")
    assert len(rows) == len(result.records)
    first = rows[0]
    record = result.records[0]
    assert (first["model"], first["suite"], first["item_id"]) == (record.model, record.suite, record.item_id)
    assert float(first["bleu"]) == record.scores["bleu"] and first["pass@1"] == ""
    assert first["output"] == "answer 0, with a comma"  # quoted, not split
    assert "scores" not in first
    failed = next(r for r in rows if r["model"] == "broken")
    assert failed["ok"] == "False" and failed["error_type"] == "ServiceUnavailableError"
    assert failed["ttft_ms"] == "" and failed["bleu"] == ""
