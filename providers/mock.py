"""MockProvider: an in-process backend with scripted behaviour, for tests, demos and benchmarks.

Each call takes the next step of its ``script`` (when the script runs out the provider answers
normally, or starts over with ``repeat=True``); past the script, ``fault_rate`` draws a random
fault from ``faults`` (seeded). A step is ``None`` (answer normally) or a fault:
latency, an HTTP-style error, a 429 with Retry-After, a timeout, a connection reset, or a stream
that drops after some chunks. Answers come from ``handler(request)``; the default echoes.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from llmgateway.errors import (
    APIConnectionError,
    APITimeoutError,
    RateLimitError,
    StreamInterruptedError,
    error_from_status,
)
from llmgateway.provider import Capabilities, ProviderBase, ProviderContext
from llmgateway.types import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChunkChoice,
    ChunkDelta,
    Completion,
    CompletionChoice,
    CompletionRequest,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    ResponseMessage,
    Usage,
)

# ---------------------------------------------------------------------------------------------
# Script steps
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delay:
    """Answer normally, after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class ServerError:
    """Fail as an upstream answering ``status`` would (500, 503, 400, 401 ...)."""

    status: int = 500
    message: str = "mock upstream error"


@dataclass(frozen=True)
class RateLimited:
    retry_after: float | None = 1.0


@dataclass(frozen=True)
class Timeout:
    """Hang for ``after`` seconds, then fail as a timed-out request."""

    after: float = 0.0


@dataclass(frozen=True)
class ConnectionReset:
    pass


@dataclass(frozen=True)
class DropStream:
    """Streams break after ``after_chunks`` content chunks; a non-streaming call is reset."""

    after_chunks: int = 1


Step = Union[None, Delay, ServerError, RateLimited, Timeout, ConnectionReset, DropStream]
Handler = Callable[[ChatCompletionRequest], Union[str, ChatCompletion, Awaitable[Union[str, ChatCompletion]]]]


def echo_handler(request: ChatCompletionRequest) -> str:
    """The default answer: the last user message, echoed."""
    for message in reversed(request.messages):
        if message.role == "user":
            return f"You said: {message.text()}"
    return "Hello from the mock provider."


def count_tokens(text: str) -> int:
    """The mock's token count: whitespace-separated words (deterministic, tokenizer-free)."""
    return len(text.split())


# ---------------------------------------------------------------------------------------------
# Config-file settings
# ---------------------------------------------------------------------------------------------


class MockStepSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fault: Literal["ok", "delay", "error", "rate_limit", "timeout", "reset", "drop_stream"]
    seconds: float = Field(default=0.0, ge=0)
    status: int = Field(default=500, ge=400, le=599)
    retry_after: float | None = Field(default=1.0, ge=0)
    after_chunks: int = Field(default=1, ge=0)

    def to_step(self) -> Step:
        steps: dict[str, Step] = {
            "ok": None,
            "delay": Delay(self.seconds),
            "error": ServerError(self.status),
            "rate_limit": RateLimited(self.retry_after),
            "timeout": Timeout(self.seconds),
            "reset": ConnectionReset(),
            "drop_stream": DropStream(self.after_chunks),
        }
        return steps[self.fault]


class MockSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reply: str | None = Field(default=None, description="Fixed answer; default echoes the user")
    latency_ms: float = Field(default=0.0, ge=0)
    chunk_interval_ms: float = Field(default=0.0, ge=0)
    script: list[MockStepSettings] = Field(default_factory=list)
    repeat: bool = False
    embedding_dim: int = Field(default=8, ge=1, le=4096)
    fault_rate: float = Field(default=0.0, ge=0, le=1, description="chance of a random fault per call")
    faults: list[MockStepSettings] = Field(default_factory=list, description="what a random fault is")
    jitter_ms: float = Field(default=0.0, ge=0, description="random extra latency, uniform")
    seed: int | None = None


# ---------------------------------------------------------------------------------------------
# The provider
# ---------------------------------------------------------------------------------------------


