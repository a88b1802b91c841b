"""A public model name and the deployments that can serve it, in the order to try them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from llmgateway.errors import NoDeploymentAvailableError
from llmgateway.provider import Capabilities
from llmgateway.routing.deployment import Deployment
from llmgateway.routing.settings import RoutingConfig

Capability = Callable[[Capabilities], bool]


def needs_chat(c: Capabilities) -> bool:
    return c.chat


def needs_streaming(c: Capabilities) -> bool:
    return c.chat and c.streaming


def needs_tools(c: Capabilities) -> bool:
    return c.chat and c.tools


def needs_streaming_tools(c: Capabilities) -> bool:
    return c.chat and c.streaming and c.tools


def needs_completions(c: Capabilities) -> bool:
    return c.completions


def needs_embeddings(c: Capabilities) -> bool:
    return c.embeddings


@dataclass
class ModelRoute:
    model: str
    deployments: list[Deployment]
    routing: RoutingConfig

    # Whether some deployment bills by instance time (its tries then run under its clock).
    clocked: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.clocked = any(d.clock is not None for d in self.deployments)

    def only(self, keep: Callable[[Deployment], bool]) -> ModelRoute:
        """The same route over the deployments ``keep`` accepts (one call's view of it)."""
        return ModelRoute(self.model, [d for d in self.deployments if keep(d)], self.routing)

    def candidates_for(self, capable: Capability) -> list[Deployment]:
        return [d for d in self.deployments if capable(d.provider.capabilities)]

    def candidates(self, capable: Capability, what: str) -> list[Deployment]:
        """Deployments able to serve the call, in the config's order."""
        found = self.candidates_for(capable)
        if not found:
            raise NoDeploymentAvailableError(
                f"no deployment of model '{self.model}' supports {what}; "
                f"add one that does to the model's deployments"
            )
        return found
