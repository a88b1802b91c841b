"""Where each route goes on each kind of host, and settings that are refused with a clear error."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from llmgateway import Gateway
from llmgateway.errors import ConfigError
from providers.gcp.endpoints import EndpointUrls
from tests.providers.vertex.helpers import settings

R = "/v1/projects/proj/locations/us-central1/endpoints/42"


@pytest.mark.parametrize(
    ("values", "unary", "stream"),
    [
        ({"route": "predict"}, f"https://us-central1-aiplatform.googleapis.com{R}:predict", None),
        (
            {"route": "raw"},
            f"https://us-central1-aiplatform.googleapis.com{R}:rawPredict",
            f"https://us-central1-aiplatform.googleapis.com{R}:streamRawPredict",
        ),
        (
            {"route": "chat"},
            f"https://us-central1-aiplatform.googleapis.com{R}/chat/completions",
            f"https://us-central1-aiplatform.googleapis.com{R}/chat/completions",
        ),
        (
            {
                "route": "chat",
                "region": "global",
                "endpoint": "openapi",
                "model": "google/gemini-2.0-flash-001",
            },
            "https://aiplatform.googleapis.com/v1/projects/proj/locations/global/endpoints/openapi/chat/completions",
            "https://aiplatform.googleapis.com/v1/projects/proj/locations/global/endpoints/openapi/chat/completions",
        ),
        (
            {"route": "chat", "api_version": "v1beta1", "region": "europe-west4"},
            "https://europe-west4-aiplatform.googleapis.com/v1beta1/projects/proj/locations/europe-west4"
            "/endpoints/42/chat/completions",
            "https://europe-west4-aiplatform.googleapis.com/v1beta1/projects/proj/locations/europe-west4"
            "/endpoints/42/chat/completions",
        ),
        (
            {"route": "predict", "dedicated": True, "project_number": "987"},
            f"https://42.us-central1-987.prediction.vertexai.goog{R}:predict",
            None,
        ),
        (
            {"route": "raw", "project": "987", "dedicated": True},
            "https://42.us-central1-987.prediction.vertexai.goog/v1/projects/987/locations/us-central1"
            "/endpoints/42:rawPredict",
            "https://42.us-central1-987.prediction.vertexai.goog/v1/projects/987/locations/us-central1"
            "/endpoints/42:streamRawPredict",
        ),
        (
            {
                "route": "predict",
                "dedicated_endpoint_dns": "https://42.us-central1-987.prediction.vertexai.goog/",
            },
            f"https://42.us-central1-987.prediction.vertexai.goog{R}:predict",
            None,
        ),
        (
            {"route": "predict", "api_endpoint": "http://127.0.0.1:8123/"},
            f"http://127.0.0.1:8123{R}:predict",
            None,
        ),
        ({"route": "predict", "api_endpoint": "http://10.1.2.3"}, f"http://10.1.2.3{R}:predict", None),
        (
            {"route": "chat", "api_endpoint": "https://vertex.internal.example/prefix"},
            f"https://vertex.internal.example/prefix{R}/chat/completions",
            f"https://vertex.internal.example/prefix{R}/chat/completions",
        ),
        (
            {"route": "predict", "endpoint": "projects/proj/locations/us-central1/endpoints/42"},
            f"https://us-central1-aiplatform.googleapis.com{R}:predict",
            None,
        ),
    ],
)
def test_urls(values: dict[str, Any], unary: str, stream: str | None) -> None:
    urls = EndpointUrls.of(settings(**values))
    assert (urls.unary, urls.stream) == (unary, stream)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"endpoint": "openapi", "route": "chat"}, "needs model"),
        ({"endpoint": "openapi", "route": "predict", "model": "m"}, "serves only route: chat"),
        ({"api_endpoint": "http://vertex.example.com"}, "clear text"),
        ({"api_endpoint": "ftp://127.0.0.1"}, "must be a URL"),
        ({"api_endpoint": "https://h?x=1"}, "query"),
        ({"dedicated": True}, "project_number"),
        ({"dedicated": True, "project_number": "1", "region": "global"}, "not 'global'"),
        ({"dedicated_endpoint_dns": "example.com"}, "prediction.vertexai.goog"),
        ({"region": "US Central"}, "Google Cloud location"),
        ({"project": "Bad Project"}, "project id"),
        ({"endpoint": "42/../x"}, "endpoint's id"),
        ({"credentials_file": "/no/such/key.json", "access_token": None}, "no such file"),
        ({"route": "stream"}, "chat"),
        ({"predict": {"parameter_names": {"max_tokenz": "x"}}}, "unknown request fields"),
        ({"chat_template": "vicuna"}, "chatml"),
        ({"predict": {"template": "chatml"}}, "set the deployment's chat_template"),
        ({"timeout": 0}, "greater than 0"),
        ({"region_name": "us"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_say_what_to_fix(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**values)


def test_both_credentials_file_and_token_refused(tmp_path: Any) -> None:
    key = tmp_path / "key.json"
    key.write_text('{"type": "service_account"}')
    with pytest.raises(ValidationError, match="not both"):
        settings(credentials_file=str(key))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a credentials JSON"),
        ('{"type": "gdch_service_account"}', "GOOGLE_APPLICATION"),
    ],
)
def test_credentials_file_checked_at_load(tmp_path: Any, content: str, message: str) -> None:
    key = tmp_path / "key.json"
    key.write_text(content)
    with pytest.raises(ValidationError, match=message):
        settings(credentials_file=str(key), access_token=None)


def test_credentials_file_kinds_load_with_their_own_loader(tmp_path: Any) -> None:
    from google.oauth2 import credentials

    from providers.gcp.auth import credentials_loader

    key = tmp_path / "user.json"
    user = {"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}
    key.write_text(json.dumps(user))
    loaded = credentials_loader(str(key), ["https://www.googleapis.com/auth/cloud-platform"], "billing")()
    assert isinstance(loaded, credentials.Credentials) and loaded.quota_project_id == "billing"


def test_bad_settings_fail_at_config_load_with_their_path() -> None:
    config = {"models": {"c": {"deployments": [{"provider": "vertex", "settings": {"project": "proj"}}]}}}
    with pytest.raises(ConfigError, match=r"settings\.endpoint"):
        Gateway(config)


def test_without_google_auth_config_load_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import google.auth...` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "google.auth", None)
    monkeypatch.setitem(sys.modules, "google.auth.transport", None)
    config = {
        "models": {
            "c": {"deployments": [{"provider": "vertex", "settings": {"project": "proj", "endpoint": "1"}}]}
        }
    }
    with pytest.raises(ConfigError, match=r"pip install 'llmgateway\[gcp\]'"):
        Gateway(config)
    # A fixed access token needs no google-auth.
    config["models"]["c"]["deployments"][0]["settings"]["access_token"] = "tok"  # type: ignore[index]
    Gateway(config)


def test_capabilities_follow_the_route() -> None:
    from tests.providers.vertex.helpers import provider

    assert not provider(None, route="predict").capabilities.streaming
    assert not provider(None, route="predict").capabilities.tools
    assert provider(None, route="raw").capabilities.streaming
    assert not provider(None, route="raw", raw_format="tgi").capabilities.tools
    assert provider(None, route="chat").capabilities.tools
