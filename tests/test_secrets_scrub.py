"""The scrubber's rules, one by one (what it must catch and what it must leave alone), its log
filter, and the error helpers the providers use."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from llmgateway.config import parse_config
from llmgateway.errors import (
    AuthenticationError,
    NoDeploymentAvailableError,
    UpstreamServerError,
    error_from_status,
)
from llmgateway.secret_scrub import (
    REDACTED,
    ScrubbedErrors,
    ScrubbingFilter,
    SecretScrubber,
    collect_secrets,
    install,
    is_secret_name,
    scrub_credentials,
)
from llmgateway.server.errors import render


def _config() -> dict[str, object]:
    settings = {
        "base_url": "http://127.0.0.1:1/v1",
        "api_key": "plain-api-key-value",
        "headers": {"X-Api-Key": "header-key-value", "X-Request-Source": "gateway-tests"},
        "query": {"api-version": "2024-06-01", "key": "query-key-value"},
    }
    return {
        "models": {
            "chat": {"deployments": [{"name": "a", "provider": "openai", "settings": settings}]},
            "aws": {
                "deployments": [
                    {
                        "name": "b",
                        "provider": "openai",
                        "settings": {
                            "base_url": "http://u:url-password-1@h:1/v1",
                            "token": "Bearer tok-in-bearer",
                        },
                    }
                ]
            },
        },
        "ledger": {"backend": "postgres", "dsn": "postgresql://app:dsn-password-9@db:5432/usage"},
        "limits": {"backend": "redis", "redis_url": "redis://:redis-password-7@cache:6379/0"},
        "server": {"master_key": "master-key-0123456789abcdef"},
    }


def test_from_config_collects_every_kind_of_secret() -> None:
    secrets = set(SecretScrubber.from_config(parse_config(_config(), env={})).secrets)
    expected = {
        "plain-api-key-value", "header-key-value", "query-key-value", "url-password-1",
        "tok-in-bearer", "dsn-password-9", "redis-password-7", "master-key-0123456789abcdef",
    }  # fmt: skip
    assert expected <= secrets
    # Not secrets: names, versions, ordinary header values, hosts, user names.
    for plain in ("gateway-tests", "2024-06-01", "http://127.0.0.1:1/v1", "app", "usage", "chat"):
        assert plain not in secrets


def test_dsn_keeps_everything_but_the_password() -> None:
    scrubber = SecretScrubber.from_config(parse_config(_config(), env={}))
    text = "connect postgresql://app:dsn-password-9@db:5432/usage failed"
    assert scrubber.scrub(text) == f"connect postgresql://app:{REDACTED}@db:5432/usage failed"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_key", True), ("X-Api-Key", True), ("accessToken", True), ("secret_access_key", True),
        ("session_token", True), ("password", True), ("Authorization", True), ("credentials", True),
        ("master_key", True), ("credentials_file", False), ("max_tokens", False), ("auth_timeout", False),
        ("base_url", False), ("model", False), ("tokenizer", False), ("key_prefix", False),
    ],
)  # fmt: skip
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Incorrect API key provided: sk-abc12***********wxyz", f"Incorrect API key provided: {REDACTED}"),
        ("key sk-proj-abcdef123456 rejected", f"key {REDACTED} rejected"),
        ("Authorization: Bearer abc.def-ghi_123", f"Authorization: Bearer {REDACTED}"),
        ("id AKIAIOSFODNN7EXAMPLE denied", f"id {REDACTED} denied"),
        ("token ya29.a0AfH6SMBxyz_123 expired", f"token {REDACTED} expired"),
        (
            "GET http://h/v1?api-version=1&key=AIzaQQQ&x=1",
            f"GET http://h/v1?api-version=1&key={REDACTED}&x=1",
        ),
        ("redis://:hunter2hunter@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        ("password=letmein99 next", f"password={REDACTED} next"),
        ("hf token hf_abcdefghijklmnopqrstuvwxyz", f"hf token {REDACTED}"),
    ],
)
def test_credential_shapes_are_scrubbed(text: str, expected: str) -> None:
    assert scrub_credentials(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "the model answered HTTP 500: internal error",
        "task-queue is full; sk- prefix alone",
        "http://host:8000/v1/chat/completions?api-version=2024-06-01",
        "user@example.com wrote AKIA short",
        "Bearer abc",  # too short to be a token
        "postgresql://app@db:5432/usage",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub_credentials(text) == text


def test_short_values_are_not_scrubbed_and_longest_wins() -> None:
    scrubber = SecretScrubber(["abc12", "distinct-secret", "distinct-secret-longer"])
    assert scrubber.secrets == ("distinct-secret-longer", "distinct-secret")
    text = "abc12 distinct-secret-longer distinct-secret"
    assert scrubber.scrub(text) == f"abc12 {REDACTED} {REDACTED}"


def test_secret_str_and_nested_lists() -> None:
    found = collect_secrets({"a": [{"password": "nested-password"}], "b": SecretStr("pydantic-secret")})
    assert found == {"nested-password", "pydantic-secret"}


def test_detector_adds_values_found_at_scrub_time() -> None:
    scrubber = SecretScrubber(detect=lambda text: ["found-by-detector"] if "found" in text else [])
    assert scrubber.scrub("x found-by-detector y") == f"x {REDACTED} y"


def test_upstream_errors_are_scrubbed_at_creation() -> None:
    body = {"error": {"message": "Incorrect API key provided: sk-live-0123456789abcdef."}}
    error = error_from_status(401, body, {}, deployment="d")
    assert isinstance(error, AuthenticationError)
    assert "sk-live" not in error.message and "sk-live" not in str(error.body)
    moved = error_from_status(302, {}, {"location": "https://h/x?key=secret-in-location"})
    assert "secret-in-location" not in moved.message


def test_scrubbed_errors_scrub_message_args_body_and_inner_errors() -> None:
    scrubber = SecretScrubber(["private-value-1"])
    inner = UpstreamServerError("inner private-value-1", body={"raw": ["private-value-1"]})
    outer = NoDeploymentAvailableError("outer private-value-1", errors=[inner])
    with pytest.raises(NoDeploymentAvailableError) as caught, ScrubbedErrors(scrubber):
        raise outer
    assert caught.value is outer
    assert "private-value-1" not in f"{outer} {outer.args} {inner} {inner.args} {inner.body}"


def test_render_scrubs_with_the_given_scrubber() -> None:
    error = UpstreamServerError("upstream said config-only-secret and sk-abcdef0123456", deployment="d")
    _, default, _ = render(error)
    assert b"sk-abcdef" not in default and b"config-only-secret" in default
    _, body, _ = render(error, SecretScrubber(["config-only-secret"]))
    assert b"config-only-secret" not in body and b"sk-abcdef" not in body


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise RuntimeError("failed with log-secret-value")
        except RuntimeError:
            import sys

            info = sys.exc_info()
    return logging.LogRecord("llmgateway.x", logging.ERROR, __file__, 1, msg, args or None, info)


def test_filter_scrubs_message_args_and_traceback() -> None:
    scrub_filter = ScrubbingFilter(SecretScrubber(["log-secret-value"]))
    record = _record("calling %s with %r", "http://h", "log-secret-value", exc=True)
    assert scrub_filter.filter(record)
    text = logging.Formatter().format(record)
    assert "log-secret-value" not in text
    assert "calling http://h with '[REDACTED]'" in text and "RuntimeError" in text
    untouched = _record("%s - %s", "client", "GET /v1")
    scrub_filter.filter(untouched)
    assert untouched.args == ("client", "GET /v1")  # formatters that read args keep working


def test_install_covers_children_and_root_handlers_and_uninstalls() -> None:
    captured: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(self.format(record))

    child = logging.getLogger("llmgateway.secret_scrub_test")
    handler = Keep()
    child.addHandler(handler)
    child.propagate = False
    try:
        uninstall = install(SecretScrubber(["install-secret-1"]))
        child.warning("value %s", "install-secret-1")
        uninstall()
        child.warning("value %s", "install-secret-1")
    finally:
        child.removeHandler(handler)
        child.propagate = True
    assert captured == [f"value {REDACTED}", "value install-secret-1"]
