"""``compare()``: run suites on several models through one gateway and summarise speed, cost and
quality. The same run as ``llmgateway compare``.

```python
from llmgateway.compare import compare

result = await compare("gateway.yaml", ["small", "large"], ["translation", "qa"], limit=10)
for summary in result.summaries:
    print(summary.model, summary.suite, summary.primary, summary.latency_p50_ms, summary.cost_total)
```
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from llmgateway.compare.progress import Progress, resolve_progress
from llmgateway.compare.records import CallRecord, CompareResult, Summary
from llmgateway.compare.requirements import require_eval_libraries
from llmgateway.compare.runner import CallOptions, interleave, measure_call, run_bounded, warm_up
from llmgateway.compare.suites import Suite, load_suite
from llmgateway.errors import ConfigError
from llmgateway.version import __version__

if TYPE_CHECKING:
    from llmgateway.client import Gateway
    from llmgateway.compare.metrics import Scorers

GatewaySource = Union["Gateway", str, Path, Mapping[str, Any]]
logger = logging.getLogger(__name__)


async def compare(
    gateway: GatewaySource,
    models: Sequence[str],
    suites: Sequence[str | Path],
    *,
    concurrency: int = 4,
    limit: int | None = None,
    max_tokens: int | None = None,
    temperature: float = 0.0,
    use_cache: bool = False,
    progress: bool | Progress = True,
    perplexity: bool = True,
    stop: asyncio.Event | None = None,
) -> CompareResult:
    """Ask every item of every suite (built-in names or JSONL paths) of every model, streamed,
    ``concurrency`` calls at a time, then score the answers and summarise each model on each suite.

    ``gateway`` is a Gateway (left open) or a config (path or mapping) for one built for the run.
    ``limit`` keeps each suite's first items; ``max_tokens`` replaces the items' own limits.
    Failed calls are records (``ok=False``), not exceptions. Setting ``stop`` ends the run early:
    no more calls start, those in flight are cancelled, and what finished is scored and summarised
    (``settings["interrupted"]``). Bad arguments, unknown models or suites raise ConfigError."""
    _check_settings(concurrency, limit, max_tokens, temperature)
    loaded = load_suites(suites, limit)
    require_eval_libraries((s.task for s in loaded), charts=False)
    names = list(models)
    show = resolve_progress(progress)
    started = _now()
    async with _opened(gateway) as gw:
        check_models(gw, names)
        await warm_up(gw, names, show)
        options = CallOptions(temperature=temperature, max_tokens=max_tokens, use_cache=use_cache)
        records = await _calls(gw, names, loaded, options, concurrency, show, stop)
        # What finished is always scored (quick); perplexity (more calls) stops with the run.
        scorers = await _score(loaded, records, concurrency, show)
        stopped = stop is not None and stop.is_set()
        ppl = (
            await _perplexities(gw, names, loaded, concurrency, show, stop)
            if perplexity and not stopped
            else {}
        )
        interrupted = stop is not None and stop.is_set()
    summaries = [
        _summary(suite, model, records, ppl.get((model, suite.name)), scorers[suite.name])
        for suite in loaded
        for model in names
    ]
    settings = {
        "concurrency": concurrency,
        "limit": limit,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "use_cache": use_cache,
        "perplexity": perplexity,
        "interrupted": interrupted,
        "suites": {s.name: {"task": s.task, "items": len(s.items), "source": s.source} for s in loaded},
        "llmgateway_version": __version__,
    }
    suite_names = [s.name for s in loaded]
    return CompareResult(names, suite_names, started, _now(), records, summaries, settings)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_settings(concurrency: int, limit: int | None, max_tokens: int | None, temperature: float) -> None:
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1 item per suite, got {limit}")
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(f"max_tokens must be at least 1, got {max_tokens}")
    if not 0.0 <= temperature <= 2.0:
        raise ConfigError(f"temperature must be between 0 and 2, got {temperature}")


def load_suites(suites: Sequence[str | Path], limit: int | None = None) -> list[Suite]:
    """Each suite loaded and validated, cut to its first ``limit`` items; names must be unique."""
    if not suites:
        raise ConfigError("no suites given: name built-in suites or JSONL files")
    loaded: list[Suite] = []
    for source in suites:
        suite = load_suite(source)
        if any(s.name == suite.name for s in loaded):
            raise ConfigError(f"suite '{suite.name}' is given twice (suite names come from file names)")
        loaded.append(Suite(suite.name, suite.task, suite.items[:limit], suite.source))
    return loaded


def check_models(gateway: Gateway, models: Sequence[str]) -> None:
    """Every model is one of the gateway's public model names, listed once."""
    if not models:
        raise ConfigError("no models given: name at least one of the config's models")
    known = list(gateway.routes())
    unknown = [m for m in models if m not in known]
    if unknown:
        listed = ", ".join(repr(m) for m in unknown)
        raise ConfigError(f"unknown model {listed}: the config's models are {', '.join(known)}")
    twice = sorted({m for m in models if models.count(m) > 1})
    if twice:
        raise ConfigError(f"model {', '.join(repr(m) for m in twice)} is listed more than once")


