"""What the guard covers beyond message text: every text field of a request, what the classifier
sees, tool-call arguments with escaped values, refusals and classifier failures in the books, keys
with their own PII mode on a gateway without a pii section, unknown models."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from llmgateway import Gateway
from llmgateway.caller import Caller
from llmgateway.errors import ContentPolicyError, NotFoundError, ServiceUnavailableError
from llmgateway.guardrails.policy.classifier import Classification
from llmgateway.types import ChatCompletionRequest
from providers.mock import MockProvider
from tests.guardrails.pii_samples import EMAIL, PHONE

SEEN: list[str] = []


async def remember(text: str, stage: str) -> Classification:
    """A classifier that records what it was shown (as a remote moderation service would)."""
    SEEN.append(text)
    return Classification(flagged=False)


async def broken(text: str, stage: str) -> Classification:
    raise RuntimeError("classifier down")


def _gateway(provider: MockProvider, tmp_path: Path | None = None, **guardrails: Any) -> Gateway:
    ledger = {"backend": "sqlite", "path": str(tmp_path / "ledger.sqlite")} if tmp_path else None
    return Gateway(models={"m": provider}, guardrails=guardrails, ledger=ledger)


def _ledger(tmp_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "ledger.sqlite") as connection:
        return connection.execute("SELECT outcome, error_type, prompt_tokens FROM llm_usage").fetchall()


async def test_every_text_field_of_a_request_is_redacted() -> None:
    provider = MockProvider()
    async with _gateway(provider, pii={"mode": "redact"}) as gw:
        await gw.chat.completions.create(
            model="m",
            messages=[
                {"role": "system", "content": [{"type": "input_text", "text": f"admin is {PHONE}"}]},
                {"role": "assistant", "content": "ok", "refusal": f"not for {EMAIL}"},
                {"role": "user", "content": "hi", "name": "Jane"},
            ],
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "send_mail",
                        "description": f"mails {EMAIL}",
                        "parameters": {"type": "object", "properties": {"to": {"enum": [EMAIL]}}},
                    },
                }
            ],
            stop=[EMAIL],
            response_format={"type": "json_schema", "json_schema": {"name": "r", "description": EMAIL}},
            metadata={"customer": EMAIL},
            prediction={"type": "content", "content": f"call {PHONE}"},
        )
        request = provider.calls[-1]
        sent = request.model_dump_json()
        assert EMAIL not in sent and PHONE not in sent
        assert request.tools[0]["function"]["name"] == "send_mail"  # identifiers stay
        assert request.messages[2].name == "Jane" and request.messages[0].role == "system"


async def test_a_message_name_gets_the_bare_placeholder() -> None:
    provider = MockProvider()
    names = {"names": {"names": ["Jane"]}}
    async with _gateway(provider, pii={"mode": "redact", **names}) as gw:
        await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi", "name": "Jane"}]
        )
        assert provider.calls[-1].messages[0].name == "NAME_1"  # valid for OpenAI's name pattern


async def test_the_classifier_sees_placeholders_never_values() -> None:
    SEEN.clear()
    policy = {"classifier": {"kind": "callable", "callable": "tests.guardrails.test_guard_coverage:remember"}}
    async with _gateway(MockProvider(), pii={"mode": "redact"}, policy=policy) as gw:
        reply = await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"mail {EMAIL}"}]
        )
        assert EMAIL in reply.text()  # the caller's answer is restored
    assert len(SEEN) == 2  # the request, then the answer
    assert all(EMAIL not in text and "<EMAIL_1>" in text for text in SEEN)


async def test_escaped_values_in_earlier_tool_calls_come_back_unchanged() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    arguments = json.dumps({"key": pem})

    def echo_arguments(request: ChatCompletionRequest) -> Any:
        from llmgateway.types import ChatChoice, ChatCompletion, FunctionCall, ResponseMessage, ToolCall

        sent = request.messages[0].tool_calls[0].function.arguments  # type: ignore[index,union-attr]
        call = ToolCall(id="c2", function=FunctionCall(name="store", arguments=sent))
        message = ResponseMessage(tool_calls=[call])
        return ChatCompletion(id="x", created=0, model="m", choices=[ChatChoice(message=message)])

    provider = MockProvider(echo_arguments)
    history = [
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "function": {"name": "store", "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "stored"},
    ]
    async with _gateway(provider, pii={"mode": "redact"}) as gw:
        reply = await gw.chat.completions.create(model="m", messages=history)
    sent = provider.calls[-1].messages[0].tool_calls[0].function.arguments
    assert "PRIVATE KEY" not in sent and json.loads(sent) == {"key": "<SECRET_1>"}
    restored = reply.choices[0].message.tool_calls[0].function.arguments  # type: ignore[index,union-attr]
    assert json.loads(restored) == {"key": pem}


async def test_a_classifier_failure_on_the_answer_is_booked(tmp_path: Path) -> None:
    provider = MockProvider()
    classifier = {
        "kind": "callable",
        "callable": "tests.guardrails.test_guard_coverage:broken",
        "stages": ["output"],
    }
    async with _gateway(provider, tmp_path, policy={"classifier": classifier}) as gw:
        with pytest.raises(ServiceUnavailableError, match="classifier"):
            await gw.chat.completions.create(model="m", messages=[{"role": "user", "content": "hello there"}])
    assert [(outcome, tokens > 0) for outcome, _, tokens in _ledger(tmp_path)] == [("refused", True)]


async def test_a_stream_refused_at_its_first_token_is_booked_as_refused(tmp_path: Path) -> None:
    provider = MockProvider(lambda request: "forbidden words follow")
    policy = {"blocklist": [{"category": "x", "terms": ["forbidden"]}]}
    async with _gateway(provider, tmp_path, policy=policy) as gw:
        stream = await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        received: list[Any] = []
        with pytest.raises(ContentPolicyError):
            async for chunk in stream:
                received.append(chunk)
        assert not any(c.choices and c.choices[0].delta.content for c in received)
    assert [(outcome, tokens > 0) for outcome, _, tokens in _ledger(tmp_path)] == [("refused", True)]


async def test_a_keys_pii_mode_holds_without_a_pii_section(tmp_path: Path) -> None:
    config = {
        "models": {"m": {"deployments": [{"name": "remote", "provider": "mock"}]}},
        "server": {
            "master_key": "sk-test-master-key-0123456789",
            "keys": {"path": str(tmp_path / "k.sqlite")},
        },
        "audit": {"backend": "memory"},
    }
    async with Gateway(config) as gw:
        provider: Any = gw.deployments()[0].provider
        await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": EMAIL}], caller=Caller(key="k", pii="redact")
        )
        assert EMAIL not in provider.calls[-1].model_dump_json()
        await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": EMAIL}], caller=Caller(key="k2")
        )
        assert EMAIL in provider.calls[-1].model_dump_json()  # no mode: off


async def test_an_unknown_model_is_not_found_before_any_guard() -> None:
    async with Gateway(
        {"models": {"m": {"deployments": [{"provider": "mock"}]}}, "audit": {"backend": "memory"}},
        guardrails={"pii": {"mode": "block"}},
    ) as gw:
        with pytest.raises(NotFoundError):
            await gw.chat.completions.create(
                model=f"x {EMAIL}", messages=[{"role": "user", "content": EMAIL}]
            )
        assert await gw.audit.query() == []


async def test_block_mode_with_no_capable_exempt_deployment_is_a_pii_refusal() -> None:
    from llmgateway.errors import PiiBlockedError
    from llmgateway.provider import Capabilities
    from llmgateway.routing.deployment import Deployment

    local = MockProvider(capabilities=Capabilities(chat=True, streaming=True, tools=False))
    remote = MockProvider()
    deployments = [Deployment(name="remote", provider=remote), Deployment(name="trusted", provider=local)]
    guardrails = {"pii": {"mode": "block", "exempt_deployments": ["trusted"]}}
    async with Gateway(models={"m": deployments}, guardrails=guardrails) as gw:
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        with pytest.raises(PiiBlockedError, match="none of them supports tool calls"):
            await gw.chat.completions.create(
                model="m", messages=[{"role": "user", "content": EMAIL}], tools=tools
            )
        assert not remote.calls and not local.calls
