"""AWS credentials for signing: botocore's standard chain (env, shared files, credential_process,
SSO, role / web identity, container and instance metadata) or keys given in the config.

Resolving and refreshing may read files, run a process or call a metadata service, so it always
runs in a worker thread; the frozen credentials are cached and reused until botocore says they
are inside its refresh window (15 minutes before expiry), so the event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

from llmgateway.errors import AuthenticationError, ConfigError
from providers.aws.credential_errors import credential_source_error

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials
    from botocore.session import Session

# After a refresh that left the credentials still inside the refresh window (botocore keeps the
# old ones when an early refresh fails), wait this long before trying again in a thread.
RETRY_REFRESH_SECONDS = 5.0

NO_CREDENTIALS_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile (the deployment's 'profile' "
    "setting or AWS_PROFILE), or run where an instance, container or web-identity role is available"
)


def botocore_session(profile: str | None) -> Session:
    """A fresh botocore session (no shared state with other deployments or with boto3). A wrong
    profile name shows when the session is first read (``session_region``)."""
    from botocore.session import Session

    return Session(profile=profile)


def session_region(session: Session) -> str | None:
    """The region the environment or profile names: AWS_REGION (what the AWS CLI v2 and the other
    SDKs read first; botocore does not), then AWS_DEFAULT_REGION or the profile's config."""
    from botocore.exceptions import ProfileNotFound

    if os.environ.get("AWS_REGION"):
        return os.environ["AWS_REGION"]
    try:
        region = session.get_config_variable("region")
    except ProfileNotFound as exc:
        raise ConfigError(f"AWS profile not found: {exc}; check the deployment's 'profile'") from exc
    return str(region) if region else None


class AwsCredentials:
    """Frozen credentials for one deployment, resolved off the event loop and cached."""

    def __init__(self, session: Session | None, static: ReadOnlyCredentials | None, deployment: str) -> None:
        if (session is None) == (static is None):
            raise ValueError("give either a botocore session or static credentials")
        self._session = session
        self._deployment = deployment
        self._source: Any = None  # botocore Credentials / RefreshableCredentials, once resolved
        self._frozen: ReadOnlyCredentials | None = static
        self._static = static is not None
        self._next_check = 0.0
        self._stale = False
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.refreshes = 0  # how many times credentials were (re)loaded, for tests and logs

    @classmethod
    def from_keys(
        cls, access_key: str, secret_key: str, token: str | None, deployment: str
    ) -> AwsCredentials:
        from botocore.credentials import ReadOnlyCredentials

        return cls(None, ReadOnlyCredentials(access_key, secret_key, token), deployment)

    def _due(self) -> bool:
        if self._frozen is None:
            return True
        if self._static or time.monotonic() < self._next_check:
            return False
        refresh_needed = getattr(self._source, "refresh_needed", None)
        return bool(refresh_needed()) if refresh_needed is not None else False

    async def current(self) -> ReadOnlyCredentials:
        """The credentials to sign with now; loads or refreshes them in a thread when due."""
        frozen = self._frozen
        if frozen is not None and not self._due():
            return frozen
        async with self._guard():
            if self._due():  # another call may have refreshed while this one waited
                await asyncio.to_thread(self._load)
        assert self._frozen is not None
        return self._frozen

    def known_values(self) -> tuple[str, ...]:
        """The credentials in use now (what error messages must never show)."""
        frozen = self._frozen
        if frozen is None:
            return ()
        return tuple(v for v in (frozen.access_key, frozen.secret_key, frozen.token) if v)

    def invalidate(self) -> None:
        """Forget the chain's answer (after the service rejected it): the next call resolves the
        chain again, in a new session (a session keeps what it resolved), picking up rotated keys
        or a re-assumed role."""
        if not self._static:
            self._source = None
            self._frozen = None
            self._stale = True

    def _guard(self) -> asyncio.Lock:
        # A lock belongs to one loop; a gateway reused under a new loop gets a new one.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def _load(self) -> None:
        """Runs in a worker thread: resolve the chain once, then freeze (refreshing if due)."""
        from botocore.exceptions import BotoCoreError, ClientError

        assert self._session is not None
        if self._stale:
            self._session, self._stale = botocore_session(self._session.profile), False
        try:
            if self._source is None:
                self._source = self._session.get_credentials()
            if self._source is None:
                raise AuthenticationError(
                    f"no AWS credentials found for deployment '{self._deployment}': {NO_CREDENTIALS_HINT}",
                    deployment=self._deployment,
                )
            frozen = self._source.get_frozen_credentials()
        except ClientError as exc:  # STS / SSO refused or throttled: not a BotoCoreError
            raise credential_source_error(exc, self._deployment) from exc
        except BotoCoreError as exc:
            raise AuthenticationError(
                f"could not load AWS credentials for deployment '{self._deployment}': {exc}",
                deployment=self._deployment,
            ) from exc
        except RuntimeError as exc:  # botocore: "refreshed credentials are still expired"
            raise AuthenticationError(
                f"AWS credentials for deployment '{self._deployment}' are expired: {exc}",
                deployment=self._deployment,
            ) from exc
        self._frozen = frozen
        self.refreshes += 1
        refresh_needed = getattr(self._source, "refresh_needed", None)
        still_due = bool(refresh_needed()) if refresh_needed is not None else False
        self._next_check = time.monotonic() + RETRY_REFRESH_SECONDS if still_due else 0.0
