"""The gateway's YAML configuration: public model names, their deployments and routing.

```yaml
models:
  chat:                                  # the public model name clients ask for
    routing: {policy: priority}
    deployments:
      - name: vllm-a                     # unique across the file; defaults to <model>-<index>
        provider: openai                 # a provider kind from the registry
        settings: {base_url: "http://10.0.0.5:8000/v1", api_key: "${VLLM_KEY}"}
        pricing: {input_per_million: 0.15, output_per_million: 0.60}
        limits: {rpm: 600, tpm: 100000}
        timeout: 30
limits: {backend: memory, keys: {"*": {rpm: 60}}}   # each section below is optional and turns
cache: {backend: sqlite}                           # its feature on: key/model rate limits, the
ledger: {backend: sqlite}                          # response cache, the usage ledger, budgets
budgets: {limits: [{scope: key, period: month, hard: "100"}]}
guardrails: {pii: {mode: redact}}                  # PII redaction, content policy
audit: {backend: sqlite}                           # admin actions and blocked calls
```

``${VAR}`` and ``${VAR:-default}`` are replaced from the environment in every string. A wrong file
fails at load with the key's path and what was expected there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmgateway.accounting.budgets.settings import BudgetsConfig
from llmgateway.accounting.ledger.settings import LedgerConfig
from llmgateway.accounting.pricing import Pricing
from llmgateway.audit.settings import AuditConfig
from llmgateway.cache.settings import CacheConfig
from llmgateway.errors import ConfigError
from llmgateway.guardrails.settings import GuardrailsConfig
from llmgateway.limits.settings import LimitsConfig, RateLimits
from llmgateway.routing.settings import RoutingConfig
from llmgateway.routing.shared_breakers import ClusterConfig
from llmgateway.server.settings import ServerConfig

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class DeploymentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str | None = Field(default=None, min_length=1)
    provider: str = Field(min_length=1)
    settings: dict[str, Any] = Field(default_factory=dict)
    pricing: Pricing = Field(default_factory=Pricing)
    limits: RateLimits = Field(default_factory=RateLimits)
    timeout: float | None = Field(default=None, gt=0, description="Seconds per call")
    weight: float = Field(default=1.0, gt=0, description="Share of traffic under the weighted policy")
    context_window: int | None = Field(default=None, ge=1, description="Prompt + output tokens it takes")


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    deployments: list[DeploymentConfig] = Field(min_length=1)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)


class HttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    max_connections: int = Field(default=256, ge=1)
    fast_path: bool = Field(
        default=True, description="Post through the gateway-owned aiohttp session directly"
    )


class PricesConfig(BaseModel):
    """The price table deployments name with ``pricing: {model: ...}``: the bundled one, or your
    own JSON file of the same shape, plus per-model overrides."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    path: str | None = Field(default=None, description="A price-table JSON file to use instead")
    overrides: dict[str, Pricing] = Field(default_factory=dict)


class ShutdownConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    handle_sigterm: bool = Field(
        default=True,
        description="On SIGTERM (when nothing else handles it) finish calls in flight and write the "
        "ledger before the process exits",
    )
    drain_seconds: float = Field(default=10.0, ge=0, description="How long calls in flight may take")


class GatewayConfig(BaseModel):
    """The whole file. Only ``models`` is required; each other section turns its feature on."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    models: dict[str, ModelConfig] = Field(min_length=1)
    http: HttpConfig = Field(default_factory=HttpConfig)
    limits: LimitsConfig | None = None
    cache: CacheConfig | None = None
    ledger: LedgerConfig | None = None
    budgets: BudgetsConfig | None = None
    prices: PricesConfig = Field(default_factory=PricesConfig)
    shutdown: ShutdownConfig = Field(default_factory=ShutdownConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    cluster: ClusterConfig | None = Field(
        default=None, description="Replicas share circuit-breaker state through this Redis"
    )
    guardrails: GuardrailsConfig | None = Field(
        default=None, description="PII redaction and the content policy; off without this"
    )
    audit: AuditConfig | None = Field(
        default=None,
        description="Where admin actions and blocked calls are recorded (default: beside the "
        "virtual keys, else only the llmgateway.audit log)",
    )

    @model_validator(mode="after")
    def _name_deployments(self) -> GatewayConfig:
        seen: dict[str, str] = {}
        for model_name, model in self.models.items():
            for index, deployment in enumerate(model.deployments):
                if deployment.name is None:
                    deployment.name = f"{model_name}-{index}"
                if deployment.name in seen:
                    raise ValueError(
                        f"deployment name '{deployment.name}' is used by models "
                        f"'{seen[deployment.name]}' and '{model_name}'; names must be unique"
                    )
                seen[deployment.name] = model_name
        return self


def interpolate_env(value: Any, env: Mapping[str, str], path: str = "") -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of a parsed YAML tree."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{path or '<root>'}: environment variable {name} is not set; "
                f"export it or write ${{{name}:-default}}"
            )

        return _ENV_PATTERN.sub(replace, value)
    if isinstance(value, dict):
        return {k: interpolate_env(v, env, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_env(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def format_location(location: tuple[int | str, ...]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem: the key's path and what was expected there."""
    lines = []
    for error in exc.errors():
        location = format_location(tuple(error["loc"]))
        if prefix:
            location = f"{prefix}.{location}" if location != "<root>" else prefix
        got = error.get("input")
        # Strings are never echoed: after ${ENV} interpolation one may be a key or a password.
        shown = "" if isinstance(got, (str, dict, list)) or got is None else f" (got {got!r})"
        lines.append(f"{location}: {error['msg']}{shown}")
    return "; ".join(lines)


def parse_config(data: Any, *, env: Mapping[str, str] | None = None, source: str = "config") -> GatewayConfig:
    """Validate an already-parsed YAML/dict tree into a GatewayConfig."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'models' key at the top level")
    data = interpolate_env(data, os.environ if env is None else env)
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        # Not chained: pydantic's own message quotes each input value, which may be a secret.
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from None


def read_yaml(path: str | Path) -> Any:
    """A YAML file's data, unvalidated; ConfigError when it cannot be read or parsed."""
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Where and what, not the offending line itself: it may hold a key.
        problem = getattr(exc, "problem", None) or type(exc).__name__
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{file}: not valid YAML{where}: {problem}") from None


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate a YAML config file."""
    return parse_config(read_yaml(path), env=env, source=str(Path(path)))
