"""Which time zone the stored roll-ups cut their days in, and rebuilding them when it changes.

Roll-ups and customer bitmaps key their rows by local dates of the business time zone
(``BI_TIMEZONE``, see :mod:`bi_app.db.periods`). A table built in one zone cannot be patched into
another a few days at a time (a partial refresh would count the orders near midnight twice), so
every full build records its zone in ``app_state`` under :data:`ROLLUP_TIMEZONE_KEY`, and a change
of ``BI_TIMEZONE`` is followed by one full rebuild: ``bi-app rollups rebuild``, ``bi-app setup``
and ``bi-app db upgrade`` (:func:`ensure_rollup_timezone`), and the periodic roll-up job.

Roll-ups built before the zone was recorded were cut in UTC: a missing key reads as ``UTC``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Connection, Engine, insert, select, update

from bi_app.db.models import AppState, Order, Visit, utcnow
from bi_app.db.periods import is_utc

log = logging.getLogger(__name__)

ROLLUP_TIMEZONE_KEY = "rollup_timezone"
CUSTOMER_MONTHS_TIMEZONE_KEY = "customer_months_timezone"  # bi_app.customer_tags' months
UNRECORDED_TIMEZONE = "UTC"  # what roll-ups built before the key existed were cut in
Echo = Callable[[str], None]


def same_zone(a: str, b: str) -> bool:
    """Whether days cut in ``a`` and in ``b`` are the same days (``UTC`` and ``Etc/UTC`` are)."""
    return a == b or (is_utc(a) and is_utc(b))


def stored_timezone(conn: Connection, key: str = ROLLUP_TIMEZONE_KEY) -> str:
    """The zone the data behind ``key`` was last built in for all days (see the module text)."""
    value = conn.execute(select(AppState.value).where(AppState.key == key)).scalar_one_or_none()
    return value or UNRECORDED_TIMEZONE


def record_timezone(conn: Connection, tz: str, key: str = ROLLUP_TIMEZONE_KEY) -> None:
    """Remember, in the caller's transaction, that the data behind ``key`` now cuts days in
    ``tz`` (an update, else an insert: portable, and the caller's transaction serializes it)."""
    now = utcnow()
    changed = conn.execute(
        update(AppState).where(AppState.key == key).values(value=tz, updated_at=now)
    ).rowcount
    if not changed:
        conn.execute(insert(AppState).values(key=key, value=tz, updated_at=now))


def stored_rollup_timezone(conn: Connection) -> str:
    """The zone the roll-ups were last built in for all days."""
    return stored_timezone(conn, ROLLUP_TIMEZONE_KEY)


def record_rollup_timezone(conn: Connection, tz: str) -> None:
    """Remember, in the caller's transaction, that the roll-ups now cut days in ``tz``."""
    record_timezone(conn, tz, ROLLUP_TIMEZONE_KEY)


def rollup_timezone(engine: Engine) -> str:
    """The zone the stored roll-ups cut their days in."""
    with engine.connect() as conn:
        return stored_rollup_timezone(conn)


def has_activity(engine: Engine) -> bool:
    """Whether there is any order or visit, i.e. anything a roll-up would hold."""
    with engine.connect() as conn:
        for column in (Order.id, Visit.id):
            if conn.execute(select(column).limit(1)).first() is not None:
                return True
    return False


def needs_rebuild(engine: Engine, tz: str) -> bool:
    """Whether the stored roll-ups were cut in another zone than ``tz`` and hold data."""
    return not same_zone(rollup_timezone(engine), tz) and has_activity(engine)


def rebuild_for_timezone(engine: Engine, tz: str, echo: Echo | None = None) -> dict:
    """Rebuild every roll-up and customer bitmap for all days with days beginning in ``tz``, in
    one transaction (readers see the old or the new tables, never a mix), and record ``tz``.
    ``echo`` hears a line per table and per month of bitmaps. Returns
    :func:`~bi_app.db.rollups.refresh_rollups`' summary."""
    from bi_app.db.rollups import refresh_rollups  # rollups records the zone through this module

    say = echo or (lambda _line: None)
    previous = rollup_timezone(engine)
    say(f"rebuilding the roll-ups: days in {tz} (were {previous})")
    summary = refresh_rollups(engine, tz=tz, progress=say)
    say(f"roll-ups rebuilt in {summary['seconds']:.1f} s")
    log.info("roll-ups rebuilt for time zone %s (were %s)", tz, previous)
    return summary


def ensure_rollup_timezone(engine: Engine, tz: str, echo: Echo | None = None) -> dict | None:
    """Make the stored roll-ups cut days in ``tz``: rebuild them when they were built in another
    zone and there is data; without data only record ``tz``. Returns the rebuild's summary, or
    None when nothing had to be rebuilt."""
    with engine.connect() as conn:
        stored = stored_rollup_timezone(conn)
    if same_zone(stored, tz):
        return None
    if not has_activity(engine):
        with engine.begin() as conn:
            record_rollup_timezone(conn, tz)
        return None
    if echo is not None:
        echo(f"BI_TIMEZONE is {tz} but the roll-ups cut days in {stored}: rebuilding them")
    return rebuild_for_timezone(engine, tz, echo)


__all__ = [
    "CUSTOMER_MONTHS_TIMEZONE_KEY",
    "ROLLUP_TIMEZONE_KEY",
    "ensure_rollup_timezone",
    "has_activity",
    "needs_rebuild",
    "rebuild_for_timezone",
    "record_rollup_timezone",
    "record_timezone",
    "rollup_timezone",
    "same_zone",
    "stored_rollup_timezone",
    "stored_timezone",
]
