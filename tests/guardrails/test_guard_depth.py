"""The second review's cases: PII under identifier-like keys and in keys, secrets known by their
field's name (and found again in free text), what the output classifier sees, nested fields of
stream chunks, a classifier failure at a stream's end, a caller's own PII mode in the SDK, binary
payloads left alone, and a long run of numbers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmgateway import Gateway
from llmgateway.errors import PolicyCheckFailedError
from llmgateway.guardrails.policy.classifier import Classification
from llmgateway.types import ChatCompletionRequest
from providers.mock import MockProvider
from tests.guardrails.pii_samples import EMAIL, PHONE

SEEN: list[tuple[str, str]] = []
PASSWORD = "hunter2pass99"


async def remember(text: str, stage: str) -> Classification:
    SEEN.append((stage, text))
    return Classification(flagged=False)


async def fails_on_answers(text: str, stage: str) -> Classification:
    if stage == "output":
        raise RuntimeError("classifier down")
    return Classification(flagged=False)


def _sent(provider: MockProvider) -> str:
    return provider.calls[-1].model_dump_json()


async def test_identifier_like_keys_and_keys_themselves_are_redacted() -> None:
    provider = MockProvider()
    async with Gateway(models={"m": provider}, guardrails={"pii": {"mode": "redact"}}) as gw:
        await gw.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            metadata={"name": EMAIL, "id": PHONE, "type": EMAIL, EMAIL: "as a key"},
            extra_body={"nested": {"format": EMAIL, "detail": [PHONE]}},
        )
    sent = _sent(provider)
    assert EMAIL not in sent and PHONE not in sent


async def test_secrets_known_by_their_field_name_are_redacted_everywhere() -> None:
    provider = MockProvider()
    history = [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "function": {"name": "login", "arguments": json.dumps({"password": PASSWORD})}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        {"role": "user", "content": f"did {PASSWORD} work?"},
    ]
    async with Gateway(models={"m": provider}, guardrails={"pii": {"mode": "redact"}}) as gw:
        reply = await gw.chat.completions.create(
            model="m", messages=history, metadata={"api_key": "Zx81kq0LmP2w"}
        )
    sent = _sent(provider)
    assert PASSWORD not in sent and "Zx81kq0LmP2w" not in sent
    assert PASSWORD in reply.text()  # the echo of the last message, restored


async def test_tool_arguments_under_any_key_are_restored() -> None:
    def answer(request: ChatCompletionRequest) -> Any:
        from llmgateway.types import ChatChoice, ChatCompletion, FunctionCall, ResponseMessage, ToolCall

        arguments = json.dumps({"name": "<EMAIL_1>", "to": "<EMAIL_1>"})
        call = ToolCall(id="c", function=FunctionCall(name="send", arguments=arguments))
        return ChatCompletion(
            id="x", created=0, model="m", choices=[ChatChoice(message=ResponseMessage(tool_calls=[call]))]
        )

    async with Gateway(models={"m": MockProvider(answer)}, guardrails={"pii": {"mode": "redact"}}) as gw:
        reply = await gw.chat.completions.create(model="m", messages=[{"role": "user", "content": EMAIL}])
    arguments = reply.choices[0].message.tool_calls[0].function.arguments  # type: ignore[index,union-attr]
    assert json.loads(arguments) == {"name": EMAIL, "to": EMAIL}


@pytest.mark.parametrize("stream", [False, True])
async def test_the_output_classifier_never_sees_a_restored_secret(stream: bool) -> None:
    SEEN.clear()
    policy = {"classifier": {"kind": "callable", "callable": "tests.guardrails.test_guard_depth:remember"}}
    provider = MockProvider(lambda request: f"Noted: {PASSWORD} is too weak.")
    async with Gateway(
        models={"m": provider}, guardrails={"pii": {"mode": "redact"}, "policy": policy}
    ) as gw:
        messages = [{"role": "user", "content": f"password={PASSWORD}"}]
        if stream:
            answer = await gw.chat.completions.create(model="m", messages=messages, stream=True)
            text = "".join([c.choices[0].delta.content or "" async for c in answer if c.choices])
        else:
            text = (await gw.chat.completions.create(model="m", messages=messages)).text()
    assert PASSWORD in text  # the caller gets it back
    assert [stage for stage, _ in SEEN] == ["input", "output"]
    assert all(PASSWORD not in seen for _, seen in SEEN)


async def test_nested_fields_of_stream_chunks_are_restored_and_screened() -> None:
    from llmgateway.guardrails.guarded_stream import restored_chunks, screened_chunks
    from llmgateway.guardrails.pii.redaction import Redaction
    from llmgateway.guardrails.pii.scanner import PiiScanner
    from llmgateway.guardrails.pii.settings import PiiDetectorsConfig
    from llmgateway.guardrails.policy.engine import ContentPolicy
    from llmgateway.guardrails.policy.settings import PolicyConfig
    from llmgateway.types import ChatCompletionChunk, ChunkChoice, ChunkDelta
    from tests.guardrails.test_guarded_stream import Upstream

    redaction = Redaction(PiiScanner.from_config(PiiDetectorsConfig()))
    redaction.redact(EMAIL)

    def chunk(text: str) -> ChatCompletionChunk:
        delta = ChunkDelta.model_validate({"reasoning_details": [{"type": "reasoning.text", "text": text}]})
        return ChatCompletionChunk(id="c", created=0, model="m", choices=[ChunkChoice(delta=delta)])

    restored = [c async for c in restored_chunks(Upstream([chunk("user is <EMAIL_1>")]), redaction)]
    assert restored[0].choices[0].delta.__pydantic_extra__ == {
        "reasoning_details": [{"type": "reasoning.text", "text": f"user is {EMAIL}"}]
    }
    policy = ContentPolicy.from_config(
        PolicyConfig.model_validate({"blocklist": [{"category": "x", "terms": ["pipe bomb"]}]})
    )

    async def refused(error: Any) -> None:
        return None

    from llmgateway.errors import ContentPolicyError

    with pytest.raises(ContentPolicyError):
        async for _ in screened_chunks(Upstream([chunk("a pipe bomb, then")]), policy.stream_check, refused):
            pass


async def test_a_classifier_failure_at_a_streams_end_spares_the_deployment() -> None:
    policy = {
        "classifier": {"kind": "callable", "callable": "tests.guardrails.test_guard_depth:fails_on_answers"}
    }
    async with Gateway(models={"m": MockProvider()}, guardrails={"policy": policy}) as gw:
        deployment = gw.deployments()[0]
        for _ in range(6):
            stream = await gw.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            with pytest.raises(PolicyCheckFailedError):
                async for _ in stream:
                    pass
        assert deployment.breaker.available(0) and deployment.stats.error_rate(0) == 0


@pytest.mark.parametrize("guardrails", [None, {"policy": {"blocklist": [{"terms": ["nothing-matches"]}]}}])
async def test_a_callers_own_pii_mode_holds_in_the_sdk(guardrails: Any) -> None:
    provider = MockProvider()
    async with Gateway(
        models={"m": provider}, guardrails=guardrails, caller={"key": "k", "pii": "redact"}
    ) as gw:
        await gw.chat.completions.create(model="m", messages=[{"role": "user", "content": EMAIL}])
        assert EMAIL not in _sent(provider)
        await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": EMAIL}], caller="other"
        )
        assert EMAIL not in _sent(provider)  # a key given by name keeps the gateway caller's team and mode
        await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": EMAIL}], caller={"key": "x", "pii": "off"}
        )
        assert EMAIL in _sent(provider)


async def test_binary_payloads_are_left_alone() -> None:
    provider = MockProvider()
    image = {"type": "image", "source": {"type": "base64", "data": f"{EMAIL}QUJD" * 10}}
    url = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{EMAIL}"}}
    async with Gateway(models={"m": provider}, guardrails={"pii": {"mode": "redact"}}) as gw:
        await gw.chat.completions.create(model="m", messages=[{"role": "user", "content": [image, url]}])
    parts = provider.calls[-1].messages[0].content
    assert parts == [image, url]


def test_a_long_run_of_numbers_is_split_in_bounded_groups() -> None:
    from llmgateway.guardrails.pii.detectors import _MAX_PHONE_DIGITS, _split_groups

    text = "1111 " * 40_000
    groups = _split_groups(text, 0, len(text))
    assert sum(len(g.digits) for g in groups) <= _MAX_PHONE_DIGITS + 4


async def test_text_that_starts_like_a_data_url_and_data_keys_outside_parts_are_text() -> None:
    provider = MockProvider()
    async with Gateway(models={"m": provider}, guardrails={"pii": {"mode": "redact"}}) as gw:
        await gw.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": f"data: my email is {EMAIL}"}],
            metadata={"data": EMAIL, "file": PHONE},
        )
    assert EMAIL not in _sent(provider) and PHONE not in _sent(provider)


async def test_placeholders_under_data_keys_in_tool_arguments_are_restored() -> None:
    def answer(request: ChatCompletionRequest) -> Any:
        from llmgateway.types import ChatChoice, ChatCompletion, FunctionCall, ResponseMessage, ToolCall

        arguments = json.dumps({"data": "<EMAIL_1>", "file": {"name": "<EMAIL_1>"}})
        call = ToolCall(id="c", function=FunctionCall(name="save", arguments=arguments))
        return ChatCompletion(
            id="x", created=0, model="m", choices=[ChatChoice(message=ResponseMessage(tool_calls=[call]))]
        )

    async with Gateway(models={"m": MockProvider(answer)}, guardrails={"pii": {"mode": "redact"}}) as gw:
        reply = await gw.chat.completions.create(model="m", messages=[{"role": "user", "content": EMAIL}])
    arguments = reply.choices[0].message.tool_calls[0].function.arguments  # type: ignore[index,union-attr]
    assert json.loads(arguments) == {"data": EMAIL, "file": {"name": EMAIL}}


async def test_words_under_secret_sounding_names_are_not_secrets() -> None:
    provider = MockProvider()
    tools = [{"type": "function", "function": {"name": "press", "parameters": {"type": "object"}}}]
    history = [
        {"role": "system", "content": "You are support-bot-v2 for ACME."},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "function": {"name": "press", "arguments": '{"key": "Return"}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "pressed"},
        {"role": "user", "content": "press Return again"},
    ]
    async with Gateway(models={"m": provider}, guardrails={"pii": {"mode": "redact"}}) as gw:
        await gw.chat.completions.create(
            model="m",
            messages=history,
            tools=tools,
            metadata={"auth": "system", "token": "function"},
            prompt_cache_key="support-bot-v2",
        )
    request = provider.calls[-1]
    assert request.model_dump(exclude_unset=True)["prompt_cache_key"] == "support-bot-v2"
    assert (
        request.messages[0].role == "system"
        and request.messages[0].content == "You are support-bot-v2 for ACME."
    )
    assert request.messages[3].content == "press Return again" and request.tools[0]["type"] == "function"


async def test_function_names_get_the_bare_placeholder() -> None:
    provider = MockProvider()
    tools = [{"type": "function", "function": {"name": "Jane", "parameters": {"type": "object"}}}]
    async with Gateway(
        models={"m": provider}, guardrails={"pii": {"mode": "redact", "names": {"names": ["Jane"]}}}
    ) as gw:
        await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi Jane"}], tools=tools
        )
    request = provider.calls[-1]
    assert request.tools[0]["function"]["name"] == "NAME_1" and request.messages[0].content == "hi <NAME_1>"
