"""Bearer tokens for Google APIs: google-auth credentials, refreshed before they expire, off the loop.

google-auth's refresh is blocking I/O (a token endpoint, the metadata server, an STS exchange), so
it runs in a worker thread, one refresh at a time: concurrent callers share the one in flight. The
hot path is a clock read and a comparison. A token is renewed in the background once it is inside
``refresh_margin`` of its expiry (callers keep using it meanwhile); only a token about to expire
(or none at all) makes callers wait for the new one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from llmgateway.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigError,
    GatewayError,
)

logger = logging.getLogger(__name__)

GCP_EXTRA_HINT = "pip install 'llmgateway[gcp]'"
# A short-lived token is refreshed once half its life has passed, even if that is sooner than
# refresh_margin; it is not used in its last tenth (or its last 30 s), so it cannot expire in flight.
REFRESH_FRACTION = 0.5
MUST_RENEW_FRACTION = 0.1
MUST_RENEW_SECONDS = 30.0
# After a failed background refresh, wait this long before the next try (the old token still works).
RETRY_FAILED_REFRESH_SECONDS = 5.0


class TokenSource(Protocol):
    """Hands out the ``authorization`` header value for the next request, and the project billed
    for the calls (``x-goog-user-project``) when the credentials name one."""

    quota_project: str | None

    async def authorization(self) -> str: ...

    def invalidate(self, authorization: str) -> bool:
        """The upstream rejected this token: drop it. True if a new one can be fetched."""
        ...

    async def aclose(self) -> None: ...


class StaticToken:
    """A fixed token (tests, tokens minted elsewhere). It is never refreshed."""

    def __init__(self, token: str, quota_project: str | None = None) -> None:
        self._header = f"Bearer {token}"
        self.quota_project = quota_project

    async def authorization(self) -> str:
        return self._header

    def invalidate(self, authorization: str) -> bool:
        return False

    async def aclose(self) -> None:
        return None


def require_google_auth() -> None:
    """Fail at config load, not at the first call, when the gcp extra is missing."""
    try:
        import google.auth.transport  # noqa: F401  (imports google.auth too)
    except ImportError as exc:
        raise ConfigError(
            f"the vertex provider needs google-auth for application default credentials ({exc}); "
            f"install it with: {GCP_EXTRA_HINT} (or set access_token to a fixed token)"
        ) from exc


def credentials_loader(
    credentials_file: str | None, scopes: list[str], quota_project: str | None
) -> Callable[[], Any]:
    """A blocking function that finds the credentials: a credentials file (service account key,
    authorized user, external account / workload identity federation, impersonated service
    account), else
    application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC file, the
    metadata server on GCE / GKE / Cloud Run)."""

    def load() -> Any:
        import google.auth

        if credentials_file:
            credentials = credentials_from_file(credentials_file, scopes)
        else:
            credentials, _ = google.auth.default(scopes=scopes)
        if quota_project and hasattr(credentials, "with_quota_project"):
            credentials = credentials.with_quota_project(quota_project)
        return credentials

    return load


FILE_TYPES = ("service_account", "authorized_user", "external_account", "impersonated_service_account")


def credentials_from_file(path: str, scopes: list[str]) -> Any:
    """Credentials from a JSON file of a known type, each through its own loader (google-auth's
    generic loader is deprecated: it would accept any configuration a file names)."""
    info = json.loads(Path(path).read_text())
    kind = info.get("type")
    if kind == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(info, scopes=scopes)  # type: ignore[no-untyped-call]
    if kind == "authorized_user":
        from google.oauth2 import credentials

        return credentials.Credentials.from_authorized_user_info(info, scopes=scopes)  # type: ignore[no-untyped-call]
    if kind == "external_account":  # workload identity federation: AWS, a file / URL, an executable
        from google.auth import aws, identity_pool, pluggable

        source = info.get("credential_source") or {}
        if str(source.get("environment_id", "")).startswith("aws"):
            return aws.Credentials.from_info(info, scopes=scopes)  # type: ignore[no-untyped-call]
        if "executable" in source:
            return pluggable.Credentials.from_info(info, scopes=scopes)  # type: ignore[no-untyped-call]
        return identity_pool.Credentials.from_info(info, scopes=scopes)  # type: ignore[no-untyped-call]
    if kind == "impersonated_service_account":  # gcloud's --impersonate-service-account ADC file
        return impersonated_from_info(info, scopes)
    raise ConfigError(f"{path}: credentials of type {kind!r} are not supported here; one of {FILE_TYPES}")


def impersonated_from_info(info: dict[str, Any], scopes: list[str]) -> Any:
    """Credentials that trade the file's source credentials (a user, a service account key or an
    external account user) for the target service account's tokens (IAM generateAccessToken).
    google-auth's loader assumes both fields are there; say which one is missing instead."""
    from google.auth import impersonated_credentials

    for name in ("source_credentials", "service_account_impersonation_url"):
        if not info.get(name):
            raise ValueError(f"the impersonated_service_account file has no '{name}'")
    return impersonated_credentials.Credentials.from_impersonated_service_account_info(info, scopes=scopes)  # type: ignore[no-untyped-call]


