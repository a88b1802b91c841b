"""What the use-case examples share: the --config / --model options, the gateway they build, and
one line describing a call (who served it, how fast, how many tokens, what it cost); and, for the
remote-endpoint examples (SageMaker, Vertex AI), one question asked plain and then streamed.

By default an example runs the embedded default (the bundled SmolLM2 in this process, as model
"smollm2", exactly as ``llmgateway serve`` does without a config); ``--config gateway.yaml
--model NAME`` runs it against any model of any config instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from llmgateway import Gateway
from llmgateway.server.embedded import EMBEDDED_MODEL, embedded_config

if TYPE_CHECKING:
    from llmgateway.streaming import ChatStream
    from llmgateway.types import ChatCompletion


def parser(description: str, *, max_tokens: int) -> argparse.ArgumentParser:
    """An argument parser with the options every example has; add your own to it."""
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--config", metavar="PATH", help="gateway YAML config (default: embedded)")
    arguments.add_argument(
        "--model", default=EMBEDDED_MODEL, help=f"public model name to ask (default: {EMBEDDED_MODEL})"
    )
    arguments.add_argument(
        "--max-tokens", type=int, default=max_tokens, help=f"answer length limit (default {max_tokens})"
    )
    return arguments


@asynccontextmanager
async def open_gateway(args: argparse.Namespace) -> AsyncIterator[Gateway]:
    """The gateway of --config, or the embedded default, warmed up: the local model is loaded
    before the first call, so the latencies printed are the calls', not the loading's."""
    if args.config:
        gateway = Gateway(args.config)
    else:
        config = embedded_config()
        config.pop("ledger")  # an example leaves no usage database in your working directory
        gateway = Gateway(config)
    async with gateway:
        print("(getting the model ready...)", file=sys.stderr, flush=True)
        await gateway.warm()
        yield gateway


def describe(call: ChatCompletion | ChatStream) -> str:
    """``[local-smollm2, 812 ms (first token 95 ms), 35+12 tokens, 0.00016 USD]`` for a call."""
    meta, usage = call.gateway, call.usage
    if meta is None:
        return "[no gateway metadata]"
    parts = [meta.deployment, f"{meta.latency_ms:.0f} ms"]
    if meta.ttft_ms is not None:
        parts[-1] += f" (first token {meta.ttft_ms:.0f} ms)"
    if usage is not None:
        parts.append(f"{usage.prompt_tokens}+{usage.completion_tokens} tokens")
    cost = meta.cost
    parts.append(f"{'~' if cost.estimated else ''}{cost.total.normalize():f} {cost.currency}")
    return f"[{', '.join(parts)}]"


def one_deployment_config(
    model: str, deployment: dict[str, Any], settings: dict[str, Any], optional: dict[str, Any]
) -> dict[str, Any]:
    """A config serving ``model`` from one ``deployment`` (name, provider, pricing) with
    ``settings`` plus those of ``optional`` that were given."""
    given = {key: value for key, value in optional.items() if value}
    return {"models": {model: {"deployments": [{**deployment, "settings": {**settings, **given}}]}}}


async def ask_plain_then_streamed(
    gateway: Gateway, model: str, question: str, *, no_stream: str | None = None, **params: Any
) -> None:
    """Ask ``question`` once plain and once streamed (printed as it arrives), each followed by its
    ``describe`` line. ``no_stream``: why this deployment cannot stream (then only the plain call)."""
    messages = [{"role": "user", "content": question}]
    reply = await gateway.chat.completions.create(model=model, messages=messages, **params)
    print(f"plain: {reply.text()}")
    _print_description(reply)
    if no_stream is not None:
        print(f"streamed: ({no_stream})")
        return
    stream = await gateway.chat.completions.create(model=model, messages=messages, stream=True, **params)
    print("streamed: ", end="", flush=True)
    async for chunk in stream:
        if chunk.choices:
            print(chunk.choices[0].delta.content or "", end="", flush=True)
    print()
    _print_description(stream)


def _print_description(call: ChatCompletion | ChatStream) -> None:
    print(f"  {describe(call)}")
    if call.gateway is not None and call.gateway.cost.estimated:
        print("  (~: usage estimated, the endpoint reported none)")
