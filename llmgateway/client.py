"""Gateway: the async SDK. OpenAI-shaped calls in front of routed deployments.

```python
async with Gateway("gateway.yaml") as gw:
    reply = await gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])
    print(reply.text(), reply.gateway.deployment, reply.gateway.cost.total)
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Union, overload

from pydantic import ValidationError

from llmgateway.config import (
    GatewayConfig,
    describe_validation_error,
    load_config,
    parse_config,
)
from llmgateway.dispatch import Dispatcher
from llmgateway.errors import BadRequestError, ConfigError
from llmgateway.provider import Provider, ProviderContext, ProviderRegistry
from llmgateway.routing.deployment import Deployment, build_deployment
from llmgateway.routing.route import ModelRoute
from llmgateway.routing.settings import RoutingConfig, RoutingOverride
from llmgateway.streaming import ChatStream
from llmgateway.transport import HttpPool
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelCard,
    ModelList,
    WireModel,
)

if TYPE_CHECKING:
    import httpx

ConfigSource = Union[GatewayConfig, Mapping[str, Any], str, Path]
ModelSpec = Union[Provider, Deployment, Sequence[Union[Provider, Deployment]]]


def _validated(model_cls: type[WireModel], payload: dict[str, Any]) -> Any:
    try:
        return model_cls.model_validate(payload)
    except ValidationError as exc:
        raise BadRequestError(f"invalid request: {describe_validation_error(exc)}") from exc


def _override(routing: Mapping[str, Any] | RoutingOverride | None) -> RoutingOverride | None:
    """A request's own routing choices (policy, constraints, hedging), validated."""
    if routing is None or isinstance(routing, RoutingOverride):
        return routing
    try:
        return RoutingOverride.model_validate(routing)
    except ValidationError as exc:
        raise BadRequestError(f"invalid routing override: {describe_validation_error(exc)}") from exc


def _payload(
    fixed: dict[str, Any], params: dict[str, Any], extra_body: Mapping[str, Any] | None
) -> dict[str, Any]:
    payload = {k: v for k, v in params.items() if v is not None}
    payload.update(fixed)
    if extra_body:
        payload.update(extra_body)
    return payload


class ChatCompletions:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any] | ChatMessage],
        stream: Literal[False] = False,
        timeout: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        routing: Mapping[str, Any] | RoutingOverride | None = None,
        **params: Any,
    ) -> ChatCompletion: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any] | ChatMessage],
        stream: Literal[True],
        timeout: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        routing: Mapping[str, Any] | RoutingOverride | None = None,
        **params: Any,
    ) -> ChatStream: ...

    async def create(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any] | ChatMessage],
        stream: bool = False,
        timeout: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        routing: Mapping[str, Any] | RoutingOverride | None = None,
        **params: Any,
    ) -> ChatCompletion | ChatStream:
        """Create a chat completion; with ``stream=True`` an async iterator of chunks."""
        messages = messages if isinstance(messages, list) else list(messages)
        fixed: dict[str, Any] = {"model": model, "messages": messages}
        if stream:
            fixed["stream"] = True
        request: ChatCompletionRequest = _validated(
            ChatCompletionRequest, _payload(fixed, params, extra_body)
        )
        dispatcher = self._gateway._dispatcher
        if stream:
            return await dispatcher.stream_chat(request, timeout, _override(routing))
        return await dispatcher.chat(request, timeout, _override(routing))


class Chat:
    def __init__(self, gateway: Gateway) -> None:
        self.completions = ChatCompletions(gateway)


class Completions:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def create(
        self,
        *,
        model: str,
        prompt: str | list[str],
        timeout: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        routing: Mapping[str, Any] | RoutingOverride | None = None,
        **params: Any,
    ) -> Completion:
        """A legacy text completion (no chat template), where the deployment supports it."""
        if params.get("stream"):
            raise BadRequestError("streaming text completions are not supported; use chat.completions")
        payload = _payload({"model": model, "prompt": prompt}, params, extra_body)
        request: CompletionRequest = _validated(CompletionRequest, payload)
        return await self._gateway._dispatcher.completions(request, timeout, _override(routing))


