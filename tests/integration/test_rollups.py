"""refresh_rollups: exact contents, identical on SQLite and PostgreSQL, partial-range refreshes."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select, update

from bi_app.db.engine import make_engine
from bi_app.db.models import (
    DailyCategorySales,
    DailyCustomerActivity,
    DailyOrders,
    DailyProductSales,
    Order,
)
from bi_app.db.rollups import ROLLUP_TABLES, refresh_rollups
from tests.integration.test_data_layer import load_dataset

pytestmark = pytest.mark.integration
D = dt.date


def _contents(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in ROLLUP_TABLES}


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


def test_daily_orders_rows_week_and_month(engines):
    for engine in engines:
        with engine.connect() as conn:
            rows = {(r.day, r.platform_id, r.status): r for r in conn.execute(select(DailyOrders))}
        # Sunday 2023-12-31 belongs to the week of Monday 2023-12-25 and to December
        sunday = rows[(D(2023, 12, 31), 1, "paid")]
        assert (sunday.week, sunday.month, sunday.orders, sunday.revenue_cents, sunday.units) == (
            D(2023, 12, 25), D(2023, 12, 1), 1, 1000, 1)
        # 23:59:59 on Monday 8th stays on the 8th; orders 1 and 2: 3 + 1 units
        monday = rows[(D(2024, 1, 8), 1, "paid")], rows[(D(2024, 1, 8), 1, "delivered")]
        assert [(r.week, r.orders, r.revenue_cents, r.units) for r in monday] == [
            (D(2024, 1, 8), 1, 2500, 3), (D(2024, 1, 8), 1, 2500, 1)]
        # Sunday the 14th is still in the week of the 8th; order 7 total includes shipping
        assert rows[(D(2024, 1, 14), 1, "paid")].week == D(2024, 1, 8)
        assert rows[(D(2024, 1, 14), 1, "paid")].revenue_cents == 3700
        # an order without items: counted, zero units
        empty = rows[(D(2024, 1, 20), 2, "paid")]
        assert (empty.week, empty.orders, empty.revenue_cents, empty.units) == (D(2024, 1, 15), 1, 700, 0)
        assert len(rows) == 13


def test_category_product_and_activity_rows(engines):
    for engine in engines:
        with engine.connect() as conn:
            cat = {(r.day, r.platform_id, r.status, r.category_id): (r.orders, r.revenue_cents, r.units)
                   for r in conn.execute(select(DailyCategorySales))}
            prod = {(r.day, r.status, r.product_id): (r.category_id, r.orders, r.revenue_cents, r.units)
                    for r in conn.execute(select(DailyProductSales))}
            activity = sorted(tuple(r) for r in conn.execute(select(DailyCustomerActivity)))
        # order 7 on the 14th: one book line each of B1 and B2
        assert cat[(D(2024, 1, 14), 1, "paid", 1)] == (1, 3500, 2)
        assert cat[(D(2024, 1, 8), 1, "paid", 2)] == (1, 500, 1)
        assert prod[(D(2024, 1, 8), "paid", 1)] == (1, 1, 2000, 2)
        assert prod[(D(2024, 1, 14), "refunded", 2)] == (1, 1, 5000, 2)
        # activity only for revenue statuses; the itemless order 203 is filed under category 0
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
        with engine.begin() as conn:
            # order 3 (10th) gets cancelled, order 7 (14th) too — but only the 10th is refreshed
            conn.execute(update(Order).where(Order.id.in_((3, 7))).values(status="cancelled"))
        summary = refresh_rollups(engine, D(2024, 1, 10), D(2024, 1, 10))
        assert summary["rows"]["daily_orders"] == 1  # app: orders 3 and 4, both cancelled now
        after = _contents(engine)
        changed = {t: sorted(set(before[t]) ^ set(after[t])) for t in before}
        days = {row[0] for rows in changed.values() for row in rows}
        assert days == {D(2024, 1, 10)}
        with engine.connect() as conn:
            tenth = conn.execute(select(DailyOrders.status, DailyOrders.orders)
                                 .where(DailyOrders.day == D(2024, 1, 10))).all()
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
