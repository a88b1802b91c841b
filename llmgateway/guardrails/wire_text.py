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
import re
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

# Keys of message content parts (and of answers' extra fields) whose values are binary payloads:
# base64 images, audio, files. No text to find, costly to scan. Elsewhere such keys are text.
_BINARY = frozenset({"image_url", "input_audio", "file", "file_data", "data", "b64_json", "audio"})
# In answers, "audio" holds a transcript beside its data: only the data is left alone.
_ANSWER_BINARY = _BINARY - {"audio"}
_DATA_URL = re.compile(r"data:[\w.+-]+/[\w.+-]+[;,]")
# Field names that say their value is a secret; a bare "key" only after one of the owners below
# (api_key, private_key), so prompt_cache_key or a key-press tool's "key" stay text.
_SECRET_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "credential", "credentials",
     "authorization", "cookie", "token", "apikey"}
)  # fmt: skip
_KEY_OWNERS = frozenset({"api", "private", "secret", "access", "ssh", "signing", "encryption", "master"})


class _Rewriter:
    """What is done to each string: ``text`` for free text, ``secret`` for a value whose field
    names it a secret, ``identifier`` for a ``name`` (a placeholder without brackets); ``binary``
    are the keys left alone (inside content parts)."""

    __slots__ = ("binary", "identifier", "secret", "text")

    def __init__(
        self,
        text: Rewrite,
        secret: Rewrite | None = None,
        identifier: Rewrite | None = None,
        binary: frozenset[str] = frozenset(),
    ) -> None:
        self.text = text
        self.secret = secret or text
        self.identifier = identifier or text
        self.binary = binary

    def in_parts(self) -> _Rewriter:
        return _Rewriter(self.text, self.secret, self.identifier, _BINARY)


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
    if key in rewriter.binary:
        return value
    if not isinstance(value, str):
        return _walk(value, rewriter)
    if key == "arguments":
        return _rewrite_json(value, rewriter)
    if key == "name":  # a message's, a function's, a schema's: an identifier
        return rewriter.identifier(value)
    if rewriter.binary and _DATA_URL.match(value):
        return value
    if isinstance(key, str) and _secret_field(key) and _secret_shaped(value):
        return rewriter.secret(value)
    return rewriter.text(value)


def _secret_field(key: str) -> bool:
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()) if w]
    if any(word in _SECRET_WORDS for word in words):
        return True
    return any(
        word == "key" and index and words[index - 1] in _KEY_OWNERS for index, word in enumerate(words)
    )


def _secret_shaped(value: str) -> bool:
    """A credential rather than a word ("system", "Return"): long enough, one token, and with a
    digit, mixed case or a length no word has."""
    if len(value) < _MIN_SECRET or any(char.isspace() for char in value):
        return False
    if len(value) >= 16 or any(char.isdigit() for char in value):
        return True
    return any(char.isupper() for char in value[1:]) and any(char.islower() for char in value)


# A secret-named field's value is taken whole from this length (shorter ones are flags, not keys).
_MIN_SECRET = 6


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
    """Placeholders without their brackets, for identifier fields (OpenAI's ``^[A-Za-z0-9_-]+$``)."""
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
    out = {key: _field(key, value, rewriter) for key, value in message.items() if key != "content"}
    content = message.get("content")
    if isinstance(content, list):
        out["content"] = _walk(content, rewriter.in_parts())
    elif "content" in message:
        out["content"] = _field("content", content, rewriter)
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
    data = _rewrite_request(request.model_dump(exclude_unset=True), _Rewriter(text, secret, _bare(text)))
    return cast(Request, type(request).model_validate(data))


def restore_value(value: Any, restore: Rewrite) -> Any:
    """A JSON-like value an upstream sent (a nested field of a stream chunk) with ``restore``
    applied to every string in it."""
    return _walk(value, _Rewriter(restore, binary=_ANSWER_BINARY))


def strings_in(value: Any) -> list[str]:
    """Every string in a JSON-like value, keys included."""
    found: list[str] = []

    def collect(text: str) -> str:
        found.append(text)
        return text

    _walk(value, _Rewriter(collect, binary=_ANSWER_BINARY))
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
            extra[name] = _field(name, value, _Rewriter(restore, binary=_ANSWER_BINARY))


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
            _field(name, value, _Rewriter(collect, binary=_ANSWER_BINARY))
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
