"""botocore's real chain against local stand-ins of its network sources: web identity
(AssumeRoleWithWebIdentity on a fake STS) and EC2 instance metadata (a fake IMDSv2). The keys they
hand out sign the calls (checked by the fake runtime with botocore) and are refreshed before they
expire; STS's refusals become AuthenticationError (not retried) and its throttling or 5xx a
retryable APIConnectionError, with a message naming the source and what to check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bench.sagemaker_fake import REGION
from llmgateway import APIConnectionError, AuthenticationError, Gateway
from llmgateway.provider import ProviderContext
from llmgateway.transport import HttpPool
from llmgateway.types import ChatCompletionRequest
from providers.aws.sagemaker_settings import SageMakerSettings
from providers.sagemaker import SageMakerProvider
from tests.providers.sagemaker.aws_sources import FakeImds, FakeSts, Issuer, StsFailure, serving
from tests.providers.sagemaker.conftest import ENDPOINT, USER, Runtime

REQUEST = ChatCompletionRequest.model_validate({"model": "chat", "messages": USER})
ROLE_ARN = "arn:aws:iam::123456789012:role/gateway"
WEB_TOKEN = "eyJhbGciOiJSUzI1NiJ9.web-identity-token-do-not-log.signature"
# botocore refreshes credentials 15 minutes before they expire: these start just outside that window.
REFRESH_WINDOW = timedelta(minutes=15)
OUTSIDE_WINDOW = timedelta(seconds=2)


def access_key_of(request: httpx.Request) -> str:
    return request.headers["authorization"].split("Credential=")[1].split("/")[0]


def provider_for(client: httpx.AsyncClient) -> SageMakerProvider:
    settings = SageMakerSettings.model_validate({"endpoint_name": ENDPOINT, "region": REGION})
    provider = SageMakerProvider.from_settings("sm", settings, ProviderContext(http=HttpPool(client)))
    assert isinstance(provider, SageMakerProvider)
    return provider


@pytest.fixture
def sts(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSts]:
    """Web identity is the chain's source: a token file, a role, STS at the fake; one attempt per
    STS call (botocore would otherwise retry throttling itself, with seconds of backoff)."""
    fake = FakeSts(Issuer("WEB", REFRESH_WINDOW + OUTSIDE_WINDOW))
    token_file = aws_env / "web-identity-token"
    token_file.write_text(WEB_TOKEN)
    with serving(fake) as url:
        monkeypatch.setenv("AWS_ROLE_ARN", ROLE_ARN)
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        yield fake


@pytest.fixture
def imds(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeImds]:
    """Instance metadata is the chain's source (nothing before it in the chain is set)."""
    fake = FakeImds(Issuer("IMDS", timedelta(hours=1)))
    with serving(fake) as url:
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url)
        yield fake


