"""Credentials through botocore's chain: environment, shared credentials file and profile, and a
credential_process whose expiring credentials are refreshed before they expire, in a worker
thread (the event loop keeps running meanwhile). And the config errors around them."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.sagemaker_fake import ACCESS_KEY, REGION, SECRET_KEY
from llmgateway import AuthenticationError, ConfigError, Gateway
from llmgateway.provider import ProviderContext
from llmgateway.transport import HttpPool
from llmgateway.types import ChatCompletionRequest
from providers.aws.sagemaker_settings import SageMakerSettings
from providers.sagemaker import SageMakerProvider
from tests.providers.sagemaker.conftest import ENDPOINT, USER, Runtime

REQUEST = ChatCompletionRequest.model_validate({"model": "chat", "messages": USER})
# Seconds the credentials stay outside botocore's 15-minute refresh window.
OUTSIDE_WINDOW = 1.5
PROCESS_SECONDS = 0.3

CREDENTIAL_PROCESS = f"""
import datetime, json, pathlib, sys, time
counter = pathlib.Path(sys.argv[1])
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
now = datetime.datetime.now(datetime.timezone.utc)
expires = now + datetime.timedelta(minutes=15, seconds={OUTSIDE_WINDOW})
pathlib.Path(sys.argv[2]).write_text(str(expires.timestamp()))
time.sleep({PROCESS_SECONDS})  # a slow credential source: the event loop must not wait on it
answer = {{"Version": 1, "AccessKeyId": f"AKPROC{{n}}", "SecretAccessKey": f"secret-{{n}}"}}
answer.update(SessionToken=f"token-{{n}}", Expiration=expires.isoformat())
print(json.dumps(answer))
"""


def provider_for(client: httpx.AsyncClient, **values: object) -> SageMakerProvider:
    parsed = SageMakerSettings.model_validate({"endpoint_name": ENDPOINT, **values})
    provider = SageMakerProvider.from_settings("sm", parsed, ProviderContext(http=HttpPool(client)))
    assert isinstance(provider, SageMakerProvider)
    return provider


def access_key_of(request: httpx.Request) -> str:
    return request.headers["authorization"].split("Credential=")[1].split("/")[0]


async def test_environment_credentials_and_region(
    env_keys: None, mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    provider = provider_for(mock_client)
    assert provider.region == REGION
    assert (await provider.chat(REQUEST)).text() == "Paris"
    assert access_key_of(runtime.requests[0]) == ACCESS_KEY


async def test_shared_credentials_file_and_profile(
    aws_env: Path, mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    (aws_env / "credentials").write_text(
        f"[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n"
        f"[team]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    (aws_env / "config").write_text(f"[profile team]\nregion = {REGION}\n")
    provider = provider_for(mock_client, profile="team")
    assert provider.region == REGION
    await provider.chat(REQUEST)
    assert access_key_of(runtime.requests[0]) == ACCESS_KEY


async def test_credential_process_is_refreshed_before_expiry_off_the_loop(
    aws_env: Path, mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    script = aws_env / "credentials.py"
    script.write_text(CREDENTIAL_PROCESS)
    counter, expiry = aws_env / "count", aws_env / "expiry"
    (aws_env / "config").write_text(
        f"[profile rotating]\nregion = {REGION}\n"
        f"credential_process = {sys.executable} {script} {counter} {expiry}\n"
    )
    runtime.keys = {f"AKPROC{n}": (f"secret-{n}", f"token-{n}") for n in (1, 2, 3)}
    provider = provider_for(mock_client, profile="rotating")

    async def ticks_during(call: object) -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            await call  # type: ignore[misc]
        finally:
            ticker.cancel()
        return ticks

    # Concurrent first calls: the process runs once, in a thread (the loop kept ticking while it
    # slept), and every call waits for that one load.
    assert await ticks_during(asyncio.gather(*(provider.chat(REQUEST) for _ in range(4)))) >= 10
    assert counter.read_text() == "1"
    del runtime.requests[1:]
    # Cached: the next calls run no process until the credentials near their expiry.
    await provider.chat(REQUEST)
    assert counter.read_text() == "1"
    assert [access_key_of(r) for r in runtime.requests] == ["AKPROC1", "AKPROC1"]
    # Once inside botocore's refresh window (15 minutes before expiry, so still valid), the next
    # call refreshes them, again off the loop, and signs with the new ones.
    window_opens = float(expiry.read_text()) - 15 * 60
    await asyncio.sleep(max(0.0, window_opens - time.time() + 0.05))
    assert await ticks_during(provider.chat(REQUEST)) >= 10
    assert counter.read_text() == "2"
    assert access_key_of(runtime.requests[-1]) == "AKPROC2"
    assert runtime.requests[-1].headers["x-amz-security-token"] == "token-2"
    assert provider.credentials.refreshes == 2


async def test_no_credentials_is_an_authentication_error_that_says_what_to_do(
    aws_env: Path, mock_client: httpx.AsyncClient
) -> None:
    provider = provider_for(mock_client, region=REGION)
    with pytest.raises(AuthenticationError, match=r"no AWS credentials found.*AWS_ACCESS_KEY_ID"):
        await provider.chat(REQUEST)


async def test_rejected_credentials_are_resolved_again(
    env_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(keys={})  # the service knows no key yet: UnrecognizedClientException
    async with httpx.AsyncClient(transport=httpx.MockTransport(runtime)) as client:
        provider = provider_for(client)
        with pytest.raises(AuthenticationError, match="UnrecognizedClientException"):
            await provider.chat(REQUEST)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKROTATED")  # the keys were rotated
        runtime.keys = {"AKROTATED": (SECRET_KEY, None)}
        assert (await provider.chat(REQUEST)).text() == "Paris"
    assert provider.credentials.refreshes == 2


def test_missing_region_is_a_config_error(aws_env: Path) -> None:
    config = {
        "models": {"c": {"deployments": [{"provider": "sagemaker", "settings": {"endpoint_name": "ep"}}]}}
    }
    with pytest.raises(ConfigError, match="no AWS region"):
        Gateway(config)


def test_unknown_profile_is_a_config_error(aws_env: Path) -> None:
    settings = {"endpoint_name": "ep", "profile": "nope"}
    with pytest.raises(ConfigError, match="profile"):
        Gateway({"models": {"c": {"deployments": [{"provider": "sagemaker", "settings": settings}]}}})


def test_without_botocore_the_config_says_which_extra(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore", None)  # import botocore now raises ImportError
    settings = {"endpoint_name": "ep", "region": REGION}
    with pytest.raises(ConfigError, match=r"pip install 'llmgateway\[aws\]'"):
        Gateway({"models": {"c": {"deployments": [{"provider": "sagemaker", "settings": settings}]}}})


def test_import_does_not_load_botocore() -> None:
    import subprocess

    code = "import sys, providers.sagemaker; print('botocore' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"endpoint_name": "bad_name!"}, "endpoint_name"),
        ({"endpoint_name": "ep", "region": "mars-1"}, "not an AWS region"),
        ({"endpoint_name": "ep", "endpoint_url": "runtime.local"}, "http:// or https://"),
        ({"endpoint_name": "ep", "format": "tgi"}, "set 'tokenizer'"),
        ({"endpoint_name": "ep", "access_key_id": "AK"}, "together"),
        ({"endpoint_name": "ep", "format": "xml"}, "format"),
        ({"endpoint_name": "ep", "tokenizer": "/no/such/dir"}, "neither a model directory"),
        ({"endpoint_name": "ep", "custom_attributes": "naïve"}, "US-ASCII"),
        ({"endpoint_name": "ep", "chat_templat": "x"}, "chat_templat"),
        ({"endpoint_name": "ep", "parameters": {"top_k": 5}}, "format 'tgi' only"),
    ],
)
def test_settings_errors_are_clear(aws_env: Path, settings: dict[str, object], message: str) -> None:
    config = {"models": {"c": {"deployments": [{"provider": "sagemaker", "settings": settings}]}}}
    with pytest.raises(ConfigError, match=message) as caught:
        Gateway(config)
    assert "models.c.deployments" in caught.value.message or "settings" in caught.value.message


def test_bad_chat_template_fails_at_load(aws_env: Path) -> None:
    settings = {
        "endpoint_name": "ep",
        "region": REGION,
        "format": "tgi",
        "chat_template": "{% for m in messages %}",
    }
    with pytest.raises(ConfigError, match="not a valid Jinja template"):
        Gateway({"models": {"c": {"deployments": [{"provider": "sagemaker", "settings": settings}]}}})


def test_credentials_in_config_are_not_shown(aws_env: Path) -> None:
    settings = {"endpoint_name": "ep", "region": REGION, "access_key_id": "AKID", "secret_access_key": "hush"}
    config = {"models": {"c": {"deployments": [{"provider": "sagemaker", "settings": settings}]}}}
    gateway = Gateway(config)
    provider = gateway.deployments()[0].provider
    assert isinstance(provider, SageMakerProvider)
    assert "hush" not in repr(provider.settings) and "hush" not in json.dumps(
        provider.settings.model_dump(mode="json")
    )


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_keys_in_config_take_the_region_from_the_environment(
    aws_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "eu-west-3")
    settings = {"endpoint_name": "ep", "access_key_id": "AKID", "secret_access_key": "hush"}
    gateway = Gateway({"models": {"c": {"deployments": [{"provider": "sagemaker", "settings": settings}]}}})
    provider = gateway.deployments()[0].provider
    assert isinstance(provider, SageMakerProvider)
    assert provider.region == "eu-west-3"
    assert provider.invoke_url.startswith("https://runtime.sagemaker.eu-west-3.amazonaws.com/")


def test_keys_in_config_take_the_region_from_the_profile(aws_env: Path) -> None:
    (aws_env / "config").write_text("[profile team]\nregion = ap-south-1\n")
    settings = {"endpoint_name": "ep", "profile": "team", "access_key_id": "AKID", "secret_access_key": "s"}
    gateway = Gateway({"models": {"c": {"deployments": [{"provider": "sagemaker", "settings": settings}]}}})
    provider = gateway.deployments()[0].provider
    assert isinstance(provider, SageMakerProvider) and provider.region == "ap-south-1"


HEADER_SETTINGS = (
    "custom_attributes",
    "target_model",
    "target_variant",
    "target_container_hostname",
    "inference_component",
    "content_type",
    "accept",
)


@pytest.mark.parametrize("name", HEADER_SETTINGS)
def test_every_header_bound_setting_must_be_ascii(name: str) -> None:
    with pytest.raises(ValueError, match="US-ASCII"):
        SageMakerSettings.model_validate({"endpoint_name": "ep", name: "café"})


def test_header_bound_settings_are_the_ones_sent_as_headers() -> None:
    from providers.sagemaker import _headers

    values = {name: f"value-{n}" for n, name in enumerate(HEADER_SETTINGS)}
    settings = SageMakerSettings.model_validate({"endpoint_name": "ep", **values})
    sent = {*_headers(settings, stream=False).values(), *_headers(settings, stream=True).values()}
    assert sent == set(values.values())
