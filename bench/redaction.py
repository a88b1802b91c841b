"""What PII redaction costs per call: scan + redact every message of a ~2 KB chat prompt, then
restore a short answer, with a fresh ``Redaction`` each call (as the gateway does), on a prompt
with a few PII items and on one with none. Shown beside two baselines on the same messages:
``json.dumps`` (what serialising the request costs anyway) and one bare ``str.replace`` pass.

    python -m bench.redaction [--calls 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench.timing import write_result
from llmgateway.guardrails.pii import PiiDetectorsConfig, PiiScanner, Redaction

RESULTS = Path(__file__).resolve().parent / "results" / "redaction.json"

SYSTEM = (
    "You are a helpful support assistant for an online store. Answer politely and concisely. "
    "Never promise refunds that policy does not allow; quote the order status exactly as the tools "
    "return it, and ask for an order number when the customer does not give one. "
) * 3
CLEAN_USER = (
    "Hi, I ordered a pair of running shoes three weeks ago and they still have not arrived. The "
    "tracking page says the parcel left the warehouse on the 3rd but nothing since. Could you check "
    "what happened and whether I can get a replacement or my money back? I paid by card and chose "
    "express delivery, which cost extra, so I would also like that part refunded. Version 2.4 of "
    "your app shows the order as 'processing', which seems wrong. Thanks a lot for your help! "
) * 2
PII_USER = (
    "Hi, I ordered a pair of running shoes three weeks ago and they still have not arrived. You can "
    "reach me at jane.doe+orders@example.com or on +44 20 7946 0958 (evenings). The tracking page "
    "says the parcel left the warehouse on the 3rd but nothing since. I paid with 4111 1111 1111 1111; "
    "for the refund please use DE89 3704 0044 0532 0130 00. My account was created from 192.168.1.23 "
    "and the API key our shop integration uses is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z if needed. "
) + CLEAN_USER[:400]
ASSISTANT = "Thanks for reaching out. I can see the order and will look into the delivery right away."
ANSWER = "I will email <EMAIL_1> and call <PHONE_1>; the refund goes to [IBAN_1] within 5 days."


def messages(user: str) -> list[dict[str, str]]:
    cut = user.find(". ", len(user) // 2) + 2  # between sentences, so no PII item is split
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": user[:cut]},
        {"role": "assistant", "content": ASSISTANT},
        {"role": "user", "content": user[cut:]},
    ]


def median_us(fn: Callable[[], object], calls: int) -> float:
    for _ in range(min(200, calls)):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    scanner = PiiScanner.from_config(PiiDetectorsConfig())

    def redaction_pass(msgs: list[dict[str, str]]) -> Callable[[], object]:
        def run() -> str:
            redaction = Redaction(scanner)
            for message in msgs:
                redaction.reserve(message["content"])
            for message in msgs:
                redaction.redact(message["content"])
            return redaction.restore(ANSWER)

        return run

    print(
        f"{'prompt':<10}{'chars':>7}{'redact+restore us':>19}{'json.dumps us':>15}{'str.replace us':>16}"
        f"{'x json':>8}{'x replace':>11}"
    )
    rows: dict[str, dict[str, float]] = {}
    for label, user in (("with PII", PII_USER), ("no PII", CLEAN_USER)):
        msgs = messages(user)
        size = sum(len(m["content"]) for m in msgs)
        redact = median_us(redaction_pass(msgs), args.calls)
        dumps = median_us(lambda msgs=msgs: json.dumps(msgs), args.calls)
        replace = median_us(lambda msgs=msgs: [m["content"].replace("@", "(at)") for m in msgs], args.calls)
        print(
            f"{label:<10}{size:>7}{redact:>19.1f}{dumps:>15.1f}{replace:>16.1f}"
            f"{redact / dumps:>8.1f}{redact / replace:>11.1f}"
        )
        rows[label] = {"chars": size, "redact_restore_us": redact, "json_dumps_us": dumps}
        rows[label]["replace_us"] = replace
    found = Redaction(scanner)
    for message in messages(PII_USER):
        found.redact(message["content"])
    print("found in the PII prompt:", dict(found.found))
    write_result(RESULTS, {"calls": args.calls, "timings": rows, "found": dict(found.found)})


if __name__ == "__main__":
    main()
