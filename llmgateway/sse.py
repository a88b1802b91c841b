"""Server-sent events: parse a line stream into events, and format events for the proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str | None = None


async def iter_sse_events(lines: AsyncIterator[bytes]) -> AsyncIterator[SSEEvent]:
    """Yield one event per blank-line-terminated block; multi-line ``data:`` fields are joined
    with newlines, comments (``:``) and unknown fields are skipped, as the SSE spec says."""
    data: list[str] = []
    event: str | None = None
    async for raw in lines:
        # Invalid UTF-8 is replaced, not raised: the JSON parser then reports the bad event.
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield SSEEvent("\n".join(data), event)
            data, event = [], None
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
    if data:
        # A stream that ends without the final blank line still delivers its last event.
        yield SSEEvent("\n".join(data), event)


def format_sse(data: str | bytes) -> bytes:
    """One ``data:`` event, ready to write to a client."""
    if isinstance(data, str):
        data = data.encode()
    return b"data: " + data + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
