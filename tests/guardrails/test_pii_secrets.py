"""The secret detector: provider keys and tokens whole, assignments and bearer tokens by value."""

from __future__ import annotations

import pytest

from llmgateway.guardrails.pii.secret_patterns import SecretDetector

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4Ux\nq0Fz9T8=\n-----END RSA PRIVATE KEY-----"


def found(text: str) -> list[str]:
    return [text[start:end] for start, end in SecretDetector().find(text)]


@pytest.mark.parametrize(
    "token",
    [
        "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
        "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_-0123",
        "sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z-0123AA",
        "sk-llmgw-abcdefghij23-tN4r0xJ8Qz_wV5-kLm9PqRsTuVwXyZ0123456789ab",
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAY34FZKBOKMUTVV7A",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGH",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxp-1234567890-abcdefghij",
        "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "rk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        JWT,
    ],
)
def test_known_token_formats_are_found_whole(token: str) -> None:
    assert found(f"use {token} for the call") == [token]
    assert found(f'{{"key_in_json":"{token}"}}') == [token]


def test_pem_private_key_block_whole() -> None:
    text = f"here it is:\n{PEM}\nthanks"
    assert found(text) == [PEM]
    unterminated = "key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B"
    assert found(unterminated) == [unterminated[5:]]


def test_a_public_key_is_not_a_secret() -> None:
    assert found("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----") == []


def test_bearer_takes_the_token_only() -> None:
    assert found("Authorization: Bearer abc123def456ghi789.") == ["abc123def456ghi789"]
    assert found(f"bearer {JWT}") == [JWT]
    assert found("Bearer authentication is a scheme") == []  # a word, not a token


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("api_key=supersecretvalue", "supersecretvalue"),
        ("OPENAI_API_KEY=abcdefgh12345678", "abcdefgh12345678"),
        ('"password": "correct horse battery staple"', "correct horse battery staple"),
        ("password: 'Tr0ub4dor&3'", "Tr0ub4dor&3"),
        ("secret: Zm9vYmFyYmF6cXV4", "Zm9vYmFyYmF6cXV4"),
        ("token=abcdefghij.", "abcdefghij"),
        ("client_secret => 'abcdefgh1234'", "abcdefgh1234"),
        ("DB_PASSWORD=hunter2hunter2", "hunter2hunter2"),
        ("access_token: ya29.a0AfH6SMBx", "ya29.a0AfH6SMBx"),
    ],
)
def test_assignments_take_the_value_not_the_name(text: str, value: str) -> None:
    assert found(f"config: {text}\nnext line") == [value]


@pytest.mark.parametrize(
    "text",
    [
        "sk-",
        "sk- is the prefix of OpenAI keys",
        "the task-force met on Monday",
        "Write a short story about a dragon who loves tea.",
        "My password: no. Your password: yes.",
        "the secret: everything is connected",
        "token: hello",
        "max_tokens=1500 and tokenizer=gpt2-tokenizer",
        "the request id 123e4567-e89b-12d3-a456-426614174000 failed",
        "risk-assessment-framework-documentation-overview",
        "AKIAIOSFODNN7EXAMPL",  # one short
        "ghp_short",
        "desk-abcdefghijklmnopqrstuvwxyz0123456789",  # sk- inside a word
        "the key: insight of the paper",
    ],
)
def test_look_alikes_are_not_secrets(text: str) -> None:
    assert found(text) == []
