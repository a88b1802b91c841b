"""``:predict`` bodies: a chat request as ``{"instances": [...], "parameters": {...}}``, and the
``predictions`` of the answer as chat choices.

One instance per requested choice (``n``): the container answers one prediction per instance. A
prediction is the generated text, or an object holding it (``prediction_field``). ``:predict``
answers carry no token counts, so usage is counted with the deployment's tokenizer when one is
configured, else left to the gateway's estimate (marked as estimated).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic_core import from_json, to_json

from llmgateway.types import ChatCompletion, ChatCompletionRequest
from providers.chunks import usage_of
from providers.gcp.errors import PredictionFormatError
from providers.gcp.settings import PredictSettings
from providers.gcp.wire import StreamParser, TokenCounter, answer_builder

if TYPE_CHECKING:
    from providers.chat_render import ChatRenderer

# The request fields a predict call can carry, by their OpenAI names.
SAMPLING_NAMES = (
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
)
_TEXT_FIELDS = ("generated_text", "text", "content", "output")


def sampling(request: ChatCompletionRequest) -> dict[str, Any]:
    """The request's sampling fields that are set, by OpenAI name."""
    values: dict[str, Any] = {
        "max_tokens": request.output_token_limit(),
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "seed": request.seed,
        "presence_penalty": request.presence_penalty,
        "frequency_penalty": request.frequency_penalty,
    }
    return {name: value for name, value in values.items() if value is not None}


class PredictFormat:
    """``renderer`` renders prompt / inputs instances and the prompt a tokenizer counts; it may be
    None only for messages instances without counting (nothing is rendered then)."""

    def __init__(
        self,
        settings: PredictSettings,
        model: str,
        count: TokenCounter | None = None,
        renderer: ChatRenderer | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self._count = count
        self._renderer = renderer

    def _prompt(self, request: ChatCompletionRequest) -> str:
        assert self._renderer is not None  # wire_format gives one wherever a prompt is rendered
        return self._renderer.render(request.messages)

    def _instance(self, request: ChatCompletionRequest) -> dict[str, Any]:
        if self.settings.instance == "messages":
            return {"messages": [m.model_dump(exclude_none=True) for m in request.messages]}
        return {self.settings.instance: self._prompt(request)}

    def _parameters(self, request: ChatCompletionRequest) -> dict[str, Any]:
        names = self.settings.parameter_names
        renamed = {}
        for name, value in sampling(request).items():
            target = names.get(name, name)
            if target is not None:
                renamed[target] = value
        return {**self.settings.extra_parameters, **renamed}

    def body(self, request: ChatCompletionRequest, *, stream: bool) -> bytes:
        instance = self._instance(request)
        parameters = self._parameters(request)
        payload: dict[str, Any]
        if self.settings.parameters_in == "instance":
            payload = {"instances": [{**instance, **parameters}] * (request.n or 1)}
        else:
            payload = {"instances": [instance] * (request.n or 1), "parameters": parameters}
        return to_json(payload)

    def parse(self, body: bytes, request: ChatCompletionRequest) -> ChatCompletion:
        try:
            answer = from_json(body)
        except ValueError as exc:
            raise PredictionFormatError(f"the endpoint's predict answer is not JSON: {exc}") from exc
        predictions = answer.get("predictions") if isinstance(answer, dict) else None
        expected = request.n or 1
        if not isinstance(predictions, list) or len(predictions) != expected:
            raise PredictionFormatError(
                f"expected {expected} prediction(s) in the answer's 'predictions', got "
                f"{type(predictions).__name__ if not isinstance(predictions, list) else len(predictions)}"
            )
        texts = [self._text(p) for p in predictions]
        model = self.model or str(answer.get("modelDisplayName") or answer.get("deployedModelId") or "vertex")
        usage = None
        if self._count is not None:
            prompt = self._count(self._prompt(request))
            usage = usage_of(prompt * expected, sum(self._count(t) for t in texts))
        return answer_builder(model).completion(texts, ["stop"] * len(texts), usage)

    def _text(self, prediction: Any) -> str:
        if isinstance(prediction, list) and len(prediction) == 1:
            prediction = prediction[0]  # e.g. [{"generated_text": ...}] per instance
        if isinstance(prediction, str):
            return prediction
        field = self.settings.prediction_field
        if isinstance(prediction, dict):
            if field is not None:
                value: Any = prediction
                for part in field.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if isinstance(value, str):
                    return value
            else:
                for name in _TEXT_FIELDS:
                    if isinstance(prediction.get(name), str):
                        return str(prediction[name])
        where = f"field '{field}'" if field else f"a string or one of the fields {', '.join(_TEXT_FIELDS)}"
        raise PredictionFormatError(
            f"the prediction has no text at {where}: {str(prediction)[:200]}; set the deployment's "
            "predict.prediction_field to where the container puts its text"
        )

    def stream_parser(self, request: ChatCompletionRequest) -> StreamParser:
        raise AssertionError("predict deployments do not stream")  # capabilities say so