def auth_request(timeout: float) -> Callable[..., Any]:
    """google-auth's blocking HTTP adapter (requests if installed, else urllib3), bounded by
    ``timeout`` seconds per token request."""
    try:
        import requests
        from google.auth.transport.requests import Request

        request: Any = Request(requests.Session())  # type: ignore[no-untyped-call]
    except ImportError:
        import urllib3
        from google.auth.transport.urllib3 import Request as Urllib3Request

        request = Urllib3Request(urllib3.PoolManager())  # type: ignore[no-untyped-call]

    def bounded(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", timeout)
        return request(*args, **kwargs)

    return bounded


@dataclass(frozen=True)
class _Token:
    header: str
    refresh_at: float  # monotonic: renew in the background from here
    renew_by: float  # monotonic: do not use it past here (wait for a new one)


class GoogleTokenSource:
    """Access tokens from google-auth credentials (loaded lazily, in a thread: finding ADC may
    probe the metadata server)."""

    def __init__(
        self,
        load: Callable[[], Any],
        request: Callable[..., Any],
        *,
        refresh_margin: float = 300.0,
        deployment: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._request = request
        self._margin = refresh_margin
        self._deployment = deployment
        self._clock = clock
        self._credentials: Any = None
        self._token: _Token | None = None
        self._refreshing: asyncio.Task[_Token] | None = None
        self._next_background_try = 0.0
        self.quota_project: str | None = None
        self.refreshes = 0  # tokens fetched so far (tests, metrics)

    async def authorization(self) -> str:
        token = self._token
        now = self._clock()
        if token is not None and now < token.refresh_at:
            return token.header
        if token is not None and now < token.renew_by:
            if now >= self._next_background_try:
                self._refresh_task()  # the caller goes on with the current token
            return token.header
        return (await self._shared_refresh()).header

    def invalidate(self, authorization: str) -> bool:
        if self._token is not None and self._token.header == authorization:
            self._token = None
        return True

    async def aclose(self) -> None:
        task, self._refreshing = self._refreshing, None
        if task is not None and not task.done():
            task.cancel()

    def _refresh_task(self) -> asyncio.Task[_Token]:
        task = self._refreshing
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            task = self._refreshing = asyncio.get_running_loop().create_task(self._refresh())
            task.add_done_callback(self._after_refresh)
        return task

    async def _shared_refresh(self) -> _Token:
        # shield: a caller that gives up (timeout, cancel) must not cancel the others' refresh.
        return await asyncio.shield(self._refresh_task())

    def _after_refresh(self, task: asyncio.Task[_Token]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._next_background_try = self._clock() + RETRY_FAILED_REFRESH_SECONDS
            if self._token is not None:  # a background refresh: nobody else will see the error
                logger.warning("refreshing the Google access token failed (will retry): %s", exc)

    async def _refresh(self) -> _Token:
        token = await asyncio.to_thread(self._refresh_blocking)
        self._token = token
        self.refreshes += 1
        return token

    def _refresh_blocking(self) -> _Token:
        """Runs in a worker thread."""
        try:
            if self._credentials is None:
                self._credentials = self._load()
            credentials = self._credentials
            credentials.refresh(self._request)
        except Exception as exc:
            raise self._auth_error(exc) from exc
        if not credentials.token:
            raise AuthenticationError("google-auth returned no access token", deployment=self._deployment)
        # e.g. user credentials whose ADC file names a quota project, or with_quota_project.
        self.quota_project = getattr(credentials, "quota_project_id", None) or None
        now = self._clock()
        expiry = credentials.expiry
        if expiry is None:  # a token without an expiry: renew it hourly anyway
            lifetime = 3600.0
        else:
            wall_now = datetime.now(timezone.utc).replace(tzinfo=None)  # google-auth's naive UTC
            lifetime = max((expiry - wall_now).total_seconds(), 0.0)
        margin = min(self._margin, lifetime * REFRESH_FRACTION)
        must_renew = min(MUST_RENEW_SECONDS, lifetime * MUST_RENEW_FRACTION)
        return _Token(
            header=f"Bearer {credentials.token}",
            refresh_at=now + lifetime - margin,
            renew_by=now + lifetime - must_renew,
        )

    def _auth_error(self, exc: Exception) -> GatewayError:
        """google-auth's failures as gateway errors: a network failure may pass, bad or missing
        credentials will not."""
        from google.auth import exceptions

        where = self._deployment
        if isinstance(exc, exceptions.DefaultCredentialsError):
            return AuthenticationError(
                f"no Google credentials found ({exc}); run `gcloud auth application-default login`, "
                "set GOOGLE_APPLICATION_CREDENTIALS to a key file, or set credentials_file",
                deployment=where,
            )
        if isinstance(exc, exceptions.RefreshError):
            retryable = getattr(exc, "retryable", False)
            if retryable:
                return APIConnectionError(f"Google token refresh failed, will retry: {exc}", deployment=where)
            return AuthenticationError(f"Google rejected the credentials: {exc}", deployment=where)
        if isinstance(exc, exceptions.TransportError):
            if "timed out" in str(exc).lower() or "timeout" in str(exc).lower():
                return APITimeoutError(f"Google token request timed out: {exc}", deployment=where)
            return APIConnectionError(f"could not reach Google's token service: {exc}", deployment=where)
        if isinstance(exc, GatewayError):
            return exc
        # Anything else (GoogleAuthError, a malformed key file): the credentials are unusable.
        return AuthenticationError(
            f"could not get a Google access token ({type(exc).__name__}: {exc})", deployment=where
        )
