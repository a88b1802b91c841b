from decimal import Decimal

import pytest

from llmgateway.cache.entry import CacheEntry
from llmgateway.cache.replay import assemble
from llmgateway.types import ChatCompletion, ChatCompletionChunk, EmbeddingResponse, GatewayMetadata
from tests.cache.payloads import COST, completion, entry, stream_chunks


def test_response_is_fresh_and_has_no_gateway_metadata() -> None:
    answer = completion()
    answer.gateway = GatewayMetadata(model="chat", deployment="d1", provider="mock")
    cached = CacheEntry.from_response("chat", answer, deployment="d1", provider="mock", cost=COST)
    first = cached.response()
    assert isinstance(first, ChatCompletion) and first.gateway is None
    first.choices[0].message.content = "changed"
    assert cached.response().text() == "Paris."


def test_bytes_round_trip_keeps_decimal_cost_exact() -> None:
    original = CacheEntry.from_response(
        "chat", completion(), deployment="d1", provider="mock", cost=COST, chunks=stream_chunks()
    )
    copy = CacheEntry.from_bytes(original.to_bytes())
    assert copy.cost == COST
    assert copy.cost.input == Decimal("0.000000123456789012345678901")
    assert (copy.kind, copy.deployment, copy.provider, copy.created_at) == (
        "chat",
        "d1",
        "mock",
        original.created_at,
    )
    assert copy.response() == original.response()
    assert copy.chunks() == original.chunks()


def test_unknown_bytes_are_rejected() -> None:
    with pytest.raises(ValueError, match="not a llmgateway cache entry"):
        CacheEntry.from_bytes(b"XXXX" + bytes(8))


def test_completion_replays_as_a_stream() -> None:
    chunks = entry("Paris.").chunks()
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 15
    assert all(c.choices for c in entry().chunks(include_usage=False))
    # and assembling the synthesized stream gives the completion back
    assert assemble(chunks).model_dump(exclude={"gateway"}) == completion().model_dump(exclude={"gateway"})


def test_tool_calls_survive_replay_in_both_directions() -> None:
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": "{}"}},
    ]
    answer = ChatCompletion.model_validate(
        {
            "id": "x",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "message": {"role": "assistant", "content": None, "tool_calls": calls},
                    "finish_reason": "tool_calls",
                }
            ],
        }
    )
    cached = CacheEntry.from_response("chat", answer, deployment="d", provider="p", cost=COST)
    chunks = cached.chunks()
    streamed = [call for c in chunks for ch in c.choices for call in ch.delta.tool_calls or []]
    assert [call.index for call in streamed] == [0, 1]
    rebuilt = assemble(chunks)
    message = rebuilt.choices[0].message
    assert message.content is None
    assert [c.function.arguments for c in message.tool_calls or [] if c.function] == [
        '{"city": "Paris"}',
        "{}",
    ]
    assert rebuilt.choices[0].finish_reason == "tool_calls"


def test_tool_call_arguments_streamed_in_pieces_assemble() -> None:
    head = {"id": "s", "created": 1, "model": "m"}
    deltas = [
        {"role": "assistant"},
        {
            "tool_calls": [
                {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
    ]
    chunks = [ChatCompletionChunk.model_validate({**head, "choices": [{"delta": d}]}) for d in deltas]
    chunks.append(
        ChatCompletionChunk.model_validate(
            {**head, "choices": [{"delta": {}, "finish_reason": "tool_calls"}]}
        )
    )
    call = (assemble(chunks).choices[0].message.tool_calls or [])[0]
    assert (call.id, call.function and call.function.name, call.function and call.function.arguments) == (
        "c1",
        "f",
        '{"a": 1}',
    )


def test_stream_stored_entry_answers_both_shapes() -> None:
    chunks = stream_chunks(("Par", "is."))
    cached = CacheEntry.from_response("chat", None, deployment="d", provider="p", cost=COST, chunks=chunks)
    assert cached.streamed
    assert cached.chunks() == chunks  # the stored chunks, replayed as they came
    without_usage = cached.chunks(include_usage=False)
    assert len(without_usage) == len(chunks) - 1 and all(c.usage is None for c in without_usage)
    answer = cached.response()
    assert isinstance(answer, ChatCompletion)
    assert answer.text() == "Paris." and answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.total_tokens == 14


def test_embeddings_round_trip_but_do_not_stream() -> None:
    response = EmbeddingResponse.model_validate(
        {"data": [{"index": 0, "embedding": [0.1, 0.2]}], "model": "e", "usage": {"prompt_tokens": 1}}
    )
    cached = CacheEntry.from_bytes(
        CacheEntry.from_response("embedding", response, deployment="d", provider="p", cost=COST).to_bytes()
    )
    assert cached.response() == response
    with pytest.raises(TypeError):
        cached.chunks()
