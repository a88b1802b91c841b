"""Semantic index: finds a cached answer for a request that says the same thing in other words.

Per namespace (same kind, model and every parameter; see ``RequestKey.namespace``) it keeps a
matrix of unit vectors of the requests' text and the exact cache key each one was stored under.
A lookup embeds the new request and takes the best cosine similarity at or above the threshold.
The index lives in memory (the entries it points to may be in SQLite or Redis): after a restart it
fills again as answers are stored, and a key whose entry expired simply misses.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from local_backend.scoring import EmbeddingModel

Embedder = Callable[[list[str]], Awaitable[list[list[float]]]]
Vector = Any  # a 1-D float32 numpy array of unit length


def request_text(kind: str, fields: Mapping[str, Any]) -> str:
    """The text a request is compared by: the conversation (role: text per message) or the prompt."""
    if kind == "chat":
        lines = []
        for message in fields.get("messages", ()):
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
            lines.append(f"{message.get('role', 'user')}: {content or ''}")
        return "\n".join(lines)
    prompt = fields.get("prompt", "")
    return prompt if isinstance(prompt, str) else "\n".join(str(p) for p in prompt)


class _Namespace:
    """Vectors in insertion order. Rows are appended into a growing matrix; dropping the oldest
    compacts it."""

    def __init__(self, dimension: int) -> None:
        import numpy as np

        self.matrix: np.ndarray[Any, Any] = np.empty((16, dimension), dtype=np.float32)
        self.keys: list[str] = []
        self.known: set[str] = set()

    def add(self, vector: Vector, key: str) -> None:
        import numpy as np

        if key in self.known:  # stored again (refreshed, or after expiry): same request text
            return
        if len(self.keys) == self.matrix.shape[0]:
            grown = np.empty((self.matrix.shape[0] * 2, self.matrix.shape[1]), dtype=np.float32)
            grown[: len(self.keys)] = self.matrix[: len(self.keys)]
            self.matrix = grown
        self.matrix[len(self.keys)] = vector
        self.keys.append(key)
        self.known.add(key)

    def drop_oldest(self, count: int) -> None:
        size = len(self.keys)
        self.matrix[: size - count] = self.matrix[count:size]
        self.known.difference_update(self.keys[:count])
        del self.keys[:count]

    def best(self, vector: Vector) -> tuple[float, str] | None:
        if not self.keys:
            return None
        scores = self.matrix[: len(self.keys)] @ vector
        index = int(scores.argmax())
        return float(scores[index]), self.keys[index]


class SemanticIndex:
    def __init__(self, embedder: Embedder, *, threshold: float = 0.95, max_entries: int = 10_000) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.max_entries = max_entries
        # namespace -> vectors, least recently added-to first (the oldest entries are dropped first)
        self._spaces: OrderedDict[str, _Namespace] = OrderedDict()
        self._size = 0

    async def embed(self, text: str) -> Vector:
        import numpy as np

        (raw,) = await self.embedder([text])
        vector = np.asarray(raw, dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    async def nearest(self, namespace: str, text: str) -> str | None:
        """The cache key of the most similar request in the namespace, if similar enough."""
        if namespace not in self._spaces:
            return None
        return self.nearest_vector(namespace, await self.embed(text))

    def nearest_vector(self, namespace: str, vector: Vector) -> str | None:
        space = self._spaces.get(namespace)
        found = space.best(vector) if space is not None else None
        if found is None or found[0] < self.threshold:
            return None
        return found[1]

    def has(self, namespace: str) -> bool:
        return namespace in self._spaces

    async def add(self, namespace: str, text: str, key: str) -> None:
        self.add_vector(namespace, await self.embed(text), key)

    def add_vector(self, namespace: str, vector: Vector, key: str) -> None:
        space = self._spaces.get(namespace)
        if space is None:
            space = self._spaces[namespace] = _Namespace(len(vector))
        self._spaces.move_to_end(namespace)
        before = len(space.keys)
        space.add(vector, key)
        self._size += len(space.keys) - before
        if self._size > self.max_entries:
            # Drop a tenth at once: compacting a matrix per added vector would be quadratic.
            self._drop(self._size - self.max_entries + self.max_entries // 10)

    def _drop(self, count: int) -> None:
        """Drop ``count`` vectors: the least recently added-to namespace's oldest first."""
        while count > 0 and self._spaces:
            namespace, space = next(iter(self._spaces.items()))
            n = min(count, len(space.keys))
            space.drop_oldest(n)
            self._size -= n
            count -= n
            if not space.keys:
                del self._spaces[namespace]

    def __len__(self) -> int:
        return self._size


def bundled_embedder(device: str = "cpu") -> Embedder:
    """The bundled all-MiniLM-L6-v2, loaded on first use and run in a worker thread (it needs the
    ``local`` extra: torch and transformers). Usable from any event loop."""
    loaded: list[EmbeddingModel] = []
    lock = threading.Lock()

    def run(texts: list[str]) -> list[list[float]]:
        with lock:  # one load; torch runs one forward pass at a time on this model
            if not loaded:
                loaded.append(_load_embedding_model(device))
            return loaded[0].embed(texts).vectors

    async def embed(texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(run, texts)

    return embed


def _load_embedding_model(device: str) -> EmbeddingModel:
    try:
        from local_backend.scoring import EmbeddingModel
    except ImportError as exc:
        raise ImportError(
            "the semantic cache's bundled embedder needs the local backend: pip install 'llmgateway[local]'"
        ) from exc
    return EmbeddingModel.load(device=device)
