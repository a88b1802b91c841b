"""A deployment: one provider instance serving a public model, with its prices and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import ValidationError

from llmgateway.accounting.pricing import Pricing
from llmgateway.config import DeploymentConfig, Limits, describe_validation_error
from llmgateway.errors import ConfigError
from llmgateway.provider import Provider, ProviderContext, ProviderRegistry
from llmgateway.routing.breaker import BreakerConfig, CircuitBreaker
from llmgateway.routing.stats import DeploymentStats

if TYPE_CHECKING:
    from aiolimiter import AsyncLimiter


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
            float(pricing.per_compute_second),
        )


@dataclass(eq=False)  # identity: the router compares deployments on every call
class Deployment:
    name: str
    provider: Provider
    pricing: Pricing = field(default_factory=Pricing)
    limits: Limits = field(default_factory=Limits)
    timeout: float | None = None
    weight: float = 1.0
    context_window: int | None = None
    breaker_config: BreakerConfig | None = None
    stats: DeploymentStats = field(default_factory=DeploymentStats, init=False)
    breaker: CircuitBreaker = field(init=False)
    prices: RankingPrices = field(init=False)
    _limiter: AsyncLimiter | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.breaker = CircuitBreaker(self.breaker_config, self.name)
        self.prices = RankingPrices.of(self.pricing)

    @property
    def kind(self) -> str:
        return self.provider.kind

    def limiter(self) -> AsyncLimiter | None:
        """The request-rate limiter, built on first use (aiolimiter binds to the running loop)."""
        if self.limits.rpm is None:
            return None
        if self._limiter is None:
            from aiolimiter import AsyncLimiter

            # Spread the minute's budget evenly: a burst of rpm calls would otherwise pass at once.
            self._limiter = AsyncLimiter(1, 60.0 / self.limits.rpm)
        return self._limiter


def build_deployment(
    config: DeploymentConfig,
    registry: ProviderRegistry,
    context: ProviderContext,
    path: str,
    breaker: BreakerConfig | None = None,
) -> Deployment:
    """Validate a deployment's provider settings and build its provider."""
    assert config.name is not None  # named by GatewayConfig's validator
    try:
        provider_cls = registry.get(config.provider)
    except ConfigError as exc:
        raise ConfigError(f"{path}.provider: {exc.message}") from exc
    try:
        settings = provider_cls.Settings.model_validate(config.settings)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, f"{path}.settings")) from exc
    provider = provider_cls.from_settings(config.name, settings, context)
    return Deployment(
        name=config.name,
        provider=provider,
        pricing=config.pricing,
        limits=config.limits,
        timeout=config.timeout,
        weight=config.weight,
        context_window=config.context_window,
        breaker_config=breaker,
    )
