"""Rate-limit settings: one ``RateLimits`` per deployment, API key or public model, and the
gateway-level ``LimitsConfig`` (where the counters live, per-key and per-model limits).

```yaml
limits:
  backend: redis                         # or memory (default): one process only
  redis_url: "redis://10.0.0.7:6379/0"
  keys:  {"*": {rpm: 60, tpm: 100000}}   # every API key gets its own counters
  models: {chat: {rpm: 1200}}
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RateLimits(BaseModel):
    """Requests and tokens per minute for one scope; ``None`` leaves that dimension unlimited."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    rpm: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="Requests per minute")
    tpm: float | None = Field(
        allow_inf_nan=False,
        default=None,
        gt=0,
        description="Tokens per minute (prompt + output, charged on the estimate)",
    )
    burst: int = Field(
        default=1,
        ge=1,
        description="Requests that may pass back to back; otherwise one every 60/rpm seconds",
    )
    max_wait: float = Field(
        default=10.0, ge=0, description="Seconds a call may wait for the limit; 0 rejects at once"
    )

    def is_unlimited(self) -> bool:
        return self.rpm is None and self.tpm is None


class LimitsConfig(BaseModel):
    """The gateway's rate-limit section. ``keys`` and ``models`` map an API key id / a public model
    name to its limits; the name ``"*"`` is the default for any not listed (each counted apart)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    backend: Literal["memory", "redis"] = Field(
        default="memory", description="memory: this process only; redis: shared by every replica"
    )
    redis_url: str | None = Field(default=None, description="redis://[:password@]host:port/db")
    prefix: str = Field(default="llmgw:", description="Prefix of every Redis key")
    redis_timeout: float = Field(default=2.0, gt=0, description="Seconds per Redis command or connect")
    on_redis_error: Literal["reject", "allow"] = Field(
        default="reject",
        description=(
            "While Redis is unreachable: reject calls (503, fail closed) or let them through "
            "unlimited (fail open)"
        ),
    )
    keys: dict[str, RateLimits] = Field(default_factory=dict)
    models: dict[str, RateLimits] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _redis_needs_url(self) -> LimitsConfig:
        if self.backend == "redis" and not self.redis_url:
            raise ValueError(
                "limits.backend is 'redis' but limits.redis_url is not set; "
                "set redis_url (e.g. redis://127.0.0.1:6379/0) or use backend: memory"
            )
        return self

    def key_limits(self, key: str) -> RateLimits | None:
        """The limits of one API key: its own entry, else the ``"*"`` default."""
        return self.keys.get(key) or self.keys.get("*")

    def model_limits(self, model: str) -> RateLimits | None:
        """The limits of one public model name: its own entry, else the ``"*"`` default."""
        return self.models.get(model) or self.models.get("*")
