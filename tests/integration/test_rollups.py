"""refresh_rollups: exact contents, identical on SQLite and PostgreSQL, partial-range refreshes,
monthly grains consistent with the daily ones, the 0010 migration filling them, and the customer
roll-ups dropped by 0018 staying gone while the customer bitmaps keep distinct counts exact."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict

import pytest
from pyroaring import BitMap
from sqlalchemy import Engine, bindparam, delete, inspect, select, text, update

from bi_app.db import bitmaps
from bi_app.db.bitmap_models import ALL, BITMAP_TABLES
from bi_app.db.engine import make_engine
from bi_app.db.models import (
    DailyCategorySales,
    DailyOrders,
    DailyProductSales,
    MonthlyProductSales,
    Order,
)
from bi_app.db.rollups import (
    ROLLUP_TABLES,
    Segment,
    next_period,
    plan_range,
    refresh_rollups,
    touched_periods,
)
from tests.integration.test_data_layer import MONTHS_ORDERS, load_dataset

pytestmark = pytest.mark.integration
D, T = dt.date, dt.datetime
# dropped by migration 0018: the customer bitmaps answer every distinct count
DROPPED = (
    "daily_customer_activity",
    "daily_platform_customers",
    "monthly_platform_customers",
    "quarterly_platform_customers",
    "monthly_customers",
    "quarterly_customers",
    "monthly_category_customers",
    "quarterly_category_customers",
)


def _contents(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in ROLLUP_TABLES}


def _derived_in_python(contents: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """The coarser grains recomputed in Python from the daily tables' rows."""
    products: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, platform, status, product, category, orders, revenue, units in contents[
        "daily_product_sales"
    ]:
        sums = products[(day.replace(day=1), platform, status, product, category)]
        sums[0], sums[1], sums[2] = sums[0] + orders, sums[1] + revenue, sums[2] + units
    return {"monthly_product_sales": sorted((*k, *v) for k, v in products.items())}


def _buyers(
    engine: Engine, start, end, platform_ids=None, category_ids=None, grains=("quarter", "month")
) -> set[int]:
    """Customers with a revenue order on days start..end, from the customer bitmaps."""
    with engine.connect() as conn:
        parts = bitmaps.load(conn, start, end, ("buyers",), platform_ids, category_ids, grains)
    return set(bitmaps.union(parts, "buyers"))


def _raw_counts(engine: Engine, start, end, platform_ids, category_ids) -> tuple[int, int]:
    """Buyers and repeat buyers by COUNT(DISTINCT) on the raw orders (and their items)."""
    where = "o.status IN ('paid', 'shipped', 'delivered') AND o.ordered_at >= :lo"
    where += " AND o.ordered_at < :hi"
    params: dict = {
        "lo": T.combine(start, dt.time.min),
        "hi": T.combine(end + dt.timedelta(days=1), dt.time.min),
    }
    expanding = []
    if platform_ids is not None:
        where += " AND o.platform_id IN :platforms"
        params["platforms"] = tuple(platform_ids)
        expanding.append(bindparam("platforms", expanding=True))
    if category_ids is not None:
        where += (
            " AND o.id IN (SELECT i.order_id FROM order_items i JOIN products p"
            " ON p.id = i.product_id WHERE p.category_id IN :categories)"
        )
        params["categories"] = tuple(category_ids)
        expanding.append(bindparam("categories", expanding=True))
    with engine.connect() as conn:
        buyers = conn.execute(
            text(f"SELECT COUNT(DISTINCT o.customer_id) FROM orders o WHERE {where}").bindparams(
                *expanding
            ),
            params,
        ).scalar_one()
        repeat = conn.execute(
            text(
                f"SELECT COUNT(*) FROM (SELECT o.customer_id FROM orders o WHERE {where}"
                " GROUP BY o.customer_id HAVING COUNT(*) >= 2) r"
            ).bindparams(*expanding),
            params,
        ).scalar_one()
    return int(buyers), int(repeat)


@pytest.fixture
def engines(tmp_path, pg_url):
    from tests.conftest import migrate

    sqlite_url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    built = []
    for url in (sqlite_url, pg_url):
        migrate(url)
        engine = make_engine(url)
        load_dataset(engine)
        built.append(engine)
    yield built
    for engine in built:
        engine.dispose()


def test_sqlite_and_postgresql_build_identical_rollups(engines):
    sqlite, postgres = engines
    lite, pg = _contents(sqlite), _contents(postgres)
    assert lite == pg
    assert all(lite[t.name] for t in ROLLUP_TABLES)
    derived = _derived_in_python(lite)
    assert {name: lite[name] for name in derived} == derived


