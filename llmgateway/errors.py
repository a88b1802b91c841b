"""One error hierarchy for the SDK and the proxy.

Every error knows the HTTP status a proxy answers with, whether trying the same deployment again
may succeed (``retryable``), whether another deployment may succeed where this one failed
(``fallback``: also true for a deployment's own misconfiguration, such as a rejected upstream key or
a missing capability), and which deployment raised it. The proxy renders ``to_openai_body()``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of every error the gateway raises."""

    status_code: ClassVar[int] = 500
    retryable: ClassVar[bool] = False
    fallback: ClassVar[bool] = False
    error_type: ClassVar[str] = "api_error"

    def __init__(
        self,
        message: str,
        *,
        deployment: str | None = None,
        status_code: int | None = None,
        body: Any = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.deployment = deployment
        self.body = body
        self.code = code
        # The request field at fault, when there is one (OpenAI's error ``param``).
        self.param = param
        # Every try the gateway made before giving up (llmgateway.types.Attempt), when routed.
        self.attempts: list[Any] = []
        if status_code is not None:
            # An upstream's own status (e.g. 502 vs 503) is kept on the instance.
            self.status_code = status_code  # type: ignore[misc]

    def __str__(self) -> str:
        where = f" [deployment {self.deployment}]" if self.deployment else ""
        return f"{self.message}{where}"

    def to_openai_body(self) -> dict[str, Any]:
        """The error in OpenAI's wire shape, as the proxy returns it."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class ConfigError(GatewayError):
    """The gateway's configuration is wrong; the message names the key and what was expected."""

    error_type = "configuration_error"


class BadRequestError(GatewayError):
    status_code = 400
    error_type = "invalid_request_error"


class AuthenticationError(GatewayError):
    fallback = True  # from an upstream: that deployment's credentials or model are wrong
    status_code = 401
    error_type = "authentication_error"


class PermissionDeniedError(GatewayError):
    fallback = True  # from an upstream: that deployment's credentials or model are wrong
    status_code = 403
    error_type = "permission_error"


class NotFoundError(GatewayError):
    fallback = True  # from an upstream: that deployment's credentials or model are wrong
    status_code = 404
    error_type = "not_found_error"


class ContextWindowExceededError(BadRequestError):
    """The prompt plus the requested output does not fit the model's context window; a deployment
    with a larger window may still take it."""

    fallback = True


class ContentPolicyError(BadRequestError):
    """The gateway's content policy refused the call (its request, or the answer it got): the
    same call elsewhere would be refused too. ``stage`` is ``input`` or ``output``; ``category``
    names the rule or classifier label that matched, never the text."""

    error_type = "content_policy_violation"

    def __init__(
        self, message: str, *, stage: str = "input", category: str | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("code", "content_policy_violation")
        super().__init__(message, **kwargs)
        self.stage = stage
        self.category = category


class PiiBlockedError(BadRequestError):
    """The request holds personal data (or a secret) and this model or key is set to block it
    rather than redact it. ``kinds`` lists what was found (``email``, ``card`` ...), never the values."""

    error_type = "pii_blocked"

    def __init__(self, message: str, *, kinds: tuple[str, ...] = (), **kwargs: Any) -> None:
        kwargs.setdefault("code", "pii_detected")
        super().__init__(message, **kwargs)
        self.kinds = kinds


class BudgetExceededError(GatewayError):
    """A hard budget is spent; retrying elsewhere cannot help."""

    status_code = 402
    error_type = "budget_exceeded"


class RateLimitError(GatewayError):
    """429 from an upstream or from our own limits; ``retry_after`` is in seconds when known."""

    status_code = 429
    retryable = True
    fallback = True
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamServerError(GatewayError):
    """The upstream answered 5xx."""

    status_code = 502
    retryable = True
    fallback = True
    error_type = "upstream_error"


class ServiceUnavailableError(UpstreamServerError):
    status_code = 503

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class APIConnectionError(GatewayError):
    """No usable answer came back: refused, reset, DNS, TLS. Safe to try elsewhere."""

    status_code = 502
    retryable = True
    fallback = True
    error_type = "connection_error"


class APITimeoutError(APIConnectionError):
    status_code = 504
    error_type = "timeout_error"


class StreamInterruptedError(APIConnectionError):
    """A stream broke off after it started. ``chunks_received`` says how far it got: once any
    chunk reached the caller the stream must not be replayed."""

    error_type = "stream_interrupted"

    def __init__(self, message: str, *, chunks_received: int = 0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.chunks_received = chunks_received


class PolicyCheckFailedError(ServiceUnavailableError):
    """The content policy's classifier failed or timed out and ``on_error: block`` withholds the
    request or the answer (503, retryable). The deployment did nothing wrong: no other deployment
    would fare better, and the failure counts against none."""

    fallback = False
    error_type = "policy_check_failed"


class NoDeploymentAvailableError(GatewayError):
    """Every deployment of a model failed or none could take the call."""

    status_code = 503
    retryable = True
    fallback = True
    error_type = "no_deployment_available"

    def __init__(self, message: str, *, errors: list[GatewayError] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.errors = errors or []


class UnsupportedOperationError(BadRequestError):
    """The deployment cannot do what was asked (e.g. embeddings on a chat-only backend)."""

    fallback = True

    error_type = "unsupported_operation"


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        from datetime import datetime, timezone
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


def _upstream_message(body: Any, status: int) -> str:
    """The upstream's own words, with anything shaped like a credential scrubbed: upstreams echo
    the key they were sent ("Incorrect API key provided: sk-...")."""
    from llmgateway.secret_scrub import scrub_credentials

    return scrub_credentials(_upstream_text(body, status))


def _upstream_text(body: Any, status: int) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if body.get("message"):
            return str(body["message"])
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return f"upstream answered HTTP {status}"


def error_from_status(status: int, body: Any, headers: Any, *, deployment: str | None = None) -> GatewayError:
    """Map an upstream HTTP error answer to the right class, keeping its status and body."""
    from llmgateway.secret_scrub import scrub_credentials, scrub_error_body

    message = _upstream_message(body, status)
    body = scrub_error_body(body)  # kept on the error for callers that inspect it
    kwargs: dict[str, Any] = {"deployment": deployment, "status_code": status, "body": body}
    if status == 429:
        return RateLimitError(message, retry_after=parse_retry_after(headers), **kwargs)
    if status == 503:
        return ServiceUnavailableError(message, retry_after=parse_retry_after(headers), **kwargs)
    if 300 <= status < 400:
        location = headers.get("location") if headers else None
        location = scrub_credentials(location) if location else None
        return NotFoundError(
            f"upstream answered HTTP {status} (redirect{f' to {location}' if location else ''}); "
            "set the deployment's base_url to the final address",
            **kwargs,
        )
    if status in (408, 409) or status >= 500:
        # 408 request timeout and 409 conflict (lock contention) are worth another try.
        return UpstreamServerError(message, **kwargs)
    if status == 401:
        return AuthenticationError(message, **kwargs)
    if status == 403:
        return PermissionDeniedError(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 402:
        return BudgetExceededError(message, **kwargs)
    if "context" in message.lower() and "length" in message.lower():
        return ContextWindowExceededError(message, code="context_length_exceeded", **kwargs)
    return BadRequestError(message, **kwargs)
