"""Exact and semantic response cache with memory, SQLite and Redis backends."""

from llmgateway.cache.control import CacheControl
from llmgateway.cache.entry import CacheEntry
from llmgateway.cache.response_cache import CacheLookup, ResponseCache, build_response_cache
from llmgateway.cache.settings import CacheConfig, SemanticCacheConfig

__all__ = [
    "CacheConfig",
    "CacheControl",
    "CacheEntry",
    "CacheLookup",
    "ResponseCache",
    "SemanticCacheConfig",
    "build_response_cache",
]
