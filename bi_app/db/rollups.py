"""Recompute the roll-up tables from raw orders, in SQL, for a range of days; plan reads over them.

Each table is rebuilt with one ``DELETE`` of the range and one ``INSERT ... SELECT ... GROUP BY``
inside a single transaction, so readers see either the old or the new figures and the work stays
in the database (no rows travel through Python, which is what keeps 10M orders feasible).

Days are calendar dates of ``orders.ordered_at`` in the business time zone (``BI_TIMEZONE``,
see :func:`bi_app.db.periods.business_timezone`; the timestamps are stored as naive UTC and
converted in SQL); ``week`` is the Monday of that day's ISO week, ``month`` the first of its
month and ``quarter`` the first day of its calendar quarter.
They are computed in SQL through small dialect-aware constructs (:func:`day_of`,
:func:`week_start`, :func:`month_start`, :func:`quarter_start`, in :mod:`bi_app.db.periods`
with the date arithmetic the bitmaps share), so SQLite and PostgreSQL produce identical tables.

Coarser grains keep a year view down to few rows. ``monthly_product_sales`` sums
``daily_product_sales`` per month in the same transaction (never from raw orders); a range
refresh rebuilds every month the day range touches. Readers split a date range with
:func:`plan_range` into whole months and the remaining edge days; sums over the parts add up,
see :func:`product_sales_rows`.

Distinct customer counts cannot be summed over days, so no table here holds customer ids: the
customer bitmaps of :mod:`bi_app.db.bitmaps` (exact distinct counts of buyers, repeat buyers and
visitors per day, month and quarter, read by :mod:`bi_app.data.customer_counts`) are rebuilt
last, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable

from sqlalchemy import (
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
    union_all,
)
from sqlalchemy.sql.expression import ColumnElement

from bi_app.db.bitmap_models import BITMAP_TABLES
from bi_app.db.bitmaps import refresh_bitmaps
from bi_app.db.business_days import record_rollup_timezone
from bi_app.db.models import (
    DailyCategorySales,
    DailyOrders,
    DailyProductSales,
    MonthlyProductSales,
    Order,
    OrderItem,
    Product,
)
from bi_app.db.periods import (
    GRAINS,
    Segment,
    business_timezone,
    day_of,
    local_day_range,
    month_start,
    next_period,
    period_range,
    period_start,
    plan_range,
    quarter_start,
    touched_periods,
    week_start,
)

log = logging.getLogger(__name__)

ANALYZE_AFTER_DAYS = 31  # refreshes of at least this many days end with ANALYZE (PostgreSQL)
ROLLUP_TABLES: tuple[Table, ...] = (
    DailyOrders.__table__,
    DailyCategorySales.__table__,
    DailyProductSales.__table__,
    MonthlyProductSales.__table__,
    *BITMAP_TABLES.values(),
)


def _order_range(
    start: dt.date | None, end: dt.date | None, tz: str | None = None
) -> ColumnElement[bool]:
    """Orders whose local day (in ``tz``, default the business time zone) lies in [start, end];
    a range on the raw column keeps the index usable."""
    conditions = local_day_range(Order.ordered_at, start, end, tz)
    return and_(*conditions) if conditions else true()


def _daily_orders_select(start: dt.date | None, end: dt.date | None, tz: str):
    units = (
        select(OrderItem.order_id, func.sum(OrderItem.quantity).label("units"))
        .join(Order, Order.id == OrderItem.order_id)
        .where(_order_range(start, end, tz))
        .group_by(OrderItem.order_id)
        .subquery("order_units")
    )
    day = day_of(Order.ordered_at, tz)
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
        .where(_order_range(start, end, tz))
        .group_by(day, Order.platform_id, Order.status)
    )


def _daily_category_select(start: dt.date | None, end: dt.date | None, tz: str):
    day = day_of(Order.ordered_at, tz)
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
        .where(_order_range(start, end, tz))
        .group_by(day, Order.platform_id, Order.status, Product.category_id)
    )


def _daily_product_select(start: dt.date | None, end: dt.date | None, tz: str):
    day = day_of(Order.ordered_at, tz)
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
        .where(_order_range(start, end, tz))
        .group_by(day, Order.platform_id, Order.status, OrderItem.product_id, Product.category_id)
    )


def _monthly_products_select(start: dt.date | None, end: dt.date | None, tz: str):
    # from the daily table, whose days are already local: the zone plays no part here
    daily = DailyProductSales.__table__
    month = month_start(daily.c.day)
    keys = (daily.c.platform_id, daily.c.status, daily.c.product_id, daily.c.category_id)
    return (
        select(
            month,
            *keys,
            func.sum(daily.c.orders),
            func.sum(daily.c.revenue_cents),
            func.sum(daily.c.units),
        )
        .where(*period_range(daily, "day", start, end))
        .group_by(month, *keys)
    )


# (table, grain, select builder, columns). Order matters: each table is built from raw orders or
# from a table listed before it, for all days of the periods (of its grain) a refresh touches.
_BUILDERS = (
    (
        DailyOrders.__table__,
        "day",
        _daily_orders_select,
        ("day", "platform_id", "status", "week", "month", "orders", "revenue_cents", "units"),
    ),
    (
        DailyCategorySales.__table__,
        "day",
        _daily_category_select,
        (
            "day",
            "platform_id",
            "status",
            "category_id",
            "week",
            "month",
            "orders",
            "revenue_cents",
            "units",
        ),
    ),
    (
        DailyProductSales.__table__,
        "day",
        _daily_product_select,
        (
            "day",
            "platform_id",
            "status",
            "product_id",
            "category_id",
            "orders",
            "revenue_cents",
            "units",
        ),
    ),
    (
        MonthlyProductSales.__table__,
        "month",
        _monthly_products_select,
        (
            "month",
            "platform_id",
            "status",
            "product_id",
            "category_id",
            "orders",
            "revenue_cents",
            "units",
        ),
    ),
)


# --- periods --------------------------------------------------------------------------------------


def refresh_rollups(
    engine: Engine,
    start: dt.date | None = None,
    end: dt.date | None = None,
    tz: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Rebuild the roll-up tables for local days ``start..end`` (inclusive; ``None`` =
    unbounded), and the monthly and quarterly ones for every month and quarter those days touch.

    Days begin at midnight in ``tz`` (default: :func:`business_timezone`); a table built in one
    zone must be rebuilt whole when the zone changes (:mod:`bi_app.db.business_days`).
    ``progress`` hears one line per table (and per month of bitmaps) as it is done.

    Returns ``{"start", "end", "tz", "seconds", "rows": {table: inserted rows}}``. Callers that
    change orders (demo loader, importers, jobs) call this and then invalidate the data cache.
    """
    if start is not None and end is not None and start > end:
        raise ValueError(f"refresh_rollups: start {start} is after end {end}")
    tz = tz or business_timezone()
    say = progress or (lambda _line: None)
    began = time.perf_counter()
    rows: dict[str, int] = {}
    # A few days (the periodic job) change too little of a table to move its statistics;
    # autovacuum's own ANALYZE covers the drift, and skipping it here keeps the job short.
    large = start is None or end is None or (end - start).days >= ANALYZE_AFTER_DAYS
    with engine.begin() as conn:
        analyze = large and conn.dialect.name == "postgresql"
        for table, grain, build, columns in _BUILDERS:
            # A month (quarter) is rebuilt from all its days (months), the refreshed ones included.
            first, last = touched_periods(start, end, grain)
            conn.execute(delete(table).where(*period_range(table, grain, first, last)))
            # rowcount of an INSERT..SELECT is only kept when asked for (SQLAlchemy 2.x).
            result = conn.execute(
                insert(table).from_select(columns, build(first, last, tz)),
                execution_options={"preserve_rowcount": True},
            )
            rows[table.name] = max(result.rowcount or 0, 0)
            say(f"{table.name}: {rows[table.name]:,} rows")
            if analyze:
                # Fresh statistics at once: the planner picks index scans on the new rows, and
                # the next table's INSERT..SELECT reads this one.
                conn.exec_driver_sql(f"ANALYZE {table.name}")
        # customer bitmaps: from orders, their items and visits, in the same transaction
        rows.update(refresh_bitmaps(conn, start, end, tz, progress))
        if start is None and end is None:
            # every day is now cut in tz: a later change of BI_TIMEZONE is detected against this
            record_rollup_timezone(conn, tz)
        if analyze:
            for table in BITMAP_TABLES.values():
                conn.exec_driver_sql(f"ANALYZE {table.name}")
    seconds = round(time.perf_counter() - began, 3)
    log.info(
        "roll-ups refreshed for %s..%s (%s) in %.3f s: %s",
        start or "start",
        end or "end",
        tz,
        seconds,
        rows,
    )
    return {"start": start, "end": end, "tz": tz, "seconds": seconds, "rows": rows}


