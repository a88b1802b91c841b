"""Budget configuration: which spend is limited, over which period, and how hard.

```yaml
budgets:
  backend: redis                         # memory (one process) or redis (shared by replicas)
  redis_url: redis://127.0.0.1:6379/0
  limits:
    - {scope: key, name: "*", period: month, soft: 8, hard: 10}     # every key on its own
    - {scope: team, name: research, period: day, hard: 50}          # just that team
    - {scope: global, period: total, hard: 10000}
```

Periods are UTC calendar days and months; ``total`` never resets. A budget counts only costs in
its own ``currency``: calls priced in another currency pass it by (reject such a mix at startup
with ``llmgateway.accounting.budgets.enforcer.check_currencies``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scope = Literal["key", "team", "model", "global"]
Period = Literal["day", "month", "total"]


class BudgetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    scope: Scope
    name: str = Field(
        default="*",
        min_length=1,
        description='"*": every key/team/model on its own; else just that one (ignored for global)',
    )
    period: Period = "month"
    soft: Decimal | None = Field(default=None, ge=0, description="Warn once when spend reaches it")
    hard: Decimal | None = Field(default=None, ge=0, description="Reject calls that could pass it")
    currency: str = Field(default="USD", min_length=3, max_length=3)

    @model_validator(mode="after")
    def _limits(self) -> BudgetConfig:
        if self.soft is None and self.hard is None:
            raise ValueError("give a soft limit (warns), a hard limit (rejects), or both")
        if self.soft is not None and self.hard is not None and self.soft >= self.hard:
            raise ValueError(f"soft ({self.soft}) must be below hard ({self.hard}); drop soft to only reject")
        return self


class BudgetsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    backend: Literal["memory", "redis"] = Field(
        default="memory", description="memory: this process only; redis: shared by every replica"
    )
    redis_url: str | None = None
    prefix: str = "llmgw:budget:"
    limits: list[BudgetConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _redis(self) -> BudgetsConfig:
        if self.backend == "redis" and not self.redis_url:
            raise ValueError("backend redis needs redis_url, e.g. redis://127.0.0.1:6379/0")
        return self
