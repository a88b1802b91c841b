"""Usage records for the ledger tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from llmgateway.accounting.ledger import UsageRecord


def make_record(**overrides: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "created_at": datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
        "key": "key-a",
        "team": "team-a",
        "model": "chat",
        "deployment": "dep-1",
        "provider": "openai",
        "outcome": "ok",
        "error_type": None,
        "status_code": 200,
        "cache": "miss",
        "stream": False,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "compute_seconds": None,
        "cost_input": Decimal("0.0000015"),
        "cost_output": Decimal("0.000003"),
        "cost_compute": Decimal(0),
        "cost_abandoned": Decimal(0),
        "cost_total": Decimal("0.0000045"),
        "currency": "USD",
        "estimated": False,
        "latency_ms": 12.5,
        "ttft_ms": None,
        "attempts": 1,
    }
    values.update(overrides)
    return UsageRecord(**values)
