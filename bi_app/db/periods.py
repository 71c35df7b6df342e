"""Calendar periods of the roll-ups and bitmaps: days, ISO weeks, months and calendar quarters,
as dates (:func:`period_start`, :func:`next_period`, :func:`plan_range`) and in SQL
(:class:`day_of`, :class:`week_start`, :class:`month_start`, :class:`quarter_start`,
:class:`year_start`, compiled
for SQLite and PostgreSQL alike).

Days begin at midnight in the business time zone (``BI_TIMEZONE``, :func:`business_timezone`)
while timestamps are stored as naive UTC: :class:`day_of` turns a stored timestamp into its local
date in SQL, and :func:`local_day_bounds` turns local dates back into bounds on the stored column
(a range on the raw column keeps its index usable). Weeks, months and quarters are built from
local dates, so they begin in that time zone too. Under UTC the SQL is exactly what it always was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

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


# --- the business time zone ---------------------------------------------------------------------

UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu"})
SQLITE_LOCAL_DATE = "bi_local_date"  # the SQL function :func:`register_sqlite_functions` adds
_override: str | None = None


@functools.cache
def _environment_timezone() -> str:
    """``BI_TIMEZONE`` parsed as :class:`bi_app.config.Settings` does, without building the
    whole settings object (that would create a development secret as a side effect). The CLI and
    the WSGI entry point have loaded ``.env`` by then."""
    from dataclasses import fields

    from bi_app.config import Settings

    field = next(f for f in fields(Settings) if f.name == "timezone")
    raw = os.environ.get(field.metadata["env"])
    return field.metadata["parse"](field.metadata["env"], raw) if raw is not None else field.default


def business_timezone() -> str:
    """The IANA name of the time zone where the business's days begin: a test's override, else
    the running app's ``BI_TIMEZONE`` (``BI_SETTINGS`` of the Flask app in context), else the
    environment's (jobs run in an app context, the CLI and migrations do not)."""
    if _override is not None:
        return _override
    import flask

    if flask.has_app_context():
        settings = flask.current_app.config.get("BI_SETTINGS")
        if settings is not None:
            return settings.timezone
    return _environment_timezone()


@contextlib.contextmanager
def use_timezone(tz: str) -> Iterator[None]:
    """Make :func:`business_timezone` answer ``tz`` inside the block (tests, rebuilds)."""
    global _override
    ZoneInfo(tz)  # fail early on an unknown name
    previous, _override = _override, tz
    try:
        yield
    finally:
        _override = previous


def reset_timezone_cache() -> None:
    """Forget the environment's time zone (after ``BI_TIMEZONE`` changed in this process)."""
    _environment_timezone.cache_clear()


def is_utc(tz: str) -> bool:
    return tz in UTC_NAMES


def local_date(value: dt.datetime, tz: str | None = None) -> dt.date:
    """The business-local date of a stored (naive UTC) timestamp."""
    tz = tz or business_timezone()
    if is_utc(tz):
        return value.date()
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return aware.astimezone(ZoneInfo(tz)).date()


def local_midnight_utc(day: dt.date, tz: str | None = None) -> dt.datetime:
    """The first instant of local ``day`` as a naive UTC timestamp, as stored.

    Where a clock change skips midnight the day begins at the change (``fold=0`` of the missing
    time maps there); where it repeats midnight the day begins at the second midnight (the hour
    between is still the day before by the local clock). Taking the later of the two readings
    handles both."""
    tz = tz or business_timezone()
    midnight = dt.datetime.combine(day, dt.time.min)
    if is_utc(tz):
        return midnight
    zone = ZoneInfo(tz)
    readings = (
        midnight.replace(tzinfo=zone, fold=fold).astimezone(dt.UTC).replace(tzinfo=None)
        for fold in (0, 1)
    )
    return max(readings)


