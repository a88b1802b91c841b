"""Any OpenAI-compatible HTTP server: OpenAI itself, vLLM, TGI, Ollama, llama.cpp, our own proxy.

The wire format is OpenAI's; what differs between servers (base URL, key, extra headers, query
parameters, the upstream's own model name) is settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_core import from_json, to_json

from llmgateway.errors import (
    GatewayError,
    StreamInterruptedError,
    UpstreamServerError,
    error_from_status,
)
from llmgateway.provider import Capabilities, ProviderBase, ProviderContext
from llmgateway.secret_scrub import ScrubbedErrors, SecretScrubber
from llmgateway.sse import iter_sse_events
from llmgateway.transport import HttpSender
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    WireModel,
)


class OpenAICompatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="Server root including the API prefix, e.g. http://host:8000/v1")
    model: str | None = Field(default=None, description="The upstream's model name")
    api_key: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict, description="e.g. api-version for Azure")
    timeout: float | None = Field(default=60.0, gt=0)
    stream_usage: bool = Field(
        default=True, description="Ask for a usage chunk on streams (stream_options.include_usage)"
    )
    embeddings: bool = True
    completions: bool = True
    tools: bool = True

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


def _decode_json(body: bytes) -> Any:
    try:
        return from_json(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


class OpenAICompatProvider(ProviderBase):
    kind: ClassVar[str] = "openai"
    Settings: ClassVar[type[BaseModel]] = OpenAICompatSettings

    def __init__(self, name: str, settings: OpenAICompatSettings, sender: HttpSender) -> None:
        super().__init__(name)
        self.settings = settings
        self._sender = sender
        # Upstreams echo the key they got and transports print URLs with their query: every
        # error leaving this provider has its own credentials scrubbed.
        self._scrubbed = ScrubbedErrors(SecretScrubber.from_settings(settings))
        self.default_timeout = settings.timeout
        self.capabilities = Capabilities(
            chat=True,
            streaming=True,
            completions=settings.completions,
            embeddings=settings.embeddings,
            tools=settings.tools,
        )
        headers = {"content-type": "application/json", "accept": "application/json"}
        if settings.api_key is not None:
            headers["authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        headers.update({k.lower(): v for k, v in settings.headers.items()})
        self._headers = headers
        self._stream_headers = {**headers, "accept": "text/event-stream"}
        query = urlencode(settings.query)
        suffix = f"?{query}" if query else ""
        self._urls = {
            path: f"{settings.base_url}/{path}{suffix}"
            for path in ("chat/completions", "completions", "embeddings")
        }

    @classmethod
    def from_settings(cls, name: str, settings: Any, context: ProviderContext) -> OpenAICompatProvider:
        return cls(name, settings, context.http.sender())

    def _body(self, request: WireModel, **overrides: Any) -> bytes:
        payload = request.model_dump(exclude_none=True)
        if self.settings.model:
            payload["model"] = self.settings.model
        payload.update(overrides)
        return to_json(payload)

    async def _post(self, path: str, body: bytes, timeout: float | None) -> bytes:
        response = await self._sender.post(self._urls[path], body, self._headers, self._timeout(timeout))
        if response.status >= 300:
            raise error_from_status(
                response.status, _decode_json(response.body), response.headers, deployment=self.name
            )
        return response.body

    def _invalid(self, what: str, exc: Exception) -> GatewayError:
        return UpstreamServerError(
            f"upstream sent a {what} that is not valid OpenAI JSON: {exc}", deployment=self.name
        )

    async def chat(self, request: ChatCompletionRequest, *, timeout: float | None = None) -> ChatCompletion:
        with self._scrubbed:
            body = await self._post("chat/completions", self._body(request, stream=False), timeout)
            try:
                return ChatCompletion.model_validate_json(body)
            except ValueError as exc:
                raise self._invalid("chat completion", exc) from exc

    async def completions(self, request: CompletionRequest, *, timeout: float | None = None) -> Completion:
        if not self.capabilities.completions:
            raise self._unsupported("text completions")
        with self._scrubbed:
            body = await self._post("completions", self._body(request, stream=False), timeout)
            try:
                return Completion.model_validate_json(body)
            except ValueError as exc:
                raise self._invalid("completion", exc) from exc

    async def embeddings(
        self, request: EmbeddingRequest, *, timeout: float | None = None
    ) -> EmbeddingResponse:
        if not self.capabilities.embeddings:
            raise self._unsupported("embeddings")
        with self._scrubbed:
            body = await self._post("embeddings", self._body(request), timeout)
            try:
                return EmbeddingResponse.model_validate_json(body)
            except ValueError as exc:
                raise self._invalid("embedding response", exc) from exc

    async def stream_chat(
        self, request: ChatCompletionRequest, *, timeout: float | None = None
    ) -> AsyncIterator[ChatCompletionChunk]:
        overrides: dict[str, Any] = {"stream": True}
        if self.settings.stream_usage:
            overrides["stream_options"] = {"include_usage": True}
        body = self._body(request, **overrides)
        url = self._urls["chat/completions"]
        with self._scrubbed:
            sent = 0
            finished = False
            async with self._sender.stream(url, body, self._stream_headers, self._timeout(timeout)) as resp:
                if resp.status >= 300:
                    raw = await resp.read()
                    raise error_from_status(
                        resp.status, _decode_json(raw), resp.headers, deployment=self.name
                    )
                try:
                    async for event in iter_sse_events(resp.lines()):
                        if event.data == "[DONE]":
                            return
                        chunk = self._parse_chunk(event.data, sent)
                        finished = finished or any(c.finish_reason for c in chunk.choices)
                        sent += 1
                        yield chunk
                except StreamInterruptedError:
                    raise
                except GatewayError as exc:
                    if exc.retryable:
                        raise StreamInterruptedError(
                            f"stream broke off after {sent} chunks: {exc.message}",
                            chunks_received=sent,
                            deployment=self.name,
                        ) from exc
                    raise
            if not finished:
                raise StreamInterruptedError(
                    f"stream ended after {sent} chunks without a finish reason or [DONE]",
                    chunks_received=sent,
                    deployment=self.name,
                )

    def _parse_chunk(self, data: str, sent: int) -> ChatCompletionChunk:
        try:
            payload = from_json(data)
        except ValueError as exc:
            raise self._invalid("stream event", exc) from exc
        if isinstance(payload, dict) and "error" in payload and "choices" not in payload:
            error = payload["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise StreamInterruptedError(
                f"upstream sent an error event after {sent} chunks: {message}",
                chunks_received=sent,
                deployment=self.name,
            )
        try:
            return ChatCompletionChunk.model_validate(payload)
        except ValueError as exc:
            raise self._invalid("stream chunk", exc) from exc
