"""Run the proxy under uvicorn (uvloop event loop, httptools HTTP parser).

uvicorn imports ``app_from_env`` in each worker process and calls it (``factory=True``), so
``--workers N`` gives N independent apps; the config path travels in an environment variable.
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

CONFIG_ENV = "LLMGATEWAY_SERVER_CONFIG"
LOG_LEVEL_ENV = "LLMGATEWAY_SERVER_LOG_LEVEL"
FACTORY = "llmgateway.server.runner:app_from_env"


def app_from_env() -> FastFront:
    """The app of one worker: the config file named by ``LLMGATEWAY_SERVER_CONFIG``, or the
    embedded default when it is unset or empty."""
    from llmgateway.server.app import create_app

    # Every worker process sets up its own logging: under --workers N the workers are spawned
    # fresh and would otherwise have no handler for the call log.
    configure_logging(os.environ.get(LOG_LEVEL_ENV, "info"))
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
        _run(uvicorn, host or server.host, server.port if port is None else port, count, log_level, drain)


def _run(uvicorn: Any, host: str, port: int, workers: int, log_level: str, drain: float) -> None:
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=log_level,
        log_config=None,
        # A client that never finishes its request (or an endless stream) must not hold the
        # shutdown forever: after the drain time the connections are closed.
        timeout_graceful_shutdown=max(1, round(drain)),
    )
