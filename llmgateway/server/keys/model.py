"""A virtual key's record, and the validated fields that create or change one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llmgateway.errors import BadRequestError

if TYPE_CHECKING:
    from llmgateway.server.principal import Principal

Period = Literal["day", "month", "total"]
KeyStatus = Literal["active", "revoked", "expired"]
# A key's own PII handling of its calls; None: the model's / the config's.
PiiMode = Literal["off", "redact", "block"]
# The columns ``KeyUpdate`` may change (``budget`` spans four).
UPDATABLE = ("name", "team", "models", "rpm", "tpm", "budget", "expires_at", "metadata", "pii")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class KeyBudget(BaseModel):
    """A key's own spend limit, counted on its key's counters like ``budgets.limits`` entries."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    hard: Decimal | None = Field(default=None, ge=0, description="Reject calls that could pass it")
    soft: Decimal | None = Field(default=None, ge=0, description="Warn once when spend reaches it")
    period: Period = "month"
    currency: str = Field(default="USD", pattern=r"^[A-Za-z]{3}$")

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _limits(self) -> KeyBudget:
        if self.soft is None and self.hard is None:
            raise ValueError("give budget.hard (rejects), budget.soft (warns), or both")
        if self.soft is not None and self.hard is not None and self.soft >= self.hard:
            raise ValueError(f"budget.soft ({self.soft}) must be below budget.hard ({self.hard})")
        return self


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-12-31T00:00:00Z")
    if value is None:
        return None
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # a zone offset pushes it past year 1 or 9999
        raise ValueError("the time is out of range; give a date between years 1 and 9999") from None


class KeyUpdate(BaseModel):
    """Fields to change on a key; only those given are changed, ``None`` clears an optional one."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    team: str | None = Field(default=None, min_length=1, max_length=200)
    models: list[str] | None = Field(default=None, description="Allowed public model names; [] = all")
    rpm: float | None = Field(default=None, gt=0, le=1e12, allow_inf_nan=False)
    tpm: float | None = Field(default=None, gt=0, le=1e15, allow_inf_nan=False)
    budget: KeyBudget | None = None
    expires_at: datetime | None = None
    expires_in_days: float | None = Field(default=None, gt=0, description="Sets expires_at from now")
    metadata: dict[str, Any] | None = None
    pii: PiiMode | None = Field(default=None, description="None: the model's / config's PII mode")

    @field_validator("expires_at")
    @classmethod
    def _aware_expiry(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @field_validator("models")
    @classmethod
    def _model_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not name.strip() for name in value):
            raise ValueError("model names must not be empty")
        return list(dict.fromkeys(value)) if value is not None else None

    @model_validator(mode="after")
    def _check(self) -> KeyUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be cleared; give a new name")
        if self.expires_in_days is not None:
            if self.expires_at is not None:
                raise ValueError("give expires_at or expires_in_days, not both")
            self.expires_at = utcnow() + timedelta(days=self.expires_in_days)
            self.expires_in_days = None
            self.model_fields_set.add("expires_at")
        self.model_fields_set.discard("expires_in_days")
        return self

    def changes(self) -> dict[str, Any]:
        """The given fields, with ``models`` and ``metadata`` never None."""
        values = {name: getattr(self, name) for name in self.model_fields_set}
        if "models" in values and values["models"] is None:
            values["models"] = []
        if "metadata" in values and values["metadata"] is None:
            values["metadata"] = {}
        return values


class KeySpec(KeyUpdate):
    """Everything a new key is created with."""

    name: str = Field(min_length=1, max_length=200)
    models: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


U = TypeVar("U", bound="KeyUpdate")


def validated(model: type[U], data: Mapping[str, Any]) -> U:
    """``model`` from ``data``, or a 400 that names every bad field."""
    from llmgateway.config import describe_validation_error

    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise BadRequestError(describe_validation_error(exc), code="invalid_key_fields") from exc


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One stored key. ``secret_hash`` is SHA-256 of the secret: the secret itself is never stored."""

    id: str
    name: str
    secret_hash: str = field(repr=False)
    created_at: datetime
    team: str | None = None
    models: tuple[str, ...] = ()
    rpm: float | None = None
    tpm: float | None = None
    budget: KeyBudget | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    pii: PiiMode | None = None

    def status(self, now: datetime | None = None) -> KeyStatus:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"

    def public(self, now: datetime | None = None) -> dict[str, Any]:
        """The record as JSON (money as strings, times in ISO 8601); no secret, no hash."""

        def when(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment is not None else None

        budget = self.budget
        return {
            "object": "virtual_key",
            "id": self.id,
            "name": self.name,
            "team": self.team,
            "models": list(self.models),
            "rpm": self.rpm,
            "tpm": self.tpm,
            "budget": None
            if budget is None
            else {
                "hard": None if budget.hard is None else str(budget.hard),
                "soft": None if budget.soft is None else str(budget.soft),
                "period": budget.period,
                "currency": budget.currency,
            },
            "expires_at": when(self.expires_at),
            "created_at": when(self.created_at),
            "revoked_at": when(self.revoked_at),
            "status": self.status(now),
            "metadata": dict(self.metadata),
            "pii": self.pii,
        }

    def principal(self) -> Principal:
        """Who a request made with this key is: its caller, with the key's own limits and budget."""
        from llmgateway.accounting.budgets.settings import BudgetConfig
        from llmgateway.caller import Caller
        from llmgateway.limits.settings import RateLimits
        from llmgateway.server.principal import Principal

        limits = None
        if self.rpm is not None or self.tpm is not None:
            # A key over its limit is refused at once (429), not queued: a client retries itself.
            # Ten seconds' worth of requests may come back to back: "60 a minute" should not mean
            # "one a second, exactly".
            burst = max(1, int(self.rpm / 6)) if self.rpm is not None else 1
            limits = RateLimits(rpm=self.rpm, tpm=self.tpm, burst=burst, max_wait=0)
        budgets: tuple[BudgetConfig, ...] = ()
        if self.budget is not None:
            b = self.budget
            budgets = (
                BudgetConfig(
                    scope="key", name=self.id, period=b.period, soft=b.soft, hard=b.hard, currency=b.currency
                ),
            )
        caller = Caller(key=self.id, team=self.team, limits=limits, budgets=budgets, pii=self.pii)
        return Principal(caller, models=frozenset(self.models) or None)
