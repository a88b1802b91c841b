"""Google Vertex AI deployed endpoints: ``:predict``, ``:rawPredict`` / ``:streamRawPredict``, and
the OpenAI-compatible chat completions route (including the ``openapi`` endpoint, model as a
service), on regional, global, dedicated and private hosts.

Auth is google-auth's application default credentials (service account key, user credentials,
workload identity federation, the metadata server) or a credentials file, with the token refreshed
before it expires, off the event loop (``providers.gcp.auth``); a fixed ``access_token`` needs no
google-auth at all. Errors come back as ``google.rpc.Status`` bodies and map to the gateway's
classes (``providers.gcp.errors``): 429 / 5xx are retried, 400 / 401 / 403 / 404 are not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from llmgateway.errors import GatewayError, StreamInterruptedError
from llmgateway.provider import Capabilities, ProviderBase, ProviderContext
from llmgateway.secret_scrub import ScrubbedErrors, SecretScrubber
from llmgateway.sse import iter_sse_events
from llmgateway.transport import HttpSender
from llmgateway.types import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from providers.chat_render import chat_renderer
from providers.gcp.auth import (
    GoogleTokenSource,
    StaticToken,
    TokenSource,
    auth_request,
    credentials_loader,
    require_google_auth,
)
from providers.gcp.endpoints import EndpointUrls
from providers.gcp.errors import PredictionFormatError, parse_status, vertex_error
from providers.gcp.openai_wire import OpenAIFormat
from providers.gcp.payloads import PredictFormat
from providers.gcp.sender import VertexSender
from providers.gcp.settings import VertexSettings
from providers.gcp.tgi_wire import TgiFormat
from providers.gcp.wire import WireFormat
from providers.token_count import tokenizer_at, tokenizer_ready

if TYPE_CHECKING:
    from providers.chat_render import ChatRenderer
    from providers.token_count import Tokenizer

# The most of a bare-JSON answer read from a stream to find the error in it.
MAX_ERROR_BYTES = 64 * 1024
# Renders prompts when neither a chat_template nor a tokenizer's own template is configured.
DEFAULT_TEMPLATE = "chatml"


def token_source(settings: VertexSettings, deployment: str) -> TokenSource:
    """A fixed token, or google-auth credentials (which must be installed: checked here, at
    config load, so a missing extra is a clear error before any call)."""
    if settings.access_token is not None:
        return StaticToken(settings.access_token.get_secret_value(), settings.quota_project)
    require_google_auth()
    return GoogleTokenSource(
        credentials_loader(settings.credentials_file, settings.scopes, settings.quota_project),
        auth_request(settings.auth_timeout),
        refresh_margin=settings.refresh_margin,
        deployment=deployment,
    )


def _renderer(settings: VertexSettings, tokenizer: Tokenizer | None) -> ChatRenderer:
    return chat_renderer(settings.chat_template, settings.template_variables, tokenizer, DEFAULT_TEMPLATE)


def wire_format(settings: VertexSettings, tokenizer: Tokenizer | None) -> WireFormat:
    """The deployment's body format; its chat renderer is built (and a Jinja template compiled)
    only where a prompt is rendered, so OpenAI-shaped routes never need jinja2."""
    count = tokenizer.count_text if tokenizer is not None else None
    name = settings.model or f"vertex-endpoint-{settings.endpoint}"
    if settings.route == "predict":
        renders = settings.predict.instance != "messages" or count is not None
        renderer = _renderer(settings, tokenizer) if renders else None
        return PredictFormat(settings.predict, settings.model or "", count, renderer)
    if settings.route == "raw" and settings.raw_format == "tgi":
        return TgiFormat(_renderer(settings, tokenizer), name, count, settings.tgi_parameters)
    return OpenAIFormat(settings.model, settings.stream_usage)


class VertexProvider(ProviderBase):
    kind: ClassVar[str] = "vertex"
    Settings: ClassVar[type[BaseModel]] = VertexSettings

    def __init__(
        self,
        name: str,
        settings: VertexSettings,
        sender: HttpSender,
        tokens: TokenSource,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        super().__init__(name)
        self.settings = settings
        self.default_timeout = settings.timeout
        # Every error leaving this provider has the deployment's token and header secrets scrubbed.
        self._scrubbed = ScrubbedErrors(SecretScrubber.from_settings(settings))
        self.tokens = tokens
        self.urls = EndpointUrls.of(settings)
        self.tokenizer = tokenizer
        self._wire = wire_format(settings, tokenizer)
        self._http = VertexSender(sender, tokens, {k.lower(): v for k, v in settings.headers.items()}, name)
        openai_shaped = isinstance(self._wire, OpenAIFormat)
        self.capabilities = Capabilities(
            chat=True, streaming=self.urls.stream is not None, tools=openai_shaped
        )

    @classmethod
    def from_settings(cls, name: str, settings: Any, context: ProviderContext) -> VertexProvider:
        tokens = token_source(settings, name)
        return cls(name, settings, context.http.sender(), tokens, tokenizer_at(settings.tokenizer))

    async def warm(self) -> None:
        await tokenizer_ready(self.tokenizer)

    def _own(self, exc: GatewayError) -> None:
        """Errors raised by the body formats do not know the deployment; name it."""
        if exc.deployment is None:
            exc.deployment = self.name

    async def chat(self, request: ChatCompletionRequest, *, timeout: float | None = None) -> ChatCompletion:
        with self._scrubbed:
            await tokenizer_ready(self.tokenizer)  # before the body: the tokenizer's template may render it
            body = self._wire.body(request, stream=False)
            answer = await self._http.post(self.urls.unary, body, self._timeout(timeout))
            try:
                return self._wire.parse(answer, request)
            except GatewayError as exc:
                self._own(exc)
                raise

    async def stream_chat(
        self, request: ChatCompletionRequest, *, timeout: float | None = None
    ) -> AsyncIterator[ChatCompletionChunk]:
        if self.urls.stream is None:
            raise self._unsupported("streaming (route predict has no streaming method; use raw or chat)")
        with self._scrubbed:
            await tokenizer_ready(self.tokenizer)
            body = self._wire.body(request, stream=True)
            parser = self._wire.stream_parser(request)
            sent = 0
            async with self._http.stream(self.urls.stream, body, self._timeout(timeout)) as response:
                try:
                    async for event in iter_sse_events(_google_errors_raised(response.lines(), self.name)):
                        for chunk in parser.feed(event.data):
                            sent += 1
                            yield chunk
                        if parser.finished and event.data == "[DONE]":
                            return
                except StreamInterruptedError as exc:
                    exc.chunks_received = sent
                    self._own(exc)
                    raise
                except GatewayError as exc:
                    if exc.retryable or sent:
                        raise StreamInterruptedError(
                            f"stream broke off after {sent} chunks: {exc.message}",
                            chunks_received=sent,
                            deployment=self.name,
                            code=exc.code,
                        ) from exc
                    self._own(exc)
                    raise
            if not parser.finished:
                raise StreamInterruptedError(
                    f"stream ended after {sent} chunks without a finish reason",
                    chunks_received=sent,
                    deployment=self.name,
                )

    async def aclose(self) -> None:
        await self.tokens.aclose()


async def _google_errors_raised(lines: AsyncIterator[bytes], deployment: str) -> AsyncIterator[bytes]:
    """SSE lines, except that an answer in bare JSON instead (a Google error written into the
    stream: ``[{"error": ...}]``, often spread over many lines) raises its error. No SSE line
    starts with ``[`` or ``{``, so the first such line means the rest is one JSON document."""
    async for line in lines:
        if line[:1] not in (b"[", b"{"):
            yield line
            continue
        rest = [line]
        size = len(line)
        async for more in lines:
            rest.append(more)
            size += len(more)
            if size > MAX_ERROR_BYTES:
                break
        body = b"\n".join(rest)
        status = parse_status(body)
        if status is None:
            raise PredictionFormatError(
                f"the endpoint streamed JSON instead of server-sent events: {body[:200]!r}",
                deployment=deployment,
            )
        raise vertex_error(status.code or 500, body, {}, deployment=deployment)