def test_coarser_grains_rows(engines):
    for engine in engines:
        with engine.connect() as conn:
            products = {
                (r.month, r.platform_id, r.status, r.product_id): (
                    r.orders,
                    r.revenue_cents,
                    r.units,
                )
                for r in conn.execute(select(MonthlyProductSales))
            }
        # customer 1 bought books and toys on the 8th (web): one buyer, in each category
        assert _buyers(engine, D(2024, 1, 8), D(2024, 1, 8), (1,), grains=()) == {1, 2}
        assert _buyers(engine, D(2024, 1, 8), D(2024, 1, 8), (1,), (1,), grains=()) == {1, 2}
        assert _buyers(engine, D(2024, 1, 8), D(2024, 1, 8), (1,), (2,), grains=()) == {1}
        # December: customer 1 on web (order 201); January: 1, 2, 3 on web, 1, 2, 3 on app,
        # read from the monthly bitmaps
        months = {
            (month, platform): _buyers(engine, month, end, (platform,), grains=("month",))
            for month, end in ((D(2023, 12, 1), D(2023, 12, 31)), (D(2024, 1, 1), D(2024, 1, 31)))
            for platform in (1, 2)
        }
        assert months == {
            (D(2023, 12, 1), 1): {1},
            (D(2023, 12, 1), 2): set(),
            (D(2024, 1, 1), 1): {1, 2, 3},
            (D(2024, 1, 1), 2): {1, 2, 3},
        }
        # B1 paid on the web in January: 1x order 101, 2x order 1, 1x order 7, 1x order 202
        assert products[(D(2024, 1, 1), 1, "paid", 1)] == (4, 5000, 5)
        assert products[(D(2023, 12, 1), 1, "paid", 1)] == (1, 1000, 1)


def test_daily_orders_rows_week_and_month(engines):
    for engine in engines:
        with engine.connect() as conn:
            rows = {(r.day, r.platform_id, r.status): r for r in conn.execute(select(DailyOrders))}
        # Sunday 2023-12-31 belongs to the week of Monday 2023-12-25 and to December
        sunday = rows[(D(2023, 12, 31), 1, "paid")]
        assert (sunday.week, sunday.month, sunday.orders, sunday.revenue_cents, sunday.units) == (
            D(2023, 12, 25),
            D(2023, 12, 1),
            1,
            1000,
            1,
        )
        # 23:59:59 on Monday 8th stays on the 8th; orders 1 and 2: 3 + 1 units
        monday = rows[(D(2024, 1, 8), 1, "paid")], rows[(D(2024, 1, 8), 1, "delivered")]
        assert [(r.week, r.orders, r.revenue_cents, r.units) for r in monday] == [
            (D(2024, 1, 8), 1, 2500, 3),
            (D(2024, 1, 8), 1, 2500, 1),
        ]
        # Sunday the 14th is still in the week of the 8th; order 7 total includes shipping
        assert rows[(D(2024, 1, 14), 1, "paid")].week == D(2024, 1, 8)
        assert rows[(D(2024, 1, 14), 1, "paid")].revenue_cents == 3700
        # an order without items: counted, zero units
        empty = rows[(D(2024, 1, 20), 2, "paid")]
        assert (empty.week, empty.orders, empty.revenue_cents, empty.units) == (
            D(2024, 1, 15),
            1,
            700,
            0,
        )
        assert len(rows) == 13


def test_category_product_and_activity_rows(engines):
    for engine in engines:
        with engine.connect() as conn:
            cat = {
                (r.day, r.platform_id, r.status, r.category_id): (
                    r.orders,
                    r.revenue_cents,
                    r.units,
                )
                for r in conn.execute(select(DailyCategorySales))
            }
            prod = {
                (r.day, r.status, r.product_id): (r.category_id, r.orders, r.revenue_cents, r.units)
                for r in conn.execute(select(DailyProductSales))
            }
            daily = BITMAP_TABLES["day"]
            activity = sorted(
                (day, platform, category, customer)
                for day, platform, category, data in conn.execute(
                    select(daily.c.day, daily.c.platform_id, daily.c.category_id, daily.c.bitmap)
                    .where(daily.c.kind == "buyers", daily.c.paired_category_id == ALL)
                    .where(daily.c.platform_id != ALL, daily.c.category_id != ALL)
                )
                for customer in BitMap.deserialize(bytes(data))
            )
        # order 7 on the 14th: one book line each of B1 and B2
        assert cat[(D(2024, 1, 14), 1, "paid", 1)] == (1, 3500, 2)
        assert cat[(D(2024, 1, 8), 1, "paid", 2)] == (1, 500, 1)
        assert prod[(D(2024, 1, 8), "paid", 1)] == (1, 1, 2000, 2)
        assert prod[(D(2024, 1, 14), "refunded", 2)] == (1, 1, 5000, 2)
        # buyers per day, platform and category in the daily customer bitmaps: only revenue
        # statuses; the itemless order 203 is filed under category 0
        assert activity == [
            (D(2023, 12, 31), 1, 1, 1),
            (D(2024, 1, 2), 1, 1, 1),
            (D(2024, 1, 5), 2, 2, 2),
            (D(2024, 1, 8), 1, 1, 1),
            (D(2024, 1, 8), 1, 1, 2),
            (D(2024, 1, 8), 1, 2, 1),
            (D(2024, 1, 10), 2, 2, 1),
            (D(2024, 1, 14), 1, 1, 3),
            (D(2024, 1, 15), 1, 1, 2),
            (D(2024, 1, 20), 2, 0, 3),
        ]


