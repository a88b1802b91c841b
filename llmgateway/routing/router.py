"""The routing decision: which deployments may take this call, and in what order.

1. capability: only deployments that can serve the call (chat, streaming, tools, embeddings...);
2. constraints: context window, estimated cost, expected latency;
3. the policy orders what is left;
4. breakers: deployments whose breaker is open move behind every available one, soonest to
   reopen first. They are never dropped: when everything else fails they are still tried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from llmgateway.errors import BadRequestError, ContextWindowExceededError, NoDeploymentAvailableError
from llmgateway.routing.deployment import Deployment
from llmgateway.routing.policies import POLICIES, CallEstimate, Scored
from llmgateway.routing.route import Capability, ModelRoute
from llmgateway.routing.settings import RoutingConfig
from llmgateway.types import RouteScore, RoutingInfo

# Output tokens assumed for the cost estimate when a request sets no max_tokens.
DEFAULT_OUTPUT_ESTIMATE = 256


@dataclass
class Decision:
    ranked: list[Deployment]
    scored: list[Scored]
    policy: str

    def info(self, rounds: int = 1) -> RoutingInfo:
        return RoutingInfo(
            policy=self.policy,
            scores=[
                RouteScore(deployment=s.deployment.name, score=s.score, reason=s.reason())
                for s in self.scored
            ],
            rounds=rounds,
        )


class Router:
    """Ranks deployments; one per Gateway, with its own random source (no global state)."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)

    def decide(
        self,
        route: ModelRoute,
        config: RoutingConfig,
        capable: Capability,
        what: str,
        prompt_tokens: int,
        max_output_tokens: int | None,
    ) -> Decision:
        now = time.monotonic()
        eligible = route.candidates(capable, what)
        if len(eligible) == 1 and config.constraints.max_cost_per_request is None:
            only = eligible[0]  # nothing to rank; the context window still applies
            needed = prompt_tokens + (max_output_tokens or 0)
            if only.context_window is None or only.context_window >= needed:
                if config.constraints.max_latency_ms is None:
                    return Decision([only], [Scored(only, 0.0, "only deployment")], config.policy)
        output = DEFAULT_OUTPUT_ESTIMATE if max_output_tokens is None else max_output_tokens
        # Unmeasured deployments are assumed as fast as the fastest measured one: explored, but
        # not flooded (an assumed zero would draw every concurrent call at once).
        known = [d.stats.current_latency(now) for d in eligible if d.stats.samples]
        call = CallEstimate(prompt_tokens, output, now, min(known) if known else 0.0)
        eligible = self._within_constraints(route.model, eligible, config, call)
        available: list[Deployment] = []
        tripped: list[Deployment] = []
        for d in eligible:
            (available if d.breaker.available(now) else tripped).append(d)
        scored = POLICIES[config.policy](available, call, config.weights, self.rng) if available else []
        if tripped:
            # Behind every available one; among themselves the least failing first, then the
            # soonest to reopen, so a dead deployment does not get every call when all are tripped.
            tripped.sort(key=lambda d: (d.stats.error_rate(now), d.breaker.open_until))
            scored += [Scored(d, float("inf"), "breaker " + d.breaker.state.value) for d in tripped]
        ranked = [s.deployment for s in scored]
        if not config.fallback:
            ranked = ranked[:1]
        return Decision(ranked, scored, config.policy)

    def _within_constraints(
        self, model: str, deployments: Sequence[Deployment], config: RoutingConfig, call: CallEstimate
    ) -> list[Deployment]:
        needed = call.prompt_tokens + (call.output_tokens if call.output_tokens else 0)
        fitting = [d for d in deployments if d.context_window is None or d.context_window >= needed]
        if not fitting:
            raise ContextWindowExceededError(
                f"about {needed} tokens (prompt + max_tokens) fit no deployment of model '{model}'; "
                "shorten the prompt or lower max_tokens",
                code="context_length_exceeded",
            )
        limits = config.constraints
        kept = fitting
        if limits.max_cost_per_request is not None:
            # Float ranking prices: allow rounding noise, so a limit equal to the price passes.
            bound = float(limits.max_cost_per_request) * (1 + 1e-9)
            kept = [d for d in kept if call.cost(d) <= bound]
            if not kept:
                cheapest = min(call.cost(d) for d in fitting)
                raise BadRequestError(
                    f"no deployment of model '{model}' can serve this call within "
                    f"max_cost_per_request={limits.max_cost_per_request} (cheapest estimate {cheapest:.8f}); "
                    "raise the limit or lower max_tokens",
                    code="cost_constraint",
                )
        if limits.max_latency_ms is not None:
            seconds = limits.max_latency_ms / 1000.0
            fast = [d for d in kept if call.latency(d) <= seconds]
            if not fast:
                raise NoDeploymentAvailableError(
                    f"no deployment of model '{model}' is expected to answer within "
                    f"{limits.max_latency_ms:g} ms right now; retry later or relax max_latency_ms"
                )
            kept = fast
        return kept
