"""BLEU, chrF and ROUGE-L against values derived by hand."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from llmgateway.compare.metrics.text import TextScorers


@pytest.fixture
def text() -> TextScorers:
    return TextScorers()


def test_identical_sentences_and_corpora_score_100(text: TextScorers) -> None:
    sentence = "The quick brown fox jumps over the lazy dog."
    assert text.bleu(sentence, sentence) == pytest.approx(100.0)
    assert text.chrf(sentence, sentence) == pytest.approx(100.0)
    assert text.rouge_l(sentence, sentence) == pytest.approx(100.0)
    corpus = [sentence, "A second, rather different line.", "Short."]
    assert text.corpus_bleu(corpus, corpus) == pytest.approx(100.0)
    assert text.corpus_chrf(corpus, corpus) == pytest.approx(100.0)


def test_bleu_of_a_hand_checked_pair(text: TextScorers) -> None:
    # hyp: the cat sat on the mat      ref: the cat sat on a mat      (6 tokens each: BP = 1)
    # 1-grams: the(x2, clipped to 1) cat sat on mat          -> 5 of 6 match
    # 2-grams: the cat, cat sat, sat on | on the, the mat    -> 3 of 5
    # 3-grams: the cat sat, cat sat on | sat on the, on the mat -> 2 of 4
    # 4-grams: the cat sat on | cat sat on the, sat on the mat  -> 1 of 3
    precisions = [5 / 6, 3 / 5, 2 / 4, 1 / 3]
    expected = 100 * math.exp(sum(math.log(p) for p in precisions) / 4)  # = 100 * (1/12) ** 0.25
    assert expected == pytest.approx(53.7285, abs=1e-4)
    hypothesis, reference = "the cat sat on the mat", "the cat sat on a mat"
    assert text.bleu(hypothesis, reference) == pytest.approx(expected, rel=1e-9)
    assert text.corpus_bleu([hypothesis], [reference]) == pytest.approx(expected, rel=1e-9)


def test_bleu_brevity_penalty(text: TextScorers) -> None:
    # hyp "the cat sat on the" (5) is a prefix of ref "the cat sat on the mat" (6): every n-gram
    # precision is 1, so BLEU = BP = exp(1 - 6/5).
    assert text.bleu("the cat sat on the", "the cat sat on the mat") == pytest.approx(
        100 * math.exp(1 - 6 / 5), rel=1e-9
    )


def test_sentence_bleu_uses_the_effective_order(text: TextScorers) -> None:
    # Two tokens, both right: no 3- or 4-grams exist, so they are left out rather than scored 0.
    # 1-grams 2/2, 2-grams 1/1; ref has 4 tokens (13a splits off the full stop): BP = exp(1 - 4/2).
    assert text.bleu("Good morning", "Good morning everyone.") == pytest.approx(100 * math.exp(-1), rel=1e-9)


def test_corpus_bleu_pools_counts_over_sentences(text: TextScorers) -> None:
    # Corpus BLEU is not the mean of sentence BLEUs: a wrong empty line costs length, not a zero.
    hyps = ["the cat sat on the mat", ""]
    refs = ["the cat sat on the mat", "hello"]
    # Pooled: 1-grams 6/6, 2-grams 5/5, 3-grams 4/4, 4-grams 3/3; lengths 6 vs 7: BP = exp(1 - 7/6).
    assert text.corpus_bleu(hyps, refs) == pytest.approx(100 * math.exp(1 - 7 / 6), rel=1e-9)
    with pytest.raises(ValueError, match="pair them"):
        text.corpus_bleu(hyps, refs[:1])


def test_chrf_rewards_partial_character_overlap(text: TextScorers) -> None:
    close = text.chrf("the cats sat on the mat", "the cat sat on the mat")
    far = text.chrf("a dog ran in the park", "the cat sat on the mat")
    assert 0 < far < close < 100
    assert text.chrf("", "the cat") == 0.0


def test_rouge_l_from_a_hand_computed_example(text: TextScorers) -> None:
    # rouge-score lower-cases, keeps [a-z0-9] tokens and Porter-stems words longer than 3 letters.
    # hyp: the cats(->cat) sat quietly(->quietli) on the mat      7 tokens
    # ref: the cat sat on the red mat                             7 tokens
    # LCS: the cat sat on the mat = 6  ->  P = 6/7, R = 6/7, F = 6/7
    hyp, ref = "The cats sat quietly on the mat.", "the cat sat on the red mat"
    assert text.rouge_l(hyp, ref) == pytest.approx(100 * 6 / 7, rel=1e-9)
    # Unequal lengths: hyp "the cat" (2) vs ref above (7): LCS 2, P = 1, R = 2/7, F = 2PR/(P+R) = 4/9.
    assert text.rouge_l("the cat", ref) == pytest.approx(100 * 4 / 9, rel=1e-9)
    assert text.rouge_l("", ref) == 0.0


def test_importing_the_metrics_loads_no_scoring_library() -> None:
    code = (
        "import sys, llmgateway.compare.metrics\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('sacrebleu', 'rouge_score', 'torch')]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
