"""One call's books: its ledger record, the settling of what admission reserved for it, and the
cache store of its answer. Closed exactly once, whatever happens to the call: answered (unary,
stream read to the end, closed early, broken off), failed, rejected, or cancelled at any await.

The record is written before anything else that can be interrupted: a caller cancelled while a
reservation settles over the network still leaves its record behind.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmgateway.accounting.records import answered_record, failed_record
from llmgateway.caller import Caller
from llmgateway.types import ChatCompletionChunk, GatewayMetadata, Usage

if TYPE_CHECKING:
    from llmgateway.accounting.ledger.record import UsageRecord
    from llmgateway.admission import Admitted
    from llmgateway.cache.response_cache import CacheLookup
    from llmgateway.pipeline import Pipeline

_ZERO = Decimal(0)


class CallBooks:
    """Implements the stream finisher protocol (``finish`` / ``finish_soon``) too."""

    __slots__ = (
        "_caller",
        "_pipeline",
        "admitted",
        "closed",
        "lookup",
        "model",
        "request_id",
        "started",
        "stream",
    )

    def __init__(
        self, pipeline: Pipeline, request_id: str, caller: Caller, model: str, started: float, stream: bool
    ) -> None:
        self._pipeline = pipeline
        self.request_id = request_id
        self._caller = caller
        self.model = model
        self.started = started
        self.stream = stream
        self.admitted: Admitted | None = None
        self.lookup: CacheLookup | None = None
        self.closed = False

    def _close(self) -> bool:
        """Mark the call over (once); False when it already was."""
        if self.closed:
            return False
        self.closed = True
        self._pipeline.leave()
        return True

    def _stamp(self, metadata: GatewayMetadata) -> None:
        metadata.request_id = self.request_id
        if self.lookup is not None and metadata.cache != "hit":
            metadata.cache = self.lookup.status

    def _answered_record(self, metadata: GatewayMetadata, usage: Usage | None, outcome: str) -> UsageRecord:
        return answered_record(
            self.request_id, self._caller, metadata, usage, outcome=outcome, stream=self.stream
        )

    def _usage_charges(self, metadata: GatewayMetadata, usage: Usage | None) -> tuple[Decimal, int]:
        """What the call costs the budgets and the token limits: nothing for a cache hit."""
        if metadata.cache == "hit":
            return _ZERO, 0
        return metadata.cost.total, usage.total_tokens if usage is not None else 0

    async def answered(
        self,
        metadata: GatewayMetadata,
        usage: Usage | None,
        *,
        outcome: str = "completed",
        response: Any = None,
        chunks: list[ChatCompletionChunk] | None = None,
    ) -> None:
        """The call got its answer: record it, settle its reservations, keep it in the cache."""
        if not self._close():
            return
        pipeline = self._pipeline
        self._stamp(metadata)
        if pipeline.ledger is not None:
            await pipeline.write(self._answered_record(metadata, usage, outcome))
        if self.admitted is not None:
            cost, tokens = self._usage_charges(metadata, usage)
            warnings = await pipeline.settle(self.admitted, cost, tokens)
            if warnings:
                metadata.warnings = warnings
        lookup = self.lookup
        answer = response is not None or bool(chunks)
        if lookup is not None and lookup.write and metadata.cache != "hit" and answer:
            cache = pipeline.cache
            assert cache is not None
            storing = cache.store(
                lookup,
                response,
                deployment=metadata.deployment,
                provider=metadata.provider,
                cost=metadata.cost,
                chunks=chunks,
            )
            if (
                cache.semantic is not None
            ):  # embedding the request takes milliseconds: not on the answer's path
                pipeline.spawn(storing)
            else:
                await storing

    def failed(self, error: BaseException) -> None:
        """The call ended without an answer (rejected, failed, cancelled): a record at no cost,
        and whatever admission reserved goes back, in the background."""
        if not self._close():
            return
        pipeline = self._pipeline
        if self.admitted is not None:
            pipeline.spawn(self.admitted.release())
        if pipeline.ledger is not None:
            latency_ms = (time.perf_counter() - self.started) * 1000.0
            cache = self.lookup.status if self.lookup is not None else "off"
            record = failed_record(
                self.request_id, self._caller, self.model, error, latency_ms, cache=cache, stream=self.stream
            )
            pipeline.ledger.record_nowait(record)

    # ------------------------------------------------------------------ the stream finisher

    async def finish(
        self,
        metadata: GatewayMetadata,
        usage: Usage,
        outcome: str,
        chunks: list[ChatCompletionChunk] | None,
    ) -> None:
        await self.answered(metadata, usage, outcome=outcome, chunks=chunks)

    def finish_soon(self, metadata: GatewayMetadata, usage: Usage, outcome: str) -> None:
        """A stream closed early or broken off (possibly from a finaliser, on another thread, or
        with the loop gone): the record now, the settling on the call's own loop."""
        loop = self._pipeline.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or loop.is_closed():
            self._finish_now(metadata, usage, outcome)
        else:
            loop.call_soon_threadsafe(self._finish_now, metadata, usage, outcome)

    def _finish_now(self, metadata: GatewayMetadata, usage: Usage, outcome: str) -> None:
        if not self._close():
            return
        pipeline = self._pipeline
        self._stamp(metadata)
        if pipeline.ledger is not None:
            pipeline.ledger.record_nowait(self._answered_record(metadata, usage, outcome))
        if self.admitted is not None:
            cost, tokens = self._usage_charges(metadata, usage)
            pipeline.spawn(self.admitted.settle(cost, tokens))
