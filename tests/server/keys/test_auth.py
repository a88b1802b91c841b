"""Authentication: master key, virtual keys and every way a key can be refused; the lookup cache."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from llmgateway.accounting.budgets.settings import BudgetConfig
from llmgateway.errors import AuthenticationError, ConfigError, ServiceUnavailableError
from llmgateway.limits.settings import RateLimits
from llmgateway.server.auth import (
    ANONYMOUS,
    MASTER,
    KeyAuthenticator,
    MasterKeyAuthenticator,
    build_authenticator,
)
from llmgateway.server.keys.model import KeyRecord
from llmgateway.server.keys.sqlite_store import SqliteKeyStore
from llmgateway.server.keys.store import KeyStore
from llmgateway.server.settings import ServerConfig

MASTER_KEY = "master-key-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """A store that counts lookups (and can fail them)."""

    def __init__(self, inner: KeyStore) -> None:
        self.inner = inner
        self.gets = 0
        self.fail = False

    async def get(self, key_id: str) -> KeyRecord | None:
        self.gets += 1
        if self.fail:
            raise OSError("database is down")
        return await self.inner.get(key_id)

    async def aclose(self) -> None:
        await self.inner.aclose()


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def test_master_key_and_a_virtual_key_with_its_limits_and_budget(store: KeyStore) -> None:
    auth = KeyAuthenticator(MASTER_KEY, store)
    assert await auth.authenticate(bearer(MASTER_KEY)) is MASTER
    record, key = await store.create(
        {
            "name": "app",
            "team": "research",
            "models": ["chat"],
            "rpm": 30,
            "tpm": 5000,
            "budget": {"hard": "2", "soft": "1", "period": "day"},
        }
    )
    principal = await auth.authenticate(bearer(key))
    caller = principal.caller
    assert not principal.master and principal.models == frozenset({"chat"})
    assert principal.allows("chat") and not principal.allows("other")
    assert (caller.key, caller.team) == (record.id, "research")
    assert caller.limits == RateLimits(rpm=30, tpm=5000, burst=5, max_wait=0)  # ten seconds of requests
    assert caller.budgets == (
        BudgetConfig(scope="key", name=record.id, period="day", soft=Decimal(1), hard=Decimal(2)),
    )
    _, plain = await store.create({"name": "plain"})
    principal = await auth.authenticate(bearer(plain))
    assert principal.models is None and principal.caller.limits is None and principal.caller.budgets == ()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("Basic abc", "missing_api_key"),
        ("Bearer nonsense", "invalid_api_key"),
        ("Bearer sk-llmgw-short-secret", "invalid_api_key"),
        ("Bearer sk-llmgw-aaaaaaaaaaaa-secret", "invalid_api_key"),
    ],
)
async def test_missing_malformed_and_unknown_keys(
    sqlite_key_store: KeyStore, header: str | None, code: str
) -> None:
    auth = KeyAuthenticator(MASTER_KEY, sqlite_key_store)
    with pytest.raises(AuthenticationError) as refused:
        await auth.authenticate(header)
    assert refused.value.code == code and refused.value.status_code == 401


async def test_wrong_secret_revoked_and_expired_keys(sqlite_key_store: KeyStore) -> None:
    store = sqlite_key_store
    auth = KeyAuthenticator(MASTER_KEY, store, cache_seconds=0)
    record, key = await store.create({"name": "k"})
    wrong = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    with pytest.raises(AuthenticationError) as refused:
        await auth.authenticate(bearer(wrong))
    assert refused.value.code == "invalid_api_key" and wrong.split("-")[-1] not in refused.value.message
    await store.revoke(record.id)
    with pytest.raises(AuthenticationError, match="revoked") as refused:
        await auth.authenticate(bearer(key))
    assert refused.value.code == "key_revoked" and key not in str(refused.value)
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    _, old_key = await store.create({"name": "old", "expires_at": past})
    with pytest.raises(AuthenticationError, match=f"expired at {past:%Y-%m-%d %H:%M}") as refused:
        await auth.authenticate(bearer(old_key))
    assert refused.value.code == "key_expired"
    # Revoked and expired are only told to whoever holds the secret.
    with pytest.raises(AuthenticationError) as refused:
        await auth.authenticate(bearer(old_key[:-2] + "zz"))
    assert refused.value.code == "invalid_api_key"


async def test_expiry_is_checked_on_every_call_even_when_cached(sqlite_key_store: KeyStore) -> None:
    wall = Clock()
    wall.now = time.time()
    auth = KeyAuthenticator(MASTER_KEY, sqlite_key_store, cache_seconds=3600, wall=wall)
    _, key = await sqlite_key_store.create({"name": "k", "expires_in_days": 1})
    await auth.authenticate(bearer(key))
    wall.now += 86400 + 1
    with pytest.raises(AuthenticationError, match="expired"):
        await auth.authenticate(bearer(key))


async def test_revocation_elsewhere_is_seen_after_cache_seconds(sqlite_key_store: KeyStore) -> None:
    clock = Clock()
    counting = CountingStore(sqlite_key_store)
    auth = KeyAuthenticator(MASTER_KEY, counting, cache_seconds=5, clock=clock)  # type: ignore[arg-type]
    record, key = await sqlite_key_store.create({"name": "k"})
    for _ in range(100):
        await auth.authenticate(bearer(key))
    assert counting.gets == 1
    await sqlite_key_store.revoke(record.id)  # another replica, or the CLI
    clock.now += 4.9
    await auth.authenticate(bearer(key))  # still trusted from the cache
    clock.now += 0.2
    with pytest.raises(AuthenticationError, match="revoked"):
        await auth.authenticate(bearer(key))
    assert counting.gets == 2
    # Unknown ids are cached too: a flood of made-up secrets reads the database once per TTL.
    for _ in range(20):
        with pytest.raises(AuthenticationError):
            await auth.authenticate(bearer("sk-llmgw-bbbbbbbbbbbb-guess"))
    assert counting.gets == 3


async def test_invalidate_makes_a_local_change_visible_at_once(sqlite_key_store: KeyStore) -> None:
    auth = KeyAuthenticator(MASTER_KEY, sqlite_key_store, cache_seconds=3600)
    record, key = await sqlite_key_store.create({"name": "k"})
    await auth.authenticate(bearer(key))
    await sqlite_key_store.revoke(record.id)
    auth.invalidate(record.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        await auth.authenticate(bearer(key))


async def test_a_failing_store_answers_503_not_500(sqlite_key_store: KeyStore) -> None:
    counting = CountingStore(sqlite_key_store)
    counting.fail = True
    auth = KeyAuthenticator(MASTER_KEY, counting)  # type: ignore[arg-type]
    with pytest.raises(ServiceUnavailableError) as failed:
        await auth.authenticate(bearer("sk-llmgw-bbbbbbbbbbbb-guess"))
    assert failed.value.code == "key_store_unavailable"
    assert await auth.authenticate(bearer(MASTER_KEY)) is MASTER  # the master key needs no store


async def test_a_cached_key_authenticates_in_microseconds(sqlite_key_store: KeyStore) -> None:
    auth = KeyAuthenticator(MASTER_KEY, sqlite_key_store)
    _, key = await sqlite_key_store.create({"name": "k", "rpm": 10, "budget": {"hard": 1}})
    header = bearer(key)
    await auth.authenticate(header)
    n = 20000
    start = time.perf_counter()
    for _ in range(n):
        await auth.authenticate(header)
    per_call = (time.perf_counter() - start) / n * 1e6
    print(f"cached authenticate: {per_call:.2f} us")
    assert per_call < 1000  # generous: about 2 us here


async def test_build_authenticator_picks_by_config(tmp_path: Path) -> None:
    assert await build_authenticator(ServerConfig()).authenticate(None) is ANONYMOUS
    master_only = build_authenticator(ServerConfig(master_key=MASTER_KEY))
    assert isinstance(master_only, MasterKeyAuthenticator)
    keys = {"backend": "sqlite", "path": str(tmp_path / "k.sqlite"), "cache_seconds": 2}
    with_keys = build_authenticator(ServerConfig.model_validate({"master_key": MASTER_KEY, "keys": keys}))
    assert isinstance(with_keys, KeyAuthenticator) and isinstance(with_keys.store, SqliteKeyStore)
    await with_keys.aclose()
    with pytest.raises(ConfigError, match=r"server\.master_key"):
        build_authenticator(ServerConfig.model_validate({"keys": keys}))


async def test_a_flood_of_made_up_ids_never_evicts_a_real_key(sqlite_key_store: KeyStore) -> None:
    counting = CountingStore(sqlite_key_store)
    auth = KeyAuthenticator(MASTER_KEY, counting, cache_seconds=60, max_cached=4)  # type: ignore[arg-type]
    _, key = await sqlite_key_store.create({"name": "real"})
    await auth.authenticate(bearer(key))
    for i in range(50):
        with pytest.raises(AuthenticationError):
            made_up = "a" * 10 + chr(97 + i // 26) + chr(97 + i % 26)  # a well-formed, unknown id
            await auth.authenticate(bearer(f"sk-llmgw-{made_up}-guess"))
    reads = counting.gets
    assert reads == 51  # each made-up id was looked up
    await auth.authenticate(bearer(key))  # still cached: no read
    assert counting.gets == reads
