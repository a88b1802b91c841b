"""Per-item and per-suite quality scores for every task (all 0-100).

``Scorers`` holds what is worth building once per suite (sacrebleu / rouge-score scorers, the
code sandbox and what it learnt about this machine). ``score_item`` and ``suite_scores`` take
one as ``scorers=``; without it they build a fresh one for the call, which is correct but slower
over many items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from llmgateway.compare.metrics.qa import qa_scores
from llmgateway.compare.metrics.text import TextScorers
from llmgateway.compare.records import SuiteItem, Task
from llmgateway.errors import BadRequestError

if TYPE_CHECKING:
    from llmgateway.compare.metrics.code_exec import CodeSandbox

# The item-level scores each task produces (suite scores carry the same names).
METRICS: dict[Task, tuple[str, ...]] = {
    "translation": ("bleu", "chrf"),
    "summarization": ("rougeL",),
    "qa": ("em", "f1"),
    "chat": ("chrf", "rougeL"),
    "code": ("pass@1",),
}


class Scorers:
    """The scorers for one suite's scoring; cheap to create, built lazily, not thread-safe."""

    def __init__(self, sandbox: CodeSandbox | None = None) -> None:
        self.text = TextScorers()
        self._sandbox = sandbox

    @property
    def sandbox(self) -> CodeSandbox:
        if self._sandbox is None:
            from llmgateway.compare.metrics.code_exec import CodeSandbox

            self._sandbox = CodeSandbox()
        return self._sandbox


async def score_item(item: SuiteItem, output: str, *, scorers: Scorers | None = None) -> dict[str, float]:
    """The item's scores for ``output`` (the model's answer), named as in ``METRICS[item.task]``."""
    s = scorers or Scorers()
    task = item.task
    if task == "translation":
        reference = _reference(item)
        return {"bleu": s.text.bleu(output, reference), "chrf": s.text.chrf(output, reference)}
    if task == "summarization":
        return {"rougeL": s.text.rouge_l(output, _reference(item))}
    if task == "qa":
        if not item.answers:
            raise BadRequestError(f"QA item {item.id!r} has no accepted answers; add an 'answers' list")
        return qa_scores(output, item.answers)
    if task == "chat":
        reference = _reference(item)
        return {"chrf": s.text.chrf(output, reference), "rougeL": s.text.rouge_l(output, reference)}
    if task == "code":
        if not item.tests or not item.entry_point:
            raise BadRequestError(f"code item {item.id!r} needs 'tests' and 'entry_point'")
        result = await s.sandbox.run(output, item.tests, item.entry_point)
        return {"pass@1": 100.0 if result.passed else 0.0}
    raise BadRequestError(f"unknown task {task!r} for item {item.id!r}")


def suite_scores(
    task: Task,
    items: Sequence[SuiteItem],
    outputs: Sequence[str | None],
    item_scores: Sequence[dict[str, float]],
    *,
    scorers: Scorers | None = None,
) -> dict[str, float]:
    """One model's scores over a whole suite.

    Translation: corpus BLEU and chrF over every item, a failed call (``None``) counting as an
    empty hypothesis. Other tasks: the mean of each item score over every item, a failed call (or
    a score missing from its item's dict) counting 0. An empty suite has no scores (``{}``).
    """
    if not len(items) == len(outputs) == len(item_scores):
        raise ValueError(
            f"suite_scores needs one output and one score dict per item; got {len(items)} items, "
            f"{len(outputs)} outputs and {len(item_scores)} score dicts"
        )
    if not items:
        return {}
    if task == "translation":
        text = (scorers or Scorers()).text
        hypotheses = [output or "" for output in outputs]
        references = [_reference(item) for item in items]
        return {
            "bleu": text.corpus_bleu(hypotheses, references),
            "chrf": text.corpus_chrf(hypotheses, references),
        }
    if task not in METRICS:
        raise BadRequestError(f"unknown task {task!r}")
    return {
        name: sum(
            scores.get(name, 0.0) if output is not None else 0.0
            for output, scores in zip(outputs, item_scores, strict=True)
        )
        / len(items)
        for name in METRICS[task]
    }


def _reference(item: SuiteItem) -> str:
    if item.reference is None:
        raise BadRequestError(
            f"{item.task} item {item.id!r} has no reference text; add a 'reference' field to its line"
        )
    return item.reference
