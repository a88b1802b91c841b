from __future__ import annotations

import pytest

from llmgateway import ConfigError, ProviderRegistry
from llmgateway.provider import Provider
from providers.mock import MockProvider
from providers.openai_compat import OpenAICompatProvider


def test_builtin_providers_come_from_entry_points() -> None:
    registry = ProviderRegistry()
    assert {"mock", "openai"} <= set(registry.kinds())
    assert registry.get("mock") is MockProvider
    assert registry.get("openai") is OpenAICompatProvider


def test_third_party_kinds_register_and_override() -> None:
    class Custom(MockProvider):
        kind = "custom"

    registry = ProviderRegistry({"custom": Custom})
    assert registry.get("custom") is Custom
    registry.register("mock", Custom)
    assert registry.get("mock") is Custom


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown provider 'x'"):
        ProviderRegistry().get("x")


def test_providers_satisfy_the_protocol() -> None:
    assert isinstance(MockProvider(), Provider)
