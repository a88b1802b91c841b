"""Where the text is in the wire models: read it (for the content policy), rewrite it (a request
with its PII redacted), and put values back (an answer with its placeholders restored).

A chat request's text is each message's content (a string, or its ``text`` parts), a message's
``name``, the arguments of earlier tool calls, and ``user``; tool definitions and other fields are
the application's own and travel unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

from llmgateway.types import (
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    ToolCall,
)

Rewrite = Callable[[str], str]
Request = TypeVar("Request", bound=ChatCompletionRequest | CompletionRequest | EmbeddingRequest)


def _message_texts(message: ChatMessage) -> list[str]:
    texts: list[str] = []
    content = message.content
    if isinstance(content, str):
        texts.append(content)
    elif content is not None:
        texts.extend(str(p["text"]) for p in content if p.get("type") == "text" and "text" in p)
    if message.name:
        texts.append(message.name)
    for call in message.tool_calls or ():
        if call.function is not None and call.function.arguments:
            texts.append(call.function.arguments)
    return texts


def request_texts(request: ChatCompletionRequest | CompletionRequest | EmbeddingRequest) -> list[str]:
    """Every text of the request the guardrails look at, in order."""
    texts: list[str] = []
    if isinstance(request, ChatCompletionRequest):
        for message in request.messages:
            texts.extend(_message_texts(message))
    elif isinstance(request, CompletionRequest):
        texts.extend([request.prompt] if isinstance(request.prompt, str) else request.prompt)
    else:
        value = request.input
        if isinstance(value, str):
            texts.append(value)
        elif value and isinstance(value[0], str):
            texts.extend(v for v in value if isinstance(v, str))
        # token ids are not text: nothing to find in them
    if request.user:
        texts.append(request.user)
    return texts


def _rewrite_message(message: ChatMessage, rewrite: Rewrite) -> ChatMessage:
    update: dict[str, Any] = {}
    content = message.content
    if isinstance(content, str):
        update["content"] = rewrite(content)
    elif content is not None:
        update["content"] = [
            {**p, "text": rewrite(str(p["text"]))} if p.get("type") == "text" and "text" in p else p
            for p in content
        ]
    if message.name:
        update["name"] = rewrite(message.name)
    if message.tool_calls:
        update["tool_calls"] = [_rewrite_call(call, rewrite) for call in message.tool_calls]
    return message.model_copy(update=update)


def _rewrite_call(call: ToolCall, rewrite: Rewrite) -> ToolCall:
    function = call.function
    if function is None or not function.arguments:
        return call
    return call.model_copy(
        update={"function": function.model_copy(update={"arguments": rewrite(function.arguments)})}
    )


def rewritten(request: Request, rewrite: Rewrite) -> Request:
    """A copy of ``request`` with ``rewrite`` applied to each of its texts (the original is kept
    for the caller's books, the cache key and local deployments)."""
    update: dict[str, Any] = {}
    if isinstance(request, ChatCompletionRequest):
        update["messages"] = [_rewrite_message(m, rewrite) for m in request.messages]
    elif isinstance(request, CompletionRequest):
        prompt = request.prompt
        update["prompt"] = rewrite(prompt) if isinstance(prompt, str) else [rewrite(p) for p in prompt]
    else:
        value = request.input
        if isinstance(value, str):
            update["input"] = rewrite(value)
        elif value and isinstance(value[0], str):
            update["input"] = [rewrite(v) if isinstance(v, str) else v for v in value]
    if request.user:
        update["user"] = rewrite(request.user)
    return cast(Request, request.model_copy(update=update))  # isinstance narrowed the TypeVar


def _restore_json(arguments: str, restore: Rewrite) -> str:
    """Tool-call arguments are JSON: a restored value goes back JSON-escaped, so a value holding
    a quote or a backslash cannot break the arguments the application parses."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return restore(arguments)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return restore(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {restore(k): walk(v) for k, v in value.items()}
        return value

    restored = walk(parsed)
    if restored == parsed:
        return arguments  # nothing to put back: keep the model's own formatting
    return json.dumps(restored, ensure_ascii=False)


def restore_chat(response: ChatCompletion, restore: Rewrite) -> None:
    """Put the original values back into the answer, in place."""
    for choice in response.choices:
        message = choice.message
        if message.content:
            message.content = restore(message.content)
        for call in message.tool_calls or ():
            if call.function is not None and call.function.arguments:
                call.function.arguments = _restore_json(call.function.arguments, restore)


def restore_completion(response: Completion, restore: Rewrite) -> None:
    for choice in response.choices:
        choice.text = restore(choice.text)


def answer_text(response: ChatCompletion | Completion) -> str:
    """What the model said, every choice, for the output policy."""
    if isinstance(response, Completion):
        return "\n".join(c.text for c in response.choices)
    parts: list[str] = []
    for choice in response.choices:
        if choice.message.content:
            parts.append(choice.message.content)
        for call in choice.message.tool_calls or ():
            if call.function is not None and call.function.arguments:
                parts.append(call.function.arguments)
    return "\n".join(parts)
