"""What routing one call won, and settling it: the call's metadata and cost (the winner's price,
instance time and abandoned hedges), and the correction of its tries' token-rate charges, for an
answer or when a stream is over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from llmgateway.reliability.attempts import AttemptLog
from llmgateway.reliability.charges import Tickets, settle_tries, settles_remotely
from llmgateway.routing.deployment import Deployment
from llmgateway.routing.router import Decision
from llmgateway.streaming import StreamFinisher
from llmgateway.types import ChatCompletionChunk, GatewayMetadata, Usage

_MILLION = Decimal(1_000_000)


@dataclass
class Routed:
    """The outcome of routing one call: the winner, the decision, every attempt."""

    deployment: Deployment
    decision: Decision
    log: AttemptLog
    rounds: int
    prompt_tokens: int
    # Instance-time tickets of tries on deployments priced per instance-hour (see InstanceClock).
    tickets: Tickets | None = None

    def instance_seconds(self) -> float | None:
        """The winner's share of its instance's time (its ticket stops here, once)."""
        if self.tickets is None or self.deployment.clock is None:
            return None
        return self.tickets.seconds(self.deployment)

    async def settle_limits(self, usage: Usage | None) -> None:
        """Correct the tries' token-rate charges: the winner's to the tokens it used."""
        await settle_tries(self.log, self.deployment, usage.total_tokens if usage else self.log.tokens)

    @property
    def winner_seconds(self) -> float:
        """How long the winning try took (to its answer, or to a stream's first token)."""
        ok = [a for a in self.log.attempts if a.outcome == "ok"]
        return ok[-1].latency_ms / 1000.0 if ok else 0.0

    def metadata(
        self,
        model: str,
        usage: Usage | None,
        estimated: bool,
        latency_ms: float,
        ttft_ms: float | None = None,
    ) -> GatewayMetadata:
        seconds = self.instance_seconds()
        cost = self.deployment.pricing.cost(usage, estimated=estimated, instance_seconds=seconds)
        if self.log.abandoned:
            # Hedged copies that lost still had their prompt read (and billed) upstream.
            abandoned = sum(
                (d.pricing.input_per_million * self.prompt_tokens / _MILLION + d.pricing.per_request)
                for d in self.log.abandoned
            )
            cost.abandoned = Decimal(abandoned)
            cost.total += cost.abandoned
            cost.estimated = True
        return GatewayMetadata(
            model=model,
            deployment=self.deployment.name,
            provider=self.deployment.kind,
            attempts=self.log.attempts,
            routing=self.decision.info(self.rounds),
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            cost=cost,
        )


class LimitSettling:
    """When a stream is over: hands it to the gateway's own finisher (its books come first),
    then corrects the tries' token-rate charges to what the stream used."""

    def __init__(
        self,
        routed: Routed,
        inner: StreamFinisher | None,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._routed = routed
        self._inner = inner
        self._spawn = spawn

    async def finish(
        self,
        metadata: GatewayMetadata,
        usage: Usage,
        outcome: str,
        chunks: list[ChatCompletionChunk] | None,
    ) -> None:
        if self._inner is not None:
            await self._inner.finish(metadata, usage, outcome, chunks)
        if settles_remotely(self._routed.log):
            self._spawn(self._routed.settle_limits(usage))
        else:
            await self._routed.settle_limits(usage)

    def finish_soon(self, metadata: GatewayMetadata, usage: Usage, outcome: str) -> None:
        if self._inner is not None:
            self._inner.finish_soon(metadata, usage, outcome)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a finaliser with no loop: the charges stand (safe: they only over-count)
            return
        self._spawn(self._routed.settle_limits(usage))