def test_range_refresh_touches_only_the_range(engines):
    for engine in engines:
        before = _contents(engine)
        app = {
            "month": _buyers(engine, D(2024, 1, 1), D(2024, 1, 31), (2,), grains=("month",)),
            "quarter": _buyers(engine, D(2024, 1, 1), D(2024, 3, 31), (2,), grains=("quarter",)),
        }
        with engine.begin() as conn:
            # order 3 (10th) gets cancelled, order 7 (14th) too — but only the 10th is refreshed
            conn.execute(update(Order).where(Order.id.in_((3, 7))).values(status="cancelled"))
        summary = refresh_rollups(engine, D(2024, 1, 10), D(2024, 1, 10))
        assert summary["rows"]["daily_orders"] == 1  # app: orders 3 and 4, both cancelled now
        after = _contents(engine)
        changed = {t: sorted(set(before[t]) ^ set(after[t])) for t in before}
        days = {
            row[0] for name, rows in changed.items() if name.startswith("daily_") for row in rows
        }
        assert days == {D(2024, 1, 10)}
        # the month and quarter of the day are rebuilt from the (partly refreshed) finer tables
        periods = {
            row[0]
            for name, rows in changed.items()
            if not name.startswith("daily_")
            for row in rows
        }
        assert periods == {D(2024, 1, 1)}
        # order 3 was customer 1's only app order in January (and in the quarter)
        assert app == {"month": {1, 2, 3}, "quarter": {1, 2, 3}}
        assert _buyers(engine, D(2024, 1, 1), D(2024, 1, 31), (2,), grains=("month",)) == {2, 3}
        assert _buyers(engine, D(2024, 1, 1), D(2024, 3, 31), (2,), grains=("quarter",)) == {2, 3}
        derived = _derived_in_python(after)
        assert {name: after[name] for name in derived} == derived
        with engine.connect() as conn:
            tenth = conn.execute(
                select(DailyOrders.status, DailyOrders.orders).where(
                    DailyOrders.day == D(2024, 1, 10)
                )
            ).all()
        assert tenth == [("cancelled", 2)]
        # a full refresh then picks up the 14th as well, and is idempotent
        refresh_rollups(engine)
        full = _contents(engine)
        assert refresh_rollups(engine)["rows"] == {t: len(full[t]) for t in full}
        assert _contents(engine) == full
        assert (D(2024, 1, 14), 1, "cancelled") in {r[:3] for r in full["daily_orders"]}


def test_rejects_inverted_range(engines):
    with pytest.raises(ValueError, match="after end"):
        refresh_rollups(engines[0], D(2024, 2, 1), D(2024, 1, 1))


