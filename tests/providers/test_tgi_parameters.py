"""TGI's generation parameters as the gateway sends them: temperature 0 decodes greedily whatever
the deployment's defaults say (TGI samples whenever a warper is set, whatever ``do_sample`` says),
top_p alone means nucleus sampling (OpenAI's default temperature is 1), and the caller's own
``parameters`` may add TGI's extras but not override what the gateway admitted the call on or reads
the answer by."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmgateway import BadRequestError
from llmgateway.types import ChatCompletionRequest
from providers.tgi import tgi_body, tgi_parameters
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


def test_top_p_alone_is_nucleus_sampling() -> None:
    assert tgi_parameters(request(top_p=0.5), {}) == {"do_sample": True, "top_p": 0.5}
    # top_p 1 is no nucleus at all (and TGI wants top_p < 1): nothing is asked for.
    assert tgi_parameters(request(top_p=1.0), {}) == {}


@pytest.mark.parametrize(
    "field", ["max_new_tokens", "stop", "seed", "do_sample", "details", "return_full_text", "adapter_id"]
)
def test_the_caller_may_not_override_what_the_gateway_sets(field: str) -> None:
    with pytest.raises(BadRequestError, match=f"'{field}'") as raised:
        tgi_parameters(request(max_tokens=5, parameters={field: 1}), {"adapter_id": "mine"})
    assert raised.value.param == f"parameters.{field}"


def test_max_tokens_5_is_not_overridden_to_4000() -> None:
    with pytest.raises(BadRequestError, match="max_new_tokens"):
        tgi_body("hi", request(max_tokens=5, parameters={"max_new_tokens": 4000}), {}, stream=False)


@pytest.mark.parametrize("field", ["temperature", "top_p"])
def test_openai_fields_spelled_as_tgi_parameters_point_at_the_request_field(field: str) -> None:
    with pytest.raises(BadRequestError, match=f"the request's own '{field}'"):
        tgi_parameters(request(parameters={field: 0.5}), {})


def test_unknown_caller_parameters_are_refused_with_the_allowed_list() -> None:
    with pytest.raises(BadRequestError, match=r"best_of.*repetition_penalty"):
        tgi_parameters(request(parameters={"best_of": 2}), {})
    with pytest.raises(BadRequestError, match="must be an object"):
        tgi_parameters(request(parameters=["top_k", 5]), {})


def test_the_allowed_caller_parameters_pass_through() -> None:
    own = {name: 1 for name in CALLER_PARAMETERS}
    params = tgi_parameters(request(temperature=0.7, max_tokens=4, parameters=own), {"top_k": 50})
    assert params == {**own, "do_sample": True, "temperature": 0.7, "max_new_tokens": 4}


def test_the_deployment_may_set_anything() -> None:
    defaults = {"adapter_id": "mine", "details": False, "return_full_text": True, "best_of": 2}
    body = json.loads(tgi_body("hi", request(), defaults, stream=False))
    assert body["parameters"] == defaults
