"""The gateway's per-call metadata as HTTP response headers, for the proxy to send.

One header per fact, ASCII only; lists are ``;``-separated and values are percent-encoded, so a
deployment name or an error message can never break the header block.
"""

from __future__ import annotations

from urllib.parse import quote

from llmgateway.types import GatewayMetadata

PREFIX = "x-llmgateway-"


_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:/=,()")


def safe_header_value(value: object) -> str:
    """``value`` as an ASCII header value (percent-encoded where needed, at most 512 chars)."""
    text = str(value)
    if len(text) <= 512 and _PLAIN.issuperset(text):  # the common case: nothing to encode
        return text
    return quote(text, safe=" -_.:/=,()")[:512]


def metadata_headers(meta: GatewayMetadata) -> dict[str, str]:
    """``x-llmgateway-*`` headers: deployment, attempts (each try), routing policy and scores,
    latency, cache status and cost."""
    attempts = ";".join(
        ",".join(
            (
                safe_header_value(a.deployment),
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
        f"{PREFIX}model": safe_header_value(meta.model),
        f"{PREFIX}deployment": safe_header_value(meta.deployment),
        f"{PREFIX}provider": safe_header_value(meta.provider),
        f"{PREFIX}attempts": str(len(meta.attempts)),
        f"{PREFIX}attempt-log": attempts,
        f"{PREFIX}latency-ms": f"{meta.latency_ms:.1f}",
        f"{PREFIX}cache": meta.cache,
        f"{PREFIX}cost": str(meta.cost.total),
        f"{PREFIX}cost-currency": meta.cost.currency,
        f"{PREFIX}cost-estimated": "true" if meta.cost.estimated else "false",
    }
    if meta.request_id is not None:
        headers[f"{PREFIX}request-id"] = meta.request_id
    if meta.ttft_ms is not None:
        headers[f"{PREFIX}ttft-ms"] = f"{meta.ttft_ms:.1f}"
    if meta.routing is not None:
        headers[f"{PREFIX}policy"] = meta.routing.policy
        headers[f"{PREFIX}rounds"] = str(meta.routing.rounds)
        headers[f"{PREFIX}route-scores"] = ";".join(
            f"{safe_header_value(s.deployment)}={s.score:.6g}" for s in meta.routing.scores
        )
    return headers