def local_day_bounds(
    start: dt.date | None, end: dt.date | None, tz: str | None = None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Local days ``start..end`` (inclusive; None: open) as ``(utc_start, utc_end_exclusive)``
    naive UTC bounds on a stored timestamp column."""
    tz = tz or business_timezone()
    lo = local_midnight_utc(start, tz) if start is not None else None
    hi = local_midnight_utc(end + dt.timedelta(days=1), tz) if end is not None else None
    return lo, hi


def local_day_range(
    column: Any, start: dt.date | None, end: dt.date | None, tz: str | None = None
) -> list[ColumnElement[bool]]:
    """Conditions keeping the rows of a stored UTC ``column`` whose local day is in
    ``start..end`` (a range on the raw column: its index stays usable)."""
    lo, hi = local_day_bounds(start, end, tz)
    conditions: list[ColumnElement[bool]] = []
    if lo is not None:
        conditions.append(column >= lo)
    if hi is not None:
        conditions.append(column < hi)
    return conditions


def _local_date_text(value: str, tz: str) -> str | None:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(_zone(tz)).date().isoformat()


@functools.lru_cache(maxsize=65_536)
def _hour_date_text(hour: str, tz: str) -> str | None:
    """The local date of every instant of the UTC hour ``YYYY-MM-DD HH``, or None when the hour
    holds a clock change or a local midnight (its rows are then converted one by one)."""
    try:
        first = dt.datetime.fromisoformat(hour).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    zone = _zone(tz)
    last = first + dt.timedelta(hours=1) - dt.timedelta(microseconds=1)
    start, stop = first.astimezone(zone), last.astimezone(zone)
    if start.utcoffset() != stop.utcoffset() or start.date() != stop.date():
        return None
    return start.date().isoformat()


def _sqlite_local_date(value: Any, tz: str | None) -> str | None:
    """SQLite's per-row conversion: the stored UTC text's local date as ``YYYY-MM-DD``.

    Called for every row a roll-up reads, so the answer is cached per UTC hour (a million orders
    span a few thousand hours); the few hours that cross a local midnight or a clock change are
    converted row by row."""
    if value is None or tz is None:
        return None
    text = str(value)
    day = _hour_date_text(text[:13], tz) if len(text) >= 13 else None
    return day if day is not None else _local_date_text(text, tz)


@functools.lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def register_sqlite_functions(dbapi_conn: Any) -> None:
    """Add :data:`SQLITE_LOCAL_DATE` to a sqlite3 connection (deterministic, so SQLite may use it
    in indexes and factor it out of repeated expressions)."""
    dbapi_conn.create_function(SQLITE_LOCAL_DATE, 2, _sqlite_local_date, deterministic=True)


# --- SQL ----------------------------------------------------------------------------------------


class day_of(FunctionElement):
    """The business-local calendar date of a stored (naive UTC) timestamp; ``tz`` defaults to
    :func:`business_timezone` when the expression is built. The zone is part of the statement's
    cache key, so statements built for two zones never share compiled SQL."""

    type = Date()
    inherit_cache = True
    name = "day_of"
    _traverse_internals: ClassVar[list[tuple[str, Any]]] = [
        *FunctionElement._traverse_internals,
        ("tz", InternalTraversal.dp_string),
    ]

    def __init__(self, column: Any, tz: str | None = None, **kw: Any) -> None:
        self.tz = tz or business_timezone()
        ZoneInfo(self.tz)  # an unknown name fails here, not as SQL; it is also safe to inline
        super().__init__(column, **kw)


def _quoted(tz: str) -> str:
    return "'" + tz.replace("'", "''") + "'"


class week_start(FunctionElement):
    """The Monday of the ISO week containing a date."""

    type = Date()
    inherit_cache = True
    name = "week_start"


class month_start(FunctionElement):
    """The first day of the month containing a date."""

    type = Date()
    inherit_cache = True
    name = "month_start"


class year_start(FunctionElement):
    """January 1st of the year containing a date."""

    type = Date()
    inherit_cache = True
    name = "year_start"


class quarter_start(FunctionElement):
    """The first day of the calendar quarter containing a date."""

    type = Date()
    inherit_cache = True
    name = "quarter_start"


@compiles(day_of)
def _day_of_default(element: day_of, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    if is_utc(element.tz):
        return f"CAST({value} AS DATE)"
    return f"CAST(({value} AT TIME ZONE 'UTC') AT TIME ZONE {_quoted(element.tz)} AS DATE)"


@compiles(day_of, "sqlite")
def _day_of_sqlite(element: day_of, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    if is_utc(element.tz):
        return f"date({value})"
    return f"{SQLITE_LOCAL_DATE}({value}, {_quoted(element.tz)})"


@compiles(week_start)
def _week_start_default(element: week_start, compiler: Any, **kw: Any) -> str:
    return f"CAST(date_trunc('week', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(week_start, "sqlite")
def _week_start_sqlite(element: week_start, compiler: Any, **kw: Any) -> str:
    # 'weekday 0' moves forward to the next Sunday (or stays on one); six days back is Monday.
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(month_start)
def _month_start_default(element: month_start, compiler: Any, **kw: Any) -> str:
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(month_start, "sqlite")
def _month_start_sqlite(element: month_start, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


@compiles(year_start)
def _year_start_default(element: year_start, compiler: Any, **kw: Any) -> str:
    return f"CAST(date_trunc('year', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(year_start, "sqlite")
def _year_start_sqlite(element: year_start, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'start of year')"


@compiles(quarter_start)
def _quarter_start_default(element: quarter_start, compiler: Any, **kw: Any) -> str:
    return f"CAST(date_trunc('quarter', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(quarter_start, "sqlite")
def _quarter_start_sqlite(element: quarter_start, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return (
        f"date({value}, 'start of month', "
        f"printf('-%d months', (CAST(strftime('%m', {value}) AS INTEGER) - 1) % 3))"
    )


def touched_periods(
    start: dt.date | None, end: dt.date | None, grain: str
) -> tuple[dt.date | None, dt.date | None]:
    """The first and the last day of the ``grain`` periods that days ``start..end`` touch (None
    stays open)."""
    first = period_start(start, grain) if start is not None else None
    last = next_period(end, grain) - dt.timedelta(days=1) if end is not None else None
    return first, last


def period_range(
    table: Table, grain: str, start: dt.date | None, end: dt.date | None
) -> list[ColumnElement[bool]]:
    """Rows of ``table`` (keyed by its ``grain`` column) whose period lies in days start..end."""
    column = table.c[grain]
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column <= end)
    return conditions


class Segment(NamedTuple):
    """Days read from the ``grain`` table: periods starting ``first``..``last`` (both period starts;
    for ``day`` simply the days)."""

    grain: str
    first: dt.date
    last: dt.date


def plan_range(
    start: dt.date, end: dt.date, grains: tuple[str, ...] = ("month",)
) -> tuple[Segment, ...]:
    """Split days ``start..end`` into whole periods of ``grains`` (coarse to fine, without
    ``day``) and days, coarsest first where possible, so that every day is read exactly once."""
    if start > end:
        raise ValueError(f"plan_range: start {start} is after end {end}")
    if not grains:
        return (Segment("day", start, end),)
    grain, finer = grains[0], grains[1:]
    first = start if period_start(start, grain) == start else next_period(start, grain)
    stop = (
        next_period(end, grain)
        if next_period(end, grain) - dt.timedelta(days=1) == end
        else period_start(end, grain)
    )  # whole periods cover first .. stop - 1
    if first >= stop:
        return plan_range(start, end, finer)
    segments: list[Segment] = []
    if start < first:
        segments += plan_range(start, first - dt.timedelta(days=1), finer)
    segments.append(Segment(grain, first, period_start(stop - dt.timedelta(days=1), grain)))
    if stop <= end:
        segments += plan_range(stop, end, finer)
    return tuple(segments)
