"""Calendar periods of the roll-ups and bitmaps: days, ISO weeks, months and calendar quarters,
as dates (:func:`period_start`, :func:`next_period`, :func:`plan_range`) and in SQL
(:class:`day_of`, :class:`week_start`, :class:`month_start`, :class:`quarter_start`,
:class:`year_start`, compiled
for SQLite and PostgreSQL alike)."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from sqlalchemy import Date, Table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

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


class day_of(FunctionElement):
    """The calendar date of a timestamp."""

    type = Date()
    inherit_cache = True
    name = "day_of"


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
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(day_of, "sqlite")
def _day_of_sqlite(element: day_of, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


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