class MockProvider(ProviderBase):
    kind: ClassVar[str] = "mock"
    Settings: ClassVar[type[BaseModel]] = MockSettings

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        name: str = "mock",
        script: Sequence[Step] = (),
        repeat: bool = False,
        latency: float = 0.0,
        chunk_interval: float = 0.0,
        embedding_dim: int = 8,
        capabilities: Capabilities | None = None,
        fault_rate: float = 0.0,
        faults: Sequence[Step] = (),
        seed: int | None = None,
        jitter: float = 0.0,
    ) -> None:
        super().__init__(name)
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {fault_rate}")
        if fault_rate and not faults:
            raise ValueError("fault_rate needs faults to draw from, e.g. faults=[ServerError(503)]")
        self.fault_rate = fault_rate
        self.faults = list(faults)
        self.jitter = jitter
        self._rng = random.Random(seed)
        self.handler: Handler = handler or echo_handler
        self.script = list(script)
        self.repeat = repeat
        self.latency = latency
        self.chunk_interval = chunk_interval
        self.embedding_dim = embedding_dim
        self.capabilities = capabilities or Capabilities(
            chat=True, streaming=True, completions=True, embeddings=True, tools=True
        )
        # The most recent requests, for tests to inspect; bounded so benchmarks don't grow memory.
        self.calls: deque[Any] = deque(maxlen=1000)
        self._position = 0
        self.closed = False

    @classmethod
    def from_settings(cls, name: str, settings: Any, context: ProviderContext) -> MockProvider:
        reply = settings.reply
        return cls(
            (lambda _request: reply) if reply is not None else None,
            name=name,
            script=[step.to_step() for step in settings.script],
            repeat=settings.repeat,
            latency=settings.latency_ms / 1000.0,
            chunk_interval=settings.chunk_interval_ms / 1000.0,
            embedding_dim=settings.embedding_dim,
            fault_rate=settings.fault_rate,
            faults=[step.to_step() for step in settings.faults],
            seed=settings.seed,
            jitter=settings.jitter_ms / 1000.0,
        )

    def next_step(self) -> Step:
        """The script's next step; once it is used up, a random fault at ``fault_rate``."""
        if not self.script or (self._position >= len(self.script) and not self.repeat):
            if self.fault_rate and self._rng.random() < self.fault_rate:
                return self._rng.choice(self.faults)
            return None
        if self._position >= len(self.script):
            self._position = 0
        step = self.script[self._position]
        self._position += 1
        return step

    async def _apply(self, step: Step) -> None:
        """Wait and/or fail as the step says (DropStream is handled by the caller)."""
        delay = self.latency + (step.seconds if isinstance(step, Delay) else 0.0)
        if self.jitter:
            delay += self._rng.uniform(0.0, self.jitter)
        if delay > 0:
            await asyncio.sleep(delay)
        if isinstance(step, ServerError):
            raise error_from_status(
                step.status, {"error": {"message": step.message}}, {}, deployment=self.name
            )
        if isinstance(step, RateLimited):
            raise RateLimitError(
                "mock upstream rate limit", retry_after=step.retry_after, deployment=self.name
            )
        if isinstance(step, Timeout):
            await asyncio.sleep(step.after)
            raise APITimeoutError("mock upstream timed out", deployment=self.name)
        if isinstance(step, ConnectionReset):
            raise APIConnectionError("mock upstream reset the connection", deployment=self.name)

    async def _answer(self, request: ChatCompletionRequest) -> ChatCompletion:
        result = self.handler(request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, ChatCompletion):
            return result
        text = str(result)
        prompt_tokens = sum(count_tokens(m.text()) for m in request.messages)
        completion_tokens = count_tokens(text)
        return ChatCompletion(
            id=f"mock-{time.monotonic_ns()}",
            created=int(time.time()),
            model=request.model,
            choices=[ChatChoice(message=ResponseMessage(content=text), finish_reason="stop")],
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            ),
        )

    async def chat(self, request: ChatCompletionRequest, *, timeout: float | None = None) -> ChatCompletion:
        self.calls.append(request)
        step = self.next_step()
        await self._apply(step)
        if isinstance(step, DropStream):
            raise APIConnectionError("mock upstream dropped the connection", deployment=self.name)
        return await self._answer(request)

    async def stream_chat(
        self, request: ChatCompletionRequest, *, timeout: float | None = None
    ) -> AsyncIterator[ChatCompletionChunk]:
        self.calls.append(request)
        step = self.next_step()
        await self._apply(step)
        answer = await self._answer(request)
        text = answer.text()
        pieces = [w + " " for w in text.split(" ")] if text else []
        if pieces:
            pieces[-1] = pieces[-1][:-1]
        drop_after = step.after_chunks if isinstance(step, DropStream) else None

        def chunk(delta: ChunkDelta, finish: str | None = None) -> ChatCompletionChunk:
            choices = [ChunkChoice(delta=delta, finish_reason=finish)]
            return ChatCompletionChunk(
                id=answer.id, created=answer.created, model=answer.model, choices=choices
            )

        yield chunk(ChunkDelta(role="assistant", content=""))
        for sent, piece in enumerate(pieces):
            if drop_after is not None and sent >= drop_after:
                raise StreamInterruptedError(
                    f"mock stream dropped after {sent} chunks", chunks_received=sent + 1, deployment=self.name
                )
            if self.chunk_interval:
                await asyncio.sleep(self.chunk_interval)
            yield chunk(ChunkDelta(content=piece))
        if drop_after is not None and drop_after >= len(pieces):
            raise StreamInterruptedError(
                "mock stream dropped before its end", chunks_received=len(pieces) + 1, deployment=self.name
            )
        yield chunk(ChunkDelta(), finish="stop")
        yield ChatCompletionChunk(
            id=answer.id, created=answer.created, model=answer.model, choices=[], usage=answer.usage
        )

    async def completions(self, request: CompletionRequest, *, timeout: float | None = None) -> Completion:
        prompt = request.prompt if isinstance(request.prompt, str) else " ".join(request.prompt)
        chat = ChatCompletionRequest(model=request.model, messages=[{"role": "user", "content": prompt}])  # type: ignore[list-item]
        answer = await self.chat(chat, timeout=timeout)
        return Completion(
            id=answer.id,
            created=answer.created,
            model=answer.model,
            choices=[CompletionChoice(text=answer.text(), finish_reason="stop")],
            usage=answer.usage,
        )

    async def embeddings(
        self, request: EmbeddingRequest, *, timeout: float | None = None
    ) -> EmbeddingResponse:
        self.calls.append(request)
        await self._apply(self.next_step())
        raw = request.input
        # A string, or a list of token ids, is one input; otherwise each item is one.
        single = isinstance(raw, str) or (isinstance(raw, list) and bool(raw) and isinstance(raw[0], int))
        inputs = [raw] if single else list(raw)
        data = [Embedding(index=i, embedding=self._vector(str(text))) for i, text in enumerate(inputs)]
        tokens = sum(count_tokens(str(text)) for text in inputs)
        return EmbeddingResponse(
            data=data, model=request.model, usage=Usage(prompt_tokens=tokens, total_tokens=tokens)
        )

    def _vector(self, text: str) -> list[float]:
        """A deterministic unit vector derived from the text's hash."""
        digest = hashlib.sha256(text.encode()).digest()
        raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(self.embedding_dim)]
        norm = sum(v * v for v in raw) ** 0.5 or 1.0
        return [v / norm for v in raw]

    async def aclose(self) -> None:
        self.closed = True
