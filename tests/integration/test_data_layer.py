"""Every sales/catalog data function against a small hand-made dataset, on SQLite and PostgreSQL.

The expected numbers below were worked out by hand from DATASET (see the comments), not by
running the code. The current period is Mon 2024-01-08 .. Sun 2024-01-14; the previous one is
2024-01-01 .. 2024-01-07.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from tests.sales_dataset import load_sales_dataset

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
CUSTOMERS = (1, 2, 3, 4)


def load_dataset(engine: Engine, orders: list[tuple] = ORDERS) -> None:
    """Insert the catalog and ``orders`` into a migrated, empty database and build the roll-ups."""
    load_sales_dataset(
        engine,
        platforms=PLATFORMS,
        categories=CATEGORIES,
        products=PRODUCTS,
        customers=CUSTOMERS,
        orders=orders,
        customers_since=T(2023, 1, 1),
    )


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

    assert catalog.platforms() == [
        {"code": "app", "name": "Mobile app"},
        {"code": "web", "name": "Web shop"},
    ]
    assert catalog.categories() == [
        {"code": "books", "name": "Books"},
        {"code": "toys", "name": "Toys"},
    ]
    assert catalog.data_bounds() == (D(2023, 12, 31), D(2024, 1, 20))


@pytest.mark.parametrize(
    ("platforms", "categories", "expected"),
    [
        # revenue orders 1, 2, 3, 7: 2500 + 2500 + 2000 + 3700; units 3 + 1 + 4 + 2; customers 1, 2,
        # 3
        (None, None, {"revenue_cents": 10700, "orders": 4, "units": 10, "active_customers": 3}),
        # web: orders 1, 2, 7
        (("web",), None, {"revenue_cents": 8700, "orders": 3, "units": 6, "active_customers": 3}),
        # books items of orders 1 (2x B1), 2 (B2), 7 (B1 + B2): 2000 + 2500 + 1000 + 2500
        (None, ("books",), {"revenue_cents": 8000, "orders": 3, "units": 5, "active_customers": 3}),
        # toys items: order 1 (T1) 500, order 3 (4x T1) 2000; both by customer 1
        (None, ("toys",), {"revenue_cents": 2500, "orders": 2, "units": 5, "active_customers": 1}),
        # app + toys: order 3 only
        (
            ("app",),
            ("toys",),
            {"revenue_cents": 2000, "orders": 1, "units": 4, "active_customers": 1},
        ),
        # both categories: item revenue (no shipping); order 1 counts once per category
        (
            None,
            ("books", "toys"),
            {"revenue_cents": 10500, "orders": 5, "units": 10, "active_customers": 3},
        ),
    ],
)
def test_sales_totals(dataset_db, platforms, categories, expected):
    from bi_app.data.sales import sales_totals

    assert sales_totals(START, END, platforms, categories) == expected


def test_sales_totals_empty_range(dataset_db):
    from bi_app.data.sales import sales_totals

    assert sales_totals(D(2022, 1, 1), D(2022, 1, 31)) == {
        "revenue_cents": 0,
        "orders": 0,
        "units": 0,
        "active_customers": 0,
    }


def test_overview_kpis(dataset_db):
    from bi_app.data.sales import overview_kpis

    kpis = {k.key: k for k in overview_kpis(START, END)}
    assert list(kpis) == ["revenue", "orders", "aov", "active_customers"]
    # previous period: orders 101 and 102 (1000 each), customers 1 and 2
    assert (kpis["revenue"].value, kpis["revenue"].previous) == (10700, 2000)
    assert kpis["revenue"].change_pct == pytest.approx(435.0)
    assert (kpis["orders"].value, kpis["orders"].previous, kpis["orders"].change_pct) == (
        4,
        2,
        100.0,
    )
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
    assert list(frame.columns) == ["platform", "platform_name", "status", "orders", "revenue_cents"]
    assert [tuple(r) for r in frame.itertuples(index=False)] == [
        ("app", "Mobile app", "shipped", 1, 2000),
        ("app", "Mobile app", "cancelled", 1, 1000),
        ("app", "Mobile app", "refunded", 1, 5000),
        ("web", "Web shop", "pending", 1, 500),
        ("web", "Web shop", "paid", 2, 6200),  # orders 1 (2500) and 7 (3700)
        ("web", "Web shop", "delivered", 1, 2500),
    ]
    toys = orders_by_platform_status(START, END, categories=("toys",))
    assert [tuple(r) for r in toys[["platform", "status", "orders"]].itertuples(index=False)] == [
        ("app", "shipped", 1),
        ("web", "pending", 1),
        ("web", "paid", 1),
    ]


def test_top_products(dataset_db):
    from bi_app.data.sales import top_products

    frame = top_products(START, END)
    assert list(frame.columns) == ["sku", "product", "category", "units", "orders", "revenue_cents"]
    assert [tuple(r) for r in frame.itertuples(index=False)] == [
        ("B2", "Atlas", "Books", 2, 2, 5000),  # orders 2 and 7
        ("B1", "Novel", "Books", 3, 2, 3000),  # 2x in order 1, 1x in order 7
        ("T1", "Yo-yo", "Toys", 5, 2, 2500),  # 1x in order 1, 4x in order 3
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


# --- ranges over several months: monthly roll-ups for whole months, daily ones for the edges ---

# Same catalog; orders on month edges (first second, last second), across a year boundary,
# over a leap February, on both platforms, with a cancelled, a refunded, a pending and an
# itemless order. Customer 1 buys in most months so distinct counts over months are tested.
MONTHS_ORDERS = [
    (1001, 1, 1, "paid", T(2023, 11, 20, 10), 1000, [(1, 1)]),
    (1002, 2, 2, "delivered", T(2023, 11, 30, 23, 59, 59), 1500, [(3, 3)]),
    (1003, 1, 1, "shipped", T(2023, 12, 1, 0, 0, 0), 3500, [(1, 1), (2, 1)]),
    (1004, 3, 1, "cancelled", T(2023, 12, 15, 12), 2500, [(2, 1)]),
    (1005, 2, 1, "paid", T(2023, 12, 31, 23, 59, 59), 500, [(3, 1)]),
    (1006, 3, 2, "paid", T(2024, 1, 1, 0, 0, 0), 2000, [(1, 2)]),
    (1007, 1, 2, "delivered", T(2024, 1, 15, 9), 3000, [(2, 1), (3, 1)]),
    (1008, 4, 1, "refunded", T(2024, 1, 20, 10), 1000, [(1, 1)]),
    (1009, 2, 1, "paid", T(2024, 1, 31, 23), 5200, [(2, 2)]),  # 200 shipping on top
    (1010, 4, 2, "pending", T(2024, 2, 1, 8), 500, [(3, 1)]),
    (1011, 3, 1, "paid", T(2024, 2, 10, 10), 700, []),
    (1012, 1, 1, "paid", T(2024, 2, 10, 11), 1000, [(1, 1)]),
    (1013, 4, 1, "shipped", T(2024, 2, 29, 22), 3000, [(2, 1), (3, 1)]),
    (1014, 2, 2, "delivered", T(2024, 3, 1, 0, 0, 0), 2500, [(2, 1)]),
    (1015, 1, 2, "paid", T(2024, 3, 31, 23, 59, 59), 1000, [(3, 2)]),
]
RANGES = [
    (D(2023, 11, 20), D(2024, 2, 10)),  # starts and ends mid-month: two edges, two whole months
    (D(2024, 1, 1), D(2024, 1, 31)),  # exactly one whole month, no edge days
    (D(2023, 12, 15), D(2024, 1, 15)),  # across the year boundary, no whole month
    (D(2023, 12, 1), D(2024, 1, 31)),  # whole months across the year boundary
    (D(2024, 2, 1), D(2024, 2, 29)),  # leap February
    (D(2024, 2, 1), D(2024, 2, 28)),  # ... all but its last day
    (D(2024, 1, 31), D(2024, 1, 31)),  # one day on a month's last day
    (D(2023, 11, 1), D(2024, 3, 31)),  # everything
    (D(2024, 1, 1), D(2024, 3, 31)),  # exactly one quarter
    (D(2023, 10, 1), D(2024, 3, 31)),  # two whole quarters across the year boundary
    (D(2023, 11, 15), D(2024, 3, 31)),  # edge days, a whole month, a whole quarter
    (D(2023, 12, 31), D(2024, 3, 30)),  # a day before a quarter, and all but its last day
]
FILTERS = [
    (None, None),
    (("web",), None),
    (None, ("books",)),
    (("app",), ("toys",)),
    (None, ("books", "toys")),
]
PLATFORM_IDS = {code: i for i, code, _ in PLATFORMS}
CATEGORY_IDS = {code: i for i, code, _ in CATEGORIES}
REVENUE = ("paid", "shipped", "delivered")


def _revenue_orders(start, end, platforms):
    wanted = {PLATFORM_IDS[p] for p in platforms} if platforms else set(PLATFORM_IDS.values())
    return [
        o
        for o in MONTHS_ORDERS
        if start <= o[4].date() <= end and o[2] in wanted and o[3] in REVENUE
    ]


def _lines(order, categories):
    """(product, quantity, amount) of an order's items in ``categories`` (all when None)."""
    products = {p[0]: p for p in PRODUCTS}
    wanted = {CATEGORY_IDS[c] for c in categories} if categories else None
    return [
        (pid, qty, products[pid][4] * qty)
        for pid, qty in order[6]
        if wanted is None or products[pid][3] in wanted
    ]


