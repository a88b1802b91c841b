"""The bundled price table, config overrides, a custom file, and ``model=`` resolution."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from llmgateway.accounting.price_table import bundled_versions, load_price_table
from llmgateway.accounting.pricing import Pricing, resolve
from llmgateway.errors import ConfigError


def test_bundled_table_loads_exact_prices() -> None:
    table = load_price_table()
    assert table.version == bundled_versions()[-1]
    assert table.currency == "USD"
    assert "as published" in table.source
    mini = table.get("gpt-4o-mini")
    assert (mini.input_per_million, mini.output_per_million) == (Decimal("0.15"), Decimal("0.60"))
    assert table.get("claude-3-5-sonnet-20241022") == table.get("claude-3-5-sonnet")
    assert table.get("openai/gpt-4o") == table.get("gpt-4o")
    assert len(table) >= 30
    for name in table.models():
        assert table.get(name).currency == "USD"
        assert not table.get(name).is_free()


def test_every_bundled_version_parses() -> None:
    for version in bundled_versions():
        assert load_price_table(version=version).version == version
    with pytest.raises(ConfigError, match="bundled"):
        load_price_table(version="1999-01")


def test_unknown_model_names_close_matches() -> None:
    with pytest.raises(ConfigError) as info:
        load_price_table().get("gpt-4o-mni")
    message = str(info.value)
    assert "'gpt-4o-mni'" in message
    assert "gpt-4o-mini" in message
    assert "prices.overrides" in message


def test_overrides_add_and_change_entries() -> None:
    table = load_price_table(
        {
            "gpt-4o": Pricing(output_per_million=Decimal(12)),
            "house-model": Pricing(per_request=Decimal("0.01")),
            "gpt-4o-discount": Pricing(model="gpt-4o", input_per_million=Decimal(2)),
        }
    )
    gpt4o = table.get("gpt-4o")
    assert (gpt4o.input_per_million, gpt4o.output_per_million) == (Decimal("2.50"), Decimal(12))
    assert table.get("house-model").per_request == Decimal("0.01")
    discount = table.get("gpt-4o-discount")
    assert (discount.input_per_million, discount.output_per_million) == (Decimal(2), Decimal("10.00"))
    # The bundled table itself is untouched.
    assert load_price_table().get("gpt-4o").output_per_million == Decimal("10.00")


def test_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "version": "ours-1",
                "currency": "EUR",
                "models": {"m": {"input_per_million": "1.10", "per_request": "0.001"}},
            }
        )
    )
    table = load_price_table(path=str(path))
    assert table.version == "ours-1"
    assert table.get("m") == Pricing(
        input_per_million=Decimal("1.10"), per_request=Decimal("0.001"), currency="EUR"
    )
    path.write_text(json.dumps({"version": "bad", "models": {"m": {"input_per_million": "x"}}}))
    with pytest.raises(ConfigError, match=r"models\.m"):
        load_price_table(path=str(path))
    with pytest.raises(ConfigError, match="cannot read"):
        load_price_table(path=str(tmp_path / "missing.json"))


def test_resolve_fills_in_table_prices_and_keeps_explicit_fields() -> None:
    table = load_price_table()
    assert resolve(Pricing(input_per_million=Decimal(1)), table) == Pricing(input_per_million=Decimal(1))
    plain = resolve(Pricing(model="gpt-4.1-mini"), table)
    assert (plain.input_per_million, plain.output_per_million) == (Decimal("0.40"), Decimal("1.60"))
    assert plain.model == "gpt-4.1-mini"
    custom = resolve(
        Pricing.model_validate({"model": "gpt-4.1-mini", "output_per_million": "2", "per_request": "0.001"}),
        table,
    )
    assert (custom.input_per_million, custom.output_per_million) == (Decimal("0.40"), Decimal(2))
    assert custom.per_request == Decimal("0.001")
    # An explicit zero is explicit too.
    free_input = resolve(Pricing(model="gpt-4.1-mini", input_per_million=Decimal(0)), table)
    assert free_input.input_per_million == 0
    with pytest.raises(ConfigError, match="close matches"):
        resolve(Pricing(model="gpt-4.1-mnii"), table)
