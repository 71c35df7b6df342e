"""Loading the small hand-made sales datasets of the data-layer tests into a migrated database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, insert

from bi_app.db.models import Category, Customer, Order, OrderItem, Product, SalesPlatform
from bi_app.db.rollups import refresh_rollups


def load_sales_dataset(
    engine: Engine,
    *,
    platforms: Sequence[tuple],
    categories: Sequence[tuple],
    products: Sequence[tuple],
    customers: Iterable[int],
    orders: Sequence[tuple],
    customers_since: dt.datetime,
) -> None:
    """Insert the catalogue, customers and orders into an empty database and build the roll-ups.

    ``platforms`` and ``categories`` are ``(id, code, name)``; ``products`` ``(id, sku, name,
    category, price_cents)``; ``orders`` ``(id, customer, platform, status, ordered_at,
    total_cents, [(product, quantity), ...])``. Items are numbered in order, priced at list price.
    """
    prices = {p[0]: p[4] for p in products}
    items = [
        {
            "order_id": order_id,
            "product_id": product_id,
            "quantity": quantity,
            "unit_price_cents": prices[product_id],
            "amount_cents": prices[product_id] * quantity,
        }
        for order_id, *_rest, lines in orders
        for product_id, quantity in lines
    ]
    for item_id, item in enumerate(items, start=1):
        item["id"] = item_id
    with engine.begin() as conn:
        conn.execute(
            insert(SalesPlatform), [{"id": i, "code": c, "name": n} for i, c, n in platforms]
        )
        conn.execute(insert(Category), [{"id": i, "code": c, "name": n} for i, c, n in categories])
        conn.execute(
            insert(Product),
            [
                {
                    "id": i,
                    "sku": s,
                    "name": n,
                    "category_id": c,
                    "unit_price_cents": p,
                    "unit_cost_cents": 0,
                    "active": True,
                }
                for i, s, n, c, p in products
            ],
        )
        conn.execute(
            insert(Customer),
            [
                {
                    "id": i,
                    "external_id": f"C{i}",
                    "name": f"Customer {i}",
                    "created_at": customers_since,
                }
                for i in customers
            ],
        )
        conn.execute(
            insert(Order),
            [
                {
                    "id": o,
                    "order_number": f"O-{o}",
                    "customer_id": c,
                    "platform_id": p,
                    "status": s,
                    "ordered_at": at,
                    "total_cents": total,
                }
                for o, c, p, s, at, total, _ in orders
            ],
        )
        if items:
            conn.execute(insert(OrderItem), items)
    refresh_rollups(engine)
