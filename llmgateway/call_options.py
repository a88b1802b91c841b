"""What one SDK call takes besides its model and messages: who it is for (``caller``), cache
control, a routing override, and the request built from its parameters; each validated into a
clear ``BadRequestError``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

from pydantic import ValidationError

from llmgateway.caller import Caller
from llmgateway.config import describe_validation_error
from llmgateway.errors import BadRequestError
from llmgateway.routing.settings import RoutingOverride
from llmgateway.types import WireModel

if TYPE_CHECKING:
    from llmgateway.cache.control import CacheControl

CallerSpec = Union[Caller, Mapping[str, Any], str, None]
CacheSpec = Union["CacheControl", Mapping[str, Any], str, None]


def caller_of(value: CallerSpec, default: Caller) -> Caller:
    """Who the call is for: a Caller, {"key": ..., "team": ..., "pii": ...}, or just a key id."""
    if value is None:
        return default
    if isinstance(value, Caller):
        return value
    if isinstance(value, str):
        return Caller(key=value, team=default.team, pii=default.pii)
    unknown = set(value) - {"key", "team", "pii"}
    if unknown:
        raise BadRequestError(f"caller takes 'key', 'team' and 'pii'; unknown: {', '.join(sorted(unknown))}")
    pii = value.get("pii")
    if pii not in (None, "off", "redact", "block"):
        raise BadRequestError(f"caller pii must be off, redact or block, not {pii!r}")
    return Caller(key=value.get("key"), team=value.get("team"), pii=pii)


def cache_control(value: CacheSpec) -> CacheControl | None:
    """Per-call cache control: "skip", "refresh", "no-store", or {"mode": ..., "ttl": ...}."""
    if value is None:
        return None
    from llmgateway.cache.control import CacheControl

    try:
        return CacheControl.parse(value)
    except (TypeError, ValueError) as exc:
        raise BadRequestError(f"invalid cache control: {exc}") from exc


def validated(model_cls: type[WireModel], payload: dict[str, Any]) -> Any:
    try:
        return model_cls.model_validate(payload)
    except ValidationError as exc:
        raise BadRequestError(f"invalid request: {describe_validation_error(exc)}") from exc


def routing_override(routing: Mapping[str, Any] | RoutingOverride | None) -> RoutingOverride | None:
    """A request's own routing choices (policy, constraints, hedging), validated."""
    if routing is None or isinstance(routing, RoutingOverride):
        return routing
    try:
        return RoutingOverride.model_validate(routing)
    except ValidationError as exc:
        raise BadRequestError(f"invalid routing override: {describe_validation_error(exc)}") from exc


def request_payload(
    fixed: dict[str, Any], params: dict[str, Any], extra_body: Mapping[str, Any] | None
) -> dict[str, Any]:
    payload = {k: v for k, v in params.items() if v is not None}
    payload.update(fixed)
    if extra_body:
        payload.update(extra_body)
    return payload
