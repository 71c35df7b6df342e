"""Sales figures for the Overview and Sales pages, read from the daily roll-ups only.

Revenue and "orders" count orders with a revenue status (paid, shipped, delivered). Without a
category filter revenue is the order totals (``daily_orders``); with one it is the item revenue
of those categories (``daily_category_sales`` / ``daily_product_sales``), and ``orders`` counts
orders containing such items — per category, so with several categories selected an order with
items from two of them counts twice (the category roll-up keeps no order identity). Customer
counts are exact distinct counts in every case.

Functions taking ``statuses`` also filter by order status (the Sales page's status filter): with
statuses chosen, "revenue" is the value of orders in those statuses, so choosing "refunded" shows
what was refunded; None keeps the revenue statuses. The share of orders cancelled or refunded is
taken over orders of every status in the same dates, platforms and categories.

Product rankings read whole months of a range from the monthly roll-up and only the edge days
from the daily one (:func:`bi_app.db.rollups.plan_range`), so a year costs a few periods of rows
instead of 365 days of them. Customer counts are unions of the customer bitmaps of whole
quarters, months and edge days (:mod:`bi_app.data.customer_counts`).

Growth against earlier periods lives in :mod:`bi_app.data.sales_growth`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import case, false, func, select

from bi_app.analytics import growth, kpi
from bi_app.data import customer_counts
from bi_app.data._common import (
    Codes,
    DateArg,
    category_filter,
    check_granularity,
    date_range,
    engine,
    period_column,
    period_frame,
    period_sums_query,
    platform_filter,
    previous_period,
    sales_table,
    sales_where,
    selected_statuses,
)
from bi_app.data.cache import cached
from bi_app.db.models import (
    ORDER_STATUSES,  # re-exported: the UI takes the status list from here, not from the models
    REVENUE_STATUSES,
    Category,
    DailyCategorySales,
    Product,
    SalesPlatform,
)
from bi_app.db.rollups import product_sales_rows

__all__ = [
    "LOST_STATUSES",
    "NAMESPACE",
    "ORDER_STATUSES",
    "RANK_METRICS",
    "category_sales",
    "lost_orders_trend",
    "order_totals",
    "orders_by_platform_status",
    "orders_by_status",
    "overview_kpis",
    "product_ranking",
    "revenue_trend",
    "sales_totals",
    "top_products",
]

NAMESPACE = "sales"
MAX_TOP_PRODUCTS = 10_000
MAX_PRODUCTS = 5_000
LOST_STATUSES = ("cancelled", "refunded")
RANK_METRICS = ("revenue", "units")


def _grain_where(platforms: Codes, categories: Codes, statuses: tuple[str, ...] | None) -> Any:
    """``where(table)`` for the grain helpers of :mod:`bi_app.db.rollups` (``statuses`` None:
    no status condition, for the activity rows, which hold revenue orders only)."""

    def where(table: Any) -> list[Any]:
        conditions = [table.c.status.in_(statuses)] if statuses is not None else []
        if platforms:  # the grains of unfiltered customer counts have no platform column
            conditions += platform_filter(table.c.platform_id, platforms)
        if categories:
            conditions += category_filter(table.c.category_id, categories)
        return conditions

    return where


def _sum_if(column: Any, condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, column), else_=0)), 0)


# --- totals -----------------------------------------------------------------------------------


@cached(NAMESPACE)
def sales_totals(
    start: DateArg, end: DateArg, platforms: Codes = None, categories: Codes = None
) -> dict:
    """``{"revenue_cents", "orders", "active_customers", "units"}`` for days ``start..end``."""
    first, last = date_range(start, end)
    table = sales_table(categories)
    query = select(
        func.coalesce(func.sum(table.c.revenue_cents), 0),
        func.coalesce(func.sum(table.c.orders), 0),
        func.coalesce(func.sum(table.c.units), 0),
    ).where(
        *sales_where(table, first, last, platforms, categories),
        table.c.status.in_(REVENUE_STATUSES),
    )
    with engine().connect() as conn:
        revenue, orders, units = conn.execute(query).one()
    return {
        "revenue_cents": int(revenue),
        "orders": int(orders),
        "active_customers": customer_counts.active_customers(first, last, platforms, categories),
        "units": int(units),
    }


@cached(NAMESPACE)
def overview_kpis(
    start: DateArg, end: DateArg, platforms: Codes = None, categories: Codes = None
) -> list[kpi.Kpi]:
    """Revenue, orders, average order value and active customers against the previous period."""
    first, last = date_range(start, end)
    prev_start, prev_end = previous_period(first, last)
    current = sales_totals(first, last, platforms, categories)
    previous = sales_totals(prev_start, prev_end, platforms, categories)
    return kpi.overview_kpis(current, previous)


@cached(NAMESPACE)
def order_totals(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
) -> dict:
    """``{"revenue_cents", "orders", "lost_orders", "lost_cents", "all_orders"}`` for the days:
    sales in the chosen statuses, cancelled/refunded orders among them, and orders of any status."""
    first, last = date_range(start, end)
    table = sales_table(categories)
    selected = table.c.status.in_(selected_statuses(statuses))
    lost = table.c.status.in_([s for s in LOST_STATUSES if not statuses or s in statuses])
    query = select(
        _sum_if(table.c.revenue_cents, selected),
        _sum_if(table.c.orders, selected),
        _sum_if(table.c.orders, lost),
        _sum_if(table.c.revenue_cents, lost),
        func.coalesce(func.sum(table.c.orders), 0),
    ).where(*sales_where(table, first, last, platforms, categories))
    with engine().connect() as conn:
        revenue, orders, lost_orders, lost_cents, all_orders = conn.execute(query).one()
    return {
        "revenue_cents": int(revenue),
        "orders": int(orders),
        "lost_orders": int(lost_orders),
        "lost_cents": int(lost_cents),
        "all_orders": int(all_orders),
    }


# --- per period -------------------------------------------------------------------------------


@cached(NAMESPACE)
def revenue_trend(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
    granularity: str = "day",
) -> pd.DataFrame:
    """Columns ``period`` (date), ``revenue_cents``, ``orders``: one row per period touching the
    days (only the days inside the range count), zeros included."""
    first, last = date_range(start, end)
    check_granularity(granularity)
    query = period_sums_query(first, last, platforms, categories, statuses, granularity)
    with engine().connect() as conn:
        found = {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(query)}
    return period_frame(
        found, growth.periods(first, last, granularity), ("revenue_cents", "orders")
    )


@cached(NAMESPACE)
def lost_orders_trend(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
    granularity: str = "day",
) -> pd.DataFrame:
    """Cancellations and refunds per period: ``period``, ``cancelled_orders``, ``cancelled_cents``,
    ``refunded_orders``, ``refunded_cents``, ``all_orders`` and ``lost_share`` (of all orders)."""
    first, last = date_range(start, end)
    check_granularity(granularity)
    table = sales_table(categories)
    period = period_column(table, granularity)
    measures = []
    for status in LOST_STATUSES:
        counted = table.c.status == status if not statuses or status in statuses else false()
        measures += [_sum_if(table.c.orders, counted), _sum_if(table.c.revenue_cents, counted)]
    query = (
        select(period, *measures, func.sum(table.c.orders))
        .where(*sales_where(table, first, last, platforms, categories))
        .group_by(period)
    )
    with engine().connect() as conn:
        found = {row[0]: tuple(int(v) for v in row[1:]) for row in conn.execute(query)}
    columns = (
        "cancelled_orders",
        "cancelled_cents",
        "refunded_orders",
        "refunded_cents",
        "all_orders",
    )
    frame = period_frame(found, growth.periods(first, last, granularity), columns)
    frame["lost_share"] = [
        growth.share(c + r, n)
        for c, r, n in zip(frame["cancelled_orders"], frame["refunded_orders"], frame["all_orders"])
    ]
    return frame


# --- breakdowns -------------------------------------------------------------------------------


@cached(NAMESPACE)
def orders_by_platform_status(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
) -> pd.DataFrame:
    """Columns ``platform`` (code), ``platform_name``, ``status``, ``orders``, ``revenue_cents``
    for every status — cancellations and refunds included — or the chosen ones; only
    combinations that occurred, by platform code then in lifecycle order."""
    first, last = date_range(start, end)
    table = sales_table(categories)
    conditions = sales_where(table, first, last, platforms, categories)
    if statuses:
        conditions.append(table.c.status.in_(statuses))
    query = (
        select(
            SalesPlatform.code,
            SalesPlatform.name,
            table.c.status,
            func.sum(table.c.orders),
            func.sum(table.c.revenue_cents),
        )
        .join(SalesPlatform, SalesPlatform.id == table.c.platform_id)
        .where(*conditions)
        .group_by(SalesPlatform.code, SalesPlatform.name, table.c.status)
    )
    with engine().connect() as conn:
        rows = [
            (code, name, status, int(orders), int(cents))
            for code, name, status, orders, cents in conn.execute(query)
        ]
    rank = {status: i for i, status in enumerate(ORDER_STATUSES)}
    rows.sort(key=lambda r: (r[0], rank.get(r[2], len(rank)), r[2]))
    frame = pd.DataFrame(
        rows, columns=["platform", "platform_name", "status", "orders", "revenue_cents"]
    )
    return frame.astype({"orders": "int64", "revenue_cents": "int64"})


@cached(NAMESPACE)
def orders_by_status(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
) -> pd.DataFrame:
    """Columns ``status``, ``orders``, ``revenue_cents``, ``share`` (of the orders shown): one row
    per known status (or per chosen status), zeros included, in lifecycle order."""
    first, last = date_range(start, end)
    table = sales_table(categories)
    query = (
        select(table.c.status, func.sum(table.c.orders), func.sum(table.c.revenue_cents))
        .where(*sales_where(table, first, last, platforms, categories))
        .group_by(table.c.status)
    )
    with engine().connect() as conn:
        found = {status: (int(orders), int(cents)) for status, orders, cents in conn.execute(query)}
    shown = [s for s in ORDER_STATUSES if not statuses or s in statuses]
    total = sum(found.get(s, (0, 0))[0] for s in shown)
    frame = pd.DataFrame(
        {
            "status": shown,
            "orders": pd.array([found.get(s, (0, 0))[0] for s in shown], dtype="int64"),
            "revenue_cents": pd.array([found.get(s, (0, 0))[1] for s in shown], dtype="int64"),
        }
    )
    frame["share"] = [growth.share(n, total) for n in frame["orders"]]
    return frame


@cached(NAMESPACE)
def category_sales(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
) -> pd.DataFrame:
    """Columns ``category`` (code), ``category_name``, ``revenue_cents``, ``units``, ``orders``,
    ``share`` (of item revenue shown), by revenue; categories without sales are left out."""
    first, last = date_range(start, end)
    table = DailyCategorySales.__table__
    revenue = func.sum(table.c.revenue_cents)
    query = (
        select(
            Category.code, Category.name, revenue, func.sum(table.c.units), func.sum(table.c.orders)
        )
        .join(Category, Category.id == table.c.category_id)
        .where(
            *sales_where(table, first, last, platforms, categories),
            table.c.status.in_(selected_statuses(statuses)),
        )
        .group_by(Category.code, Category.name)
        .order_by(revenue.desc(), Category.code)
    )
    with engine().connect() as conn:
        rows = [
            (code, name, int(rev), int(units), int(orders))
            for code, name, rev, units, orders in conn.execute(query)
        ]
    frame = pd.DataFrame(
        rows, columns=["category", "category_name", "revenue_cents", "units", "orders"]
    )
    frame = frame.astype({"revenue_cents": "int64", "units": "int64", "orders": "int64"})
    total = int(frame["revenue_cents"].sum())
    frame["share"] = [growth.share(int(v), total) for v in frame["revenue_cents"]]
    return frame


# --- products ---------------------------------------------------------------------------------


@cached(NAMESPACE)
def top_products(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    limit: int = 100,
) -> pd.DataFrame:
    """Columns ``sku``, ``product``, ``category``, ``units``, ``orders``, ``revenue_cents`` for
    the ``limit`` best-selling products by revenue (ties by SKU)."""
    first, last = date_range(start, end)
    if not 1 <= int(limit) <= MAX_TOP_PRODUCTS:
        raise ValueError(f"limit: expected 1..{MAX_TOP_PRODUCTS}, got {limit!r}")
    where = _grain_where(platforms, categories, REVENUE_STATUSES)
    per = _per_product(product_sales_rows(first, last, where))
    query = (
        select(Product.sku, Product.name, Category.name, per.c.units, per.c.orders, per.c.revenue)
        .select_from(per)
        .join(Product, Product.id == per.c.product_id)
        .join(Category, Category.id == per.c.category_id)
        .order_by(per.c.revenue.desc(), Product.sku)
        .limit(int(limit))
    )
    with engine().connect() as conn:
        rows = [
            (sku, name, category, int(units), int(orders), int(rev))
            for sku, name, category, units, orders, rev in conn.execute(query)
        ]
    frame = pd.DataFrame(
        rows, columns=["sku", "product", "category", "units", "orders", "revenue_cents"]
    )
    return frame.astype({"units": "int64", "orders": "int64", "revenue_cents": "int64"})


def _per_product(sold: Any) -> Any:
    """Roll-up rows summed per product first, on integer keys: names are joined to the
    per-product sums only (~100 rows), not to every roll-up row before grouping on text."""
    return (
        select(
            sold.c.product_id,
            sold.c.category_id,
            func.sum(sold.c.units).label("units"),
            func.sum(sold.c.orders).label("orders"),
            func.sum(sold.c.revenue_cents).label("revenue"),
        )
        .group_by(sold.c.product_id, sold.c.category_id)
        .subquery("per_product")
    )


@cached(NAMESPACE)
def product_ranking(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
    metric: str = "revenue",
    limit: int = 1000,
) -> pd.DataFrame:
    """Best sellers by ``metric`` (``revenue`` or ``units``; ties by the other, then SKU):
    ``rank``, ``sku``, ``product``, ``category``, ``units``, ``orders``, ``revenue_cents`` and
    ``share`` — the product's fraction of the revenue of *all* products under the filters."""
    first, last = date_range(start, end)
    if metric not in RANK_METRICS:
        raise ValueError(f"metric: expected one of {', '.join(RANK_METRICS)}, got {metric!r}")
    if not 1 <= int(limit) <= MAX_PRODUCTS:
        raise ValueError(f"limit: expected 1..{MAX_PRODUCTS}, got {limit!r}")
    where = _grain_where(platforms, categories, selected_statuses(statuses))
    # Whole months from the monthly product roll-up, edge days from the daily one; the share's
    # denominator is a window over the per-product sums (computed before the LIMIT).
    per = _per_product(product_sales_rows(first, last, where))
    total = func.sum(per.c.revenue).over()
    order = (
        (per.c.revenue.desc(), per.c.units.desc())
        if metric == "revenue"
        else (per.c.units.desc(), per.c.revenue.desc())
    )
    query = (
        select(
            Product.sku,
            Product.name,
            Category.name,
            per.c.units,
            per.c.orders,
            per.c.revenue,
            total,
        )
        .select_from(per)
        .join(Product, Product.id == per.c.product_id)
        .join(Category, Category.id == per.c.category_id)
        .order_by(*order, Product.sku)
        .limit(int(limit))
    )
    with engine().connect() as conn:
        rows = [
            (i, sku, name, category, int(u), int(o), int(r), growth.share(int(r), int(t)))
            for i, (sku, name, category, u, o, r, t) in enumerate(conn.execute(query), start=1)
        ]
    frame = pd.DataFrame(
        rows,
        columns=["rank", "sku", "product", "category", "units", "orders", "revenue_cents", "share"],
    )
    return frame.astype(
        {"rank": "int64", "units": "int64", "orders": "int64", "revenue_cents": "int64"}
    )
