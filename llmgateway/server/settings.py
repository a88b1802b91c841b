"""The config file's ``server:`` section: how the proxy listens, authenticates and logs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class KeyStoreConfig(BaseModel):
    """Where virtual keys live: SQLite for one host, PostgreSQL for replicas on many."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "llmgateway_keys.sqlite"
    dsn: str | None = None
    table: str = Field(default="llm_keys", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a looked-up key is trusted before it is read again"
    )

    @model_validator(mode="after")
    def _dsn_for_postgres(self) -> KeyStoreConfig:
        if self.backend == "postgres" and not self.dsn:
            raise ValueError("keys.backend postgres needs keys.dsn, e.g. postgresql://user@host/db")
        return self


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    master_key: str | None = Field(
        default=None,
        min_length=16,
        description="Bearer token for everything, the admin API and /ui; write ${LLMGATEWAY_MASTER_KEY}",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=4000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="Larger requests get 413")
    max_json_depth: int = Field(
        default=64, ge=2, le=1000, description="Bodies nested deeper (arrays, objects) get 400 json_too_deep"
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A client that has not sent its whole body this long after its headers gets 408",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A connection that has not sent a request's headers this long after opening "
        "(or after its last answer) is closed: slow-header (slowloris) clients cannot pile up",
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, description="A request line and headers larger than this get 431"
    )
    keep_alive_seconds: int = Field(
        default=5, ge=1, description="An idle keep-alive connection is closed after this"
    )
    max_connections: int | None = Field(
        default=None,
        ge=1,
        description="Open connections (and requests) per worker beyond which new ones get 503; "
        "none by default (streams are long-lived)",
    )
    log_calls: bool = Field(default=True, description="One structured JSON line per call")
    log_prompts: bool = Field(default=False, description="Include prompt and answer text in the call log")
    keys: KeyStoreConfig | None = Field(default=None, description="Virtual keys; none without this")
    dashboard: bool = True
    metrics_need_key: bool = Field(
        default=False,
        description="/metrics answers only the master key (it shows model names, spend and tokens); "
        "off by default, as Prometheus scrapers expect",
    )
