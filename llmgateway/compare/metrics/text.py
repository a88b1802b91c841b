"""Reference-based text metrics on a 0-100 scale: BLEU and chrF (sacrebleu), ROUGE-L (rouge-score).

``TextScorers`` builds each library's scorer once, on first use, and is meant to live for one
suite's scoring (``Scorers`` holds one), so hundreds of items do not rebuild tokenizers and
stemmers. sacrebleu and rouge_score are imported only when a scorer is first needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF


class TextScorers:
    """Sentence and corpus BLEU / chrF, and sentence ROUGE-L F-measure, all x 100.

    * Sentence BLEU uses sacrebleu's defaults for one sentence: the 13a tokenizer, exponential
      smoothing and the *effective order* (n-gram orders with no possible match are left out),
      so a short but correct hypothesis is not scored 0 only for being shorter than 4 tokens.
    * Corpus BLEU is the standard one (13a, no effective order), as reported in papers.
    * chrF is sacrebleu's default (character 6-grams, beta 2, no word n-grams).
    * ROUGE-L is rouge-score's LCS F-measure with the Porter stemmer.
    """

    def __init__(self) -> None:
        self._sentence_bleu: BLEU | None = None
        self._corpus_bleu: BLEU | None = None
        self._chrf: CHRF | None = None
        self._rouge: Any = None

    def _bleu(self, *, sentence: bool) -> BLEU:
        from sacrebleu.metrics.bleu import BLEU

        if sentence:
            if self._sentence_bleu is None:
                self._sentence_bleu = BLEU(effective_order=True)
            return self._sentence_bleu
        if self._corpus_bleu is None:
            self._corpus_bleu = BLEU()
        return self._corpus_bleu

    def _chrf_metric(self) -> CHRF:
        if self._chrf is None:
            from sacrebleu.metrics.chrf import CHRF

            self._chrf = CHRF()
        return self._chrf

    def bleu(self, hypothesis: str, reference: str) -> float:
        return float(self._bleu(sentence=True).sentence_score(hypothesis, [reference]).score)

    def chrf(self, hypothesis: str, reference: str) -> float:
        return float(self._chrf_metric().sentence_score(hypothesis, [reference]).score)

    def corpus_bleu(self, hypotheses: Sequence[str], references: Sequence[str]) -> float:
        _same_length(hypotheses, references)
        return float(self._bleu(sentence=False).corpus_score(list(hypotheses), [list(references)]).score)

    def corpus_chrf(self, hypotheses: Sequence[str], references: Sequence[str]) -> float:
        _same_length(hypotheses, references)
        return float(self._chrf_metric().corpus_score(list(hypotheses), [list(references)]).score)

    def rouge_l(self, hypothesis: str, reference: str) -> float:
        if self._rouge is None:
            from rouge_score.rouge_scorer import RougeScorer

            self._rouge = RougeScorer(["rougeL"], use_stemmer=True)
        # rouge-score's argument order is (target, prediction).
        return float(self._rouge.score(reference, hypothesis)["rougeL"].fmeasure) * 100.0


def _same_length(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses for {len(references)} references; pair them one to one"
        )
