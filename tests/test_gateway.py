"""The Gateway end to end over mock deployments: routing, fallback, streaming, cost, metadata."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from llmgateway import (
    APIConnectionError,
    BadRequestError,
    Capabilities,
    Deployment,
    Gateway,
    NoDeploymentAvailableError,
    NotFoundError,
    RateLimitError,
    StreamInterruptedError,
    SyncGateway,
    UpstreamServerError,
)
from llmgateway.accounting.pricing import Pricing
from providers.mock import ConnectionReset, DropStream, MockProvider, RateLimited, ServerError
from tests.payloads import USER


async def test_answer_carries_metadata_and_exact_cost() -> None:
    pricing = Pricing(input_per_million=Decimal("1.50"), output_per_million=Decimal("6"))
    provider = MockProvider(lambda r: "Paris", name="cheap")
    async with Gateway(models={"chat": Deployment("cheap", provider, pricing=pricing)}) as gw:
        reply = await gw.chat.completions.create(model="chat", messages=USER)
    meta = reply.gateway
    assert (
        meta is not None and meta.deployment == "cheap" and meta.provider == "mock" and meta.model == "chat"
    )
    assert reply.usage is not None
    assert meta.cost.input == Decimal("1.50") * reply.usage.prompt_tokens / 1_000_000
    assert meta.cost.output == Decimal("0.000006")
    assert meta.cost.total == meta.cost.input + meta.cost.output
    assert isinstance(meta.cost.total, Decimal) and not meta.cost.estimated
    assert [a.outcome for a in meta.attempts] == ["ok"] and meta.latency_ms > 0
    assert provider.closed


async def test_retryable_failures_fall_back_in_order() -> None:
    first = MockProvider(name="a", script=[RateLimited(1)])
    second = MockProvider(name="b", script=[ConnectionReset()])
    third = MockProvider(name="c")
    gw = Gateway(models={"chat": [first, second, third]})
    reply = await gw.chat.completions.create(model="chat", messages=USER)
    assert reply.gateway is not None and reply.gateway.deployment == "c"
    assert [(a.deployment, a.outcome, a.status_code) for a in reply.gateway.attempts] == [
        ("a", "error", 429),
        ("b", "error", 502),
        ("c", "ok", None),
    ]


async def test_non_retryable_error_is_raised_at_once() -> None:
    second = MockProvider(name="b")
    gw = Gateway(models={"chat": [MockProvider(name="a", script=[ServerError(400)]), second]})
    with pytest.raises(BadRequestError) as caught:
        await gw.chat.completions.create(model="chat", messages=USER)
    assert caught.value.deployment == "a" and len(caught.value.attempts) == 1
    assert len(second.calls) == 0


async def test_all_failing_raises_the_last_error_with_every_attempt() -> None:
    failing_a = MockProvider(name="a", script=[ServerError(500)], repeat=True)
    failing_b = MockProvider(name="b", script=[RateLimited(0.01)], repeat=True)
    gw = Gateway(models={"chat": [failing_a, failing_b]})
    with pytest.raises(RateLimitError) as caught:
        await gw.chat.completions.create(model="chat", messages=USER)
    assert caught.value.retry_after == 0.01
    # Three passes (the default max_rounds) over both deployments, each try recorded.
    assert [a.deployment for a in caught.value.attempts] == ["a", "b"] * 3
    assert caught.value.attempts[2].wait_ms > 0  # the backoff before the second pass


async def test_a_failed_pass_is_retried_after_a_backoff() -> None:
    gw = Gateway(
        models={
            "chat": [
                MockProvider(name="a", script=[ServerError(503)]),
                MockProvider(name="b", script=[ConnectionReset()]),
            ]
        }
    )
    reply = await gw.chat.completions.create(model="chat", messages=USER)
    meta = reply.gateway
    assert meta is not None and meta.routing is not None and meta.routing.rounds == 2
    assert [(a.deployment, a.outcome) for a in meta.attempts] == [("a", "error"), ("b", "error"), ("a", "ok")]
    assert meta.attempts[2].wait_ms > 0 and meta.routing.policy == "priority"


async def test_a_provider_bug_becomes_a_typed_error_and_falls_back() -> None:
    def broken(request: object) -> str:
        raise KeyError("oops")

    gw = Gateway(models={"chat": [MockProvider(broken, name="buggy"), MockProvider(name="ok")]})
    reply = await gw.chat.completions.create(model="chat", messages=USER)
    assert reply.gateway is not None and reply.gateway.attempts[0].error is not None
    assert "KeyError" in reply.gateway.attempts[0].error
    gw_alone = Gateway(models={"chat": MockProvider(broken, name="buggy")})
    with pytest.raises(UpstreamServerError, match="failed unexpectedly"):
        await gw_alone.chat.completions.create(model="chat", messages=USER)


async def test_bad_input_and_unknown_model() -> None:
    gw = Gateway(models={"chat": MockProvider()})
    with pytest.raises(NotFoundError, match="known models: chat"):
        await gw.chat.completions.create(model="nope", messages=USER)
    with pytest.raises(BadRequestError, match=r"messages\[0\].role"):
        await gw.chat.completions.create(model="chat", messages=[{"role": "robot", "content": "x"}])
    with pytest.raises(BadRequestError, match="temperature"):
        await gw.chat.completions.create(model="chat", messages=USER, temperature=5)


async def test_stream_hides_usage_unless_asked_and_reports_metadata() -> None:
    gw = Gateway(models={"chat": MockProvider(lambda r: "a b c", name="s")})
    stream = await gw.chat.completions.create(model="chat", messages=USER, stream=True)
    chunks = [c async for c in stream]
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "a b c"
    assert stream.gateway is not None and stream.gateway.ttft_ms is not None
    assert stream.gateway.cost.estimated is False

    stream = await gw.chat.completions.create(
        model="chat", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert chunks[-1].gateway is not None and chunks[-1].gateway.deployment == "s"


async def test_stream_falls_back_before_first_chunk_but_never_replays() -> None:
    backup = MockProvider(name="backup")
    gw = Gateway(models={"chat": [MockProvider(name="a", script=[RateLimited(1)]), backup]})
    stream = await gw.chat.completions.create(model="chat", messages=USER, stream=True)
    [c async for c in stream]
    assert stream.gateway is not None and stream.gateway.deployment == "backup"

    backup = MockProvider(name="backup")
    gw = Gateway(
        models={"chat": [MockProvider(lambda r: "w1 w2 w3", name="a", script=[DropStream(1)]), backup]}
    )
    stream = await gw.chat.completions.create(model="chat", messages=USER, stream=True)
    received = []
    with pytest.raises(StreamInterruptedError) as caught:
        async for chunk in stream:
            received.append(chunk)
    assert caught.value.deployment == "a"
    assert len(received) == 2  # role chunk + one word, then the drop
    assert len(backup.calls) == 0  # tokens had reached the caller: no replay elsewhere


async def test_stream_without_usage_is_estimated() -> None:
    class NoUsage(MockProvider):
        async def stream_chat(self, request, *, timeout=None):  # type: ignore[no-untyped-def]
            async for chunk in super().stream_chat(request, timeout=timeout):
                if chunk.usage is None:
                    yield chunk

    pricing = Pricing(output_per_million=Decimal(1))
    gw = Gateway(models={"chat": Deployment("n", NoUsage(lambda r: "abcdefgh"), pricing=pricing)})
    stream = await gw.chat.completions.create(model="chat", messages=USER, stream=True)
    [c async for c in stream]
    assert stream.gateway is not None and stream.gateway.cost.estimated
    assert stream.gateway.cost.output == Decimal(2) / 1_000_000  # 8 characters ~ 2 tokens


async def test_capabilities_filter_deployments() -> None:
    chat_only = MockProvider(name="chat-only", capabilities=Capabilities(embeddings=False))
    embedder = MockProvider(name="embedder")
    gw = Gateway(models={"m": [chat_only, embedder], "c": chat_only})
    result = await gw.embeddings.create(model="m", input=["a", "b"])
    assert len(result.data) == 2 and result.gateway is not None and result.gateway.deployment == "embedder"
    with pytest.raises(NoDeploymentAvailableError, match="supports embeddings"):
        await gw.embeddings.create(model="c", input="a")


async def test_completions_and_models_list() -> None:
    gw = Gateway(models={"chat": MockProvider(lambda r: "done"), "other": MockProvider()})
    completion = await gw.completions.create(model="chat", prompt="say done")
    assert completion.choices[0].text == "done"
    assert [m.id for m in (await gw.models.list()).data] == ["chat", "other"]


async def test_rate_limit_rejects_after_max_wait_and_falls_back() -> None:
    config = {
        "models": {
            "chat": {
                "deployments": [
                    {"name": "slow", "provider": "mock", "limits": {"rpm": 1, "max_wait": 0.05}},
                    {"name": "spare", "provider": "mock"},
                ]
            }
        }
    }
    async with Gateway(config) as gw:
        first = await gw.chat.completions.create(model="chat", messages=USER)
        second = await gw.chat.completions.create(model="chat", messages=USER)
    assert first.gateway is not None and first.gateway.deployment == "slow"
    assert second.gateway is not None and second.gateway.deployment == "spare"
    assert second.gateway.attempts[0].status_code == 429


async def test_extra_body_and_unknown_params_reach_the_upstream(tmp_path: Path) -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(
            200,
            json={
                "id": "1",
                "created": 1,
                "model": "m",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
                ],
            },
        )

    config = tmp_path / "gw.yaml"
    config.write_text(
        "models:\n  chat:\n    deployments:\n      - provider: openai\n"
        "        settings: {base_url: 'http://up.test/v1'}\n"
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        async with Gateway(config, http_client=client) as gw:
            assert gw.http_client is client
            reply = await gw.chat.completions.create(
                model="chat", messages=USER, logit_bias={"1": 2}, extra_body={"repetition_penalty": 1.1}
            )
    assert reply.text() == "hi" and reply.gateway is not None and reply.gateway.cost.estimated is True
    assert seen[0]["logit_bias"] == {"1": 2} and seen[0]["repetition_penalty"] == 1.1


def test_sync_gateway_chat_and_stream() -> None:
    with SyncGateway(models={"chat": MockProvider(lambda r: "sync works")}) as gw:
        reply = gw.chat.completions.create(model="chat", messages=USER)
        assert reply.text() == "sync works"  # type: ignore[union-attr]
        stream = gw.chat.completions.create(model="chat", messages=USER, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)  # type: ignore[union-attr]
        assert text == "sync works"
        assert gw.embeddings.create(model="chat", input="x").data
        assert gw.models.list().data[0].id == "chat"
        with pytest.raises(APIConnectionError):
            SyncGateway(
                models={"c": MockProvider(script=[ConnectionReset()], repeat=True)}
            ).chat.completions.create(model="c", messages=USER)
    with pytest.raises(RuntimeError, match="closed"):
        gw.chat.completions.create(model="chat", messages=USER)


async def test_compute_seconds_are_billed_exactly() -> None:
    from llmgateway.types import ChatChoice, ChatCompletion, ResponseMessage, Usage

    def handler(request: object) -> ChatCompletion:
        usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, compute_seconds=0.25)
        return ChatCompletion(
            id="x",
            created=1,
            model="m",
            usage=usage,
            choices=[ChatChoice(message=ResponseMessage(content="hi"), finish_reason="stop")],
        )

    pricing = Pricing(per_compute_second=Decimal("0.0004"), per_request=Decimal("0.00001"))
    gw = Gateway(models={"m": Deployment("metered", MockProvider(handler), pricing=pricing)})
    reply = await gw.chat.completions.create(model="m", messages=USER)
    assert reply.gateway is not None
    assert reply.gateway.cost.compute == Decimal("0.0001")
    assert reply.gateway.cost.total == Decimal("0.00011")


async def test_tool_calls_route_to_a_deployment_that_supports_them() -> None:
    no_tools = MockProvider(name="no-tools", capabilities=Capabilities(tools=False))
    with_tools = MockProvider(name="with-tools")
    gw = Gateway(models={"m": [no_tools, with_tools]})
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    reply = await gw.chat.completions.create(model="m", messages=USER, tools=tools)
    assert reply.gateway is not None and reply.gateway.deployment == "with-tools"
    assert len(no_tools.calls) == 0
    plain = await gw.chat.completions.create(model="m", messages=USER)
    assert plain.gateway is not None and plain.gateway.deployment == "no-tools"


async def test_a_stream_closed_early_still_settles_its_cost() -> None:
    pricing = Pricing(output_per_million=Decimal(1_000_000))  # one unit per token: easy to read
    gw = Gateway(
        models={"m": Deployment("d", MockProvider(lambda r: "one two three four five"), pricing=pricing)}
    )
    stream = await gw.chat.completions.create(model="m", messages=USER, stream=True)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break  # the caller stops reading after the first word
    await stream.aclose()
    assert stream.gateway is not None and stream.gateway.cost.estimated
    assert stream.gateway.cost.output > 0


def test_a_failed_sync_gateway_leaves_no_thread() -> None:
    import threading

    from llmgateway import ConfigError

    before = threading.active_count()
    for _ in range(3):
        with pytest.raises(ConfigError):
            SyncGateway({"models": {}})
    assert threading.active_count() == before
