"""Virtual keys of the proxy: ``sk-llmgw-<id>-<secret>``, stored hashed in SQLite or PostgreSQL,
each with its own allowed models, rate limits, budget and expiry."""

from llmgateway.server.keys.model import KeyBudget, KeyRecord, KeySpec, KeyUpdate
from llmgateway.server.keys.store import KeyStore, build_key_store

__all__ = ["KeyBudget", "KeyRecord", "KeySpec", "KeyStore", "KeyUpdate", "build_key_store"]
