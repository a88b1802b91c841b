"""Who may see the dashboard: the master key only, sent as ``Authorization: Bearer`` (API use) or
held by the browser as a session cookie. The cookie holds an HMAC derived from the master key, never
the key itself; changing the master key logs every browser out."""

from __future__ import annotations

import hashlib
import hmac

from llmgateway.server.auth import MasterKeyAuthenticator, bearer_token

COOKIE = "llmgateway_ui"
_PURPOSE = b"llmgateway dashboard session v1"


def session_token(master_key: str) -> str:
    return hmac.new(master_key.encode(), _PURPOSE, hashlib.sha256).hexdigest()


class DashboardGuard:
    """Checks a request's credentials against the master key (None: nobody gets in)."""

    def __init__(self, master_key: str | None) -> None:
        self._master = MasterKeyAuthenticator(master_key)
        self._token = session_token(master_key) if master_key else None

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def is_master(self, key: str | None) -> bool:
        return self._master.is_master(key)

    def cookie_value(self) -> str:
        if self._token is None:
            raise RuntimeError("the dashboard needs server.master_key")
        return self._token

    def allows(self, authorization: str | None, cookie: str | None) -> bool:
        if self._token is None:
            return False
        if self.is_master(bearer_token(authorization)):
            return True
        return cookie is not None and hmac.compare_digest(cookie.encode(), self._token.encode())
