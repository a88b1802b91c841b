"""The real token path: a service-account key file (RSA key made here) found through
GOOGLE_APPLICATION_CREDENTIALS by google-auth's ADC, its signed JWT exchanged at a fake OAuth token
server on 127.0.0.1 (which checks the signature), the granted token sent to the fake Vertex API,
and a token close to its expiry replaced before it is used."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from llmgateway import Gateway
from llmgateway.errors import AuthenticationError
from tests.integration.vertex_fake import FakeVertex, fake_vertex

pytestmark = pytest.mark.integration

EMAIL = "gateway@test-project.iam.gserviceaccount.com"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def rsa_pair() -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return rsa_pair()


@pytest.fixture
async def fake(upstream_url: str, keys: tuple[bytes, bytes]) -> AsyncIterator[FakeVertex]:
    async with fake_vertex(upstream_url.removesuffix("/v1"), public_pem=keys[1], client_email=EMAIL) as front:
        yield front


def write_key(path: Path, private_pem: bytes, token_uri: str) -> Path:
    info = {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "key-1",
        "private_key": private_pem.decode(),
        "client_email": EMAIL,
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path


def config(fake: FakeVertex, **settings: Any) -> dict[str, Any]:
    values = {"project": fake.project, "region": fake.region, "endpoint": "111", "api_endpoint": fake.url}
    deployment = {"name": "vertex", "provider": "vertex", "settings": {**values, **settings}}
    return {"models": {"chat": {"deployments": [deployment]}}}


async def test_adc_service_account_token_reaches_vertex_and_is_reused(
    fake: FakeVertex, keys: tuple[bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = write_key(tmp_path / "sa.json", keys[0], f"{fake.url}/token")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    async with Gateway(config(fake)) as gw:
        for _ in range(3):
            reply = await gw.chat.completions.create(model="chat", messages=QUESTION)
            assert "Paris" in reply.text()
    assert fake.token_requests == 1 and len(fake.tokens.granted) == 1
    assert [auth for _, auth in fake.seen] == [f"Bearer {fake.tokens.granted[0]}"] * 3


async def test_token_close_to_expiry_is_refreshed_before_use(
    fake: FakeVertex, keys: tuple[bytes, bytes], tmp_path: Path
) -> None:
    fake.token_lifetime = 1.0
    key = write_key(tmp_path / "sa.json", keys[0], f"{fake.url}/token")
    async with Gateway(config(fake, credentials_file=str(key))) as gw:
        await gw.chat.completions.create(model="chat", messages=QUESTION)
        await asyncio.sleep(0.95)  # the token is in its last tenth: it must not be sent again
        await gw.chat.completions.create(model="chat", messages=QUESTION)
    first, second = fake.tokens.granted
    assert [auth for _, auth in fake.seen] == [f"Bearer {first}", f"Bearer {second}"]
    assert fake.token_requests == 2


async def test_key_that_does_not_match_is_refused_by_the_token_server(
    fake: FakeVertex, tmp_path: Path
) -> None:
    other_private, _ = rsa_pair()
    key = write_key(tmp_path / "sa.json", other_private, f"{fake.url}/token")
    async with Gateway(config(fake, credentials_file=str(key))) as gw:
        with pytest.raises(AuthenticationError, match="Invalid JWT Signature"):
            await gw.chat.completions.create(model="chat", messages=QUESTION)
    assert fake.token_requests == 1 and fake.seen == []
