"""Per-deployment prices and the cost of one call, in exact decimal money."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from llmgateway.types import Cost, Usage

_MILLION = Decimal(1_000_000)


class Pricing(BaseModel):
    """Prices of one deployment. Token prices are per million tokens, as providers list them."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    input_per_million: Decimal = Field(default=Decimal(0), ge=0)
    output_per_million: Decimal = Field(default=Decimal(0), ge=0)
    per_request: Decimal = Field(default=Decimal(0), ge=0)
    # For backends that meter compute time (the local backend reports usage.compute_seconds).
    per_compute_second: Decimal = Field(default=Decimal(0), ge=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)

    def is_free(self) -> bool:
        return not (
            self.input_per_million or self.output_per_million or self.per_request or self.per_compute_second
        )

    def cost(self, usage: Usage | None, *, estimated: bool = False) -> Cost:
        """The call's cost from its token usage; a call without usage costs its per-request fee
        and is marked estimated."""
        if self.is_free():
            return Cost(currency=self.currency, estimated=estimated)
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        input_cost = self.input_per_million * prompt / _MILLION
        output_cost = self.output_per_million * completion / _MILLION
        seconds = usage.compute_seconds if usage and usage.compute_seconds else 0.0
        # str() keeps the float's shortest decimal form instead of its binary expansion.
        compute_cost = self.per_compute_second * Decimal(str(seconds)) if seconds else Decimal(0)
        return Cost(
            input=input_cost,
            output=output_cost,
            compute=compute_cost,
            total=input_cost + output_cost + compute_cost + self.per_request,
            currency=self.currency,
            estimated=estimated or usage is None,
        )
