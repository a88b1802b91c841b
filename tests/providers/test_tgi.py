"""The TGI payload pieces both SageMaker's tgi format and Vertex's raw tgi format use: details as
usage and finish reasons, error events by class, and token events as chunks."""

from __future__ import annotations

from typing import Any

import pytest

from llmgateway import errors as e
from llmgateway.types import ChatCompletionChunk
from providers.chunks import AnswerBuilder
from providers.tgi import TgiTokenStream, finish_reason, tgi_event_error, tgi_usage


def token(text: str, special: bool = False) -> dict[str, Any]:
    return {"token": {"text": text, "special": special}, "generated_text": None, "details": None}


def final(text: str, details: dict[str, Any] | None) -> dict[str, Any]:
    return {"token": {"text": "</s>", "special": True}, "generated_text": text, "details": details}


def stream(*events: dict[str, Any], count: Any = None) -> list[ChatCompletionChunk]:
    tokens = TgiTokenStream(AnswerBuilder("m", "chatcmpl-test"), "the prompt", count, "dep")
    chunks = [chunk for event in events for chunk in tokens.take(event)]
    assert tokens.finished
    return chunks


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ({"finish_reason": "length"}, "length"),
        ({"finish_reason": "eos_token"}, "stop"),
        ({"finish_reason": "stop_sequence"}, "stop"),
        ({}, "stop"),
        (None, "stop"),
    ],
)
def test_finish_reasons(details: Any, expected: str) -> None:
    assert finish_reason(details) == expected


def test_usage_from_details_then_the_tokenizer_else_none() -> None:
    exact = tgi_usage({"generated_tokens": 2, "prompt_tokens": 9}, "p", "t", None)
    assert exact is not None and (exact.prompt_tokens, exact.completion_tokens, exact.total_tokens) == (
        9,
        2,
        11,
    )
    prefill = tgi_usage({"generated_tokens": 2, "prefill": [{}, {}, {}]}, "p", "t", None)
    assert prefill is not None and prefill.prompt_tokens == 3
    counted = tgi_usage({"generated_tokens": 2}, "four words of prompt", "x", lambda text: len(text.split()))
    assert counted is not None and (counted.prompt_tokens, counted.completion_tokens) == (4, 2)
    assert tgi_usage({"generated_tokens": 2}, "p", "t", None) is None


@pytest.mark.parametrize(
    ("error_type", "cls"),
    [
        ("validation", e.BadRequestError),
        ("overloaded", e.RateLimitError),
        ("generation", e.UpstreamServerError),
    ],
)
def test_error_events_by_class(error_type: str, cls: type[e.GatewayError]) -> None:
    error = tgi_event_error({"error": "boom", "error_type": error_type}, "dep")
    assert type(error) is cls and error.deployment == "dep" and "boom" in error.message


def test_token_events_as_chunks_with_one_id_role_first_then_finish_and_usage() -> None:
    details = {"finish_reason": "eos_token", "generated_tokens": 3, "prompt_tokens": 5}
    chunks = stream(token("Pa"), token("<pad>", special=True), token("ris"), final("Paris", details))
    assert [c.choices[0].delta.content for c in chunks[:2]] == ["Pa", "ris"]
    assert [c.choices[0].delta.role for c in chunks[:2]] == ["assistant", None]
    assert chunks[2].choices[0].finish_reason == "stop" and chunks[2].choices[0].delta.content is None
    assert chunks[3].choices == [] and chunks[3].usage is not None and chunks[3].usage.total_tokens == 8
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].id.startswith("chatcmpl-test-")


def test_an_empty_answer_still_opens_with_the_role_and_counts_with_the_tokenizer() -> None:
    chunks = stream(final("", {"finish_reason": "length", "generated_tokens": 0}), count=lambda text: 7)
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].finish_reason == "length"
    assert chunks[1].usage is not None and (
        chunks[1].usage.prompt_tokens,
        chunks[1].usage.completion_tokens,
    ) == (7, 0)


def test_nothing_after_the_final_event_and_errors_raise() -> None:
    tokens = TgiTokenStream(AnswerBuilder("m"), "", None, "dep")
    assert len(tokens.take(final("x", {}))) == 1
    assert tokens.take(token("late")) == [] and tokens.take({"error": "late"}) == []
    fresh = TgiTokenStream(AnswerBuilder("m"), "", None, "dep")
    with pytest.raises(e.UpstreamServerError, match="CUDA out of memory"):
        fresh.take({"error": "CUDA out of memory"})


def test_answer_builder_completion_keeps_the_order_of_choices() -> None:
    builder = AnswerBuilder("m", "chatcmpl-x")
    answer = builder.completion(["a", "b"], ["stop", "length"], None)
    assert [(c.index, c.message.content, c.finish_reason) for c in answer.choices] == [
        (0, "a", "stop"),
        (1, "b", "length"),
    ]
    assert (answer.id, answer.created, answer.model) == (builder.id, builder.created, "m")