def test_range_refresh_rebuilds_every_touched_month(tmp_path):
    from tests.conftest import migrate

    url = f"sqlite:///{tmp_path / 'months.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    load_dataset(engine, MONTHS_ORDERS)
    full = _contents(engine)
    with engine.begin() as conn:
        for table in ROLLUP_TABLES:
            conn.execute(delete(table))
    # Dec 31 .. Jan 1 touches December and January whole (and Q4 2023 and Q1 2024), nothing else
    refresh_rollups(engine, D(2023, 12, 31), D(2024, 1, 1))
    partial = _contents(engine)
    name = "monthly_product_sales"
    touched = {D(2023, 12, 1), D(2024, 1, 1)}
    assert {r[0] for r in partial[name]} == touched
    assert partial[name] == _derived_in_python(partial)[name]
    # only the two edge days' daily rows exist, so these months hold just those days
    assert partial[name] != [r for r in full[name] if r[0] in touched]
    # so do the customer bitmaps of the touched months and quarters (Q4 2023, Q1 2024): each
    # holds exactly the buyers of its stored days
    for name, grain, periods in (
        ("monthly_customer_bitmaps", "month", touched),
        ("quarterly_customer_bitmaps", "quarter", {D(2023, 10, 1), D(2024, 1, 1)}),
    ):
        assert {r[0] for r in partial[name]} == periods
        for first in periods:
            last = next_period(first, grain) - dt.timedelta(days=1)
            stored_days = _buyers(engine, first, last, grains=())
            assert _buyers(engine, first, last, grains=(grain,)) == stored_days
    assert _buyers(engine, D(2023, 12, 1), D(2023, 12, 31), grains=("month",)) == {2}
    assert {r[0] for r in partial["daily_orders"]} == {D(2023, 12, 31), D(2024, 1, 1)}
    refresh_rollups(engine, D(2023, 11, 1), D(2024, 3, 31))
    assert _contents(engine) == full
    engine.dispose()


M, Q = "month", "quarter"


