"""Liveness (the process answers), readiness (the gateway is built, warm and not draining) and
the Prometheus metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgateway.errors import AuthenticationError
from llmgateway.server.auth import MasterKeyAuthenticator, bearer_token
from llmgateway.server.errors import send_error, send_json

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import Receive, Scope, Send

    from llmgateway.server.state import ServerState

_ALIVE = b'{"status":"alive"}'
_READY = b'{"status":"ready"}'
_NOT_READY = b'{"status":"not ready"}'


class _Live:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 200, _ALIVE)


class _Ready:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        if state.ready and not state.gateway.pipeline.closing:
            await send_json(send, 200, _READY)
        else:
            await send_json(send, 503, _NOT_READY)


def health_routes(state: ServerState) -> list[BaseRoute]:
    from starlette.routing import Route

    return [
        Route("/health/live", _Live(), methods=["GET"]),
        Route("/health/ready", _Ready(state), methods=["GET"]),
        Route("/health", _Ready(state), methods=["GET"]),
    ]


class _Metrics:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        if state.config.metrics_need_key and state.config.master_key:
            token = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
            if not MasterKeyAuthenticator(state.config.master_key).is_master(bearer_token(token)):
                await send_error(
                    send,
                    AuthenticationError(
                        "/metrics needs the master key (server.metrics_need_key); send it as a Bearer token",
                        code="invalid_api_key",
                    ),
                )
                return
        share = state.parts.get("metrics_share")
        metrics = share.combined() if share is not None else state.metrics
        body = metrics.render(state.gateway.deployments()).encode()
        headers = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
        await send_json(send, 200, body, headers)


def metrics_routes(state: ServerState) -> list[BaseRoute]:
    from starlette.routing import Route

    return [Route("/metrics", _Metrics(state), methods=["GET"])]
