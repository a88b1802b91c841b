"""Audit query filters from text (HTTP query parameters, command-line options), with errors that
name the parameter at fault."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from llmgateway.audit.entry import MAX_LIMIT
from llmgateway.errors import BadRequestError

FILTERS = ("action", "actor", "target", "since", "until", "limit")


def parse_time(name: str, text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequestError(
            f"{name}={text!r} is not an ISO 8601 time; write e.g. 2026-01-01T00:00:00Z "
            "(in a URL, send the '+' of a zone offset as %2B)",
            code="invalid_parameter",
            param=name,
        ) from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def parse_limit(text: str) -> int:
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequestError(
            f"limit={text!r}: give a whole number from 1 to {MAX_LIMIT}",
            code="invalid_parameter",
            param="limit",
        )
    return limit


def query_filters(params: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments of ``AuditLog.query`` from ``params``; an unknown or bad one is a
    BadRequestError naming it."""
    unknown = sorted(set(params) - set(FILTERS))
    if unknown:
        raise BadRequestError(
            f"unknown parameter(s) {', '.join(unknown)}; filter with {', '.join(FILTERS)}",
            code="invalid_parameter",
            param=unknown[0],
        )
    filters: dict[str, Any] = {}
    for name in ("action", "actor", "target"):
        if name in params:
            if not params[name]:
                raise BadRequestError(
                    f"{name} is empty; give a value or leave it out", code="invalid_parameter", param=name
                )
            filters[name] = params[name]
    for name in ("since", "until"):
        if name in params:
            filters[name] = parse_time(name, params[name])
    if "limit" in params:
        filters["limit"] = parse_limit(params["limit"])
    return filters
