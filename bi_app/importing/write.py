"""Merge a checked file from its staging table into the database: set-based SQL, the same on
SQLite and PostgreSQL, inside the caller's transaction (a failure leaves nothing behind).

For each kind: one ``UPDATE ... FROM`` of the rows whose natural key exists, then one
``INSERT ... SELECT`` of the others, with codes resolved to ids by joins. Orders are merged from
their item rows (one header per order number, the total summed) and their items replaced. Only
the file's columns are written; an empty optional cell in :data:`KEEP_WHEN_EMPTY` keeps what is
there (or takes its default on insert). Tables that grew by many rows are analyzed afterwards on
PostgreSQL, so the next statements are planned for their real size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.orm import aliased

from bi_app.db.models import (
    Category,
    Customer,
    EventChannelStat,
    EventCost,
    EventRevenue,
    Order,
    OrderItem,
    Product,
    SalesPlatform,
    Visit,
    utcnow,
)
from bi_app.db.periods import local_date
from bi_app.importing.schemas import ImportKind
from bi_app.importing.stage import same_key
from bi_app.importing.validate import REFERENCES, RENAMES

# Database key of each kind (the file's key with references resolved to ids).
KEYS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "platforms": (SalesPlatform.__table__, ("code",)),
    "categories": (Category.__table__, ("code",)),
    "customers": (Customer.__table__, ("external_id",)),
    "products": (Product.__table__, ("sku",)),
    "orders": (Order.__table__, ("order_number",)),
    "visits": (Visit.__table__, ("customer_id", "visited_at")),
    "event_costs": (EventCost.__table__, ("event_id", "category", "description")),
    "event_revenues": (EventRevenue.__table__, ("event_id", "source", "description")),
    "channel_stats": (EventChannelStat.__table__, ("event_id", "channel", "day")),
}
# Optional columns whose empty cell means "keep what is there" (or this default for new rows).
KEEP_WHEN_EMPTY: dict[str, Callable[[], Any]] = {
    "created_at": utcnow,
    "unit_cost_cents": lambda: 0,
    "active": lambda: True,
}
# a merge that adds at least this many rows to a table analyzes it (PostgreSQL)
ANALYZE_AFTER_ROWS = 10_000

Progress = Callable[[float], None]


@dataclass
class WriteResult:
    inserted: int = 0
    updated: int = 0
    first_day: dt.date | None = None  # order/visit days whose roll-ups changed
    last_day: dt.date | None = None
    refresh_all: bool = False  # a product changed category: every day's category roll-up

    def touch(self, first: Any, last: Any) -> None:
        """Widen the changed days to include ``first..last`` (dates or datetimes; None: none)."""
        for value in (first, last):
            if value is None:
                continue
            day = _as_day(value)
            self.first_day = day if self.first_day is None else min(self.first_day, day)
            self.last_day = day if self.last_day is None else max(self.last_day, day)


def _as_day(value: Any) -> dt.date:
    """The business day (``BI_TIMEZONE``) of a stored UTC time, or a date as it is."""
    if isinstance(value, str):  # SQLite hands back text for computed values
        text = value.strip()
        value = dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
    if isinstance(value, dt.datetime):
        return local_date(value)
    return value


def _resolved(staged: Table, kind: ImportKind, names: list[str]) -> Any:
    """The staged rows (not ``bad``) as target columns: codes joined to ids, money renamed."""
    columns: list[Any] = []
    source: Any = staged
    for name in names:
        if name in kind.references:
            ref = REFERENCES[name]
            target = aliased(ref.key.class_, name=f"ref_{name}")
            key = getattr(target, ref.key.key)
            source = source.join(
                target, key == staged.c[name], isouter=not kind.field(name).required
            )
            columns.append(target.id.label(ref.target))
        else:
            columns.append(staged.c[name].label(RENAMES.get(name, name)))
    return select(*columns).select_from(source).where(~staged.c.bad)


def _defaults(table: Table, present: set[str]) -> dict[str, Any]:
    """Values for the table's columns the file does not have, from their Python-side defaults
    (an ``INSERT ... SELECT`` does not apply them)."""
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.name in present or column.primary_key or column.default is None:
            continue
        default = column.default
        if getattr(default, "is_scalar", False):
            values[column.name] = literal(default.arg, column.type)  # type: ignore[attr-defined]
        elif getattr(default, "is_callable", False):
            values[column.name] = literal(default.arg(None), column.type)  # type: ignore[attr-defined]
    return values


def upsert(
    conn: Connection, table: Table, key: tuple[str, ...], rows: Any, optional: set[str]
) -> tuple[int, int]:
    """Update the rows of ``table`` whose ``key`` is among ``rows`` (a SELECT of target columns),
    then insert the others; returns (inserted, updated)."""
    src = rows.subquery("src")
    names = [c.name for c in src.columns]
    match = same_key(table, src, key, optional)
    updated = _count(
        conn,
        update(table)
        .where(match)
        .values(
            {
                c: func.coalesce(src.c[c], table.c[c]) if c in KEEP_WHEN_EMPTY else src.c[c]
                for c in names
                if c not in key
            }
        ),
    )
    chosen = [
        func.coalesce(src.c[c], literal(KEEP_WHEN_EMPTY[c](), table.c[c].type)).label(c)
        if c in KEEP_WHEN_EMPTY
        else src.c[c]
        for c in names
    ]
    defaults = _defaults(table, set(names))
    new = select(*chosen, *[v.label(c) for c, v in defaults.items()]).where(~exists().where(match))
    inserted = _count(conn, insert(table).from_select([*names, *defaults], new))
    return inserted, updated


def _count(conn: Connection, statement: Any) -> int:
    """Run ``statement`` and return how many rows it wrote (SQLAlchemy keeps an INSERT's row
    count only when asked)."""
    return conn.execute(statement, execution_options={"preserve_rowcount": True}).rowcount


def _analyze(conn: Connection, table: Table, inserted: int) -> None:
    if inserted >= ANALYZE_AFTER_ROWS and conn.dialect.name == "postgresql":
        conn.execute(text(f'ANALYZE "{table.name}"'))


def _span(conn: Connection, column: Any) -> tuple[Any, Any]:
    """The smallest and the largest value of ``column``."""
    return tuple(conn.execute(select(func.min(column), func.max(column))).one())  # type: ignore[return-value]


def _write_orders(conn: Connection, staged: Table, progress: Progress) -> WriteResult:
    result = WriteResult()
    orders, items = Order.__table__, OrderItem.__table__
    customer, platform = aliased(Customer, name="c"), aliased(SalesPlatform, name="p")
    headers = (
        select(
            staged.c.order_number,
            customer.id.label("customer_id"),
            platform.id.label("platform_id"),
            staged.c.status,
            staged.c.ordered_at,
            func.sum(staged.c.quantity * staged.c.unit_price).label("total_cents"),
        )
        .join(customer, customer.external_id == staged.c.customer_external_id)
        .join(platform, platform.code == staged.c.platform_code)
        .where(~staged.c.bad)
        .group_by(
            staged.c.order_number, customer.id, platform.id, staged.c.status, staged.c.ordered_at
        )
    )
    numbers = select(staged.c.order_number).where(~staged.c.bad)
    # the days of the orders as they were: their roll-ups change too
    existing = select(orders.c.ordered_at).where(orders.c.order_number.in_(numbers)).subquery()
    result.touch(*_span(conn, existing.c.ordered_at))
    result.touch(*_span(conn, staged.c.ordered_at))
    progress(0.2)
    result.inserted, result.updated = upsert(conn, orders, ("order_number",), headers, set())
    progress(0.5)
    ids = select(orders.c.id).where(orders.c.order_number.in_(numbers))
    conn.execute(delete(items).where(items.c.order_id.in_(ids)))
    product = aliased(Product, name="prod")
    lines = (
        select(
            orders.c.id,
            product.id,
            staged.c.quantity,
            staged.c.unit_price,
            (staged.c.quantity * staged.c.unit_price),
        )
        .select_from(staged)
        .join(orders, orders.c.order_number == staged.c.order_number)
        .join(product, product.sku == staged.c.sku)
        .where(~staged.c.bad)
    )
    added = _count(
        conn,
        insert(items).from_select(
            ["order_id", "product_id", "quantity", "unit_price_cents", "amount_cents"], lines
        ),
    )
    progress(0.9)
    _analyze(conn, orders, result.inserted)
    _analyze(conn, items, added)
    return result


def _category_moved(conn: Connection, staged: Table) -> bool:
    """A staged product exists with another category than the file gives it."""
    moved = (
        select(literal(1))
        .select_from(staged)
        .join(Product, Product.sku == staged.c.sku)
        .join(Category, Category.code == staged.c.category_code)
        .where(Product.category_id != Category.id, ~staged.c.bad)
        .exists()
    )
    return bool(conn.execute(select(moved)).scalar())


def write(
    conn: Connection,
    kind: ImportKind,
    staged: Table,
    header: list[str],
    progress: Progress = lambda _f: None,
) -> WriteResult:
    """Merge the checked, staged rows of one file in the caller's transaction."""
    if kind.name == "orders":
        return _write_orders(conn, staged, progress)
    table, key = KEYS[kind.name]
    names = [n for n in kind.columns if n in header]
    result = WriteResult()
    if kind.name == "products" and "category_code" in header:
        result.refresh_all = _category_moved(conn, staged)
    if kind.name == "visits":  # the visitor bitmaps of those days (visited_at is part of the key)
        result.touch(*_span(conn, staged.c.visited_at))
    optional = {
        REFERENCES[n].target if n in REFERENCES else RENAMES.get(n, n)
        for n in kind.columns
        if not kind.field(n).required
    }
    progress(0.2)
    result.inserted, result.updated = upsert(
        conn, table, key, _resolved(staged, kind, names), optional
    )
    _analyze(conn, table, result.inserted)
    progress(1.0)
    return result


__all__ = ["KEEP_WHEN_EMPTY", "KEYS", "WriteResult", "upsert", "write"]
