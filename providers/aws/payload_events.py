"""Events inside a response stream's payload bytes.

Containers stream server-sent events (TGI token events, OpenAI chat chunks) or bare JSON lines
(some LMI configurations). SageMaker cuts that byte stream into PayloadParts wherever it likes,
so a line, or even a UTF-8 character, may be split across parts: lines are assembled from the
bytes first and decoded only when complete.
"""

from __future__ import annotations

# A longer line means the stream is not what we think it is; stop rather than buffer forever.
MAX_LINE_BYTES = 8 * 2**20


class PayloadTooLong(ValueError):
    pass


class PayloadEvents:
    """Feed payload bytes, get each complete event's data: the ``data:`` lines of one SSE event
    joined with newlines, or one bare JSON line."""

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[str] = []

    def feed(self, data: bytes) -> list[str]:
        pending = self._pending + data if self._pending else data
        *lines, self._pending = pending.split(b"\n")
        if len(self._pending) > MAX_LINE_BYTES:
            raise PayloadTooLong(f"the stream sent a line longer than {MAX_LINE_BYTES} bytes")
        events: list[str] = []
        for raw in lines:
            self._line(raw, events)
        return events

    def close(self) -> list[str]:
        """The stream ended. A last JSON line counts without its newline; an SSE event cut off
        before its blank line does not (the SSE spec drops it: it may be incomplete)."""
        events: list[str] = []
        if self._pending and not self._data and self._pending[:1] in (b"{", b"["):
            self._line(self._pending, events)
        self._pending = b""
        self._data = []
        return events

    def _line(self, raw: bytes, events: list[str]) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw:
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
            return
        # Invalid UTF-8 is replaced, not raised: the JSON parser then reports the bad event.
        line = raw.decode("utf-8", errors="replace")
        if line.startswith("data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(" ") else value)
        elif line[0] in "{[" and not self._data:
            events.append(line)  # JSON lines, no SSE framing
        # Anything else is an SSE comment or a field we do not use (event, id, retry).
