"""Budget configuration validation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from llmgateway.accounting.budgets.enforcer import check_currencies
from llmgateway.accounting.budgets.settings import BudgetConfig, BudgetsConfig
from llmgateway.errors import ConfigError


def test_defaults_and_limits() -> None:
    budget = BudgetConfig.model_validate({"scope": "key", "hard": "10"})
    assert (budget.name, budget.period, budget.hard, budget.currency) == ("*", "month", Decimal(10), "USD")
    with pytest.raises(ValidationError, match="soft limit"):
        BudgetConfig(scope="key")
    with pytest.raises(ValidationError, match="below hard"):
        BudgetConfig(scope="key", soft=Decimal(10), hard=Decimal(5))
    with pytest.raises(ValidationError):
        BudgetConfig.model_validate({"scope": "user", "hard": "1"})
    with pytest.raises(ValidationError):
        BudgetConfig.model_validate({"scope": "key", "hard": "1", "period": "week"})


def test_redis_backend_needs_url() -> None:
    with pytest.raises(ValidationError, match="redis_url"):
        BudgetsConfig(backend="redis")
    assert BudgetsConfig(backend="redis", redis_url="redis://x").prefix == "llmgw:budget:"


def test_check_currencies_rejects_spend_no_budget_counts() -> None:
    config = BudgetsConfig(limits=[BudgetConfig(scope="global", hard=Decimal(1))])
    check_currencies(config, {"a": "USD"})
    check_currencies(BudgetsConfig(), {"a": "EUR"})
    with pytest.raises(ConfigError, match=r"b \(EUR\)"):
        check_currencies(config, {"a": "USD", "b": "EUR"})
