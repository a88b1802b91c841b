"""``llmgateway compare``: run suites on several models, print the table, write the reports.

Exit status: 0 when the run completed (failed calls are in the report, not the status), 2 for bad
arguments or config, 130 when stopped with Ctrl-C (what finished is still reported).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from llmgateway.errors import ConfigError

if TYPE_CHECKING:
    from llmgateway.compare.records import CompareResult

_BUILTINS = "translation, summarization, qa, chat, code"
INTERRUPTED = 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2, got {value}")
    return value


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def add_compare_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "compare",
        help="compare models' latency, cost and quality on task suites",
        description="Ask every item of the suites of every model through the gateway (streamed, "
        "a few calls at a time, in an order that favours no model), score the answers, print a "
        "table and write summary.csv, calls.csv, result.json, charts and report.html into --out. "
        "Failed calls are recorded and reported; the exit status is 0 for a completed run, 2 for "
        "bad arguments or config, 130 when stopped with Ctrl-C (what finished is still written).",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="gateway YAML config")
    parser.add_argument(
        "--models", required=True, type=_names, metavar="A,B,...", help="comma-separated public model names"
    )
    parser.add_argument(
        "--suite",
        type=_names,
        default=_names(_BUILTINS),
        metavar="S,...",
        help=f"comma-separated built-in suites ({_BUILTINS}) or JSONL files (default: all built-ins)",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory for the reports")
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=4,
        metavar="N",
        help="calls in flight at once (default 4)",
    )
    parser.add_argument(
        "--limit", type=_positive_int, metavar="N", help="use only the first N items of each suite"
    )
    parser.add_argument(
        "--max-tokens", type=_positive_int, metavar="N", help="output token limit for every call "
        "(default: each item's own, 32 to 256 by task)",
    )  # fmt: skip
    parser.add_argument(
        "--temperature", type=_temperature, default=0.0, metavar="T", help="sampling temperature (default 0)"
    )
    parser.add_argument(
        "--use-cache", action="store_true", help="let the gateway's response cache answer (off by default)"
    )
    parser.add_argument(
        "--no-perplexity",
        action="store_true",
        help="skip the perplexity of the reference texts (measured where a model can score text)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress output on stderr")
    parser.add_argument(
        "--no-charts", action="store_true", help="write no PNG charts (nor charts in the HTML)"
    )
    parser.set_defaults(run=run_compare)


def check_out_dir(out: Path) -> None:
    """Fail before the run, not after it, when the reports could not be written."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a directory for the reports")
    existing = next(p for p in [out, *out.parents] if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: cannot create or write into {existing}")


def run_compare(args: argparse.Namespace) -> int:
    """Run the comparison, print the table, write the reports; the exit status."""
    try:
        check_out_dir(args.out)
        # Before the run, not after its calls were spent: the suites' scoring libraries and the
        # charts' together, so one error lists everything missing.
        from llmgateway.compare.requirements import require_suite_libraries

        require_suite_libraries(args.suite, charts=not args.no_charts)
        result = asyncio.run(_run(args))
    except ConfigError as exc:
        print(f"llmgateway compare: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("llmgateway compare: aborted; nothing written", file=sys.stderr)
        return INTERRUPTED
    from llmgateway.compare.report import render_table, write_reports

    print(render_table(result))
    written = write_reports(result, args.out, charts=not args.no_charts)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    if result.settings.get("interrupted"):
        print("llmgateway compare: stopped early; the reports hold the calls that finished", file=sys.stderr)
        return INTERRUPTED
    return 0


async def _run(args: argparse.Namespace) -> CompareResult:
    from llmgateway.compare.api import compare

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def on_interrupt() -> None:
        # First Ctrl-C: finish cleanly with what is done; a second one aborts.
        if stop.is_set():
            if main is not None:
                main.cancel()
            return
        stop.set()
        print("\nllmgateway compare: stopping (Ctrl-C again to abort)", file=sys.stderr)

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        handled = True
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
        handled = False
    try:
        return await compare(
            args.config,
            args.models,
            args.suite,
            concurrency=args.concurrency,
            limit=args.limit,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            use_cache=args.use_cache,
            progress=not args.no_progress,
            perplexity=not args.no_perplexity,
            stop=stop,
        )
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)
