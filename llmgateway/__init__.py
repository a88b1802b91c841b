"""llmgateway: one async SDK and an OpenAI-compatible proxy in front of many LLM backends.

Names are resolved on first access (PEP 562), so ``import llmgateway`` (and ``llmgateway --version``)
costs almost nothing; ``from llmgateway import Gateway`` loads the SDK core (pydantic, no backend).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgateway.lazy_exports import lazy_getattr
from llmgateway.version import __version__

_EXPORTS = {
    "Gateway": "llmgateway.client",
    "SyncGateway": "llmgateway.sync_client",
    "ChatStream": "llmgateway.streaming",
    "GatewayConfig": "llmgateway.config",
    "load_config": "llmgateway.config",
    "Deployment": "llmgateway.routing.deployment",
    "Capabilities": "llmgateway.provider",
    "Provider": "llmgateway.provider",
    "ProviderBase": "llmgateway.provider",
    "ProviderRegistry": "llmgateway.provider",
    **{
        name: "llmgateway.errors"
        for name in (
            "APIConnectionError",
            "APITimeoutError",
            "AuthenticationError",
            "BadRequestError",
            "BudgetExceededError",
            "ConfigError",
            "GatewayError",
            "NoDeploymentAvailableError",
            "NotFoundError",
            "PermissionDeniedError",
            "RateLimitError",
            "ServiceUnavailableError",
            "StreamInterruptedError",
            "UpstreamServerError",
        )
    },
}

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "Capabilities",
    "ChatStream",
    "ConfigError",
    "Deployment",
    "Gateway",
    "GatewayConfig",
    "GatewayError",
    "NoDeploymentAvailableError",
    "NotFoundError",
    "PermissionDeniedError",
    "Provider",
    "ProviderBase",
    "ProviderRegistry",
    "RateLimitError",
    "ServiceUnavailableError",
    "StreamInterruptedError",
    "SyncGateway",
    "UpstreamServerError",
    "__version__",
    "load_config",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from llmgateway.client import Gateway
    from llmgateway.config import GatewayConfig, load_config
    from llmgateway.errors import (
        APIConnectionError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BudgetExceededError,
        ConfigError,
        GatewayError,
        NoDeploymentAvailableError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ServiceUnavailableError,
        StreamInterruptedError,
        UpstreamServerError,
    )
    from llmgateway.provider import Capabilities, Provider, ProviderBase, ProviderRegistry
    from llmgateway.routing.deployment import Deployment
    from llmgateway.streaming import ChatStream
    from llmgateway.sync_client import SyncGateway
