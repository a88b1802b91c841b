"""Where the text is in the wire models: read it (for the PII scan and the content policy),
rewrite it (a request with its PII redacted), and put values back (an answer restored).

Every string a request carries is text, wherever it is: message contents and their parts, earlier
tool calls' arguments (the strings inside their JSON), tool and response-format descriptions and
enums, ``stop``, ``user``, ``metadata`` and any field the client added, since all of it travels
upstream. Left alone are the fields that name or shape things (model, role, type, ids, tool and
schema names, image / audio / file payloads): a placeholder there would break the call. A
message's ``name`` is an identifier too (``^[A-Za-z0-9_-]+$`` at OpenAI), so it gets the bare
placeholder form (``NAME_1``), which restoring also knows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

from llmgateway.types import (
    ChatCompletion,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    WireModel,
)

Rewrite = Callable[[str], str]
Request = TypeVar("Request", bound=ChatCompletionRequest | CompletionRequest | EmbeddingRequest)

# Keys whose values are identifiers, enums or binary payloads, never free text.
_KEPT = frozenset(
    {
        "model", "role", "type", "id", "tool_call_id", "name", "object", "encoding_format",
        "image_url", "input_audio", "file", "detail", "format", "tool_choice", "modalities",
        "voice", "audio", "service_tier", "reasoning_effort", "$ref", "$schema",
    }
)  # fmt: skip


def _walk(value: Any, rewrite: Rewrite) -> Any:
    """``value`` (JSON-like) with ``rewrite`` applied to every text string in it."""
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, list):
        return [_walk(item, rewrite) for item in value]
    if isinstance(value, dict):
        return {key: _field(key, item, rewrite) for key, item in value.items()}
    return value


def _field(key: str, value: Any, rewrite: Rewrite) -> Any:
    if key in _KEPT:
        return value
    if key == "arguments" and isinstance(value, str):
        return _rewrite_json(value, rewrite)
    return _walk(value, rewrite)


def _rewrite_json(text: str, rewrite: Rewrite) -> str:
    """Tool-call arguments are JSON: the strings inside it are rewritten (as decoded values), so
    a value is found, replaced and later restored in one form, and the result stays valid JSON."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return rewrite(text)
    if isinstance(parsed, str):
        return json.dumps(rewrite(parsed), ensure_ascii=False)
    changed = _walk(parsed, rewrite)
    return text if changed == parsed else json.dumps(changed, ensure_ascii=False)


def _bare(rewrite: Rewrite) -> Rewrite:
    """Placeholders without their brackets, for identifier fields."""
    return lambda text: rewrite(text).replace("<", "").replace(">", "")


def _rewrite_request(data: dict[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    out = {key: _field(key, value, rewrite) for key, value in data.items() if key != "messages"}
    messages = data.get("messages")
    if isinstance(messages, list):
        out["messages"] = [_rewrite_message(m, rewrite) for m in messages]
    return out


def _rewrite_message(message: Any, rewrite: Rewrite) -> Any:
    if not isinstance(message, dict):
        return message
    out = {key: _field(key, value, rewrite) for key, value in message.items()}
    name = message.get("name")
    if isinstance(name, str):
        out["name"] = _bare(rewrite)(name)
    return out


def request_texts(request: ChatCompletionRequest | CompletionRequest | EmbeddingRequest) -> list[str]:
    """Every text of the request, in order (token ids are not text)."""
    texts: list[str] = []

    def collect(text: str) -> str:
        texts.append(text)
        return text

    _rewrite_request(request.model_dump(exclude_unset=True), collect)
    return texts


def rewritten(request: Request, rewrite: Rewrite) -> Request:
    """A copy of ``request`` with ``rewrite`` applied to each of its texts (the original is kept
    for the caller's books, the cache key and exempt deployments)."""
    data = _rewrite_request(request.model_dump(exclude_unset=True), rewrite)
    return cast(Request, type(request).model_validate(data))


def _restore_model(model: WireModel, restore: Rewrite, fields: tuple[str, ...]) -> None:
    """Restore the named string fields and every string field the upstream added (reasoning
    text, refusals ...), in place."""
    for name in fields:
        value = getattr(model, name, None)
        if isinstance(value, str) and value:
            setattr(model, name, restore(value))
    extra = model.__pydantic_extra__
    if extra:
        for name, value in extra.items():
            if name not in _KEPT:
                extra[name] = _walk(value, restore)


def restore_chat(response: ChatCompletion, restore: Rewrite) -> None:
    """Put the original values back into the answer, in place."""
    for choice in response.choices:
        message = choice.message
        _restore_model(message, restore, ("content",))
        for call in message.tool_calls or ():
            if call.function is not None and call.function.arguments:
                call.function.arguments = _rewrite_json(call.function.arguments, restore)


def restore_completion(response: Completion, restore: Rewrite) -> None:
    for choice in response.choices:
        _restore_model(choice, restore, ("text",))


def _texts_of(model: WireModel, fields: tuple[str, ...]) -> list[str]:
    texts: list[str] = []

    def collect(text: str) -> str:
        texts.append(text)
        return text

    for name in fields:
        value = getattr(model, name, None)
        if isinstance(value, str) and value:
            texts.append(value)
    extra = model.__pydantic_extra__
    if extra:
        for name, value in extra.items():
            if name not in _KEPT:
                _walk(value, collect)
    return texts


def answer_text(response: ChatCompletion | Completion) -> str:
    """What the model said, every choice and every text field of it, for the output policy."""
    parts: list[str] = []
    if isinstance(response, Completion):
        for completion_choice in response.choices:
            parts.extend(_texts_of(completion_choice, ("text",)))
        return "\n".join(parts)
    for choice in response.choices:
        parts.extend(_texts_of(choice.message, ("content",)))
        for call in choice.message.tool_calls or ():
            if call.function is not None and call.function.arguments:
                parts.append(call.function.arguments)
    return "\n".join(parts)
