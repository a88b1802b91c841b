from __future__ import annotations

from pathlib import Path

import pytest

from llmgateway import ConfigError, Gateway
from llmgateway.config import load_config, parse_config

VALID = """
models:
  chat:
    deployments:
      - name: primary
        provider: openai
        settings: {base_url: "${UPSTREAM:-http://127.0.0.1:9/v1}", api_key: "${KEY}"}
        pricing: {input_per_million: "0.15", output_per_million: "0.60"}
        limits: {rpm: 600}
        timeout: 20
      - provider: mock
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


def test_valid_file_with_env_interpolation(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), env={"KEY": "sk-1"})
    deployments = config.models["chat"].deployments
    assert deployments[0].settings == {"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-1"}
    assert deployments[1].name == "chat-1"  # unnamed deployments are named <model>-<index>
    assert str(deployments[0].pricing.output_per_million) == "0.60"


def test_missing_env_var_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, VALID), env={})
    assert "models.chat.deployments[0].settings.api_key" in str(caught.value)
    assert "KEY" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"models": {}}, "models: Dictionary should have at least 1 item"),
        (
            {"models": {"c": {"deployments": [{"settings": {}}]}}},
            "models.c.deployments[0].provider: Field required",
        ),
        ({"models": {"c": {"deployments": []}}}, "models.c.deployments: List should have at least 1 item"),
        (
            {"models": {"c": {"deployments": [{"provider": "mock", "timeout": -1}]}}},
            "models.c.deployments[0].timeout: Input should be greater than 0",
        ),
        (
            {"models": {"c": {"deployments": [{"provider": "mock", "pricing": {"input_per_million": "x"}}]}}},
            "models.c.deployments[0].pricing.input_per_million",
        ),
        ({"models": {"c": {"deployments": [{"provider": "mock"}]}}, "modles": 1}, "modles: Extra inputs"),
        (
            {"models": {"c": {"deployments": [{"provider": "mock"}], "routing": {"policy": "dice"}}}},
            "models.c.routing.policy",
        ),
        (
            {
                "models": {
                    "a": {"deployments": [{"name": "x", "provider": "mock"}]},
                    "b": {"deployments": [{"name": "x", "provider": "mock"}]},
                }
            },
            "deployment name 'x' is used by models 'a' and 'b'",
        ),
        (["not", "a", "mapping"], "expected a mapping"),
    ],
)
def test_wrong_config_names_key_and_expectation(data: object, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={})
    assert expected in str(caught.value)


def test_provider_settings_are_validated_with_the_path() -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway({"models": {"chat": {"deployments": [{"provider": "openai", "settings": {"api_key": "k"}}]}}})
    assert "models.chat.deployments[0].settings.base_url: Field required" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        Gateway(
            {
                "models": {
                    "chat": {"deployments": [{"provider": "openai", "settings": {"base_url": "ftp://x"}}]}
                }
            }
        )
    assert "must start with http:// or https://" in str(caught.value)


def test_unknown_provider_lists_installed_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway({"models": {"chat": {"deployments": [{"provider": "nope"}]}}})
    message = str(caught.value)
    assert "models.chat.deployments[0].provider" in message
    assert "unknown provider 'nope'" in message and "mock" in message and "openai" in message


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "models: [unclosed"))


def test_gateway_needs_exactly_one_source() -> None:
    with pytest.raises(ConfigError, match="either a config"):
        Gateway()


def test_errors_never_echo_string_values_such_as_secrets() -> None:
    data = {"models": {"c": {"deployments": [{"provider": "openai", "apikey": "${KEY}"}]}}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={"KEY": "sk-live-SECRET"})
    assert "apikey: Extra inputs are not permitted" in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_config_errors_never_quote_a_secret(tmp_path: Path) -> None:
    """A bad YAML line or a wrong value may hold a key: errors say where, not what."""
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text('models:\n  chat:\n    api_key: "sk-live-9f8e7d6c5b4a\n  x: [\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(bad_yaml)
    assert "sk-live-9f8e7d6c5b4a" not in str(caught.value) and "line" in str(caught.value)
    bad_value = {
        "models": {"chat": {"deployments": [{"provider": "mock", "timeout": "sk-live-9f8e7d6c5b4a"}]}}
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(bad_value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "sk-live-9f8e7d6c5b4a" not in str(caught.value)
