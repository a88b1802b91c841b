"""Where the text is in the wire models: read it (for the PII scan and the content policy),
rewrite it (a request with its PII redacted), and put values back (an answer restored).

Every string a request carries is text, at any depth, keys of nested objects included: message
contents and their parts, earlier tool calls' arguments (the strings inside their JSON), tool and
response-format schemas, ``stop``, ``user``, ``metadata`` and any field the client added, since
all of it travels upstream. A string under a key that names a secret (``password``, ``api_key``,
``token`` ...) is a secret whatever it looks like. Left alone: ``model``, and binary payloads
(images, audio, files, ``data:`` URLs). A message's ``name`` is an identifier
(``^[A-Za-z0-9_-]+$`` at OpenAI), so it gets the bare placeholder form (``NAME_1``), which
restoring also knows.
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

# Keys whose values are binary payloads (base64, URLs of images): no text to find, costly to scan.
_BINARY = frozenset({"image_url", "input_audio", "file", "file_data", "data", "b64_json", "audio"})
# A secret-named field's value is taken whole from this length (shorter ones are flags, not keys).
_MIN_SECRET = 6


class _Rewriter:
    """What is done to each string: ``text`` for free text, ``secret`` for a value whose field
    names it a secret."""

    __slots__ = ("secret", "text")

    def __init__(self, text: Rewrite, secret: Rewrite | None = None) -> None:
        self.text = text
        self.secret = secret or text


def _walk(value: Any, rewriter: _Rewriter) -> Any:
    """``value`` (JSON-like) with every string in it rewritten, the keys of objects too."""
    if isinstance(value, str):
        return rewriter.text(value)
    if isinstance(value, list):
        return [_walk(item, rewriter) for item in value]
    if isinstance(value, dict):
        return {
            rewriter.text(key) if isinstance(key, str) else key: _field(key, item, rewriter)
            for key, item in value.items()
        }
    return value


def _field(key: Any, value: Any, rewriter: _Rewriter) -> Any:
    if key in _BINARY:
        return value
    if isinstance(value, str):
        if value.startswith("data:"):
            return value
        if key == "arguments":
            return _rewrite_json(value, rewriter)
        if isinstance(key, str) and len(value) >= _MIN_SECRET and _names_secret(key):
            return rewriter.secret(value)
        return rewriter.text(value)
    return _walk(value, rewriter)


def _names_secret(key: str) -> bool:
    from llmgateway.secret_scrub import is_secret_name

    return is_secret_name(key)


def _rewrite_json(text: str, rewriter: _Rewriter) -> str:
    """Tool-call arguments are JSON: the strings inside it are rewritten (as decoded values, their
    keys giving context), so a value is found, replaced and later restored in one form, and the
    result stays valid JSON."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return rewriter.text(text)
    changed = _walk(parsed, rewriter) if not isinstance(parsed, str) else rewriter.text(parsed)
    if changed == parsed:
        return text  # nothing changed: the model's own formatting stays
    try:
        return json.dumps(changed, ensure_ascii=False, allow_nan=False)
    except ValueError:  # numbers JSON cannot write back (1e999): rewrite the text as it is
        return rewriter.text(text)


def _bare(rewrite: Rewrite) -> Rewrite:
    """Placeholders without their brackets, for identifier fields."""
    return lambda text: rewrite(text).replace("<", "").replace(">", "")


def _rewrite_request(data: dict[str, Any], rewriter: _Rewriter) -> dict[str, Any]:
    out = {
        key: value if key == "model" else _field(key, value, rewriter)
        for key, value in data.items()
        if key != "messages"
    }
    messages = data.get("messages")
    if isinstance(messages, list):
        out["messages"] = [_rewrite_message(m, rewriter) for m in messages]
    return out


def _rewrite_message(message: Any, rewriter: _Rewriter) -> Any:
    if not isinstance(message, dict):
        return message
    out = {key: _field(key, value, rewriter) for key, value in message.items() if key != "name"}
    name = message.get("name")
    if isinstance(name, str):
        out["name"] = _bare(rewriter.text)(name)
    return out


def request_texts(
    request: ChatCompletionRequest | CompletionRequest | EmbeddingRequest,
) -> tuple[list[str], list[str]]:
    """Every text of the request in order, and the values its secret-named fields hold (token
    ids are not text)."""
    texts: list[str] = []
    secrets: list[str] = []

    def text(value: str) -> str:
        texts.append(value)
        return value

    def secret(value: str) -> str:
        secrets.append(value)
        return value

    _rewrite_request(request.model_dump(exclude_unset=True), _Rewriter(text, secret))
    return texts, secrets


def rewritten(request: Request, text: Rewrite, secret: Rewrite) -> Request:
    """A copy of ``request`` with each of its texts rewritten (the original is kept for the
    caller's books, the cache key and exempt deployments)."""
    data = _rewrite_request(request.model_dump(exclude_unset=True), _Rewriter(text, secret))
    return cast(Request, type(request).model_validate(data))


def restore_value(value: Any, restore: Rewrite) -> Any:
    """A JSON-like value an upstream sent (a nested field of a stream chunk) with ``restore``
    applied to every string in it."""
    return _walk(value, _Rewriter(restore))


def strings_in(value: Any) -> list[str]:
    """Every string in a JSON-like value, keys included."""
    found: list[str] = []

    def collect(text: str) -> str:
        found.append(text)
        return text

    _walk(value, _Rewriter(collect))
    return found


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
            if name not in _BINARY:
                extra[name] = _walk(value, _Rewriter(restore))


def restore_chat(response: ChatCompletion, restore: Rewrite) -> None:
    """Put the original values back into the answer, in place."""
    for choice in response.choices:
        message = choice.message
        _restore_model(message, restore, ("content",))
        for call in message.tool_calls or ():
            if call.function is not None and call.function.arguments:
                call.function.arguments = _rewrite_json(call.function.arguments, _Rewriter(restore))


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
            if name not in _BINARY:
                _walk(value, _Rewriter(collect))
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
