"""Configuration of the usage ledger (the gateway config's top-level ``ledger:`` key).

```yaml
ledger:
  backend: sqlite                 # sqlite (embedded default) | postgres (many replicas) | off
  path: llmgateway_usage.sqlite   # sqlite file, relative to the working directory
  # dsn: postgresql://user@db:5432/gateway    # postgres: an asyncpg DSN
  batch_size: 500                 # records per transaction
  flush_interval: 0.5             # seconds a record may wait before its batch is written
  max_pending: 10000              # unwritten records before record() waits (never drops)
  strict: false                   # true: a call returns only once its record is committed
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class LedgerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    backend: Literal["sqlite", "postgres", "off"] = "sqlite"
    path: str = Field(default="llmgateway_usage.sqlite", min_length=1, description="SQLite file")
    dsn: str | None = Field(default=None, min_length=1, description="asyncpg DSN, for postgres")
    table: str = "llm_usage"
    batch_size: int = Field(default=500, ge=1, description="Records per transaction")
    flush_interval: float = Field(default=0.5, gt=0, description="Seconds a record may wait for its batch")
    max_pending: int = Field(
        default=10_000, ge=1, description="Unwritten records before record() waits for a flush"
    )
    strict: bool = Field(default=False, description="Each call waits until its record is committed")
    spill_path: str | None = Field(
        default=None,
        min_length=1,
        description="JSONL file for records the database cannot take by shutdown; replayed on start",
    )

    @field_validator("backend", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` as false.
        return "off" if value is False else value

    @field_validator("table")
    @classmethod
    def _check_table(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(
                "table must be a plain SQL identifier (letters, digits, underscore; not starting "
                "with a digit; at most 63 characters)"
            )
        return value

    @model_validator(mode="after")
    def _check_backend(self) -> LedgerConfig:
        if self.backend == "postgres" and not self.dsn:
            raise ValueError("backend postgres needs dsn, e.g. postgresql://user@host:5432/db")
        if self.max_pending < self.batch_size:
            raise ValueError("max_pending must be at least batch_size")
        return self

    def resolved_spill_path(self) -> Path:
        """Where unsent records go at shutdown: the configured path, else next to the SQLite file,
        else (postgres) in the working directory, named after the table."""
        if self.spill_path:
            return Path(self.spill_path)
        if self.backend == "sqlite":
            return Path(self.path + ".spill.jsonl")
        return Path(f"llmgateway_{self.table}.spill.jsonl")
