"""The local backend's HTTP server: one Starlette app, three contracts.

- OpenAI-compatible: ``/v1/chat/completions`` (SSE), ``/v1/completions``, ``/v1/embeddings``,
  ``/v1/models``
- SageMaker container: ``GET /ping``, ``POST /invocations`` (TGI and Messages shapes), port 8080
- Vertex AI custom container: ``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE`` on ``AIP_HTTP_PORT``
- ``/metrics`` (Prometheus) and ``/health``

``create_app`` builds the app; the model loads in the app's lifespan (``/ping`` answers once it
has), and everything the app holds lives on the app instance.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llmgateway.errors import ServiceUnavailableError
from local_backend.routes_openai import openai_routes
from local_backend.routes_sagemaker import sagemaker_routes
from local_backend.routes_vertex import VertexRoutes, vertex_routes

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from local_backend.service import LocalService

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendSettings:
    model: str = "bundled"
    device: str = "auto"
    max_batch: int = 32
    max_queue: int = 256
    model_id: str | None = None
    default_max_tokens: int = 512


@dataclass
class _ServiceSlot:
    """The app's service: set once loaded (or injected), read by every route."""

    service: LocalService | None = None
    owned: bool = True
    settings: BackendSettings = field(default_factory=BackendSettings)

    def get(self) -> LocalService:
        if self.service is None:
            raise ServiceUnavailableError("the model is still loading; retry shortly", retry_after=2.0)
        return self.service

    def ready(self) -> bool:
        return self.service is not None


def create_app(
    settings: BackendSettings | None = None,
    *,
    service: LocalService | None = None,
    vertex: VertexRoutes | None = None,
) -> Starlette:
    """The backend app. Pass ``service`` to serve an already-loaded engine (tests, embedding in
    another process); otherwise the model named in ``settings`` loads at startup."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    from local_backend.metrics import render_metrics

    slot = _ServiceSlot(service=service, owned=service is None, settings=settings or BackendSettings())
    vertex_config = vertex or VertexRoutes.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if slot.service is None:
            from local_backend.service import LocalService

            s = slot.settings
            logger.info("loading model %s on device %s", s.model, s.device)
            slot.service = await LocalService.start(
                s.model,
                device=s.device,
                max_batch=s.max_batch,
                max_queue=s.max_queue,
                model_id=s.model_id,
                default_max_tokens=s.default_max_tokens,
            )
            logger.info("model %s ready", slot.service.model_id)
        try:
            yield
        finally:
            if slot.owned and slot.service is not None:
                await slot.service.aclose()
                slot.service = None

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(render_metrics(slot.get()), media_type="text/plain; version=0.0.4")

    async def health(request: Request) -> Response:
        return JSONResponse(
            {"status": "ok" if slot.ready() else "loading"}, status_code=200 if slot.ready() else 503
        )

    routes = [
        *openai_routes(slot.get),
        *sagemaker_routes(slot.get, slot.ready),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if vertex_config.health != "/health":
        routes.append(Route("/health", health, methods=["GET"]))
    routes += vertex_routes(slot.get, slot.ready, vertex_config)
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service_slot = slot
    return app


def serve(settings: BackendSettings, host: str, port: int, log_level: str = "info") -> None:
    """Run the app under uvicorn (uvloop and httptools when installed)."""
    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)
