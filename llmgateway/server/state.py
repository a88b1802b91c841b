"""Everything one proxy app holds, on ``app.state.server`` (no module-level state): built in the
app's lifespan, so each uvicorn worker has its own gateway and connections."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmgateway.client import Gateway
    from llmgateway.server.principal import Authenticator
    from llmgateway.server.settings import ServerConfig


@dataclass
class ServerState:
    gateway: Gateway
    config: ServerConfig
    authenticator: Authenticator
    started_at: float = field(default_factory=time.time)
    # Parts added by the server's modules (metrics, recent calls, key store, ...).
    parts: dict[str, Any] = field(default_factory=dict)