@pytest.mark.parametrize(
    ("start", "end", "grains", "expected"),
    [
        (
            D(2025, 11, 23),
            D(2026, 11, 22),
            (M,),
            [
                ("day", D(2025, 11, 23), D(2025, 11, 30)),
                (M, D(2025, 12, 1), D(2026, 10, 1)),
                ("day", D(2026, 11, 1), D(2026, 11, 22)),
            ],
        ),
        (
            D(2025, 11, 23),
            D(2026, 11, 22),
            (Q, M),
            [
                ("day", D(2025, 11, 23), D(2025, 11, 30)),
                (M, D(2025, 12, 1), D(2025, 12, 1)),
                (Q, D(2026, 1, 1), D(2026, 7, 1)),
                (M, D(2026, 10, 1), D(2026, 10, 1)),
                ("day", D(2026, 11, 1), D(2026, 11, 22)),
            ],
        ),
        (D(2024, 1, 1), D(2024, 1, 31), (Q, M), [(M, D(2024, 1, 1), D(2024, 1, 1))]),
        (D(2023, 10, 1), D(2024, 3, 31), (Q, M), [(Q, D(2023, 10, 1), D(2024, 1, 1))]),
        (D(2023, 12, 1), D(2024, 1, 31), (M,), [(M, D(2023, 12, 1), D(2024, 1, 1))]),
        (D(2024, 2, 1), D(2024, 2, 28), (Q, M), [("day", D(2024, 2, 1), D(2024, 2, 28))]),
        (D(2024, 2, 1), D(2024, 2, 29), (M,), [(M, D(2024, 2, 1), D(2024, 2, 1))]),
        (
            D(2023, 12, 15),
            D(2024, 2, 29),
            (M,),
            [("day", D(2023, 12, 15), D(2023, 12, 31)), (M, D(2024, 1, 1), D(2024, 2, 1))],
        ),
        (D(2024, 1, 31), D(2024, 2, 1), (Q, M), [("day", D(2024, 1, 31), D(2024, 2, 1))]),
        (D(2024, 1, 8), D(2024, 1, 14), (), [("day", D(2024, 1, 8), D(2024, 1, 14))]),
    ],
)
def test_plan_range(start, end, grains, expected):
    plan = plan_range(start, end, grains)
    assert plan == tuple(Segment(*s) for s in expected)
    # every day exactly once, in order
    covered = []
    for grain, first, last in plan:
        months = {"day": 0, M: 1, Q: 3}[grain]
        stop = (
            last + dt.timedelta(days=1)
            if not months
            else D(
                last.year + (last.month - 1 + months) // 12, (last.month - 1 + months) % 12 + 1, 1
            )
        )
        covered += [first + dt.timedelta(days=i) for i in range((stop - first).days)]
    assert covered == [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def test_touched_periods():
    assert touched_periods(D(2023, 12, 31), D(2024, 2, 10), "month") == (
        D(2023, 12, 1),
        D(2024, 2, 29),
    )
    assert touched_periods(D(2023, 12, 31), D(2024, 2, 10), "quarter") == (
        D(2023, 10, 1),
        D(2024, 3, 31),
    )
    assert touched_periods(D(2024, 5, 5), D(2024, 11, 30), "quarter") == (
        D(2024, 4, 1),
        D(2024, 12, 31),
    )
    assert touched_periods(None, D(2023, 2, 1), "month") == (None, D(2023, 2, 28))
    assert touched_periods(D(2024, 1, 1), None, "quarter") == (D(2024, 1, 1), None)
    assert touched_periods(D(2024, 1, 5), D(2024, 1, 6), "day") == (D(2024, 1, 5), D(2024, 1, 6))


def test_migration_0010_fills_the_new_tables_from_the_daily_ones(engines, pg_url, tmp_path):
    from bi_app.db import migrate

    for engine, url in zip(engines, (f"sqlite:///{tmp_path / 'r.sqlite'}", pg_url)):
        expected = _contents(engine)
        migrate.downgrade(url, "0009")
        migrate.upgrade(url, "0010")
        with engine.connect() as conn:
            for table in ROLLUP_TABLES:
                if not table.name.endswith("_customer_bitmaps"):  # added by 0015
                    assert (
                        sorted(tuple(r) for r in conn.execute(select(table)))
                        == expected[table.name]
                    )
        # 0015 fills the customer bitmaps from the data, like a refresh; 0018 drops the
        # customer roll-ups again (0010 filled them from the empty tables 0018's downgrade made)
        migrate.upgrade(url)
        assert _contents(engine) == expected


COUNT_RANGES = [
    (D(2023, 12, 1), D(2024, 1, 31)),  # two whole months
    (D(2024, 1, 1), D(2024, 1, 31)),  # one whole month
    (D(2023, 10, 1), D(2024, 3, 31)),  # two whole quarters
    (D(2023, 12, 31), D(2024, 1, 10)),  # edge days across the year boundary
    (D(2024, 1, 8), D(2024, 1, 14)),  # a week
    (D(2024, 1, 10), D(2024, 1, 10)),  # one day
]
ID_FILTERS = (None, (1,), (2,), (1, 2), (3,))  # (3,): no such platform / category


def test_customer_rollups_stay_dropped_and_bitmap_counts_stay_exact(engines):
    """Since 0018 no customer roll-up exists, a refresh does not bring one back, and the customer
    bitmaps' buyers and repeat buyers equal COUNT(DISTINCT) on the raw orders."""
    for engine in engines:
        summary = refresh_rollups(engine)
        assert not set(DROPPED) & set(inspect(engine).get_table_names())
        assert not set(DROPPED) & set(summary["rows"])
        assert summary["rows"]["daily_customer_bitmaps"] > 0
        seen = set()
        for (start, end), platforms, categories in itertools.product(
            COUNT_RANGES, ID_FILTERS, ID_FILTERS
        ):
            several = categories is not None and len(categories) > 1
            kinds = ("buyers", "repeat", "pair") if several else ("buyers", "repeat")
            with engine.connect() as conn:
                parts = bitmaps.load(conn, start, end, kinds, platforms, categories)
            got = len(bitmaps.union(parts, "buyers")), len(bitmaps.repeat_buyers(parts))
            expected = _raw_counts(engine, start, end, platforms, categories)
            assert got == expected, (start, end, platforms, categories)
            seen.add(expected)
        # the comparisons cover empty, single and repeat buyers
        assert (0, 0) in seen and any(r > 0 for _b, r in seen) and max(b for b, _r in seen) == 3


def test_migration_0018_drops_the_customer_rollups_and_its_downgrade_recreates_them(
    engines, pg_url, tmp_path
):
    from bi_app.db import migrate

    keys = {
        "daily_customer_activity": ["day", "platform_id", "category_id", "customer_id"],
        "daily_platform_customers": ["day", "platform_id", "customer_id"],
        "monthly_platform_customers": ["platform_id", "month", "customer_id"],
        "quarterly_platform_customers": ["platform_id", "quarter", "customer_id"],
        "monthly_customers": ["month", "customer_id"],
        "quarterly_customers": ["quarter", "customer_id"],
        "monthly_category_customers": ["category_id", "month", "customer_id"],
        "quarterly_category_customers": ["category_id", "quarter", "customer_id"],
    }
    assert set(keys) == set(DROPPED)
    for engine, url in zip(engines, (f"sqlite:///{tmp_path / 'r.sqlite'}", pg_url)):
        expected = _contents(engine)
        migrate.downgrade(url, "0017")  # the state before the drop
        inspector = inspect(engine)
        for name, key in keys.items():
            assert inspector.get_pk_constraint(name)["constrained_columns"] == key
            assert all(not c["nullable"] for c in inspector.get_columns(name))
            assert inspector.get_indexes(name) == []
        with engine.connect() as conn:
            assert all(conn.execute(text(f"SELECT COUNT(*) FROM {n}")).scalar() == 0 for n in keys)
        migrate.upgrade(url)
        assert not set(DROPPED) & set(inspect(engine).get_table_names())
        assert _contents(engine) == expected
