"""OpenAI-shaped error answers for every failure the proxy can meet, sent straight over ASGI."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from llmgateway.config import format_location
from llmgateway.errors import (
    AuthenticationError,
    GatewayError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamServerError,
)
from llmgateway.secret_scrub import scrub_credentials

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Send

logger = logging.getLogger("llmgateway.server")
Scrub = Callable[[str], str]

JSON_HEADERS: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
_HTTP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
}


def error_body(
    message: str, error_type: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def _param(error: GatewayError) -> str | None:
    """The request field a validation error is about (``messages.[0].role``), for ``param``."""
    cause = error.__cause__
    if isinstance(cause, ValidationError):
        errors = cause.errors()
        if errors and errors[0]["loc"]:
            return format_location(tuple(errors[0]["loc"]))
    return getattr(error, "param", None)


def _upstream_refusal(error: GatewayError, scrub: Scrub) -> GatewayError:
    """An upstream's 401/403/404 is the gateway's misconfiguration, not the client's: a 502 that
    names the deployment. The upstream's own message may quote its credentials, so it goes to
    the log only, scrubbed."""
    logger.warning(
        "deployment %s refused the gateway (%d %s): %s",
        error.deployment,
        error.status_code,
        type(error).__name__,
        scrub(error.message),
    )
    return UpstreamServerError(
        f"deployment '{error.deployment}' refused the gateway's request ({error.status_code}): its "
        "credentials, permissions or model name in the gateway config are wrong; the details are "
        "in the gateway's log",
        status_code=502,
        code="upstream_refused",
    )


def render(
    error: GatewayError, scrub: Scrub = scrub_credentials
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, JSON body and headers (Retry-After where the client should wait). The message is
    scrubbed: by default of anything shaped like a credential; pass the gateway's
    ``SecretScrubber`` to also remove every secret of its config."""
    if error.deployment is not None and isinstance(
        error, (AuthenticationError, PermissionDeniedError, NotFoundError)
    ):
        error = _upstream_refusal(error, scrub)
    body = error.to_openai_body()
    body["error"]["message"] = scrub(str(body["error"]["message"]))
    if body["error"].get("param") is None:
        body["error"]["param"] = _param(error)
    headers = list(JSON_HEADERS)
    if isinstance(error, (RateLimitError, ServiceUnavailableError)) and error.retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(error.retry_after))).encode()))
        headers.append((b"retry-after-ms", str(int(error.retry_after * 1000)).encode()))
    if isinstance(error, AuthenticationError):
        headers.append((b"www-authenticate", b'Bearer realm="llmgateway"'))
    status = error.status_code
    if isinstance(error, UpstreamServerError) and status not in (502, 503, 504):
        status = 502  # the upstream failed, not this gateway: a 500 here would blame the proxy
    return status, json.dumps(body).encode(), headers


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*(headers or JSON_HEADERS), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: GatewayError, scrub: Scrub = scrub_credentials) -> None:
    status, body, headers = render(error, scrub)
    await send_json(send, status, body, headers)


def internal_error_body() -> bytes:
    return json.dumps(
        error_body(
            "the gateway failed unexpectedly; the error is in its log. Retry, and report it if it persists",
            "server_error",
            code="internal_error",
        )
    ).encode()


# Starlette exception handlers: unknown routes and methods, and the last-resort catch-all.


async def http_exception(request: Request, exc: Exception) -> Response:
    from starlette.exceptions import HTTPException
    from starlette.responses import Response

    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    if status == 404:
        message = f"no route {request.method} {request.url.path}; the API lives under /v1"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(getattr(exc, "detail", "")) or "request failed"
    body = error_body(message, _HTTP_TYPES.get(status, "api_error"), code=f"http_{status}")
    return Response(json.dumps(body), status_code=status, headers=headers, media_type="application/json")


async def unexpected(request: Request, exc: Exception) -> Response:
    from starlette.responses import Response

    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(internal_error_body(), status_code=500, media_type="application/json")
