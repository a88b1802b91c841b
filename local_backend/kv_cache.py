"""A KV cache layer with spare capacity, so a decode step writes in place instead of copying.

transformers' ``DynamicLayer`` concatenates the whole cache with each new token; with 32 rows
that copy was ~40% of a CPU decode step. ``GrowableLayer`` keeps a buffer with room for
``RESERVE`` more columns and exposes ``keys`` / ``values`` as views of its filled part. It grows
by whole chunks, so the copy happens once per ``RESERVE`` steps.

This module imports transformers at import time; only the engine's worker code imports it.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer

RESERVE = 64  # spare columns allocated at each growth


class GrowableLayer(DynamicLayer):  # type: ignore[misc,no-untyped-call]
    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.device = key_states.device
        self._fill(key_states[:, :, :0], value_states[:, :, :0])
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        start = self.length
        end = start + key_states.shape[-2]
        if end > self._key_buffer.shape[-2]:
            self._fill(*self.filled(), extra=end - start)
        self._key_buffer[:, :, start:end] = key_states
        self._value_buffer[:, :, start:end] = value_states
        self._expose(end)
        return self.filled()

    def filled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Views of the keys and values written so far, ``[rows, heads, length, head_dim]``."""
        return self._key_buffer[:, :, : self.length], self._value_buffer[:, :, : self.length]

    def replace(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Set the layer's contents (copied into a fresh buffer with spare room)."""
        self._fill(keys, values)
        self.is_initialized = True

    def _fill(self, keys: torch.Tensor, values: torch.Tensor, extra: int = 0) -> None:
        rows, heads, length, dim = keys.shape
        capacity = length + extra + RESERVE
        self._key_buffer = keys.new_empty((rows, heads, capacity, dim))
        self._value_buffer = values.new_empty((rows, values.shape[1], capacity, values.shape[-1]))
        self._key_buffer[:, :, :length] = keys
        self._value_buffer[:, :, :length] = values
        self._expose(length)

    def _expose(self, length: int) -> None:
        self.length = length
        self.keys = self._key_buffer[:, :, :length]
        self.values = self._value_buffer[:, :, :length]


def new_cache() -> Cache:
    """An empty cache whose layers are ``GrowableLayer`` (created as the model first writes)."""
    return Cache(layer_class_to_replicate=GrowableLayer)
