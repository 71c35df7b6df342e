"""Every order, one row each, for the Orders explorer and its exports: paged, sorted and filtered
in SQL, so ten million orders cost a page of rows, never a table read.

Filters are the global ones (days of ``ordered_at``, platforms, categories: an order with at
least one item of a chosen category) plus statuses and a search: an order number (its start), a
customer id (exact) or a customer name (contains; the first :data:`MAX_NAME_MATCHES` matching
customers). Sorting is on the order time (index), the order number (unique index) or the amount
(sorted within the filtered rows). Counts come from the daily roll-up when no search or category
is set (no scan), else from one ``COUNT(*)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, String, cast, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from bi_app.data._common import Codes, DateArg, date_range, engine
from bi_app.data.cache import cached
from bi_app.db.models import (
    ORDER_STATUSES,
    Category,
    Customer,
    DailyOrders,
    Order,
    OrderItem,
    Product,
    SalesPlatform,
)

NAMESPACE = "sales"  # imports and data changes invalidate orders with the sales figures
SORTS = {
    "ordered_at": Order.ordered_at,
    "order_number": Order.order_number,
    "amount_cents": Order.total_cents,
}
MAX_PAGE_ROWS = 1000
MAX_SEARCH_CHARS = 100
MAX_NAME_MATCHES = 1000
COLUMNS = [
    "order_id",
    "order_number",
    "ordered_at",
    "customer_id",
    "customer",
    "platform",
    "status",
    "units",
    "items",
    "amount_cents",
]
EXPORT_BATCH_ROWS = 5000


@dataclass(frozen=True)
class OrderQuery:
    """What the explorer shows: the global filters, the page's own, and the order."""

    start: dt.date
    end: dt.date
    platforms: Codes = None
    categories: Codes = None
    statuses: Codes = None
    search: str | None = None
    sort: str = "ordered_at"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort: expected one of {', '.join(SORTS)}, got {self.sort!r}")
        unknown = set(self.statuses or ()) - set(ORDER_STATUSES)
        if unknown:
            raise ValueError(f"statuses: unknown {', '.join(sorted(unknown))}")


def search_text(search: object) -> str | None:
    """The search as applied: trimmed, at most :data:`MAX_SEARCH_CHARS` characters."""
    if not isinstance(search, str):
        return None
    return search.strip()[:MAX_SEARCH_CHARS].strip() or None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(q: OrderQuery) -> list[ColumnElement[bool]]:
    o = Order.__table__
    conditions: list[ColumnElement[bool]] = [
        o.c.ordered_at >= dt.datetime.combine(q.start, dt.time()),
        o.c.ordered_at < dt.datetime.combine(q.end + dt.timedelta(days=1), dt.time()),
    ]
    if q.platforms:
        ids = select(SalesPlatform.id).where(SalesPlatform.code.in_(q.platforms))
        conditions.append(o.c.platform_id.in_(ids))
    if q.statuses:
        conditions.append(o.c.status.in_(q.statuses))
    if q.categories:
        item = OrderItem.__table__
        conditions.append(
            exists()
            .where(item.c.order_id == o.c.id)
            .where(
                item.c.product_id.in_(
                    select(Product.id)
                    .join(Category, Category.id == Product.category_id)
                    .where(Category.code.in_(q.categories))
                )
            )
        )
    if q.search:
        pattern = f"%{_escape_like(q.search.lower())}%"
        named = (
            select(Customer.id)
            .where(
                or_(
                    Customer.external_id == q.search,
                    func.lower(Customer.name).like(pattern, escape="\\"),
                )
            )
            .limit(MAX_NAME_MATCHES)
        )
        conditions.append(
            or_(
                o.c.order_number.like(f"{_escape_like(q.search)}%", escape="\\"),
                o.c.customer_id.in_(named),
            )
        )
    return conditions


def _items_text() -> Any:
    """``2 × Wireless Earbuds; 1 × Cable`` for the outer query's order (primary-key reads)."""
    item = OrderItem.__table__
    line = cast(item.c.quantity, String) + literal(" × ") + Product.name
    dialect = engine().dialect.name
    # in item order: PostgreSQL is told; SQLite concatenates in the order it reads the
    # order's items, which is their id order along the order_id index
    joined = (
        func.string_agg(line, aggregate_order_by(literal("; "), item.c.id))
        if dialect == "postgresql"
        else func.group_concat(line, "; ")
    )
    return (
        select(joined)
        .select_from(item.join(Product, Product.id == item.c.product_id))
        .where(item.c.order_id == Order.id)
        .scalar_subquery()
    )


