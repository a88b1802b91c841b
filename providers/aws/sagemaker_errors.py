"""SageMaker runtime error answers -> the gateway's error classes.

The error's type comes, as botocore reads it, from the ``x-amzn-ErrorType`` header
(``ModelError:http://internal.amazon.com/...``), else the JSON body's ``code`` / ``Code`` or
``__type`` (``com.amazon.coral.availability#ThrottlingException``); the message from ``message``
or ``Message``. What each type means for a retry:

- ModelError (424): the container itself answered an error; its ``OriginalStatusCode`` decides
  (a 5xx or 429 from the model is worth another try, a 4xx is not). OriginalMessage and
  LogStreamArn are kept in the message.
- ThrottlingException (HTTP 400, but a rate limit): retryable.
- ModelNotReadyException (429: a serverless variant or multi-model target still loading):
  retryable, as a service-unavailable.
- ValidationError (400): not retryable; "... not found" (endpoint, component) as not-found.
- InternalFailure (500), ServiceUnavailable (503), InternalDependencyException (530): retryable.
- Signature / token problems (403 UnrecognizedClientException, InvalidSignatureException, ...):
  authentication errors; AccessDeniedException: permission denied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_core import from_json

from llmgateway.errors import (
    AuthenticationError,
    BadRequestError,
    GatewayError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    StreamInterruptedError,
    UpstreamServerError,
    error_from_status,
    parse_retry_after,
)

AUTHENTICATION_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
    }
)
PERMISSION_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
SERVER_CODES = frozenset({"InternalFailure", "InternalDependencyException", "InternalServerException"})
# Faults inside a response stream: the model timed out or its connection broke, or SageMaker
# failed; all are worth another try.
STREAM_FAULT_CODES = frozenset({"ModelStreamError", "InternalStreamFailure"})


def parse_body(raw: bytes) -> Any:
    """The error body as JSON when it is JSON, else as text."""
    try:
        return from_json(raw) if raw else {}
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def error_code(headers: Mapping[str, str], body: Any) -> str | None:
    """The error's short type name, read the way botocore reads it for rest-json services."""
    code: Any = headers.get("x-amzn-errortype") or headers.get("x-amzn-ErrorType")
    if not code and isinstance(body, dict):
        code = body.get("code") or body.get("Code") or body.get("__type")
    if not code or not isinstance(code, str):
        return None
    return code.split(":", 1)[0].rsplit("#", 1)[-1] or None


def error_message(body: Any) -> str:
    if isinstance(body, dict):
        text = body.get("message") or body.get("Message")
        if text:
            return str(text)
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return ""


def _model_error(body: Any, headers: Mapping[str, str], deployment: str | None) -> GatewayError:
    details = body if isinstance(body, dict) else {}
    original = details.get("OriginalStatusCode")
    said = details.get("OriginalMessage") or error_message(body)
    logs = details.get("LogStreamArn")
    where = f" (container logs: {logs})" if logs else ""
    if not isinstance(original, int):
        return UpstreamServerError(
            f"SageMaker ModelError: the model container failed: {said}{where}",
            deployment=deployment,
            body=body,
            code="ModelError",
        )
    message = f"SageMaker ModelError: the model container answered HTTP {original}: {said}{where}"
    error = error_from_status(original, {"message": message}, headers, deployment=deployment)
    error.body = body
    error.code = "ModelError"
    return error


def error_for_code(
    code: str | None, status: int, body: Any, headers: Mapping[str, str], deployment: str | None
) -> GatewayError:
    """The gateway error for a SageMaker error type (``status`` decides for unknown types)."""
    if code == "ModelError":
        return _model_error(body, headers, deployment)
    said = error_message(body) or f"HTTP {status}"
    message = f"SageMaker {code or f'HTTP {status}'}: {said.rstrip('.')}"
    kwargs: dict[str, Any] = {"deployment": deployment, "body": body, "code": code}
    if code in THROTTLING_CODES:
        return RateLimitError(message, retry_after=parse_retry_after(headers), **kwargs)
    if code == "ModelNotReadyException":
        return ServiceUnavailableError(
            f"{message} (the endpoint's model is still loading)",
            retry_after=parse_retry_after(headers),
            **kwargs,
        )
    if code == "ServiceUnavailable":
        return ServiceUnavailableError(message, retry_after=parse_retry_after(headers), **kwargs)
    if code in SERVER_CODES or code in STREAM_FAULT_CODES:
        return UpstreamServerError(message, **kwargs)
    if code in AUTHENTICATION_CODES:
        return AuthenticationError(f"{message}; check the deployment's AWS credentials and region", **kwargs)
    if code in PERMISSION_CODES:
        return PermissionDeniedError(
            f"{message}; the credentials need sagemaker:InvokeEndpoint on this endpoint", **kwargs
        )
    if code == "ValidationError":
        if "not found" in said.lower():
            return NotFoundError(f"{message}; check endpoint_name, region and inference_component", **kwargs)
        return BadRequestError(message, **kwargs)
    error = error_from_status(status, {"message": message}, headers, deployment=deployment)
    error.body, error.code = body, code
    return error


def sagemaker_error(
    status: int, raw: bytes, headers: Mapping[str, str], deployment: str | None
) -> GatewayError:
    """The gateway error for a SageMaker runtime answer with an error status."""
    body = parse_body(raw)
    return error_for_code(error_code(headers, body), status, body, headers, deployment)


def stream_fault_error(
    kind: str, message: str, error_code: str | None, sent: int, deployment: str | None
) -> GatewayError:
    """An error event inside a response stream. Once chunks reached the caller a retryable
    fault can only end the stream (it must not be replayed): StreamInterruptedError."""
    detail = f"{kind}{f' ({error_code})' if error_code else ''}: {message or 'no message'}"
    # Unknown kinds count as server faults: the request itself was accepted.
    error = error_for_code(kind, 500, {"message": message}, {}, deployment)
    if sent and error.retryable:
        return StreamInterruptedError(
            f"SageMaker stream broke off after {sent} chunks: {detail}",
            chunks_received=sent,
            deployment=deployment,
            code=kind,
        )
    error.message = f"SageMaker stream failed: {detail}"
    return error
