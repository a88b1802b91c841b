"""TGI's generation parameters as the gateway sends them: temperature 0 decodes greedily whatever
the deployment's defaults say (TGI samples whenever a warper is set, whatever ``do_sample`` says),
top_p alone means nucleus sampling (OpenAI's default temperature is 1), and the caller's own
``parameters`` may add TGI's extras but not override what the gateway admitted the call on or reads
the answer by."""

from __future__ import annotations

import json
from typing import Any

import httpx

from llmgateway.types import ChatCompletionRequest
from providers.tgi import tgi_parameters
from tests.providers.sagemaker.conftest import USER, Runtime, make_provider

# A deployment whose defaults sample (TGI would sample with any one of them).
SAMPLING_DEFAULTS = {"top_k": 50, "temperature": 0.7, "top_p": 0.95, "typical_p": 0.9, "best_of": 2}
# What a caller may add in its own ``parameters``.
CALLER_PARAMETERS = [
    "top_k", "repetition_penalty", "frequency_penalty", "typical_p", "truncate", "watermark", "grammar",
    "top_n_tokens", "decoder_input_details",
]  # fmt: skip


def request(**values: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "chat", "messages": USER, **values})


def test_temperature_zero_drops_every_sampling_parameter_of_the_deployment() -> None:
    params = tgi_parameters(request(temperature=0, max_tokens=3), {**SAMPLING_DEFAULTS, "watermark": True})
    assert params == {"do_sample": False, "max_new_tokens": 3, "watermark": True}


def test_temperature_zero_drops_the_callers_sampling_parameters_too() -> None:
    params = tgi_parameters(request(temperature=0, top_p=0.5, parameters={"top_k": 5, "typical_p": 0.5}), {})
    assert params == {"do_sample": False}


async def test_sagemaker_deployment_defaults_do_not_make_a_greedy_call_sample() -> None:
    runtime = Runtime(default=lambda r: httpx.Response(200, json=[{"generated_text": "x"}]))
    async with httpx.AsyncClient(transport=httpx.MockTransport(runtime)) as client:
        provider = make_provider(
            client, format="tgi", chat_template="chatml", parameters={"top_k": 50, "temperature": 0.7}
        )
        await provider.chat(request(temperature=0))
    sent = json.loads(runtime.requests[0].content)["parameters"]
    assert sent == {"do_sample": False, "details": True, "return_full_text": False}


def test_a_sampled_call_keeps_the_deployment_defaults_it_does_not_set() -> None:
    params = tgi_parameters(request(temperature=0.5), {"top_k": 50, "temperature": 0.7})
    assert params == {"top_k": 50, "temperature": 0.5, "do_sample": True}
