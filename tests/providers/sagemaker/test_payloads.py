"""Payload formats: TGI (rendered prompt, parameters, details -> usage), the Messages API, raw
passthrough; usage exact when reported, counted with the deployment's tokenizer when configured,
else estimated by the gateway (and marked so); and closing a stream closes the HTTP response."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from bench.sagemaker_fake import payload_part
from llmgateway import BadRequestError, Gateway
from llmgateway.types import ChatCompletionRequest
from providers.tgi import tgi_parameters
from tests.providers.sagemaker.conftest import (
    CHAT_ANSWER,
    USER,
    Runtime,
    gateway_config,
    make_provider,
    settings,
)

TEMPLATE = (
    "{% for m in messages %}<s> {{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
    "{% if add_generation_prompt %}<s> assistant : {% endif %}"
)
WORDS = "[UNK] <s> </s> user assistant system : what is the capital of france ? paris hello"


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real Hugging Face tokenizer directory (word-level, with a chat template)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    directory = tmp_path_factory.mktemp("tokenizer")
    tokenizer = Tokenizer(
        models.WordLevel(vocab={w: i for i, w in enumerate(WORDS.split())}, unk_token="[UNK]")
    )
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(directory / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "chat_template": TEMPLATE}
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    return directory


def request(**values: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "chat", "messages": USER, **values})


def tgi_answer(text: str, **details: Any) -> httpx.Response:
    item: dict[str, Any] = {"generated_text": text}
    if details:
        item["details"] = details
    return httpx.Response(200, json=[item])


def test_tgi_parameters() -> None:
    assert tgi_parameters(request(temperature=0, max_tokens=5), {}) == {
        "do_sample": False,
        "max_new_tokens": 5,
    }
    sampled = tgi_parameters(request(temperature=0.7, top_p=0.9, stop="\n", seed=3), {"top_k": 50})
    assert sampled == {
        "top_k": 50,
        "do_sample": True,
        "temperature": 0.7,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 3,
    }
    assert "top_p" not in tgi_parameters(request(temperature=0.5, top_p=1.0), {})
    assert tgi_parameters(request(max_completion_tokens=9), {}) == {"max_new_tokens": 9}
    own = tgi_parameters(request(parameters={"repetition_penalty": 1.2, "top_k": 5}), {"top_k": 50})
    assert own == {"top_k": 5, "repetition_penalty": 1.2}
    with pytest.raises(BadRequestError, match="n must be 1"):
        tgi_parameters(request(n=2), {})


async def test_tgi_renders_the_configured_template_and_reads_details(
    mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.default = lambda r: tgi_answer(
        "Paris", finish_reason="length", generated_tokens=1, prefill=[{}] * 14
    )
    provider = make_provider(
        mock_client, format="tgi", chat_template=TEMPLATE, parameters={"repetition_penalty": 1.1}
    )
    answer = await provider.chat(request(max_tokens=1, temperature=0))
    body = json.loads(runtime.requests[0].content)
    assert body["inputs"] == "<s> user : What is the capital of France? </s> <s> assistant : "
    assert body["stream"] is False
    assert body["parameters"] == {
        "repetition_penalty": 1.1,
        "max_new_tokens": 1,
        "do_sample": False,
        "details": True,
        "return_full_text": False,
    }
    assert answer.text() == "Paris" and answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        14,
        1,
    )


async def test_tgi_renders_a_named_template(mock_client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.default = lambda r: tgi_answer("Paris", generated_tokens=1)
    provider = make_provider(mock_client, format="tgi", chat_template="chatml")
    await provider.chat(request(messages=[{"role": "developer", "content": "Be brief."}, *USER]))
    assert json.loads(runtime.requests[0].content)["inputs"] == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_chat_template_that_is_neither_a_name_nor_jinja_is_refused() -> None:
    with pytest.raises(ValidationError, match="neither a named chat template"):
        settings(format="tgi", chat_template="vicuna")


async def test_tgi_without_prompt_count_or_tokenizer_is_estimated_by_the_gateway(runtime: Runtime) -> None:
    runtime.default = lambda r: tgi_answer("Paris", finish_reason="eos_token", generated_tokens=1)
    config = gateway_config({"format": "tgi", "chat_template": TEMPLATE})
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(runtime)) as client,
        Gateway(config, http_client=client) as gw,
    ):
        reply = await gw.chat.completions.create(model="chat", messages=USER)
    assert reply.text() == "Paris" and reply.choices[0].finish_reason == "stop"
    assert reply.gateway is not None and reply.gateway.cost.estimated


async def test_tgi_with_tokenizer_uses_its_template_and_counts_exactly(
    tokenizer_dir: Path, runtime: Runtime
) -> None:
    runtime.default = lambda r: tgi_answer("paris", finish_reason="eos_token", generated_tokens=1)
    config = gateway_config({"format": "tgi", "tokenizer": str(tokenizer_dir)})
    messages = [{"role": "user", "content": "what is the capital of france ?"}]
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(runtime)) as client,
        Gateway(config, http_client=client) as gw,
    ):
        reply = await gw.chat.completions.create(model="chat", messages=messages)
    body = json.loads(runtime.requests[0].content)
    assert body["inputs"] == "<s> user : what is the capital of france ? </s> <s> assistant : "
    # 14 words in the rendered prompt, 1 generated token from details: exact, not estimated.
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (14, 1)
    assert reply.gateway is not None and not reply.gateway.cost.estimated


async def test_messages_without_usage_counted_with_tokenizer(
    tokenizer_dir: Path, mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    plain = {**CHAT_ANSWER, "choices": [{"index": 0, "message": {"role": "assistant", "content": "paris"}}]}
    plain.pop("usage")
    runtime.default = lambda r: httpx.Response(200, json=plain)
    counted = make_provider(mock_client, tokenizer=str(tokenizer_dir), model="tgi")
    answer = await counted.chat(request(messages=[{"role": "user", "content": "hello"}]))
    assert json.loads(runtime.requests[0].content)["model"] == "tgi"
    assert answer.usage is not None and (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (8, 1)
    assert (await make_provider(mock_client).chat(request())).usage is None


async def test_messages_stream_without_usage_gets_a_counted_usage_chunk(
    tokenizer_dir: Path, mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "paris"}}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    body = b"".join(payload_part(b"data: " + json.dumps(e).encode() + b"\n\n") for e in events)
    runtime.default = lambda r: httpx.Response(200, content=body + payload_part(b"data: [DONE]\n\n"))
    provider = make_provider(mock_client, tokenizer=str(tokenizer_dir), stream_usage=False)
    chunks = [c async for c in provider.stream_chat(request(messages=[{"role": "user", "content": "hello"}]))]
    assert "stream_options" not in json.loads(runtime.requests[0].content)
    usage = chunks[-1].usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (8, 1)


async def test_raw_sends_the_extra_body_as_is(mock_client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.default = lambda r: httpx.Response(200, json={"outputs": [0.1, 0.9]})
    provider = make_provider(mock_client, format="raw", content_type="application/x-custom")
    answer = await provider.chat(request(instances=[{"text": "hi"}], config={"k": 1}))
    sent = runtime.requests[0]
    assert json.loads(sent.content) == {"instances": [{"text": "hi"}], "config": {"k": 1}}
    assert sent.headers["content-type"] == "application/x-custom"
    assert json.loads(answer.text()) == {"outputs": [0.1, 0.9]}
    assert answer.model_extra is not None and answer.model_extra["raw_response"] == {"outputs": [0.1, 0.9]}
    assert answer.usage is None
    runtime.default = lambda r: httpx.Response(200, json="just text")
    assert (await provider.chat(request(inputs="x"))).text() == "just text"
    with pytest.raises(BadRequestError, match="extra_body"):
        await provider.chat(request())


async def test_raw_stream_passes_text_through_even_split_inside_a_character(
    mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = "naïve ☃ text".encode()
    runtime.default = lambda r: httpx.Response(
        200, content=b"".join(payload_part(text[i : i + 3]) for i in range(0, len(text), 3))
    )
    provider = make_provider(mock_client, format="raw")
    chunks = [c async for c in provider.stream_chat(request(inputs="x"))]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "naïve ☃ text"
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_template_refusal_is_a_bad_request(mock_client: httpx.AsyncClient) -> None:
    refuse = "{{ raise_exception('a system message comes first') }}"
    template = "{% if messages[0]['role'] != 'system' %}" + refuse + "{% endif %}"
    provider = make_provider(mock_client, format="tgi", chat_template=template)
    with pytest.raises(BadRequestError, match="a system message comes first"):
        await provider.chat(request())


def test_capabilities_follow_the_settings(mock_client: httpx.AsyncClient) -> None:
    assert make_provider(mock_client).capabilities.tools
    assert not make_provider(mock_client, format="tgi", chat_template=TEMPLATE).capabilities.tools
    # The streaming API cannot address one model of a multi-model endpoint.
    assert not make_provider(mock_client, target_model="m.tar.gz").capabilities.streaming


async def test_closing_a_stream_closes_the_http_response(
    mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    closed = asyncio.Event()

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield payload_part(b'data: {"index":1,"token":{"id":1,"text":"Hi","special":false}}\n\n')
            await asyncio.sleep(3600)

        async def aclose(self) -> None:
            closed.set()

    runtime.default = lambda r: httpx.Response(200, stream=Endless())
    provider = make_provider(mock_client, format="tgi", chat_template=TEMPLATE)
    stream = provider.stream_chat(request())
    first = await stream.__anext__()
    assert first.choices[0].delta.content == "Hi" and not closed.is_set()
    await stream.aclose()  # type: ignore[attr-defined]
    assert closed.is_set()
