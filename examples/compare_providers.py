"""Compare providers from Python: the same run as ``llmgateway compare``, through its API.

    python examples/compare_providers.py                           # examples/compare.yaml, 3 models
    python examples/compare_providers.py --suite qa,code --limit 5 --out /tmp/compare
    python examples/compare_providers.py --config my.yaml --models small,large

``compare()`` asks every item of each suite of every model (streamed, a few at a time), scores
the answers and returns a ``CompareResult``: one record per call and one summary per model and
suite. ``render_table`` prints it; ``write_reports`` writes CSV, JSON, charts and an HTML page.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from llmgateway import ConfigError
from llmgateway.compare import compare
from llmgateway.compare.report import render_table, write_reports
from llmgateway.compare.requirements import require_suite_libraries

CONFIG = Path(__file__).with_name("compare.yaml")


async def main() -> None:
    arguments = argparse.ArgumentParser(description="Compare models on built-in suites.")
    arguments.add_argument("--config", default=str(CONFIG), help="gateway YAML (default: compare.yaml)")
    arguments.add_argument("--models", default="smollm2,fast-expensive,slow-cheap", help="comma-separated")
    arguments.add_argument("--suite", default="translation,qa", help="comma-separated suites or JSONL files")
    arguments.add_argument("--limit", type=int, default=3, help="items per suite (default 3)")
    arguments.add_argument("--max-tokens", type=int, default=48, help="answer length limit (default 48)")
    arguments.add_argument("--out", type=Path, help="also write the reports into this directory")
    arguments.add_argument("--no-charts", action="store_true", help="write the reports without PNG charts")
    args = arguments.parse_args()
    suites = args.suite.split(",")
    if args.out:
        # Before the calls, not after them: scoring the suites and drawing the charts need the eval extra.
        try:
            require_suite_libraries(suites, charts=not args.no_charts)
        except ConfigError as exc:
            raise SystemExit(f"compare_providers.py: error: {exc}") from None

    result = await compare(
        args.config,
        args.models.split(","),
        suites,
        limit=args.limit,
        max_tokens=args.max_tokens,
        concurrency=4,
    )
    print(render_table(result))

    # The result is plain data: pick the cheapest model that is good enough on each suite, say.
    for suite in result.suites:
        ranked = sorted((s for s in result.summaries if s.suite == suite), key=lambda s: s.cost_per_call)
        best = max(ranked, key=lambda s: s.primary or 0.0)
        print(f"{suite}: best quality {best.model} ({best.primary or 0:.1f}), cheapest {ranked[0].model}")

    if args.out:
        for path in write_reports(result, args.out, charts=not args.no_charts):
            print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
