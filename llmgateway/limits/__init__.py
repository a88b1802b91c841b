"""Rate limits per deployment, API key and public model: requests and tokens per minute, counted
in this process or shared by every replica through Redis."""

from llmgateway.limits.base import (
    LimitStore,
    RequestTooLargeError,
    Reservation,
    build_limit_store,
)
from llmgateway.limits.settings import LimitsConfig, RateLimits

__all__ = [
    "LimitStore",
    "LimitsConfig",
    "RateLimits",
    "RequestTooLargeError",
    "Reservation",
    "build_limit_store",
]
