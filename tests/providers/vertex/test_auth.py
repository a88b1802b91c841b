"""Bearer tokens: fetched once, shared by concurrent callers, refreshed in a worker thread before
expiry (in the background while the old one is still good), never on every call; failures mapped;
a 401 answer gets one retry with a fresh token."""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
import time
from typing import Any

import httpx
import pytest

from llmgateway import errors as e
from llmgateway.transport import HttpxSender
from providers.gcp.auth import GoogleTokenSource, StaticToken
from providers.vertex import VertexProvider
from tests.providers.vertex.helpers import OPENAI_ANSWER, REQUEST, settings, status_body


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeCredentials:
    """Stands in for google-auth credentials: ``refresh`` blocks like a token request does."""

    def __init__(self, lifetime: float = 3600.0, delay: float = 0.0, fail: Exception | None = None) -> None:
        self.lifetime = lifetime
        self.delay = delay
        self.fail = fail
        self.token: str | None = None
        self.expiry: datetime.datetime | None = None
        self.threads: list[int] = []

    def refresh(self, request: Any) -> None:
        self.threads.append(threading.get_ident())
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        self.token = f"t{len(self.threads)}"
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        self.expiry = now + datetime.timedelta(seconds=self.lifetime)


def source(
    credentials: FakeCredentials, clock: Clock | None = None, margin: float = 300.0
) -> GoogleTokenSource:
    return GoogleTokenSource(
        lambda: credentials, lambda **kw: None, refresh_margin=margin, deployment="vx", clock=clock or Clock()
    )


async def test_token_fetched_once_and_reused() -> None:
    credentials = FakeCredentials()
    tokens = source(credentials)
    for _ in range(1000):
        assert await tokens.authorization() == "Bearer t1"
    assert len(credentials.threads) == 1 and tokens.refreshes == 1


async def test_concurrent_first_calls_share_one_refresh_off_the_loop() -> None:
    credentials = FakeCredentials(delay=0.2)
    tokens = source(credentials)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(ticker())
    headers = await asyncio.gather(*(tokens.authorization() for _ in range(50)))
    beat.cancel()
    assert set(headers) == {"Bearer t1"} and len(credentials.threads) == 1
    assert credentials.threads[0] != threading.get_ident()  # a worker thread, not the loop's
    assert ticks >= 10  # the loop kept running during the 0.2 s refresh


async def test_refresh_in_background_inside_the_margin_then_wait_only_near_expiry() -> None:
    clock = Clock()
    credentials = FakeCredentials(lifetime=3600)
    tokens = source(credentials, clock, margin=300)
    assert await tokens.authorization() == "Bearer t1"
    clock.now += 3600 - 300 - 1
    assert await tokens.authorization() == "Bearer t1"  # still fresh: no refresh
    assert len(credentials.threads) == 1
    clock.now += 2  # inside the margin: renewed in the background, the caller does not wait
    assert await tokens.authorization() == "Bearer t1"
    await asyncio.sleep(0.05)
    assert len(credentials.threads) == 2
    assert await tokens.authorization() == "Bearer t2"
    clock.now += 3600 - 29  # the new token is about to expire: callers wait for the next
    assert await tokens.authorization() == "Bearer t3"


async def test_short_lived_tokens_refresh_at_half_life() -> None:
    clock = Clock()
    credentials = FakeCredentials(lifetime=60)
    tokens = source(credentials, clock, margin=300)
    await tokens.authorization()
    clock.now += 29
    await tokens.authorization()
    assert len(credentials.threads) == 1
    clock.now += 2  # past half its life: background renewal
    await tokens.authorization()
    await asyncio.sleep(0.05)
    assert len(credentials.threads) == 2
    clock.now += 55  # last tenth of the second token's life: never used there
    assert await tokens.authorization() == "Bearer t3"


async def test_a_waiting_caller_cancelled_does_not_cancel_the_shared_refresh() -> None:
    credentials = FakeCredentials(delay=0.1)
    tokens = source(credentials)
    first = asyncio.create_task(tokens.authorization())
    second = asyncio.create_task(tokens.authorization())
    await asyncio.sleep(0.02)
    first.cancel()
    assert await second == "Bearer t1"
    assert len(credentials.threads) == 1


@pytest.mark.parametrize(
    ("failure", "cls", "text"),
    [
        ("refresh", e.AuthenticationError, "rejected the credentials"),
        ("transport", e.APIConnectionError, "token service"),
        ("default", e.AuthenticationError, "gcloud auth application-default login"),
        ("other", e.AuthenticationError, "could not get a Google access token"),
    ],
)
async def test_refresh_failures_are_typed(failure: str, cls: type, text: str) -> None:
    from google.auth import exceptions

    fail = {
        "refresh": exceptions.RefreshError("invalid_grant: Invalid JWT Signature."),
        "transport": exceptions.TransportError("connection refused"),
        "default": exceptions.DefaultCredentialsError("Your default credentials were not found."),
        "other": ValueError("Could not deserialize key data."),
    }[failure]
    tokens = source(FakeCredentials(fail=fail))
    with pytest.raises(cls, match=text) as caught:
        await tokens.authorization()
    assert caught.value.deployment == "vx"


async def test_failed_background_refresh_keeps_the_token_and_backs_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from google.auth import exceptions

    clock = Clock()
    credentials = FakeCredentials(lifetime=3600)
    tokens = source(credentials, clock)
    await tokens.authorization()
    credentials.fail = exceptions.TransportError("metadata server unreachable")
    clock.now += 3400
    with caplog.at_level(logging.WARNING):
        assert await tokens.authorization() == "Bearer t1"
        await asyncio.sleep(0.05)
    assert "will retry" in caplog.text and len(credentials.threads) == 2
    assert await tokens.authorization() == "Bearer t1"  # within the back-off: no new try
    await asyncio.sleep(0.02)
    assert len(credentials.threads) == 2
    clock.now += 6
    await tokens.authorization()
    await asyncio.sleep(0.05)
    assert len(credentials.threads) == 3


async def test_401_gets_one_retry_with_a_fresh_token() -> None:
    credentials = FakeCredentials()
    tokens = source(credentials)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer t1":  # revoked upstream before its expiry
            return httpx.Response(401, json=status_body(401, "UNAUTHENTICATED"))
        return httpx.Response(200, json=OPENAI_ANSWER)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    vx = VertexProvider("vx", settings(route="chat"), HttpxSender(client), tokens)
    assert (await vx.chat(REQUEST)).text() == "Paris"
    assert seen == ["Bearer t1", "Bearer t2"]
    await vx.aclose()


async def test_static_token_401_is_not_retried_and_headers_are_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json=status_body(401, "UNAUTHENTICATED"))

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    s = settings(route="chat", quota_project="billing-proj", headers={"X-Extra": "1"})
    vx = VertexProvider("vx", s, HttpxSender(client), StaticToken("tok", s.quota_project))
    with pytest.raises(e.AuthenticationError):
        await vx.chat(REQUEST)
    assert len(seen) == 1
    headers = seen[0].headers
    assert headers["authorization"] == "Bearer tok" and headers["x-goog-user-project"] == "billing-proj"
    assert headers["x-extra"] == "1" and headers["content-type"] == "application/json"


async def test_quota_project_of_the_credentials_is_sent() -> None:
    credentials = FakeCredentials()
    credentials.quota_project_id = "billed-proj"  # type: ignore[attr-defined]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OPENAI_ANSWER)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    vx = VertexProvider("vx", settings(route="chat"), HttpxSender(client), source(credentials))
    await vx.chat(REQUEST)
    assert seen[0].headers["x-goog-user-project"] == "billed-proj"