@asynccontextmanager
async def _opened(source: GatewaySource) -> AsyncIterator[Gateway]:
    from llmgateway.client import Gateway

    if isinstance(source, Gateway):
        yield source
        return
    gateway = Gateway(source)
    try:
        yield gateway
    finally:
        await gateway.aclose()


async def _calls(
    gateway: Gateway,
    models: Sequence[str],
    suites: Sequence[Suite],
    options: CallOptions,
    concurrency: int,
    progress: Progress,
    stop: asyncio.Event | None,
) -> list[CallRecord]:
    jobs = interleave(models, suites)
    progress.start("calls", len(jobs), "calls")
    try:
        return await run_bounded(
            jobs,
            concurrency,
            lambda job: measure_call(gateway, job, options),
            stop=stop,
            on_done=lambda record: progress.advance(error=not record.ok),
        )
    finally:
        progress.finish()


async def _score(
    suites: Sequence[Suite], records: Sequence[CallRecord], concurrency: int, progress: Progress
) -> dict[str, Scorers]:
    """Each answered call's item scores (code runs in the sandbox: no more at once than CPUs)."""
    from llmgateway.compare.metrics import Scorers, score_item

    scorers = {suite.name: Scorers() for suite in suites}
    items = {(suite.name, item.id): item for suite in suites for item in suite.items}
    answered = [r for r in records if r.ok]

    async def score(record: CallRecord) -> CallRecord:
        item = items[(record.suite, record.item_id)]
        try:
            record.scores = await score_item(item, record.output, scorers=scorers[record.suite])
        except Exception as exc:  # one unscorable answer must not lose the whole run's records
            logger.warning("could not score %s item %r of %s: %s: %s", record.suite, item.id,
                           record.model, type(exc).__name__, exc)  # fmt: skip
        return record

    progress.start("scoring", len(answered), "answers")
    try:
        await run_bounded(
            answered, min(concurrency, os.cpu_count() or 1), score, on_done=lambda _: progress.advance()
        )
    finally:
        progress.finish()
    return scorers


async def _perplexities(
    gateway: Gateway,
    models: Sequence[str],
    suites: Sequence[Suite],
    concurrency: int,
    progress: Progress,
    stop: asyncio.Event | None,
) -> dict[tuple[str, str], float | None]:
    """Perplexity of each suite's reference texts under each model, once per (model, suite)."""
    from llmgateway.compare.metrics import reference_perplexity

    jobs = [(model, suite) for suite in suites if suite.references() for model in models]

    async def measure(job: tuple[str, Suite]) -> tuple[tuple[str, str], float | None]:
        model, suite = job
        return (model, suite.name), await reference_perplexity(gateway, model, suite.references())

    progress.start("perplexity", len(jobs), "suites")
    try:
        found = await run_bounded(jobs, concurrency, measure, stop=stop, on_done=lambda _: progress.advance())
    finally:
        progress.finish()
    return dict(found)


def _summary(
    suite: Suite, model: str, records: Sequence[CallRecord], perplexity: float | None, scorers: Scorers
) -> Summary:
    from llmgateway.compare.aggregate import summarise

    return summarise(suite, model, records, perplexity, scorers=scorers)
