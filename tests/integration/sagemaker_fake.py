"""A fake SageMaker *runtime* on 127.0.0.1, in front of a real container (or a canned answer).

It does what the service does on the wire, so the provider is tested against the real protocol:

- checks every request's SigV4 signature by recomputing it with botocore from the known secret,
  answering the service's 403 shapes (UnrecognizedClientException for an unknown key or token,
  InvalidSignatureException for a signature that does not match);
- forwards ``/endpoints/{name}/invocations`` to the container's ``/invocations`` with the custom
  attributes header, and turns a container error into the ModelError (424) shape;
- answers ``/invocations-response-stream`` as ``application/vnd.amazon.eventstream``: the
  container's stream bytes cut into PayloadPart frames (the payload is the raw bytes, not JSON),
  encoded here (prelude, string headers, CRC32s);
- with switches (``faults``) to split frames across writes, cut the stream into small parts,
  corrupt a checksum, send a ModelStreamError / InternalStreamFailure, or answer any documented
  error shape.

``python -m tests.integration.sagemaker_fake --port N`` runs it with a canned instant answer (the
benchmark's upstream).
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import hmac
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import ClientSession, web

REGION = "us-east-1"
ACCESS_KEY = "AKIDFAKESAGEMAKER01"
SECRET_KEY = "fake-secret-key-for-tests-only"
INVOKED_VARIANT = "AllTraffic"
_HEADER_STRING = 7

# ---------------------------------------------------------------------------------------------
# Event-stream frames
# ---------------------------------------------------------------------------------------------


def _crc(data: bytes, start: int = 0) -> int:
    return binascii.crc32(data, start) & 0xFFFFFFFF


def encode_headers(headers: Mapping[str, str]) -> bytes:
    out = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _HEADER_STRING, len(raw_value)) + raw_value
    return out


def encode_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32 of the two),
    headers, payload, and the CRC32 of everything before it."""
    encoded = encode_headers(headers)
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", _crc(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", _crc(body))


def payload_part(data: bytes) -> bytes:
    return encode_frame(
        {":event-type": "PayloadPart", ":message-type": "event", ":content-type": "application/octet-stream"},
        data,
    )


def exception_frame(kind: str, message: str, error_code: str | None = None) -> bytes:
    body: dict[str, str] = {"Message": message}
    if error_code is not None:
        body["ErrorCode"] = error_code
    headers = {":exception-type": kind, ":message-type": "exception", ":content-type": "application/json"}
    return encode_frame(headers, json.dumps(body).encode())


def corrupt(frame: bytes, where: str) -> bytes:
    """Flip one bit of the prelude's checksum or of the message's."""
    index = 8 if where == "prelude" else len(frame) - 1
    return frame[:index] + bytes([frame[index] ^ 0x01]) + frame[index + 1 :]


# ---------------------------------------------------------------------------------------------
# The service's error answers
# ---------------------------------------------------------------------------------------------

CORAL = "http://internal.amazon.com/coral/com.amazon.coral.service/"
SAGEMAKER = "http://internal.amazon.com/coral/com.amazon.sagemaker/"
LOG_STREAM = f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/sagemaker/Endpoints/my-endpoint"


@dataclass(frozen=True)
class ErrorShape:
    status: int
    body: dict[str, Any]
    error_type: str | None = None  # x-amzn-ErrorType; None: the type is only in the body


def model_error(original_status: int, original_message: str) -> ErrorShape:
    side = "client" if original_status < 500 else "server"
    return ErrorShape(
        424,
        {
            "ErrorCode": f"{side.upper()}_ERROR_FROM_MODEL",
            "LogStreamArn": LOG_STREAM,
            "Message": f"Received {side} error ({original_status}) from primary with message "
            f'"{original_message}". See https://{REGION}.console.aws.amazon.com/cloudwatch/home '
            "for more information.",
            "OriginalMessage": original_message,
            "OriginalStatusCode": original_status,
        },
        f"ModelError:{SAGEMAKER}",
    )


