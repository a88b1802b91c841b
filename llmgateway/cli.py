"""The ``llmgateway`` command. Subcommands: ``serve`` (the OpenAI-compatible proxy), ``check``
(validate a config), ``chat`` (one call),
``usage`` (totals from the usage ledger), ``keys`` (the proxy's virtual keys) and ``backend serve``
(the local model server).

Later subcommands (serve, compare, usage, keys, backend) plug in the same way: a function that
adds its parser and one that runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from llmgateway.errors import GatewayError
from llmgateway.version import __version__


def _check(args: argparse.Namespace) -> int:
    from llmgateway.client import Gateway

    gateway = Gateway(args.config)
    for route in gateway.routes().values():
        names = ", ".join(f"{d.name} ({d.kind})" for d in route.deployments)
        print(f"{route.model}: {names}")
    asyncio.run(gateway.aclose())
    print("config OK")
    return 0


async def _chat_call(args: argparse.Namespace) -> int:
    from llmgateway.client import Gateway

    async with Gateway(args.config) as gateway:
        messages = [{"role": "user", "content": args.prompt}]
        params = {"max_tokens": args.max_tokens, "temperature": args.temperature}
        if args.stream:
            stream = await gateway.chat.completions.create(
                model=args.model, messages=messages, stream=True, **params
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    print(chunk.choices[0].delta.content, end="", flush=True)
            print()
            meta = stream.gateway
        else:
            reply = await gateway.chat.completions.create(model=args.model, messages=messages, **params)
            print(reply.text())
            meta = reply.gateway
        if meta is not None:
            estimated = " (estimated)" if meta.cost.estimated else ""
            hit = f", cache hit saving {meta.cost.saved} {meta.cost.currency}" if meta.cache == "hit" else ""
            print(
                f"[deployment {meta.deployment}, {meta.latency_ms:.0f} ms, "
                f"cost {meta.cost.total} {meta.cost.currency}{estimated}{hit}]",
                file=sys.stderr,
            )
            for warning in meta.warnings or []:
                print(f"llmgateway: warning: {warning}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmgateway",
        description="One gateway in front of many LLM backends: routing, retries, limits, caching, cost.",
    )
    parser.add_argument("--version", action="version", version=f"llmgateway {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="validate a config file and build its deployments")
    check.add_argument("config", help="path to the gateway YAML config")
    check.set_defaults(run=_check)

    chat = commands.add_parser("chat", help="send one chat message through the gateway")
    chat.add_argument("--config", required=True, help="path to the gateway YAML config")
    chat.add_argument("--model", required=True, help="public model name from the config")
    chat.add_argument("--max-tokens", type=int, default=None)
    chat.add_argument("--temperature", type=float, default=None)
    chat.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    chat.add_argument("prompt", help="the user message")
    chat.set_defaults(run=lambda a: asyncio.run(_chat_call(a)))

    from llmgateway.compare.cli_compare import add_compare_parser
    from llmgateway.server.cli import add_serve_parser
    from llmgateway.server.keys_cli import add_keys_parser
    from llmgateway.usage_cli import add_usage_parser

    add_serve_parser(commands)
    add_compare_parser(commands)
    add_usage_parser(commands)
    add_keys_parser(commands)

    backend = commands.add_parser("backend", help="the bundled local model backend")
    backend_commands = backend.add_subparsers(dest="backend_command", metavar="COMMAND", required=True)
    serve = backend_commands.add_parser(
        "serve", help="serve a local model over the OpenAI, SageMaker and Vertex AI contracts"
    )
    _add_backend_serve_arguments(serve)
    serve.set_defaults(run=_backend_serve)
    return parser


def _add_backend_serve_arguments(parser: argparse.ArgumentParser) -> None:
    # The backend's options live with the backend; its heavy imports stay inside run_serve.
    from local_backend.cli import add_serve_arguments

    add_serve_arguments(parser)


def _backend_serve(args: argparse.Namespace) -> int:
    from local_backend.cli import run_serve

    return run_serve(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except GatewayError as exc:
        print(f"llmgateway: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
