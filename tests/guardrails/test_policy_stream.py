"""The content policy on a streamed answer: terms split across chunks, a bounded tail, and the
classifier on the whole answer at the end."""

from __future__ import annotations

import pytest

from llmgateway.errors import ContentPolicyError
from llmgateway.guardrails.policy.blocklist import Blocklist
from llmgateway.guardrails.policy.classifier import Classification, Stage
from llmgateway.guardrails.policy.engine import ContentPolicy
from llmgateway.guardrails.policy.settings import BlocklistEntry, ClassifierConfig, PolicyConfig
from llmgateway.guardrails.policy.stream_check import StreamPolicyCheck

ENTRIES = [
    BlocklistEntry(category="profanity", terms=["ass"]),
    BlocklistEntry(category="weapons", terms=["pipe bomb"], patterns=[r"nerve\s+agent"]),
]


def check(**kwargs: object) -> StreamPolicyCheck:
    return StreamPolicyCheck(Blocklist(ENTRIES), **kwargs)  # type: ignore[arg-type]


def feed_all(stream: StreamPolicyCheck, chunks: list[str]) -> int:
    """How many chunks were sent before the check refused (len(chunks) when none was): a chunk
    the check holds pending is not sent until a later call decides it, and the text's end
    (``end``) decides what is still pending."""
    sent = 0
    for index, chunk in enumerate(chunks):
        try:
            pending = stream.feed(chunk)
        except ContentPolicyError:
            return sent
        if not pending:
            sent = index + 1
    try:
        stream.end()
    except ContentPolicyError:
        return sent
    return len(chunks)


@pytest.mark.parametrize(
    "chunks",
    [
        ["here is a pi", "pe b", "omb for you"],
        ["pipe", " ", "bomb"],
        ["p", "i", "p", "e", "\n", "b", "o", "m", "b"],
        ["PIPE ", "BOMB"],
        ["\uff50\uff49\uff50\uff45 \uff42", "\uff4f\uff4d\uff42"],  # full-width, split
        ["pipe b\u200b", "\u200bomb"],  # zero-width spaces around the split
        ["nerve ", "agent"],
        ["you ", "as", "s"],
    ],
)
def test_a_term_split_across_chunks_is_refused_when_its_last_piece_arrives(chunks: list[str]) -> None:
    """The chunk completing the term is never sent: refused at once when the text goes on after
    it, else held until the text's end."""
    stream = check()
    assert feed_all(stream, chunks) == len(chunks) - 1


def test_the_refusal_names_the_output_stage_and_rule() -> None:
    stream = check()
    stream.feed("a pipe ")
    with pytest.raises(ContentPolicyError) as info:
        stream.feed("bomb.")
    assert info.value.stage == "output" and info.value.category == "weapons"
    assert "answer was withheld" in info.value.message and "bomb" not in info.value.message
    with pytest.raises(ContentPolicyError):
        stream.feed("more")  # the stream must stop: every later call refuses too


@pytest.mark.parametrize(
    "chunks",
    [
        ["cl", "ass"],
        ["cla", "ss", "es"],
        ["pipe", "bomb"],
        ["a pipe ", "-bomb"],
        ["nerve", "agent"],
    ],
)
def test_words_built_across_chunks_are_whole_words(chunks: list[str]) -> None:
    stream = check()
    assert feed_all(stream, chunks) == len(chunks)


def test_a_term_at_the_end_of_the_text_so_far_waits_for_the_next_chunk() -> None:
    """ "ass" may be a word or the start of "assets": held (pending), not refused, until the next
    chunk says which; the end of the text counts as a word's end."""
    stream = check()
    assert stream.feed("ass") is True and stream.pending
    assert stream.feed("ets") is False and not stream.pending
    stream.end()
    assert feed_all(check(), ["pipe b", "omb", "s"]) == 3  # "pipe bombs" is another word
    assert feed_all(check(), ["pipe b", "omb", "."]) == 1
    stream = check()
    assert stream.feed("a pipe bomb") is True
    with pytest.raises(ContentPolicyError):
        stream.end()


