"""Perplexity of reference texts under a model, from its deployment's token log-probabilities.

Each text is sent as a legacy completion with ``echo=True, logprobs=0``: an OpenAI-compatible
server then returns the prompt's own tokens with log p(token | tokens before it) (the local
backend answers such a request by scoring the prompt and generating nothing). The wire model
requires ``max_tokens >= 1``, so servers that do generate append one token; only tokens whose
``text_offset`` lies inside the prompt are counted. A token without a log-probability (the first
one, when the model has no BOS token to condition on) is not scored.

The corpus perplexity is ``exp(total NLL / scored tokens)`` over all texts. ``None`` means the
model cannot score text: the deployment does not support it, answers without usable logprobs,
or rejects a text (e.g. one longer than its context); the reason is logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmgateway.errors import GatewayError, UnsupportedOperationError

if TYPE_CHECKING:
    from llmgateway.client import Gateway
    from llmgateway.types import Completion

logger = logging.getLogger(__name__)


async def reference_perplexity(gateway: Gateway, model: str, texts: Sequence[str]) -> float | None:
    """Corpus perplexity of ``texts`` under ``model``; ``None`` when the model cannot score them."""
    total_nll = 0.0
    scored = 0
    for text in texts:
        if not text.strip():
            continue  # nothing to score; an empty prompt is a bad request on most servers
        try:
            answer = await gateway.completions.create(
                model=model, prompt=text, echo=True, logprobs=0, max_tokens=1, temperature=0
            )
        except UnsupportedOperationError as exc:
            # Expected for chat-only deployments: the report shows no perplexity for them.
            logger.info("perplexity: %s cannot score text (%s)", model, exc)
            return None
        except GatewayError as exc:
            logger.warning("perplexity: %s cannot score text (%s: %s)", model, type(exc).__name__, exc)
            return None
        logprobs = prompt_logprobs(answer, text)
        if logprobs is None:
            logger.info("perplexity: %s answered without usable prompt log-probabilities", model)
            return None
        total_nll -= math.fsum(logprobs)
        scored += len(logprobs)
    if scored == 0:
        return None
    try:
        return math.exp(total_nll / scored)
    except OverflowError:
        return math.inf


def prompt_logprobs(answer: Completion, prompt: str) -> list[float] | None:
    """The scored prompt tokens' log-probabilities from an echoed completion, or ``None`` when the
    answer has none or they are malformed (lists of different lengths, non-numbers, values > 0)."""
    if not answer.choices or answer.choices[0].logprobs is None:
        return None
    data = answer.choices[0].logprobs
    tokens, values, offsets = data.get("tokens"), data.get("token_logprobs"), data.get("text_offset")
    if not isinstance(tokens, list) or not isinstance(values, list) or len(tokens) != len(values):
        return None
    if isinstance(offsets, list) and len(offsets) == len(values) and all(_is_int(o) for o in offsets):
        in_prompt = [value for value, offset in zip(values, offsets, strict=True) if offset < len(prompt)]
    elif answer.choices[0].text == prompt:
        in_prompt = list(values)  # nothing was generated: every token is the prompt's
    else:
        return None  # cannot tell the prompt's tokens from the generated one
    result: list[float] = []
    for value in in_prompt:
        if value is None:
            continue
        if not _is_number(value) or math.isnan(value) or value > 1e-6:
            return None
        result.append(float(value))
    return result or None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
