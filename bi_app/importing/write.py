"""Write validated records: insert new rows, update existing ones, matched on natural keys.

Portable select-then-write in batches (the same SQL on SQLite and PostgreSQL): each batch reads
the existing rows of its keys, then inserts the new ones and updates the rest with one
executemany each. Runs inside the caller's transaction, so a failure leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update

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

BATCH = 500
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


@dataclass
class WriteResult:
    inserted: int = 0
    updated: int = 0
    days: set[dt.date] = field(default_factory=set)  # order/visit days whose roll-ups changed
    refresh_all: bool = False  # a product changed category: every day's category roll-up


def upsert(
    conn: Connection,
    table: Table,
    key: tuple[str, ...],
    records: list[dict[str, Any]],
    progress: Callable[[int], None] = lambda _n: None,
) -> tuple[WriteResult, dict[tuple, Any]]:
    """Insert or update ``records`` by ``key``; returns counts and the rows as they were before."""
    result = WriteResult()
    before: dict[tuple, Any] = {}
    if not records:
        return result, before
    columns = [c for c in records[0] if c != "id"]
    keep = [c for c in columns if c in KEEP_WHEN_EMPTY]
    # bind names must differ from column names in an UPDATE's SET clause
    statement = (
        update(table)
        .where(table.c.id == bindparam("p__id"))
        .values(
            {
                c: func.coalesce(bindparam(f"p_{c}"), table.c[c])
                if c in keep
                else bindparam(f"p_{c}")
                for c in columns
            }
        )
    )
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        first = sorted({r[key[0]] for r in batch}, key=str)
        existing = {
            tuple(row._mapping[k] for k in key): row
            for row in conn.execute(select(table).where(table.c[key[0]].in_(first)))
        }
        new, changed = [], []
        for record in batch:
            old = existing.get(tuple(record[k] for k in key))
            if old is None:
                new.append(
                    {
                        c: record[c]
                        if record[c] is not None or c not in keep
                        else KEEP_WHEN_EMPTY[c]()
                        for c in columns
                    }
                )
            else:
                before[tuple(record[k] for k in key)] = old
                changed.append({"p__id": old.id, **{f"p_{c}": record[c] for c in columns}})
        if new:
            conn.execute(insert(table), new)
        if changed:
            conn.execute(statement, changed)
        result.inserted += len(new)
        result.updated += len(changed)
        progress(start + len(batch))
    return result, before


def _write_orders(
    conn: Connection, items: list[dict[str, Any]], progress: Callable[[int], None]
) -> WriteResult:
    orders: dict[str, dict[str, Any]] = {}
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        number = item["order_number"]
        amount = item["quantity"] * item["unit_price_cents"]
        header = orders.setdefault(
            number,
            {
                "order_number": number,
                "customer_id": item["customer_id"],
                "platform_id": item["platform_id"],
                "status": item["status"],
                "ordered_at": item["ordered_at"],
                "total_cents": 0,
            },
        )
        header["total_cents"] += amount
        lines[number].append(
            {
                "product_id": item["product_id"],
                "quantity": item["quantity"],
                "unit_price_cents": item["unit_price_cents"],
                "amount_cents": amount,
            }
        )
    table = Order.__table__
    result, before = upsert(
        conn,
        table,
        ("order_number",),
        list(orders.values()),
        lambda n: progress(n * len(items) // max(len(orders), 1)),
    )
    result.days = {o["ordered_at"].date() for o in orders.values()}
    result.days |= {row.ordered_at.date() for row in before.values()}
    numbers = sorted(orders)
    for start in range(0, len(numbers), BATCH):
        chunk = numbers[start : start + BATCH]
        ids = dict(
            conn.execute(
                select(table.c.order_number, table.c.id).where(table.c.order_number.in_(chunk))
            ).all()
        )
        conn.execute(
            delete(OrderItem.__table__).where(
                OrderItem.__table__.c.order_id.in_(list(ids.values()))
            )
        )
        conn.execute(
            insert(OrderItem.__table__),
            [{"order_id": ids[number], **line} for number in chunk for line in lines[number]],
        )
    return result


def write(
    conn: Connection,
    kind: str,
    records: list[dict[str, Any]],
    progress: Callable[[int], None] = lambda _n: None,
) -> WriteResult:
    """Write one kind's validated records in the caller's transaction."""
    if kind == "orders":
        return _write_orders(conn, records, progress)
    table, key = KEYS[kind]
    result, before = upsert(conn, table, key, records, progress)
    if kind == "visits":  # the visitor bitmaps of those days (visited_at is part of the key)
        result.days = {r["visited_at"].date() for r in records}
    if kind == "products" and "category_id" in records[0]:
        moved = {
            r["sku"]
            for r in records
            if (r["sku"],) in before and before[(r["sku"],)].category_id != r["category_id"]
        }
        result.refresh_all = bool(moved)
    return result
