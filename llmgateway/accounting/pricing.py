"""Per-deployment prices and the cost of one call, in exact decimal money.

A deployment's price is the sum of whichever components it sets (all default to zero), so one
deployment may, say, charge per token and per request at once:

- ``input_per_million`` / ``output_per_million``: per prompt / generated token, as providers list
  them (hosted APIs);
- ``per_compute_second``: per second of compute the backend reports in ``usage.compute_seconds``
  (local GPU/CPU backends);
- ``per_instance_hour``: a dedicated endpoint's hourly instance price; a call pays for its share of
  the instance time it used (``llmgateway.accounting.instance_time.InstanceClock`` measures it);
- ``per_request``: a flat fee per call.

``model`` names an entry of the price table (``llmgateway.accounting.price_table``) to take the
prices from; fields given next to it override the table's (``resolve``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from llmgateway.types import Cost, Usage

if TYPE_CHECKING:
    from llmgateway.accounting.price_table import PriceTable

_MILLION = Decimal(1_000_000)
_HOUR = Decimal(3600)
_ZERO = Decimal(0)

# The price components, in the order they appear in a price table entry.
PRICE_FIELDS = (
    "input_per_million",
    "output_per_million",
    "per_request",
    "per_compute_second",
    "per_instance_hour",
)


def to_decimal(value: float | int | Decimal) -> Decimal:
    """Money or seconds from a number; str() keeps a float's shortest decimal form instead of its
    binary expansion (0.1 -> Decimal('0.1'), not 0.1000000000000000055...)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(str(value))


class Pricing(BaseModel):
    """Prices of one deployment. Token prices are per million tokens, as providers list them."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    model: str | None = Field(
        default=None, min_length=1, description="Take the prices of this price-table model"
    )
    input_per_million: Decimal = Field(default=Decimal(0), ge=0)
    output_per_million: Decimal = Field(default=Decimal(0), ge=0)
    per_request: Decimal = Field(default=Decimal(0), ge=0)
    # For backends that meter compute time (the local backend reports usage.compute_seconds).
    per_compute_second: Decimal = Field(default=Decimal(0), ge=0)
    # For dedicated endpoints billed by the hour, per instance; calls share it by the time they used.
    per_instance_hour: Decimal = Field(default=Decimal(0), ge=0)
    instances: int = Field(default=1, ge=1, description="Instances behind a dedicated endpoint")
    currency: str = Field(default="USD", min_length=3, max_length=3)

    def is_free(self) -> bool:
        return not (
            self.input_per_million
            or self.output_per_million
            or self.per_request
            or self.per_compute_second
            or self.per_instance_hour
        )

    def _needs_usage(self) -> bool:
        return bool(self.input_per_million or self.output_per_million or self.per_compute_second)

    def cost(
        self, usage: Usage | None, *, estimated: bool = False, instance_seconds: float | None = None
    ) -> Cost:
        """The call's cost from its usage and, for dedicated endpoints, the instance-seconds it
        used. A call without usage on a usage-priced deployment is marked estimated."""
        if self.is_free():
            return Cost(currency=self.currency, estimated=estimated)
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        input_cost = self.input_per_million * prompt / _MILLION if self.input_per_million else _ZERO
        output_cost = self.output_per_million * completion / _MILLION if self.output_per_million else _ZERO
        compute_cost = _ZERO
        seconds = usage.compute_seconds if usage and usage.compute_seconds else 0.0
        if seconds and self.per_compute_second:
            compute_cost = self.per_compute_second * to_decimal(seconds)
        if instance_seconds and self.per_instance_hour:
            # Multiply before dividing: an hourly price over 3600 rarely terminates in decimal.
            compute_cost += self.per_instance_hour * to_decimal(instance_seconds) / _HOUR
        return Cost(
            input=input_cost,
            output=output_cost,
            compute=compute_cost,
            total=input_cost + output_cost + compute_cost + self.per_request,
            currency=self.currency,
            estimated=estimated
            or (usage is None and self._needs_usage())
            # An hourly-priced call whose instance time was not measured is missing that part.
            or (instance_seconds is None and bool(self.per_instance_hour)),
        )

    def estimate(self, prompt_tokens: int, max_output_tokens: int, seconds: float | None = None) -> Decimal:
        """An upper bound of a call's cost before it runs, for budget reservations: the whole
        prompt, every allowed output token, and ``seconds`` (the call's time limit) of compute and
        of one instance (a call never uses more than one instance at a time)."""
        total = self.per_request
        if self.input_per_million:
            total += self.input_per_million * prompt_tokens / _MILLION
        if self.output_per_million:
            total += self.output_per_million * max_output_tokens / _MILLION
        if seconds and (self.per_compute_second or self.per_instance_hour):
            s = to_decimal(seconds)
            total += self.per_compute_second * s + self.per_instance_hour * s / _HOUR
        return total


def resolve(pricing: Pricing, table: PriceTable) -> Pricing:
    """``pricing`` with its ``model``'s table prices filled in: the fields set explicitly next to
    ``model`` win over the table's. Pricing without ``model`` comes back unchanged."""
    if pricing.model is None:
        return pricing
    base = table.get(pricing.model)
    merged: dict[str, Any] = {name: getattr(base, name) for name in (*PRICE_FIELDS, "instances", "currency")}
    merged.update({name: getattr(pricing, name) for name in pricing.model_fields_set})
    return Pricing(**merged)
