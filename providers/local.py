"""The ``local`` provider: the bundled Transformer backend as a deployment.

``mode: in_process`` runs the engine inside the gateway's process (the model loads on first use,
off the event loop; decoding runs on the scheduler's own thread). ``mode: http`` talks to a running
backend server (``llmgateway backend serve``) over its OpenAI-compatible API. ``mode: replicas``
runs an elastic pool of backend worker processes (``local_backend.replicas``; one per GPU with
``device: cuda``) that grows when queue wait passes ``target_queue_wait`` and shrinks after
``idle_seconds``, down to ``min_replicas`` (0 allowed: the next call cold-starts one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmgateway.errors import APITimeoutError
from llmgateway.provider import Capabilities, ProviderBase, ProviderContext
from llmgateway.streaming import close_iterator
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    StreamOptions,
)
from providers.openai_compat import OpenAICompatProvider, OpenAICompatSettings

T = TypeVar("T")

if TYPE_CHECKING:
    from local_backend.replicas import ReplicaPool
    from local_backend.service import LocalService


class LocalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["in_process", "http", "replicas"] = "in_process"
    model: str = Field(default="bundled", description="bundled, tiny, a .gguf file or an HF directory")
    device: str = "auto"
    max_batch: int = Field(default=32, ge=1)
    max_queue: int = Field(default=256, ge=0)
    default_max_tokens: int = Field(default=512, ge=1)
    base_url: str | None = Field(default=None, description="the backend server, for mode: http")
    timeout: float | None = Field(default=300.0, gt=0)
    min_replicas: int = Field(default=1, ge=0, description="mode: replicas")
    max_replicas: int = Field(default=1, ge=1, description="mode: replicas")
    max_concurrency: int = Field(default=32, ge=1, description="calls in flight per replica")
    target_queue_wait: float = Field(default=0.5, gt=0, description="seconds; above it the pool grows")
    idle_seconds: float = Field(default=300.0, gt=0, description="an idle replica stops after this")

    @model_validator(mode="after")
    def _http_needs_url(self) -> LocalSettings:
        if self.mode == "http" and not self.base_url:
            raise ValueError("mode 'http' needs base_url, e.g. http://127.0.0.1:8080/v1")
        return self


class LocalProvider(ProviderBase):
    kind: ClassVar[str] = "local"
    Settings: ClassVar[type[BaseModel]] = LocalSettings
    capabilities = Capabilities(chat=True, streaming=True, completions=True, embeddings=True, tools=False)

    def __init__(
        self, name: str, settings: LocalSettings, remote: OpenAICompatProvider | None = None
    ) -> None:
        super().__init__(name)
        self.settings = settings
        self.default_timeout = settings.timeout
        self._remote: OpenAICompatProvider | ReplicaPool | None = remote
        if settings.mode == "replicas":
            self._remote = self._replica_pool(settings)
        self._service: LocalService | None = None
        self._owns_service = True
        self._loading: asyncio.Lock | None = None

    @classmethod
    def from_settings(cls, name: str, settings: Any, context: ProviderContext) -> LocalProvider:
        remote = None
        if settings.mode == "http":
            remote_settings = OpenAICompatSettings(base_url=settings.base_url, timeout=settings.timeout)
            remote = OpenAICompatProvider(name, remote_settings, context.http.sender())
        return cls(name, settings, remote)

    def _replica_pool(self, s: LocalSettings) -> ReplicaPool:
        from local_backend.replicas import ReplicaPool, one_gpu_per_replica, serve_command

        options = [
            "--device",
            s.device,
            "--max-batch",
            str(s.max_batch),
            "--max-queue",
            str(s.max_queue),
            "--default-max-tokens",
            str(s.default_max_tokens),
            "--log-level",
            "warning",
        ]
        command = serve_command(s.model, options=options)
        return ReplicaPool(
            command,
            min_replicas=s.min_replicas,
            max_replicas=s.max_replicas,
            max_concurrency=s.max_concurrency,
            target_queue_wait=s.target_queue_wait,
            idle_seconds=s.idle_seconds,
            request_timeout=s.timeout,
            replica_env=one_gpu_per_replica if s.device.startswith("cuda") else None,
            name=self.name,
        )

    @classmethod
    def from_service(cls, name: str, service: LocalService) -> LocalProvider:
        """Wrap an engine that is already loaded (tests, notebooks)."""
        provider = cls(name, LocalSettings())
        provider._service = service
        provider._owns_service = False  # the caller loaded it and closes it
        return provider

    async def service(self) -> LocalService:
        """The in-process engine, loaded once (concurrent first calls wait for the same load)."""
        if self._service is not None:
            return self._service
        async with self._lock():
            if self._service is None:
                from local_backend.service import LocalService

                s = self.settings
                self._service = await LocalService.start(
                    s.model,
                    device=s.device,
                    max_batch=s.max_batch,
                    max_queue=s.max_queue,
                    default_max_tokens=s.default_max_tokens,
                )
        return self._service

    @property
    def replica_pool(self) -> ReplicaPool | None:
        """The elastic worker pool, in ``mode: replicas``."""
        from local_backend.replicas import ReplicaPool

        return self._remote if isinstance(self._remote, ReplicaPool) else None

    def _lock(self) -> asyncio.Lock:
        if self._loading is None:
            self._loading = asyncio.Lock()
        return self._loading

    async def _remote_ready(self) -> OpenAICompatProvider | ReplicaPool | None:
        """The HTTP backend or the replica pool (started on first use), or None in process."""
        remote = self._remote
        if remote is None or isinstance(remote, OpenAICompatProvider):
            return remote
        if not remote.running:
            async with self._lock():
                if not remote.running:
                    await remote.start()
        return remote

    async def _bounded(self, call: Awaitable[T], timeout: float | None) -> T:
        """An in-process call under the same deadline an HTTP call would have."""
        limit = self._timeout(timeout)
        try:
            return await asyncio.wait_for(call, limit)
        except asyncio.TimeoutError:
            raise APITimeoutError(
                f"local model gave no answer within {limit}s", deployment=self.name
            ) from None

    async def chat(self, request: ChatCompletionRequest, *, timeout: float | None = None) -> ChatCompletion:
        remote = await self._remote_ready()
        if remote is not None:
            return await remote.chat(request, timeout=timeout)
        return await self._bounded((await self.service()).chat(request), timeout)

    async def stream_chat(
        self, request: ChatCompletionRequest, *, timeout: float | None = None
    ) -> AsyncIterator[ChatCompletionChunk]:
        remote = await self._remote_ready()
        if remote is not None:
            remote_stream = remote.stream_chat(request, timeout=timeout)
            try:
                async for chunk in remote_stream:
                    yield chunk
            finally:
                await close_iterator(remote_stream)
            return
        # The gateway always needs usage (cost); it hides the chunk when the caller did not ask.
        with_usage = request.model_copy(update={"stream_options": StreamOptions(include_usage=True)})
        stream = (await self.service()).stream_chat(with_usage)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()

    async def completions(self, request: CompletionRequest, *, timeout: float | None = None) -> Completion:
        remote = await self._remote_ready()
        if remote is not None:
            return await remote.completions(request, timeout=timeout)
        return await self._bounded((await self.service()).completions(request), timeout)

    async def embeddings(
        self, request: EmbeddingRequest, *, timeout: float | None = None
    ) -> EmbeddingResponse:
        remote = await self._remote_ready()
        if remote is not None:
            return await remote.embeddings(request, timeout=timeout)
        return await self._bounded((await self.service()).embeddings(request), timeout)

    async def warm(self) -> None:
        """Load the model (in process) or start the replica pool's first workers now."""
        if self._remote is None:
            await self.service()
        else:
            await self._remote_ready()

    async def aclose(self) -> None:
        if self._remote is not None:
            await self._remote.aclose()
        elif self._service is not None and self._owns_service:
            await self._service.aclose()
            self._service = None
