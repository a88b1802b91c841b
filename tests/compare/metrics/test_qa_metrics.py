"""Exact match and token F1 with SQuAD-style normalisation, against hand-computed values."""

from __future__ import annotations

import pytest

from llmgateway.compare.metrics.qa import exact_match, normalize_answer, qa_scores, token_f1


def test_normalisation_drops_case_punctuation_articles_and_extra_space() -> None:
    assert normalize_answer("  The Eiffel   Tower! ") == "eiffel tower"
    assert normalize_answer("An apple, a day.") == "apple day"
    # Articles only as whole words: "theatre" and "Anna" keep their letters.
    assert normalize_answer("the Theatre of Anna") == "theatre of anna"


def test_exact_match_after_normalisation() -> None:
    assert exact_match("The Eiffel Tower.", "eiffel tower") == 100.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0


def test_token_f1_by_hand() -> None:
    # pred "in the city of Paris" -> [in, city, of, paris]; answer "Paris, France" -> [paris, france]
    # common 1: P = 1/4, R = 1/2, F1 = 2PR/(P+R) = (1/4)/(3/4) = 1/3
    assert token_f1("in the city of Paris", "Paris, France") == pytest.approx(100 / 3)
    # Repeated tokens count once each as often as both sides have them:
    # pred [paris, paris] vs [paris]: common 1, P = 1/2, R = 1, F1 = 2/3
    assert token_f1("Paris Paris", "Paris") == pytest.approx(200 / 3)
    assert token_f1("London", "Paris") == 0.0
    # Only articles/punctuation on both sides: both normalise to nothing, which matches.
    assert token_f1("The.", "a") == 100.0
    assert token_f1("", "Paris") == 0.0


def test_scores_are_the_best_over_accepted_answers() -> None:
    # vs "Paris, France": EM 0, F1 1/3 (above); vs "Paris": P = 1/4, R = 1, F1 = 2/5.
    scores = qa_scores("in the city of Paris", ["Paris, France", "Paris"])
    assert scores["em"] == 0.0
    assert scores["f1"] == pytest.approx(40.0)
    assert qa_scores("paris", ["Paris, France", "Paris"]) == {"em": 100.0, "f1": 100.0}
    with pytest.raises(ValueError, match="at least one"):
        qa_scores("x", [])
