"""Request bodies and answers of each route: predict instances and predictions, TGI on rawPredict,
OpenAI chat, their streams, and errors written into a stream."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmgateway import Gateway
from llmgateway import errors as e
from llmgateway.transport import HttpxSender
from llmgateway.types import ChatCompletionRequest
from providers.chat_render import TemplateRenderer
from providers.gcp.auth import StaticToken
from providers.gcp.errors import PredictionFormatError
from providers.vertex import VertexProvider
from tests.providers.vertex.helpers import (
    OPENAI_ANSWER,
    REQUEST,
    gateway_config,
    provider,
    settings,
    status_body,
)

CHAT = ChatCompletionRequest.model_validate(
    {
        "model": "chat",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi {there}"}],
        "max_tokens": 7,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": "\n",
        "seed": 3,
    }
)


class Recorder:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def sse(*events: Any) -> httpx.Response:
    text = "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)
    return httpx.Response(200, content=text.encode(), headers={"content-type": "text/event-stream"})


async def collect(vx: VertexProvider, request: ChatCompletionRequest = REQUEST) -> list[Any]:
    return [chunk async for chunk in vx.stream_chat(request)]


# -- predict ----------------------------------------------------------------------------------


async def test_predict_messages_instance_and_parameters() -> None:
    rec = Recorder(httpx.Response(200, json={"predictions": ["Paris."], "deployedModelId": "1"}))
    vx = provider(rec, route="predict")
    reply = await vx.chat(CHAT)
    assert rec.requests[0].url.path.endswith("/endpoints/42:predict")
    assert rec.body() == {
        "instances": [
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi {there}"},
                ]
            }
        ],
        "parameters": {"max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "stop": "\n", "seed": 3},
    }
    assert reply.text() == "Paris." and reply.usage is None and reply.model == "1"


async def test_predict_prompt_renamed_parameters_in_instance_and_n_choices() -> None:
    predictions = [{"output": {"text": "A"}}, {"output": {"text": "B"}}]
    rec = Recorder(httpx.Response(200, json={"predictions": predictions}))
    predict = {
        "instance": "prompt",
        "parameters_in": "instance",
        "parameter_names": {"max_tokens": "max_new_tokens", "seed": None},
        "extra_parameters": {"raw_response": True},
        "prediction_field": "output.text",
    }
    vx = provider(rec, route="predict", predict=predict, model="my-model", chat_template="plain")
    reply = await vx.chat(CHAT.model_copy(update={"n": 2}))
    instance = {
        "prompt": "system: Be brief.\nuser: Hi {there}\nassistant:",
        "raw_response": True,
        "max_new_tokens": 7,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": "\n",
    }
    assert rec.body() == {"instances": [instance, instance]}
    assert [c.message.content for c in reply.choices] == ["A", "B"] and reply.model == "my-model"


@pytest.mark.parametrize(
    "prediction", [[{"generated_text": "ok"}], {"text": "ok"}, {"content": "ok"}, "ok", [["ok"]]]
)
async def test_common_prediction_shapes(prediction: Any) -> None:
    vx = provider(Recorder(httpx.Response(200, json={"predictions": [prediction]})), route="predict")
    if prediction == [["ok"]]:
        with pytest.raises(PredictionFormatError):
            await vx.chat(REQUEST)
        return
    assert (await vx.chat(REQUEST)).text() == "ok"


@pytest.mark.parametrize("answer", [{"predictions": []}, {"nope": 1}, [1, 2]])
async def test_wrong_prediction_count_or_shape(answer: Any) -> None:
    vx = provider(Recorder(httpx.Response(200, json=answer)), route="predict")
    with pytest.raises(PredictionFormatError, match="prediction"):
        await vx.chat(REQUEST)


async def test_predict_usage_counted_with_a_tokenizer() -> None:
    class WordTokenizer:  # the deployment's tokenizer, stood in for by a word count
        loaded = True

        def count_text(self, text: str) -> int:
            return len(text.split())

    rec = Recorder(httpx.Response(200, json={"predictions": ["Paris is big"]}))
    client = httpx.AsyncClient(transport=httpx.MockTransport(rec))
    s = settings(route="predict", chat_template="plain")
    vx = VertexProvider("vx", s, HttpxSender(client), StaticToken("t"), WordTokenizer())  # type: ignore[arg-type]
    reply = await vx.chat(REQUEST)
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (
        len("user: capital?\nassistant:".split()),
        3,
    )


async def test_predict_route_does_not_stream() -> None:
    vx = provider(Recorder(), route="predict")
    with pytest.raises(e.UnsupportedOperationError, match="raw or chat"):
        await collect(vx)
    async with Gateway(gateway_config(route="predict")) as gw:
        with pytest.raises(e.GatewayError, match="stream"):
            await gw.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "x"}], stream=True
            )


# -- templates --------------------------------------------------------------------------------


def render_chat(template: str, messages: Any) -> str:
    return TemplateRenderer(template).render(messages)


def test_named_and_custom_templates() -> None:
    messages = CHAT.messages
    assert render_chat("chatml", messages) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi {there}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert render_chat("gemma", messages).endswith("<start_of_turn>model\n")
    assert render_chat("gemma", messages).count("<start_of_turn>user") == 2  # no system role in Gemma
    assert render_chat("llama3", messages).startswith("<|begin_of_text|><|start_header_id|>system")
    custom = "#{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}<assistant>"
    assert render_chat(custom, messages) == "#<system>Be brief.</system><user>Hi {there}</user><assistant>"


class TemplateTokenizer:
    """The deployment's tokenizer, stood in for: a word count, and its own chat template (or none)."""

    loaded = True

    def __init__(self, chat_template: str | None) -> None:
        self.chat_template = chat_template

    def count_text(self, text: str) -> int:
        return len(text.split())

    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        return "".join(f"[{m['role']}] {m['content']} " for m in messages) + "[assistant]"


