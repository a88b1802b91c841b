from __future__ import annotations

import pytest
from pydantic import ValidationError

from llmgateway.types import ChatCompletion, ChatCompletionRequest, ChatMessage


def test_unknown_request_fields_pass_through() -> None:
    request = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi", "x_tag": 1}], "logit_bias": {"5": 1}}
    )
    dumped = request.model_dump(exclude_none=True)
    assert dumped["logit_bias"] == {"5": 1}
    assert dumped["messages"][0]["x_tag"] == 1


def test_unknown_response_fields_are_kept() -> None:
    body = (
        '{"id":"x","created":1,"model":"m","service_tier":"flex",'
        '"choices":[{"message":{"role":"assistant","content":"hi","refusal":null},"finish_reason":"stop"}]}'
    )
    completion = ChatCompletion.model_validate_json(body)
    assert completion.text() == "hi"
    assert completion.model_dump()["service_tier"] == "flex"


def test_tool_calls_round_trip() -> None:
    message = ChatMessage.model_validate(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        }
    )
    assert message.tool_calls is not None and message.tool_calls[0].function is not None
    assert message.tool_calls[0].function.name == "f"


def test_content_parts_text() -> None:
    message = ChatMessage(role="user", content=[{"type": "text", "text": "a"}, {"type": "image_url"}])
    assert message.text() == "a"


@pytest.mark.parametrize(
    "bad",
    [
        {"model": "m", "messages": []},
        {"model": "m", "messages": [{"role": "wizard", "content": "x"}]},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
    ],
)
def test_invalid_requests_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ChatCompletionRequest.model_validate(bad)


def test_stream_helpers() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "stop": "END",
            "max_completion_tokens": 5,
            "stream_options": {"include_usage": True},
        }
    )
    assert request.stop_list() == ["END"]
    assert request.output_token_limit() == 5
    assert request.wants_stream_usage()
