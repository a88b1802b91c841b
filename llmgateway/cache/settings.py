"""Response cache settings: which backend, how long answers live, and the optional semantic index."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SemanticCacheConfig(BaseModel):
    """Answer a paraphrase of a cached request from the cache, within the same model and parameters."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    enabled: bool = False
    threshold: float = Field(default=0.95, ge=0, le=1, description="cosine similarity of the two requests")
    max_entries: int = Field(default=10_000, ge=1, description="vectors kept in memory, oldest dropped")


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    backend: Literal["memory", "sqlite", "redis"] = "sqlite"
    path: str = Field(default="llmgateway_cache.sqlite", min_length=1, description="sqlite file")
    redis_url: str | None = None
    prefix: str = Field(default="llmgw:cache:", description="redis key prefix")
    ttl_seconds: float | None = Field(default=3600, gt=0, description="None: entries never expire")
    max_entries: int = Field(default=10_000, ge=1, description="memory LRU bound; sqlite prunes to it")
    cache_nondeterministic: bool = Field(
        default=False, description="also cache requests without temperature 0 or a seed"
    )
    semantic: SemanticCacheConfig = Field(default_factory=SemanticCacheConfig)
    scope: Literal["key", "team", "shared"] = Field(
        default="key",
        description="whose answers a caller may be served: its key's own (callers without a key "
        "share theirs), its team's, or everyone's",
    )

    @model_validator(mode="after")
    def _redis_needs_url(self) -> CacheConfig:
        if self.backend == "redis" and not self.redis_url:
            raise ValueError("backend 'redis' needs redis_url, e.g. redis_url: redis://127.0.0.1:6379/0")
        return self
