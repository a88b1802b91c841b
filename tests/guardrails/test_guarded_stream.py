"""The stream wrappers: placeholders split across chunks, several choices, tool-call arguments
(JSON-escaped, held fragments flushed), other text fields, leftovers at the end, the usage chunk,
the output policy mid-stream, and closing upstream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from llmgateway.errors import ContentPolicyError, GatewayError
from llmgateway.guardrails.guarded_stream import restored_chunks, screened_chunks
from llmgateway.guardrails.pii.redaction import Redaction
from llmgateway.guardrails.pii.scanner import PiiScanner
from llmgateway.guardrails.pii.settings import PiiDetectorsConfig
from llmgateway.guardrails.policy.engine import ContentPolicy
from llmgateway.guardrails.policy.settings import PolicyConfig
from llmgateway.types import ChatCompletionChunk, ChunkChoice, ChunkDelta, FunctionCall, ToolCall, Usage

EMAIL = "jane.doe@example.com"


def _redaction() -> Redaction:
    redaction = Redaction(PiiScanner.from_config(PiiDetectorsConfig()))
    assert redaction.redact(f"write to {EMAIL}") == "write to <EMAIL_1>"
    return redaction


def _chunk(
    content: str | None = None, index: int = 0, finish: str | None = None, **delta: Any
) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="c",
        created=0,
        model="m",
        choices=[ChunkChoice(index=index, delta=ChunkDelta(content=content, **delta), finish_reason=finish)],
    )


class Upstream:
    def __init__(self, chunks: list[ChatCompletionChunk]) -> None:
        self.chunks = chunks
        self.closed = False

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


async def _never(error: GatewayError) -> None:
    raise AssertionError(f"not refused: {error}")


async def _texts(stream: AsyncIterator[ChatCompletionChunk]) -> dict[int, str]:
    out: dict[int, str] = {}
    async for chunk in stream:
        for choice in chunk.choices:
            out[choice.index] = out.get(choice.index, "") + (choice.delta.content or "")
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 5, 9, 100])
async def test_placeholders_split_anywhere_are_restored(size: int) -> None:
    text = "Sure, I wrote to <EMAIL_1> and [EMAIL_1] today."
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    upstream = Upstream([_chunk(p) for p in pieces] + [_chunk(finish="stop")])
    out = await _texts(restored_chunks(upstream, _redaction()))
    assert out[0] == f"Sure, I wrote to {EMAIL} and {EMAIL} today."
    assert upstream.closed


async def test_text_held_at_the_end_without_a_finish_is_sent() -> None:
    upstream = Upstream([_chunk("mail <EMA"), _chunk("IL_1> and <EM")])
    out = await _texts(restored_chunks(upstream, _redaction()))
    assert out[0] == f"mail {EMAIL} and <EM"


async def test_choices_are_restored_apart_and_held_text_precedes_the_usage_chunk() -> None:
    usage_chunk = ChatCompletionChunk(id="c", created=0, model="m", usage=Usage(prompt_tokens=1))
    upstream = Upstream(
        [_chunk("a <EMAIL", 0), _chunk("b <EMAIL_", 1), _chunk("_9>", 0), _chunk("1>", 1), usage_chunk]
    )
    seen: list[ChatCompletionChunk] = []
    async for chunk in restored_chunks(upstream, _redaction()):
        seen.append(chunk)
    assert seen[-1] is usage_chunk
    texts: dict[int, str] = {}
    for chunk in seen:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
    assert texts == {0: "a <EMAIL_9>", 1: f"b {EMAIL}"}  # <EMAIL_9> was never issued


async def test_tool_call_arguments_are_restored() -> None:
    def call(arguments: str, finish: str | None = None) -> ChatCompletionChunk:
        tool = ToolCall(index=0, function=FunctionCall(arguments=arguments))
        return _chunk(None, finish=finish, tool_calls=[tool])

    upstream = Upstream([call('{"to": "<EMA'), call('IL_1>"}', "tool_calls")])
    arguments = ""
    async for chunk in restored_chunks(upstream, _redaction()):
        for tool in chunk.choices[0].delta.tool_calls or ():
            assert tool.function is not None
            arguments += tool.function.arguments or ""
    assert arguments == f'{{"to": "{EMAIL}"}}'


async def test_the_policy_stops_the_stream_before_the_term_is_sent() -> None:
    policy = ContentPolicy.from_config(
        PolicyConfig.model_validate({"blocklist": [{"category": "x", "terms": ["forbidden word"]}]})
    )
    upstream = Upstream([_chunk("this is a forb"), _chunk("idden word"), _chunk(" more")])
    refusals: list[GatewayError] = []

    async def refused(error: GatewayError) -> None:
        refusals.append(error)

    sent: list[str] = []
    with pytest.raises(ContentPolicyError) as caught:
        async for chunk in screened_chunks(upstream, policy.stream_check, refused):
            sent.append(chunk.choices[0].delta.content or "")
    assert caught.value.stage == "output" and refusals == [caught.value]
    assert "".join(sent) == "this is a forb"
    assert upstream.closed
    await policy.aclose()


async def test_a_term_that_becomes_a_longer_word_is_held_then_sent() -> None:
    policy = ContentPolicy.from_config(
        PolicyConfig.model_validate({"blocklist": [{"category": "p", "terms": ["ass"]}]})
    )
    upstream = Upstream([_chunk("our ass"), _chunk("ets grew"), _chunk(finish="stop")])
    out = await _texts(screened_chunks(upstream, policy.stream_check, _never))
    assert out[0] == "our assets grew"
    refused = Upstream([_chunk("you ass"), _chunk(finish="stop")])
    sent: list[str] = []
    with pytest.raises(ContentPolicyError):
        async for chunk in screened_chunks(refused, policy.stream_check, _async_noop):
            sent.append(chunk.choices[0].delta.content or "")
    assert sent == []  # the pending chunk never left
    await policy.aclose()


async def _async_noop(error: GatewayError) -> None:
    return None


async def test_streamed_arguments_get_json_escaped_values_and_held_fragments_back() -> None:
    redaction = Redaction(PiiScanner.from_config(PiiDetectorsConfig()))
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    assert redaction.redact(f"key: {pem}") == "key: <SECRET_1>"

    def call(arguments: str, finish: str | None = None) -> ChatCompletionChunk:
        tool = ToolCall(index=0, function=FunctionCall(arguments=arguments))
        return _chunk(None, finish=finish, tool_calls=[tool])

    upstream = Upstream(
        [call('{"key": "<SECRET_1>", "to": "SEC'), call("RET_1"), _chunk(finish="tool_calls")]
    )
    arguments = ""
    async for chunk in restored_chunks(upstream, redaction):
        for tool in chunk.choices[0].delta.tool_calls or ():
            assert tool.function is not None
            arguments += tool.function.arguments or ""
    # The last fragment was held until the finish chunk (which carried no tool call) flushed it.
    assert arguments == json.dumps({"key": pem})[:-1] + ', "to": "' + json.dumps(pem)[1:-1]
    assert json.loads(arguments + '"}') == {"key": pem, "to": pem}


async def test_other_text_fields_are_restored() -> None:
    upstream = Upstream(
        [
            _chunk(None, reasoning_content="mail <EMA"),
            _chunk(None, reasoning_content="IL_1> now"),
            _chunk(finish="stop"),
        ]
    )
    reasoning = ""
    async for chunk in restored_chunks(upstream, _redaction()):
        extra = chunk.choices[0].delta.__pydantic_extra__ or {}
        reasoning += extra.get("reasoning_content") or ""
    assert reasoning == f"mail {EMAIL} now"
