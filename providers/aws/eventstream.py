"""The ``application/vnd.amazon.eventstream`` framing, decoded with botocore's decoder.

Each frame is: total length and headers length (4 bytes each), the prelude's CRC32, typed
headers, the payload, and the whole message's CRC32. botocore's ``EventStreamBuffer`` checks
both checksums and the length limits; this module feeds it whatever the network delivered (a
frame may arrive split over many reads, or many frames in one), and turns its messages into
events: payload bytes, or the stream's own error (an ``exception`` or ``error`` message).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from botocore.eventstream import EventStreamBuffer, EventStreamMessage

PRELUDE_BYTES = 12


class EventStreamCorrupt(Exception):
    """The bytes are not a valid event stream (bad checksum, bad lengths, truncated frame)."""


class EventPayload(NamedTuple):
    """An ``event`` message: its ``:event-type`` (e.g. PayloadPart) and raw payload bytes.
    (Named tuples: one is made per frame, and they are the cheapest to make.)"""

    event_type: str
    payload: bytes


class StreamFault(NamedTuple):
    """An ``exception`` message (a modelled error such as ModelStreamError, with a JSON body) or
    an ``error`` message (code and message in headers)."""

    kind: str
    message: str
    error_code: str | None = None


Event = EventPayload | StreamFault


def _fault(message: EventStreamMessage) -> StreamFault:
    headers = message.headers
    if headers.get(":message-type") == "error":
        code = str(headers.get(":error-code") or "UnknownError")
        return StreamFault(code, str(headers.get(":error-message") or ""), code)
    kind = str(headers.get(":exception-type") or "UnknownException")
    body: Any
    try:
        body = json.loads(message.payload) if message.payload else {}
    except ValueError:
        body = message.payload.decode("utf-8", errors="replace")
    if not isinstance(body, dict):
        return StreamFault(kind, str(body))
    text = body.get("Message") or body.get("message") or ""
    error_code = body.get("ErrorCode")
    return StreamFault(kind, str(text), str(error_code) if error_code else None)


class EventStreamDecoder:
    """Incremental decoder: ``feed`` network bytes, get the complete events they finish."""

    def __init__(self) -> None:
        from botocore.eventstream import EventStreamBuffer

        self._buffer: EventStreamBuffer = EventStreamBuffer()
        self._pending = 0  # bytes fed and not yet consumed by a complete frame
        # A corrupt frame found after good ones in the same read: raised on the next call, so
        # the good events before it are still delivered.
        self._broken: EventStreamCorrupt | None = None

    def feed(self, data: bytes) -> list[Event]:
        from botocore.eventstream import ParserError

        if self._broken is not None:
            raise self._broken
        self._buffer.add_data(data)
        self._pending += len(data)
        events: list[Event] = []
        try:
            for message in self._buffer:
                self._pending -= message.prelude.total_length
                message_type = message.headers.get(":message-type", "event")
                if message_type == "event":
                    event_type = str(message.headers.get(":event-type", ""))
                    events.append(EventPayload(event_type, message.payload))
                else:
                    events.append(_fault(message))
        except ParserError as exc:
            broken = EventStreamCorrupt(f"{type(exc).__name__}: {exc}")
            broken.__cause__ = exc
            if not events:
                raise broken from exc
            self._broken = broken
        return events

    def close(self) -> None:
        """The body ended: anything left over is a frame cut short."""
        if self._broken is not None:
            raise self._broken
        if self._pending:
            raise EventStreamCorrupt(f"the stream ended inside a frame ({self._pending} bytes left over)")
