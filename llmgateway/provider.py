"""The Provider contract every backend implements, and the registry that finds them.

Built-in providers register through the same entry-point group as third-party ones
(``llmgateway.providers``), so the core never imports a backend by name.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from llmgateway.errors import ConfigError, UnsupportedOperationError
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
)

if TYPE_CHECKING:
    from llmgateway.transport import HttpPool

ENTRY_POINT_GROUP = "llmgateway.providers"


@dataclass(frozen=True)
class Capabilities:
    """What a deployment can do; the router only sends it calls it can serve."""

    chat: bool = True
    streaming: bool = True
    completions: bool = False
    embeddings: bool = False
    tools: bool = False


@dataclass
class ProviderContext:
    """What the gateway lends a provider when building it: the shared HTTP pool."""

    http: HttpPool
    extras: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    """One deployment's backend. ``name`` is the deployment name, ``kind`` the provider type."""

    name: str
    capabilities: Capabilities

    @property
    def kind(self) -> str: ...

    async def chat(
        self, request: ChatCompletionRequest, *, timeout: float | None = None
    ) -> ChatCompletion: ...

    def stream_chat(
        self, request: ChatCompletionRequest, *, timeout: float | None = None
    ) -> AsyncIterator[ChatCompletionChunk]: ...

    async def completions(
        self, request: CompletionRequest, *, timeout: float | None = None
    ) -> Completion: ...

    async def embeddings(
        self, request: EmbeddingRequest, *, timeout: float | None = None
    ) -> EmbeddingResponse: ...

    async def aclose(self) -> None: ...


class ProviderBase:
    """Optional base: settings model, constructor hook, and clear errors for what is unsupported."""

    kind: ClassVar[str] = "base"
    Settings: ClassVar[type[BaseModel]] = BaseModel
    capabilities: Capabilities = Capabilities()
    # The longest a call waits when no timeout is passed; None when calls are not bounded.
    default_timeout: float | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_settings(cls, name: str, settings: Any, context: ProviderContext) -> ProviderBase:
        """Build the provider from its validated ``Settings`` instance."""
        raise NotImplementedError(f"{cls.__name__} must implement from_settings")

    def _timeout(self, timeout: float | None) -> float | None:
        """A call's bound: the caller's ``timeout`` when given, else the deployment's default."""
        return timeout if timeout is not None else self.default_timeout

    def _unsupported(self, what: str) -> UnsupportedOperationError:
        return UnsupportedOperationError(
            f"deployment '{self.name}' ({self.kind}) does not support {what}; "
            "route this model to a deployment that does",
            deployment=self.name,
        )

    async def chat(self, request: ChatCompletionRequest, *, timeout: float | None = None) -> ChatCompletion:
        raise self._unsupported("chat completions")

    def stream_chat(
        self, request: ChatCompletionRequest, *, timeout: float | None = None
    ) -> AsyncIterator[ChatCompletionChunk]:
        raise self._unsupported("streaming")

    async def completions(self, request: CompletionRequest, *, timeout: float | None = None) -> Completion:
        raise self._unsupported("text completions")

    async def embeddings(
        self, request: EmbeddingRequest, *, timeout: float | None = None
    ) -> EmbeddingResponse:
        raise self._unsupported("embeddings")

    async def warm(self) -> None:
        """Get ready to answer (load a model, start workers) before the first call needs it.
        Nothing to do for a remote API."""
        return None

    async def aclose(self) -> None:
        return None


class ProviderRegistry:
    """Maps provider kinds ("openai", "mock", ...) to provider classes, loaded on first use.

    Each Gateway owns its registry; extra kinds passed in (or ``register``-ed) win over entry points.
    """

    def __init__(self, extra: Mapping[str, type[ProviderBase]] | None = None) -> None:
        from importlib.metadata import entry_points

        self._targets: dict[str, str] = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
        self._loaded: dict[str, type[ProviderBase]] = dict(extra or {})

    def register(self, kind: str, cls: type[ProviderBase]) -> None:
        self._loaded[kind] = cls

    def kinds(self) -> list[str]:
        return sorted(set(self._targets) | set(self._loaded))

    def get(self, kind: str) -> type[ProviderBase]:
        if kind in self._loaded:
            return self._loaded[kind]
        target = self._targets.get(kind)
        if target is None:
            raise ConfigError(
                f"unknown provider '{kind}'; installed providers: {', '.join(self.kinds()) or 'none'}"
                " (is the package that provides it installed?)"
            )
        module_name, _, attr = target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except ImportError as exc:
            raise ConfigError(
                f"provider '{kind}' could not be imported ({exc}); install its extra, "
                f"e.g. pip install 'llmgateway[{kind}]'"
            ) from exc
        self._loaded[kind] = obj
        return obj  # type: ignore[no-any-return]
