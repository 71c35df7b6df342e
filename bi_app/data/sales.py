"""Sales figures for the Overview and Sales pages, read from the daily roll-ups only.

Revenue and "orders" count orders with a revenue status (paid, shipped, delivered). Without a
category filter revenue is the order totals (``daily_orders``); with one it is the item revenue
of those categories (``daily_category_sales`` / ``daily_product_sales``), and ``orders`` counts
orders containing such items — per category, so with several categories selected an order with
items from two of them counts twice (the category roll-up keeps no order identity). Customer
counts are exact distinct counts in every case.

Product rankings and customer counts read whole months (customers without a platform filter:
whole quarters, then months) of a range from the coarser roll-ups and only the edge days from
the daily ones (:func:`bi_app.db.rollups.plan_range`), so a year costs a few periods of rows
instead of 365 days of them.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from bi_app.analytics import kpi
from bi_app.data._common import (
    category_filter,
    check_granularity,
    date_range,
    engine,
    platform_filter,
    previous_period,
)
from bi_app.data.cache import cached
from bi_app.db.models import (
    ORDER_STATUSES,
    REVENUE_STATUSES,
    Category,
    DailyCategorySales,
    DailyOrders,
    Product,
    SalesPlatform,
)
from bi_app.db.rollups import active_customer_ids, product_sales_rows

NAMESPACE = "sales"
MAX_TOP_PRODUCTS = 10_000

Codes = tuple[str, ...] | None
DateArg = dt.date | str


def _sales_table(categories: Codes) -> Any:
    """The roll-up that answers a query: order totals, or item sales when categories are set."""
    return DailyCategorySales.__table__ if categories else DailyOrders.__table__


def _where(table: Any, start: dt.date, end: dt.date, platforms: Codes, categories: Codes,
           revenue_only: bool = True) -> list[Any]:
    conditions = [table.c.day >= start, table.c.day <= end]
    if revenue_only:
        conditions.append(table.c.status.in_(REVENUE_STATUSES))
    conditions += platform_filter(table.c.platform_id, platforms)
    if categories:
        conditions += category_filter(table.c.category_id, categories)
    return conditions


def _filters(platforms: Codes, categories: Codes, revenue_only: bool = True) -> Any:
    """``where(table)`` for the grain helpers of :mod:`bi_app.db.rollups`."""

    def where(table: Any) -> list[Any]:
        conditions = [table.c.status.in_(REVENUE_STATUSES)] if revenue_only else []
        if platforms:  # the grains of unfiltered customer counts have no platform column
            conditions += platform_filter(table.c.platform_id, platforms)
        if categories:
            conditions += category_filter(table.c.category_id, categories)
        return conditions

    return where


def _active_customers_query(start: dt.date, end: dt.date, platforms: Codes, categories: Codes) -> Any:
    # Activity rows hold revenue orders only, and carry no status column.
    ids = active_customer_ids(start, end, _filters(platforms, categories, revenue_only=False),
                              by_platform=bool(platforms), by_category=bool(categories))
    # COUNT over a DISTINCT/UNION subquery lets PostgreSQL hash instead of sorting for COUNT(DISTINCT).
    return select(func.count()).select_from(ids.subquery("customers"))


@cached(NAMESPACE)
def sales_totals(start: DateArg, end: DateArg, platforms: Codes = None, categories: Codes = None) -> dict:
    """``{"revenue_cents", "orders", "active_customers", "units"}`` for days ``start..end``."""
    first, last = date_range(start, end)
    table = _sales_table(categories)
    query = select(
        func.coalesce(func.sum(table.c.revenue_cents), 0),
        func.coalesce(func.sum(table.c.orders), 0),
        func.coalesce(func.sum(table.c.units), 0),
        _active_customers_query(first, last, platforms, categories).scalar_subquery(),
    ).where(*_where(table, first, last, platforms, categories))
    with engine().connect() as conn:
        revenue, orders, units, customers = conn.execute(query).one()
    return {"revenue_cents": int(revenue), "orders": int(orders),
            "active_customers": int(customers or 0), "units": int(units)}


@cached(NAMESPACE)
def overview_kpis(start: DateArg, end: DateArg, platforms: Codes = None,
                  categories: Codes = None) -> list[kpi.Kpi]:
    """Revenue, orders, average order value and active customers against the previous period."""
    first, last = date_range(start, end)
    prev_start, prev_end = previous_period(first, last)
    current = sales_totals(first, last, platforms, categories)
    previous = sales_totals(prev_start, prev_end, platforms, categories)
    return kpi.overview_kpis(current, previous)


def _periods(start: dt.date, end: dt.date, granularity: str) -> list[dt.date]:
    """Every period start touching ``start..end``, in order (a partial first week or month is
    labelled by its start, like the roll-up's ``week``/``month`` columns)."""
    if granularity == "day":
        return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    if granularity == "week":
        first = start - dt.timedelta(days=start.weekday())
        return [first + dt.timedelta(weeks=i) for i in range((end - first).days // 7 + 1)]
    periods, month = [], start.replace(day=1)
    while month <= end:
        periods.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return periods


@cached(NAMESPACE)
def revenue_trend(start: DateArg, end: DateArg, platforms: Codes = None, categories: Codes = None,
                  granularity: str = "day") -> pd.DataFrame:
    """Columns ``period`` (date), ``revenue_cents``, ``orders``: one row per period, zeros included."""
    first, last = date_range(start, end)
    check_granularity(granularity)
    table = _sales_table(categories)
    period = table.c[granularity]
    query = (
        select(period, func.sum(table.c.revenue_cents), func.sum(table.c.orders))
        .where(*_where(table, first, last, platforms, categories))
        .group_by(period)
    )
    with engine().connect() as conn:
        found = {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(query)}
    periods = _periods(first, last, granularity)
    return pd.DataFrame({
        "period": periods,
        "revenue_cents": pd.array([found.get(p, (0, 0))[0] for p in periods], dtype="int64"),
        "orders": pd.array([found.get(p, (0, 0))[1] for p in periods], dtype="int64"),
    })


@cached(NAMESPACE)
def orders_by_platform_status(start: DateArg, end: DateArg, platforms: Codes = None,
                              categories: Codes = None) -> pd.DataFrame:
    """Columns ``platform`` (code), ``platform_name``, ``status``, ``orders`` — every status,
    cancellations and refunds included; only combinations that occurred."""
    first, last = date_range(start, end)
    table = _sales_table(categories)
    query = (
        select(SalesPlatform.code, SalesPlatform.name, table.c.status, func.sum(table.c.orders))
        .join(SalesPlatform, SalesPlatform.id == table.c.platform_id)
        .where(*_where(table, first, last, platforms, categories, revenue_only=False))
        .group_by(SalesPlatform.code, SalesPlatform.name, table.c.status)
    )
    with engine().connect() as conn:
        rows = [(code, name, status, int(orders)) for code, name, status, orders in conn.execute(query)]
    rank = {status: i for i, status in enumerate(ORDER_STATUSES)}
    rows.sort(key=lambda r: (r[0], rank.get(r[2], len(rank)), r[2]))
    frame = pd.DataFrame(rows, columns=["platform", "platform_name", "status", "orders"])
    return frame.astype({"orders": "int64"})


@cached(NAMESPACE)
def top_products(start: DateArg, end: DateArg, platforms: Codes = None, categories: Codes = None,
                 limit: int = 100) -> pd.DataFrame:
    """Columns ``sku``, ``product``, ``category``, ``units``, ``orders``, ``revenue_cents`` for
    the ``limit`` best-selling products by revenue (ties by SKU)."""
    first, last = date_range(start, end)
    if not 1 <= int(limit) <= MAX_TOP_PRODUCTS:
        raise ValueError(f"limit: expected 1..{MAX_TOP_PRODUCTS}, got {limit!r}")
    sold = product_sales_rows(first, last, _filters(platforms, categories))
    revenue = func.sum(sold.c.revenue_cents)
    query = (
        select(Product.sku, Product.name, Category.name, func.sum(sold.c.units),
               func.sum(sold.c.orders), revenue)
        .select_from(sold)
        .join(Product, Product.id == sold.c.product_id)
        .join(Category, Category.id == sold.c.category_id)
        .group_by(Product.sku, Product.name, Category.name)
        .order_by(revenue.desc(), Product.sku)
        .limit(int(limit))
    )
    with engine().connect() as conn:
        rows = [(sku, name, category, int(units), int(orders), int(rev))
                for sku, name, category, units, orders, rev in conn.execute(query)]
    frame = pd.DataFrame(rows, columns=["sku", "product", "category", "units", "orders", "revenue_cents"])
    return frame.astype({"units": "int64", "orders": "int64", "revenue_cents": "int64"})
