"""One usage-ledger record per call, from what the call's metadata (or its error) says."""

from __future__ import annotations

import os
import random
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from llmgateway.caller import Caller
from llmgateway.errors import GatewayError
from llmgateway.types import GatewayMetadata, Usage

if TYPE_CHECKING:
    from llmgateway.accounting.ledger.record import UsageRecord

_ZERO = Decimal(0)


class RequestIds:
    """Unique call ids (96 random bits, the ledger's primary key), from a generator seeded by the
    OS once: a system call per id would cost more than the rest of a cache hit's bookkeeping."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._random = random.Random(os.urandom(32))

    def next(self) -> str:
        if os.getpid() != self._pid:  # a forked worker must not repeat its parent's ids
            self.__init__()  # type: ignore[misc]
        return f"{self._random.getrandbits(96):024x}"


def _status_outcome(outcome: str) -> str:
    return {"completed": "ok", "failed": "error"}.get(outcome, outcome)


def answered_record(
    request_id: str,
    caller: Caller,
    metadata: GatewayMetadata,
    usage: Usage | None,
    *,
    outcome: str = "ok",
    stream: bool = False,
) -> UsageRecord:
    """The record of a call that got an answer (from a deployment or the cache)."""
    from llmgateway.accounting.ledger.record import UsageRecord

    cost = metadata.cost
    return UsageRecord(
        id=request_id,
        created_at=datetime.now(timezone.utc),
        key=caller.key,
        team=caller.team,
        model=metadata.model,
        deployment=metadata.deployment,
        provider=metadata.provider,
        outcome=_status_outcome(outcome),
        error_type=None,
        status_code=None,
        cache=metadata.cache,
        stream=stream,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        compute_seconds=usage.compute_seconds if usage else None,
        cost_input=cost.input,
        cost_output=cost.output,
        cost_compute=cost.compute,
        cost_abandoned=cost.abandoned,
        cost_total=cost.total,
        currency=cost.currency,
        estimated=cost.estimated,
        latency_ms=metadata.latency_ms,
        ttft_ms=metadata.ttft_ms,
        attempts=len(metadata.attempts),
    )


def failed_record(
    request_id: str,
    caller: Caller,
    model: str,
    error: BaseException,
    latency_ms: float,
    *,
    cache: str = "off",
    stream: bool = False,
) -> UsageRecord:
    """The record of a call that ended without an answer: rejected, failed, or cancelled."""
    from llmgateway.accounting.ledger.record import UsageRecord

    gateway_error = error if isinstance(error, GatewayError) else None
    attempts = gateway_error.attempts if gateway_error is not None else []
    return UsageRecord(
        id=request_id,
        created_at=datetime.now(timezone.utc),
        key=caller.key,
        team=caller.team,
        model=model,
        deployment=gateway_error.deployment if gateway_error is not None else None,
        provider=None,
        outcome="error" if gateway_error is not None else "cancelled",
        error_type=gateway_error.error_type if gateway_error is not None else type(error).__name__,
        status_code=gateway_error.status_code if gateway_error is not None else None,
        cache=cache,
        stream=stream,
        prompt_tokens=0,
        completion_tokens=0,
        compute_seconds=None,
        cost_input=_ZERO,
        cost_output=_ZERO,
        cost_compute=_ZERO,
        cost_abandoned=_ZERO,
        cost_total=_ZERO,
        currency="USD",
        estimated=False,
        latency_ms=latency_ms,
        ttft_ms=None,
        attempts=len(attempts or []),
    )
