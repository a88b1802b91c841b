"""Raw JSON passthrough, for containers with their own payload shape.

The request's extra body (``extra_body=`` in the SDK, unknown fields at the proxy) is the whole
payload, sent as is; ``messages`` are not sent. The answer comes back as the message's text:
a JSON string answer as that string, anything else as the body's text (the parsed JSON is kept
in the completion's ``raw_response`` field). A stream's payload bytes are passed through as text.
Usage is never reported, so the gateway estimates it.
"""

from __future__ import annotations

import codecs
from typing import Any

from pydantic_core import from_json, to_json

from llmgateway.errors import BadRequestError
from llmgateway.types import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ResponseMessage,
)
from providers.aws.sagemaker_payloads import CallInfo, Prepared


class RawFormat:
    streams_usage = False

    def prepare(self, request: ChatCompletionRequest, stream: bool) -> Prepared:
        payload = {k: v for k, v in (request.model_extra or {}).items() if v is not None}
        if not payload:
            raise BadRequestError(
                "this SageMaker deployment sends raw JSON: put the endpoint's payload in extra_body "
                "(the request's extra fields), e.g. extra_body={'inputs': '...'}",
                param="extra_body",
            )
        return Prepared(to_json(payload))

    def answer(
        self, raw: bytes, request: ChatCompletionRequest, prepared: Prepared, call: CallInfo
    ) -> ChatCompletion:
        text = raw.decode("utf-8", errors="replace")
        parsed: Any = None
        try:
            parsed = from_json(raw)
        except ValueError:
            pass  # not JSON: the text is the answer
        content = parsed if isinstance(parsed, str) else text
        # An extra field: wire models keep unknown fields.
        extra: dict[str, Any] = {"raw_response": parsed}
        return ChatCompletion(
            id=call.id,
            created=call.created,
            model=call.model,
            choices=[ChatChoice(index=0, message=ResponseMessage(content=content), finish_reason="stop")],
            **extra,
        )

    def reader(self, request: ChatCompletionRequest, prepared: Prepared, call: CallInfo) -> RawStreamReader:
        return RawStreamReader(call)


class RawStreamReader:
    """Payload bytes as text deltas (a character split across parts waits for its rest)."""

    def __init__(self, call: CallInfo) -> None:
        self._call = call
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.finished = False

    def feed(self, payload: bytes, sent: int) -> list[ChatCompletionChunk]:
        text = self._decoder.decode(payload)
        if not text:
            return []
        return [self._call.chunk(text, role="assistant" if sent == 0 else None)]

    def close(self, sent: int) -> list[ChatCompletionChunk]:
        self.finished = True  # a raw stream has no end marker: its end is the end
        tail = self._decoder.decode(b"", final=True)
        chunks = [self._call.chunk(tail)] if tail else []
        chunks.append(self._call.chunk(finish="stop"))
        return chunks
