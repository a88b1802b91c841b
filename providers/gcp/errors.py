"""``google.rpc.Status`` error bodies -> the gateway's error classes.

Google APIs answer errors as ``{"error": {"code": 429, "message": ..., "status":
"RESOURCE_EXHAUSTED", "details": [...]}}``; streamed methods may wrap it in a JSON list. The
``status`` string is more precise than the HTTP code (400 is INVALID_ARGUMENT, FAILED_PRECONDITION
or OUT_OF_RANGE), so it decides the class; it is kept on the error as ``code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from llmgateway.errors import (
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    GatewayError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamServerError,
    error_from_status,
    parse_retry_after,
)

# The canonical codes' usual HTTP statuses, for bodies that carry only the number.
_STATUS_BY_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_BAD_REQUEST = {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE", "ALREADY_EXISTS"}
# Worth another try: the server or the call's path failed, not the request.
_SERVER_SIDE = {"INTERNAL", "UNKNOWN", "DEADLINE_EXCEEDED", "ABORTED", "DATA_LOSS", "CANCELLED"}


class PredictionFormatError(UpstreamServerError):
    """The endpoint answered, but not in the shape this deployment's settings expect. Asking it
    again will not help; another deployment may."""

    retryable = False
    fallback = True


@dataclass(frozen=True)
class RpcStatus:
    code: int | None
    status: str | None
    message: str
    details: list[Any]

    def retry_delay(self) -> float | None:
        """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "2.5s"``), if any."""
        for detail in self.details:
            if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                delay = detail.get("retryDelay")
                if isinstance(delay, str) and delay.endswith("s"):
                    try:
                        return max(float(delay[:-1]), 0.0)
                    except ValueError:
                        return None
                if isinstance(delay, dict):  # the protobuf JSON form some proxies send
                    return float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
        return None


def parse_status(body: Any) -> RpcStatus | None:
    """The Status in an error body (bytes, or already decoded), or None if it carries none."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = from_json(body)
        except ValueError:
            return None
    if isinstance(body, list):  # streamed methods answer a JSON array of messages
        body = next((item for item in body if isinstance(item, dict) and "error" in item), None)
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    code = error.get("code")
    status = error.get("status")
    details = error.get("details")
    return RpcStatus(
        code=code if isinstance(code, int) else None,
        status=status if isinstance(status, str) and status else None,
        message=str(error.get("message") or ""),
        details=details if isinstance(details, list) else [],
    )


def _decoded(body: bytes) -> Any:
    try:
        return from_json(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


# Not worth another try here; the HTTP status is kept on the instance.
_CLIENT_SIDE: Mapping[str, type[GatewayError]] = {
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    # The endpoint does not offer this method (e.g. no chat completions route in its container).
    "UNIMPLEMENTED": NotFoundError,
}


def _too_long(message: str) -> bool:
    lowered = message.lower()
    return ("context" in lowered or "token" in lowered) and any(
        word in lowered for word in ("length", "exceeds", "too long")
    )


def vertex_error(
    http_status: int, body: bytes, headers: Mapping[str, str], *, deployment: str | None
) -> GatewayError:
    """The error for a non-2xx answer from a Vertex AI endpoint."""
    status = parse_status(body)
    if status is None:  # not a Google API body (a load balancer's HTML page, a bare container)
        return error_from_status(http_status, _decoded(body), headers, deployment=deployment)
    name = status.status or _STATUS_BY_HTTP.get(status.code or http_status, "UNKNOWN")
    message = f"Vertex AI {name}: {status.message or f'HTTP {http_status}'}"
    kwargs: dict[str, Any] = {"deployment": deployment, "body": _decoded(body), "code": name}
    if name == "RESOURCE_EXHAUSTED":
        delay = status.retry_delay()
        retry_after = delay if delay is not None else parse_retry_after(headers)
        return RateLimitError(message, retry_after=retry_after, status_code=429, **kwargs)
    if name == "UNAVAILABLE":
        delay = status.retry_delay()
        retry_after = delay if delay is not None else parse_retry_after(headers)
        return ServiceUnavailableError(message, retry_after=retry_after, status_code=503, **kwargs)
    if name in _SERVER_SIDE:
        # A cancelled call (499) is the server's doing here: the gateway did not cancel it.
        return UpstreamServerError(message, status_code=http_status if http_status >= 500 else 502, **kwargs)
    if name in _BAD_REQUEST:
        if _too_long(status.message):
            return ContextWindowExceededError(message, status_code=400, **kwargs)
        return BadRequestError(message, status_code=400, **kwargs)
    cls = _CLIENT_SIDE.get(name)
    if cls is not None:
        return cls(message, status_code=http_status, **kwargs)
    if http_status >= 500:
        return UpstreamServerError(message, status_code=http_status, **kwargs)
    return BadRequestError(message, status_code=http_status, **kwargs)