class Embeddings:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def create(
        self,
        *,
        model: str,
        input: str | list[str] | list[int] | list[list[int]],
        timeout: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        routing: Mapping[str, Any] | RoutingOverride | None = None,
        **params: Any,
    ) -> EmbeddingResponse:
        payload = _payload({"model": model, "input": input}, params, extra_body)
        request: EmbeddingRequest = _validated(EmbeddingRequest, payload)
        return await self._gateway._dispatcher.embeddings(request, timeout, _override(routing))


class Models:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def list(self) -> ModelList:
        return ModelList(data=[ModelCard(id=name) for name in self._gateway._dispatcher.routes])


def _routes_from_objects(models: Mapping[str, ModelSpec]) -> dict[str, ModelRoute]:
    routes: dict[str, ModelRoute] = {}
    for model, spec in models.items():
        items = list(spec) if isinstance(spec, Sequence) else [spec]
        if not items:
            raise ConfigError(f"models.{model}: needs at least one provider or deployment")
        deployments = [
            item if isinstance(item, Deployment) else Deployment(name=item.name, provider=item)
            for item in items
        ]
        routes[model] = ModelRoute(model, deployments, RoutingConfig())
    return routes


class Gateway:
    """The async gateway. Build it from a config (file path, dict, or GatewayConfig) or from
    Python objects: ``Gateway(models={"chat": [MockProvider(), other_provider]})``."""

    def __init__(
        self,
        config: ConfigSource | None = None,
        *,
        models: Mapping[str, ModelSpec] | None = None,
        http_client: httpx.AsyncClient | None = None,
        registry: ProviderRegistry | None = None,
    ) -> None:
        if (config is None) == (models is None):
            raise ConfigError("pass either a config (file path, dict or GatewayConfig) or models=, not both")
        self.config = self._load(config) if config is not None else None
        http = self.config.http if self.config else None
        self.http = HttpPool(
            http_client,
            max_connections=http.max_connections if http else 256,
            fast_path=http.fast_path if http else True,
        )
        if self.config is not None:
            routes = self._build_routes(self.config, registry or ProviderRegistry())
        else:
            assert models is not None
            routes = _routes_from_objects(models)
        self._dispatcher = Dispatcher(routes)
        self.chat = Chat(self)
        self.completions = Completions(self)
        self.embeddings = Embeddings(self)
        self.models = Models(self)

    @staticmethod
    def _load(config: ConfigSource) -> GatewayConfig:
        if isinstance(config, GatewayConfig):
            return config
        if isinstance(config, (str, Path)):
            return load_config(config)
        return parse_config(dict(config))

    def _build_routes(self, config: GatewayConfig, registry: ProviderRegistry) -> dict[str, ModelRoute]:
        context = ProviderContext(http=self.http)
        routes: dict[str, ModelRoute] = {}
        for model, model_config in config.models.items():
            deployments = [
                build_deployment(
                    d, registry, context, f"models.{model}.deployments[{i}]", model_config.routing.breaker
                )
                for i, d in enumerate(model_config.deployments)
            ]
            routes[model] = ModelRoute(model, deployments, model_config.routing)
        return routes

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The httpx client deployments send through (yours, if you passed one)."""
        return self.http.client

    def deployments(self) -> list[Deployment]:
        return [d for route in self._dispatcher.routes.values() for d in route.deployments]

    async def aclose(self) -> None:
        """Stop health checks, close every provider and the HTTP pool."""
        await self._dispatcher.aclose()
        seen: set[int] = set()
        for deployment in self.deployments():
            if id(deployment.provider) not in seen:
                seen.add(id(deployment.provider))
                await deployment.provider.aclose()
        await self.http.aclose()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