ERROR_SHAPES: dict[str, ErrorShape] = {
    "ModelError400": model_error(400, '{"error": "Input validation error: inputs must not be empty"}'),
    "ModelError500": model_error(500, "CUDA out of memory"),
    "ModelError429": model_error(429, "Model is overloaded"),
    "ThrottlingException": ErrorShape(
        400,
        {"message": "Rate exceeded"},
        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
    ),
    "ThrottlingExceptionBodyOnly": ErrorShape(
        400, {"__type": "com.amazon.coral.availability#ThrottlingException", "message": "Rate exceeded"}
    ),
    "ModelNotReadyException": ErrorShape(
        429,
        {"message": "Model not ready: the serverless endpoint is still provisioning capacity"},
        f"ModelNotReadyException:{SAGEMAKER}",
    ),
    "ValidationError": ErrorShape(
        400,
        {"message": "1 validation error detected: Value at 'customAttributes' failed to satisfy constraint"},
        f"ValidationError:{SAGEMAKER}",
    ),
    "ValidationErrorNotFound": ErrorShape(
        400,
        {"message": "Endpoint my-endpoint of account 123456789012 not found."},
        f"ValidationError:{SAGEMAKER}",
    ),
    "InternalFailure": ErrorShape(
        500, {"message": "An internal failure occurred."}, f"InternalFailure:{SAGEMAKER}"
    ),
    "ServiceUnavailable": ErrorShape(
        503,
        {"message": "The service is unavailable. Try your call again."},
        f"ServiceUnavailable:{SAGEMAKER}",
    ),
    "InternalDependencyException": ErrorShape(
        530,
        {"message": "Your request caused an exception with an internal dependency."},
        "InternalDependencyException",
    ),
    "UnrecognizedClientException": ErrorShape(
        403,
        {"message": "The security token included in the request is invalid."},
        f"UnrecognizedClientException:{CORAL}",
    ),
    "InvalidSignatureException": ErrorShape(
        403,
        {
            "message": "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details."
        },
        f"InvalidSignatureException:{CORAL}",
    ),
    "AccessDeniedException": ErrorShape(
        403,
        {
            "message": "User: arn:aws:iam::123456789012:user/test is not authorized to perform: "
            "sagemaker:InvokeEndpoint on resource: "
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint"
        },
        "AccessDeniedException",
    ),
}


def error_response(shape: ErrorShape) -> web.Response:
    headers = {"x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"}
    if shape.error_type is not None:
        headers["x-amzn-ErrorType"] = shape.error_type
    return web.Response(
        status=shape.status,
        body=json.dumps(shape.body).encode(),
        content_type="application/json",
        headers=headers,
    )


# ---------------------------------------------------------------------------------------------
# SigV4, checked with botocore
# ---------------------------------------------------------------------------------------------


def check_signature(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, tuple[str, str | None]],
    region: str = REGION,
) -> str | None:
    """None when the request is signed right; else the name of the service's error shape."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = headers.get("authorization", "")
    algorithm, _, fields = auth.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        return "InvalidSignatureException"
    parts = dict(p.strip().split("=", 1) for p in fields.split(",") if "=" in p)
    access_key, _, scope = parts.get("Credential", "").partition("/")
    if access_key not in keys:
        return "UnrecognizedClientException"
    secret, token = keys[access_key]
    if headers.get("x-amz-security-token") != token:
        return "UnrecognizedClientException"
    date, scope_region, service, terminator = [*scope.split("/"), "", "", ""][:4]
    stamp = headers.get("x-amz-date", "")
    if (scope_region, service, terminator) != (region, "sagemaker", "aws4_request") or stamp[:8] != date:
        return "InvalidSignatureException"
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "InvalidSignatureException"
    if abs((datetime.now(timezone.utc) - when).total_seconds()) > 300:
        return "InvalidSignatureException"  # "Signature expired"
    signed = parts.get("SignedHeaders", "").split(";")
    if "host" not in signed or any(name not in headers for name in signed):
        return "InvalidSignatureException"
    request = AWSRequest(method=method, url=url, data=body, headers={name: headers[name] for name in signed})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(access_key, secret, token), "sagemaker", region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return None if hmac.compare_digest(expected, parts.get("Signature", "")) else "InvalidSignatureException"


# ---------------------------------------------------------------------------------------------
# The runtime
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Canned answers and the command line (the benchmark runs the fake in its own process)
# ---------------------------------------------------------------------------------------------

CANNED_TEXT = "Paris is the capital of France."


def canned_messages() -> Canned:
    """A Messages-API container's instant answer: a chat completion, and its stream."""
    usage = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}
    answer = {
        "id": "chatcmpl-canned",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "tgi",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": CANNED_TEXT}, "finish_reason": "stop"}
        ],
        "usage": usage,
    }
    events = []
    for index, word in enumerate(CANNED_TEXT.split(" ")):
        piece = word if index == 0 else " " + word
        chunk = {
            "id": "chatcmpl-canned",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "tgi",
        }
        chunk["choices"] = [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]
        events.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    final = {
        "id": "chatcmpl-canned",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "tgi",
    }
    final["choices"] = [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    events.append(b"data: " + json.dumps(final).encode() + b"\n\n")
    events.append(b"data: " + json.dumps({**final, "choices": [], "usage": usage}).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return Canned(json.dumps(answer).encode(), events, "text/event-stream")


async def _serve(port: int) -> None:
    fake = FakeRuntime(canned=canned_messages(), record=False)
    url = await fake.start(port)
    print(f"listening on {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A fake SageMaker runtime with a canned Messages answer")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