def expected_totals(start, end, platforms, categories) -> dict:
    """sales_totals worked out from MONTHS_ORDERS in plain Python (no roll-up involved)."""
    orders = _revenue_orders(start, end, platforms)
    if not categories:
        return {
            "revenue_cents": sum(o[5] for o in orders),
            "orders": len(orders),
            "units": sum(q for o in orders for _, q, _ in _lines(o, None)),
            "active_customers": len({o[1] for o in orders}),
        }
    # per category: an order with items of two chosen categories counts once for each
    touching = [(o, c) for o in orders for c in categories if _lines(o, (c,))]
    return {
        "revenue_cents": sum(a for o in orders for _, _, a in _lines(o, categories)),
        "orders": len(touching),
        "units": sum(q for o in orders for _, q, _ in _lines(o, categories)),
        "active_customers": len({o[1] for o, _ in touching}),
    }


def expected_top_products(start, end, platforms, categories) -> list[tuple]:
    per: dict[int, list] = {}
    for order in _revenue_orders(start, end, platforms):
        for pid, qty, amount in _lines(order, categories):
            units, orders, revenue = per.get(pid, (0, set(), 0))
            per[pid] = (units + qty, orders | {order[0]}, revenue + amount)
    products = {p[0]: p for p in PRODUCTS}
    names = {i: n for i, _, n in CATEGORIES}
    rows = [
        (products[pid][1], products[pid][2], names[products[pid][3]], u, len(o), r)
        for pid, (u, o, r) in per.items()
    ]
    return sorted(rows, key=lambda r: (-r[5], r[0]))