async def test_finish_decides_what_is_pending() -> None:
    stream = check()
    stream.feed("you ass")
    with pytest.raises(ContentPolicyError):
        await stream.finish()


def test_the_tail_stays_bounded_and_still_catches_a_term_after_a_long_answer() -> None:
    stream = check(tail_chars=64)
    filler = "lorem ipsum dolor sit amet, classes assets. "
    for _ in range(500):
        stream.feed(filler)
    assert len(stream._tail) <= 64
    assert stream._parts is None  # without a classifier the answer is not kept
    stream.feed("then a pipe")
    assert stream.feed(" bomb") is True
    with pytest.raises(ContentPolicyError):
        stream.feed("!")


def test_a_word_cut_by_the_tail_is_not_mistaken_for_a_term() -> None:
    # The tail is trimmed so that it starts inside "class": its "ass" must not match.
    stream = check(tail_chars=8)
    stream.feed("x" * 20 + " class")
    assert stream._tail.endswith("class") and len(stream._tail) == 8
    stream.feed("ic")
    stream = check(tail_chars=3)
    stream.feed("a class")
    assert stream._tail == "ass"
    stream.feed("!")  # "ass!" from a trimmed tail: "ass" was the end of "class"


class Recorder:
    def __init__(self) -> None:
        self.texts: list[tuple[str, Stage]] = []

    async def classify(self, text: str, *, stage: Stage) -> Classification:
        self.texts.append((text, stage))
        return Classification(flagged="dangerous" in text, category="danger")

    async def aclose(self) -> None:
        return None


recorder = Recorder()


def classified_policy(**settings: object) -> ContentPolicy:
    classifier = ClassifierConfig.model_validate(
        {"kind": "callable", "callable": "tests.guardrails.test_policy_stream:recorder", **settings}
    )
    return ContentPolicy.from_config(PolicyConfig(blocklist=ENTRIES, classifier=classifier))


async def test_finish_classifies_the_whole_answer_once() -> None:
    recorder.texts.clear()
    stream = classified_policy().stream_check()
    for chunk in ["a per", "fectly ", "dangerous", " answer"]:
        stream.feed(chunk)
    assert recorder.texts == []  # nothing is classified mid-stream
    with pytest.raises(ContentPolicyError) as info:
        await stream.finish()
    assert info.value.stage == "output" and info.value.category == "danger"
    assert recorder.texts == [("a perfectly dangerous answer", "output")]

    recorder.texts.clear()
    stream = classified_policy().stream_check()
    stream.feed("a safe answer")
    await stream.finish()
    assert recorder.texts == [("a safe answer", "output")]


async def test_finish_skips_the_classifier_when_it_does_not_cover_output() -> None:
    recorder.texts.clear()
    stream = classified_policy(stages=["input"]).stream_check()
    stream.feed("dangerous")
    await stream.finish()
    assert recorder.texts == []


async def test_finish_rechecks_the_blocklist_on_the_whole_answer_when_it_is_kept() -> None:
    recorder.texts.clear()
    entries = [BlocklistEntry(category="long", patterns=[r"begin.{100,}end"])]
    classifier = ClassifierConfig(kind="callable", callable="tests.guardrails.test_policy_stream:recorder")
    policy = ContentPolicy.from_config(PolicyConfig(blocklist=entries, classifier=classifier))
    stream = policy.stream_check()
    for chunk in ["begin ", "x" * 1000, " end"]:
        stream.feed(chunk)  # longer than the tail: not caught chunk by chunk
    with pytest.raises(ContentPolicyError, match="blocklist rule 'long'"):
        await stream.finish()
    assert recorder.texts == []


async def test_a_refused_stream_refuses_again_at_finish() -> None:
    stream = classified_policy().stream_check()
    with pytest.raises(ContentPolicyError):
        stream.feed("pipe bomb here")
    with pytest.raises(ContentPolicyError):
        await stream.finish()
