"""Who a call is made for: the API key and team its usage, limits and budgets are counted against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmgateway.accounting.budgets.settings import BudgetConfig
    from llmgateway.limits.settings import RateLimits


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity a call is accounted to. The SDK takes it per call (``caller=``) or per
    gateway; the proxy builds it from the virtual key that authenticated the request, with that
    key's own rate limits and budgets, which apply on top of the config's."""

    key: str | None = None
    team: str | None = None
    limits: RateLimits | None = None
    budgets: tuple[BudgetConfig, ...] = ()
    # The key's own PII handling ("off", "redact" or "block"); None: the model's / the config's.
    pii: str | None = None
