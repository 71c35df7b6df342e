"""Where the last good statistics of each (event, channel) are kept between fetches.

The database store is shared by every worker; if the database itself fails, values are still
kept in memory for this process, so a failing channel source is not made worse by a failing
write.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from bi_app.channels.base import ChannelStats
from bi_app.db.channel_models import ChannelLastGood

log = logging.getLogger(__name__)

Stored = tuple[ChannelStats, dt.datetime]


class LastGoodStore(Protocol):
    def get(self, event_id: int, channel: str) -> Stored | None: ...

    def put(self, event_id: int, stats: ChannelStats, at: dt.datetime) -> None: ...


class MemoryLastGoodStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[int, str], Stored] = {}

    def get(self, event_id: int, channel: str) -> Stored | None:
        with self._lock:
            return self._values.get((event_id, channel))

    def put(self, event_id: int, stats: ChannelStats, at: dt.datetime) -> None:
        with self._lock:
            self._values[(event_id, stats.channel)] = (stats, at)


class DbLastGoodStore:
    """``channel_last_good`` rows (UTC times), with an in-memory copy as the fallback."""

    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine
        self._memory = MemoryLastGoodStore()

    def get(self, event_id: int, channel: str) -> Stored | None:
        t = ChannelLastGood.__table__
        try:
            with self._engine().connect() as conn:
                row = conn.execute(
                    select(t.c.views, t.c.clicks, t.c.conversions, t.c.fetched_at).where(
                        t.c.event_id == event_id, t.c.channel == channel
                    )
                ).first()
        except Exception:
            log.warning(
                "last good value of %s for event %s unreadable; using memory",
                channel,
                event_id,
                exc_info=True,
            )
            return self._memory.get(event_id, channel)
        if row is None:
            return self._memory.get(event_id, channel)
        return ChannelStats(channel, int(row[0]), int(row[1]), int(row[2])), row[3]

    def put(self, event_id: int, stats: ChannelStats, at: dt.datetime) -> None:
        self._memory.put(event_id, stats, at)
        t = ChannelLastGood.__table__
        values = {
            "views": stats.views,
            "clicks": stats.clicks,
            "conversions": stats.conversions,
            "fetched_at": at,
        }
        key = (t.c.event_id == event_id, t.c.channel == stats.channel)
        try:
            with self._engine().begin() as conn:
                if conn.execute(update(t).where(*key).values(**values)).rowcount == 0:
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                insert(t).values(event_id=event_id, channel=stats.channel, **values)
                            )
                    except IntegrityError:  # another worker inserted it first: update theirs
                        conn.execute(update(t).where(*key).values(**values))
        except Exception:
            log.warning(
                "last good value of %s for event %s not saved",
                stats.channel,
                event_id,
                exc_info=True,
            )
