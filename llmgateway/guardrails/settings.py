"""The config file's ``guardrails:`` section.

```yaml
guardrails:
  pii:
    mode: redact                 # off | redact | block, for every model unless named below
    models: {support-bot: block, local-chat: off}
    exempt_local: true           # local deployments get the original text: it never leaves the host
    exempt_deployments: [vpc-vllm]
    detect: [email, phone, card, iban, ip, secret]
    names: {file: names.txt}     # names only where a detector is configured
  policy:
    blocklist: [{category: weapons, terms: ["build a bomb"]}]
    classifier: {kind: moderation, base_url: "http://127.0.0.1:9000/v1"}
```

A virtual key's own ``pii`` mode (set with the admin API or ``llmgateway keys``) wins over the
model's, which wins over ``mode``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llmgateway.guardrails.pii.settings import PiiDetectorsConfig
from llmgateway.guardrails.policy.settings import PolicyConfig

PiiMode = Literal["off", "redact", "block"]
PII_MODES: tuple[PiiMode, ...] = ("off", "redact", "block")


class PiiGuardConfig(PiiDetectorsConfig):
    """What to find (``detect``, ``names``) and what to do with it, per model."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    mode: PiiMode = Field(default="redact", description="The default for every model")
    models: dict[str, PiiMode] = Field(default_factory=dict, description="Per public model name")
    exempt_local: bool = Field(
        default=True,
        description="Local-backend deployments (in process, or over HTTP to a loopback address) "
        "receive the original text: it never leaves the machine",
    )
    exempt_deployments: list[str] = Field(
        default_factory=list, description="Other deployments trusted with the original text"
    )


class GuardrailsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    pii: PiiGuardConfig | None = Field(default=None, description="PII redaction; off without this")
    policy: PolicyConfig | None = Field(default=None, description="Content policy; off without this")
