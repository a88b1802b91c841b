"""Turning a stream of token ids into a stream of text deltas, with text-level stop sequences.

Detokenisation is incremental (decode a short window, not the whole output, each step) and holds
back bytes that do not yet form a complete character. Stop sequences are matched on the text; any
tail of the text that could still be the start of a stop sequence is held back until it is
decided, and the stop string itself is never emitted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Decode = Callable[[Sequence[int]], str]

_REPLACEMENT = "\ufffd"


class TextStream:
    def __init__(self, decode: Decode, stop: Sequence[str] = ()) -> None:
        self._decode = decode
        self._stop = tuple(stop)
        self._ids: list[int] = []
        self._prefix = 0  # start of the decode window (token index)
        self._read = 0  # tokens whose text is already in self._text
        self._text = ""  # all decoded text so far, including held-back tail
        self._emitted = 0  # characters of self._text handed out
        self.stopped = False

    @property
    def text(self) -> str:
        """The output text so far, cut at a stop sequence if one was found."""
        return self._text

    def push(self, token_id: int) -> str:
        """Add one token; return the text that is now safe to emit (may be empty)."""
        if self.stopped:
            return ""
        self._ids.append(token_id)
        self._text += self._new_text()
        if self._stop and self._cut_at_stop():
            self.stopped = True
        return self._take(self._safe_end())

    def flush(self) -> str:
        """At the end of generation: everything not yet emitted (the held-back tail)."""
        return self._take(len(self._text))

    def _new_text(self) -> str:
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        if len(after) <= len(before) or after.endswith(_REPLACEMENT):
            return ""  # an incomplete multi-byte character: wait for the next token
        self._prefix, self._read = self._read, len(self._ids)
        return after[len(before) :]

    def _cut_at_stop(self) -> bool:
        longest = max(len(s) for s in self._stop)
        search_from = max(0, self._emitted - longest)
        hits = [i for s in self._stop if (i := self._text.find(s, search_from)) >= 0]
        if not hits:
            return False
        self._text = self._text[: min(hits)]
        return True

    def _safe_end(self) -> int:
        """End of the text that cannot be the beginning of a stop sequence."""
        if self.stopped or not self._stop:
            return len(self._text)
        text = self._text
        for start in range(max(self._emitted, len(text) - max(len(s) for s in self._stop) + 1), len(text)):
            tail = text[start:]
            if any(s.startswith(tail) for s in self._stop):
                return start
        return len(text)

    def _take(self, end: int) -> str:
        delta = self._text[self._emitted : end]
        self._emitted = max(self._emitted, end)
        return delta
