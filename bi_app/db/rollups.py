"""Recompute the daily roll-up tables from raw orders, in SQL, for a range of days.

Each table is rebuilt with one ``DELETE`` of the range and one ``INSERT ... SELECT ... GROUP BY``
inside a single transaction, so readers see either the old or the new figures and the work stays
in the database (no rows travel through Python, which is what keeps 10M orders feasible).

Days are UTC calendar dates of ``orders.ordered_at``; ``week`` is the Monday of that day's ISO
week and ``month`` the first of its month. The three are computed in SQL through small
dialect-aware constructs (:func:`day_of`, :func:`week_start`, :func:`month_start`), so SQLite
and PostgreSQL produce identical tables.

``daily_customer_activity`` records customers who placed an order with a revenue status
(:data:`~bi_app.db.models.REVENUE_STATUSES`); an order without items is filed under category 0,
so "all categories" still counts its customer.

Coarser grains keep a year view down to few rows. They are derived from the daily roll-ups in
the same transaction (never from raw orders): ``daily_platform_customers`` drops the category,
``monthly_platform_customers`` and ``monthly_product_sales`` group by month. A range refresh
rebuilds every month the day range touches. Readers split a date range with
:func:`plan_range` into whole months (monthly tables) and edge days (daily tables); sums over
the two parts add up and a ``UNION`` of customer ids stays an exact distinct count, see
:func:`product_sales_rows` and :func:`active_customer_ids`.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Date,
    Engine,
    Select,
    Subquery,
    Table,
    and_,
    delete,
    func,
    insert,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from bi_app.db.models import (
    REVENUE_STATUSES,
    DailyCategorySales,
    DailyCustomerActivity,
    DailyOrders,
    DailyPlatformCustomers,
    DailyProductSales,
    MonthlyPlatformCustomers,
    MonthlyProductSales,
    Order,
    OrderItem,
    Product,
)

log = logging.getLogger(__name__)

NO_CATEGORY_ID = 0
ROLLUP_TABLES: tuple[Table, ...] = (
    DailyOrders.__table__,
    DailyCategorySales.__table__,
    DailyProductSales.__table__,
    DailyCustomerActivity.__table__,
    DailyPlatformCustomers.__table__,
    MonthlyPlatformCustomers.__table__,
    MonthlyProductSales.__table__,
)


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


def _order_range(start: dt.date | None, end: dt.date | None) -> ColumnElement[bool]:
    """Orders whose UTC day lies in [start, end]; a range on the raw column keeps the index usable."""
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(Order.ordered_at >= dt.datetime.combine(start, dt.time.min))
    if end is not None:
        conditions.append(Order.ordered_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    return and_(*conditions) if conditions else true()


def _day_range(table: Table, start: dt.date | None, end: dt.date | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(table.c.day >= start)
    if end is not None:
        conditions.append(table.c.day <= end)
    return conditions


def _daily_orders_select(start: dt.date | None, end: dt.date | None):
    units = (
        select(OrderItem.order_id, func.sum(OrderItem.quantity).label("units"))
        .join(Order, Order.id == OrderItem.order_id)
        .where(_order_range(start, end))
        .group_by(OrderItem.order_id)
        .subquery("order_units")
    )
    day = day_of(Order.ordered_at)
    return (
        select(
            day,
            Order.platform_id,
            Order.status,
            week_start(day),
            month_start(day),
            func.count(),
            func.sum(Order.total_cents),
            func.coalesce(func.sum(units.c.units), 0),
        )
        .select_from(Order)
        .outerjoin(units, units.c.order_id == Order.id)
        .where(_order_range(start, end))
        .group_by(day, Order.platform_id, Order.status)
    )


def _daily_category_select(start: dt.date | None, end: dt.date | None):
    day = day_of(Order.ordered_at)
    return (
        select(
            day,
            Order.platform_id,
            Order.status,
            Product.category_id,
            week_start(day),
            month_start(day),
            func.count(func.distinct(Order.id)),
            func.sum(OrderItem.amount_cents),
            func.sum(OrderItem.quantity),
        )
        .select_from(OrderItem)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(_order_range(start, end))
        .group_by(day, Order.platform_id, Order.status, Product.category_id)
    )


def _daily_product_select(start: dt.date | None, end: dt.date | None):
    day = day_of(Order.ordered_at)
    return (
        select(
            day,
            Order.platform_id,
            Order.status,
            OrderItem.product_id,
            Product.category_id,
            func.count(func.distinct(Order.id)),
            func.sum(OrderItem.amount_cents),
            func.sum(OrderItem.quantity),
        )
        .select_from(OrderItem)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(_order_range(start, end))
        .group_by(day, Order.platform_id, Order.status, OrderItem.product_id, Product.category_id)
    )


def _customer_activity_select(start: dt.date | None, end: dt.date | None):
    day = day_of(Order.ordered_at)
    category = func.coalesce(Product.category_id, NO_CATEGORY_ID)
    return (
        select(day, Order.platform_id, category, Order.customer_id)
        .select_from(Order)
        .outerjoin(OrderItem, OrderItem.order_id == Order.id)
        .outerjoin(Product, Product.id == OrderItem.product_id)
        .where(_order_range(start, end), Order.status.in_(REVENUE_STATUSES))
        .group_by(day, Order.platform_id, category, Order.customer_id)
    )


def _platform_customers_select(start: dt.date | None, end: dt.date | None):
    activity = DailyCustomerActivity.__table__
    columns = (activity.c.day, activity.c.platform_id, activity.c.customer_id)
    return select(*columns).where(*_day_range(activity, start, end)).group_by(*columns)


def _monthly_customers_select(start: dt.date | None, end: dt.date | None):
    daily = DailyPlatformCustomers.__table__
    month = month_start(daily.c.day)
    return (select(month, daily.c.platform_id, daily.c.customer_id)
            .where(*_day_range(daily, start, end))
            .group_by(month, daily.c.platform_id, daily.c.customer_id))


def _monthly_products_select(start: dt.date | None, end: dt.date | None):
    daily = DailyProductSales.__table__
    month = month_start(daily.c.day)
    keys = (daily.c.platform_id, daily.c.status, daily.c.product_id, daily.c.category_id)
    return (select(month, *keys, func.sum(daily.c.orders), func.sum(daily.c.revenue_cents),
                   func.sum(daily.c.units))
            .where(*_day_range(daily, start, end))
            .group_by(month, *keys))


# Order matters: each table is built from raw orders or from a table listed before it.
_DAILY_BUILDERS = (
    (DailyOrders.__table__, _daily_orders_select,
     ("day", "platform_id", "status", "week", "month", "orders", "revenue_cents", "units")),
    (DailyCategorySales.__table__, _daily_category_select,
     ("day", "platform_id", "status", "category_id", "week", "month", "orders", "revenue_cents",
      "units")),
    (DailyProductSales.__table__, _daily_product_select,
     ("day", "platform_id", "status", "product_id", "category_id", "orders", "revenue_cents",
      "units")),
    (DailyCustomerActivity.__table__, _customer_activity_select,
     ("day", "platform_id", "category_id", "customer_id")),
    (DailyPlatformCustomers.__table__, _platform_customers_select,
     ("day", "platform_id", "customer_id")),
)
_MONTHLY_BUILDERS = (
    (MonthlyPlatformCustomers.__table__, _monthly_customers_select,
     ("month", "platform_id", "customer_id")),
    (MonthlyProductSales.__table__, _monthly_products_select,
     ("month", "platform_id", "status", "product_id", "category_id", "orders", "revenue_cents",
      "units")),
)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def touched_months(start: dt.date | None, end: dt.date | None) -> tuple[dt.date | None, dt.date | None]:
    """The first and the last day of the months that days ``start..end`` touch (None stays open)."""
    first = start.replace(day=1) if start is not None else None
    last = _next_month(end) - dt.timedelta(days=1) if end is not None else None
    return first, last


def _month_range(table: Table, start: dt.date | None, end: dt.date | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(table.c.month >= start.replace(day=1))
    if end is not None:
        conditions.append(table.c.month <= end.replace(day=1))
    return conditions


def refresh_rollups(engine: Engine, start: dt.date | None = None, end: dt.date | None = None) -> dict:
    """Rebuild the roll-up tables for days ``start..end`` (inclusive; ``None`` = unbounded), and
    the monthly ones for every month those days touch.

    Returns ``{"start", "end", "seconds", "rows": {table: inserted rows}}``. Callers that change
    orders (demo loader, importers, jobs) call this and then invalidate the data cache.
    """
    if start is not None and end is not None and start > end:
        raise ValueError(f"refresh_rollups: start {start} is after end {end}")
    began = time.perf_counter()
    rows: dict[str, int] = {}
    month_first, month_last = touched_months(start, end)
    with engine.begin() as conn:
        steps = [(table, build, columns, _day_range(table, start, end), (start, end))
                 for table, build, columns in _DAILY_BUILDERS]
        # A month is summed from the daily tables over all its days, the refreshed ones included.
        steps += [(table, build, columns, _month_range(table, start, end), (month_first, month_last))
                  for table, build, columns in _MONTHLY_BUILDERS]
        for table, build, columns, stale, (first, last) in steps:
            conn.execute(delete(table).where(*stale))
            # rowcount of an INSERT..SELECT is only kept when asked for (SQLAlchemy 2.x).
            result = conn.execute(insert(table).from_select(columns, build(first, last)),
                                  execution_options={"preserve_rowcount": True})
            rows[table.name] = max(result.rowcount or 0, 0)
            if conn.dialect.name == "postgresql":
                # Fresh statistics at once: the planner picks index scans on the new rows, and
                # the next table's INSERT..SELECT reads this one.
                conn.exec_driver_sql(f"ANALYZE {table.name}")
    seconds = round(time.perf_counter() - began, 3)
    log.info("roll-ups refreshed for %s..%s in %.3f s: %s", start or "start", end or "end", seconds, rows)
    return {"start": start, "end": end, "seconds": seconds, "rows": rows}


# --- reading: which grain answers which days ---------------------------------------------------

@dataclass(frozen=True)
class RangePlan:
    """Days ``start..end`` split into whole months (read from monthly tables) and edge days."""

    months: tuple[dt.date, dt.date] | None
    """First days of the first and the last whole month, or None when no month is whole."""
    days: tuple[tuple[dt.date, dt.date], ...]
    """Inclusive day ranges outside those months (none, one or two), in order."""


def plan_range(start: dt.date, end: dt.date) -> RangePlan:
    """Split ``start..end`` so that monthly and daily rows cover every day exactly once."""
    if start > end:
        raise ValueError(f"plan_range: start {start} is after end {end}")
    first_whole = start if start.day == 1 else _next_month(start)
    stop = _next_month(end) if _next_month(end) - dt.timedelta(days=1) == end else end.replace(day=1)
    if first_whole >= stop:
        return RangePlan(None, ((start, end),))
    days = []
    if start < first_whole:
        days.append((start, first_whole - dt.timedelta(days=1)))
    if stop <= end:
        days.append((stop, end))
    last_whole = (stop - dt.timedelta(days=1)).replace(day=1)
    return RangePlan((first_whole, last_whole), tuple(days))


Where = Callable[[Table], Iterable[ColumnElement[bool]]]
PRODUCT_SALES_COLUMNS = ("platform_id", "status", "product_id", "category_id", "orders",
                         "revenue_cents", "units")


def _no_conditions(_table: Table) -> Iterable[ColumnElement[bool]]:
    return ()


def _parts(start: dt.date, end: dt.date, monthly: Table, daily: Table, columns: tuple[str, ...],
           where: Where) -> list[Select]:
    plan = plan_range(start, end)
    parts = []
    if plan.months is not None:
        parts.append(select(*(monthly.c[c] for c in columns))
                     .where(monthly.c.month >= plan.months[0], monthly.c.month <= plan.months[1],
                            *where(monthly)))
    for first, last in plan.days:
        parts.append(select(*(daily.c[c] for c in columns))
                     .where(daily.c.day >= first, daily.c.day <= last, *where(daily)))
    return parts


def product_sales_rows(start: dt.date, end: dt.date, where: Where = _no_conditions) -> Subquery:
    """Product sales on days ``start..end`` as rows of :data:`PRODUCT_SALES_COLUMNS`: monthly rows
    for whole months, daily rows for the edge days. Sum them; ``where(table)`` adds conditions on
    those columns (it is applied to each table so that its indexes are used)."""
    parts = _parts(start, end, MonthlyProductSales.__table__, DailyProductSales.__table__,
                   PRODUCT_SALES_COLUMNS, where)
    source = parts[0] if len(parts) == 1 else union_all(*parts)
    return source.subquery("product_sales")


def active_customer_ids(start: dt.date, end: dt.date, where: Where = _no_conditions, *,
                        by_category: bool = False) -> Select | CompoundSelect:
    """``customer_id`` of each customer with a revenue order on days ``start..end``, once.

    ``where(table)`` may use ``platform_id``, and ``category_id`` when ``by_category``: only
    ``daily_customer_activity`` keeps the category, so that case reads it alone. Otherwise whole
    months come from ``monthly_platform_customers`` and edge days from
    ``daily_platform_customers``; ``UNION`` removes customers present in both.
    """
    if by_category:
        activity = DailyCustomerActivity.__table__
        return (select(activity.c.customer_id)
                .where(*_day_range(activity, start, end), *where(activity)).distinct())
    parts = _parts(start, end, MonthlyPlatformCustomers.__table__, DailyPlatformCustomers.__table__,
                   ("customer_id",), where)
    return parts[0].distinct() if len(parts) == 1 else union(*parts)


__all__ = [
    "NO_CATEGORY_ID", "PRODUCT_SALES_COLUMNS", "ROLLUP_TABLES", "RangePlan", "active_customer_ids",
    "day_of", "month_start", "plan_range", "product_sales_rows", "refresh_rollups", "touched_months",
    "week_start",
]
