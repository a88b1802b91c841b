"""ChatStream: what ``create(stream=True)`` returns.

The first chunk has already arrived when the caller gets the stream, so a deployment that fails
before its first token was replaced by a sibling. Usage is always asked of the upstream (cost needs
it); the usage chunk reaches the caller only if it asked with ``stream_options.include_usage``.
When the stream ends, ``stream.gateway`` holds the call's metadata and cost.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Protocol

from llmgateway.accounting.estimate import estimate_usage
from llmgateway.errors import ContentPolicyError, GatewayError, PolicyCheckFailedError, StreamInterruptedError
from llmgateway.types import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    GatewayMetadata,
    Usage,
)

# (usage, estimated, latency_ms, outcome) -> the call's metadata; records the deployment's stats.
# outcome: "completed", "closed" (the caller stopped early), "failed" (the stream broke) or
# "refused" (the gateway's content policy stopped the answer).
MetadataFactory = Callable[[Usage, bool, float, str], GatewayMetadata]
Screen = Callable[[AsyncIterator[ChatCompletionChunk]], AsyncIterator[ChatCompletionChunk]]


async def close_iterator(iterator: object) -> None:
    """Close an async iterator (a provider's stream, a generator) if it can be closed: its
    connection goes back or is dropped now, not when it is collected."""
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        await closer()


async def _chained(
    head: list[ChatCompletionChunk], rest: AsyncIterator[ChatCompletionChunk]
) -> AsyncGenerator[ChatCompletionChunk, None]:
    try:
        for chunk in head:
            yield chunk
        async for chunk in rest:
            yield chunk
    finally:
        await close_iterator(rest)


class StreamFinisher(Protocol):
    """What the gateway does when a stream is over: ledger, budgets, limits, cache. ``finish``
    runs before the stream's last chunk reaches the caller (so strict ledger mode holds);
    ``finish_soon`` is for streams closed or broken off, where awaiting is not safe."""

    def finish(
        self,
        metadata: GatewayMetadata,
        usage: Usage,
        outcome: str,
        chunks: list[ChatCompletionChunk] | None,
    ) -> Awaitable[None]: ...

    def finish_soon(self, metadata: GatewayMetadata, usage: Usage, outcome: str) -> None: ...


class ChatStream:
    def __init__(
        self,
        head: list[ChatCompletionChunk],
        rest: AsyncIterator[ChatCompletionChunk],
        *,
        request: ChatCompletionRequest,
        started: float,
        ttft_ms: float,
        finish: MetadataFactory,
        deployment: str,
        finisher: StreamFinisher | None = None,
        collect: bool = False,
        screen: Screen | None = None,
    ) -> None:
        self._head = head
        self._first = head[0]
        self._rest = rest
        # The output policy: every chunk (the head too) passes through it on the way out.
        self._screened = screen is not None
        if screen is not None:
            self._rest = screen(_chained(head, rest))
        self._request = request
        self._started = started
        self.ttft_ms = ttft_ms
        self._finish = finish
        self._deployment = deployment
        self._iterator: AsyncGenerator[ChatCompletionChunk, None] | None = None
        self._finisher = finisher
        # Every chunk as received, kept only when the answer is to be cached.
        self._chunks: list[ChatCompletionChunk] | None = [] if collect else None
        self.gateway: GatewayMetadata | None = None
        self._usage: Usage | None = None
        # Known before the first chunk, for a proxy's response headers: set by the gateway.
        self.request_id: str | None = None
        self.cache: str = "off"

    @property
    def deployment(self) -> str:
        """The deployment serving the stream (the cached answer's, for a cache hit)."""
        return self._deployment

    @property
    def usage(self) -> Usage | None:
        """The call's token usage, once the stream is over (reported, or estimated)."""
        return self._usage

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        if self._iterator is not None:
            raise RuntimeError("a ChatStream can be iterated only once")
        self._iterator = self._iterate()
        return self._iterator

    def _settle(self, usage: Usage | None, text: list[str], estimated: bool, outcome: str) -> GatewayMetadata:
        """Fix the call's metadata and cost once, from reported usage or an estimate of it.
        A stream that did not complete is handed to the finisher here, in the background."""
        if self.gateway is None:
            if usage is None:
                usage = estimate_usage(self._request.messages, "".join(text))
            latency_ms = (time.perf_counter() - self._started) * 1000.0
            self.gateway = self._finish(usage, estimated, latency_ms, outcome)
            self._usage = usage
            if outcome != "completed" and self._finisher is not None:
                self._finisher.finish_soon(self.gateway, usage, outcome)
        return self.gateway

    async def _iterate(self) -> AsyncGenerator[ChatCompletionChunk, None]:
        forward_usage = self._request.wants_stream_usage()
        usage: Usage | None = None
        usage_chunk: ChatCompletionChunk | None = None
        text: list[str] = []
        sent = 0
        held = iter(self._head[1:])  # chunks read while looking for the first token
        chunk: ChatCompletionChunk | None = self._first
        completed = False
        failed = False
        refused = False
        chunks = self._chunks
        try:
            if self._screened:  # the head comes through the screen
                held = iter(())
                chunk = await anext(self._rest, None)
            while chunk is not None:
                if chunks is not None:
                    chunks.append(chunk.model_copy())
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.choices:
                    delta = chunk.choices[0].delta
                    if delta.content:
                        text.append(delta.content)
                    if chunk.usage is not None and not forward_usage:
                        chunk.usage = None
                    sent += 1
                    yield chunk
                elif chunk.usage is not None:
                    usage_chunk = chunk  # held back: it gets the metadata at the end
                else:
                    sent += 1
                    yield chunk
                following = next(held, None)
                if following is not None:
                    chunk = following
                    continue
                try:
                    chunk = await self._rest.__anext__()
                except StopAsyncIteration:
                    break
            completed = True
        except (ContentPolicyError, PolicyCheckFailedError) as exc:  # withheld by our policy
            refused = True
            if exc.deployment is None:
                exc.deployment = self._deployment
            raise
        except GatewayError as exc:
            failed = True
            if exc.deployment is None:
                exc.deployment = self._deployment
            raise
        except Exception as exc:  # a provider bug mid-stream still ends as a typed error
            failed = True
            raise StreamInterruptedError(
                f"stream failed after {sent} chunks: {type(exc).__name__}: {exc}",
                chunks_received=sent,
                deployment=self._deployment,
            ) from exc
        finally:
            if not completed:
                # Closed early or broken off: the upstream still billed what it generated. Settled
                # before the await below, which a cancelled caller may not get past.
                outcome = "refused" if refused else "failed" if failed else "closed"
                self._settle(usage, text, estimated=True, outcome=outcome)
            await self._close_rest()
        metadata = self._settle(usage, text, estimated=usage is None, outcome="completed")
        if self._finisher is not None:
            assert self._usage is not None
            await self._finisher.finish(metadata, self._usage, "completed", chunks)
        if forward_usage:
            if usage_chunk is None:
                usage_chunk = ChatCompletionChunk(
                    id=self._first.id,
                    created=self._first.created,
                    model=self._first.model,
                    usage=usage or estimate_usage(self._request.messages, "".join(text)),
                )
            usage_chunk.gateway = metadata
            yield usage_chunk

    async def _close_rest(self) -> None:
        await close_iterator(self._rest)

    async def aclose(self) -> None:
        """Stop early: closes the upstream stream (and its connection) and settles the cost of
        what was generated so far (marked estimated)."""
        if self._iterator is not None:
            await self._iterator.aclose()
        # Also when the iterator never started: closing a fresh generator skips its finally.
        await self._close_rest()
        self._settle(self._first.usage, [], estimated=True, outcome="closed")

    def __del__(self) -> None:
        # Dropped without being read to the end or closed: settle the deployment's books at least.
        if self.gateway is None:
            try:
                self._settle(self._first.usage, [], estimated=True, outcome="closed")
            except Exception:  # never raise from a finaliser
                pass

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