# --- reading: which grain answers which days ---------------------------------------------------


Where = Callable[[Table], Iterable[ColumnElement[bool]]]
PRODUCT_SALES_COLUMNS = (
    "platform_id",
    "status",
    "product_id",
    "category_id",
    "orders",
    "revenue_cents",
    "units",
)
_PRODUCT_GRAINS = {"month": MonthlyProductSales.__table__, "day": DailyProductSales.__table__}


def _no_conditions(_table: Table) -> Iterable[ColumnElement[bool]]:
    return ()


def _parts(
    start: dt.date, end: dt.date, tables: dict[str, Table], columns: tuple[str, ...], where: Where
) -> list[Select]:
    """One SELECT per segment of the range, each on the table of the segment's grain."""
    grains = tuple(g for g in GRAINS if g in tables and g != "day")
    parts = []
    for grain, first, last in plan_range(start, end, grains):
        table = tables[grain]
        parts.append(
            select(*(table.c[c] for c in columns)).where(
                *period_range(table, grain, first, last), *where(table)
            )
        )
    return parts


def product_sales_rows(start: dt.date, end: dt.date, where: Where = _no_conditions) -> Subquery:
    """Product sales on days ``start..end`` as rows of :data:`PRODUCT_SALES_COLUMNS`: monthly rows
    for whole months, daily rows for the edge days. Sum them; ``where(table)`` adds conditions on
    those columns (it is applied to each table so that its indexes are used)."""
    parts = _parts(start, end, _PRODUCT_GRAINS, PRODUCT_SALES_COLUMNS, where)
    source = parts[0] if len(parts) == 1 else union_all(*parts)
    return source.subquery("product_sales")


__all__ = [
    "GRAINS",
    "PRODUCT_SALES_COLUMNS",
    "ROLLUP_TABLES",
    "Segment",
    "day_of",
    "month_start",
    "next_period",
    "period_start",
    "plan_range",
    "product_sales_rows",
    "quarter_start",
    "refresh_rollups",
    "touched_periods",
    "week_start",
]
