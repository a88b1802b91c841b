"""credentials_file of type impersonated_service_account (what ``gcloud auth application-default
login --impersonate-service-account`` writes): the source user's refresh token buys a token, which
buys the target service account's token from IAM generateAccessToken. google-auth makes both calls
through the request callable the token source is given; here it answers them itself, checking
each, so nothing leaves the process."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from llmgateway import AuthenticationError
from providers.gcp.auth import GoogleTokenSource, credentials_loader
from providers.gcp.settings import VertexSettings

TARGET = "gateway@proj.iam.gserviceaccount.com"
TOKEN_URI = "https://oauth2.googleapis.com/token"  # google-auth's, for authorized_user sources
IAM_URL = f"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


@dataclass
class Answer:
    status: int
    data: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})


@dataclass
class GoogleEndpoints:
    """The OAuth token endpoint (refresh-token grant) and IAM credentials, as google-auth calls them."""

    iam_status: int = 200
    calls: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)

    def __call__(
        self, url: str, method: str = "GET", body: Any = None, headers: Any = None, **_: Any
    ) -> Answer:
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        text = body.decode() if isinstance(body, bytes) else body or ""
        self.calls.append((url, headers, text))
        if url == TOKEN_URI and method == "POST":
            form = {k: v[0] for k, v in parse_qs(text).items()}
            if (form.get("grant_type"), form.get("refresh_token")) != ("refresh_token", "user-refresh"):
                return Answer(400, b'{"error": "invalid_grant"}')
            return Answer(200, json.dumps({"access_token": "user-token", "expires_in": 3600}).encode())
        if url == IAM_URL and method == "POST":
            if headers.get("authorization") != "Bearer user-token":
                return Answer(401, b'{"error": {"code": 401, "status": "UNAUTHENTICATED"}}')
            if self.iam_status != 200:
                message = {
                    "error": {
                        "code": 403,
                        "message": "Permission 'iam.serviceAccounts.getAccessToken' denied",
                    }
                }
                return Answer(self.iam_status, json.dumps(message).encode())
            expiry = "2099-01-01T00:00:00Z"
            return Answer(
                200, json.dumps({"accessToken": "impersonated-token", "expireTime": expiry}).encode()
            )
        return Answer(404, b"{}")


def impersonation_file(tmp_path: Path) -> Path:
    path = tmp_path / "impersonated.json"
    info = {
        "type": "impersonated_service_account",
        "service_account_impersonation_url": IAM_URL,
        "delegates": [],
        "source_credentials": {
            "type": "authorized_user",
            "client_id": "client",
            "client_secret": "client-secret",
            "refresh_token": "user-refresh",
        },
    }
    path.write_text(json.dumps(info))
    return path


def test_settings_accept_an_impersonation_file(tmp_path: Path) -> None:
    path = impersonation_file(tmp_path)
    settings = VertexSettings.model_validate(
        {"project": "my-project", "endpoint": "1", "credentials_file": str(path)}
    )
    assert settings.credentials_file == str(path)


async def test_impersonated_token_is_bought_with_the_source_users_token(tmp_path: Path) -> None:
    google = GoogleEndpoints()
    tokens = GoogleTokenSource(credentials_loader(str(impersonation_file(tmp_path)), [SCOPE], None), google)
    assert await tokens.authorization() == "Bearer impersonated-token"
    assert [url for url, _, _ in google.calls] == [TOKEN_URI, IAM_URL]
    _, headers, body = google.calls[1]
    asked = json.loads(body)
    assert headers["authorization"] == "Bearer user-token"
    assert asked["scope"] == [SCOPE] and asked["lifetime"] == "3600s"
    assert await tokens.authorization() == "Bearer impersonated-token"  # cached until near expiry
    assert len(google.calls) == 2


async def test_impersonation_refused_by_iam_is_an_authentication_error(tmp_path: Path) -> None:
    google = GoogleEndpoints(iam_status=403)
    tokens = GoogleTokenSource(
        credentials_loader(str(impersonation_file(tmp_path)), [SCOPE], None), google, deployment="vx"
    )
    with pytest.raises(AuthenticationError, match="getAccessToken"):
        await tokens.authorization()


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (
            {"type": "impersonated_service_account", "service_account_impersonation_url": IAM_URL},
            "source_credentials",
        ),
        (
            {"type": "impersonated_service_account", "source_credentials": {"type": "authorized_user"}},
            "service_account_impersonation_url",
        ),
    ],
)
async def test_incomplete_impersonation_file_says_what_is_missing(
    tmp_path: Path, info: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(info))
    tokens = GoogleTokenSource(credentials_loader(str(path), [SCOPE], None), GoogleEndpoints())
    with pytest.raises(AuthenticationError, match=message):
        await tokens.authorization()
