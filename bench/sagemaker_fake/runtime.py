"""The fake runtime's aiohttp app on 127.0.0.1: signature check, then the container's answer (or a
canned one) as ``InvokeEndpoint`` gives it, or cut into PayloadPart frames as
``InvokeEndpointWithResponseStream`` does, with switchable faults on the way."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

from bench.sagemaker_fake.account import ACCESS_KEY, INVOKED_VARIANT, REGION, SECRET_KEY
from bench.sagemaker_fake.error_shapes import ERROR_SHAPES, error_response, model_error
from bench.sagemaker_fake.frames import corrupt, exception_frame, payload_part
from bench.sagemaker_fake.signature import check_signature


@dataclass
class Faults:
    """What the next requests get. ``errors``: error shape names answered in turn instead of
    serving (one per request); the stream switches apply to every stream until changed."""

    errors: list[str] = field(default_factory=list)
    split_writes: int = 0  # write each frame in pieces of this many bytes (0: whole frames)
    part_bytes: int = 0  # cut the container's stream into PayloadParts this long (0: as read)
    corrupt: str | None = None  # "prelude" or "message": flip a bit of that checksum...
    corrupt_at: int = 0  # ...in this frame (0-based)
    stream_error: str | None = None  # "ModelStreamError" / "InternalStreamFailure"...
    stream_error_at: int = 0  # ...sent instead of this frame


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Canned:
    """An instant answer instead of a container (benchmarks)."""

    answer: bytes
    stream_parts: list[bytes]
    content_type: str = "application/json"


class FakeRuntime:
    def __init__(
        self,
        *,
        container_url: str | None = None,
        canned: Canned | None = None,
        keys: Mapping[str, tuple[str, str | None]] | None = None,
        region: str = REGION,
        record: bool = True,
    ) -> None:
        if (container_url is None) == (canned is None):
            raise ValueError("give a container_url or a canned answer")
        self.container_url = container_url
        self.canned = canned
        self.keys = dict(keys or {ACCESS_KEY: (SECRET_KEY, None)})
        self.region = region
        self.faults = Faults()
        self.seen: list[Seen] = []
        self.record = record
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 2**20)
        app.router.add_post("/endpoints/{name}/invocations", self._invoke)
        app.router.add_post("/endpoints/{name}/invocations-response-stream", self._invoke_stream)
        return app

    async def start(self, port: int = 0) -> str:
        # Like the service: a client that goes away stops the forwarding (and the container call).
        self._runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}"
        return self.url

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _session(self) -> ClientSession:
        if self._client is None:
            self._client = ClientSession()
        return self._client

    async def _admit(self, request: web.Request) -> tuple[bytes, web.Response | None]:
        """The body, or the answer that refuses the request (bad signature, an injected error)."""
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if self.record:
            self.seen.append(Seen(request.path, headers, body))
        refused = check_signature(request.method, str(request.url), headers, body, self.keys, self.region)
        if refused is None and self.faults.errors:
            refused = self.faults.errors.pop(0)
        return body, error_response(ERROR_SHAPES[refused]) if refused else None

    def _container_headers(self, request: web.Request, stream: bool) -> dict[str, str]:
        accept = request.headers.get("X-Amzn-SageMaker-Accept" if stream else "Accept", "application/json")
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json"), "Accept": accept}
        attributes = request.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if attributes is not None:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
        return headers

    async def _invoke(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._admit(request)
        if refused is not None:
            return refused
        served = {"x-Amzn-Invoked-Production-Variant": INVOKED_VARIANT}
        if self.canned is not None:
            return web.Response(
                body=self.canned.answer, content_type=self.canned.content_type, headers=served
            )
        url = f"{self.container_url}/invocations"
        async with self._session().post(
            url, data=body, headers=self._container_headers(request, False)
        ) as answer:
            raw = await answer.read()
            if answer.status >= 400:
                return error_response(model_error(answer.status, raw.decode("utf-8", errors="replace")))
            served["Content-Type"] = answer.headers.get("Content-Type", "application/json")
            return web.Response(body=raw, headers=served)

    async def _invoke_stream(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._admit(request)
        if refused is not None:
            return refused
        if self.canned is not None:
            return await self._send_stream(
                request, self.canned.content_type, _aiter(self.canned.stream_parts)
            )
        url = f"{self.container_url}/invocations"
        async with self._session().post(
            url, data=body, headers=self._container_headers(request, True)
        ) as answer:
            if answer.status >= 400:
                raw = await answer.read()
                return error_response(model_error(answer.status, raw.decode("utf-8", errors="replace")))
            content_type = answer.headers.get("Content-Type", "text/event-stream")
            return await self._send_stream(request, content_type, answer.content.iter_any())

    async def _send_stream(self, request: web.Request, content_type: str, source: Any) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/vnd.amazon.eventstream",
                "X-Amzn-SageMaker-Content-Type": content_type,
                "x-Amzn-Invoked-Production-Variant": INVOKED_VARIANT,
            }
        )
        await response.prepare(request)
        faults = self.faults
        index = 0
        async for data in source:
            step = faults.part_bytes or len(data)
            for start in range(0, len(data), step):
                frame = payload_part(data[start : start + step])
                if faults.stream_error is not None and index == faults.stream_error_at:
                    code = (
                        "ModelInvocationTimeExceeded" if faults.stream_error == "ModelStreamError" else None
                    )
                    await self._write(
                        response, exception_frame(faults.stream_error, "the model stopped", code)
                    )
                    return response
                if faults.corrupt is not None and index == faults.corrupt_at:
                    frame = corrupt(frame, faults.corrupt)
                await self._write(response, frame)
                index += 1
        await response.write_eof()
        return response

    async def _write(self, response: web.StreamResponse, frame: bytes) -> None:
        step = self.faults.split_writes
        if not step:
            await response.write(frame)
            return
        for start in range(0, len(frame), step):
            await response.write(frame[start : start + step])
            await asyncio.sleep(0.001)  # let each piece go out on its own


async def _aiter(items: list[bytes]) -> Any:
    for item in items:
        yield item
