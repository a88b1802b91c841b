"""What every rate-limit store offers, and the pieces both stores share.

Both stores run the same algorithm, GCRA (virtual scheduling): per scope and dimension a
"theoretical arrival time" (TAT). A request moves the request TAT on by ``60/rpm`` seconds and the
token TAT by ``tokens * 60/tpm`` seconds; it may pass once ``TAT - tolerance <= now``, with the
tolerance ``burst * 60/rpm`` for requests and 60 s (one minute of tokens: a bucket of ``tpm``) for
tokens. A call that has to wait reserves its slot before it sleeps, so waiters pass in order and
the rate holds exactly, with no herd of retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

from llmgateway.errors import RateLimitError

if TYPE_CHECKING:
    from llmgateway.limits.settings import LimitsConfig, RateLimits

# Waits below this are float noise, not a real wait (a sleep would only cost a loop turn).
EPSILON = 1e-9
# The token tolerance: a full bucket holds one minute of tokens.
TOKEN_WINDOW = 60.0


class Reservation(Protocol):
    async def settle(self, used_tokens: int) -> None:
        """Correct the token charge from the estimate to ``used_tokens``: a refund, or an extra
        charge that may leave the bucket in debt (later calls wait). A second call does nothing."""
        ...


class LimitStore(Protocol):
    async def acquire(self, scope: str, limits: RateLimits, tokens: int = 0) -> Reservation:
        """Charge one request and ``tokens`` estimated tokens to ``scope`` (both or neither),
        waiting up to ``limits.max_wait`` seconds for them; over that, RateLimitError with
        ``retry_after``."""
        ...

    async def aclose(self) -> None: ...

    # True when each operation is a network round trip (callers then settle in the background).
    shared: ClassVar[bool]


class NoopReservation:
    """The reservation of a scope without a token limit: nothing to correct."""

    __slots__ = ()

    async def settle(self, used_tokens: int) -> None:
        return None


NOOP_RESERVATION = NoopReservation()


class RequestTooLargeError(RateLimitError):
    """The request's tokens exceed a whole minute of the scope's token limit: it can never pass
    there, so retrying the same scope is useless (another deployment may still take it)."""

    retryable: ClassVar[bool] = False


def describe_scope(scope: str) -> str:
    """``"key:abc"`` -> ``"key 'abc'"`` for messages."""
    kind, sep, name = scope.partition(":")
    return f"{kind} '{name}'" if sep else f"'{scope}'"


def _deployment_of(scope: str) -> str | None:
    kind, _, name = scope.partition(":")
    return name if kind == "deployment" else None


def check_request(scope: str, limits: RateLimits, tokens: int) -> None:
    """Reject what no amount of waiting lets through (or a caller bug)."""
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, got {tokens}")
    if limits.tpm is not None and tokens > limits.tpm:
        raise RequestTooLargeError(
            f"{describe_scope(scope)} allows {limits.tpm:g} tokens/min and this request needs "
            f"about {tokens}: it can never pass; lower max_tokens or shorten the prompt, "
            "or raise the tpm limit",
            retry_after=None,
            deployment=_deployment_of(scope),
            code="request_too_large",
        )


def over_limit_error(
    scope: str, limits: RateLimits, tokens: int, rpm_wait: float, tpm_wait: float
) -> RateLimitError:
    """The error for a call that would have to wait longer than ``max_wait``; it names the limit
    that binds."""
    wait = max(rpm_wait, tpm_wait)
    if rpm_wait >= tpm_wait and limits.rpm is not None:
        what = f"its limit of {limits.rpm:g} requests/min"
    else:
        what = f"its limit of {limits.tpm:g} tokens/min (this request needs about {tokens})"
    waited = f", longer than its max_wait of {limits.max_wait:g} s" if limits.max_wait else ""
    return RateLimitError(
        f"{describe_scope(scope)} is over {what}; retry after {wait:.2f} s{waited}",
        retry_after=wait,
        deployment=_deployment_of(scope),
        code="rate_limit_exceeded",
    )


def build_limit_store(config: LimitsConfig) -> LimitStore:
    """The store the config asks for; Redis connects lazily, on the first call."""
    if config.backend == "redis":
        from llmgateway.limits.redis_store import RedisLimitStore

        assert config.redis_url is not None  # LimitsConfig validates it
        return RedisLimitStore(
            config.redis_url,
            prefix=config.prefix,
            timeout=config.redis_timeout,
            on_error=config.on_redis_error,
        )
    from llmgateway.limits.memory import MemoryLimitStore

    return MemoryLimitStore()
