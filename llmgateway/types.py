"""Wire models in the OpenAI shapes, plus the gateway's own per-response metadata.

Every model accepts and keeps unknown fields (``extra="allow"``): a client's new parameter or an
upstream's new response field travels through the gateway instead of being dropped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WireModel(BaseModel):
    """Base for every wire model: unknown fields pass through, no validation on assignment."""

    # Schemas are built on first use, so importing the SDK stays cheap.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


# ---------------------------------------------------------------------------------------------
# Chat completions: request
# ---------------------------------------------------------------------------------------------


class FunctionCall(WireModel):
    name: str | None = None
    arguments: str | None = None


class ToolCall(WireModel):
    id: str | None = None
    type: str | None = "function"
    function: FunctionCall | None = None
    index: int | None = None


class ChatMessage(WireModel):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    # A string, a list of content parts (text / image_url / ...), or None for tool-call turns.
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The message's text: the string content, or its text parts joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class StreamOptions(WireModel):
    include_usage: bool | None = None


class ChatCompletionRequest(WireModel):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    user: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None

    def output_token_limit(self) -> int | None:
        """The caller's cap on generated tokens, whichever of the two spellings it used."""
        return self.max_completion_tokens or self.max_tokens

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def wants_stream_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


# ---------------------------------------------------------------------------------------------
# Usage, cost and gateway metadata
# ---------------------------------------------------------------------------------------------


class Usage(WireModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    # Seconds of accelerator/CPU time the call used, where the backend meters it (our local
    # backend does: its share of each batched step). Lets the gateway bill by compute time.
    compute_seconds: float | None = None


class Cost(WireModel):
    """What one call cost, in exact decimal money. ``estimated`` is true when usage was guessed."""

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    compute: Decimal = Decimal(0)
    # Hedged copies of the call that lost the race: the upstream still read their prompt.
    abandoned: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    currency: str = "USD"
    estimated: bool = False
    # On a cache hit: what the original call cost, which this one did not (its total is zero).
    saved: Decimal = Decimal(0)


class Attempt(WireModel):
    """One try at one deployment: what happened, how long it took, how long the gateway waited
    (backoff) before it, and whether it was a hedged copy of an earlier try."""

    deployment: str
    outcome: Literal["ok", "error", "cancelled"]
    error: str | None = None
    status_code: int | None = None
    latency_ms: float = 0.0
    wait_ms: float = 0.0
    hedge: bool = False


class RouteScore(WireModel):
    deployment: str
    score: float
    reason: str


class RoutingInfo(WireModel):
    """Why the call went where it went: the policy, each deployment's score and reason, in the
    order they were ranked, and how many passes over them the call took."""

    policy: str
    scores: list[RouteScore] = Field(default_factory=list)
    rounds: int = 1


# hit / miss: looked up; skip: neither read nor written (asked); refresh: not read, written;
# no-store: read on a miss but not written; off: not cacheable (no cache, or not deterministic).
CacheStatus = Literal["miss", "hit", "skip", "refresh", "off", "no-store"]


class GatewayMetadata(WireModel):
    """The gateway's account of one response: who served it, how, how fast, at what cost."""

    model: str
    deployment: str
    provider: str
    attempts: list[Attempt] = Field(default_factory=list)
    routing: RoutingInfo | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    cache: CacheStatus = "off"
    cost: Cost = Field(default_factory=Cost)
    # The call's id in the usage ledger.
    request_id: str | None = None
    # Soft budget limits this call crossed.
    warnings: list[str] | None = None


# ---------------------------------------------------------------------------------------------
# Chat completions: response and stream chunks
# ---------------------------------------------------------------------------------------------


class ResponseMessage(WireModel):
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class ChatChoice(WireModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(WireModel):
    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    gateway: GatewayMetadata | None = None

    def text(self) -> str:
        """The first choice's text (empty for a tool-call-only answer)."""
        return (self.choices[0].message.content or "") if self.choices else ""


class ChunkDelta(WireModel):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class ChunkChoice(WireModel):
    index: int = 0
    delta: ChunkDelta = Field(default_factory=ChunkDelta)
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(WireModel):
    id: str
    object: str = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None
    system_fingerprint: str | None = None
    gateway: GatewayMetadata | None = None


# ---------------------------------------------------------------------------------------------
# Legacy completions
# ---------------------------------------------------------------------------------------------


class CompletionRequest(WireModel):
    model: str
    prompt: str | list[str]
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    echo: bool | None = None
    logprobs: int | None = None
    user: str | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None


class CompletionChoice(WireModel):
    index: int = 0
    text: str
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class Completion(WireModel):
    id: str
    object: str = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    gateway: GatewayMetadata | None = None


# ---------------------------------------------------------------------------------------------
# Embeddings and models
# ---------------------------------------------------------------------------------------------


class EmbeddingRequest(WireModel):
    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


class Embedding(WireModel):
    object: str = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingResponse(WireModel):
    object: str = "list"
    data: list[Embedding]
    model: str
    usage: Usage | None = None
    gateway: GatewayMetadata | None = None


class ModelCard(WireModel):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = "llmgateway"


class ModelList(WireModel):
    object: str = "list"
    data: list[ModelCard]
