"""Pricing modes: each component alone and together, exact Decimal totals, the estimated flag."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from llmgateway.accounting.pricing import Pricing
from llmgateway.types import Usage


def usage(prompt: int = 0, completion: int = 0, seconds: float | None = None) -> Usage:
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        compute_seconds=seconds,
    )


def test_token_prices_are_exact() -> None:
    pricing = Pricing(input_per_million=Decimal("0.15"), output_per_million=Decimal("0.60"))
    cost = pricing.cost(usage(1000, 333))
    assert cost.input == Decimal("0.00015")
    assert cost.output == Decimal("0.0001998")
    assert cost.compute == 0
    assert cost.total == Decimal("0.0003498")
    assert (cost.currency, cost.estimated) == ("USD", False)


def test_compute_seconds_from_usage_keep_their_decimal_form() -> None:
    pricing = Pricing(per_compute_second=Decimal("0.0004"))
    cost = pricing.cost(usage(10, 10, seconds=0.1))
    # 0.1 as a float is 0.1000000000000000055...; the bill must say 0.1 seconds.
    assert cost.compute == Decimal("0.00004")
    assert cost.total == Decimal("0.00004")


def test_instance_hour_pays_the_calls_share_of_instance_time() -> None:
    pricing = Pricing(per_instance_hour=Decimal("3.60"))
    cost = pricing.cost(usage(5, 5), instance_seconds=2.5)
    assert cost.compute == Decimal("0.0025")
    assert cost.total == Decimal("0.0025")
    assert not cost.estimated
    # Not measured: the instance part is missing, so the cost is an estimate.
    assert pricing.cost(usage(5, 5)).estimated


def test_per_request_needs_no_usage() -> None:
    cost = Pricing(per_request=Decimal("0.002")).cost(None)
    assert cost.total == Decimal("0.002")
    assert not cost.estimated


def test_components_add_up() -> None:
    pricing = Pricing(
        input_per_million=Decimal(2),
        output_per_million=Decimal(8),
        per_request=Decimal("0.001"),
        per_compute_second=Decimal("0.01"),
        per_instance_hour=Decimal(36),
        currency="EUR",
    )
    cost = pricing.cost(usage(500_000, 250_000, seconds=1.5), instance_seconds=0.5)
    assert cost.input == Decimal(1)
    assert cost.output == Decimal(2)
    assert cost.compute == Decimal("0.015") + Decimal("0.005")
    assert cost.total == Decimal("3.021")
    assert cost.currency == "EUR"
    assert pricing.cost(usage(1, 1), estimated=True, instance_seconds=0.0).estimated


def test_usage_priced_call_without_usage_is_estimated() -> None:
    cost = Pricing(output_per_million=Decimal(1), per_request=Decimal("0.5")).cost(None)
    assert cost.total == Decimal("0.5")
    assert cost.estimated


def test_free_pricing() -> None:
    assert Pricing().is_free()
    assert not Pricing(per_instance_hour=Decimal(1)).is_free()
    assert Pricing().cost(usage(10, 10)).total == 0


def test_estimate_is_an_upper_bound() -> None:
    pricing = Pricing(
        input_per_million=Decimal(1),
        output_per_million=Decimal(4),
        per_request=Decimal("0.01"),
        per_compute_second=Decimal("0.001"),
        per_instance_hour=Decimal("7.2"),
    )
    bound = pricing.estimate(1000, 500, seconds=10)
    assert bound == Decimal("0.001") + Decimal("0.002") + Decimal("0.01") + Decimal("0.01") + Decimal("0.02")
    actual = pricing.cost(usage(1000, 200, seconds=3.0), instance_seconds=4.0)
    assert actual.total <= bound
    assert Pricing(input_per_million=Decimal(1)).estimate(10, 10) == Decimal("0.00001")


def test_prices_are_validated() -> None:
    with pytest.raises(ValidationError):
        Pricing(input_per_million=Decimal(-1))
    with pytest.raises(ValidationError):
        Pricing(instances=0)
    assert Pricing.model_validate({"input_per_million": "0.15"}).input_per_million == Decimal("0.15")