@pytest.mark.parametrize(
    ("own_template", "chat_template", "prompt"),
    [
        ("yes", None, "[user] capital? [assistant]"),  # the tokenizer's own template
        (None, None, "<|im_start|>user\ncapital?<|im_end|>\n<|im_start|>assistant\n"),  # chatml
        ("yes", "plain", "user: capital?\nassistant:"),  # chat_template wins over the tokenizer's
    ],
)
async def test_prompt_rendered_with_chat_template_else_tokenizer_else_chatml(
    own_template: str | None, chat_template: str | None, prompt: str
) -> None:
    rec = Recorder(httpx.Response(200, json={"predictions": ["Paris"]}))
    client = httpx.AsyncClient(transport=httpx.MockTransport(rec))
    s = settings(route="predict", predict={"instance": "inputs"}, chat_template=chat_template)
    tokenizer = TemplateTokenizer(own_template)
    vx = VertexProvider("vx", s, HttpxSender(client), StaticToken("t"), tokenizer)  # type: ignore[arg-type]
    reply = await vx.chat(REQUEST)
    assert rec.body()["instances"] == [{"inputs": prompt}]
    assert reply.usage is not None and reply.usage.prompt_tokens == len(prompt.split())


@pytest.mark.parametrize(
    ("values", "renders"),
    [
        ({"route": "chat"}, False),
        ({"route": "predict"}, False),  # messages instances, no tokenizer: nothing is rendered
        ({"route": "predict", "predict": {"instance": "prompt"}}, True),
        ({"route": "raw", "raw_format": "tgi"}, True),
    ],
)
def test_chat_template_compiled_at_load_where_prompts_are_rendered(
    values: dict[str, Any], renders: bool
) -> None:
    """A bad Jinja template fails at config load on routes that render with it; the others never
    compile it (so they need no jinja2)."""
    if renders:
        with pytest.raises(e.ConfigError, match="not a valid Jinja template"):
            provider(None, chat_template="{% for m in messages %}", **values)
    else:
        provider(None, chat_template="{% for m in messages %}", **values)


# -- TGI on rawPredict -----------------------------------------------------------------------------


