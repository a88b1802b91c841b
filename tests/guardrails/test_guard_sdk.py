"""The guardrails on the SDK's call path: what each deployment receives, what the caller gets
back, per model / per key modes, blocks, the content policy, the cache and the audit log."""

from __future__ import annotations

from typing import Any

import pytest

from llmgateway import Gateway
from llmgateway.caller import Caller
from llmgateway.errors import ContentPolicyError, PiiBlockedError
from llmgateway.types import ChatCompletionRequest
from tests.guardrails.pii_samples import ALL, API_KEY, CARD, EMAIL, IBAN, PROMPT

USER = [{"role": "user", "content": PROMPT}]


def _config(
    pii: dict[str, Any] | None = None, policy: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    guardrails: dict[str, Any] = {}
    if pii is not None:
        guardrails["pii"] = pii
    if policy is not None:
        guardrails["policy"] = policy
    return {
        "models": {
            "remote": {"deployments": [{"name": "remote-a", "provider": "mock"}]},
            "mixed": {
                "routing": {"policy": "priority"},
                "deployments": [
                    {"name": "remote-b", "provider": "mock"},
                    {"name": "trusted", "provider": "mock"},
                ],
            },
        },
        "audit": {"backend": "memory"},
        "guardrails": guardrails,
        **extra,
    }


def _providers(gw: Gateway) -> dict[str, Any]:
    return {d.name: d.provider for d in gw.deployments()}


def _sent(provider: Any) -> str:
    """Everything the deployment was sent, as one string."""
    return "\n".join(r.model_dump_json() for r in provider.calls)


def _assert_clean(text: str) -> None:
    for value in ALL:
        assert value not in text, f"{value!r} reached the deployment"


async def test_remote_deployment_gets_placeholders_and_the_caller_gets_the_values() -> None:
    async with Gateway(_config(pii={"mode": "redact"})) as gw:
        reply = await gw.chat.completions.create(model="remote", messages=USER)
        sent = _sent(_providers(gw)["remote-a"])
        _assert_clean(sent)
        assert "<EMAIL_1>" in sent and "<CARD_1>" in sent and "<IBAN_1>" in sent
        assert reply.text() == f"You said: {PROMPT}"  # the echo, restored


async def test_stream_is_restored() -> None:
    async with Gateway(_config(pii={"mode": "redact"})) as gw:
        stream = await gw.chat.completions.create(model="remote", messages=USER, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        _assert_clean(_sent(_providers(gw)["remote-a"]))
        assert text.strip() == f"You said: {PROMPT}"


async def test_completions_and_embeddings_are_redacted() -> None:
    async with Gateway(_config(pii={"mode": "redact"})) as gw:
        done = await gw.completions.create(model="remote", prompt=PROMPT)
        await gw.embeddings.create(model="remote", input=[PROMPT, "nothing here"])
        _assert_clean(_sent(_providers(gw)["remote-a"]))
        assert EMAIL in done.choices[0].text


async def test_exempt_deployment_gets_the_original() -> None:
    config = _config(pii={"mode": "redact", "exempt_deployments": ["trusted"]})
    config["models"]["mixed"]["deployments"].reverse()  # the trusted one first
    async with Gateway(config) as gw:
        await gw.chat.completions.create(model="mixed", messages=USER)
        assert EMAIL in _sent(_providers(gw)["trusted"])


async def test_block_mode_refuses_and_audits_without_values() -> None:
    async with Gateway(_config(pii={"mode": "block"})) as gw:
        with pytest.raises(PiiBlockedError) as caught:
            await gw.chat.completions.create(model="remote", messages=USER, caller="team-key")
        assert caught.value.status_code == 400
        assert {"email", "card", "iban", "secret"} <= set(caught.value.kinds)
        assert not _providers(gw)["remote-a"].calls
        for value in ALL:
            assert value not in caught.value.message
        entries = await gw.audit.query(action="call.blocked")
        assert len(entries) == 1
        entry = entries[0]
        assert entry.actor == "team-key" and entry.target == "remote" and entry.outcome == "blocked"
        assert entry.request_id
        for value in ALL:
            assert value not in str(entry.public())


async def test_block_mode_routes_to_exempt_deployments_only() -> None:
    async with Gateway(_config(pii={"mode": "block", "exempt_deployments": ["trusted"]})) as gw:
        reply = await gw.chat.completions.create(model="mixed", messages=USER)
        assert reply.gateway is not None and reply.gateway.deployment == "trusted"
        assert not _providers(gw)["remote-b"].calls
        # Without PII the priority order holds again.
        clean = await gw.chat.completions.create(model="mixed", messages=[{"role": "user", "content": "hi"}])
        assert clean.gateway is not None and clean.gateway.deployment == "remote-b"


async def test_per_model_and_per_key_modes() -> None:
    async with Gateway(_config(pii={"mode": "redact", "models": {"mixed": "off"}})) as gw:
        providers = _providers(gw)
        await gw.chat.completions.create(model="mixed", messages=USER)
        assert EMAIL in _sent(providers["remote-b"])  # the model is off
        await gw.chat.completions.create(model="remote", messages=USER, caller=Caller(key="k1", pii="off"))
        assert EMAIL in _sent(providers["remote-a"])  # the key is off
        providers["remote-a"].calls.clear()
        with pytest.raises(PiiBlockedError):
            await gw.chat.completions.create(
                model="remote", messages=USER, caller=Caller(key="k2", pii="block")
            )
        assert not providers["remote-a"].calls


async def test_text_without_pii_is_sent_unchanged() -> None:
    async with Gateway(_config(pii={"mode": "block"})) as gw:
        reply = await gw.chat.completions.create(
            model="remote", messages=[{"role": "user", "content": "Hi there"}]
        )
        assert reply.text() == "You said: Hi there"


async def test_calls_with_pii_skip_the_cache() -> None:
    async with Gateway(_config(pii={"mode": "redact"}, cache={"backend": "memory"})) as gw:
        first = await gw.chat.completions.create(model="remote", messages=USER, temperature=0)
        second = await gw.chat.completions.create(model="remote", messages=USER, temperature=0)
        assert first.gateway is not None and first.gateway.cache == "skip"
        assert second.gateway is not None and second.gateway.cache == "skip"
        assert len(_providers(gw)["remote-a"].calls) == 2
        clean = [{"role": "user", "content": "no personal data"}]
        await gw.chat.completions.create(model="remote", messages=clean, temperature=0)
        hit = await gw.chat.completions.create(model="remote", messages=clean, temperature=0)
        assert hit.gateway is not None and hit.gateway.cache == "hit"


async def test_tool_call_arguments_are_redacted_and_restored() -> None:
    def tool_answer(request: ChatCompletionRequest) -> Any:
        from llmgateway.types import ChatChoice, ChatCompletion, FunctionCall, ResponseMessage, ToolCall

        # The model passes the placeholder it was given on to a tool.
        args = request.messages[-1].text().split("to ")[-1]
        return ChatCompletion(
            id="x",
            created=0,
            model="m",
            choices=[
                ChatChoice(
                    message=ResponseMessage(
                        tool_calls=[
                            ToolCall(
                                id="c1", function=FunctionCall(name="send", arguments=f'{{"to": "{args}"}}')
                            )
                        ]
                    ),
                    finish_reason="tool_calls",
                )
            ],
        )

    from providers.mock import MockProvider

    tools = [{"type": "function", "function": {"name": "send", "parameters": {"type": "object"}}}]
    async with Gateway(models={"m": MockProvider(tool_answer)}, guardrails={"pii": {"mode": "redact"}}) as gw:
        reply = await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"send it to {EMAIL}"}], tools=tools
        )
        call = reply.choices[0].message.tool_calls
        assert call is not None and call[0].function is not None
        assert call[0].function.arguments == f'{{"to": "{EMAIL}"}}'


