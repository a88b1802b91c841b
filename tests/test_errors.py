from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from llmgateway import errors as e


@pytest.mark.parametrize(
    ("cls", "status", "retryable"),
    [
        (e.GatewayError, 500, False),
        (e.ConfigError, 500, False),
        (e.BadRequestError, 400, False),
        (e.ContextWindowExceededError, 400, False),
        (e.UnsupportedOperationError, 400, False),
        (e.AuthenticationError, 401, False),
        (e.BudgetExceededError, 402, False),
        (e.PermissionDeniedError, 403, False),
        (e.NotFoundError, 404, False),
        (e.RateLimitError, 429, True),
        (e.UpstreamServerError, 502, True),
        (e.ServiceUnavailableError, 503, True),
        (e.APIConnectionError, 502, True),
        (e.APITimeoutError, 504, True),
        (e.StreamInterruptedError, 502, True),
        (e.NoDeploymentAvailableError, 503, True),
    ],
)
def test_every_error_class(cls: type[e.GatewayError], status: int, retryable: bool) -> None:
    error = cls("boom", deployment="d1")
    assert error.status_code == status
    assert error.retryable is retryable
    assert error.deployment == "d1"
    assert "d1" in str(error)
    body = error.to_openai_body()
    assert body["error"]["message"] == "boom"
    assert body["error"]["type"] == cls.error_type


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, e.BadRequestError, False),
        (401, e.AuthenticationError, False),
        (402, e.BudgetExceededError, False),
        (403, e.PermissionDeniedError, False),
        (404, e.NotFoundError, False),
        (408, e.UpstreamServerError, True),
        (409, e.UpstreamServerError, True),
        (422, e.BadRequestError, False),
        (429, e.RateLimitError, True),
        (500, e.UpstreamServerError, True),
        (502, e.UpstreamServerError, True),
        (503, e.ServiceUnavailableError, True),
        (504, e.UpstreamServerError, True),
    ],
)
def test_error_from_status(status: int, cls: type[e.GatewayError], retryable: bool) -> None:
    error = e.error_from_status(status, {"error": {"message": "upstream says no"}}, {}, deployment="d")
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.status_code == status
    assert error.message == "upstream says no"


def test_context_length_errors_are_recognised() -> None:
    body = {"error": {"message": "This model's maximum context length is 8192 tokens"}}
    error = e.error_from_status(400, body, {})
    assert isinstance(error, e.ContextWindowExceededError)
    assert error.code == "context_length_exceeded"


def test_plain_text_and_empty_bodies_still_give_a_message() -> None:
    assert e.error_from_status(500, "<html>oops</html>", {}).message == "<html>oops</html>"
    assert "HTTP 502" in e.error_from_status(502, None, {}).message


def test_retry_after_forms() -> None:
    assert e.parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert e.parse_retry_after({"retry-after": "7"}) == 7.0
    assert e.parse_retry_after({}) is None
    assert e.parse_retry_after({"retry-after": "soon"}) is None
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    seconds = e.parse_retry_after({"retry-after": format_datetime(later, usegmt=True)})
    assert seconds is not None and 25 <= seconds <= 31
    error = e.error_from_status(429, {}, {"retry-after": "3"})
    assert isinstance(error, e.RateLimitError) and error.retry_after == 3.0
