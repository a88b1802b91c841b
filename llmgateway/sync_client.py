"""SyncGateway: the same calls for scripts and notebooks, on a private event loop thread.

The loop lives in a daemon thread so the sync API also works where a loop is already running
(Jupyter); every call is handed to that loop and waited for.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

from llmgateway.client import Gateway
from llmgateway.streaming import ChatStream
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionChunk,
    Completion,
    EmbeddingResponse,
    GatewayMetadata,
    ModelList,
)

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="llmgateway-sync", daemon=True)
        self._thread.start()

    def run(self, awaitable: Awaitable[T]) -> T:
        if self.loop.is_closed():
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise RuntimeError("this SyncGateway is closed; create a new one")

        async def wrapper() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


class SyncChatStream:
    """A blocking iterator over a ChatStream's chunks."""

    def __init__(self, stream: ChatStream, loop: _LoopThread) -> None:
        self._stream = stream
        self._iterator = stream.__aiter__()
        self._loop = loop

    @property
    def gateway(self) -> GatewayMetadata | None:
        return self._stream.gateway

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self

    def __next__(self) -> ChatCompletionChunk:
        try:
            return self._loop.run(self._iterator.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._loop.run(self._stream.aclose())

    def __enter__(self) -> SyncChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SyncChatCompletions:
    def __init__(self, owner: SyncGateway) -> None:
        self._owner = owner

    def create(self, **kwargs: Any) -> ChatCompletion | SyncChatStream:
        result: ChatCompletion | ChatStream = self._owner._run(
            self._owner.gateway.chat.completions.create(**kwargs)
        )
        if isinstance(result, ChatStream):
            return SyncChatStream(result, self._owner._loop)
        return result


class _SyncChat:
    def __init__(self, owner: SyncGateway) -> None:
        self.completions = _SyncChatCompletions(owner)


class _SyncCompletions:
    def __init__(self, owner: SyncGateway) -> None:
        self._owner = owner

    def create(self, **kwargs: Any) -> Completion:
        return self._owner._run(self._owner.gateway.completions.create(**kwargs))


class _SyncEmbeddings:
    def __init__(self, owner: SyncGateway) -> None:
        self._owner = owner

    def create(self, **kwargs: Any) -> EmbeddingResponse:
        return self._owner._run(self._owner.gateway.embeddings.create(**kwargs))


class _SyncModels:
    def __init__(self, owner: SyncGateway) -> None:
        self._owner = owner

    def list(self) -> ModelList:
        return self._owner._run(self._owner.gateway.models.list())


class SyncGateway:
    """Blocking twin of Gateway; takes the same arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.gateway = Gateway(*args, **kwargs)  # first: a bad config must not leave a thread behind
        self._loop = _LoopThread()
        self.chat = _SyncChat(self)
        self.completions = _SyncCompletions(self)
        self.embeddings = _SyncEmbeddings(self)
        self.models = _SyncModels(self)
        self._closed = False

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this SyncGateway is closed; create a new one")
        return self._loop.run(coro)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._loop.run(self.gateway.aclose())
            finally:
                self._loop.stop()

    def __enter__(self) -> SyncGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
