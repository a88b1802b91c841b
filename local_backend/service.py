"""LocalService: the local engine behind OpenAI-shaped calls.

Turns wire requests into ``GenerationRequest``s for the continuous-batching scheduler and its
events back into chat completions, chunks and completions. The HTTP server and the in-process
``local`` provider both sit on this one object, so both speak exactly the same dialect.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmgateway.errors import (
    BadRequestError,
    ContextWindowExceededError,
    GatewayError,
    RateLimitError,
    ServiceUnavailableError,
    UnsupportedOperationError,
    UpstreamServerError,
)
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
    ModelCard,
    ModelList,
    ResponseMessage,
    Usage,
)
from local_backend.metrics import ThroughputMeter
from local_backend.protocol import (
    EngineError,
    GenerationDone,
    GenerationRequest,
    PromptTooLongError,
    QueueFullError,
    SchedulerClosedError,
    TokenDelta,
)

if TYPE_CHECKING:
    from local_backend.engine import LocalEngine
    from local_backend.scheduler import BatchScheduler
    from local_backend.scoring import EmbeddingModel

DEFAULT_MAX_TOKENS = 512


@dataclass(frozen=True)
class Sampling:
    """Sampling settings in OpenAI's terms, shared by every request shape."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None


def map_backend_error(exc: Exception) -> GatewayError:
    """The scheduler's errors as gateway errors, so every front answers with the right status."""
    if isinstance(exc, QueueFullError):
        return RateLimitError(str(exc), retry_after=exc.retry_after)
    if isinstance(exc, PromptTooLongError):
        return ContextWindowExceededError(str(exc), code="context_length_exceeded")
    if isinstance(exc, SchedulerClosedError):
        return ServiceUnavailableError(f"local backend is not running: {exc}", retry_after=1.0)
    if isinstance(exc, ValueError):
        return BadRequestError(str(exc))
    if isinstance(exc, EngineError):
        return UpstreamServerError(f"local model failed: {exc}")
    return UpstreamServerError(f"local backend failed: {type(exc).__name__}: {exc}")


def _usage(done: GenerationDone) -> Usage:
    usage = done.usage.model_copy()
    usage.compute_seconds = round(done.compute_seconds, 6)
    return usage


