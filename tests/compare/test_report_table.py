"""The terminal table on synthetic results: every model x suite, aligned, within 120 columns,
exact money, estimated costs marked, missing values shown, mixed currencies named per cell."""

from __future__ import annotations

import random
from decimal import Decimal

from llmgateway.compare.records import TASKS
from llmgateway.compare.report import render_table
from llmgateway.compare.report.cells import fmt_money
from llmgateway.compare.report.table import NAME_WIDTH, WIDTH, shorten
from tests.compare.report_fixtures import MODELS, make_result


def blocks(table: str) -> dict[str, list[str]]:
    """suite -> the block's table lines (header, rule, rows)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in table.splitlines():
        if line.startswith("== "):
            current = found.setdefault(line[3:].split(":")[0], [])
        elif line.startswith(("Failed calls:", "~ ")):
            current = None
        elif current is not None and line.strip():
            current.append(line)
    return found


def row(lines: list[str], model: str) -> list[str]:
    return next(line.split() for line in lines if line.split()[0] == model)


def test_one_aligned_block_per_suite_and_one_row_per_model() -> None:
    table = render_table(make_result())
    found = blocks(table)
    assert list(found) == list(TASKS)
    for lines in found.values():
        header, rule, *rows = lines  # short names: no wrapping
        assert set(rule) == {"-"} and len(rule) == len(header)
        assert [r.split()[0] for r in rows] == list(MODELS)
        # Right-aligned numbers: every row ends exactly under the header's last column.
        assert {len(r) for r in rows} == {len(header)}
    assert max(len(line) for line in table.splitlines()) <= WIDTH


def test_primary_metric_first_and_starred_other_metrics_beside_it() -> None:
    found = blocks(render_table(make_result()))
    assert found["translation"][0].split()[-3:] == ["bleu*", "chrf", "ppl"]
    assert found["qa"][0].split()[-3:] == ["f1*", "em", "ppl"]
    assert found["chat"][0].split()[-3:] == ["chrf*", "rougeL", "ppl"]
    assert row(found["translation"], "smollm2")[-3:] == ["21.4", "48.0", "12.34"]


def test_costs_are_decimal_rounded_estimates_marked_missing_values_dashed() -> None:
    result = make_result()
    found = blocks(render_table(result))
    assert "cost USD" in found["code"][0] and "per call USD" in found["code"][0]
    slow = row(found["code"], "slow-cheap")
    summary = next(s for s in result.summaries if s.model == "slow-cheap" and s.suite == "code")
    assert slow[8:10] == ["~" + fmt_money(summary.cost_total), "~" + fmt_money(summary.cost_per_call)]
    assert not any(cell.startswith("~") for cell in row(found["code"], "fast-expensive"))
    # The model whose every call failed: counts, zero cost, and a dash for everything unmeasured.
    assert row(found["code"], "broken") == ["broken", "6", "6", "0", "-", "-", "-", "-", "0", "0", "-", "-"]
    assert row(found["chat"], "slow-cheap")[6] == "-"  # no TTFT measured


def test_money_formatting_is_decimal_and_significant() -> None:
    assert fmt_money(Decimal("0.000025833333333333333333")) == "0.00002583"
    assert fmt_money(Decimal("0.00288")) == "0.00288"
    assert fmt_money(Decimal("12345.678")) == "12350"
    assert fmt_money(Decimal("100")) == "100"
    assert fmt_money(Decimal("0.1000")) == "0.1"
    assert fmt_money(Decimal(0)) == "0"


def test_failed_calls_are_listed_with_their_first_message() -> None:
    table = render_table(make_result())
    assert "Failed calls:" in table
    assert "  broken on qa: 6 of 6 calls failed: ServiceUnavailableError: upstream said 503" in table
    assert "  slow-cheap on code: 1 of 6 calls failed: APITimeoutError: timed out after 30 s" in table


def test_the_order_is_stable_whatever_order_the_summaries_come_in() -> None:
    result = make_result()
    expected = render_table(result)
    random.Random(3).shuffle(result.summaries)
    assert render_table(result) == expected


def test_long_model_names_wrap_the_block_with_the_model_column_repeated() -> None:
    long = "a-very-long-deployment-name-for-a-hosted-model-" * 2
    result = make_result({long: MODELS["smollm2"], "short": MODELS["fast-expensive"]})
    table = render_table(result)
    assert max(len(line) for line in table.splitlines()) <= WIDTH
    lines = blocks(table)["translation"]
    headers = [line for line in lines if line.startswith("model")]
    assert len(headers) == 2  # the columns that fit, then the rest underneath
    shown = shorten(long)
    assert len(shown) == NAME_WIDTH and shown.startswith("a-very-long") and shown.endswith("hosted-model-")
    assert sum(line.startswith(shown) for line in lines) == 2
    columns = headers[0].split()[1:] + headers[1].split()[1:]
    assert columns[:3] == ["calls", "err", "retry"] and columns[-3:] == ["bleu*", "chrf", "ppl"]


def test_mixed_currencies_name_the_currency_in_each_cell() -> None:
    result = make_result()
    for summary in result.summaries:
        if summary.model == "fast-expensive":
            summary.currency = "EUR"
    found = blocks(render_table(result))
    header = found["qa"][0]
    assert "cost USD" not in header and "cost" in header.split()
    assert "EUR" in row(found["qa"], "fast-expensive") and "USD" in row(found["qa"], "smollm2")


def test_an_empty_result_says_so() -> None:
    result = make_result()
    result.summaries, result.records = [], []
    assert render_table(result).endswith("No summaries: nothing was compared.")


def test_an_interrupted_run_says_its_results_are_partial() -> None:
    result = make_result()
    assert "INTERRUPTED" not in render_table(result)
    result.settings["interrupted"] = True
    assert render_table(result).splitlines()[0].endswith("; INTERRUPTED, partial results")
