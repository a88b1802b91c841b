"""Progress of a comparison run on stderr: a live bar on a terminal, plain periodic lines in a log,
nothing when disabled. One phase at a time (calls, scoring, perplexity)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

_BAR_WIDTH = 24
# A terminal is redrawn at most this often; a log gets a line at most every PLAIN_INTERVAL.
LIVE_INTERVAL = 0.1
PLAIN_INTERVAL = 10.0


def format_duration(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``; ``3725`` -> ``"1:02:05"``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts one phase's done units and errors and shows them.

    ``live`` (default: whether ``stream`` is a TTY) draws a bar redrawn in place; otherwise a plain
    line is written when the phase starts, every ``interval`` seconds, and when it ends.
    ``enabled=False`` shows nothing but still counts (``done``, ``errors``)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool = True,
        live: bool | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        if live is None:
            isatty = getattr(self.stream, "isatty", None)
            live = bool(isatty and isatty())
        self.live = live
        self.interval = interval if interval is not None else (LIVE_INTERVAL if live else PLAIN_INTERVAL)
        self._clock = clock
        self.label = ""
        self.unit = "calls"
        self.total = 0
        self.done = 0
        self.errors = 0
        self._started = 0.0
        self._shown = 0.0
        self._open = False
        self._last = ""

    def start(self, label: str, total: int, unit: str = "calls") -> None:
        """Begin a phase of ``total`` units (ends the previous one if still open)."""
        if self._open:
            self.finish()
        self.label, self.total, self.unit = label, total, unit
        self.done = self.errors = 0
        self._started = self._shown = self._clock()
        self._open = total > 0  # a phase with nothing to do is not shown
        if self.enabled and self._open:
            self._write(self.render())  # a log learns at once how much there is to do

    def advance(self, *, error: bool = False) -> None:
        self.done += 1
        self.errors += int(error)
        now = self._clock()
        if self.enabled and now - self._shown >= self.interval:
            self._shown = now
            self._write(self.render())

    def finish(self) -> None:
        """End the phase: its final state on its own line."""
        if not self._open:
            return
        self._open = False
        line = self.render()
        if self.enabled and (self.live or line != self._last):  # a log gets no repeated line
            self._write(line, final=True)

    def note(self, text: str) -> None:
        """A message between phases (e.g. that models are loading), on its own line."""
        if self.enabled:
            self._write(text, final=True)

    def render(self) -> str:
        """The status line: label, bar (live only), count/total, %, rate, errors, ETA."""
        elapsed = max(self._clock() - self._started, 0.0)
        fraction = self.done / self.total if self.total else 1.0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.label}:"]
        if self.live:
            filled = round(fraction * _BAR_WIDTH)
            parts.append("[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]")
        parts += [f"{self.done}/{self.total}", f"{fraction:4.0%}", f"{rate:.1f} {self.unit}/s"]
        parts.append(f"{self.errors} error{'s' if self.errors != 1 else ''}")
        if self.done >= self.total:
            parts.append(f"in {format_duration(elapsed)}")
        elif rate > 0:
            parts.append(f"ETA {format_duration((self.total - self.done) / rate)}")
        else:
            parts.append("ETA --:--")
        return " ".join(parts)

    def _write(self, line: str, *, final: bool = False) -> None:
        self._last = line
        if self.live:
            # Back to the line's start and clear it, so a shorter line leaves no tail.
            self.stream.write("\r" + line + "\x1b[K" + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def resolve_progress(progress: bool | Progress) -> Progress:
    """``True``: stderr (a bar on a terminal, lines otherwise); ``False``: silent; or your own."""
    if isinstance(progress, Progress):
        return progress
    return Progress(enabled=bool(progress))
