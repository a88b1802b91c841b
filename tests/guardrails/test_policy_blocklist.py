"""Blocklist matching: whole words, normalisation, patterns, categories, speed."""

from __future__ import annotations

import re
import statistics
import time

import pytest

from llmgateway.guardrails.policy.blocklist import Blocklist, normalise
from llmgateway.guardrails.policy.settings import BlocklistEntry


def blocklist(*entries: dict[str, object]) -> Blocklist:
    return Blocklist([BlocklistEntry.model_validate(entry) for entry in entries])


RULES = blocklist(
    {"category": "profanity", "terms": ["ass"]},
    {"category": "weapons", "terms": ["pipe bomb", "assault rifle", "c++ exploit"]},
    {"category": "german", "terms": ["Straße"]},
)


@pytest.mark.parametrize(
    "text",
    [
        "ass",
        "what an ass.",
        "ASS!",
        "(ass)",
        "how to build a pipe bomb",
        "PIPE BOMB",
        "Pipe   Bomb",
        "pipe\nbomb",
        "pipe\r\n\t bomb",
        "pipe\u00a0bomb",  # no-break space: NFKC makes it a space
        "\uff50\uff49\uff50\uff45 \uff42\uff4f\uff4d\uff42",  # full-width letters
        "pi\u200bpe bo\u200dmb",  # zero-width space and joiner inside the words
        "pipe bo\u00admb",  # soft hyphen
        "\ufeffpipe b\u2060omb",  # BOM, word joiner
        "buy an assault rifle now",
        "my c++ exploit",
        "die STRASSE",
        "die straße",
        "pipe bomb" + "x" * 0,
    ],
)
def test_blocked_texts_match(text: str) -> None:
    assert RULES.search(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "class",
        "classes and assets",
        "assess the bass passage",
        "pipebomb",  # the words must be separate
        "pipe bombs",  # whole words only
        "a pipe, bomb",  # punctuation is not whitespace
        "pipe-bomb",
        "bypass",
        "assault rifles",
        "",
        "   ",
        "c++exploit",
        "Strassenbahn",
    ],
)
def test_other_texts_do_not_match(text: str) -> None:
    assert RULES.search(text) is None, text


def test_the_matched_entry_category_is_reported() -> None:
    found = RULES.search("an assault rifle")
    assert found is not None and found.category == "weapons"
    found = RULES.search("you ass")
    assert found is not None and found.category == "profanity"
    # A prefix of a longer term is its own rule: "ass" (profanity) inside "ass ault" stays profanity.
    found = RULES.search("the ass ault")
    assert found is not None and found.category == "profanity"


def test_patterns_match_case_insensitively_on_normalised_text() -> None:
    rules = blocklist(
        {"category": "cards", "patterns": [r"\b\d{4}([- ]?)\d{4}\1\d{4}\1\d{4}\b"]},
        {"category": "howto", "patterns": [r"how\s+to\s+(?:make|build)\s+a\s+bomb", "(?x) secret \\s+ plan"]},
        {"category": "caps", "patterns": ["[A-Z]{3}-\\d+"]},
    )
    assert rules.search("card 4111 1111 1111 1111 ok").category == "cards"  # type: ignore[union-attr]
    assert rules.search("card 4111-1111 1111-1111") is None  # the back-reference wants one separator
    assert rules.search("HOW TO\nBuild a BOMB").category == "howto"  # type: ignore[union-attr]
    assert rules.search("the SECRET   plan").category == "howto"  # type: ignore[union-attr]
    assert rules.search("ticket abc-42").category == "caps"  # type: ignore[union-attr]
    assert rules.search("\uff28\uff2f\uff37 to make a bomb").category == "howto"  # type: ignore[union-attr]
    assert rules.search("how to bake a cake") is None


def test_the_first_pattern_in_order_names_the_category_when_two_match_at_once() -> None:
    rules = blocklist(
        {"category": "first", "patterns": ["bad\\w*"]}, {"category": "second", "patterns": ["badly"]}
    )
    assert rules.search("it went badly").category == "first"  # type: ignore[union-attr]


def test_terms_and_patterns_together() -> None:
    rules = blocklist({"category": "mixed", "terms": ["nerve agent"], "patterns": ["sarin"]})
    assert rules.search("sarin gas").category == "mixed"  # type: ignore[union-attr]
    assert rules.search("nerve  agent").category == "mixed"  # type: ignore[union-attr]
    assert rules.search("nervous agents") is None


def test_each_text_is_matched_on_its_own() -> None:
    assert RULES.first_match(["how to make a pipe", "bomb"]) is None
    found = RULES.first_match(["hello", "pipe bomb"])
    assert found is not None and found.category == "weapons"


def test_an_empty_blocklist_matches_nothing() -> None:
    empty = Blocklist([])
    assert not empty
    assert empty.search("anything at all") is None
    assert not Blocklist([BlocklistEntry(terms=["\u200b"])])  # only invisible characters


def test_normalise_folds_case_width_ligatures_and_invisible_characters() -> None:
    assert normalise("Hello") == "hello"
    assert normalise("\ufb01ne \uff21\u200bB") == "fine ab"
    assert normalise("Stra\u00dfe") == "strasse"
    assert normalise("so\u00adft") == "soft"


def test_a_2kb_check_stays_fast_with_hundreds_of_terms() -> None:
    """The trie regex must beat a plain alternation of the same terms by a wide margin (measured
    against each other in the same run, so a busy machine does not fail the test)."""
    words = "please write a short summary of this document about classes assets and python".split()
    text = " ".join(words[i % len(words)] for i in range(400))[:2048]
    terms = [f"term{i} phrase{i}" for i in range(300)] + ["pipe bomb", "ass", "assault rifle", "sarin"]
    rules = Blocklist([BlocklistEntry(category="c", terms=terms)])
    naive = re.compile(
        "|".join(r"(?<!\w)" + r"\s+".join(map(re.escape, t.split())) + r"(?!\w)" for t in terms)
    )
    assert rules.search(text) is None and naive.search(text.lower()) is None

    def median_seconds(check: object) -> float:
        samples = []
        for _ in range(15):
            start = time.perf_counter()
            for _ in range(20):
                check()  # type: ignore[operator]
            samples.append((time.perf_counter() - start) / 20)
        return statistics.median(samples)

    ours = median_seconds(lambda: rules.search(text))
    plain = median_seconds(lambda: naive.search(text.lower()))
    assert ours * 5 < plain, (ours, plain)
