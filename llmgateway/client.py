"""Gateway: the async SDK. OpenAI-shaped calls in front of routed deployments.

```python
async with Gateway("gateway.yaml") as gw:
    reply = await gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])
    print(reply.text(), reply.gateway.deployment, reply.gateway.cost.total)
```
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Union, overload

from llmgateway.accounting.budgets.settings import BudgetsConfig
from llmgateway.accounting.ledger.settings import LedgerConfig
from llmgateway.cache.settings import CacheConfig
from llmgateway.call_options import (
    CacheSpec,
    CallerSpec,
    cache_control,
    caller_of,
    request_payload,
    routing_override,
    validated,
)
from llmgateway.caller import Caller
from llmgateway.config import (
    GatewayConfig,
    load_config,
    parse_config,
)
from llmgateway.dispatch import Dispatcher
from llmgateway.errors import BadRequestError, ConfigError
from llmgateway.guardrails.settings import GuardrailsConfig
from llmgateway.limits.settings import LimitsConfig
from llmgateway.pipeline import Pipeline
from llmgateway.provider import Provider, ProviderContext, ProviderRegistry
from llmgateway.routing.deployment import Deployment, build_deployment
from llmgateway.routing.route import ModelRoute
from llmgateway.routing.settings import RoutingConfig, RoutingOverride
from llmgateway.services import Services, section
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
)

if TYPE_CHECKING:
    import httpx

    from llmgateway.audit.log import AuditLog
    from llmgateway.guardrails.guard import Guardrails

ConfigSource = Union[GatewayConfig, Mapping[str, Any], str, Path]
ModelSpec = Union[Provider, Deployment, Sequence[Union[Provider, Deployment]]]


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
        caller: CallerSpec = None,
        cache: CacheSpec = None,
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
        caller: CallerSpec = None,
        cache: CacheSpec = None,
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
        caller: CallerSpec = None,
        cache: CacheSpec = None,
        **params: Any,
    ) -> ChatCompletion | ChatStream:
        """Create a chat completion; with ``stream=True`` an async iterator of chunks."""
        messages = messages if isinstance(messages, list) else list(messages)
        fixed: dict[str, Any] = {"model": model, "messages": messages}
        if stream:
            fixed["stream"] = True
        request: ChatCompletionRequest = validated(
            ChatCompletionRequest, request_payload(fixed, params, extra_body)
        )
        gateway = self._gateway
        who, control = caller_of(caller, gateway.caller), cache_control(cache)
        if stream:
            return await gateway._pipeline.stream_chat(
                request, timeout, routing_override(routing), who, control
            )
        return await gateway._pipeline.chat(request, timeout, routing_override(routing), who, control)


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
        caller: CallerSpec = None,
        cache: CacheSpec = None,
        **params: Any,
    ) -> Completion:
        """A legacy text completion (no chat template), where the deployment supports it."""
        if params.get("stream"):
            raise BadRequestError("streaming text completions are not supported; use chat.completions")
        payload = request_payload({"model": model, "prompt": prompt}, params, extra_body)
        request: CompletionRequest = validated(CompletionRequest, payload)
        gateway = self._gateway
        return await gateway._pipeline.completions(
            request,
            timeout,
            routing_override(routing),
            caller_of(caller, gateway.caller),
            cache_control(cache),
        )


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
        caller: CallerSpec = None,
        cache: CacheSpec = None,
        **params: Any,
    ) -> EmbeddingResponse:
        payload = request_payload({"model": model, "input": input}, params, extra_body)
        request: EmbeddingRequest = validated(EmbeddingRequest, payload)
        gateway = self._gateway
        return await gateway._pipeline.embeddings(
            request,
            timeout,
            routing_override(routing),
            caller_of(caller, gateway.caller),
            cache_control(cache),
        )


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
    Python objects: ``Gateway(models={"chat": [MockProvider(), other_provider]})``.

    ``limits``, ``cache``, ``ledger``, ``budgets`` and ``guardrails`` (config models or mappings
    of the config file's sections of the same names) turn those features on, or replace the
    file's sections.
    ``caller`` is who calls are accounted to unless a call says otherwise (``caller=``)."""

    def __init__(
        self,
        config: ConfigSource | None = None,
        *,
        models: Mapping[str, ModelSpec] | None = None,
        http_client: httpx.AsyncClient | None = None,
        registry: ProviderRegistry | None = None,
        caller: Caller | Mapping[str, Any] | str | None = None,
        limits: LimitsConfig | Mapping[str, Any] | None = None,
        cache: CacheConfig | Mapping[str, Any] | None = None,
        ledger: LedgerConfig | Mapping[str, Any] | None = None,
        budgets: BudgetsConfig | Mapping[str, Any] | None = None,
        guardrails: GuardrailsConfig | Mapping[str, Any] | None = None,
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
        if self.config is not None and self.config.cluster is not None:
            from llmgateway.routing.shared_breakers import SharedBreakers

            deployments = [d for route in routes.values() for d in route.deployments]
            self._dispatcher.shared_breakers = SharedBreakers(self.config.cluster, deployments)
        self.caller = caller_of(caller, Caller())
        file = self.config
        self.services = Services.build(
            {name: route.deployments for name, route in routes.items()},
            limits=section(LimitsConfig, limits, "limits") or (file.limits if file else None),
            cache=section(CacheConfig, cache, "cache") or (file.cache if file else None),
            ledger=section(LedgerConfig, ledger, "ledger") or (file.ledger if file else None),
            budgets=section(BudgetsConfig, budgets, "budgets") or (file.budgets if file else None),
            # The proxy's virtual keys carry their own limits and budgets.
            per_caller=file is not None and file.server.keys is not None,
        )
        services = self.services
        from llmgateway.audit.settings import build_audit_log

        # Admin actions and blocked calls: beside the virtual keys, or only on the log.
        self.audit: AuditLog = build_audit_log(
            file.audit if file else None, file.server.keys if file else None
        )
        guarding = section(GuardrailsConfig, guardrails, "guardrails") or (file.guardrails if file else None)

        def build_guardrails() -> Guardrails:
            """Also made on first need when a caller (a virtual key) brings its own PII mode."""
            from llmgateway.guardrails.guard import Guardrails

            return Guardrails(guarding or GuardrailsConfig(), routes, self.audit, keys_may_ask=True)

        configured = guarding is not None and (guarding.pii is not None or guarding.policy is not None)
        self._pipeline = Pipeline(
            self._dispatcher,
            services.admission(),
            services.cache,
            services.ledger,
            build_guardrails() if configured else None,
            guardrails_factory=build_guardrails,
        )
        if services.ledger is not None and (file is None or file.shutdown.handle_sigterm):
            from llmgateway.shutdown import SigtermGuard

            self._pipeline.guard = SigtermGuard(self._terminate)
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
        prices = None
        if (
            config.prices.path
            or config.prices.overrides
            or any(d.pricing.model for m in config.models.values() for d in m.deployments)
        ):
            from llmgateway.accounting.price_table import load_price_table

            prices = load_price_table(config.prices.overrides or None, config.prices.path)
        routes: dict[str, ModelRoute] = {}
        for model, model_config in config.models.items():
            deployments = [
                build_deployment(
                    d,
                    registry,
                    context,
                    f"models.{model}.deployments[{i}]",
                    model_config.routing.breaker,
                    prices,
                )
                for i, d in enumerate(model_config.deployments)
            ]
            routes[model] = ModelRoute(model, deployments, model_config.routing)
        return routes

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The httpx client deployments send through (yours, if you passed one)."""
        return self.http.client

    @property
    def guardrails(self) -> Guardrails | None:
        """PII redaction and the content policy, when configured (or once a caller asked for its
        own PII mode)."""
        return self._pipeline.guardrails

    @property
    def pipeline(self) -> Pipeline:
        """The call path behind the OpenAI-shaped methods (the proxy calls it directly, with
        requests it has already validated)."""
        return self._pipeline

    def routes(self) -> Mapping[str, ModelRoute]:
        """Each public model name and its route: its deployments and routing settings."""
        return self._dispatcher.routes

    def deployments(self) -> list[Deployment]:
        return [d for route in self._dispatcher.routes.values() for d in route.deployments]

    async def warm(self) -> None:
        """Get every deployment ready (the local backend loads its model, a replica pool starts
        its workers), so the first calls do not wait for that."""
        providers = {id(d.provider): d.provider for d in self.deployments()}
        warmers = [getattr(p, "warm", None) for p in providers.values()]
        await asyncio.gather(*(w() for w in warmers if w is not None))

    async def _terminate(self) -> None:
        drain = self.config.shutdown.drain_seconds if self.config else 10.0
        await self.shutdown(drain)

    async def shutdown(self, drain_seconds: float = 10.0) -> None:
        """Stop taking calls, let those in flight finish (up to ``drain_seconds``), then close:
        what a replica does before it goes away, so no usage record is lost."""
        await self._pipeline.drain(drain_seconds)
        await self.aclose()

    async def aclose(self) -> None:
        """Stop health checks, write the usage ledger, close the stores, every provider and the
        HTTP pool."""
        if self._pipeline.guard is not None:
            self._pipeline.guard.remove()
        await self._dispatcher.aclose()
        await self._pipeline.settled()
        await self.services.aclose()
        if self._pipeline.guardrails is not None:
            await self._pipeline.guardrails.aclose()
        await self.audit.aclose()
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
