"""Customer counts from the customer bitmaps equal COUNT(DISTINCT) on the raw tables, on SQLite
and PostgreSQL: a hand-made data set full of edge cases, the demo data, and again after range
refreshes following inserted and deleted orders and visits, and after imports."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, bindparam, delete, insert, select, text

from bi_app.analytics import cohorts
from bi_app.data import customers as customer_data
from bi_app.data import sales as sales_data
from bi_app.db.demo_sink import fix_sequences
from bi_app.db.models import (
    Category,
    Customer,
    Order,
    OrderItem,
    Product,
    SalesPlatform,
    Visit,
)
from bi_app.db.rollups import refresh_rollups
from bi_app.extensions import db
from tests.conftest import migrate

pytestmark = pytest.mark.integration
D, T = dt.date, dt.datetime
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"

PLATFORMS = [(1, "web"), (2, "app"), (3, "store")]
CATEGORIES = [(1, "books"), (2, "toys"), (3, "games")]
PRODUCTS = [(1, "B1", 1), (2, "T1", 2), (3, "G1", 3)]
# (id, customer, platform, status, ordered_at, [product ids])
ORDERS = [
    # 1: one order each side of a month boundary (repeat only over both months)
    (1, 1, 1, "paid", T(2024, 1, 31, 23, 0), [1]),
    (2, 1, 1, "paid", T(2024, 2, 1, 1, 0), [2]),
    # 2: one order with two categories, one without items (category 0) on another platform
    (3, 2, 1, "paid", T(2024, 3, 5, 12), [1, 2]),
    (4, 2, 2, "paid", T(2024, 3, 20, 12), []),
    # 3: only cancelled / refunded / pending orders: never a buyer
    (5, 3, 1, "cancelled", T(2024, 2, 10, 9), [1]),
    (6, 3, 2, "refunded", T(2024, 2, 11, 9), [2]),
    (7, 3, 1, "pending", T(2024, 2, 12, 9), [1]),
    # 4: the same day on two platforms: one active customer, repeat only over both platforms
    (8, 4, 1, "paid", T(2024, 2, 15, 10), [1]),
    (9, 4, 2, "shipped", T(2024, 2, 15, 18), [1]),
    # 5: two orders on one day and platform, at a quarter's first day
    (10, 5, 1, "paid", T(2024, 4, 1, 0, 0), [2]),
    (11, 5, 1, "delivered", T(2024, 4, 1, 23, 59, 59), [2, 3]),
    # 6: across the year (and quarter) boundary
    (12, 6, 3, "delivered", T(2023, 12, 31, 23, 59, 59), [1]),
    (13, 6, 3, "paid", T(2024, 1, 1, 0, 0), [1]),
    # 7: books twice, toys once
    (14, 7, 1, "paid", T(2024, 5, 10, 8), [1, 2]),
    (15, 7, 2, "paid", T(2024, 5, 11, 8), [1]),
    # 8: a pending order, then a paid one at the end of a quarter
    (16, 8, 1, "pending", T(2024, 3, 3, 8), [2]),
    (17, 8, 1, "paid", T(2024, 6, 30, 23, 59), [2]),
    # 9: orders in many months (cohort retention over a year)
    (18, 9, 2, "paid", T(2023, 11, 15, 12), [3]),
    (19, 9, 2, "paid", T(2024, 2, 15, 12), [3]),
    (20, 9, 1, "paid", T(2024, 6, 1, 12), [1]),
    (21, 1, 2, "paid", T(2024, 6, 15, 12), [3]),
    (22, 10, 3, "paid", T(2024, 2, 29, 23, 59, 59), [2, 2, 3]),
    (23, 10, 3, "paid", T(2024, 3, 1, 0, 0), [3]),
    # several categories: two single-category orders repeat over {books, toys}, one order with
    # both does not; three categories in one order; overlapping two-category orders
    (24, 11, 1, "paid", T(2024, 5, 20, 9), [1]),
    (25, 11, 1, "paid", T(2024, 5, 21, 9), [2]),
    (26, 8, 2, "paid", T(2024, 3, 10, 9), [1, 2, 3]),
    (27, 12, 1, "paid", T(2024, 5, 20, 9), [1, 2]),
    (28, 12, 1, "paid", T(2024, 5, 20, 10), [2, 3]),
]
# (customer, platform or None, visited_at)
VISITS = [
    (1, 1, T(2024, 1, 31, 22, 0)),
    (1, 1, T(2024, 1, 31, 22, 30)),
    (3, 1, T(2024, 2, 10, 8)),
    (3, 2, T(2024, 2, 11, 8)),
    (11, None, T(2024, 2, 12, 8)),
    (4, 2, T(2024, 2, 15, 17)),
    (4, 1, T(2024, 2, 15, 9)),
    (12, 3, T(2024, 3, 31, 23, 59, 59)),
    (12, None, T(2024, 4, 1, 0, 0)),
    (7, 2, T(2024, 5, 11, 7)),
    (9, 2, T(2023, 11, 15, 11)),
]
REVENUE = "('paid', 'shipped', 'delivered')"
RANGES = [
    (D(2023, 11, 1), D(2024, 6, 30)),  # everything
    (D(2024, 1, 1), D(2024, 1, 31)),  # one whole month
    (D(2024, 1, 15), D(2024, 2, 14)),  # across a month boundary, mid-month edges
    (D(2024, 1, 1), D(2024, 3, 31)),  # one whole quarter
    (D(2023, 12, 31), D(2024, 4, 1)),  # a quarter and an edge day each side
    (D(2024, 2, 15), D(2024, 2, 15)),  # one day
    (D(2024, 2, 10), D(2024, 5, 20)),  # mid-month to mid-month across quarters
    (D(2024, 7, 1), D(2024, 7, 31)),  # nothing
]
FILTERS = [
    (None, None),
    (("web",), None),
    (None, ("books",)),
    (("app",), ("books",)),
    (("web", "app"), None),
    (("web", "store"), ("games",)),
    (None, ("books", "toys")),
    (("web", "app"), ("toys", "games")),
    (None, ("books", "toys", "games")),
    (("web",), ("books", "games")),
    (("nope",), None),
    (None, ("nope",)),
]


def load_hand_made(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(SalesPlatform), [{"id": i, "code": c, "name": c} for i, c in PLATFORMS])
        conn.execute(insert(Category), [{"id": i, "code": c, "name": c} for i, c in CATEGORIES])
        conn.execute(
            insert(Product),
            [
                {"id": i, "sku": s, "name": s, "category_id": c, "unit_price_cents": 100}
                for i, s, c in PRODUCTS
            ],
        )
        conn.execute(
            insert(Customer),
            [
                {"id": i, "external_id": f"C{i}", "name": f"C{i}", "created_at": T(2023, 1, 1)}
                for i in range(1, 13)
            ],
        )
        _write(conn, ORDERS, VISITS)
    refresh_rollups(engine)


def _write(conn, orders, visits) -> None:
    if orders:
        conn.execute(
            insert(Order),
            [
                {
                    "id": oid,
                    "order_number": f"O{oid}",
                    "customer_id": cid,
                    "platform_id": pid,
                    "status": status,
                    "ordered_at": at,
                    "total_cents": 100 * max(len(items), 1),
                }
                for oid, cid, pid, status, at, items in orders
            ],
        )
        lines = [
            {
                "order_id": oid,
                "product_id": product,
                "quantity": 1,
                "unit_price_cents": 100,
                "amount_cents": 100,
            }
            for oid, _c, _p, _s, _a, items in orders
            for product in items
        ]
        if lines:
            conn.execute(insert(OrderItem), lines)
    if visits:
        conn.execute(
            insert(Visit),
            [{"customer_id": c, "platform_id": p, "visited_at": at} for c, p, at in visits],
        )


# --- the independent computation: plain SQL on orders, order_items and visits ----------------


def _order_where(platforms, categories, params: dict) -> str:
    where = f"o.status IN {REVENUE}"
    if platforms:
        where += " AND o.platform_id IN (SELECT id FROM sales_platforms WHERE code IN :platforms)"
        params["platforms"] = tuple(platforms)
    if categories:
        where += (
            " AND o.id IN (SELECT i.order_id FROM order_items i JOIN products p"
            " ON p.id = i.product_id JOIN categories c ON c.id = p.category_id"
            " WHERE c.code IN :categories)"
        )
        params["categories"] = tuple(categories)
    return where


def _scalar(conn, sql: str, params: dict) -> int:
    expanding = [bindparam(n, expanding=True) for n in ("platforms", "categories") if n in params]
    return int(conn.execute(text(sql).bindparams(*expanding), params).scalar_one())


def _window(start: dt.date, end: dt.date) -> dict:
    return {
        "lo": T.combine(start, dt.time.min),
        "hi": T.combine(end + dt.timedelta(days=1), dt.time.min),
    }


def raw_figures(engine: Engine, start, end, platforms, categories) -> dict:
    with engine.connect() as conn:
        params = _window(start, end)
        where = _order_where(platforms, categories, params)
        buyers = _scalar(
            conn,
            f"SELECT COUNT(DISTINCT o.customer_id) FROM orders o"
            f" WHERE o.ordered_at >= :lo AND o.ordered_at < :hi AND {where}",
            params,
        )
        repeat = _scalar(
            conn,
            f"SELECT COUNT(*) FROM (SELECT o.customer_id FROM orders o"
            f" WHERE o.ordered_at >= :lo AND o.ordered_at < :hi AND {where}"
            f" GROUP BY o.customer_id HAVING COUNT(*) >= 2) r",
            params,
        )
        lifetime = _scalar(
            conn,
            "SELECT COUNT(DISTINCT o.customer_id) FROM orders o"
            f" WHERE o.ordered_at < :hi AND {where}",
            params,
        )
        vparams = _window(start, end)
        vwhere = ""
        if platforms:
            vwhere = (
                " AND v.platform_id IN (SELECT id FROM sales_platforms WHERE code IN :platforms)"
            )
            vparams["platforms"] = tuple(platforms)
        visitors = _scalar(
            conn,
            "SELECT COUNT(DISTINCT v.customer_id) FROM visits v"
            f" WHERE v.visited_at >= :lo AND v.visited_at < :hi{vwhere}",
            vparams,
        )
    return {
        "visitors": visitors,
        "buyers": buyers,
        "repeat_buyers": repeat,
        "lifetime_customers": lifetime,
    }


def raw_cohorts(engine: Engine, start, end, platforms, categories) -> pd.DataFrame:
    """Cohort cells from each filtered revenue order's customer and day, counted in Python."""
    params: dict = {}
    where = _order_where(platforms, categories, params)
    statement = text(f"SELECT o.customer_id, o.ordered_at FROM orders o WHERE {where}").bindparams(
        *[bindparam(n, expanding=True) for n in ("platforms", "categories") if n in params]
    )
    with engine.connect() as conn:
        rows = conn.execute(statement, params).all()
    months: dict[int, set[dt.date]] = defaultdict(set)
    for customer, at in rows:
        at = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at))
        if at.date() <= end:
            months[customer].add(at.date().replace(day=1))
    first_month = start.replace(day=1)
    cells: dict[tuple[dt.date, dt.date], int] = defaultdict(int)
    for customer, active in months.items():
        cohort = min(active)
        if not first_month <= cohort <= end:
            continue
        for month in active:
            if month >= first_month:
                cells[(cohort, month)] += 1
    frame = pd.DataFrame(
        [(c, m, n) for (c, m), n in sorted(cells.items())], columns=["cohort", "month", "customers"]
    )
    return cohorts.retention_table(frame)


