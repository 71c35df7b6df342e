"""Calendar periods of the roll-ups and bitmaps: days, months and calendar quarters."""

from __future__ import annotations

import datetime as dt

GRAINS = ("quarter", "month", "day")  # coarse to fine; each period is a union of finer ones


def period_start(day: dt.date, grain: str) -> dt.date:
    """The first day of the ``grain`` period (day, month or calendar quarter) containing ``day``."""
    if grain == "day":
        return day
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    raise ValueError(f"grain: expected one of {', '.join(GRAINS)}, got {grain!r}")


def next_period(day: dt.date, grain: str) -> dt.date:
    """The first day of the ``grain`` period after the one containing ``day``."""
    start = period_start(day, grain)
    if grain == "day":
        return start + dt.timedelta(days=1)
    months = 1 if grain == "month" else 3
    month = start.month - 1 + months
    return dt.date(start.year + month // 12, month % 12 + 1, 1)