class LocalService:
    def __init__(
        self,
        engine: LocalEngine,
        scheduler: BatchScheduler,
        *,
        model_id: str | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.model_id = model_id or engine.name
        self.default_max_tokens = default_max_tokens
        self.started_at = time.time()
        self.completion_tokens = 0
        self.requests = 0
        self.throughput = ThroughputMeter()
        self._embedder: EmbeddingModel | None = None
        self._embedder_lock = asyncio.Lock()

    @classmethod
    async def start(
        cls,
        model: str = "bundled",
        *,
        device: str = "auto",
        max_batch: int = 32,
        max_queue: int = 256,
        model_id: str | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> LocalService:
        """Load the model off the event loop and start the batching scheduler."""
        from local_backend.engine import LocalEngine
        from local_backend.scheduler import BatchScheduler

        engine = await asyncio.to_thread(LocalEngine.load, model, device)
        scheduler = BatchScheduler(engine, max_batch=max_batch, max_queue=max_queue)
        await scheduler.start()
        return cls(engine, scheduler, model_id=model_id, default_max_tokens=default_max_tokens)

    async def aclose(self) -> None:
        await self.scheduler.stop()

    # -- request shaping --------------------------------------------------------------------

    def _generation(self, prompt_ids: list[int], sampling: Sampling) -> GenerationRequest:
        temperature = 1.0 if sampling.temperature is None else sampling.temperature
        try:
            return GenerationRequest(
                prompt_ids=prompt_ids,
                max_tokens=sampling.max_tokens or self.default_max_tokens,
                temperature=temperature,
                top_p=1.0 if not sampling.top_p else sampling.top_p,
                stop=sampling.stop,
                seed=sampling.seed,
            )
        except ValueError as exc:
            raise BadRequestError(str(exc)) from exc

    def _chat_generation(self, request: ChatCompletionRequest) -> GenerationRequest:
        if request.n not in (None, 1):
            raise UnsupportedOperationError("the local backend returns one choice per request (n=1)")
        if request.tools:
            raise UnsupportedOperationError("the local backend's model does not support tool calls")
        try:
            prompt = self.engine.render_chat(request.messages)
        except ValueError as exc:
            raise BadRequestError(f"cannot render these messages with the chat template: {exc}") from exc
        sampling = Sampling(
            request.output_token_limit(),
            request.temperature,
            request.top_p,
            tuple(request.stop_list()),
            request.seed,
        )
        return self._generation(prompt, sampling)

    async def _run(self, generation: GenerationRequest) -> GenerationDone:
        try:
            done = await self.scheduler.generate(generation)
        except GatewayError:
            raise
        except Exception as exc:
            raise map_backend_error(exc) from exc
        self._count(done)
        return done

    def _count(self, done: GenerationDone) -> None:
        self.requests += 1
        self.completion_tokens += done.usage.completion_tokens
        self.throughput.add(done.usage.completion_tokens)

    # -- OpenAI-shaped calls ----------------------------------------------------------------

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        done = await self._run(self._chat_generation(request))
        return ChatCompletion(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=self.model_id,
            choices=[
                ChatChoice(message=ResponseMessage(content=done.text), finish_reason=done.finish_reason)
            ],
            usage=_usage(done),
        )

    async def stream_chat(self, request: ChatCompletionRequest) -> AsyncGenerator[ChatCompletionChunk, None]:
        """Chunks as tokens are decoded; the last content chunk carries the finish reason and a
        final chunk (no choices) carries usage, as OpenAI's ``include_usage`` does. Closing the
        iterator early drops the request from the running batch."""
        generation = self._chat_generation(request)
        chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())

        def chunk(delta: ChunkDelta, finish: str | None = None) -> ChatCompletionChunk:
            return ChatCompletionChunk(
                id=chunk_id,
                created=created,
                model=self.model_id,
                choices=[ChunkChoice(delta=delta, finish_reason=finish)],
            )

        try:
            stream = self.scheduler.submit(generation)
        except Exception as exc:
            raise map_backend_error(exc) from exc
        async with stream:
            yield chunk(ChunkDelta(role="assistant", content=""))
            try:
                async for event in stream:
                    if isinstance(event, TokenDelta):
                        if event.text:
                            yield chunk(ChunkDelta(content=event.text))
                        continue
                    self._count(event)
                    yield chunk(ChunkDelta(), finish=event.finish_reason)
                    if request.wants_stream_usage():
                        yield ChatCompletionChunk(
                            id=chunk_id, created=created, model=self.model_id, choices=[], usage=_usage(event)
                        )
            except GatewayError:
                raise
            except Exception as exc:
                raise map_backend_error(exc) from exc

    def _completion_generation(self, request: CompletionRequest) -> tuple[str, GenerationRequest]:
        if isinstance(request.prompt, list):
            if len(request.prompt) != 1:
                raise UnsupportedOperationError("the local backend completes one prompt per request")
            prompt_text = request.prompt[0]
        else:
            prompt_text = request.prompt
        if request.n not in (None, 1):
            raise UnsupportedOperationError("the local backend returns one choice per request (n=1)")
        stop = (request.stop,) if isinstance(request.stop, str) else tuple(request.stop or ())
        sampling = Sampling(request.max_tokens, request.temperature, request.top_p, stop, request.seed)
        return prompt_text, self._generation(self.engine.encode(prompt_text), sampling)

    async def completions(self, request: CompletionRequest) -> Completion:
        if request.echo and request.logprobs is not None:
            prompt = request.prompt if isinstance(request.prompt, str) else "".join(request.prompt[:1])
            return await self._score_completion(request, prompt)
        prompt_text, generation = self._completion_generation(request)
        done = await self._run(generation)
        text = prompt_text + done.text if request.echo else done.text
        return Completion(
            id=f"cmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=self.model_id,
            choices=[CompletionChoice(text=text, finish_reason=done.finish_reason)],
            usage=_usage(done),
        )

    async def stream_completions(self, request: CompletionRequest) -> AsyncGenerator[Completion, None]:
        """Text-completion chunks (OpenAI's streamed ``text_completion`` objects); the final one
        carries the finish reason and usage (with compute seconds)."""
        _, generation = self._completion_generation(request)
        chunk_id = f"cmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        try:
            stream = self.scheduler.submit(generation)
        except Exception as exc:
            raise map_backend_error(exc) from exc
        async with stream:
            try:
                async for event in stream:
                    if isinstance(event, TokenDelta):
                        if event.text:
                            yield Completion(
                                id=chunk_id,
                                created=created,
                                model=self.model_id,
                                choices=[CompletionChoice(text=event.text)],
                            )
                        continue
                    self._count(event)
                    yield Completion(
                        id=chunk_id,
                        created=created,
                        model=self.model_id,
                        choices=[CompletionChoice(text="", finish_reason=event.finish_reason)],
                        usage=_usage(event),
                    )
            except GatewayError:
                raise
            except Exception as exc:
                raise map_backend_error(exc) from exc

    async def _score_completion(self, request: CompletionRequest, text: str) -> Completion:
        """``echo`` + ``logprobs`` with the legacy completions API: the prompt's own token
        log-probabilities (what perplexity needs), in OpenAI's logprobs shape. Nothing is generated."""
        from local_backend.scoring import score_text

        started = time.perf_counter()
        try:
            scored = await asyncio.to_thread(score_text, self.engine, text)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from exc
        logprobs = {
            "tokens": scored.tokens,
            "token_logprobs": [None, *scored.logprobs]
            if len(scored.tokens) > len(scored.logprobs)
            else scored.logprobs,
            "text_offset": scored.offsets,
            "top_logprobs": None,
        }
        count = len(scored.tokens)
        return Completion(
            id=f"cmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=self.model_id,
            choices=[CompletionChoice(text=text, finish_reason="length", logprobs=logprobs)],
            usage=Usage(
                prompt_tokens=count,
                completion_tokens=0,
                total_tokens=count,
                compute_seconds=round(time.perf_counter() - started, 6),
            ),
        )

    async def embedder(self) -> EmbeddingModel:
        """The bundled all-MiniLM-L6-v2 model, loaded on the first embeddings call."""
        async with self._embedder_lock:
            if self._embedder is None:
                from local_backend.scoring import EmbeddingModel

                device = "cuda" if self.engine.device.device.type == "cuda" else "cpu"
                self._embedder = await asyncio.to_thread(EmbeddingModel.load, None, device)
        return self._embedder

    async def embeddings(self, request: EmbeddingRequest) -> EmbeddingResponse:
        inputs = request.input
        if not inputs:
            raise BadRequestError("input is empty; send a string or a list of strings")
        if isinstance(inputs, str):
            texts = [inputs]
        elif all(isinstance(item, str) for item in inputs):
            texts = [str(item) for item in inputs]
        else:
            raise UnsupportedOperationError("the local backend embeds text; token-id input is not supported")
        started = time.perf_counter()
        embedder = await self.embedder()
        result = await asyncio.to_thread(embedder.embed, texts)

        return EmbeddingResponse(
            data=[Embedding(index=i, embedding=vector) for i, vector in enumerate(result.vectors)],
            model=result.model,
            usage=Usage(
                prompt_tokens=result.tokens,
                total_tokens=result.tokens,
                compute_seconds=round(time.perf_counter() - started, 6),
            ),
        )

    def models(self) -> ModelList:
        return ModelList(data=[ModelCard(id=self.model_id, created=int(self.started_at), owned_by="local")])
