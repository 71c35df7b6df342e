"""Every sales/catalog data function against a small hand-made dataset, on SQLite and PostgreSQL.

The expected numbers below were worked out by hand from DATASET (see the comments), not by
running the code. The current period is Mon 2024-01-08 .. Sun 2024-01-14; the previous one is
2024-01-01 .. 2024-01-07.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, insert

from bi_app.db.models import Category, Customer, Order, OrderItem, Product, SalesPlatform
from bi_app.db.rollups import refresh_rollups

pytestmark = pytest.mark.integration

D = dt.date
T = dt.datetime
START, END = D(2024, 1, 8), D(2024, 1, 14)

PLATFORMS = [(1, "web", "Web shop"), (2, "app", "Mobile app")]
CATEGORIES = [(1, "books", "Books"), (2, "toys", "Toys")]
PRODUCTS = [  # id, sku, name, category, price
    (1, "B1", "Novel", 1, 1000),
    (2, "B2", "Atlas", 1, 2500),
    (3, "T1", "Yo-yo", 2, 500),
]
# id, customer, platform, status, ordered_at, total_cents, items [(product, qty)]
ORDERS = [
    # previous period
    (101, 1, 1, "paid", T(2024, 1, 2, 9), 1000, [(1, 1)]),
    (102, 2, 2, "delivered", T(2024, 1, 5, 15), 1000, [(3, 2)]),
    (103, 1, 1, "cancelled", T(2024, 1, 6, 11), 2500, [(2, 1)]),
    # current period
    (1, 1, 1, "paid", T(2024, 1, 8, 10), 2500, [(1, 2), (3, 1)]),
    (2, 2, 1, "delivered", T(2024, 1, 8, 23, 59, 59), 2500, [(2, 1)]),
    (3, 1, 2, "shipped", T(2024, 1, 10, 0, 0, 0), 2000, [(3, 4)]),
    (4, 3, 2, "cancelled", T(2024, 1, 10, 12), 1000, [(1, 1)]),
    (5, 3, 1, "pending", T(2024, 1, 12, 8), 500, [(3, 1)]),
    (6, 2, 2, "refunded", T(2024, 1, 14, 8), 5000, [(2, 2)]),
    (7, 3, 1, "paid", T(2024, 1, 14, 23, 30), 3700, [(1, 1), (2, 1)]),  # 200 shipping on top
    # outside both periods
    (201, 1, 1, "paid", T(2023, 12, 31, 23, 59, 59), 1000, [(1, 1)]),
    (202, 2, 1, "paid", T(2024, 1, 15, 0, 0, 0), 1000, [(1, 1)]),
    (203, 3, 2, "paid", T(2024, 1, 20, 12), 700, []),  # an order without items
]


def load_dataset(engine: Engine) -> None:
    """Insert DATASET into a migrated, empty database and build the roll-ups."""
    prices = {p[0]: p[4] for p in PRODUCTS}
    items, item_id = [], 0
    for order_id, *_rest, lines in ORDERS:
        for product_id, quantity in lines:
            item_id += 1
            items.append({"id": item_id, "order_id": order_id, "product_id": product_id, "quantity": quantity,
                              "unit_price_cents": prices[product_id],
                              "amount_cents": prices[product_id] * quantity})
    with engine.begin() as conn:
        conn.execute(insert(SalesPlatform), [{"id": i, "code": c, "name": n} for i, c, n in PLATFORMS])
        conn.execute(insert(Category), [{"id": i, "code": c, "name": n} for i, c, n in CATEGORIES])
        conn.execute(insert(Product), [{"id": i, "sku": s, "name": n, "category_id": c, "unit_price_cents": p,
                                            "unit_cost_cents": 0, "active": True}
                                       for i, s, n, c, p in PRODUCTS])
        conn.execute(insert(Customer), [{"id": i, "external_id": f"C{i}", "name": f"Customer {i}",
                                             "created_at": T(2023, 1, 1)} for i in (1, 2, 3)])
        conn.execute(insert(Order), [{"id": o, "order_number": f"O-{o}", "customer_id": c, "platform_id": p,
                                          "status": s, "ordered_at": at, "total_cents": total}
                                     for o, c, p, s, at, total, _ in ORDERS])
        conn.execute(insert(OrderItem), items)
    refresh_rollups(engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def dataset_db(request, tmp_path):
    """The dataset loaded into a fresh migrated database; ``bi_app.extensions.db`` points at it."""
    from bi_app.extensions import db
    from tests.conftest import migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    migrate(url)
    db.init(url)
    load_dataset(db.require_engine())
    yield db.require_engine()
    db.engine.dispose()


def test_catalog(dataset_db):
    from bi_app.data import catalog

    assert catalog.platforms() == [{"code": "app", "name": "Mobile app"},
                                   {"code": "web", "name": "Web shop"}]
    assert catalog.categories() == [{"code": "books", "name": "Books"}, {"code": "toys", "name": "Toys"}]
    assert catalog.data_bounds() == (D(2023, 12, 31), D(2024, 1, 20))


@pytest.mark.parametrize(("platforms", "categories", "expected"), [
    # revenue orders 1, 2, 3, 7: 2500 + 2500 + 2000 + 3700; units 3 + 1 + 4 + 2; customers 1, 2, 3
    (None, None, {"revenue_cents": 10700, "orders": 4, "units": 10, "active_customers": 3}),
    # web: orders 1, 2, 7
    (("web",), None, {"revenue_cents": 8700, "orders": 3, "units": 6, "active_customers": 3}),
    # books items of orders 1 (2x B1), 2 (B2), 7 (B1 + B2): 2000 + 2500 + 1000 + 2500
    (None, ("books",), {"revenue_cents": 8000, "orders": 3, "units": 5, "active_customers": 3}),
    # toys items: order 1 (T1) 500, order 3 (4x T1) 2000; both by customer 1
    (None, ("toys",), {"revenue_cents": 2500, "orders": 2, "units": 5, "active_customers": 1}),
    # app + toys: order 3 only
    (("app",), ("toys",), {"revenue_cents": 2000, "orders": 1, "units": 4, "active_customers": 1}),
    # both categories: item revenue (no shipping); order 1 counts once per category
    (None, ("books", "toys"), {"revenue_cents": 10500, "orders": 5, "units": 10, "active_customers": 3}),
])
def test_sales_totals(dataset_db, platforms, categories, expected):
    from bi_app.data.sales import sales_totals

    assert sales_totals(START, END, platforms, categories) == expected


def test_sales_totals_empty_range(dataset_db):
    from bi_app.data.sales import sales_totals

    assert sales_totals(D(2022, 1, 1), D(2022, 1, 31)) == {
        "revenue_cents": 0, "orders": 0, "units": 0, "active_customers": 0}


def test_overview_kpis(dataset_db):
    from bi_app.data.sales import overview_kpis

    kpis = {k.key: k for k in overview_kpis(START, END)}
    assert list(kpis) == ["revenue", "orders", "aov", "active_customers"]
    # previous period: orders 101 and 102 (1000 each), customers 1 and 2
    assert (kpis["revenue"].value, kpis["revenue"].previous) == (10700, 2000)
    assert kpis["revenue"].change_pct == pytest.approx(435.0)
    assert (kpis["orders"].value, kpis["orders"].previous, kpis["orders"].change_pct) == (4, 2, 100.0)
    assert (kpis["aov"].value, kpis["aov"].previous) == (2675.0, 1000.0)
    assert kpis["aov"].change_pct == pytest.approx(167.5)
    assert kpis["active_customers"].change_pct == pytest.approx(50.0)
    assert {k.kind for k in kpis.values()} == {"money", "count"}

    toys = {k.key: k for k in overview_kpis(START, END, categories=("toys",))}
    # previous toys: order 102 (2x T1 = 1000), customer 2
    assert (toys["revenue"].value, toys["revenue"].previous) == (2500, 1000)
    assert toys["revenue"].change_pct == pytest.approx(150.0)
    assert toys["active_customers"].change_pct == pytest.approx(0.0)


def test_overview_kpis_without_previous_data(dataset_db):
    from bi_app.data.sales import overview_kpis

    # 2023-12-31 only (order 201); the previous day has nothing
    kpis = {k.key: k for k in overview_kpis(D(2023, 12, 31), D(2023, 12, 31))}
    assert kpis["revenue"].value == 1000 and kpis["revenue"].previous == 0
    assert kpis["revenue"].change_pct is None
    assert kpis["aov"].previous is None and kpis["aov"].change_pct is None


def test_revenue_trend_by_day_zero_filled(dataset_db):
    from bi_app.data.sales import revenue_trend

    frame = revenue_trend(START, END)
    assert list(frame.columns) == ["period", "revenue_cents", "orders"]
    assert frame["period"].tolist() == [START + dt.timedelta(days=i) for i in range(7)]
    assert frame["revenue_cents"].tolist() == [5000, 0, 2000, 0, 0, 0, 3700]
    assert frame["orders"].tolist() == [2, 0, 1, 0, 0, 0, 1]


def test_revenue_trend_by_week_and_month(dataset_db):
    from bi_app.data.sales import revenue_trend

    # Wednesday start: the first week (Mon 2024-01-01) only has order 102 of the 5th in range
    weekly = revenue_trend(D(2024, 1, 3), END, granularity="week")
    assert weekly["period"].tolist() == [D(2024, 1, 1), D(2024, 1, 8)]
    assert weekly["revenue_cents"].tolist() == [1000, 10700]
    assert weekly["orders"].tolist() == [1, 4]

    monthly = revenue_trend(D(2023, 12, 1), D(2024, 2, 29), granularity="month")
    assert monthly["period"].tolist() == [D(2023, 12, 1), D(2024, 1, 1), D(2024, 2, 1)]
    # January: 101, 102, 1, 2, 3, 7, 202, 203
    assert monthly["revenue_cents"].tolist() == [1000, 2000 + 10700 + 1000 + 700, 0]
    assert monthly["orders"].tolist() == [1, 8, 0]

    books_weekly = revenue_trend(D(2024, 1, 1), END, categories=("books",), granularity="week")
    assert books_weekly["revenue_cents"].tolist() == [1000, 8000]


def test_orders_by_platform_status_includes_every_status(dataset_db):
    from bi_app.data.sales import orders_by_platform_status

    frame = orders_by_platform_status(START, END)
    assert list(frame.columns) == ["platform", "platform_name", "status", "orders"]
    assert [tuple(r) for r in frame.itertuples(index=False)] == [
        ("app", "Mobile app", "shipped", 1),
        ("app", "Mobile app", "cancelled", 1),
        ("app", "Mobile app", "refunded", 1),
        ("web", "Web shop", "pending", 1),
        ("web", "Web shop", "paid", 2),
        ("web", "Web shop", "delivered", 1),
    ]
    toys = orders_by_platform_status(START, END, categories=("toys",))
    assert [tuple(r) for r in toys[["platform", "status", "orders"]].itertuples(index=False)] == [
        ("app", "shipped", 1), ("web", "pending", 1), ("web", "paid", 1)]


def test_top_products(dataset_db):
    from bi_app.data.sales import top_products

    frame = top_products(START, END)
    assert list(frame.columns) == ["sku", "product", "category", "units", "orders", "revenue_cents"]
    assert [tuple(r) for r in frame.itertuples(index=False)] == [
        ("B2", "Atlas", "Books", 2, 2, 5000),   # orders 2 and 7
        ("B1", "Novel", "Books", 3, 2, 3000),   # 2x in order 1, 1x in order 7
        ("T1", "Yo-yo", "Toys", 5, 2, 2500),    # 1x in order 1, 4x in order 3
    ]
    assert top_products(START, END, limit=2)["sku"].tolist() == ["B2", "B1"]
    app = top_products(START, END, platforms=("app",))
    assert [tuple(r) for r in app.itertuples(index=False)] == [("T1", "Yo-yo", "Toys", 4, 1, 2000)]


def test_rejects_bad_arguments(dataset_db):
    from bi_app.data.sales import revenue_trend, sales_totals, top_products

    with pytest.raises(ValueError, match="granularity"):
        revenue_trend(START, END, granularity="hour")
    with pytest.raises(ValueError, match="after end"):
        sales_totals(END, START)
    with pytest.raises(ValueError, match="limit"):
        top_products(START, END, limit=0)
