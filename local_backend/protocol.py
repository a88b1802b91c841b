"""What goes into the local engine and what comes out of it: requests, stream events, errors.

Plain dataclasses with no torch import, so the server and the in-process provider can use them
without loading the model stack.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from llmgateway.types import Usage

FinishReason = str  # "stop" (EOS token or a stop sequence) or "length" (max_tokens / context)


@dataclass(frozen=True)
class GenerationRequest:
    """One completion to run: already-tokenised prompt plus sampling settings.

    ``temperature`` 0 means greedy decoding. ``max_tokens`` None means "until the context is
    full". ``stop`` strings are matched on the decoded text and are not part of the output.
    ``seed`` makes sampling reproducible (each request owns its own random generator).
    """

    prompt_ids: list[int]
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if not self.prompt_ids:
            raise ValueError("prompt_ids must not be empty")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if any(not s for s in self.stop):
            raise ValueError("stop sequences must be non-empty strings")


@dataclass(frozen=True)
class TokenDelta:
    """New output text. ``token_id`` is the token that produced it; None for a final flush of
    text that was held back while it could still have been the start of a stop sequence."""

    text: str
    token_id: int | None


@dataclass(frozen=True)
class GenerationDone:
    """The last event of every stream: the whole text and the request's accounting."""

    text: str
    finish_reason: FinishReason
    usage: Usage
    compute_seconds: float
    token_ids: tuple[int, ...]


GenerationEvent = TokenDelta | GenerationDone


class LocalBackendError(Exception):
    """Base class of the local backend's errors."""


class QueueFullError(LocalBackendError):
    """The scheduler's waiting queue is full; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float, queued: int) -> None:
        super().__init__(f"local backend queue is full ({queued} waiting); retry after {retry_after:.1f}s")
        self.retry_after = retry_after
        self.queued = queued


class PromptTooLongError(LocalBackendError, ValueError):
    """The prompt does not fit in the model's context window."""

    def __init__(self, prompt_tokens: int, max_context: int) -> None:
        super().__init__(
            f"prompt has {prompt_tokens} tokens; the model's context window is {max_context} tokens "
            "and at least one must be left for the completion"
        )
        self.prompt_tokens = prompt_tokens
        self.max_context = max_context


class SchedulerClosedError(LocalBackendError):
    """The scheduler is not running (not started yet, or stopped while the request was open)."""


class EngineError(LocalBackendError):
    """The model failed while running a step; every request in that step gets this error."""