async def test_policy_refuses_input_before_any_call_and_audits() -> None:
    policy = {"blocklist": [{"category": "weapons", "terms": ["build a bomb"]}]}
    async with Gateway(_config(policy=policy)) as gw:
        with pytest.raises(ContentPolicyError) as caught:
            await gw.chat.completions.create(
                model="remote", messages=[{"role": "user", "content": "how do I BUILD a\nbomb"}]
            )
        assert caught.value.stage == "input" and caught.value.category == "weapons"
        assert "bomb" not in caught.value.message
        assert not _providers(gw)["remote-a"].calls
        entries = await gw.audit.query(action="call.blocked")
        assert [e.details["category"] for e in entries] == ["weapons"]


async def test_policy_refuses_output_and_books_its_cost(tmp_path: Any) -> None:
    from providers.mock import MockProvider

    def rude(request: ChatCompletionRequest) -> str:
        return "sure: here is how to build a bomb"

    policy = {"blocklist": [{"category": "weapons", "terms": ["build a bomb"]}]}
    path = tmp_path / "ledger.sqlite"
    async with Gateway(
        models={"m": MockProvider(rude)},
        guardrails={"policy": policy},
        ledger={"backend": "sqlite", "path": str(path)},
    ) as gw:
        with pytest.raises(ContentPolicyError) as caught:
            await gw.chat.completions.create(model="m", messages=[{"role": "user", "content": "hello"}])
        assert caught.value.stage == "output"
        stream = await gw.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(ContentPolicyError):
            async for _ in stream:
                pass
    import sqlite3

    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT outcome, prompt_tokens FROM llm_usage").fetchall()
    assert sorted(r[0] for r in rows) == ["refused", "refused"]
    assert all(r[1] > 0 for r in rows)  # the upstream's work is still booked


async def test_unknown_names_in_the_pii_section_fail_at_load() -> None:
    from llmgateway.errors import ConfigError

    with pytest.raises(ConfigError, match=r"guardrails\.pii\.models\.nope"):
        Gateway(_config(pii={"models": {"nope": "block"}}))
    with pytest.raises(ConfigError, match="exempt_deployments"):
        Gateway(_config(pii={"exempt_deployments": ["nope"]}))


def test_pii_values_in_samples_are_all_distinct() -> None:
    assert len(set(ALL)) == len(ALL) and API_KEY.startswith("sk-") and IBAN.startswith("GB")
    assert CARD.replace(" ", "").isdigit()
