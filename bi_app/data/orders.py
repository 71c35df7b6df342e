"""Every order, one row each, for the Orders explorer and its exports: paged, sorted and filtered
in SQL, so ten million orders cost a page of rows, never a table read.

Filters are the global ones (local days of ``ordered_at`` in the business time zone, turned into
UTC bounds on the stored column, platforms, categories: an order with at
least one item of a chosen category) plus statuses and a search: an order number (its start), a
customer id (exact) or a customer name (contains; the first :data:`MAX_NAME_MATCHES` matching
customers). Sorting is on the order time, the order number or the amount, each an index. Counts
come from a daily roll-up without a search and with at most one category (no scan), else from
one ``COUNT(*)``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, String, cast, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from bi_app.data._common import (
    Codes,
    DateArg,
    date_range,
    engine,
    escape_like,
    platform_filter,
    sales_table,
    sales_where,
)
from bi_app.data.cache import cached
from bi_app.db.models import (
    ORDER_STATUSES,
    Category,
    Customer,
    Order,
    OrderItem,
    Product,
    SalesPlatform,
)
from bi_app.db.periods import business_timezone, is_utc, local_day_range

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

    @functools.cached_property
    def customer_ids(self) -> list[int]:
        """The customers the search names (see :func:`_customer_ids`), read once per query:
        its page and its count share them."""
        return _customer_ids(self.search) if self.search else []


def search_text(search: object) -> str | None:
    """The search as applied: trimmed, at most :data:`MAX_SEARCH_CHARS` characters."""
    if not isinstance(search, str):
        return None
    return search.strip()[:MAX_SEARCH_CHARS].strip() or None


def _number_prefix(search: str) -> Any:
    return Order.order_number.like(f"{escape_like(search)}%", escape="\\")


def _customer_ids(search: str) -> list[int]:
    """The customers a search names: the one whose id it is exactly; else, unless the search
    starts an order number (then it is a number search), those whose name contains it (at most
    :data:`MAX_NAME_MATCHES`). Read first, so the orders query is index lookups (number prefix,
    customer) rather than a filter over every order; the name search, a scan of the customers,
    is skipped for order numbers."""
    with engine().connect() as conn:
        exact = (
            conn.execute(select(Customer.id).where(Customer.external_id == search)).scalars().all()
        )
        if exact:
            return list(exact)
        number = select(Order.id).where(_number_prefix(search)).limit(1)
        if conn.execute(number).first() is not None:
            return []
        pattern = f"%{escape_like(search.lower())}%"
        named = select(Customer.id).where(func.lower(Customer.name).like(pattern, escape="\\"))
        return list(conn.execute(named.limit(MAX_NAME_MATCHES)).scalars())


def _conditions(q: OrderQuery) -> list[ColumnElement[bool]]:
    o = Order.__table__
    conditions: list[ColumnElement[bool]] = local_day_range(o.c.ordered_at, q.start, q.end)
    conditions += platform_filter(o.c.platform_id, q.platforms)
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
        by_number = _number_prefix(q.search)
        customers = q.customer_ids
        conditions.append(
            or_(by_number, o.c.customer_id.in_(customers)) if customers else by_number
        )
    return conditions


def _items_text(order_id: Any) -> Any:
    """``2 × Wireless Earbuds; 1 × Cable`` for the outer query's order (index reads)."""
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
        .where(item.c.order_id == order_id)
        .scalar_subquery()
    )


def _units(order_id: Any) -> Any:
    item = OrderItem.__table__
    return (
        select(func.coalesce(func.sum(item.c.quantity), 0))
        .where(item.c.order_id == order_id)
        .scalar_subquery()
    )


def _columns(orders: Any) -> list[Any]:
    return [
        orders.c.id,
        orders.c.order_number,
        orders.c.ordered_at,
        Customer.external_id,
        Customer.name,
        SalesPlatform.name,
        orders.c.status,
        _units(orders.c.id),
        _items_text(orders.c.id),
        orders.c.total_cents,
    ]


def _ordering(q: OrderQuery, table: Any) -> tuple[Any, ...]:
    key = table.c[SORTS[q.sort].key]
    return (key.desc(), table.c.id.desc()) if q.descending else (key, table.c.id)


def _rows_query(q: OrderQuery) -> Any:
    """Every matching order in ``q``'s order with its customer, platform and items."""
    o = Order.__table__
    return (
        select(*_columns(o))
        .join(Customer, Customer.id == o.c.customer_id)
        .join(SalesPlatform, SalesPlatform.id == o.c.platform_id)
        .where(*_conditions(q))
        .order_by(*_ordering(q, o))
    )


def _page_query(q: OrderQuery, start: int, end: int) -> Any:
    """Rows ``start..end-1``: the filter, the sort and the skipping run on ``orders`` alone (an
    index walk); the customers, platforms and items are read for the rows kept only."""
    o = Order.__table__
    kept = (
        select(o.c.id, SORTS[q.sort].label("k"))
        .where(*_conditions(q))
        .order_by(*_ordering(q, o))
        .offset(start)
        .limit(end - start)
        .subquery("kept")
    )
    page = o.alias("page")
    again = (kept.c.k.desc(), kept.c.id.desc()) if q.descending else (kept.c.k, kept.c.id)
    return (
        select(*_columns(page))
        .select_from(kept)
        .join(page, page.c.id == kept.c.id)
        .join(Customer, Customer.id == page.c.customer_id)
        .join(SalesPlatform, SalesPlatform.id == page.c.platform_id)
        .order_by(*again)
    )


def _frame(rows: list[Any]) -> pd.DataFrame:
    """Rows as a frame; the order time as the business's wall-clock time (``BI_TIMEZONE``)."""
    frame = pd.DataFrame([tuple(r) for r in rows], columns=COLUMNS)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    tz = business_timezone()
    if not is_utc(tz):
        local = frame["ordered_at"].dt.tz_localize("UTC").dt.tz_convert(tz)
        frame["ordered_at"] = local.dt.tz_localize(None)
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
    query = _page_query(q, start, end)
    with engine().connect() as conn:
        return _frame(conn.execute(query).all())


def order_count(q: OrderQuery) -> int:
    """How many orders match: from a daily roll-up without a search and with at most one
    category (cached), else one count over the orders (not cached when searched)."""
    if q.search:
        return _count(q)
    return _cached_count(q.start, q.end, q.platforms, q.categories, q.statuses)


@cached(NAMESPACE)
def _cached_count(
    start: DateArg, end: DateArg, platforms: Codes, categories: Codes, statuses: Codes
) -> int:
    first, last = date_range(start, end)
    q = OrderQuery(first, last, platforms, categories, statuses)
    if categories and len(categories) > 1:
        return _count(q)  # an order with items of two chosen categories must count once
    # the category roll-up counts each order once per category: exact for one category
    daily = sales_table(categories)
    conditions = sales_where(daily, first, last, platforms, categories)
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
