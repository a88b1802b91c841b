"""Routing settings: the policy, its constraints, retries, the breaker and hedging, per model in
config, and the subset a single request may override."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llmgateway.routing.breaker import BreakerConfig

PolicyName = Literal["priority", "weighted", "cost", "latency", "reliability", "balanced"]


class BalancedWeights(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    cost: float = Field(default=1.0, ge=0)
    latency: float = Field(default=1.0, ge=0)
    errors: float = Field(default=1.0, ge=0)


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    max_cost_per_request: Decimal | None = Field(default=None, gt=0, description="estimated, before the call")
    max_latency_ms: float | None = Field(default=None, gt=0, description="expected, from live stats")


class RetryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    max_rounds: int = Field(default=3, ge=1, description="passes over the ranked deployments")
    backoff_initial: float = Field(default=0.05, ge=0, description="seconds before the second pass")
    backoff_max: float = Field(default=2.0, ge=0, description="cap of the exponential backoff")
    deadline: float = Field(default=120.0, gt=0, description="seconds for the whole request, all tries")


class HedgingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    enabled: bool = False
    delay_ms: float | None = Field(
        default=None, gt=0, description="fixed delay; default: the deployment's p95 latency"
    )
    min_delay_ms: float = Field(default=10.0, ge=0, description="never hedge sooner than this")
    initial_delay_ms: float = Field(
        default=250.0, gt=0, description="before any deployment of the model has a p95 latency"
    )
    max_hedges: int = Field(default=1, ge=1, le=4, description="extra copies of one call at most")


class HealthCheckConfig(BaseModel):
    """Optional active probes of deployments whose breaker is open (see routing.health)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    interval_seconds: float | None = Field(default=None, gt=0, description="off unless set")
    timeout_seconds: float = Field(default=10.0, gt=0)
    probe_message: str = Field(default="ping", min_length=1)


class RoutingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    policy: PolicyName = "priority"
    fallback: bool = Field(default=True, description="try the next deployment when one fails")
    weights: BalancedWeights = Field(default_factory=BalancedWeights)
    constraints: Constraints = Field(default_factory=Constraints)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    hedging: HedgingConfig = Field(default_factory=HedgingConfig)
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)


class RoutingOverride(BaseModel):
    """What one request may change: ``create(..., routing={"policy": "cost", ...})`` in the SDK."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    policy: PolicyName | None = None
    weights: BalancedWeights | None = None
    max_cost_per_request: Decimal | None = Field(default=None, gt=0)
    max_latency_ms: float | None = Field(default=None, gt=0)
    hedging: bool | None = None

    def apply(self, base: RoutingConfig) -> RoutingConfig:
        constraints = base.constraints.model_copy(
            update={
                k: v
                for k, v in (
                    ("max_cost_per_request", self.max_cost_per_request),
                    ("max_latency_ms", self.max_latency_ms),
                )
                if v is not None
            }
        )
        update: dict[str, object] = {"constraints": constraints}
        if self.policy is not None:
            update["policy"] = self.policy
        if self.weights is not None:
            update["weights"] = self.weights
        if self.hedging is not None:
            update["hedging"] = base.hedging.model_copy(update={"enabled": self.hedging})
        return base.model_copy(update=update)
