"""Authentication of proxy requests: the master key, and (when a key store is configured) the
virtual keys it holds. Without a master key the public routes are open (for local use only)."""

from __future__ import annotations

import hmac

from llmgateway.caller import Caller
from llmgateway.errors import AuthenticationError
from llmgateway.server.principal import Authenticator, Principal
from llmgateway.server.settings import ServerConfig

MASTER = Principal(Caller(key="master"), master=True)
ANONYMOUS = Principal(Caller())


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when absent or another scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class MasterKeyAuthenticator:
    """Only the master key (or, with no master key at all, anyone)."""

    def __init__(self, master_key: str | None) -> None:
        self._master = master_key.encode() if master_key else None

    def is_master(self, token: str | None) -> bool:
        return (
            self._master is not None
            and token is not None
            and hmac.compare_digest(token.encode(), self._master)
        )

    async def authenticate(self, authorization: str | None) -> Principal:
        if self._master is None:
            return ANONYMOUS
        token = bearer_token(authorization)
        if self.is_master(token):
            return MASTER
        raise AuthenticationError(
            "missing or invalid API key; send 'Authorization: Bearer <key>' with the master key "
            "or a virtual key",
            code="invalid_api_key",
        )

    async def aclose(self) -> None:
        return None


def build_authenticator(config: ServerConfig) -> Authenticator:
    return MasterKeyAuthenticator(config.master_key)