def check_everything(engine: Engine, ranges=RANGES, filters=FILTERS) -> int:
    """Every data function's customer counts against the raw SQL, for every range and filter."""
    checked = 0
    for (start, end), (platforms, categories) in itertools.product(ranges, filters):
        expected = raw_figures(engine, start, end, platforms, categories)
        figures = customer_data.period_figures(start, end, platforms, categories)
        got = {k: figures[k] for k in expected}
        assert got == expected, (start, end, platforms, categories)
        totals = sales_data.sales_totals(start, end, platforms, categories)
        assert totals["active_customers"] == expected["buyers"], (start, end, platforms, categories)
        want = raw_cohorts(engine, start, end, platforms, categories)
        have = customer_data.cohort_retention(start, end, platforms, categories)
        pd.testing.assert_frame_equal(
            have.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False
        )
        checked += 1
    return checked


@pytest.fixture(params=["sqlite", "postgresql"])
def hand_made(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'bitmaps.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    db.init(url)
    engine = db.require_engine()
    load_hand_made(engine)
    yield engine
    db.engine.dispose()


def test_counts_equal_count_distinct_on_the_raw_tables(hand_made):
    assert check_everything(hand_made) == len(RANGES) * len(FILTERS)
    # the edge cases really are in there
    figures = customer_data.period_figures(D(2024, 1, 1), D(2024, 6, 30))
    assert figures["repeat_buyers"] >= 6 and figures["visitors"] == 6
    assert customer_data.period_figures(D(2024, 1, 1), D(2024, 1, 31))["repeat_buyers"] == 0
    assert customer_data.period_figures(D(2024, 1, 31), D(2024, 2, 1))["repeat_buyers"] == 1
    two = customer_data.period_figures(D(2024, 3, 1), D(2024, 3, 31), None, ("books", "toys"))
    assert two["buyers"] == 2 and two["repeat_buyers"] == 0  # orders 3 and 26 hold both
    may = customer_data.period_figures(D(2024, 5, 1), D(2024, 5, 31), None, ("books", "toys"))
    assert may["repeat_buyers"] == 3  # 7 (books twice), 11 (books, then toys), 12 (toys twice)
    assert (
        customer_data.period_figures(D(2024, 5, 1), D(2024, 5, 31), ("web",), ("books", "games"))[
            "repeat_buyers"
        ]
        == 1
    )  # 12: one order with books, one with games; not 11 (books once)


def test_range_refreshes_after_inserts_and_deletes(hand_made):
    engine = hand_made
    with engine.begin() as conn:
        _write(
            conn,
            [
                (30, 3, 1, "paid", T(2024, 2, 10, 23), [1]),  # customer 3's first revenue order
                (31, 2, 1, "paid", T(2024, 2, 11, 1), [1]),  # customer 2 starts in February now
                (32, 4, 1, "paid", T(2024, 2, 12, 5), []),  # web repeat for customer 4
                (33, 12, 2, "paid", T(2024, 2, 12, 6), [2, 3]),
            ],
            [(12, 3, T(2024, 2, 11, 5)), (5, None, T(2024, 2, 10, 0))],
        )
    refresh_rollups(engine, D(2024, 2, 10), D(2024, 2, 12))
    check_everything(engine)
    with engine.begin() as conn:
        gone = [8, 9, 31]  # customer 4's two February 15 orders, and one just added
        conn.execute(delete(OrderItem).where(OrderItem.order_id.in_(gone)))
        conn.execute(delete(Order).where(Order.id.in_(gone)))
        conn.execute(delete(Visit).where(Visit.visited_at >= T(2024, 2, 15)))
    refresh_rollups(engine, D(2024, 2, 11), D(2024, 2, 15))
    # visits after the 15th are gone as well: refresh their days too
    refresh_rollups(engine, D(2024, 3, 31), D(2024, 5, 11))
    check_everything(engine)
    # and a full rebuild gives the same bitmaps as the incremental ones
    from bi_app.db.bitmap_models import BITMAP_TABLES

    def contents():
        with engine.connect() as conn:
            return {
                name: sorted(tuple(r) for r in conn.execute(select(table)))
                for name, table in BITMAP_TABLES.items()
            }

    incremental = contents()
    refresh_rollups(engine)
    assert contents() == incremental


def test_imports_refresh_the_bitmaps(hand_made):
    from bi_app.importing import import_file

    engine = hand_made
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [
                {
                    "id": 20 + i,
                    "external_id": f"IMP-C-00{i}",
                    "name": f"I{i}",
                    "created_at": T(2023, 1, 1),
                }
                for i in (1, 2, 3)
            ],
        )
        conn.execute(
            insert(Product),
            [
                {
                    "id": 11,
                    "sku": "IMP-SKU-1",
                    "name": "x",
                    "category_id": 1,
                    "unit_price_cents": 1,
                },
                {
                    "id": 12,
                    "sku": "IMP-SKU-2",
                    "name": "y",
                    "category_id": 2,
                    "unit_price_cents": 1,
                },
            ],
        )
        conn.execute(insert(SalesPlatform), [{"id": 4, "code": "mobile_app", "name": "App"}])
        fix_sequences(conn, ("customers", "products", "sales_platforms", "orders"))
    before = customer_data.period_figures(D(2024, 3, 1), D(2024, 3, 3))
    for kind in ("orders", "visits"):
        data = (FIXTURES / f"{kind}.csv").read_bytes()
        outcome = import_file(engine, data, f"{kind}.csv", kind, actor="tester")
        assert outcome.ok, outcome.message
    after = customer_data.period_figures(D(2024, 3, 1), D(2024, 3, 3))
    # two revenue orders (IMP-O-3 is cancelled); three visitors, one without a platform
    assert after["buyers"] == before["buyers"] + 2
    assert after["visitors"] == before["visitors"] + 2
    ranges = [(D(2024, 3, 1), D(2024, 3, 3)), *RANGES[:4]]
    check_everything(engine, ranges, [*FILTERS[:4], (("mobile_app",), None)])


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_db(request, tmp_path):
    from bi_app.db import demo

    url = (
        f"sqlite:///{tmp_path / 'demo.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    db.init(url)
    engine = db.require_engine()
    demo.load_demo(engine, scale=0.2, seed=7, progress=False, today=D(2026, 1, 15))
    yield engine
    db.engine.dispose()


def test_demo_data_counts_equal_the_raw_tables(demo_db):
    engine = demo_db
    with engine.connect() as conn:
        platforms = [
            c for (c,) in conn.execute(select(SalesPlatform.code).order_by(SalesPlatform.id))
        ]
        categories = [c for (c,) in conn.execute(select(Category.code).order_by(Category.id))]
    ranges = [
        (D(2025, 1, 1), D(2025, 12, 31)),  # the last full year
        (D(2025, 2, 14), D(2025, 11, 3)),
        (D(2024, 1, 16), D(2026, 1, 14)),  # everything
    ]
    filters = [
        (None, None),
        ((platforms[0],), None),
        (None, (categories[0],)),
        ((platforms[1],), (categories[2],)),
        (tuple(platforms[:2]), (categories[1],)),
        (None, tuple(categories[:2])),
    ]
    check_everything(engine, ranges, filters)
