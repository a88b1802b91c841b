"""The running batch's KV cache: rows join after a prefill, decode together, and leave any step.

All rows share one ``DynamicCache`` whose time axis is left-padded: a row of real length ``L`` in
a batch of cache length ``T`` has ``T - L`` masked columns on its left. A 2-D attention mask marks
the real columns and explicit ``position_ids`` give every row its own positions, so a row's
numbers do not depend on what else is in the batch.

* ``prefill``  - run new prompts (left-padded together) and return their own small batch;
* ``merge``    - pad the shorter of two batches on the left and concatenate along the batch axis;
* ``select``   - keep some rows (finished or cancelled rows leave), then drop all-padding columns;
* ``step``     - feed one token per row and return the next-token logits.

A row's real columns need not be contiguous: with a cached prompt prefix (``PrefixKV``, e.g. the
chat template's system header shared by every request) the prefix sits in the first columns and
the rest of the prompt is left-padded after it. Attention only sees the mask, the causal order of
the columns and each key's rotary position, so the gap changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from local_backend.kv_cache import GrowableLayer, new_cache

if TYPE_CHECKING:
    from transformers import PreTrainedModel
    from transformers.cache_utils import Cache


@dataclass(frozen=True)
class PrefixKV:
    """The keys/values of a token prefix (one row), reusable by any prompt that starts with it."""

    ids: tuple[int, ...]
    layers: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per layer: keys, values [1, H, P, D]

    def matches(self, prompt: Sequence[int]) -> bool:
        """True when ``prompt`` starts with the prefix and has at least one more token."""
        n = len(self.ids)
        return len(prompt) > n and tuple(prompt[:n]) == self.ids


class KVBatch:
    def __init__(self, cache: Cache, mask: torch.Tensor, next_pos: torch.Tensor) -> None:
        self.cache = cache
        self.mask = mask  # [rows, T] long, 1 = real token
        self.next_pos = next_pos  # [rows] long, position id of each row's next input token

    def __len__(self) -> int:
        return int(self.mask.shape[0])

    @property
    def width(self) -> int:
        """Cache length T (columns, padding included)."""
        return int(self.mask.shape[1])

    def _layers(self) -> list[GrowableLayer]:
        layers = list(self.cache.layers)
        if not all(isinstance(layer, GrowableLayer) for layer in layers):
            raise RuntimeError("KVBatch needs a cache made of GrowableLayer")
        return layers  # type: ignore[return-value]

    def select(self, rows: Sequence[int]) -> None:
        """Keep only ``rows`` (in that order) and trim columns that are padding in every row."""
        index = torch.tensor(list(rows), dtype=torch.long, device=self.mask.device)
        self.mask = self.mask.index_select(0, index)
        self.next_pos = self.next_pos.index_select(0, index)
        real_columns = self.mask.any(dim=0).nonzero()
        start = int(real_columns[0]) if len(real_columns) else self.width
        self.mask = self.mask[:, start:]
        for layer in self._layers():
            keys, values = layer.filled()
            layer.replace(
                keys[:, :, start:].index_select(0, index), values[:, :, start:].index_select(0, index)
            )

    def merge(self, other: KVBatch) -> None:
        """Append ``other``'s rows after this batch's rows."""
        mine, theirs = self._layers(), other._layers()
        if len(mine) != len(theirs):
            raise RuntimeError(f"cannot merge caches with {len(mine)} and {len(theirs)} layers")
        width = max(self.width, other.width)
        self.mask = torch.cat([_left_pad(self.mask, width), _left_pad(other.mask, width)], dim=0)
        self.next_pos = torch.cat([self.next_pos, other.next_pos])
        for a, b in zip(mine, theirs, strict=True):
            (a_keys, a_values), (b_keys, b_values) = a.filled(), b.filled()
            a.replace(
                torch.cat([_left_pad(a_keys, width), _left_pad(b_keys, width)], dim=0),
                torch.cat([_left_pad(a_values, width), _left_pad(b_values, width)], dim=0),
            )

    def step(self, model: PreTrainedModel, tokens: Sequence[int], cache_arg: str) -> torch.Tensor:
        """Feed one token per row; return next-token logits ``[rows, vocab]``."""
        device = self.mask.device
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self), 1))], dim=1)
        input_ids = torch.tensor(list(tokens), dtype=torch.long, device=device).unsqueeze(1)
        # No padding anywhere (e.g. a single row): let attention take its unmasked fast path.
        mask = None if len(self) == 1 and bool(self.mask.all()) else self.mask
        out = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=self.next_pos.unsqueeze(1),
            use_cache=True,
            logits_to_keep=1,
            **{cache_arg: self.cache},
        )
        self.next_pos = self.next_pos + 1
        logits: torch.Tensor = out.logits[:, -1, :]
        return logits


def prefill(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device,
    cache_arg: str,
    prefix: PrefixKV | None = None,
) -> tuple[KVBatch, torch.Tensor]:
    """Run ``prompts`` as one batch (after ``prefix``, which they must all match); return the
    batch and each row's last-position logits."""
    skip = len(prefix.ids) if prefix is not None else 0
    suffixes = [list(p[skip:]) for p in prompts]
    width = max(len(s) for s in suffixes)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, suffix in enumerate(suffixes):
        ids[row, width - len(suffix) :] = torch.tensor(suffix, dtype=torch.long)
        mask[row, width - len(suffix) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = skip + (mask.cumsum(dim=1) - 1).clamp(min=0)
    lengths = skip + mask.sum(dim=1)
    cache = new_cache()
    if prefix is not None:
        for keys, values in prefix.layers:
            layer = GrowableLayer()
            layer.replace(keys.expand(len(prompts), -1, -1, -1), values.expand(len(prompts), -1, -1, -1))
            cache.layers.append(layer)
        mask = torch.cat([mask.new_ones((len(prompts), skip)), mask], dim=1)
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,
        **{cache_arg: cache},
    )
    return KVBatch(cache, mask, lengths), out.logits[:, -1, :]


def compute_prefix(
    model: PreTrainedModel, ids: Sequence[int], device: torch.device, cache_arg: str
) -> PrefixKV:
    """Run ``ids`` once and keep their keys/values for reuse."""
    cache = new_cache()
    model(
        input_ids=torch.tensor([list(ids)], dtype=torch.long, device=device),
        use_cache=True,
        logits_to_keep=1,
        **{cache_arg: cache},
    )
    filled = [layer.filled() for layer in cache.layers if isinstance(layer, GrowableLayer)]
    if len(filled) != len(cache.layers):
        raise RuntimeError("prefix cache expected GrowableLayer layers")
    return PrefixKV(ids=tuple(ids), layers=tuple((k.clone(), v.clone()) for k, v in filled))


def _left_pad(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """Zero-pad the time axis (dim 1 of a mask, dim 2 of a K/V tensor) on the left to ``width``."""
    axis = 1 if tensor.dim() == 2 else 2
    missing = width - tensor.shape[axis]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[axis] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=axis)
