"""The OpenAI-compatible routes, as plain ASGI endpoints (no Request objects, no middleware):
read the body under the size limit, authenticate, validate with the SDK's wire models (unknown
fields travel on to the upstream), run the call through the gateway's pipeline while watching for
the client leaving, and answer with bytes serialised once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from llmgateway.config import describe_validation_error
from llmgateway.errors import BadRequestError, GatewayError, NotFoundError, PermissionDeniedError
from llmgateway.metadata_headers import metadata_headers, safe_header_value
from llmgateway.server.body_limit import CLOSE, BodyTimeout, ClientGone, drain, read_body
from llmgateway.server.disconnect import DisconnectWatch
from llmgateway.server.errors import JSON_HEADERS, internal_error_body, render, send_error, send_json
from llmgateway.server.json_limits import DEFAULT_MAX_JSON_DEPTH, check_depth
from llmgateway.server.sse import SSE_HEADERS, send_stream
from llmgateway.types import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    GatewayMetadata,
    ModelCard,
    ModelList,
    WireModel,
)

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import Receive, Scope, Send

    from llmgateway.cache.control import CacheControl
    from llmgateway.routing.settings import RoutingOverride
    from llmgateway.server.principal import Principal
    from llmgateway.server.state import ServerState
    from llmgateway.streaming import ChatStream

logger = logging.getLogger("llmgateway.server")
T = TypeVar("T")
W = TypeVar("W", bound=WireModel)
_PREFIX = b"x-llmgateway-"


class Incoming:
    """What a route needs from the request's headers, found in one pass."""

    __slots__ = ("authorization", "gateway_headers")

    def __init__(self, scope: Scope) -> None:
        self.authorization: str | None = None
        self.gateway_headers: dict[str, str] | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                self.authorization = value.decode("latin-1")
            elif name.startswith(_PREFIX):
                if self.gateway_headers is None:
                    self.gateway_headers = {}
                self.gateway_headers[name.decode("latin-1")] = value.decode("latin-1")


def _bad(message: str, param: str) -> BadRequestError:
    return BadRequestError(message, param=param)


