"""Local backend throughput: naive HF pipeline vs our continuous-batching scheduler, in one run.

Both sides use the same model object (bundled SmolLM2-135M-Instruct), the same chat prompts, the
same ``max_new_tokens`` and greedy decoding. The baseline is ``transformers.pipeline(
"text-generation")`` serving one request at a time; ours is ``BatchScheduler`` with 1, 8 and 32
concurrent streaming clients (each client sends requests back to back). Reported per run:
aggregate output tokens/s, TTFT p50/p95, time per output token (TPOT) p50, and ours/baseline.

    python -m bench.local_backend [--quick] [--device auto|cpu|cuda] [--max-new-tokens 64]

Writes bench/results/local_backend.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repo root importable, not bench/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from local_backend.engine import LocalEngine
from local_backend.protocol import GenerationDone, GenerationRequest, TokenDelta
from local_backend.scheduler import BatchScheduler

RESULTS = Path(__file__).resolve().parent / "results" / "local_backend.json"

QUESTIONS = [
    "Write a short story about a robot who learns to paint.",
    "Explain how a rainbow forms, step by step.",
    "Describe a day in the life of a medieval blacksmith.",
    "Give me a detailed recipe for pancakes.",
    "Explain the difference between weather and climate.",
    "Write a poem about the ocean at night.",
    "Describe how to plant and care for a tomato garden.",
    "Explain how computers store numbers in binary.",
    "Write a letter to a friend about a trip to the mountains.",
    "Describe the water cycle in detail.",
    "Explain why exercise is good for health.",
    "Tell me about the history of the bicycle.",
    "Write a short story about a cat who becomes a detective.",
    "Describe how bees make honey.",
    "Explain how airplanes stay in the air.",
    "Give me ten tips for studying effectively.",
]


@dataclass
class RunResult:
    name: str
    concurrency: int
    requests: int
    output_tokens: int
    wall_s: float
    tokens_per_s: float
    ttft_p50_ms: float
    ttft_p95_ms: float
    tpot_p50_ms: float
    ratio_vs_baseline: float | None = None


@dataclass
class Timing:
    ttft: float
    tpot: float | None
    tokens: int
    text: str


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(name: str, concurrency: int, timings: list[Timing], wall: float) -> RunResult:
    tokens = sum(t.tokens for t in timings)
    tpots = [t.tpot for t in timings if t.tpot is not None]
    return RunResult(
        name=name,
        concurrency=concurrency,
        requests=len(timings),
        output_tokens=tokens,
        wall_s=round(wall, 3),
        tokens_per_s=round(tokens / wall, 2),
        ttft_p50_ms=round(percentile([t.ttft for t in timings], 0.5) * 1000, 1),
        ttft_p95_ms=round(percentile([t.ttft for t in timings], 0.95) * 1000, 1),
        tpot_p50_ms=round(statistics.median(tpots) * 1000, 2) if tpots else float("nan"),
    )


# -- baseline: HF pipeline, one request at a time -----------------------------------------------


class _Clock:
    """A generation streamer that only records when each new token arrives."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # the first put is the prompt
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


class Baseline:
    """HF ``pipeline("text-generation")`` on the engine's own model object, one request at a time."""

    def __init__(self, engine: LocalEngine, max_new: int) -> None:
        from transformers import pipeline

        self.engine = engine
        self.pipe = pipeline(  # type: ignore[call-overload]
            "text-generation", model=engine.model, tokenizer=engine.tokenizer, device=engine.device.device
        )
        self.kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": False,
            "return_full_text": False,
            "add_special_tokens": False,
            "pad_token_id": engine.pad_token_id,
        }
        self.timings: list[Timing] = []
        self.wall = 0.0

    def warm_up(self, prompt: list[int]) -> None:
        self.pipe(self.engine.tokenizer.decode(prompt), **self.kwargs)

    def run(self, prompts: list[list[int]]) -> None:
        """Serve ``prompts`` sequentially, adding to the running totals."""
        started = time.perf_counter()
        for prompt in prompts:
            clock = _Clock()
            sent = time.perf_counter()
            out = self.pipe(self.engine.tokenizer.decode(prompt), streamer=clock, **self.kwargs)
            times = clock.times
            tpot = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else None
            text = str(out[0]["generated_text"])
            self.timings.append(Timing(ttft=times[0] - sent, tpot=tpot, tokens=len(times), text=text))
        self.wall += time.perf_counter() - started

    def result(self) -> RunResult:
        return summarize("hf-pipeline (sequential)", 1, self.timings, self.wall)


# -- ours: continuous batching with C concurrent streaming clients ------------------------------


