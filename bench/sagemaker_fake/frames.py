"""AWS event-stream frames, encoded the way the SageMaker runtime sends them: prelude (total
length, headers length, CRC32 of the two), string headers, payload, and the message's CRC32."""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Mapping

_HEADER_STRING = 7


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
    """A PayloadPart event: the container's raw stream bytes (not JSON) as the payload."""
    return encode_frame(
        {":event-type": "PayloadPart", ":message-type": "event", ":content-type": "application/octet-stream"},
        data,
    )


def exception_frame(kind: str, message: str, error_code: str | None = None) -> bytes:
    """A ModelStreamError / InternalStreamFailure event that ends a stream."""
    body: dict[str, str] = {"Message": message}
    if error_code is not None:
        body["ErrorCode"] = error_code
    headers = {":exception-type": kind, ":message-type": "exception", ":content-type": "application/json"}
    return encode_frame(headers, json.dumps(body).encode())


def corrupt(frame: bytes, where: str) -> bytes:
    """Flip one bit of the prelude's checksum or of the message's."""
    index = 8 if where == "prelude" else len(frame) - 1
    return frame[:index] + bytes([frame[index] ^ 0x01]) + frame[index + 1 :]
