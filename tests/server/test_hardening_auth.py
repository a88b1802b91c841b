"""Key checks are constant-time: the master key and a virtual key's secret (as its SHA-256) are
compared with hmac.compare_digest (patched on the hmac module, wherever it is called from), never
with ==, so response times do not leak how much of a
guessed key was right."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llmgateway.errors import AuthenticationError
from llmgateway.server import auth as auth_module
from llmgateway.server.auth import MASTER, KeyAuthenticator, MasterKeyAuthenticator
from llmgateway.server.keys.secrets import parse_key
from llmgateway.server.keys.sqlite_store import SqliteKeyStore

MASTER_KEY = "master-key-0123456789abcdef"


class Comparisons:
    """Records every compare_digest call (and still compares)."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes]] = []
        self._compare = hmac.compare_digest

    def __call__(self, a: bytes, b: bytes) -> bool:
        self.calls.append((a, b))
        return self._compare(a, b)


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> Comparisons:
    recorder = Comparisons()
    monkeypatch.setattr(hmac, "compare_digest", recorder)
    assert vars(auth_module)["hmac"] is hmac  # the module auth.py calls
    return recorder


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteKeyStore]:
    keys = SqliteKeyStore(tmp_path / "keys.sqlite", "hardening_keys")
    yield keys
    await keys.aclose()


async def test_master_key_is_compared_in_constant_time(comparisons: Comparisons) -> None:
    auth = MasterKeyAuthenticator(MASTER_KEY)
    assert await auth.authenticate(f"Bearer {MASTER_KEY}") is MASTER
    assert comparisons.calls == [(MASTER_KEY.encode(), MASTER_KEY.encode())]
    with pytest.raises(AuthenticationError):
        await auth.authenticate(f"Bearer {MASTER_KEY[:-1]}x")
    assert comparisons.calls[-1] == (f"{MASTER_KEY[:-1]}x".encode(), MASTER_KEY.encode())


async def test_virtual_key_secret_hash_is_compared_in_constant_time(
    comparisons: Comparisons, store: SqliteKeyStore
) -> None:
    auth = KeyAuthenticator(MASTER_KEY, store)
    assert await auth.authenticate(f"Bearer {MASTER_KEY}") is MASTER
    assert len(comparisons.calls) == 1  # the master key, also through compare_digest
    record, key = await store.create({"name": "app"})
    comparisons.calls.clear()
    principal = await auth.authenticate(f"Bearer {key}")
    assert not principal.master
    parsed = parse_key(key)
    assert parsed is not None
    secret = parsed[1]
    expected = (hashlib.sha256(secret.encode()).hexdigest().encode(), record.secret_hash.encode())
    # The master check first, then the secret's digest against the stored digest.
    assert len(comparisons.calls) == 2 and comparisons.calls[1] == expected
    assert expected[0] == expected[1]

    wrong = key[:-1] + ("a" if key[-1] != "a" else "b")
    comparisons.calls.clear()
    with pytest.raises(AuthenticationError):
        await auth.authenticate(f"Bearer {wrong}")
    wrong_digest = hashlib.sha256((secret[:-1] + wrong[-1]).encode()).hexdigest().encode()
    assert comparisons.calls[-1] == (wrong_digest, record.secret_hash.encode())
