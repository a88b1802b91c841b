"""Exact and semantic response cache with memory, SQLite and Redis backends.
Names load on first use (PEP 562): importing the package, or its settings, stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from llmgateway.cache.control import CacheControl
    from llmgateway.cache.entry import CacheEntry
    from llmgateway.cache.response_cache import CacheLookup, ResponseCache, build_response_cache
    from llmgateway.cache.settings import CacheConfig, SemanticCacheConfig
