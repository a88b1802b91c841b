"""Who made a request to the proxy, once authenticated: the caller its usage is booked to, and
what it may do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from llmgateway.caller import Caller


@dataclass(frozen=True, slots=True)
class Principal:
    caller: Caller
    master: bool = False
    # Public model names this key may call; None: all of them.
    models: frozenset[str] | None = None

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models


class Authenticator(Protocol):
    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an ``Authorization`` header value. Raises
        ``AuthenticationError`` (401) for a missing, unknown, expired or revoked key."""
        ...

    async def aclose(self) -> None: ...
