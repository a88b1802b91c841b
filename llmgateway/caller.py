"""Who a call is made for: the API key and team its usage, limits and budgets are counted against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity a call is accounted to. The SDK takes it per call (``caller=``) or per
    gateway; the proxy fills it from the virtual key that authenticated the request."""

    key: str | None = None
    team: str | None = None
