"""Amazon SageMaker real-time endpoints, at wire level.

``InvokeEndpoint`` (``POST /endpoints/{name}/invocations``) and
``InvokeEndpointWithResponseStream`` (``.../invocations-response-stream``) go through the
gateway's own HTTP client, signed with SigV4 (service ``sagemaker``) by botocore's signer with
credentials from botocore's standard chain, resolved and refreshed off the event loop. The body is
the deployment's payload format (TGI, Messages API or raw JSON); a stream comes back as an AWS
event stream whose PayloadParts carry the container's own stream.

Needs the ``aws`` extra (botocore).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel

from llmgateway.errors import (
    APIConnectionError,
    AuthenticationError,
    ConfigError,
    GatewayError,
    StreamInterruptedError,
)
from llmgateway.provider import Capabilities, ProviderBase, ProviderContext
from llmgateway.secret_scrub import ScrubbedErrors, SecretScrubber, scrub_error
from llmgateway.transport import HttpSender
from llmgateway.types import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from providers.aws.credentials import AwsCredentials, botocore_session, session_region
from providers.aws.sagemaker_errors import sagemaker_error
from providers.aws.sagemaker_payloads import CallInfo, PayloadFormat, build_format
from providers.aws.sagemaker_settings import SageMakerSettings
from providers.aws.sagemaker_stream import read_event_stream
from providers.aws.sigv4 import signed_headers
from providers.chat_render import chat_renderer
from providers.token_count import tokenizer_at, tokenizer_ready

logger = logging.getLogger(__name__)

SIGNING_SERVICE = "sagemaker"


def _require_botocore() -> None:
    try:
        import botocore  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "the sagemaker provider needs botocore (SigV4 signing, AWS credentials, event streams): "
            "pip install 'llmgateway[aws]'"
        ) from exc


def _headers(settings: SageMakerSettings, stream: bool) -> dict[str, str]:
    """The request's headers, all of them signed. The streaming API takes the container's Accept
    as X-Amzn-SageMaker-Accept (the answer itself is always an event stream) and has no
    target-model header."""
    headers = {"Content-Type": settings.content_type}
    headers["X-Amzn-SageMaker-Accept" if stream else "Accept"] = settings.accept
    optional = {
        "X-Amzn-SageMaker-Custom-Attributes": settings.custom_attributes,
        "X-Amzn-SageMaker-Target-Variant": settings.target_variant,
        "X-Amzn-SageMaker-Target-Container-Hostname": settings.target_container_hostname,
        "X-Amzn-SageMaker-Inference-Component": settings.inference_component,
    }
    if not stream:
        optional["X-Amzn-SageMaker-Target-Model"] = settings.target_model
    headers.update({name: value for name, value in optional.items() if value is not None})
    return headers


class SageMakerProvider(ProviderBase):
    kind: ClassVar[str] = "sagemaker"
    Settings: ClassVar[type[BaseModel]] = SageMakerSettings

    def __init__(
        self,
        name: str,
        settings: SageMakerSettings,
        sender: HttpSender,
        credentials: AwsCredentials,
        region: str,
    ) -> None:
        super().__init__(name)
        self.settings = settings
        self.region = region
        self.credentials = credentials
        self.default_timeout = settings.timeout
        self._sender = sender
        # Every error leaving this provider has the deployment's keys (from the config or the
        # chain) scrubbed: botocore and upstream messages may quote them.
        self._scrubbed = ScrubbedErrors(self._scrub)
        self.tokenizer = tokenizer_at(settings.tokenizer)
        renderer = chat_renderer(settings.chat_template, settings.template_variables, self.tokenizer)
        self._format: PayloadFormat = build_format(settings, renderer, self.tokenizer)
        self.capabilities = Capabilities(
            chat=True,
            # InvokeEndpointWithResponseStream cannot address one model of a multi-model endpoint.
            streaming=settings.target_model is None,
            tools=settings.format == "messages",
        )
        root = f"{settings.runtime_url(region)}/endpoints/{quote(settings.endpoint_name, safe='')}"
        self.invoke_url = f"{root}/invocations"
        self.stream_url = f"{root}/invocations-response-stream"
        self._invoke_headers = _headers(settings, stream=False)
        self._stream_headers = _headers(settings, stream=True)

    @classmethod
    def from_settings(cls, name: str, settings: Any, context: ProviderContext) -> SageMakerProvider:
        _require_botocore()
        assert isinstance(settings, SageMakerSettings)
        # The region comes from the same places with or without keys in the config (the profile or
        # the environment); the session only reads configuration until credentials are asked for.
        session = botocore_session(settings.profile)
        region = settings.region or session_region(session)
        if region is None:
            raise ConfigError(
                f"deployment '{name}': no AWS region; set the deployment's 'region', AWS_REGION (or "
                "AWS_DEFAULT_REGION), or a region in the profile's config"
            )
        if settings.access_key_id is not None and settings.secret_access_key is not None:
            token = settings.session_token.get_secret_value() if settings.session_token else None
            credentials = AwsCredentials.from_keys(
                settings.access_key_id.get_secret_value(),
                settings.secret_access_key.get_secret_value(),
                token,
                name,
            )
        else:
            credentials = AwsCredentials(session, None, name)
        return cls(name, settings, context.http.sender(), credentials, region)

    def _scrub(self, text: str) -> str:
        return SecretScrubber.from_settings(self.settings, self.credentials.known_values()).scrub(text)

    # -- the two calls ------------------------------------------------------------------------

    async def _signed(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        credentials = await self.credentials.current()
        return signed_headers(
            credentials, service=SIGNING_SERVICE, region=self.region, url=url, body=body, headers=headers
        )

    def _failed(self, status: int, raw: bytes, headers: Any) -> GatewayError:
        # Scrubbed now: the credentials in use are forgotten below.
        error = scrub_error(sagemaker_error(status, raw, headers, self.name), self._scrub)
        if isinstance(error, AuthenticationError):
            self.credentials.invalidate()  # rotated keys or an expired role: resolve again next time
        return error

    def _call(self) -> CallInfo:
        return CallInfo(deployment=self.name, model=self.settings.model or self.settings.endpoint_name)

    async def chat(self, request: ChatCompletionRequest, *, timeout: float | None = None) -> ChatCompletion:
        with self._scrubbed:
            await tokenizer_ready(self.tokenizer)
            prepared = self._format.prepare(request, stream=False)
            headers = await self._signed(self.invoke_url, prepared.body, self._invoke_headers)
            response = await self._sender.post(
                self.invoke_url, prepared.body, headers, self._timeout(timeout)
            )
            if response.status >= 300:
                raise self._failed(response.status, response.body, response.headers)
            return self._format.answer(response.body, request, prepared, self._call())

    async def stream_chat(
        self, request: ChatCompletionRequest, *, timeout: float | None = None
    ) -> AsyncIterator[ChatCompletionChunk]:
        if not self.capabilities.streaming:
            raise self._unsupported(
                "streaming with target_model (SageMaker cannot stream multi-model endpoints)"
            )
        with self._scrubbed:
            await tokenizer_ready(self.tokenizer)
            prepared = self._format.prepare(request, stream=True)
            headers = await self._signed(self.stream_url, prepared.body, self._stream_headers)
            call = self._call()
            reader = self._format.reader(request, prepared, call)
            async with self._sender.stream(
                self.stream_url, prepared.body, headers, self._timeout(timeout)
            ) as resp:
                if resp.status >= 300:
                    raise self._failed(resp.status, await resp.read(), resp.headers)
                sent = 0
                async for chunk in read_event_stream(resp.chunks(), reader, self.name):
                    sent += 1
                    yield chunk
            if not reader.finished:
                raise StreamInterruptedError(
                    f"the SageMaker stream ended after {sent} chunks before the answer was complete",
                    chunks_received=sent,
                    deployment=self.name,
                )

    async def warm(self) -> None:
        """Load the tokenizer (when configured) and the credentials before the first call. Missing,
        refused or throttled credentials are logged, not raised: calls report them, and a role may
        appear later."""
        await tokenizer_ready(self.tokenizer)
        try:
            await self.credentials.current()
        except (AuthenticationError, APIConnectionError) as exc:
            logger.warning("deployment %s: %s", self.name, self._scrub(exc.message))
