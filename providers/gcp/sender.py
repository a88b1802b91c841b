"""The Vertex AI HTTP layer over the gateway's sender: the bearer token on every request, Google
error bodies turned into typed errors, and one retry with a fresh token after a 401 (a token
revoked or expired early), as Google's own clients do."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from llmgateway.transport import HttpSender, StreamResponse
from providers.gcp.auth import TokenSource
from providers.gcp.errors import vertex_error


class VertexSender:
    def __init__(
        self, sender: HttpSender, tokens: TokenSource, headers: Mapping[str, str], deployment: str
    ) -> None:
        self._sender = sender
        self._tokens = tokens
        self._deployment = deployment
        self._headers = {"content-type": "application/json", "accept": "application/json", **headers}
        self._stream_headers = {**self._headers, "accept": "text/event-stream"}

    async def _authorized(self, headers: Mapping[str, str]) -> dict[str, str]:
        authorized = {**headers, "authorization": await self._tokens.authorization()}
        quota_project = self._tokens.quota_project
        if quota_project and "x-goog-user-project" not in authorized:
            authorized["x-goog-user-project"] = quota_project
        return authorized

    async def post(self, url: str, body: bytes, timeout: float | None) -> bytes:
        """The answer's body; a non-2xx answer raises its mapped error."""
        for attempt in range(2):
            headers = await self._authorized(self._headers)
            response = await self._sender.post(url, body, headers, timeout)
            if response.status < 300:
                return response.body
            if response.status == 401 and attempt == 0 and self._tokens.invalidate(headers["authorization"]):
                continue
            raise vertex_error(response.status, response.body, response.headers, deployment=self._deployment)
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def stream(self, url: str, body: bytes, timeout: float | None) -> AsyncIterator[StreamResponse]:
        """A streamed answer that has already passed its status check."""
        for attempt in range(2):
            headers = await self._authorized(self._stream_headers)
            async with self._sender.stream(url, body, headers, timeout) as response:
                if response.status < 300:
                    yield response
                    return
                raw = await response.read()
            if response.status == 401 and attempt == 0 and self._tokens.invalidate(headers["authorization"]):
                continue
            raise vertex_error(response.status, raw, response.headers, deployment=self._deployment)
