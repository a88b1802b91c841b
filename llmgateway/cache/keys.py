"""Cache keys: a stable hash of the normalised request.

Normalising: None values are dropped (an absent parameter and an explicit null mean the same), the
fields below that never change the answer are left out, and everything else is kept, unknown extra
fields included (a parameter we do not know might change the output, so two requests that differ in
it never share an answer). The result is canonical JSON (sorted keys, compact) hashed with blake2b.
Key order inside free-form objects (tools, response_format, extras) therefore does not matter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

RequestKind = Literal["chat", "completion", "embedding"]

# Fields that change how or to whom an answer is delivered, or how it is billed and logged, but
# never its content. Everything not listed here is part of the key.
NON_OUTPUT_FIELDS = frozenset(
    {
        "stream",  # a cached answer is replayed in either shape
        "stream_options",  # only whether a usage chunk is sent; replay honours it
        "user",  # end-user id for abuse tracking
        "safety_identifier",  # the same, newer name
        "metadata",  # tags stored with the call
        "store",  # whether the upstream keeps the completion
        "service_tier",  # latency/price class, same model
        "prompt_cache_key",  # the upstream's own prompt-cache routing hint
        "prompt_cache_retention",
    }
)
_EXCLUDE: Any = NON_OUTPUT_FIELDS  # pydantic's exclude takes any set; its annotation says set
INPUT_FIELDS: dict[str, str] = {"chat": "messages", "completion": "prompt", "embedding": "input"}
# Bump when normalisation changes, so entries written by an older version are never read.
_PERSON = {"exact": b"llmgw-v1-exact", "ns": b"llmgw-v1-ns"}
# Canonical JSON; ASCII escapes keep any string (lone surrogates too) encodable. Values JSON does
# not know (an extra field holding a Decimal) are keyed by their str().
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class RequestKey:
    """``key``: the exact-match key. ``fields``: the normalised request (kept to derive the
    semantic namespace only when it is needed)."""

    kind: RequestKind
    key: str
    fields: dict[str, Any]

    def namespace(self) -> str:
        """The key of the request without its messages / prompt / input: same model, same
        parameters. The semantic index compares requests only within one namespace."""
        rest = {k: v for k, v in self.fields.items() if k != INPUT_FIELDS[self.kind]}
        return _digest(self.kind, "ns", rest)


def normalise(request: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """The request as plain JSON-able data, without None values and non-output fields."""
    if isinstance(request, BaseModel):
        return request.model_dump(exclude_none=True, exclude=_EXCLUDE)
    return {k: _drop_none(v) for k, v in request.items() if v is not None and k not in NON_OUTPUT_FIELDS}


def is_deterministic(kind: RequestKind, fields: Mapping[str, Any]) -> bool:
    """Embeddings always are; chat and completions when sampled greedily or with a fixed seed.
    (No temperature means the upstream's default, 1.0: not deterministic.)"""
    if kind == "embedding":
        return True
    return fields.get("temperature") == 0 or fields.get("seed") is not None


def request_key(kind: RequestKind, request: BaseModel | Mapping[str, Any]) -> RequestKey:
    fields = normalise(request)
    return RequestKey(kind, _digest(kind, "exact", fields), fields)


def _digest(kind: str, scope: str, fields: Mapping[str, Any]) -> str:
    text = _CANONICAL.encode(fields)
    digest = hashlib.blake2b(text.encode(), digest_size=16, person=_PERSON[scope]).hexdigest()
    return f"{kind}:{digest}"


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    return value
