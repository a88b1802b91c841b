"""Quality metrics for ``llmgateway compare`` (every score on a 0-100 scale).

* ``score_item(item, output)`` - one answer's scores (BLEU/chrF, ROUGE-L, EM/F1, pass@1 ...);
* ``suite_scores(task, items, outputs, item_scores)`` - one model's scores over a suite;
* ``reference_perplexity(gateway, model, texts)`` - perplexity of reference texts under a model.

Pass ``scorers=Scorers()`` (one per suite) to reuse the scorers across items. The heavy
libraries (sacrebleu, rouge_score) load on first use.
"""

from llmgateway.compare.metrics.perplexity import reference_perplexity
from llmgateway.compare.metrics.scoring import METRICS, Scorers, score_item, suite_scores

__all__ = ["METRICS", "Scorers", "reference_perplexity", "score_item", "suite_scores"]
