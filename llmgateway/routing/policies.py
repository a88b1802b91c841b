"""Routing policies: each orders a model's eligible deployments, best first, with a score and a
short reason per deployment (both end up in the response's metadata).

- ``priority``: the config's order.
- ``weighted``: a random order drawn in proportion to ``weight`` (Efraimidis-Spirakis keys).
- ``cost``: cheapest estimated cost first (prompt tokens + max_tokens, before the call).
- ``latency``: lowest peak-EWMA latency x (calls in flight + 1); the first place goes to the better
  of two random picks (power of two choices), so load spreads instead of herding on one.
- ``reliability``: highest recent success rate first.
- ``balanced``: lowest weighted sum of cost, latency and error rate, each normalised to [0, 1].
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llmgateway.routing.deployment import Deployment
from llmgateway.routing.settings import BalancedWeights


@dataclass(slots=True)
class Scored:
    """A deployment's place in the ranking. The human-readable reason is only formatted when the
    metadata is built, not on the hot path."""

    deployment: Deployment
    score: float
    kind: str
    detail: tuple[float, ...] = ()

    def reason(self) -> str:
        s, d = self.score, self.detail
        if self.kind == "latency":
            return f"expected {s * 1000:.1f} ms ({self.deployment.stats.in_flight} in flight)"
        if self.kind == "cost":
            return f"estimated cost {s:.8f}"
        if self.kind == "reliability":
            return f"success rate {s:.1%}"
        if self.kind == "balanced":
            return f"cost {d[0]:.2f}, latency {d[1]:.2f}, errors {d[2]:.2f}"
        if self.kind == "weighted":
            return f"weight {s:g}"
        if self.kind == "priority":
            return f"priority {s:g}"
        return self.kind  # e.g. "breaker open"


@dataclass
class CallEstimate:
    """What a policy may know about the call before making it."""

    prompt_tokens: int
    output_tokens: int
    now: float
    prior_latency: float = 0.0  # assumed for deployments with no sample yet

    def cost(self, deployment: Deployment) -> float:
        """Estimated price of the call in float (ranking only; billing uses Decimal)."""
        price = deployment.prices
        cost = price.input * self.prompt_tokens + price.output * self.output_tokens + price.request
        if price.compute:
            cost += price.compute * (deployment.stats.current_latency(self.now) or 1.0)
        return cost

    def latency(self, deployment: Deployment) -> float:
        return deployment.stats.expected_latency(self.prior_latency, self.now)


Policy = Callable[[Sequence[Deployment], CallEstimate, BalancedWeights, random.Random], list[Scored]]


def priority(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    return [Scored(d, float(i), "priority") for i, d in enumerate(deployments)]


def weighted(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    keyed = [(rng.random() ** (1.0 / d.weight), d) for d in deployments]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [Scored(d, d.weight, "weighted") for _, d in keyed]


def cost(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    priced = [(call.cost(d), call.latency(d), d) for d in deployments]
    priced.sort(key=lambda item: (item[0], item[1]))
    return [Scored(d, c, "cost") for c, _, d in priced]


def latency(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    # Ties go to the less measured deployment, so a newcomer assumed as fast as the best gets
    # explored instead of waiting behind it forever.
    expected = [(call.latency(d), d.stats.samples, d) for d in deployments]
    if len(expected) > 2:
        first, second = rng.sample(range(len(expected)), 2)
        best = first if expected[first][:2] <= expected[second][:2] else second
        head = expected.pop(best)
        expected.sort(key=lambda item: item[:2])
        expected.insert(0, head)
    else:
        expected.sort(key=lambda item: item[:2])
    return [Scored(d, e, "latency") for e, _, d in expected]


def reliability(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    rated = [(1.0 - d.stats.error_rate(call.now), call.latency(d), d) for d in deployments]
    rated.sort(key=lambda item: (-item[0], item[1]))
    return [Scored(d, s, "reliability") for s, _, d in rated]


# Latencies closer than this are not worth trading error rate for (normalisation floor).
LATENCY_SCALE_FLOOR = 0.05


def balanced(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    costs = [call.cost(d) for d in deployments]
    latencies = [call.latency(d) for d in deployments]
    errors = [d.stats.error_rate(call.now) for d in deployments]
    top_cost = max(costs) or 1.0
    top_latency = max(max(latencies), LATENCY_SCALE_FLOOR)
    scored = []
    for d, c, lat, err in zip(deployments, costs, latencies, errors, strict=True):
        parts = (c / top_cost, lat / top_latency, err)
        score = w.cost * parts[0] + w.latency * parts[1] + w.errors * parts[2]
        scored.append(Scored(d, score, "balanced", parts))
    scored.sort(key=lambda s: s.score)
    return scored


POLICIES: dict[str, Policy] = {
    "priority": priority,
    "weighted": weighted,
    "cost": cost,
    "latency": latency,
    "reliability": reliability,
    "balanced": balanced,
}
