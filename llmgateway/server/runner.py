"""Run the proxy under uvicorn (uvloop event loop, httptools HTTP parser).

uvicorn imports ``app_from_env`` in each worker process and calls it (``factory=True``), so
``--workers N`` gives N independent apps; the config path travels in an environment variable.

uvicorn's httptools protocol has no bound on how long a request's headers may take, nor on their
size: the proxy runs ``http_protocol.GuardedHttpToolsProtocol``, which adds both. A slow *body* is
the app's to time (``server.body_timeout_seconds``, see body_limit). Every worker scrubs secrets
from its logs.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from llmgateway.server.metrics_share import DIR_ENV

if TYPE_CHECKING:
    from llmgateway.server.app import FastFront
    from llmgateway.server.settings import ServerConfig

CONFIG_ENV = "LLMGATEWAY_SERVER_CONFIG"
LOG_LEVEL_ENV = "LLMGATEWAY_SERVER_LOG_LEVEL"
# The header timeout travels to the worker processes like the config path does.
HEADER_TIMEOUT_ENV = "LLMGATEWAY_SERVER_HEADER_TIMEOUT"
DEFAULT_HEADER_TIMEOUT = 10.0
FACTORY = "llmgateway.server.runner:app_from_env"
# uvicorn imports it by name in each worker; this module stays free of uvicorn until serve().
PROTOCOL = "llmgateway.server.http_protocol:GuardedHttpToolsProtocol"


def app_from_env() -> FastFront:
    """The app of one worker: the config file named by ``LLMGATEWAY_SERVER_CONFIG``, or the
    embedded default when it is unset or empty."""
    from llmgateway.server.app import create_app

    # Every worker process sets up its own logging: under --workers N the workers are spawned
    # fresh and would otherwise have no handler for the call log.
    configure_logging(os.environ.get(LOG_LEVEL_ENV, "info"))
    from llmgateway.secret_scrub import ScrubbingFilter

    if not any(isinstance(f, ScrubbingFilter) for f in logging.getLogger("llmgateway").filters):
        # A spawned worker (--workers N): its own scrubber, for the life of the process.
        from llmgateway.server.cli import install_scrubbing

        install_scrubbing(os.environ.get(CONFIG_ENV) or None)
    return create_app(os.environ.get(CONFIG_ENV) or None)


def configure_logging(level: str) -> None:
    """Plain lines on stderr for the server's own logs; the call log as bare JSON lines on stdout,
    one per call, ready for a log shipper."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    calls = logging.getLogger("llmgateway.calls")
    if any(getattr(h, "llmgateway_calls", False) for h in calls.handlers):
        return  # once per process (the parent and an in-process worker both ask)
    handler = logging.StreamHandler(sys.stdout)
    handler.llmgateway_calls = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(message)s"))
    calls.addHandler(handler)
    calls.setLevel(logging.INFO)
    calls.propagate = False


def serve(
    config_path: str | None,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    log_level: str = "info",
) -> None:
    """Serve until SIGTERM / Ctrl-C; then calls in flight finish and the ledger is written.
    Host, port and workers default to the config's ``server`` section."""
    import uvicorn

    from llmgateway.config import load_config
    from llmgateway.server.settings import ServerConfig

    # Read once here, so a broken file fails before any worker starts.
    loaded = load_config(config_path) if config_path else None
    server = loaded.server if loaded is not None else ServerConfig()
    drain = loaded.shutdown.drain_seconds if loaded is not None else 10.0
    os.environ[LOG_LEVEL_ENV] = log_level
    if config_path:
        os.environ[CONFIG_ENV] = os.path.abspath(config_path)
    else:
        os.environ.pop(CONFIG_ENV, None)
    configure_logging(log_level)
    count = workers or server.workers
    with tempfile.TemporaryDirectory(prefix="llmgateway-metrics-") as shared:
        if count > 1:  # the workers add up each other's counters for /metrics
            os.environ[DIR_ENV] = shared
        else:
            os.environ.pop(DIR_ENV, None)
        os.environ[HEADER_TIMEOUT_ENV] = str(server.header_timeout_seconds)
        uvicorn.run(
            FACTORY,
            factory=True,
            host=host or server.host,
            port=server.port if port is None else port,
            workers=count,
            log_level=log_level,
            **uvicorn_options(server, drain),
        )


def uvicorn_options(server: ServerConfig, drain: float) -> dict[str, Any]:
    """The uvicorn settings the proxy runs with (besides the app, address and workers)."""
    return {
        "loop": "uvloop",
        "http": PROTOCOL,
        "access_log": False,
        "log_config": None,
        "timeout_keep_alive": server.keep_alive_seconds,
        "h11_max_incomplete_event_size": server.max_header_bytes,
        "limit_concurrency": server.max_connections,
        # A client that never finishes its request (or an endless stream) must not hold the
        # shutdown forever: after the drain time the connections are closed.
        "timeout_graceful_shutdown": max(1, round(drain)),
    }
