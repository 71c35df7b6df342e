"""A job's scheduled slots: which fire times lie in a gap, so the gap can be recorded as missed.

Pure functions of a :class:`~bi_app.jobs.definitions.JobSpec` and two times (aware UTC). A gap
after a long outage is capped: its newest slots (at most :data:`MAX_SLOTS`, none older than
:data:`WINDOW`) are listed one by one, the older ones only counted, to be stored as one summary.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field

from bi_app.jobs.definitions import ALIGN_EPOCH, UTC, JobSpec

WINDOW = dt.timedelta(hours=24)
MAX_SLOTS = 500
CRON_SCAN_CAP = 200_000  # fire times a cron gap is scanned for before the count is cut short


@dataclass(frozen=True)
class Gap:
    """Slots strictly between two times: ``recent`` one by one (oldest first), and
    ``older_count`` more, from ``older_first`` to ``older_last``, only counted."""

    recent: list[dt.datetime] = field(default_factory=list)
    older_count: int = 0
    older_first: dt.datetime | None = None
    older_last: dt.datetime | None = None

    @property
    def total(self) -> int:
        return len(self.recent) + self.older_count

    @property
    def newest(self) -> dt.datetime | None:
        return self.recent[-1] if self.recent else self.older_last

    def __bool__(self) -> bool:
        return self.total > 0


def aware(value: dt.datetime) -> dt.datetime:
    """A database time (naive UTC) or an aware one, as aware UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def between(
    spec: JobSpec,
    after: dt.datetime,
    before: dt.datetime,
    *,
    window: dt.timedelta = WINDOW,
    max_slots: int = MAX_SLOTS,
    tz: str | None = None,
) -> Gap:
    """The fire times of ``spec`` strictly after ``after`` and strictly before ``before`` (a
    cron read in ``tz``, default the business time zone)."""
    after, before = aware(after), aware(before)
    if before <= after:
        return Gap()
    recent_from = max(after, before - window)
    if spec.seconds is not None:
        return _interval_gap(spec.seconds, after, before, recent_from, max_slots)
    return _cron_gap(spec, after, before, recent_from, max_slots, tz)


def _interval_gap(
    seconds: int, after: dt.datetime, before: dt.datetime, recent_from: dt.datetime, cap: int
) -> Gap:
    step = dt.timedelta(seconds=seconds)
    tiny = dt.timedelta(microseconds=1)
    first = (after - ALIGN_EPOCH) // step + 1  # slot index k: ALIGN_EPOCH + k * step
    last = (before - ALIGN_EPOCH - tiny) // step
    if last < first:
        return Gap()
    recent_first = max(first, (recent_from - ALIGN_EPOCH) // step + 1, last - cap + 1)
    recent = [ALIGN_EPOCH + k * step for k in range(recent_first, last + 1)]
    older = recent_first - first
    return Gap(
        recent,
        older,
        ALIGN_EPOCH + first * step if older else None,
        ALIGN_EPOCH + (recent_first - 1) * step if older else None,
    )


def _cron_gap(
    spec: JobSpec,
    after: dt.datetime,
    before: dt.datetime,
    recent_from: dt.datetime,
    cap: int,
    tz: str | None = None,
) -> Gap:
    trigger = spec.trigger(tz)
    tiny = dt.timedelta(microseconds=1)
    recent: deque[dt.datetime] = deque()
    older, older_first, older_last = 0, None, None
    nxt = trigger.get_next_fire_time(None, after + tiny)  # the first fire time after ``after``
    scanned = 0
    while nxt is not None and nxt < before and scanned < CRON_SCAN_CAP:
        scanned += 1
        if nxt > recent_from:
            recent.append(nxt)
            if len(recent) > cap:
                dropped = recent.popleft()
                older, older_first, older_last = older + 1, older_first or dropped, dropped
        else:
            older, older_first, older_last = older + 1, older_first or nxt, nxt
        nxt = trigger.get_next_fire_time(None, nxt + tiny)
    return Gap(list(recent), older, older_first, older_last)
