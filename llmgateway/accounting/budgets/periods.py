"""Budget periods: UTC calendar days and months, or all time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# Counters outlive their period by a day, so calls that settle after midnight still find theirs.
EXPIRY_MARGIN_S = 86_400


@dataclass(frozen=True, slots=True)
class Window:
    """One period: [start, end) in UTC; both None for ``total``. ``tag`` names it in counter ids."""

    tag: str
    start: datetime | None
    end: datetime | None

    @property
    def expires_at(self) -> int | None:
        return None if self.end is None else int(self.end.timestamp()) + EXPIRY_MARGIN_S

    def resets(self) -> str:
        return "it does not reset" if self.end is None else f"it resets {self.end:%Y-%m-%dT%H:%MZ}"


_TOTAL = Window("total", None, None)


def window(period: str, now: datetime) -> Window:
    """The period of ``period`` kind that ``now`` falls in."""
    if period == "total":
        return _TOTAL
    now = now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)
    if period == "day":
        start = datetime(now.year, now.month, now.day, tzinfo=timezone.utc)
        return Window(f"{start:%Y-%m-%d}", start, start + timedelta(days=1))
    start = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=timezone.utc)
    return Window(f"{start:%Y-%m}", start, end)
