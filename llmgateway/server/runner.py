"""Run the proxy under uvicorn (uvloop event loop, httptools HTTP parser).

uvicorn imports ``app_from_env`` in each worker process and calls it (``factory=True``), so
``--workers N`` gives N independent apps; the config path travels in an environment variable.

uvicorn's httptools protocol has no bound on how long a request's headers may take, nor on their
size, so ``GuardedHttpToolsProtocol`` adds both: a connection that opens and sends nothing, or
trickles its headers (slowloris), is closed with 408 after ``server.header_timeout_seconds``, and
headers over ``server.max_header_bytes`` get 431. A slow *body* is the app's to time
(``server.body_timeout_seconds``, see body_limit).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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
PROTOCOL = "llmgateway.server.runner:GuardedHttpToolsProtocol"
_TOO_SLOW = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 38\r\nconnection: close\r\n\r\nrequest headers did not arrive in time\n"
)
_TOO_BIG = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 34\r\nconnection: close\r\n\r\nrequest headers are far too large\n"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size bound on each request's headers.

    The deadline starts when the connection opens and again at the first byte of each later
    request; between requests uvicorn's own keep-alive timeout closes idle connections. The size
    counts the bytes received while headers are incomplete (``h11_max_incomplete_event_size``,
    which uvicorn's h11 protocol honours too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = float(os.environ.get(HEADER_TIMEOUT_ENV) or DEFAULT_HEADER_TIMEOUT)
        self._max_header_bytes: int | None = self.config.h11_max_incomplete_event_size
        self._header_deadline: asyncio.TimerHandle | None = None
        self._headers_done = False
        self._header_bytes = 0

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self._header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _refuse(self, answer: bytes) -> None:
        self._disarm_header_deadline()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        self._refuse(_TOO_SLOW)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._headers_done:
            self._header_bytes += len(data)
        super().data_received(data)
        limit = self._max_header_bytes
        if not self._headers_done and limit is not None and self._header_bytes > limit:
            self._refuse(_TOO_BIG)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._header_bytes = 0
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._headers_done = False  # the next bytes are the next request's headers


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
