"""Requests and answers the cache tests share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from llmgateway.cache.entry import CacheEntry
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Cost,
)


def chat_request(content: str = "What is the capital of France?", **params: Any) -> ChatCompletionRequest:
    payload: dict[str, Any] = {
        "model": "chat",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}],
        "temperature": 0,
    }
    payload.update(params)
    return ChatCompletionRequest.model_validate({k: v for k, v in payload.items() if v is not None})


def completion(text: str = "Paris.", **extra: Any) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "created": 1_700_000_000,
            "model": "chat-model",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
            **extra,
        }
    )


def stream_chunks(parts: tuple[str, ...] = ("Par", "is."), usage: bool = True) -> list[ChatCompletionChunk]:
    head = {"id": "chatcmpl-2", "created": 1_700_000_001, "model": "chat-model"}
    chunks = [ChatCompletionChunk.model_validate({**head, "choices": [{"delta": {"role": "assistant"}}]})]
    chunks += [
        ChatCompletionChunk.model_validate({**head, "choices": [{"delta": {"content": p}}]}) for p in parts
    ]
    chunks.append(
        ChatCompletionChunk.model_validate({**head, "choices": [{"delta": {}, "finish_reason": "stop"}]})
    )
    if usage:
        chunks.append(
            ChatCompletionChunk.model_validate(
                {
                    **head,
                    "choices": [],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
                }
            )
        )
    return chunks


COST = Cost(
    input=Decimal("0.000000123456789012345678901"),
    output=Decimal("0.0000042"),
    total=Decimal("0.000004323456789012345678901"),
)


def entry(text: str = "Paris.") -> CacheEntry:
    return CacheEntry.from_response("chat", completion(text), deployment="d1", provider="mock", cost=COST)
