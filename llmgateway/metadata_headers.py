"""The gateway's per-call metadata as HTTP response headers, for the proxy to send.

One header per fact, ASCII only; lists are ``;``-separated and values are percent-encoded, so a
deployment name or an error message can never break the header block.
"""

from __future__ import annotations

from urllib.parse import quote

from llmgateway.types import GatewayMetadata

PREFIX = "x-llmgateway-"


def _safe(value: object) -> str:
    return quote(str(value), safe=" -_.:/=,()")[:512]


def metadata_headers(meta: GatewayMetadata) -> dict[str, str]:
    """``x-llmgateway-*`` headers: deployment, attempts (each try), routing policy and scores,
    latency, cache status and cost."""
    attempts = ";".join(
        ",".join(
            (
                _safe(a.deployment),
                a.outcome,
                str(a.status_code or ""),
                f"{a.latency_ms:.1f}ms",
                f"wait={a.wait_ms:.0f}ms",
                "hedge" if a.hedge else "",
            )
        ).rstrip(",")
        for a in meta.attempts
    )
    headers = {
        f"{PREFIX}model": _safe(meta.model),
        f"{PREFIX}deployment": _safe(meta.deployment),
        f"{PREFIX}provider": _safe(meta.provider),
        f"{PREFIX}attempts": str(len(meta.attempts)),
        f"{PREFIX}attempt-log": attempts,
        f"{PREFIX}latency-ms": f"{meta.latency_ms:.1f}",
        f"{PREFIX}cache": meta.cache,
        f"{PREFIX}cost": str(meta.cost.total),
        f"{PREFIX}cost-currency": meta.cost.currency,
        f"{PREFIX}cost-estimated": "true" if meta.cost.estimated else "false",
    }
    if meta.ttft_ms is not None:
        headers[f"{PREFIX}ttft-ms"] = f"{meta.ttft_ms:.1f}"
    if meta.routing is not None:
        headers[f"{PREFIX}policy"] = meta.routing.policy
        headers[f"{PREFIX}rounds"] = str(meta.routing.rounds)
        headers[f"{PREFIX}route-scores"] = ";".join(
            f"{_safe(s.deployment)}={s.score:.6g}" for s in meta.routing.scores
        )
    return headers
