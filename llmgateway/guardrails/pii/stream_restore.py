"""Putting the original values back into a model's answer: whole texts, and streams of deltas.

A model may echo a placeholder as issued (``<EMAIL_1>``), in brackets (``[EMAIL_1]``) or bare
(``EMAIL_1``, as a whole word). A stream may split any of these across deltas, so the restorer
holds back only a trailing fragment that could still grow into an issued placeholder.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping

_KEY = r"(?:EMAIL|PHONE|CARD|IBAN|IP|SECRET|NAME)_[0-9]+"
# Any placeholder-shaped token; only those in the values map are replaced.
PLACEHOLDER = re.compile(rf"<({_KEY})>|\[({_KEY})\]|(?<!\w)({_KEY})(?!\w)")
_IS_WORD = re.compile(r"\w").match


def restore_text(text: str, values: Mapping[str, str], start: int = 0) -> str:
    """``text[start:]`` with every issued placeholder replaced by its value; ``text[:start]`` is
    only context (what the placeholder before ``start`` follows), not part of the result."""
    pieces: list[str] = []
    last = start
    for match in PLACEHOLDER.finditer(text, start):
        value = values.get(match.group(match.lastindex or 0))
        if value is None:
            continue  # placeholder-shaped, but not issued by this call: the text's own
        pieces.append(text[last : match.start()])
        pieces.append(value)
        last = match.end()
    if not pieces:
        return text[start:] if start else text
    pieces.append(text[last:])
    return "".join(pieces)


class StreamRestorer:
    """Restores a streamed answer delta by delta; the concatenation of every ``feed`` and the final
    ``flush`` equals restoring the whole answer at once."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self._forms = sorted({form for key in values for form in (f"<{key}>", f"[{key}]", key)})
        self._longest = max((len(form) for form in self._forms), default=0)
        self._held = ""
        # The last character already emitted: a bare placeholder must not follow a word character.
        self._context = ""

    def feed(self, delta: str) -> str:
        """The part of the text so far that is safe to emit, restored."""
        if not self._forms:
            return delta
        text = self._context + self._held + delta
        offset = len(self._context)
        hold = self._hold_point(text, offset)
        if hold == offset:
            self._held = text[offset:]
            return ""
        out = restore_text(text[:hold], self._values, offset)
        self._context = text[hold - 1]
        self._held = text[hold:]
        return out

    def flush(self) -> str:
        """Whatever is still held, restored: call once at the end of the stream."""
        text = self._context + self._held
        out = restore_text(text, self._values, len(self._context)) if self._held else ""
        self._held = ""
        self._context = text[-1:] if text else ""
        return out

    def _hold_point(self, text: str, offset: int) -> int:
        """Where the trailing fragment that could still become an issued placeholder begins."""
        for index in range(max(offset, len(text) - self._longest), len(text)):
            char = text[index]
            if char not in "<[":
                if not char.isupper() or (index > 0 and _IS_WORD(text[index - 1])):
                    continue  # a bare placeholder starts a word
            tail = text[index:]
            position = bisect.bisect_left(self._forms, tail)
            # A bare placeholder is held even when complete: "EMAIL_1" may yet become "EMAIL_12".
            if position < len(self._forms) and self._forms[position].startswith(tail):
                return index
        return len(text)
