"""A deployment: one provider instance serving a public model, with its prices and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import ValidationError

from llmgateway.accounting.pricing import Pricing, resolve
from llmgateway.config import DeploymentConfig, describe_validation_error
from llmgateway.errors import ConfigError
from llmgateway.limits.settings import RateLimits
from llmgateway.provider import Provider, ProviderContext, ProviderRegistry
from llmgateway.routing.breaker import BreakerConfig, CircuitBreaker
from llmgateway.routing.stats import DeploymentStats

if TYPE_CHECKING:
    from llmgateway.accounting.instance_time import InstanceClock
    from llmgateway.accounting.price_table import PriceTable
    from llmgateway.limits.base import LimitStore


@dataclass(frozen=True)
class RankingPrices:
    """Per-token prices in float, for ranking only: Decimal arithmetic on every routing decision
    would cost more than the decision itself. Billing always uses the Decimal ``Pricing``."""

    input: float
    output: float
    request: float
    compute: float

    @classmethod
    def of(cls, pricing: Pricing) -> RankingPrices:
        return cls(
            float(pricing.input_per_million) / 1e6,
            float(pricing.output_per_million) / 1e6,
            float(pricing.per_request),
            # A dedicated endpoint's hourly price ranks as compute time.
            float(pricing.per_compute_second) + float(pricing.per_instance_hour) / 3600.0,
        )


@dataclass(eq=False)  # identity: the router compares deployments on every call
class Deployment:
    name: str
    provider: Provider
    pricing: Pricing = field(default_factory=Pricing)
    limits: RateLimits = field(default_factory=RateLimits)
    timeout: float | None = None
    weight: float = 1.0
    context_window: int | None = None
    breaker_config: BreakerConfig | None = None
    stats: DeploymentStats = field(default_factory=DeploymentStats, init=False)
    breaker: CircuitBreaker = field(init=False)
    prices: RankingPrices = field(init=False)
    # Where its rate limits are counted (the gateway's store: in memory, or shared in Redis);
    # None while it has no limits.
    limit_store: LimitStore | None = field(default=None, init=False, repr=False)
    # Dedicated endpoints priced per instance-hour: attributes instance time to the calls.
    clock: InstanceClock | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.breaker = CircuitBreaker(self.breaker_config, self.name)
        self.prices = RankingPrices.of(self.pricing)
        if self.pricing.per_instance_hour:
            from llmgateway.accounting.instance_time import InstanceClock

            self.clock = InstanceClock(self.pricing.instances)

    @property
    def kind(self) -> str:
        return self.provider.kind


def build_deployment(
    config: DeploymentConfig,
    registry: ProviderRegistry,
    context: ProviderContext,
    path: str,
    breaker: BreakerConfig | None = None,
    prices: PriceTable | None = None,
) -> Deployment:
    """Validate a deployment's provider settings and build its provider. ``pricing.model``
    takes that model's prices from ``prices`` (the fields set beside it win)."""
    assert config.name is not None  # named by GatewayConfig's validator
    try:
        provider_cls = registry.get(config.provider)
    except ConfigError as exc:
        raise ConfigError(f"{path}.provider: {exc.message}") from exc
    try:
        settings = provider_cls.Settings.model_validate(config.settings)
    except ValidationError as exc:
        # Not chained: pydantic's own text quotes the settings, api keys included.
        raise ConfigError(describe_validation_error(exc, f"{path}.settings")) from None
    pricing = config.pricing
    if pricing.model is not None:
        from llmgateway.accounting.price_table import load_price_table

        try:
            pricing = resolve(pricing, prices or load_price_table())
        except ConfigError as exc:
            raise ConfigError(f"{path}.pricing.model: {exc.message}") from exc
    provider = provider_cls.from_settings(config.name, settings, context)
    return Deployment(
        name=config.name,
        provider=provider,
        pricing=pricing,
        limits=config.limits,
        timeout=config.timeout,
        weight=config.weight,
        context_window=config.context_window,
        breaker_config=breaker,
    )