@pytest.fixture(params=["sqlite", "postgresql"])
def months_db(request, tmp_path):
    from bi_app.extensions import db
    from tests.conftest import migrate

    url = (
        f"sqlite:///{tmp_path / 'months.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    db.init(url)
    load_dataset(db.require_engine(), MONTHS_ORDERS)
    yield db.require_engine()
    db.engine.dispose()


def test_hand_worked_multi_month_figures(months_db):
    from bi_app.data.sales import sales_totals, top_products

    # January: revenue orders 1006 (2000), 1007 (3000), 1009 (5200); units 2 + 2 + 2
    assert sales_totals(D(2024, 1, 1), D(2024, 1, 31)) == {
        "revenue_cents": 10200,
        "orders": 3,
        "units": 6,
        "active_customers": 3,
    }
    # Dec 15 .. Jan 15: 1005 (500), 1006 (2000), 1007 (3000); customers 2, 3, 1
    assert sales_totals(D(2023, 12, 15), D(2024, 1, 15)) == {
        "revenue_cents": 5500,
        "orders": 3,
        "units": 5,
        "active_customers": 3,
    }
    # Nov 20 .. Feb 10 on the web: 1001, 1003, 1005, 1009, 1011, 1012 by customers 1, 2, 3
    assert sales_totals(D(2023, 11, 20), D(2024, 2, 10), ("web",))["active_customers"] == 3
    # January's products: B2 in 1007 (1x) and 1009 (2x); B1 2x in 1006; T1 1x in 1007
    assert [
        tuple(r) for r in top_products(D(2024, 1, 1), D(2024, 1, 31)).itertuples(index=False)
    ] == [
        ("B2", "Atlas", "Books", 3, 2, 7500),
        ("B1", "Novel", "Books", 2, 1, 2000),
        ("T1", "Yo-yo", "Toys", 1, 1, 500),
    ]


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_totals_and_top_products_over_months_match_the_orders(months_db, start, end):
    from bi_app.data.sales import sales_totals, top_products

    for platforms, categories in FILTERS:
        assert sales_totals(start, end, platforms, categories) == expected_totals(
            start, end, platforms, categories
        ), (platforms, categories)
        frame = top_products(start, end, platforms, categories)
        assert [tuple(r) for r in frame.itertuples(index=False)] == expected_top_products(
            start, end, platforms, categories
        ), (platforms, categories)


def test_whole_periods_are_read_from_the_coarser_rollups(months_db):
    import re

    from sqlalchemy import event

    from bi_app.data.sales import sales_totals, top_products

    statements: list[str] = []

    def record(conn, cursor, statement, *_args) -> None:
        statements.append(statement)

    def tables_read(call) -> set[str]:
        statements.clear()
        call()
        return {m.group(1) for s in statements for m in re.finditer(r'(?:FROM|JOIN)\s+"?(\w+)', s)}

    event.listen(months_db, "before_cursor_execute", record)
    try:
        assert tables_read(lambda: top_products(D(2023, 12, 1), D(2024, 2, 29))) == {
            "monthly_product_sales",
            "products",
            "categories",
        }
        assert tables_read(lambda: top_products(D(2023, 11, 20), D(2024, 2, 10), ("web",))) == {
            "monthly_product_sales",
            "daily_product_sales",
            "products",
            "categories",
            "sales_platforms",
        }
        # Q1 2024 exactly: one quarter of customer bitmaps, revenue from the daily order totals
        assert tables_read(lambda: sales_totals(D(2024, 1, 1), D(2024, 3, 31))) == {
            "daily_orders",
            "quarterly_customer_bitmaps",
        }
        assert tables_read(lambda: sales_totals(D(2023, 11, 20), D(2024, 3, 31))) == {
            "daily_orders",
            "quarterly_customer_bitmaps",
            "monthly_customer_bitmaps",
            "daily_customer_bitmaps",
        }
        assert tables_read(lambda: sales_totals(D(2023, 12, 1), D(2024, 3, 31), ("web",))) == {
            "daily_orders",
            "monthly_customer_bitmaps",
            "quarterly_customer_bitmaps",
            "sales_platforms",
        }
        assert tables_read(
            lambda: sales_totals(D(2024, 1, 1), D(2024, 3, 31), None, ("toys",))
        ) == {"daily_category_sales", "quarterly_customer_bitmaps", "categories"}
        assert tables_read(
            lambda: sales_totals(D(2023, 11, 20), D(2024, 2, 29), None, ("toys",))
        ) == {
            "daily_category_sales",
            "monthly_customer_bitmaps",
            "daily_customer_bitmaps",
            "categories",
        }
        # platform and category together: the bitmaps of that platform x category, same grains
        assert tables_read(
            lambda: sales_totals(D(2024, 1, 1), D(2024, 3, 31), ("app",), ("toys",))
        ) == {"daily_category_sales", "quarterly_customer_bitmaps", "categories", "sales_platforms"}
    finally:
        event.remove(months_db, "before_cursor_execute", record)