async def one_request(scheduler: BatchScheduler, prompt: list[int], max_new: int) -> Timing:
    sent = time.perf_counter()
    times: list[float] = []
    done: GenerationDone | None = None
    async for event in scheduler.submit(
        GenerationRequest(prompt_ids=prompt, max_tokens=max_new, temperature=0)
    ):
        if isinstance(event, TokenDelta):
            if event.token_id is not None:
                times.append(time.perf_counter())
        else:
            done = event
    assert done is not None
    if done.finish_reason == "stop" and len(done.token_ids) > len(times):
        times.append(time.perf_counter())  # the EOS token: generated, counted, not streamed as text
    tpot = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else None
    return Timing(ttft=times[0] - sent, tpot=tpot, tokens=done.usage.completion_tokens, text=done.text)


async def run_ours(
    engine: LocalEngine, prompts: list[list[int]], max_new: int, concurrency: int, total: int
) -> tuple[RunResult, list[str]]:
    scheduler = BatchScheduler(engine, max_batch=max(concurrency, 1), max_queue=max(total, 1))
    await scheduler.start()
    try:
        await one_request(scheduler, prompts[0], 4)  # warm-up
        next_index = 0
        results: dict[int, Timing] = {}

        async def client() -> None:
            nonlocal next_index
            while next_index < total:
                index = next_index
                next_index += 1
                results[index] = await one_request(scheduler, prompts[index % len(prompts)], max_new)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    finally:
        await scheduler.stop()
    ordered = [results[i] for i in range(total)]
    return summarize(f"ours c={concurrency}", concurrency, ordered, wall), [t.text for t in ordered]


# -- driver ---------------------------------------------------------------------------------------


def print_table(rows: list[RunResult]) -> None:
    header = f"{'run':<26}{'reqs':>5}{'tokens':>8}{'wall s':>8}{'tok/s':>9}{'TTFT p50':>10}{'TTFT p95':>10}"
    print(header + f"{'TPOT p50':>10}{'x base':>8}")
    for r in rows:
        ratio = f"{r.ratio_vs_baseline:.2f}" if r.ratio_vs_baseline is not None else "1.00"
        print(
            f"{r.name:<26}{r.requests:>5}{r.output_tokens:>8}{r.wall_s:>8.1f}{r.tokens_per_s:>9.1f}"
            f"{r.ttft_p50_ms:>8.0f}ms{r.ttft_p95_ms:>8.0f}ms{r.tpot_p50_ms:>8.1f}ms{ratio:>8}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run, ~1 minute)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--model", default="bundled", help="bundled, a .gguf file or an HF model directory")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    print(f"load average before: {os.getloadavg()[0]:.2f} (the numbers assume an otherwise idle machine)")
    loaded = time.perf_counter()
    engine = LocalEngine.load(args.model, device=args.device)
    load_s = time.perf_counter() - loaded
    prompts = [engine.render_chat([{"role": "user", "content": q}]) for q in QUESTIONS]
    baseline_n = 4 if args.quick else 12
    plan = {1: 2, 8: 8, 32: 32} if args.quick else {1: 8, 8: 32, 32: 96}

    # The baseline runs in two halves, before and after ours, so drift in the machine's load
    # (it is shared) hits both sides alike.
    baseline = Baseline(engine, args.max_new_tokens)
    baseline.warm_up(prompts[0])
    half = baseline_n // 2
    baseline.run(prompts[:half])
    ours: list[tuple[RunResult, list[str]]] = []
    for concurrency, total in plan.items():
        ours.append(asyncio.run(run_ours(engine, prompts, args.max_new_tokens, concurrency, total)))
    baseline.run(prompts[half:baseline_n])
    base = baseline.result()
    rows = [base]
    same_text = None
    for result, texts in ours:
        result.ratio_vs_baseline = round(result.tokens_per_s / base.tokens_per_s, 2)
        rows.append(result)
        if result.concurrency == 1:
            compared = min(len(texts), len(baseline.timings))
            matches = sum(texts[i].strip() == baseline.timings[i].text.strip() for i in range(compared))
            same_text = matches, compared

    print()
    print_table(rows)
    if same_text:
        print(f"greedy text identical to the pipeline's for {same_text[0]}/{same_text[1]} prompts")
    report = {
        "benchmark": "local_backend",
        "model": engine.name,
        "device": str(engine.device.device),
        "dtype": str(engine.device.dtype),
        "threads": engine.device.threads,
        "max_new_tokens": args.max_new_tokens,
        "quick": args.quick,
        "load_seconds": round(load_s, 2),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "runs": [asdict(r) for r in rows],
        "greedy_text_matches_baseline": list(same_text) if same_text else None,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
