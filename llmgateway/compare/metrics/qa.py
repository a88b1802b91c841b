"""Question answering: exact match and token F1 with SQuAD-style answer normalisation, x 100.

Normalisation (the SQuAD v1.1 evaluation's rules): lower case, drop punctuation, drop the
articles "a", "an" and "the" as words, collapse whitespace. An item's score is the best over its
accepted answers.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    lowered = text.lower()
    no_punctuation = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punctuation)
    return " ".join(no_articles.split())


def exact_match(prediction: str, answer: str) -> float:
    return 100.0 if normalize_answer(prediction) == normalize_answer(answer) else 0.0


def token_f1(prediction: str, answer: str) -> float:
    """Harmonic mean of token precision and recall over normalised tokens (a bag of words).

    Two empty answers match (100); one empty against a non-empty one scores 0.
    """
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(answer).split()
    if not predicted or not expected:
        return 100.0 if predicted == expected else 0.0
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision = common / len(predicted)
    recall = common / len(expected)
    return 100.0 * 2 * precision * recall / (precision + recall)


def qa_scores(prediction: str, answers: Sequence[str]) -> dict[str, float]:
    """``{"em", "f1"}``: each the maximum over the accepted ``answers``."""
    if not answers:
        raise ValueError("a QA item needs at least one accepted answer")
    return {
        "em": max(exact_match(prediction, a) for a in answers),
        "f1": max(token_f1(prediction, a) for a in answers),
    }
