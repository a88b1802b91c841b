"""What the guardrails cost per call, through the SDK, in one run, against the same mock upstream
(a separate process): the plain gateway against the same call with

- ``pii, none found``: PII redaction on, a ~1.6 KB prompt with no personal data (scanned only)
- ``pii, 6 redacted``: the same prompt with an email, phone, card, IBAN, IP and API key in it:
  scanned, a redacted copy sent, the answer restored
- ``policy``: a 60-term blocklist on the request and on the answer
- ``pii + policy``: both, on the prompt with PII

Every variant alternates call by call with the others, so drift on the machine hits them alike.
Medians and p95 in microseconds, and as multiples of the plain gateway's.

    python -m bench.guardrails [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bench.sdk_overhead import free_port, mock_upstream
from bench.timing import Call, alternate, print_timings, warm, write_result

RESULTS = Path(__file__).resolve().parent / "results" / "guardrails.json"
FILLER = (
    "Our support team needs a short summary of the customer's situation below, in a friendly "
    "tone, with the next steps we promised and the dates we gave. "
)
CLEAN = FILLER * 11
PII = (
    "Reach me at jane.doe@example.com or +44 20 7946 0958. Card 4111 1111 1111 1111, refund "
    "to GB82 WEST 1234 5698 7654 32. Seen from 203.0.113.42 with key "
    "sk-proj-Qx7vB2nL9mK4pR8sT1wY6zA3cD5fG0hJ2kL4mN6pQ8rS0tU. "
)
WITH_PII = FILLER * 9 + PII
BLOCKLIST = [
    {"category": f"rule-{i}", "terms": [f"forbidden phrase {i}", f"banned{i} word"]} for i in range(30)
]


def _config(base_url: str, guardrails: dict[str, Any] | None) -> dict[str, Any]:
    deployment = {
        "name": "upstream",
        "provider": "openai",
        "settings": {"base_url": base_url, "model": "mock-model", "api_key": "sk-bench"},
    }
    config: dict[str, Any] = {"models": {"chat": {"deployments": [deployment]}}}
    if guardrails is not None:
        config["guardrails"] = guardrails
        config["audit"] = {"backend": "memory"}
    return config


async def run(calls: int) -> dict[str, Any]:
    from llmgateway import Gateway

    with mock_upstream(free_port()) as base_url:
        pii = {"pii": {"mode": "redact"}}
        policy = {"policy": {"blocklist": BLOCKLIST}}
        gateways = {
            "plain": (Gateway(_config(base_url, None)), CLEAN),
            "pii, none found": (Gateway(_config(base_url, pii)), CLEAN),
            "pii, 6 redacted": (Gateway(_config(base_url, pii)), WITH_PII),
            "policy": (Gateway(_config(base_url, policy)), CLEAN),
            "pii + policy": (Gateway(_config(base_url, {**pii, **policy})), WITH_PII),
        }

        def variant(gateway: Any, prompt: str) -> Call:
            messages = [{"role": "user", "content": prompt}]
            return lambda: gateway.chat.completions.create(model="chat", messages=messages, max_tokens=16)

        variants = {name: variant(gw, prompt) for name, (gw, prompt) in gateways.items()}
        try:
            await warm(variants, 50)
            rows = await alternate(variants, calls)
        finally:
            for gateway, _ in gateways.values():
                await gateway.aclose()
    print_timings("guardrails per call", rows, "plain")
    added = {name: row["median_us"] - rows["plain"]["median_us"] for name, row in rows.items()}
    shown = ", ".join(f"{k}: {v:.1f}" for k, v in added.items() if k != "plain")
    print(f"added µs per call (median): {shown}")
    return {"calls": calls, "prompt_bytes": {"clean": len(CLEAN), "with_pii": len(WITH_PII)}, "timings": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per variant (default 2000)")
    args = parser.parse_args()
    write_result(RESULTS, asyncio.run(run(args.calls)))


if __name__ == "__main__":
    main()
