"""Prometheus metrics of the proxy, kept in plain dicts and written in the text exposition format
(no client library: a handful of counters, one histogram family and some gauges)."""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from llmgateway.routing.deployment import Deployment

# Seconds; the gateway's own overhead is sub-millisecond, model calls take up to minutes.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


class _Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(BUCKETS, value)] += 1
        self.sum += value


class Metrics:
    """One per app (per worker process). Updated on the hot path: a few dict increments."""

    def __init__(self) -> None:
        # (endpoint, model, deployment, status, cache) -> count
        self.requests: dict[tuple[str, str, str, str, str], int] = {}
        self.latency: dict[str, _Histogram] = {}
        # (model, deployment, kind) -> tokens; kind is prompt or completion
        self.tokens: dict[tuple[str, str, str], int] = {}
        # (model, deployment, currency) -> money. A float is fine for a metric; the ledger is exact.
        self.cost: dict[tuple[str, str, str], float] = {}
        self.cache_hits: dict[str, int] = {}
        self.in_flight = 0
        self.started = time.time()

    def observe(
        self,
        endpoint: str,
        model: str,
        deployment: str,
        status: int,
        cache: str,
        latency_s: float,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: float = 0.0,
        currency: str = "USD",
    ) -> None:
        key = (endpoint, model, deployment, str(status), cache)
        self.requests[key] = self.requests.get(key, 0) + 1
        if not deployment:
            return
        histogram = self.latency.get(deployment)
        if histogram is None:
            histogram = self.latency[deployment] = _Histogram()
        histogram.observe(latency_s)
        if prompt_tokens:
            tkey = (model, deployment, "prompt")
            self.tokens[tkey] = self.tokens.get(tkey, 0) + prompt_tokens
        if completion_tokens:
            tkey = (model, deployment, "completion")
            self.tokens[tkey] = self.tokens.get(tkey, 0) + completion_tokens
        if cost:
            ckey = (model, deployment, currency)
            self.cost[ckey] = self.cost.get(ckey, 0.0) + cost
        if cache == "hit":
            self.cache_hits[model] = self.cache_hits.get(model, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-able data (what other workers of the server add to theirs)."""
        return {
            "requests": [[*k, n] for k, n in self.requests.items()],
            "latency": {d: [h.counts, h.sum] for d, h in self.latency.items()},
            "tokens": [[*k, n] for k, n in self.tokens.items()],
            "cost": [[*k, v] for k, v in self.cost.items()],
            "cache_hits": self.cache_hits,
            "in_flight": self.in_flight,
        }

    def plus(self, snapshots: Iterable[Mapping[str, Any]]) -> Metrics:
        """These counters with other workers' snapshots added: a new Metrics to render."""
        total = Metrics()
        total.started = self.started
        for data in (self.snapshot(), *snapshots):
            for *key, n in data["requests"]:
                k5 = (key[0], key[1], key[2], key[3], key[4])
                total.requests[k5] = total.requests.get(k5, 0) + n
            for deployment, (counts, seconds) in data["latency"].items():
                histogram = total.latency.setdefault(deployment, _Histogram())
                histogram.counts = [a + b for a, b in zip(histogram.counts, counts, strict=True)]
                histogram.sum += seconds
            for *key, n in data["tokens"]:
                k3 = (key[0], key[1], key[2])
                total.tokens[k3] = total.tokens.get(k3, 0) + n
            for *key, value in data["cost"]:
                c3 = (key[0], key[1], key[2])
                total.cost[c3] = total.cost.get(c3, 0.0) + value
            for model, n in data["cache_hits"].items():
                total.cache_hits[model] = total.cache_hits.get(model, 0) + n
            total.in_flight += data["in_flight"]
        return total

    def render(self, deployments: list[Deployment]) -> str:
        out: list[str] = []
        add = out.append
        add(
            "# HELP llmgateway_requests_total Requests answered, "
            "by endpoint, model, deployment, status and cache."
        )
        add("# TYPE llmgateway_requests_total counter")
        for (endpoint, model, deployment, status, cache), n in self.requests.items():
            labels = _labels(
                endpoint=endpoint, model=model, deployment=deployment, status=status, cache=cache
            )
            add(f"llmgateway_requests_total{labels} {n}")
        add("# HELP llmgateway_request_duration_seconds Time to answer, by deployment.")
        add("# TYPE llmgateway_request_duration_seconds histogram")
        for deployment, histogram in self.latency.items():
            name = _label(deployment)
            running = 0
            for bound, count in zip((*BUCKETS, "+Inf"), histogram.counts, strict=True):
                running += count
                add(
                    f'llmgateway_request_duration_seconds_bucket{{deployment="{name}",le="{bound}"}} '
                    f"{running}"
                )
            add(f'llmgateway_request_duration_seconds_sum{{deployment="{name}"}} {histogram.sum}')
            add(f'llmgateway_request_duration_seconds_count{{deployment="{name}"}} {running}')
        add("# HELP llmgateway_tokens_total Tokens, by model, deployment and kind (prompt, completion).")
        add("# TYPE llmgateway_tokens_total counter")
        for (model, deployment, kind), n in self.tokens.items():
            add(f"llmgateway_tokens_total{_labels(model=model, deployment=deployment, kind=kind)} {n}")
        add("# HELP llmgateway_cost_total Money spent (the usage ledger holds the exact amounts).")
        add("# TYPE llmgateway_cost_total counter")
        for (model, deployment, currency), value in self.cost.items():
            add(
                f"llmgateway_cost_total"
                f"{_labels(model=model, deployment=deployment, currency=currency)} {value}"
            )
        add("# HELP llmgateway_cache_hits_total Answers served from the response cache, by model.")
        add("# TYPE llmgateway_cache_hits_total counter")
        for model, n in self.cache_hits.items():
            add(f"llmgateway_cache_hits_total{_labels(model=model)} {n}")
        add("# HELP llmgateway_in_flight_requests Requests being answered now.")
        add("# TYPE llmgateway_in_flight_requests gauge")
        add(f"llmgateway_in_flight_requests {self.in_flight}")
        self._render_deployments(deployments, add)
        add("# HELP llmgateway_start_time_seconds When this process started serving.")
        add("# TYPE llmgateway_start_time_seconds gauge")
        add(f"llmgateway_start_time_seconds {self.started}")
        return "\n".join(out) + "\n"

    @staticmethod
    def _render_deployments(deployments: list[Deployment], add: Callable[[str], None]) -> None:
        now = time.monotonic()
        rows = [(_labels(deployment=d.name, provider=d.kind), d) for d in deployments]
        add("# HELP llmgateway_deployment_breaker_state Circuit breaker: 0 closed, 1 half open, 2 open.")
        add("# TYPE llmgateway_deployment_breaker_state gauge")
        for labels, d in rows:
            state = getattr(d.breaker.state, "value", str(d.breaker.state))
            add(f"llmgateway_deployment_breaker_state{labels} {_BREAKER_VALUES.get(state, 0)}")
        add("# HELP llmgateway_deployment_in_flight Calls in flight at the deployment.")
        add("# TYPE llmgateway_deployment_in_flight gauge")
        for labels, d in rows:
            add(f"llmgateway_deployment_in_flight{labels} {d.stats.in_flight}")
        add("# HELP llmgateway_deployment_latency_seconds Recent latency (EWMA) the router sees.")
        add("# TYPE llmgateway_deployment_latency_seconds gauge")
        for labels, d in rows:
            add(f"llmgateway_deployment_latency_seconds{labels} {d.stats.current_latency(now)}")
        add("# HELP llmgateway_deployment_error_rate Share of recent calls that failed.")
        add("# TYPE llmgateway_deployment_error_rate gauge")
        for labels, d in rows:
            add(f"llmgateway_deployment_error_rate{labels} {d.stats.error_rate(now)}")
