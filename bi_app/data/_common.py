"""Helpers shared by the domain modules: argument types and coercion, roll-up filters, and the
building blocks of the sales queries (:mod:`bi_app.data.sales`, :mod:`bi_app.data.sales_growth`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Engine, func, select

from bi_app.db.models import (
    REVENUE_STATUSES,
    Category,
    DailyCategorySales,
    DailyOrders,
    SalesPlatform,
)
from bi_app.db.periods import year_start
from bi_app.extensions import db

GRANULARITIES = ("day", "week", "month", "year")

Codes = tuple[str, ...] | None  # platform/category/status codes; None = all
DateArg = dt.date | str


def engine() -> Engine:
    return db.require_engine()


def as_date(value: Any, name: str = "value") -> dt.date:
    """Accept a date, a datetime or an ISO string, reject anything else.

    Arguments arrive either way (cache keys treat both alike), and SQLite hands back dates read
    through a compound SELECT or a derived column as text.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise ValueError(f"{name}: expected a date, got {value!r}")


def date_range(start: dt.date | str, end: dt.date | str) -> tuple[dt.date, dt.date]:
    first, last = as_date(start, "start"), as_date(end, "end")
    if first > last:
        raise ValueError(f"start {first} is after end {last}")
    return first, last


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The equal-length period that ends the day before ``start``."""
    days = (end - start).days + 1
    prev_end = start - dt.timedelta(days=1)
    return prev_end - dt.timedelta(days=days - 1), prev_end


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (with ``escape="\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def platform_filter(column: Any, platforms: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    """Roll-up rows of the given platform codes (no condition for None = all)."""
    if not platforms:
        return []
    return [column.in_(select(SalesPlatform.id).where(SalesPlatform.code.in_(platforms)))]


def category_filter(column: Any, categories: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    if not categories:
        return []
    return [column.in_(select(Category.id).where(Category.code.in_(categories)))]


def check_granularity(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise ValueError(
            f"granularity: expected one of {', '.join(GRANULARITIES)}, got {granularity!r}"
        )
    return granularity


def period_column(table: Any, granularity: str) -> Any:
    """The roll-up's period column of ``granularity`` (years are grouped from its months)."""
    check_granularity(granularity)
    return year_start(table.c.month) if granularity == "year" else table.c[granularity]


def period_frame(
    found: Mapping[dt.date, tuple[int, ...]], periods: list[dt.date], columns: tuple[str, ...]
) -> pd.DataFrame:
    """Column ``period`` plus one int64 column per name of ``columns``: a row per period in
    ``periods``, zeros where ``found`` has none."""
    zeros = (0,) * len(columns)
    data: dict[str, Any] = {"period": periods}
    for i, name in enumerate(columns):
        data[name] = pd.array([found.get(p, zeros)[i] for p in periods], dtype="int64")
    return pd.DataFrame(data)


# --- the sales roll-ups -----------------------------------------------------------------------


def sales_table(categories: Codes) -> Any:
    """The roll-up that answers a sales query: order totals, or item
    sales when categories are set."""
    return DailyCategorySales.__table__ if categories else DailyOrders.__table__


def sales_where(
    table: Any, start: dt.date, end: dt.date, platforms: Codes, categories: Codes
) -> list[Any]:
    """Date, platform and category conditions on a sales roll-up; statuses are up to each query."""
    conditions = [table.c.day >= start, table.c.day <= end]
    conditions += platform_filter(table.c.platform_id, platforms)
    if categories:
        conditions += category_filter(table.c.category_id, categories)
    return conditions


def selected_statuses(statuses: Codes) -> tuple[str, ...]:
    """The statuses whose orders count as sales: the chosen ones, else the revenue statuses."""
    return tuple(statuses) if statuses else REVENUE_STATUSES


def period_sums_query(
    first: dt.date,
    last: dt.date,
    platforms: Codes,
    categories: Codes,
    statuses: Codes,
    granularity: str,
) -> Any:
    """``period``, revenue and orders per period of ``granularity`` within ``first..last``."""
    table = sales_table(categories)
    period = period_column(table, granularity)
    return (
        select(period, func.sum(table.c.revenue_cents), func.sum(table.c.orders))
        .where(
            *sales_where(table, first, last, platforms, categories),
            table.c.status.in_(selected_statuses(statuses)),
        )
        .group_by(period)
    )
