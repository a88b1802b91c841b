"""``llmgateway serve``: the drop-in OpenAI-compatible proxy."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def add_serve_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to the ``llmgateway`` command's subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="run the OpenAI-compatible proxy server",
        description="Serve the gateway as an OpenAI-compatible HTTP API (/v1/chat/completions, "
        "/v1/completions, /v1/embeddings, /v1/models), with /health/live, /health/ready and "
        "/metrics. Without --config it serves the bundled local model as 'smollm2'.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="gateway YAML config (default: the bundled local model)",
    )
    parser.add_argument("--host", default=None, help="address to listen on (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: server.port, 4000)")
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes, each with its own gateway (default: 1)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    parser.set_defaults(run=run_serve)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    from llmgateway.server.runner import configure_logging, serve

    if args.workers is not None and args.workers < 1:
        raise SystemExit("llmgateway serve: --workers must be at least 1")
    # Logging first, then the scrubber on its handlers: no log line of this process (the server's,
    # uvicorn's, the HTTP clients', a traceback) can show a key or password from the config.
    configure_logging(args.log_level)
    uninstall = install_scrubbing(args.config)
    try:
        serve(args.config, args.host, args.port, args.workers, args.log_level)
    finally:
        uninstall()
    return 0


def install_scrubbing(config_path: str | None) -> Callable[[], None]:
    """Scrub the config's secrets (and anything shaped like a credential) from every log record of
    this process; returns the function that stops it."""
    from llmgateway.config import load_config
    from llmgateway.secret_scrub import SecretScrubber, install

    scrubber = SecretScrubber.from_config(load_config(config_path)) if config_path else SecretScrubber()
    return install(scrubber)
