"""A request's routing override from HTTP headers, for the proxy:

``x-llmgateway-policy: cost``, ``x-llmgateway-max-cost: 0.002``,
``x-llmgateway-max-latency-ms: 800``, ``x-llmgateway-hedging: true|false``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from llmgateway.config import describe_validation_error
from llmgateway.errors import BadRequestError
from llmgateway.routing.settings import RoutingOverride

HEADERS = {
    "x-llmgateway-policy": "policy",
    "x-llmgateway-max-cost": "max_cost_per_request",
    "x-llmgateway-max-latency-ms": "max_latency_ms",
    "x-llmgateway-hedging": "hedging",
}


def override_from_headers(headers: Mapping[str, str]) -> RoutingOverride | None:
    """None when no routing header is present; a BadRequestError naming the header when one is wrong."""
    values = {field: headers[name] for name, field in HEADERS.items() if name in headers}
    if not values:
        return None
    try:
        return RoutingOverride.model_validate(values)
    except ValidationError as exc:
        reverse = {field: name for name, field in HEADERS.items()}
        message = describe_validation_error(exc)
        for field, name in reverse.items():
            message = message.replace(field, name)
        raise BadRequestError(f"invalid routing header: {message}") from exc
