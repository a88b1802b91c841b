"""Authentication of proxy requests: the master key, and (when a key store is configured) the
virtual keys it holds. Without a master key the public routes are open (for local use only).

A virtual key's record is cached per key id for ``server.keys.cache_seconds`` (default 5): a
cached key authenticates in microseconds, and a key revoked or changed elsewhere (another worker,
another host, the CLI) takes effect on every replica within that time. Changes made through this
process's admin API take effect here at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from llmgateway.caller import Caller
from llmgateway.errors import AuthenticationError, ConfigError, ServiceUnavailableError
from llmgateway.server.keys.cache import CachedKey, Miss, TtlCache
from llmgateway.server.keys.secrets import parse_key
from llmgateway.server.principal import Authenticator, Principal
from llmgateway.server.settings import ServerConfig

if TYPE_CHECKING:
    from llmgateway.server.keys.store import KeyStore

logger = logging.getLogger("llmgateway.server.auth")

MASTER = Principal(Caller(key="master"), master=True)
ANONYMOUS = Principal(Caller())


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when absent or another scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class MasterKeyAuthenticator:
    """Only the master key (or, with no master key at all, anyone)."""

    def __init__(self, master_key: str | None) -> None:
        self._master = master_key.encode() if master_key else None

    def is_master(self, token: str | None) -> bool:
        return (
            self._master is not None
            and token is not None
            and hmac.compare_digest(token.encode(), self._master)
        )

    async def authenticate(self, authorization: str | None) -> Principal:
        if self._master is None:
            return ANONYMOUS
        token = bearer_token(authorization)
        if self.is_master(token):
            return MASTER
        raise AuthenticationError(
            "missing or invalid API key; send 'Authorization: Bearer <key>' with the master key "
            "or a virtual key",
            code="invalid_api_key",
        )

    async def aclose(self) -> None:
        return None


def _missing() -> AuthenticationError:
    return AuthenticationError(
        "missing API key; send 'Authorization: Bearer <key>' with the master key or a virtual key",
        code="missing_api_key",
    )


class KeyAuthenticator:
    """The master key, and the virtual keys ``sk-llmgw-<id>-<secret>`` of ``store``.

    ``clock`` (monotonic seconds) times the cache, ``wall`` (POSIX seconds) checks expiry; both
    are injectable for tests."""

    def __init__(
        self,
        master_key: str,
        store: KeyStore,
        cache_seconds: float = 5.0,
        *,
        max_cached: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._master = MasterKeyAuthenticator(master_key)
        self._cache: TtlCache[CachedKey | None] = TtlCache(cache_seconds, max_entries=max_cached, clock=clock)
        # Unknown ids are remembered apart: a flood of made-up ids evicts only other made-up ids,
        # never a real key (which would then cost a database read per request).
        self._unknown: TtlCache[CachedKey | None] = TtlCache(
            cache_seconds, max_entries=max_cached, clock=clock
        )
        self._wall = wall
        self._loading: dict[str, asyncio.Future[CachedKey | None]] = {}
        self._generation = 0  # bumped by invalidate: a lookup begun before must not be cached

    def is_master(self, token: str | None) -> bool:
        return self._master.is_master(token)

    async def authenticate(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        if token is None:
            raise _missing()
        if self._master.is_master(token):
            return MASTER
        parsed = parse_key(token)
        if parsed is None:
            raise AuthenticationError(
                "invalid API key: neither the master key nor a virtual key (sk-llmgw-<id>-<secret>)",
                code="invalid_api_key",
            )
        key_id, secret = parsed
        entry = self._cache.get(key_id)
        if isinstance(entry, Miss):
            entry = self._unknown.get(key_id)
        if isinstance(entry, Miss):
            entry = await self._load(key_id)
        if entry is None or not hmac.compare_digest(
            hashlib.sha256(secret.encode()).hexdigest().encode(), entry.secret_hash
        ):
            raise AuthenticationError(
                f"invalid API key: no virtual key {key_id!r}, or a wrong secret for it",
                code="invalid_api_key",
            )
        # Revoked and expired are told only to whoever holds the right secret.
        if entry.revoked:
            raise AuthenticationError(
                f"API key {key_id!r} was revoked at {entry.record.revoked_at:%Y-%m-%d %H:%M:%S} UTC; "
                "ask an admin for a new key",
                code="key_revoked",
            )
        if entry.expires is not None and entry.expires <= self._wall():
            raise AuthenticationError(
                f"API key {key_id!r} expired at {entry.record.expires_at:%Y-%m-%d %H:%M:%S} UTC; "
                "ask an admin to extend it or for a new key",
                code="key_expired",
            )
        return entry.principal

    async def _load(self, key_id: str) -> CachedKey | None:
        # Concurrent misses on one key share one database read.
        pending = self._loading.get(key_id)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(key_id))
            self._loading[key_id] = pending
            pending.add_done_callback(lambda _: self._loading.pop(key_id, None))
        return await asyncio.shield(pending)

    async def _fetch(self, key_id: str) -> CachedKey | None:
        generation = self._generation
        try:
            record = await self.store.get(key_id)
        except Exception as exc:
            logger.exception("key store lookup of %s failed", key_id)
            raise ServiceUnavailableError(
                f"cannot check API keys now: the key store failed ({type(exc).__name__}); try again shortly",
                code="key_store_unavailable",
            ) from exc
        entry = None
        if record is not None:
            entry = CachedKey(
                record=record,
                principal=record.principal(),
                secret_hash=record.secret_hash.encode(),
                expires=record.expires_at.timestamp() if record.expires_at is not None else None,
                revoked=record.revoked_at is not None,
            )
        if generation == self._generation:
            (self._cache if entry is not None else self._unknown).put(key_id, entry)
        return entry

    def invalidate(self, key_id: str | None = None) -> None:
        """Forget a cached key (after changing it here), or every key."""
        self._generation += 1
        self._cache.invalidate(key_id)
        self._unknown.invalidate(key_id)

    async def aclose(self) -> None:
        await self.store.aclose()


def build_authenticator(config: ServerConfig) -> Authenticator:
    """Virtual keys and the master key when ``server.keys`` is set; else the master key alone
    (or, without one, no authentication)."""
    if config.keys is None:
        return MasterKeyAuthenticator(config.master_key)
    if config.master_key is None:
        raise ConfigError(
            "server.keys is set but server.master_key is not: virtual keys need an admin to create "
            "them. Set server.master_key (e.g. master_key: ${LLMGATEWAY_MASTER_KEY}) or remove server.keys"
        )
    from llmgateway.server.keys.store import build_key_store

    return KeyAuthenticator(config.master_key, build_key_store(config.keys), config.keys.cache_seconds)
