"""One structured JSON line per call on the ``llmgateway.calls`` logger, and the call's metrics.

Never the key's secret (only its id); prompt and answer text only with ``server.log_prompts``,
and then, with ``guardrails.pii`` configured, with every PII value replaced by a placeholder.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Container

    from llmgateway.server.metrics import Metrics
    from llmgateway.server.principal import Principal
    from llmgateway.types import GatewayMetadata, Usage

logger = logging.getLogger("llmgateway.calls")


class CallLog:
    __slots__ = ("_log_calls", "_metrics", "_models", "_scrub", "log_prompts")

    def __init__(
        self,
        metrics: Metrics,
        models: Container[str],
        *,
        log_calls: bool = True,
        log_prompts: bool = False,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        self._metrics = metrics
        self._scrub = scrub
        # Metric labels only for configured models: a client's made-up names would grow the series.
        self._models = models
        self._log_calls = log_calls
        self.log_prompts = log_prompts

    def record(
        self,
        endpoint: str,
        model: str,
        principal: Principal | None,
        status: int,
        started: float,
        outcome: str,
        meta: GatewayMetadata | None = None,
        usage: Usage | None = None,
        error: str | None = None,
        text: dict[str, Any] | None = None,
        deployment: str | None = None,
    ) -> None:
        """``started`` is a ``time.perf_counter()`` reading; ``text`` is prompt and answer, kept
        only when prompts are logged."""
        latency = time.perf_counter() - started
        prompt_tokens = usage.prompt_tokens if usage is not None else 0
        completion_tokens = usage.completion_tokens if usage is not None else 0
        deployment = meta.deployment if meta is not None else (deployment or "")
        cache = meta.cache if meta is not None else "off"
        cost = meta.cost if meta is not None else None
        self._metrics.observe(
            endpoint,
            model if model in self._models else "",
            deployment,
            status,
            cache,
            latency,
            prompt_tokens,
            completion_tokens,
            float(cost.total) if cost is not None else 0.0,
            cost.currency if cost is not None else "USD",
        )
        if not self._log_calls or not logger.isEnabledFor(logging.INFO):
            return
        caller = principal.caller if principal is not None else None
        line: dict[str, Any] = {
            "time": round(time.time(), 3),
            "request_id": meta.request_id if meta is not None else None,
            "key": caller.key if caller is not None else None,
            "team": caller.team if caller is not None else None,
            "endpoint": endpoint,
            "model": model,
            "deployment": deployment or None,
            "status": status,
            "outcome": outcome,
            "latency_ms": round(latency * 1000.0, 2),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost": str(cost.total) if cost is not None else None,
            "currency": cost.currency if cost is not None else None,
            "cost_estimated": cost.estimated if cost is not None else None,
            "cache": cache,
            "attempts": len(meta.attempts) if meta is not None else 0,
        }
        if error is not None:
            line["error"] = error
        if text is not None and self.log_prompts:
            if self._scrub is not None:
                from llmgateway.secret_scrub import scrub_strings

                text = scrub_strings(text, self._scrub)
            line.update(text)
        logger.info(json.dumps(line, separators=(",", ":"), default=str))
