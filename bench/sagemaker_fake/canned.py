"""An instant Messages-API answer for the fake runtime when no container stands behind it
(benchmarks): one chat completion, and the same text as a stream of SSE chunks."""

from __future__ import annotations

import json
from typing import Any

from bench.sagemaker_fake.runtime import Canned

CANNED_TEXT = "Paris is the capital of France."


def _sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def _head(kind: str) -> dict[str, Any]:
    return {"id": "chatcmpl-canned", "object": kind, "created": 1700000000, "model": "tgi"}


def canned_messages() -> Canned:
    """A Messages-API container's instant answer: a chat completion, and its stream (a chunk per
    word, a finish chunk, a usage chunk, ``[DONE]``)."""
    usage = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}
    message = {"role": "assistant", "content": CANNED_TEXT}
    answer = {
        **_head("chat.completion"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage,
    }
    chunk = _head("chat.completion.chunk")
    words = CANNED_TEXT.split(" ")
    pieces = [words[0], *(" " + word for word in words[1:])]
    events = [
        _sse({**chunk, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        for piece in pieces
    ]
    events.append(_sse({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    events.append(_sse({**chunk, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return Canned(json.dumps(answer).encode(), events, "text/event-stream")
