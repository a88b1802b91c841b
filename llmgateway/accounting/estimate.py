"""Token estimates for when an upstream reports no usage (marked as estimated wherever used)."""

from __future__ import annotations

from collections.abc import Iterable

from llmgateway.types import ChatMessage, CompletionRequest, EmbeddingRequest, Usage

# English text averages about four characters per token across BPE tokenizers; every message
# adds a few tokens of role and separator markup in chat templates.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def estimate_text_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN if text else 0


def estimate_prompt_tokens(messages: Iterable[ChatMessage]) -> int:
    return sum(estimate_text_tokens(m.text()) + TOKENS_PER_MESSAGE for m in messages)


def estimate_usage(messages: Iterable[ChatMessage], completion_text: str) -> Usage:
    prompt = estimate_prompt_tokens(messages)
    completion = estimate_text_tokens(completion_text)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def estimate_completion_prompt_tokens(request: CompletionRequest) -> int:
    prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
    return sum(estimate_text_tokens(p) for p in prompts)


def estimate_embedding_input_tokens(request: EmbeddingRequest) -> int:
    """Strings by their length; pre-tokenised inputs (lists of ids) count one per item."""
    inputs = request.input if isinstance(request.input, list) else [request.input]
    return sum(estimate_text_tokens(i) if isinstance(i, str) else 1 for i in inputs)
