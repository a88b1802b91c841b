"""``create_app``: the proxy's ASGI app factory (Starlette).

Everything the app holds hangs off the app (``app.state.server``): two apps in one process never
share state, and each uvicorn worker builds its own. The gateway is built here (its connections
open lazily on the worker's loop) so the admin API and the dashboard get the whole state when their
routes are made; the lifespan marks the app ready and, on shutdown, drains the calls in flight and
writes the usage ledger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from llmgateway.config import GatewayConfig, load_config, parse_config
from llmgateway.server.auth import build_authenticator
from llmgateway.server.errors import http_exception, unexpected
from llmgateway.server.health import health_routes, metrics_routes
from llmgateway.server.openapi import openapi_route
from llmgateway.server.routes_openai import openai_routes
from llmgateway.server.state import ServerState

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Receive, Scope, Send

    from llmgateway.client import Gateway

logger = logging.getLogger("llmgateway.server")
AppConfig = Union[GatewayConfig, str, Path, Mapping[str, Any], None]


def resolve_config(config: AppConfig, gateway: Gateway | None = None) -> GatewayConfig:
    """A GatewayConfig from a file path, a dict, or nothing (the injected gateway's, else the
    embedded default: the bundled local model)."""
    if isinstance(config, GatewayConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    if config is not None:
        return parse_config(dict(config))
    if gateway is not None and gateway.config is not None:
        return gateway.config
    from llmgateway.server.embedded import embedded_config

    return parse_config(embedded_config(), source="embedded default config")


def _optional_routes(state: ServerState) -> list[BaseRoute]:
    """The admin API (/admin) and the dashboard (/ui), only behind a master key."""
    from starlette.routing import Mount

    from llmgateway.server.body_limit import BodyLimit

    if not state.config.master_key:
        return []
    mounts: list[BaseRoute] = []
    config = state.config

    def limited(app: ASGIApp) -> BodyLimit:
        return BodyLimit(app, config.max_body_bytes, config.body_timeout_seconds, config.max_json_depth)

    try:
        from llmgateway.server.admin import admin_routes
    except ImportError:
        logger.debug("admin API not available")
    else:
        from starlette.routing import Router

        mounts.append(Mount("/admin", app=limited(Router(routes=admin_routes(state)))))
    if state.config.dashboard:
        try:
            from llmgateway.server.dashboard import dashboard_routes
        except ImportError:
            logger.debug("dashboard not available")
        else:
            from starlette.routing import Router

            mounts.append(Mount("/ui", app=limited(Router(routes=dashboard_routes(state)))))
    return mounts


class FastFront:
    """The proxy's hot routes (the /v1 POSTs, pure ASGI endpoints that answer every error
    themselves) served in front of Starlette's middleware stack and router; everything else goes
    through Starlette. ``state`` is the Starlette app's."""

    def __init__(self, app: Starlette, routes: dict[str, ASGIApp]) -> None:
        self.app = app
        self.state = app.state
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            route = self._routes.get(scope["path"])
            if route is not None:
                await route(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(config: AppConfig = None, *, gateway: Gateway | None = None) -> FastFront:
    """The proxy app. ``config``: a GatewayConfig, a YAML path or a dict (None: the embedded
    default). Pass ``gateway`` to serve one you built (tests); the app then leaves closing it to
    you."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    resolved = resolve_config(config, gateway)
    owned = gateway is None
    if gateway is None:
        from llmgateway.client import Gateway

        gateway = Gateway(resolved)
    state = ServerState(
        gateway=gateway, config=resolved.server, authenticator=build_authenticator(resolved.server)
    )
    drain = resolved.shutdown.drain_seconds

    async def warm() -> None:
        """Ready once every deployment is (the embedded model loaded): /health/ready says so."""
        try:
            await state.gateway.warm()
        except Exception:
            logger.exception("warming the deployments failed; calls will say what is wrong")
        state.ready = True

    from llmgateway.server.metrics_share import MetricsShare

    share = MetricsShare.from_env(state.metrics)  # under --workers N: one /metrics for all
    if share is not None:
        state.parts["metrics_share"] = share

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        warming = loop.create_task(warm())
        sharing = loop.create_task(share.run()) if share is not None else None
        try:
            yield
        finally:
            warming.cancel()
            if sharing is not None:
                sharing.cancel()
            state.ready = False
            try:
                if owned:
                    await state.gateway.shutdown(drain)
            finally:
                await state.authenticator.aclose()

    api = openai_routes(state)
    routes = [
        *api,
        openapi_route(),
        *health_routes(state),
        *metrics_routes(state),
        *_optional_routes(state),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception, Exception: unexpected},
    )
    app.state.server = state
    fast: dict[str, ASGIApp] = {
        route.path: route.app for route in api if isinstance(route, Route) and route.methods == {"POST"}
    }
    return FastFront(app, fast)