async def test_tgi_body_and_answer_with_details() -> None:
    answer = [
        {
            "generated_text": "Paris",
            "details": {"finish_reason": "length", "generated_tokens": 2, "prompt_tokens": 9},
        }
    ]
    rec = Recorder(httpx.Response(200, json=answer))
    vx = provider(rec, route="raw", raw_format="tgi")
    reply = await vx.chat(CHAT)
    assert rec.requests[0].url.path.endswith(":rawPredict")
    body = rec.body()
    assert body["inputs"].startswith("<|im_start|>system") and body["stream"] is False
    assert body["parameters"] == {
        "details": True,
        "return_full_text": False,
        "max_new_tokens": 7,
        "do_sample": True,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 3,
    }
    assert reply.text() == "Paris" and reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (9, 2)


async def test_tgi_greedy_asks_for_no_sampling_and_unknown_prompt_count_leaves_usage_to_the_gateway() -> None:
    rec = Recorder(httpx.Response(200, json={"generated_text": "x", "details": {"generated_tokens": 1}}))
    greedy = REQUEST.model_copy(update={"temperature": 0.0, "top_p": 0.5})
    reply = await provider(rec, route="raw", raw_format="tgi").chat(greedy)
    parameters = rec.body()["parameters"]
    # TGI refuses temperature 0: greedy is do_sample false, and top_p goes only with sampling.
    assert parameters["do_sample"] is False and "temperature" not in parameters and "top_p" not in parameters
    assert reply.usage is None


async def test_tgi_body_is_the_shared_tgi_builders() -> None:
    from providers.tgi import tgi_body

    rec = Recorder(httpx.Response(200, json={"generated_text": "x"}))
    request = CHAT.model_copy(update={"frequency_penalty": 0.4})
    request = ChatCompletionRequest.model_validate(
        {**request.model_dump(exclude_none=True), "parameters": {"top_k": 20, "repetition_penalty": 1.2}}
    )
    vx = provider(rec, route="raw", raw_format="tgi")
    await vx.chat(request)
    body = rec.body()
    assert body == json.loads(tgi_body(body["inputs"], request, {}, stream=False))
    assert body["parameters"]["frequency_penalty"] == 0.4 and body["parameters"]["top_k"] == 20
    assert body["parameters"]["repetition_penalty"] == 1.2  # the caller's own TGI parameters pass on


async def test_tgi_deployment_parameters_go_with_every_call_under_the_request_rules() -> None:
    rec = Recorder(*[httpx.Response(200, json={"generated_text": "x"}) for _ in range(2)])
    defaults = {"top_k": 50, "temperature": 0.7, "adapter_id": "fr-lora", "repetition_penalty": 1.1}
    vx = provider(rec, route="raw", raw_format="tgi", tgi_parameters=defaults)
    await vx.chat(CHAT)
    sampled = rec.body()["parameters"]
    assert sampled["adapter_id"] == "fr-lora" and sampled["top_k"] == 50
    assert sampled["temperature"] == 0.5  # the request's own temperature wins over the default
    await vx.chat(CHAT.model_copy(update={"temperature": 0.0}))
    greedy = rec.body()["parameters"]
    # Greedy drops every default that would turn TGI's sampling on; the others stay.
    assert greedy["do_sample"] is False and "top_k" not in greedy and "temperature" not in greedy
    assert greedy["adapter_id"] == "fr-lora" and greedy["repetition_penalty"] == 1.1


async def test_tgi_refuses_a_callers_parameter_the_gateway_reads_the_answer_by() -> None:
    rec = Recorder()
    request = ChatCompletionRequest.model_validate(
        {**CHAT.model_dump(exclude_none=True), "parameters": {"details": False}}
    )
    with pytest.raises(e.BadRequestError, match="may not set 'details'"):
        await provider(rec, route="raw", raw_format="tgi").chat(request)
    assert rec.requests == []


async def test_tgi_refuses_more_than_one_choice() -> None:
    rec = Recorder()
    with pytest.raises(e.BadRequestError, match="n must be 1"):
        await provider(rec, route="raw", raw_format="tgi").chat(CHAT.model_copy(update={"n": 2}))
    assert rec.requests == []


