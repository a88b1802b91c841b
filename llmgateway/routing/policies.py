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
from decimal import Decimal

from llmgateway.routing.deployment import Deployment
from llmgateway.routing.settings import BalancedWeights

# A deployment with no latency sample yet is assumed as fast as this, so it gets explored.
UNKNOWN_LATENCY = 0.0


@dataclass(frozen=True)
class Scored:
    deployment: Deployment
    score: float
    reason: str


@dataclass
class CallEstimate:
    """What a policy may know about the call before making it."""

    prompt_tokens: int
    output_tokens: int
    now: float

    def cost(self, deployment: Deployment) -> Decimal:
        pricing = deployment.pricing
        per_million = Decimal(1_000_000)
        cost = (
            pricing.input_per_million * self.prompt_tokens / per_million
            + pricing.output_per_million * self.output_tokens / per_million
            + pricing.per_request
        )
        if pricing.per_compute_second:
            seconds = deployment.stats.latency_ewma or 1.0
            cost += pricing.per_compute_second * Decimal(str(round(seconds, 6)))
        return cost


Policy = Callable[[Sequence[Deployment], CallEstimate, BalancedWeights, random.Random], list[Scored]]


def priority(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    return [Scored(d, float(i), f"priority {i}") for i, d in enumerate(deployments)]


def weighted(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    keyed = [(rng.random() ** (1.0 / d.weight), d) for d in deployments]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [Scored(d, d.weight, f"weight {d.weight:g}") for _, d in keyed]


def cost(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    priced = [(call.cost(d), d.stats.expected_latency(UNKNOWN_LATENCY), d) for d in deployments]
    priced.sort(key=lambda item: (item[0], item[1]))
    return [Scored(d, float(c), f"estimated cost {c:.8f}") for c, _, d in priced]


def latency(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    expected = [(d.stats.expected_latency(UNKNOWN_LATENCY), d) for d in deployments]
    if len(expected) > 2:
        first, second = rng.sample(range(len(expected)), 2)
        best = first if expected[first][0] <= expected[second][0] else second
        head = expected.pop(best)
        expected.sort(key=lambda item: item[0])
        expected.insert(0, head)
    else:
        expected.sort(key=lambda item: item[0])
    return [Scored(d, e, f"expected {e * 1000:.1f} ms ({d.stats.in_flight} in flight)") for e, d in expected]


def reliability(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    rated = [
        (1.0 - d.stats.error_rate(call.now), d.stats.expected_latency(UNKNOWN_LATENCY), d)
        for d in deployments
    ]
    rated.sort(key=lambda item: (-item[0], item[1]))
    return [Scored(d, s, f"success rate {s:.1%}") for s, _, d in rated]


def balanced(
    deployments: Sequence[Deployment], call: CallEstimate, w: BalancedWeights, rng: random.Random
) -> list[Scored]:
    costs = [float(call.cost(d)) for d in deployments]
    latencies = [d.stats.expected_latency(UNKNOWN_LATENCY) for d in deployments]
    errors = [d.stats.error_rate(call.now) for d in deployments]
    top_cost = max(costs) or 1.0
    top_latency = max(latencies) or 1.0
    scored = []
    for d, c, lat, err in zip(deployments, costs, latencies, errors, strict=True):
        score = w.cost * c / top_cost + w.latency * lat / top_latency + w.errors * err
        reason = f"cost {c / top_cost:.2f}, latency {lat / top_latency:.2f}, errors {err:.2f}"
        scored.append(Scored(d, score, reason))
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
