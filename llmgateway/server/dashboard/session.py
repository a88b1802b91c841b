"""Who may see the dashboard: the master key only, sent as ``Authorization: Bearer`` (API use) or
held by the browser as a session cookie. The cookie holds when it was issued and an HMAC of that
under the master key, never the key itself: it expires after ``SESSION_SECONDS`` even if copied,
and changing the master key logs every browser out."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from llmgateway.server.auth import MasterKeyAuthenticator, bearer_token

COOKIE = "llmgateway_ui"
SESSION_SECONDS = 7 * 86400
_PURPOSE = b"llmgateway dashboard session v2:"


def session_token(master_key: str, issued: int) -> str:
    """``<issued unix seconds>.<HMAC-SHA256 of it under the master key>``."""
    signature = hmac.new(master_key.encode(), _PURPOSE + str(issued).encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{signature}"


class DashboardGuard:
    """Checks a request's credentials against the master key (None: nobody gets in)."""

    def __init__(self, master_key: str | None, clock: Callable[[], float] = time.time) -> None:
        self._master = MasterKeyAuthenticator(master_key)
        self._key = master_key
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def is_master(self, key: str | None) -> bool:
        return self._master.is_master(key)

    def cookie_value(self) -> str:
        if self._key is None:
            raise RuntimeError("the dashboard needs server.master_key")
        return session_token(self._key, int(self._clock()))

    def _valid_session(self, cookie: str) -> bool:
        assert self._key is not None
        issued_text, _, _ = cookie.partition(".")
        # ASCII digits of a plausible length: int() refuses "²" and 4,301-digit strings.
        if not (issued_text.isascii() and issued_text.isdigit() and len(issued_text) <= 12):
            return False
        issued = int(issued_text)
        if not hmac.compare_digest(cookie.encode(), session_token(self._key, issued).encode()):
            return False
        age = self._clock() - issued
        return -60 <= age < SESSION_SECONDS  # a minute of clock skew between replicas

    def allows(self, authorization: str | None, cookie: str | None) -> bool:
        if self._key is None:
            return False
        if self.is_master(bearer_token(authorization)):
            return True
        return cookie is not None and self._valid_session(cookie)
