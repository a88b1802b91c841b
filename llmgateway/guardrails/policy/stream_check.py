"""The content policy on a streamed answer, chunk by chunk.

Each delta is matched together with a bounded tail of what came before it, so a term split across
chunks ("pipe b" + "omb") is caught the moment its last piece arrives, while the work per chunk
stays constant however long the answer grows. The tail is kept raw (not normalised) so a
character split from its combining mark across chunks still normalises as one.

A match that ends exactly where the text so far ends is not decided yet: "ass" may be a word of
its own, or the start of "assets". ``feed`` then answers True (pending) and the stream holds that
chunk back until the next delta, the choice's end (``end``) or ``finish`` decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from llmgateway.errors import ContentPolicyError
from llmgateway.guardrails.policy.blocklist import normalise

if TYPE_CHECKING:
    from llmgateway.guardrails.policy.blocklist import Blocklist

# Characters of tail kept at least. Each chunk costs a search over the tail (about 2 us for 128
# characters, 7 us for 512), so the tail is sized from the longest term (three times it, for
# generous whitespace between words) rather than made large. A pattern match longer than the tail
# is only caught by ``finish`` when the answer is kept for the classifier, or by check_output.
MIN_TAIL_CHARS = 128


class StreamPolicyCheck:
    """One streamed answer's check: ``feed`` every text delta, then ``finish`` at the end."""

    def __init__(
        self,
        blocklist: Blocklist,
        *,
        enabled: bool = True,
        final_check: Callable[[str], Awaitable[None]] | None = None,
        tail_chars: int | None = None,
    ) -> None:
        self._blocklist = blocklist
        self._match = enabled and bool(blocklist)
        self._final_check = final_check if enabled else None
        self._tail_limit = tail_chars or max(MIN_TAIL_CHARS, 3 * blocklist.longest_term)
        self._tail = ""
        self._tail_trimmed = False  # the tail's first character is then only a word's left neighbour
        # The whole answer is kept only when the classifier needs it at the end.
        self._parts: list[str] | None = [] if self._final_check is not None else None
        self._refused: ContentPolicyError | None = None
        # The category of a match that ends where the text so far ends (undecided), if any.
        self._pending: str | None = None

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def feed(self, delta: str) -> bool:
        """Raise ContentPolicyError(stage="output") as soon as the answer so far breaks a blocklist
        rule (and again on every later call: the stream must stop). True when a match ends at the
        very end of the text so far: hold this delta back until the next call decides."""
        if self._refused is not None:
            raise self._refused
        if not delta:
            return self.pending
        if self._parts is not None:
            self._parts.append(delta)
        if not self._match:
            return False
        window = self._tail + delta
        self._check(window, at_start=not self._tail_trimmed, last=True)
        if len(window) > self._tail_limit:
            window = window[-self._tail_limit :]
            self._tail_trimmed = True
        self._tail = window
        return self.pending

    def end(self) -> None:
        """The answer's text is complete: a match held pending at its end breaks the rule."""
        if self._refused is not None:
            raise self._refused
        if self._pending is not None:
            self._refuse(self._pending)

    async def finish(self) -> None:
        """At the end of the stream: the classifier on the whole answer, when one is configured for
        the output stage. The answer is then kept anyway, so the blocklist also runs on all of it
        first (catching patterns longer than the tail)."""
        self.end()
        if self._parts is None or self._final_check is None:
            return
        text = "".join(self._parts)
        self._parts = None
        if self._match:
            self._check(text, at_start=True)
        await self._final_check(text)

    def _check(self, text: str, *, at_start: bool, last: bool = False) -> None:
        """``last``: ``text`` ends where the answer so far ends, so a match reaching its end is
        only pending."""
        normalised = normalise(text)
        found = self._blocklist.search_normalised(normalised, at_start=at_start)
        self._pending = None
        if found is None:
            return
        if last and found.end == len(normalised):
            self._pending = found.category
            return
        self._refuse(found.category)

    def _refuse(self, category: str) -> None:
        # Imported here: the engine imports this module.
        from llmgateway.guardrails.policy.engine import refusal

        self._refused = refusal("output", "blocklist rule", category)
        raise self._refused
