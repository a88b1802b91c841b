"""Progress output: a throttled live bar on a terminal, periodic lines in a log, or nothing."""

from __future__ import annotations

import io

from llmgateway.compare.progress import Progress, format_duration, resolve_progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_live_bar_is_redrawn_at_most_ten_times_a_second() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, live=True, clock=clock)
    progress.start("calls", 10)
    bar = "[" + "-" * 24 + "]"
    assert out.getvalue() == f"\rcalls: {bar} 0/10   0% 0.0 calls/s 0 errors ETA --:--\x1b[K"
    for _ in range(4):
        clock.now += 0.01
        progress.advance()
    assert out.getvalue().count("\r") == 1  # four updates within 0.1 s: no redraw
    clock.now += 0.1
    progress.advance(error=True)
    last = out.getvalue().split("\r")[-1]
    # 5 done in 0.14 s: 35.7/s, 5 left: 0.14 s.
    assert last == "calls: [############------------] 5/10  50% 35.7 calls/s 1 error ETA 0:00\x1b[K"
    clock.now += 10
    for _ in range(5):
        progress.advance()
    progress.finish()
    assert out.getvalue().endswith("10/10 100% 1.0 calls/s 1 error in 0:10\x1b[K\n")
    progress.finish()  # idempotent
    assert out.getvalue().count("\n") == 1


def test_plain_lines_are_periodic_and_the_last_is_always_written() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, live=False, interval=10.0, clock=clock)
    progress.start("scoring", 200, "answers")
    assert out.getvalue() == "scoring: 0/200   0% 0.0 answers/s 0 errors ETA --:--\n"
    for _ in range(100):
        clock.now += 0.5  # a line every 10 s at most: every 20 advances
        progress.advance()
    lines = out.getvalue().splitlines()
    assert len(lines) == 6 and "\r" not in out.getvalue() and "[" not in lines[1]
    assert lines[-1] == "scoring: 100/200  50% 2.0 answers/s 0 errors ETA 0:50"
    progress.finish()
    assert out.getvalue().splitlines()[-1] == "scoring: 100/200  50% 2.0 answers/s 0 errors ETA 0:50"


def test_disabled_progress_writes_nothing_but_counts() -> None:
    out = io.StringIO()
    progress = Progress(out, enabled=False, live=True)
    progress.start("calls", 3)
    progress.advance(error=True)
    progress.advance()
    progress.finish()
    assert out.getvalue() == "" and (progress.done, progress.errors) == (2, 1)


def test_a_new_phase_closes_the_previous_one() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, live=False, clock=clock)
    progress.start("calls", 1)
    progress.advance()
    progress.start("scoring", 0, "answers")
    progress.finish()
    assert out.getvalue().splitlines() == [
        "calls: 0/1   0% 0.0 calls/s 0 errors ETA --:--",
        "calls: 1/1 100% 0.0 calls/s 0 errors in 0:00",
    ]  # and the empty scoring phase shows nothing


def test_terminal_detection_and_resolution() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Progress(Terminal()).live and Progress(Terminal()).interval == 0.1
    assert not Progress(io.StringIO()).live and Progress(io.StringIO()).interval == 10.0
    mine = Progress(io.StringIO())
    assert resolve_progress(mine) is mine
    assert not resolve_progress(False).enabled and resolve_progress(True).enabled


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 59.6, 75.2, 3725)] == ["0:00", "1:00", "1:15", "1:02:05"]


def test_notes_and_no_repeated_last_line_in_a_log() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, live=False, interval=1.0, clock=clock)
    progress.note("warming up")
    progress.start("calls", 2)
    clock.now += 2
    progress.advance()
    progress.advance()  # within the interval: not shown, so the final line is new
    clock.now += 2
    progress.start("scoring", 1, "answers")
    clock.now += 2
    progress.advance()  # shown: the phase's end does not repeat it
    progress.finish()
    assert out.getvalue().splitlines() == [
        "warming up",
        "calls: 0/2   0% 0.0 calls/s 0 errors ETA --:--",
        "calls: 1/2  50% 0.5 calls/s 0 errors ETA 0:02",
        "calls: 2/2 100% 0.5 calls/s 0 errors in 0:04",
        "scoring: 0/1   0% 0.0 answers/s 0 errors ETA --:--",
        "scoring: 1/1 100% 0.5 answers/s 0 errors in 0:02",
    ]
    live = io.StringIO()
    Progress(live, live=True).note("loading")
    assert live.getvalue() == "\rloading\x1b[K\n"
