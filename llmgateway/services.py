"""The stores a gateway keeps its books in: rate-limit counters, the response cache, the usage
ledger and budget counters. Each is built only when its config section is present, in memory /
SQLite by default, or shared in Redis / PostgreSQL across replicas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from llmgateway.accounting.budgets.settings import BudgetsConfig
from llmgateway.accounting.ledger.settings import LedgerConfig
from llmgateway.admission import Admission
from llmgateway.cache.settings import CacheConfig
from llmgateway.config import describe_validation_error
from llmgateway.errors import ConfigError
from llmgateway.limits.settings import LimitsConfig
from llmgateway.routing.deployment import Deployment

if TYPE_CHECKING:
    from llmgateway.accounting.budgets.enforcer import Budgets
    from llmgateway.accounting.ledger.writer import Ledger
    from llmgateway.cache.response_cache import ResponseCache
    from llmgateway.limits.base import LimitStore

M = TypeVar("M", bound=BaseModel)


def section(model: type[M], value: M | Mapping[str, Any] | None, name: str) -> M | None:
    """A config section given as a model or a plain mapping (programmatic gateways)."""
    if value is None or isinstance(value, model):
        return value
    try:
        return model.model_validate(dict(value))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, name)) from exc


def _one_currency_per_model(routes: Mapping[str, list[Deployment]]) -> None:
    """A call's budget hold is taken before routing, in one currency: a model whose deployments
    are priced in several could book a call's cost on the wrong currency's budget."""
    for model, deployments in routes.items():
        currencies = sorted({d.pricing.currency for d in deployments})
        if len(currencies) > 1:
            raise ConfigError(
                f"models.{model}: with budgets on, a model's deployments must be priced in one currency "
                f"(found {', '.join(currencies)}); split the model in one per currency"
            )


@dataclass
class Services:
    limits_config: LimitsConfig | None = None
    limit_store: LimitStore | None = None
    cache: ResponseCache | None = None
    ledger: Ledger | None = None
    budgets: Budgets | None = None
    per_caller: bool = False

    @classmethod
    def build(
        cls,
        routes: Mapping[str, list[Deployment]],
        *,
        limits: LimitsConfig | None = None,
        cache: CacheConfig | None = None,
        ledger: LedgerConfig | None = None,
        budgets: BudgetsConfig | None = None,
        per_caller: bool = False,
    ) -> Services:
        """``per_caller``: callers bring their own limits and budgets (the proxy's virtual keys),
        so the stores are built even when the config has no such section."""
        services = cls(limits_config=limits, per_caller=per_caller)
        deployments = [d for group in routes.values() for d in group]
        limited = [d for d in deployments if not d.limits.is_unlimited()]
        if limits is not None or limited or per_caller:
            from llmgateway.limits.base import build_limit_store

            services.limit_store = build_limit_store(limits or LimitsConfig())
            for deployment in limited:
                deployment.limit_store = services.limit_store
        if cache is not None:
            from llmgateway.cache.response_cache import build_response_cache

            services.cache = build_response_cache(cache)
        if ledger is not None:
            from llmgateway.accounting.ledger.writer import build_ledger

            services.ledger = build_ledger(ledger)
        if per_caller and budgets is None:
            budgets = BudgetsConfig(
                backend=limits.backend if limits is not None else "memory",
                redis_url=limits.redis_url if limits is not None else None,
            )
        if budgets is not None and (budgets.limits or per_caller):
            from llmgateway.accounting.budgets.enforcer import Budgets, check_currencies

            check_currencies(budgets, {d.name: d.pricing.currency for d in deployments})
            _one_currency_per_model(routes)
            seed = services.ledger.store.spent if services.ledger is not None else None
            services.budgets = Budgets(budgets, seed=seed)
        return services

    def admission(self) -> Admission:
        return Admission(self.limit_store, self.limits_config, self.budgets, per_caller=self.per_caller)

    async def aclose(self) -> None:
        """Write what is pending (the ledger first: it is the record of money) and close."""
        if self.ledger is not None:
            await self.ledger.aclose()
        for store in (self.cache, self.budgets, self.limit_store):
            if store is not None:
                await store.aclose()