def parse_body(model_cls: type[W], raw: bytes, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> W:
    """Validate the JSON body straight from bytes (one pass, in pydantic-core), after the nesting
    depth check (free unless the body has more brackets than ``max_depth``)."""
    if not raw.strip():
        raise BadRequestError("request body is empty; send a JSON object", code="invalid_json")
    check_depth(raw, max_depth)
    try:
        return model_cls.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise BadRequestError(
                f"request body is not valid JSON: {first['msg']}", code="invalid_json"
            ) from None
        if not first["loc"] and first["type"] in ("model_type", "model_attributes_type", "dict_type"):
            raise BadRequestError("request body must be a JSON object", code="invalid_json") from None
        raise BadRequestError(f"invalid request: {describe_validation_error(exc)}") from exc


def _controls(
    request: WireModel, headers: dict[str, str] | None
) -> tuple[RoutingOverride | None, CacheControl | None]:
    """The gateway's per-request controls: routing headers (``x-llmgateway-policy`` ...) or a
    ``routing`` body field, and cache control from ``x-llmgateway-cache`` or a ``cache`` field.
    Both are taken out of the body, so they never reach the upstream."""
    extra = request.__pydantic_extra__
    routing = extra.pop("routing", None) if extra else None
    cache = extra.pop("cache", None) if extra else None
    if headers is not None:
        cache = headers.get("x-llmgateway-cache", cache)
    override: RoutingOverride | None = None
    if headers is not None:
        from llmgateway.routing.override_headers import override_from_headers

        override = override_from_headers(headers)
    if override is None and routing is not None:
        from llmgateway.routing.settings import RoutingOverride

        try:
            override = RoutingOverride.model_validate(routing)
        except ValidationError as exc:
            raise BadRequestError(f"invalid routing: {describe_validation_error(exc, 'routing')}") from exc
    control: CacheControl | None = None
    if cache is not None:
        from llmgateway.cache.control import CacheControl

        try:
            control = CacheControl.parse(cache)
        except (TypeError, ValueError) as exc:
            raise _bad(f"invalid cache control: {exc}", "cache") from exc
    return override, control


def answer_headers(
    meta: GatewayMetadata | None, base: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    headers = list(base)
    if meta is None:
        return headers
    headers.extend((k.encode(), v.encode()) for k, v in metadata_headers(meta).items())
    return headers


def _stream_headers(stream: ChatStream) -> list[tuple[bytes, bytes]]:
    """What is known before the first chunk: the deployment, the cache status, the request id."""
    headers = list(SSE_HEADERS)
    headers.append((b"x-llmgateway-deployment", safe_header_value(stream.deployment).encode()))
    if stream.request_id:
        headers.append((b"x-llmgateway-request-id", stream.request_id.encode()))
    headers.append((b"x-llmgateway-cache", stream.cache.encode()))
    return headers


async def _watched(call: Awaitable[T], receive: Receive) -> T:
    """Run ``call``; a client that leaves meanwhile cancels it (raised as ClientGone)."""
    watch = DisconnectWatch(receive)
    try:
        return await call
    except asyncio.CancelledError:
        if watch.absorb():
            raise ClientGone() from None
        raise
    finally:
        watch.stop()


class _Call:
    __slots__ = ("model", "principal", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self.model = ""
        self.principal: Principal | None = None


class OpenAIEndpoint:
    """One POST route; ``kind`` picks the call. A pure ASGI app, so Starlette's router hands it
    the raw scope without wrapping it in a Request."""

    def __init__(self, state: ServerState, kind: str) -> None:
        self.state = state
        self.kind = kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        metrics = state.metrics
        call = _Call(time.perf_counter())
        metrics.in_flight += 1
        body_read = False
        try:
            incoming = Incoming(scope)
            call.principal = await state.authenticator.authenticate(incoming.authorization)
            config = state.config
            raw = await read_body(scope, receive, config.max_body_bytes, config.body_timeout_seconds)
            body_read = True
            if self.kind == "chat":
                await self._chat(call, raw, incoming, receive, send)
            else:
                await self._unary(call, raw, incoming, receive, send)
        except ClientGone:
            state.calls.record(self.kind, call.model, call.principal, 499, call.started, "client_closed")
        except GatewayError as exc:
            status, body, headers = render(exc, state.scrub)
            state.calls.record(
                self.kind,
                call.model,
                call.principal,
                status,
                call.started,
                "failed",
                error=type(exc).__name__,
                deployment=exc.deployment,
            )
            if not body_read:
                # Answered before the body was read (a bad key, too large, too slow): the rest of
                # it may still trickle in, so the connection is not kept for another request.
                # What a prompt client already sent is drained first, or the close would reset
                # the connection under its answer.
                headers.append(CLOSE)
                if not isinstance(exc, BodyTimeout):
                    await drain(scope, receive)
            await send_json(send, status, body, headers)
        except Exception:
            logger.exception("unexpected error answering %s", scope.get("path"))
            state.calls.record(
                self.kind, call.model, call.principal, 500, call.started, "failed", error="internal"
            )
            await send_json(send, 500, internal_error_body())
        finally:
            metrics.in_flight -= 1

    def _check(self, principal: Principal, model: str) -> None:
        if not principal.allows(model):
            raise PermissionDeniedError(
                f"this key may not use model '{model}'; ask an admin to add it to the key's models",
                code="model_not_allowed",
            )

    async def _chat(self, call: _Call, raw: bytes, incoming: Incoming, receive: Receive, send: Send) -> None:
        request = parse_body(ChatCompletionRequest, raw, self.state.config.max_json_depth)
        model = call.model = request.model
        principal, started = call.principal, call.started
        assert principal is not None
        self._check(principal, model)
        override, control = _controls(request, incoming.gateway_headers)
        pipeline = self.state.gateway.pipeline
        calls = self.state.calls
        text: dict[str, Any] | None = (
            {"prompt": [m.model_dump(exclude_none=True) for m in request.messages]}
            if calls.log_prompts
            else None
        )
        if not request.stream:
            reply = await _watched(pipeline.chat(request, None, override, principal.caller, control), receive)
            if text is not None:
                text["answer"] = reply.text()
            await self._answer(reply, send)
            calls.record(
                "chat", model, principal, 200, started, "completed", reply.gateway, reply.usage, text=text
            )
            return
        stream = await _watched(
            pipeline.stream_chat(request, None, override, principal.caller, control), receive
        )
        outcome, failure = await send_stream(stream, _stream_headers(stream), receive, send, self.state.scrub)
        meta = stream.gateway
        usage = stream.usage
        # The 200 went out with the stream's first bytes: a stream that breaks later is still a
        # 200 to the client (the error arrives as an SSE event), and is logged as one, with the
        # failure beside it; 499 when the client left.
        status = 499 if outcome == "client_closed" else 200
        calls.record(
            "chat",
            model,
            principal,
            status,
            started,
            outcome,
            meta,
            usage,
            error=type(failure).__name__ if failure else None,
            text=text,
        )

    async def _unary(self, call: _Call, raw: bytes, incoming: Incoming, receive: Receive, send: Send) -> None:
        pipeline = self.state.gateway.pipeline
        request: CompletionRequest | EmbeddingRequest
        if self.kind == "completion":
            request = parse_body(CompletionRequest, raw, self.state.config.max_json_depth)
            if request.stream:
                raise _bad("streaming text completions are not supported; use /v1/chat/completions", "stream")
        else:
            request = parse_body(EmbeddingRequest, raw, self.state.config.max_json_depth)
        model = call.model = request.model
        principal, started = call.principal, call.started
        assert principal is not None
        self._check(principal, model)
        override, control = _controls(request, incoming.gateway_headers)
        caller = principal.caller
        reply: Any
        if isinstance(request, CompletionRequest):
            reply = await _watched(pipeline.completions(request, None, override, caller, control), receive)
        else:
            reply = await _watched(pipeline.embeddings(request, None, override, caller, control), receive)
        await self._answer(reply, send)
        self.state.calls.record(
            self.kind, model, principal, 200, started, "completed", reply.gateway, reply.usage
        )

    @staticmethod
    async def _answer(reply: WireModel, send: Send) -> None:
        body = reply.__pydantic_serializer__.to_json(reply, exclude_none=True)
        meta: GatewayMetadata | None = getattr(reply, "gateway", None)
        await send_json(send, 200, body, answer_headers(meta, JSON_HEADERS))


class ModelsEndpoint:
    """``GET /v1/models`` and ``GET /v1/models/{id}``: the public model names this key may use."""

    def __init__(self, state: ServerState, single: bool) -> None:
        self.state = state
        self.single = single

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            principal = await self.state.authenticator.authenticate(Incoming(scope).authorization)
            names = [n for n in self.state.gateway.routes() if principal.allows(n)]
            if not self.single:
                body = ModelList(data=[ModelCard(id=n) for n in names]).model_dump_json().encode()
            else:
                wanted = scope["path_params"]["model"]
                if wanted not in names:
                    raise NotFoundError(
                        f"model '{wanted}' is not served here; GET /v1/models lists them",
                        code="model_not_found",
                    )
                body = ModelCard(id=wanted).model_dump_json().encode()
            await send_json(send, 200, body)
        except GatewayError as exc:
            await send_error(send, exc, self.state.scrub)
        except Exception:
            logger.exception("unexpected error answering %s", scope.get("path"))
            await send_json(send, 500, internal_error_body())


def openai_routes(state: ServerState) -> list[BaseRoute]:
    from starlette.routing import Route

    def post(path: str, kind: str) -> Route:
        return Route(path, OpenAIEndpoint(state, kind), methods=["POST"])

    return [
        post("/v1/chat/completions", "chat"),
        post("/v1/completions", "completion"),
        post("/v1/embeddings", "embedding"),
        Route("/v1/models", ModelsEndpoint(state, single=False), methods=["GET"]),
        Route("/v1/models/{model:path}", ModelsEndpoint(state, single=True), methods=["GET"]),
    ]