async def test_tgi_stream() -> None:
    events = [
        {"token": {"text": "Pa", "special": False}, "generated_text": None, "details": None},
        {"token": {"text": "ris", "special": False}, "generated_text": None, "details": None},
        {
            "token": {"text": "</s>", "special": True},
            "generated_text": "Paris",
            "details": {"finish_reason": "eos_token", "generated_tokens": 3, "prompt_tokens": 5},
        },
    ]
    rec = Recorder(sse(*events))
    chunks = await collect(provider(rec, route="raw", raw_format="tgi"))
    assert rec.requests[0].url.path.endswith(":streamRawPredict") and rec.body()["stream"] is True
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 8
    assert len({c.id for c in chunks}) == 1


async def test_tgi_stream_error_event() -> None:
    events = [
        {"token": {"text": "Pa"}, "generated_text": None, "details": None},
        {"error": "CUDA out of memory"},
    ]
    vx = provider(Recorder(sse(*events)), route="raw", raw_format="tgi")
    with pytest.raises(e.StreamInterruptedError, match="CUDA out of memory") as caught:
        await collect(vx)
    assert caught.value.chunks_received == 1 and caught.value.deployment == "vx"


# -- OpenAI shape (chat route, raw openai) -------------------------------------------------------------


async def test_openai_body_model_override_and_stream_usage() -> None:
    chunk = {"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    done = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    usage = {
        "id": "c",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
    }
    rec = Recorder(httpx.Response(200, json=OPENAI_ANSWER), sse(chunk, done, usage, "[DONE]"))
    vx = provider(rec, route="chat", endpoint="openapi", model="google/gemini-2.0-flash-001")
    assert (await vx.chat(CHAT)).usage is not None
    plain = rec.body(0)
    assert plain["model"] == "google/gemini-2.0-flash-001" and plain["stream"] is False
    assert "stream_options" not in plain and plain["messages"][1]["content"] == "Hi {there}"
    chunks = await collect(vx)
    assert rec.body(1)["stream_options"] == {"include_usage": True}
    assert rec.requests[1].headers["accept"] == "text/event-stream"
    assert [c.usage for c in chunks][-1] is not None


@pytest.mark.parametrize(
    "events",
    [
        [{"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}],
        [],
    ],
)
async def test_stream_without_finish_is_interrupted(events: list[Any]) -> None:
    vx = provider(Recorder(sse(*events)), route="raw")
    with pytest.raises(e.StreamInterruptedError, match="without a finish reason"):
        await collect(vx)


async def test_google_error_written_into_a_stream_as_bare_json() -> None:
    chunk = {"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    error = json.dumps([status_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded")], indent=2)
    content = f"data: {json.dumps(chunk)}\n\n{error}\n".encode()
    vx = provider(Recorder(httpx.Response(200, content=content)), route="raw")
    with pytest.raises(e.StreamInterruptedError, match="Quota exceeded") as caught:
        await collect(vx)
    assert caught.value.chunks_received == 1 and caught.value.code == "RESOURCE_EXHAUSTED"


async def test_bare_json_error_before_any_chunk_keeps_its_class() -> None:
    body = json.dumps([status_body(400, "INVALID_ARGUMENT", "bad temperature")]).encode()
    vx = provider(Recorder(httpx.Response(200, content=body)), route="raw")
    with pytest.raises(e.BadRequestError, match="bad temperature"):
        await collect(vx)


async def test_openai_error_event_in_stream() -> None:
    vx = provider(Recorder(sse({"error": {"message": "overloaded", "code": 503}})), route="chat")
    with pytest.raises(e.StreamInterruptedError, match="overloaded"):
        await collect(vx)


async def test_transport_failures_and_timeouts() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    with pytest.raises(e.APIConnectionError, match="could not reach"):
        await provider(refuse, route="chat").chat(REQUEST)
    with pytest.raises(e.APITimeoutError):
        await provider(slow, route="chat").chat(REQUEST, timeout=0.5)
