"""Queries of the Sales page, on the daily roll-ups only, cached under the ``sales`` namespace.

On top of the global filter (dates, platforms, categories) the page filters by order status.
"Revenue" follows :mod:`bi_app.data.sales`: the value of orders with a revenue status (paid,
shipped, delivered) — order totals without a category filter, item revenue of the chosen
categories with one. With a status filter it is the value of orders in the chosen statuses, so
clicking "refunded" shows what was refunded. The share of orders cancelled or refunded is taken
over orders of every status in the same dates, platforms and categories.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import case, false, func, literal, select, union_all

from bi_app.analytics import growth
from bi_app.data._common import (
    category_filter,
    check_granularity,
    date_range,
    engine,
    platform_filter,
    previous_period,
)
from bi_app.data.cache import cached
from bi_app.data.sales import NAMESPACE
from bi_app.db.models import (
    ORDER_STATUSES,
    REVENUE_STATUSES,
    Category,
    DailyCategorySales,
    DailyOrders,
    Product,
    SalesPlatform,
)
from bi_app.db.rollups import product_sales_rows

Codes = tuple[str, ...] | None
DateArg = dt.date | str
LOST_STATUSES = ("cancelled", "refunded")
RANK_METRICS = ("revenue", "units")
MAX_PRODUCTS = 5_000


# --- the status filter ------------------------------------------------------------------------


def parse_statuses(raw: object) -> tuple[Codes, list[str]]:
    """The ``status`` URL parameter (or a callback value) as known status codes plus notices.

    Accepts ``"paid,shipped"`` or a list; unknown values are dropped with a notice, and a
    selection of every status means no filter (None), like the global filter's codes.
    """
    if raw is None:
        items: Iterable[object] = []
    elif isinstance(raw, (list, tuple)):
        items = raw
    else:
        items = str(raw).split(",")
    codes = [str(item).strip().lower() for item in items if str(item).strip()]
    valid = tuple(s for s in ORDER_STATUSES if s in codes)
    rejected = [c for c in dict.fromkeys(codes) if c not in ORDER_STATUSES]
    notices = []
    if rejected:
        notices.append(
            f"Unknown order status {', '.join(repr(c[:40]) for c in rejected[:3])} ignored."
        )
    if not valid or len(valid) == len(ORDER_STATUSES):
        return None, notices
    return valid, notices


def _selected(statuses: Codes) -> tuple[str, ...]:
    return tuple(statuses) if statuses else REVENUE_STATUSES


# --- building blocks ------------------------------------------------------------------------


def _sales_table(categories: Codes) -> Any:
    return DailyCategorySales.__table__ if categories else DailyOrders.__table__


def _where(
    table: Any, start: dt.date, end: dt.date, platforms: Codes, categories: Codes
) -> list[Any]:
    """Date, platform and category conditions; statuses are applied by each query."""
    conditions = [table.c.day >= start, table.c.day <= end]
    conditions += platform_filter(table.c.platform_id, platforms)
    if categories:
        conditions += category_filter(table.c.category_id, categories)
    return conditions


def _sum_if(column: Any, condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, column), else_=0)), 0)


def _period_frame(
    found: dict[dt.date, tuple[int, ...]], periods: list[dt.date], columns: tuple[str, ...]
) -> pd.DataFrame:
    zeros = (0,) * len(columns)
    data: dict[str, Any] = {"period": periods}
    for i, name in enumerate(columns):
        data[name] = pd.array([found.get(p, zeros)[i] for p in periods], dtype="int64")
    return pd.DataFrame(data)


# --- totals and growth ------------------------------------------------------------------------


@cached(NAMESPACE)
def sales_page_totals(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
) -> dict:
    """``{"revenue_cents", "orders", "lost_orders", "lost_cents", "all_orders"}`` for the days."""
    first, last = date_range(start, end)
    table = _sales_table(categories)
    selected = table.c.status.in_(_selected(statuses))
    lost = table.c.status.in_([s for s in LOST_STATUSES if not statuses or s in statuses])
    query = select(
        _sum_if(table.c.revenue_cents, selected),
        _sum_if(table.c.orders, selected),
        _sum_if(table.c.orders, lost),
        _sum_if(table.c.revenue_cents, lost),
        func.coalesce(func.sum(table.c.orders), 0),
    ).where(*_where(table, first, last, platforms, categories))
    with engine().connect() as conn:
        revenue, orders, lost_orders, lost_cents, all_orders = conn.execute(query).one()
    return {
        "revenue_cents": int(revenue),
        "orders": int(orders),
        "lost_orders": int(lost_orders),
        "lost_cents": int(lost_cents),
        "all_orders": int(all_orders),
    }


@cached(NAMESPACE)
def sales_page_kpis(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
) -> list[growth.GrowthKpi]:
    """Headline figures against the previous equal-length range and the same range a year earlier."""
    first, last = date_range(start, end)
    prev_start, prev_end = previous_period(first, last)
    year_start, year_end = growth.comparison_window(first, last, "day", "yoy")
    args = (platforms, categories, statuses)
    return growth.summary_kpis(
        sales_page_totals(first, last, *args),
        sales_page_totals(prev_start, prev_end, *args),
        sales_page_totals(year_start, year_end, *args),
    )


def _period_sums_query(
    first: dt.date,
    last: dt.date,
    platforms: Codes,
    categories: Codes,
    statuses: Codes,
    granularity: str,
) -> Any:
    """``period``, revenue and orders per period of ``granularity`` within ``first..last``."""
    table = _sales_table(categories)
    period = table.c[granularity]
    return (
        select(period, func.sum(table.c.revenue_cents), func.sum(table.c.orders))
        .where(
            *_where(table, first, last, platforms, categories),
            table.c.status.in_(_selected(statuses)),
        )
        .group_by(period)
    )


@cached(NAMESPACE)
def period_sales(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
    granularity: str = "day",
) -> pd.DataFrame:
    """Columns ``period``, ``revenue_cents``, ``orders``: one row per period touching the days
    (only the days inside the range count), zeros included."""
    first, last = date_range(start, end)
    check_granularity(granularity)
    query = _period_sums_query(first, last, platforms, categories, statuses, granularity)
    with engine().connect() as conn:
        found = {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(query)}
    return _period_frame(
        found, growth.periods(first, last, granularity), ("revenue_cents", "orders")
    )


@cached(NAMESPACE)
def revenue_growth(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
    granularity: str = "day",
) -> pd.DataFrame:
    """Revenue, orders and average order value per period with period-over-period and
    year-over-year changes (see :func:`bi_app.analytics.growth.growth_table` for the columns)."""
    first, last = date_range(start, end)
    check_granularity(granularity)
    windows = [
        (first, last),
        growth.comparison_window(first, last, granularity, "pop"),
        growth.comparison_window(first, last, granularity, "yoy"),
    ]
    # One statement, one branch per window: the windows overlap (a day's previous period is
    # the day before), so each branch sums its own days, exactly as a query per window would.
    parts = []
    for index, (w_start, w_end) in enumerate(windows):
        sums = _period_sums_query(w_start, w_end, platforms, categories, statuses, granularity)
        parts.append(sums.add_columns(literal(index).label("window")))
    found: list[dict[dt.date, tuple[int, int]]] = [{}, {}, {}]
    with engine().connect() as conn:
        for period, revenue, orders, window in conn.execute(union_all(*parts)):
            found[int(window)][_as_date(period)] = (int(revenue), int(orders))
    columns = ("revenue_cents", "orders")
    current = _period_frame(found[0], growth.periods(first, last, granularity), columns)
    # growth_table counts a comparison period it does not find as zero sales: the windows'
    # frames need only the periods that sold, not every period padded with zeros
    previous, year_ago = (_period_frame(sums, sorted(sums), columns) for sums in found[1:])
    return growth.growth_table(current, previous, year_ago, granularity)


def _as_date(value: Any) -> dt.date:
    # SQLite hands back a compound SELECT's dates as text: the column type is lost in the union
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


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
    table = _sales_table(categories)
    period = table.c[granularity]
    measures = []
    for status in LOST_STATUSES:
        counted = table.c.status == status if not statuses or status in statuses else false()
        measures += [_sum_if(table.c.orders, counted), _sum_if(table.c.revenue_cents, counted)]
    query = (
        select(period, *measures, func.sum(table.c.orders))
        .where(*_where(table, first, last, platforms, categories))
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
    frame = _period_frame(found, growth.periods(first, last, granularity), columns)
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
    """Columns ``platform``, ``platform_name``, ``status``, ``orders``, ``revenue_cents`` for every
    status (or the chosen ones); only combinations that occurred, in status order."""
    first, last = date_range(start, end)
    table = _sales_table(categories)
    conditions = _where(table, first, last, platforms, categories)
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
    rows.sort(key=lambda r: (r[0], rank.get(r[2], len(rank))))
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
    table = _sales_table(categories)
    query = (
        select(table.c.status, func.sum(table.c.orders), func.sum(table.c.revenue_cents))
        .where(*_where(table, first, last, platforms, categories))
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
            *_where(table, first, last, platforms, categories),
            table.c.status.in_(_selected(statuses)),
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
    selected = _selected(statuses)

    def where(table: Any) -> list[Any]:
        conditions = [table.c.status.in_(selected), *platform_filter(table.c.platform_id, platforms)]
        if categories:
            conditions += category_filter(table.c.category_id, categories)
        return conditions

    # Whole months from the monthly product roll-up, edge days from the daily one.
    sold = product_sales_rows(first, last, where)
    revenue, units = func.sum(sold.c.revenue_cents), func.sum(sold.c.units)
    everything = product_sales_rows(first, last, where)
    total = select(func.coalesce(func.sum(everything.c.revenue_cents), 0)).scalar_subquery()
    order = (
        (revenue.desc(), units.desc()) if metric == "revenue" else (units.desc(), revenue.desc())
    )
    query = (
        select(
            Product.sku,
            Product.name,
            Category.name,
            units,
            func.sum(sold.c.orders),
            revenue,
            total,
        )
        .select_from(sold)
        .join(Product, Product.id == sold.c.product_id)
        .join(Category, Category.id == sold.c.category_id)
        .group_by(Product.sku, Product.name, Category.name)
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
