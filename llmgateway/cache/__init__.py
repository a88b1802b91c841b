"""Exact and semantic response cache with memory, SQLite and Redis backends.
Names load on first use (PEP 562): importing the package, or its settings, stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgateway.lazy_exports import lazy_getattr

_EXPORTS = {
    "CacheControl": "llmgateway.cache.control",
    "CacheEntry": "llmgateway.cache.entry",
    "CacheLookup": "llmgateway.cache.response_cache",
    "ResponseCache": "llmgateway.cache.response_cache",
    "build_response_cache": "llmgateway.cache.response_cache",
    "CacheConfig": "llmgateway.cache.settings",
    "SemanticCacheConfig": "llmgateway.cache.settings",
}
__all__ = [
    "CacheConfig",
    "CacheControl",
    "CacheEntry",
    "CacheLookup",
    "ResponseCache",
    "SemanticCacheConfig",
    "build_response_cache",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS)


if TYPE_CHECKING:
    from llmgateway.cache.control import CacheControl
    from llmgateway.cache.entry import CacheEntry
    from llmgateway.cache.response_cache import CacheLookup, ResponseCache, build_response_cache
    from llmgateway.cache.settings import CacheConfig, SemanticCacheConfig
