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
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from sqlalchemy import Date, Engine, Table, and_, delete, func, insert, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from bi_app.db.models import (
    REVENUE_STATUSES,
    DailyCategorySales,
    DailyCustomerActivity,
    DailyOrders,
    DailyProductSales,
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


_BUILDERS = (
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
)


def refresh_rollups(engine: Engine, start: dt.date | None = None, end: dt.date | None = None) -> dict:
    """Rebuild the four roll-up tables for days ``start..end`` (inclusive; ``None`` = unbounded).

    Returns ``{"start", "end", "seconds", "rows": {table: inserted rows}}``. Callers that change
    orders (demo loader, importers, jobs) call this and then invalidate the data cache.
    """
    if start is not None and end is not None and start > end:
        raise ValueError(f"refresh_rollups: start {start} is after end {end}")
    began = time.perf_counter()
    rows: dict[str, int] = {}
    with engine.begin() as conn:
        for table, build, columns in _BUILDERS:
            conn.execute(delete(table).where(*_day_range(table, start, end)))
            # rowcount of an INSERT..SELECT is only kept when asked for (SQLAlchemy 2.x).
            result = conn.execute(insert(table).from_select(columns, build(start, end)),
                                  execution_options={"preserve_rowcount": True})
            rows[table.name] = max(result.rowcount or 0, 0)
        if conn.dialect.name == "postgresql":
            # Fresh statistics so the planner picks index scans on the new rows at once.
            for table in ROLLUP_TABLES:
                conn.exec_driver_sql(f"ANALYZE {table.name}")
    seconds = round(time.perf_counter() - began, 3)
    log.info("roll-ups refreshed for %s..%s in %.3f s: %s", start or "start", end or "end", seconds, rows)
    return {"start": start, "end": end, "seconds": seconds, "rows": rows}


__all__ = ["NO_CATEGORY_ID", "ROLLUP_TABLES", "day_of", "month_start", "refresh_rollups", "week_start"]
