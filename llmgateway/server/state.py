"""Everything one proxy app holds, on ``app.state.server`` (no module-level state): built by
``create_app``, so each uvicorn worker has its own gateway and connections."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmgateway.server.call_log import CallLog
from llmgateway.server.metrics import Metrics

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
    # Parts added by the server's modules (recent calls, key store, ...).
    parts: dict[str, Any] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    # Set when the app has started (lifespan) and cleared when it begins to shut down.
    ready: bool = False
    calls: CallLog = field(init=False)
    # Removes the config's secrets (and credential-shaped strings) from error answers.
    scrub: Callable[[str], str] = field(init=False)

    def __post_init__(self) -> None:
        from llmgateway.secret_scrub import SecretScrubber, scrub_credentials

        config = getattr(self.gateway, "config", None)
        self.scrub = SecretScrubber.from_config(config) if config is not None else scrub_credentials
        guardrails = getattr(self.gateway, "guardrails", None)
        self.calls = CallLog(
            self.metrics,
            self.gateway.routes(),
            log_calls=self.config.log_calls,
            log_prompts=self.config.log_prompts,
            # With PII redaction configured, logged prompts and answers carry placeholders only.
            scrub=guardrails.scrub if guardrails is not None and guardrails.config.pii is not None else None,
        )