async def test_web_identity_credentials_sign_and_are_refreshed_before_expiry(
    sts: FakeSts, mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.keys = sts.issuer.keys(3)
    provider = provider_for(mock_client)
    await asyncio.gather(*(provider.chat(REQUEST) for _ in range(3)))
    assert len(sts.calls) == 1  # concurrent first calls share one AssumeRoleWithWebIdentity
    call = sts.calls[0]
    assert (call["RoleArn"], call["WebIdentityToken"]) == (ROLE_ARN, WEB_TOKEN)
    assert [access_key_of(r) for r in runtime.requests] == ["ASIAWEB1"] * 3
    assert runtime.requests[0].headers["x-amz-security-token"] == "web-token-1"

    # Inside the refresh window (still valid for 15 minutes): the next call assumes the role again.
    window_opens = sts.issuer.expiries[0] - REFRESH_WINDOW
    await asyncio.sleep(max(0.0, window_opens.timestamp() - time.time() + 0.05))
    assert (await provider.chat(REQUEST)).text() == "Paris"
    assert len(sts.calls) == 2
    assert access_key_of(runtime.requests[-1]) == "ASIAWEB2"
    assert runtime.requests[-1].headers["x-amz-security-token"] == "web-token-2"


async def test_a_refused_web_identity_token_is_an_authentication_error_not_retried(
    sts: FakeSts, mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    sts.failures = [StsFailure(400, "InvalidIdentityToken", "Couldn't retrieve verification key")] * 5
    config = {
        "models": {
            "chat": {
                "deployments": [
                    {"provider": "sagemaker", "settings": {"endpoint_name": ENDPOINT, "region": REGION}}
                ],
                "routing": {"retry": {"max_rounds": 3, "backoff_initial": 0.0, "backoff_max": 0.0}},
            }
        }
    }
    async with Gateway(config, http_client=mock_client) as gateway:
        with pytest.raises(AuthenticationError) as caught:
            await gateway.chat.completions.create(model="chat", messages=USER)
    assert len(sts.calls) == 1  # a permanent refusal: the gateway did not try again
    assert runtime.requests == []
    message = caught.value.message
    assert "InvalidIdentityToken" in message and "Couldn't retrieve verification key" in message
    assert (
        "web identity" in message and "AWS_WEB_IDENTITY_TOKEN_FILE" in message and "AWS_ROLE_ARN" in message
    )
    assert WEB_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [StsFailure(400, "Throttling", "Rate exceeded"), StsFailure(503, "ServiceUnavailable", "try later")],
)
async def test_sts_throttling_or_outage_is_retryable(
    sts: FakeSts, mock_client: httpx.AsyncClient, runtime: Runtime, failure: StsFailure
) -> None:
    runtime.keys = sts.issuer.keys(1)
    sts.failures = [failure]
    provider = provider_for(mock_client)
    with pytest.raises(APIConnectionError, match=failure.code) as caught:
        await provider.chat(REQUEST)
    assert caught.value.retryable and "web identity" in caught.value.message
    assert (await provider.chat(REQUEST)).text() == "Paris"  # the next try assumes the role
    assert len(sts.calls) == 2


async def test_sts_throttling_is_retried_by_the_gateway(
    sts: FakeSts, mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.keys = sts.issuer.keys(1)
    sts.failures = [StsFailure(400, "Throttling", "Rate exceeded")]
    config = {
        "models": {
            "chat": {
                "deployments": [
                    {"provider": "sagemaker", "settings": {"endpoint_name": ENDPOINT, "region": REGION}}
                ],
                "routing": {"retry": {"backoff_initial": 0.0, "backoff_max": 0.0}},
            }
        }
    }
    async with Gateway(config, http_client=mock_client) as gateway:
        reply = await gateway.chat.completions.create(model="chat", messages=USER)
    assert reply.text() == "Paris"
    assert reply.gateway is not None and [a.outcome for a in reply.gateway.attempts] == ["error", "ok"]


async def test_instance_metadata_credentials_sign_and_are_refreshed_before_expiry(
    imds: FakeImds, mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.keys = imds.issuer.keys(2)
    provider = provider_for(mock_client)
    await provider.chat(REQUEST)
    await provider.chat(REQUEST)
    assert imds.credential_fetches == 1  # cached between calls
    assert [access_key_of(r) for r in runtime.requests] == ["ASIAIMDS1", "ASIAIMDS1"]
    assert runtime.requests[0].headers["x-amz-security-token"] == "imds-token-1"
    assert ("PUT", "/latest/api/token") in imds.requests  # IMDSv2: a session token first

    # 46 minutes later for the credentials (botocore's clock: RefreshableCredentials takes a
    # time_fetcher), 14 minutes before they expire: the next call fetches new ones and signs with them.
    source = provider.credentials._source
    source._time_fetcher = lambda: datetime.now().astimezone() + timedelta(minutes=46)
    assert (await provider.chat(REQUEST)).text() == "Paris"
    assert imds.credential_fetches == 2
    assert access_key_of(runtime.requests[-1]) == "ASIAIMDS2"
    assert runtime.requests[-1].headers["x-amz-security-token"] == "imds-token-2"


@pytest.mark.parametrize(
    ("operation", "status", "code", "expected", "hint"),
    [
        ("AssumeRole", 403, "AccessDenied", AuthenticationError, "trust policy"),
        ("AssumeRole", 400, "ExpiredToken", AuthenticationError, "source_profile"),
        ("GetRoleCredentials", 401, "UnauthorizedException", AuthenticationError, "aws sso login"),
        ("AssumeRoleWithWebIdentity", 400, "IDPCommunicationError", APIConnectionError, "try again"),
        ("AssumeRole", 500, "InternalError", APIConnectionError, "try again"),
        ("AssumeRole", 429, "SomethingNew", APIConnectionError, "try again"),
    ],
)
def test_client_errors_map_by_code_and_status(
    operation: str, status: int, code: str, expected: type[Exception], hint: str
) -> None:
    from botocore.exceptions import ClientError

    from providers.aws.credential_errors import credential_source_error

    response = {"Error": {"Code": code, "Message": "refused"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    error = credential_source_error(ClientError(response, operation), "sm")  # type: ignore[arg-type]
    assert type(error) is expected and error.deployment == "sm" and error.code == code
    assert hint in error.message and f"{code}: refused" in error.message
    assert str(error).count("sm") == 1 and str(error).endswith("[deployment sm]")  # named once
