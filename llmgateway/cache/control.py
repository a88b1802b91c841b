"""Per-request cache control: ``cache="skip"`` in the SDK, an ``x-llmgateway-cache`` header at the proxy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from llmgateway.errors import BadRequestError

CacheMode = Literal["default", "skip", "refresh", "no-store"]
_MODES: dict[str, CacheMode] = {
    "default": "default",
    "skip": "skip",
    "refresh": "refresh",
    "no-store": "no-store",
    "no_store": "no-store",
    # HTTP's spellings, for the proxy header.
    "no-cache": "refresh",
}
CacheControlInput = Union["CacheControl", str, Mapping[str, Any], bool, None]


@dataclass(frozen=True, slots=True)
class CacheControl:
    """``skip``: neither read nor write. ``refresh``: don't read, do write (replace the entry).
    ``no-store``: read, don't write. ``ttl``: seconds this request's answer lives (overrides config)."""

    mode: CacheMode = "default"
    ttl: float | None = None

    @property
    def reads(self) -> bool:
        return self.mode == "default" or self.mode == "no-store"

    @property
    def writes(self) -> bool:
        return self.mode == "default" or self.mode == "refresh"

    @classmethod
    def parse(cls, value: CacheControlInput) -> CacheControl:
        """Accepts a CacheControl, None (default), a bool (False: skip), a mapping ``{"mode", "ttl"}``,
        or a string: a mode, ``ttl=SECONDS``, or both comma-separated (``"refresh, ttl=60"``)."""
        if value is None or value is True:
            return _DEFAULT
        if isinstance(value, CacheControl):
            return value
        if value is False:
            return cls(mode="skip")
        if isinstance(value, str):
            return cls._parse_text(value)
        if isinstance(value, Mapping):
            unknown = set(value) - {"mode", "ttl"}
            if unknown:
                raise BadRequestError(f"cache control: unknown keys {sorted(unknown)}; use 'mode' and 'ttl'")
            return cls(mode=_mode(value.get("mode", "default")), ttl=_ttl(value.get("ttl")))
        raise BadRequestError(f"cache control: expected a string, mapping or CacheControl, got {value!r}")

    @classmethod
    def _parse_text(cls, text: str) -> CacheControl:
        mode: CacheMode = "default"
        ttl: float | None = None
        for token in (t.strip() for t in text.split(",")):
            if not token:
                continue
            name, sep, number = token.partition("=")
            if sep:
                if name.strip().lower() not in ("ttl", "max-age"):
                    raise BadRequestError(f"cache control: unknown setting {token!r}; expected ttl=SECONDS")
                ttl = _ttl(number.strip())
            else:
                mode = _mode(token)
        return cls(mode=mode, ttl=ttl)


def _mode(value: Any) -> CacheMode:
    mode = _MODES.get(str(value).strip().lower())
    if mode is None:
        raise BadRequestError(
            f"cache control: unknown mode {value!r}; use one of default, skip, refresh, no-store"
        )
    return mode


MAX_TTL_SECONDS = 10 * 365 * 86400


def _ttl(value: Any) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"cache control: ttl must be a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise BadRequestError(f"cache control: ttl must be positive, got {value!r}")
    if seconds > MAX_TTL_SECONDS:  # also inf: stores (Redis) need a finite whole number of seconds
        raise BadRequestError(
            f"cache control: ttl must be at most {MAX_TTL_SECONDS} seconds (ten years), got {value!r}"
        )
    return seconds


_DEFAULT = CacheControl()
