"""score_item per task and suite_scores over a suite, failed calls included."""

from __future__ import annotations

import math

import pytest

from llmgateway.compare.metrics import METRICS, Scorers, score_item, suite_scores
from llmgateway.compare.records import TASKS, SuiteItem
from llmgateway.errors import BadRequestError

USER = [{"role": "user", "content": "..."}]


def item(task: str, **fields: object) -> SuiteItem:
    return SuiteItem(id=f"{task}-1", task=task, messages=USER, **fields)  # type: ignore[arg-type]


async def test_every_task_scores_its_own_metrics() -> None:
    scorers = Scorers()
    cases = {
        "translation": (item("translation", reference="the cat sat on a mat"), "the cat sat on the mat"),
        "summarization": (item("summarization", reference="the cat sat on the red mat"), "the cat sat"),
        "qa": (item("qa", answers=("Paris",)), "It is Paris."),
        "chat": (item("chat", reference="Hello! How can I help?"), "Hello, how can I help you?"),
        "code": (
            item("code", tests="assert double(2) == 4", entry_point="double"),
            "```python\ndef double(x):\n    return 2 * x\n```",
        ),
    }
    assert set(cases) == set(TASKS)
    for task, (suite_item, output) in cases.items():
        scores = await score_item(suite_item, output, scorers=scorers)
        assert tuple(scores) == METRICS[task], task
        assert all(0.0 <= value <= 100.0 for value in scores.values()), (task, scores)
    translation = await score_item(*cases["translation"])
    assert translation["bleu"] == pytest.approx(100 * (1 / 12) ** 0.25)  # see test_text_metrics
    assert await score_item(*cases["code"]) == {"pass@1": 100.0}
    # "it is paris" vs "paris": P = 1/3, R = 1, F1 = 1/2; not an exact match.
    assert await score_item(*cases["qa"]) == {"em": 0.0, "f1": pytest.approx(50.0)}


async def test_items_missing_what_they_are_scored_against_are_bad_requests() -> None:
    with pytest.raises(BadRequestError, match="no reference"):
        await score_item(item("translation"), "x")
    with pytest.raises(BadRequestError, match="answers"):
        await score_item(item("qa"), "x")
    with pytest.raises(BadRequestError, match="entry_point"):
        await score_item(item("code", tests="assert True"), "x")


def test_translation_suite_is_corpus_bleu_with_failed_calls_as_empty_hypotheses() -> None:
    items = [item("translation", reference="the cat sat on the mat"), item("translation", reference="hello")]
    scores = suite_scores("translation", items, ["the cat sat on the mat", None], [{}, {}])
    # As in test_corpus_bleu_pools_counts_over_sentences: precisions 1, BP = exp(1 - 7/6).
    assert scores["bleu"] == pytest.approx(100 * math.exp(1 - 7 / 6))
    perfect = suite_scores("translation", items, ["the cat sat on the mat", "hello"], [{}, {}])
    assert perfect == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0)}
    assert scores["chrf"] < perfect["chrf"]


def test_other_suites_average_over_all_items_with_failures_as_zero() -> None:
    items = [item("qa", answers=("a",)) for _ in range(4)]
    item_scores = [{"em": 100.0, "f1": 100.0}, {"em": 0.0, "f1": 50.0}, {}, {"f1": 30.0}]
    outputs = ["a", "b", None, "c"]  # the third call failed; the fourth lacks an "em" score
    assert suite_scores("qa", items, outputs, item_scores) == {
        "em": pytest.approx(25.0),  # (100 + 0 + 0 + 0) / 4
        "f1": pytest.approx(45.0),  # (100 + 50 + 0 + 30) / 4
    }
    code = [item("code", tests="", entry_point="f") for _ in range(3)]
    passes = [{"pass@1": 100.0}, {"pass@1": 100.0}, {"pass@1": 0.0}]
    result = suite_scores("code", code, ["x", None, "y"], passes)
    assert result == {"pass@1": pytest.approx(100 / 3)}  # the failed call counts 0 whatever it carries


def test_suite_scores_checks_its_inputs() -> None:
    assert suite_scores("chat", [], [], []) == {}
    with pytest.raises(ValueError, match="one output and one score dict per item"):
        suite_scores("chat", [item("chat", reference="x")], [], [])
