"""Choosing the next token for each row of a batch: greedy, or temperature + top-p sampling.

Greedy rows are handled with one ``argmax`` over the batch; sampled rows each draw from their own
``torch.Generator`` so that a request's seed gives the same text whatever else shares its batch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# Below this, dividing logits by the temperature overflows to inf and sampling breaks; such a
# temperature means "greedy" anyway, so it is decoded as greedy.
MIN_SAMPLING_TEMPERATURE = 1e-4


@dataclass
class RowSampler:
    """Sampling settings and random state of one request."""

    temperature: float
    top_p: float
    generator: torch.Generator | None  # None for greedy rows

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def make_sampler(temperature: float, top_p: float, seed: int | None, device: torch.device) -> RowSampler:
    import torch

    if temperature < MIN_SAMPLING_TEMPERATURE:
        return RowSampler(temperature=0.0, top_p=top_p, generator=None)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed if seed is not None else random.SystemRandom().getrandbits(63))
    return RowSampler(temperature=temperature, top_p=top_p, generator=generator)


def sample_tokens(logits: torch.Tensor, samplers: Sequence[RowSampler]) -> list[int]:
    """One token id per row of ``logits`` (shape ``[rows, vocab]``)."""

    chosen = logits.argmax(dim=-1)
    for row, sampler in enumerate(samplers):
        if not sampler.greedy:
            chosen[row] = _sample_row(logits[row], sampler)
    return [int(t) for t in chosen.tolist()]


def _sample_row(logits: torch.Tensor, sampler: RowSampler) -> torch.Tensor:
    import torch

    probs = torch.softmax(logits.float() / sampler.temperature, dim=-1)
    if not bool(torch.isfinite(probs).all()):
        return logits.argmax(dim=-1)  # degenerate logits: never let one row fail the whole batch
    if sampler.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        # Keep the smallest prefix whose mass reaches top_p (the first token is always kept).
        drop = (cumulative - sorted_probs) >= sampler.top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        pick = torch.multinomial(sorted_probs, 1, generator=sampler.generator)
        return order[pick[0]]
    return torch.multinomial(probs, 1, generator=sampler.generator)[0]
