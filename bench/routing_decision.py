"""The routing decision's own cost: ``Router().decide(...)`` for every policy, 10 deployments.

Each deployment is a MockProvider with its own prices and fake live stats (latency samples, a few
failures, calls in flight); one has its breaker open so the "tripped" path runs too. The baseline
is ``random.choice(deployments)``: what routing costs when it knows nothing. Decisions are timed
in batches; the median batch gives microseconds per decision. Target (the issue): under 20 us.

    python -m bench.routing_decision [--decisions 20000] [--batch 100] [--deployments 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from llmgateway.accounting.pricing import Pricing
from llmgateway.routing.deployment import Deployment
from llmgateway.routing.route import ModelRoute, needs_chat
from llmgateway.routing.router import Router
from llmgateway.routing.settings import PolicyName, RoutingConfig
from providers.mock import MockProvider

POLICIES: tuple[PolicyName, ...] = ("priority", "weighted", "cost", "latency", "reliability", "balanced")
TARGET_US = 20.0
PROMPT_TOKENS = 50
MAX_OUTPUT = 256
RESULTS = Path(__file__).resolve().parent / "results" / "routing_decision.json"


def build_deployments(count: int, seed: int = 0) -> list[Deployment]:
    """``count`` deployments with varied prices and some history in their live stats."""
    rng = random.Random(seed)
    now = time.monotonic()
    deployments = []
    for i in range(count):
        pricing = Pricing(
            input_per_million=Decimal(str(round(rng.uniform(0.1, 10.0), 2))),
            output_per_million=Decimal(str(round(rng.uniform(0.5, 30.0), 2))),
        )
        d = Deployment(f"d{i}", MockProvider(name=f"d{i}"), pricing=pricing, weight=rng.choice([1, 2, 5]))
        base = rng.uniform(0.05, 0.5)
        for _ in range(rng.randint(20, 200)):
            d.stats.started()
            failed = rng.random() < 0.05 * (i % 3)
            d.stats.finished(base * rng.uniform(0.8, 1.5), failed=failed, now=now)
        for _ in range(i % 4):
            d.stats.started()  # calls in flight
        deployments.append(d)
    deployments[-1].breaker.state = deployments[-1].breaker.state.OPEN  # one tripped
    deployments[-1].breaker.open_until = now + 3600.0
    return deployments


def per_decision_us(decide: Callable[[], Any], decisions: int, batch: int) -> list[float]:
    """Microseconds per decision, one figure per batch."""
    for _ in range(min(decisions, 1000)):  # warm up
        decide()
    timings = []
    clock = time.perf_counter_ns
    for _ in range(max(1, decisions // batch)):
        started = clock()
        for _ in range(batch):
            decide()
        timings.append((clock() - started) / batch / 1000.0)
    return timings


def decider(router: Router, deployments: list[Deployment], config: RoutingConfig) -> Callable[[], Any]:
    route = ModelRoute("m", deployments, config)

    def decide() -> Any:
        return router.decide(route, config, needs_chat, "chat", PROMPT_TOKENS, MAX_OUTPUT)

    return decide


def run(decisions: int, batch: int, count: int) -> dict[str, Any]:
    deployments = build_deployments(count)
    choice = random.Random(1).choice
    rows: dict[str, dict[str, float]] = {}
    baseline = per_decision_us(lambda: choice(deployments), decisions, batch)
    rows["random.choice (baseline)"] = summarise(baseline)
    router = Router(seed=2)
    configs: dict[str, RoutingConfig] = {policy: RoutingConfig(policy=policy) for policy in POLICIES}
    configs["cost + constraints"] = RoutingConfig.model_validate(
        {"policy": "cost", "constraints": {"max_cost_per_request": "0.01", "max_latency_ms": 5000}}
    )
    for name, config in configs.items():
        rows[name] = summarise(per_decision_us(decider(router, deployments, config), decisions, batch))
    base = rows["random.choice (baseline)"]["median_us"]
    for row in rows.values():
        row["x_baseline"] = row["median_us"] / base if base else float("nan")
    return {
        "median_us_per_decision": rows,
        "target_us": TARGET_US,
        "over_target": [name for name, row in rows.items() if row["median_us"] > TARGET_US],
        "settings": {
            "deployments": count,
            "decisions": decisions,
            "batch": batch,
            "prompt_tokens": PROMPT_TOKENS,
            "max_output_tokens": MAX_OUTPUT,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
        },
    }


def summarise(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "median_us": statistics.median(ordered),
        "p90_us": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "min_us": ordered[0],
    }


def print_table(result: dict[str, Any]) -> None:
    settings = result["settings"]
    print(f"routing decision, {settings['deployments']} deployments, {settings['decisions']} decisions each")
    print(
        f"{'policy':26} {'median us':>10} {'p90 us':>8} {'x baseline':>11}  target {result['target_us']:g} us"
    )
    for name, row in result["median_us_per_decision"].items():
        flag = "" if row["median_us"] <= result["target_us"] else "  OVER"
        print(f"{name:26} {row['median_us']:10.2f} {row['p90_us']:8.2f} {row['x_baseline']:11.1f}{flag}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--deployments", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = run(args.decisions, args.batch, args.deployments)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
