"""One cached answer: the response (without its gateway metadata), the stream chunks when it came
from a stream, who served it and what it cost then (so a hit can say what it saved).

The response is kept as its JSON bytes and parsed afresh on every hit: pydantic-core parses a
typical answer in a few microseconds, every hit gets an object it may mutate, and the in-memory
entry never shares state with what a caller holds (a deep ``model_copy`` is several times slower).
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Sequence
from typing import Union

from llmgateway.cache.keys import RequestKind
from llmgateway.cache.replay import assemble, completion_chunks
from llmgateway.types import ChatCompletion, ChatCompletionChunk, Completion, Cost, EmbeddingResponse

CachedResponse = Union[ChatCompletion, Completion, EmbeddingResponse]
_TYPES: dict[str, type[CachedResponse]] = {
    "chat": ChatCompletion,
    "completion": Completion,
    "embedding": EmbeddingResponse,
}
# Serialized layout: magic, lengths of the metadata and the response, then metadata JSON,
# response JSON, and the stream chunks' JSON array (empty when the answer was not streamed).
_MAGIC = b"LGC1"
_HEADER = struct.Struct(">4sII")
_WITHOUT_GATEWAY = {"gateway"}


class CacheEntry:
    __slots__ = ("_body", "_chunks", "cost", "created_at", "deployment", "kind", "provider")

    def __init__(
        self,
        kind: RequestKind,
        body: bytes,
        *,
        deployment: str,
        provider: str,
        cost: Cost,
        created_at: float,
        chunks: bytes = b"",
    ) -> None:
        self.kind: RequestKind = kind
        self.deployment = deployment
        self.provider = provider
        # What the original call cost; shared by every hit of this entry, so read it, don't mutate it.
        self.cost = cost
        self.created_at = created_at
        self._body = body
        self._chunks = chunks

    @classmethod
    def from_response(
        cls,
        kind: RequestKind,
        response: CachedResponse | None,
        *,
        deployment: str,
        provider: str,
        cost: Cost,
        chunks: Sequence[ChatCompletionChunk] | None = None,
        created_at: float | None = None,
    ) -> CacheEntry:
        """An entry from a complete answer. A streamed answer may pass only its chunks: the
        completion is assembled from them, so a non-stream request can be answered too."""
        if response is None:
            if not chunks:
                raise ValueError("a cache entry needs a response or the stream's chunks")
            response = assemble(list(chunks))
        chunk_body = b""
        if chunks:
            chunk_body = b"[" + b",".join(_json(c) for c in chunks) + b"]"
        return cls(
            kind,
            _json(response),
            deployment=deployment,
            provider=provider,
            cost=cost.model_copy(),
            created_at=time.time() if created_at is None else created_at,
            chunks=chunk_body,
        )

    @property
    def streamed(self) -> bool:
        return bool(self._chunks)

    def response(self) -> CachedResponse:
        """A fresh response object (``gateway`` unset) the caller may change freely."""
        return _TYPES[self.kind].model_validate_json(self._body)

    def chunks(self, include_usage: bool = True) -> list[ChatCompletionChunk]:
        """The chunks to replay to a stream request: the stored ones if the answer was streamed,
        otherwise synthesized from the completion. Without ``include_usage`` the usage chunk is
        left out, as a live stream does when the caller did not ask for it."""
        if self.kind != "chat":
            raise TypeError(f"a cached {self.kind} answer cannot be replayed as a chat stream")
        if not self._chunks:
            completion = self.response()
            assert isinstance(completion, ChatCompletion)
            return completion_chunks(completion, include_usage)
        chunks = [ChatCompletionChunk.model_validate(c) for c in json.loads(self._chunks)]
        if include_usage:
            return chunks
        kept = [c for c in chunks if c.choices]
        for chunk in kept:
            chunk.usage = None
        return kept

    def to_bytes(self) -> bytes:
        """For the SQLite and Redis backends. Cost amounts are kept exact, as decimal strings."""
        meta = json.dumps(
            {
                "kind": self.kind,
                "deployment": self.deployment,
                "provider": self.provider,
                "created_at": self.created_at,
                "cost": self.cost.model_dump(mode="json"),
            },
            separators=(",", ":"),
        ).encode()
        return _HEADER.pack(_MAGIC, len(meta), len(self._body)) + meta + self._body + self._chunks

    @classmethod
    def from_bytes(cls, data: bytes) -> CacheEntry:
        magic, meta_size, body_size = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a llmgateway cache entry (or written by an incompatible version)")
        start = _HEADER.size
        meta = json.loads(data[start : start + meta_size])
        body_start = start + meta_size
        return cls(
            meta["kind"],
            data[body_start : body_start + body_size],
            deployment=meta["deployment"],
            provider=meta["provider"],
            cost=Cost.model_validate(meta["cost"]),
            created_at=meta["created_at"],
            chunks=data[body_start + body_size :],
        )


def _json(model: CachedResponse | ChatCompletionChunk) -> bytes:
    return model.model_dump_json(exclude=_WITHOUT_GATEWAY).encode()