def _units() -> Any:
    item = OrderItem.__table__
    return (
        select(func.coalesce(func.sum(item.c.quantity), 0))
        .where(item.c.order_id == Order.id)
        .scalar_subquery()
    )


def _rows_query(q: OrderQuery) -> Any:
    """The matching orders in ``q``'s order with their customer, platform and items; the
    order's own filter and sort run on ``orders`` alone, the joins only for the rows kept."""
    key = SORTS[q.sort]
    order = (key.desc(), Order.id.desc()) if q.descending else (key, Order.id)
    return (
        select(
            Order.id,
            Order.order_number,
            Order.ordered_at,
            Customer.external_id,
            Customer.name,
            SalesPlatform.name,
            Order.status,
            _units(),
            _items_text(),
            Order.total_cents,
        )
        .join(Customer, Customer.id == Order.customer_id)
        .join(SalesPlatform, SalesPlatform.id == Order.platform_id)
        .where(*_conditions(q))
        .order_by(*order)
    )


def _frame(rows: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=COLUMNS)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    return frame.astype({"order_id": "int64", "units": "int64", "amount_cents": "int64"})


def order_page(q: OrderQuery, start: int = 0, end: int = 100) -> pd.DataFrame:
    """Rows ``start..end-1`` (at most :data:`MAX_PAGE_ROWS`) of the matching orders. Pages
    without a search are cached; a searched page is not (each text typed would be an entry)."""
    if not 0 <= start < end or end - start > MAX_PAGE_ROWS:
        raise ValueError(f"rows {start}..{end}: at most {MAX_PAGE_ROWS} rows from row 0 on")
    if q.search:
        return _page(q, start, end)
    return _cached_page(
        q.start, q.end, q.platforms, q.categories, q.statuses, q.sort, q.descending, start, end
    )


@cached(NAMESPACE)
def _cached_page(
    start: DateArg,
    end: DateArg,
    platforms: Codes,
    categories: Codes,
    statuses: Codes,
    sort: str,
    descending: bool,
    first_row: int,
    last_row: int,
) -> pd.DataFrame:
    first, last = date_range(start, end)
    q = OrderQuery(first, last, platforms, categories, statuses, None, sort, descending)
    return _page(q, first_row, last_row)


def _page(q: OrderQuery, start: int, end: int) -> pd.DataFrame:
    query = _rows_query(q).offset(start).limit(end - start)
    with engine().connect() as conn:
        return _frame(conn.execute(query).all())


def order_count(q: OrderQuery) -> int:
    """How many orders match: from the daily roll-up without a search or a category filter
    (cached), else one count over the orders (not cached when searched)."""
    if q.search:
        return _count(q)
    return _cached_count(q.start, q.end, q.platforms, q.categories, q.statuses)


@cached(NAMESPACE)
def _cached_count(
    start: DateArg, end: DateArg, platforms: Codes, categories: Codes, statuses: Codes
) -> int:
    first, last = date_range(start, end)
    q = OrderQuery(first, last, platforms, categories, statuses)
    if categories:
        return _count(q)
    daily = DailyOrders.__table__
    conditions = [daily.c.day >= first, daily.c.day <= last]
    if platforms:
        ids = select(SalesPlatform.id).where(SalesPlatform.code.in_(platforms))
        conditions.append(daily.c.platform_id.in_(ids))
    if statuses:
        conditions.append(daily.c.status.in_(statuses))
    query = select(func.coalesce(func.sum(daily.c.orders), 0)).where(*conditions)
    with engine().connect() as conn:
        return int(conn.execute(query).scalar_one())


def _count(q: OrderQuery) -> int:
    query = select(func.count()).select_from(Order.__table__).where(*_conditions(q))
    with engine().connect() as conn:
        return int(conn.execute(query).scalar_one())


def iter_orders(q: OrderQuery, limit: int | None = None) -> Iterator[pd.DataFrame]:
    """Every matching order in ``q``'s order, as frames of :data:`EXPORT_BATCH_ROWS` rows read
    from one streaming cursor (bounded memory whatever the count)."""
    query = _rows_query(q)
    if limit is not None:
        query = query.limit(limit)
    with engine().connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=EXPORT_BATCH_ROWS).execute(
            query
        )
        for batch in result.partitions():
            yield _frame(batch)
