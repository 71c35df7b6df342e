"""Business days begin at midnight in BI_TIMEZONE: roll-ups, customer bitmaps, the orders
explorer's bounds and the rebuild when the zone changes, on SQLite and PostgreSQL.

The orders sit on both sides of midnight in Seoul (UTC+9, no daylight saving time) at the end of
January 2026, so a day or a month cut in UTC and one cut in Seoul disagree about them:

=====  ========  ==================  ===================  ==============
order  customer  stored (UTC)        Seoul                amount, items
=====  ========  ==================  ===================  ==============
4      3         01-30 15:00:00      01-31 00:00:00       1000, P1
1      1         01-31 14:30         01-31 23:30          1000, P1
2      2         01-31 15:30         02-01 00:30          2500, P2
3      1         02-01 14:59:59      02-01 23:59:59       500, P3 (app)
=====  ========  ==================  ===================  ==============

Visits: customer 1 at 01-31 14:00 UTC (01-31 23:00 in Seoul), customer 4 at 01-31 15:10 UTC
(02-01 00:10 in Seoul).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import defaultdict

import pytest
from sqlalchemy import Engine, func, insert, select

from bi_app.db import bitmaps
from bi_app.db.business_days import (
    ROLLUP_TIMEZONE_KEY,
    ensure_rollup_timezone,
    needs_rebuild,
    rollup_timezone,
)
from bi_app.db.engine import make_engine
from bi_app.db.models import (
    AppState,
    DailyCategorySales,
    DailyOrders,
    DailyProductSales,
    MonthlyProductSales,
    Visit,
)
from bi_app.db.periods import business_timezone, use_timezone
from bi_app.db.rollups import refresh_rollups
from tests.sales_dataset import load_sales_dataset

pytestmark = pytest.mark.integration
D, T = dt.date, dt.datetime
SEOUL = "Asia/Seoul"

PLATFORMS = [(1, "web", "Web shop"), (2, "app", "Mobile app")]
CATEGORIES = [(1, "books", "Books"), (2, "toys", "Toys")]
PRODUCTS = [(1, "B1", "Novel", 1, 1000), (2, "B2", "Atlas", 1, 2500), (3, "T1", "Yo-yo", 2, 500)]
ORDERS = [
    (4, 3, 1, "paid", T(2026, 1, 30, 15, 0, 0), 1000, [(1, 1)]),
    (1, 1, 1, "paid", T(2026, 1, 31, 14, 30), 1000, [(1, 1)]),
    (2, 2, 1, "paid", T(2026, 1, 31, 15, 30), 2500, [(2, 1)]),
    (3, 1, 2, "paid", T(2026, 2, 1, 14, 59, 59), 500, [(3, 1)]),
]
VISITS = [(1, 1, 1, T(2026, 1, 31, 14, 0)), (2, 4, 1, T(2026, 1, 31, 15, 10))]

# (orders, revenue) per day, and revenue per month of the product table
SEOUL_DAYS = {D(2026, 1, 31): (2, 2000), D(2026, 2, 1): (2, 3000)}
UTC_DAYS = {D(2026, 1, 30): (1, 1000), D(2026, 1, 31): (2, 3500), D(2026, 2, 1): (1, 500)}
SEOUL_MONTHS = {D(2026, 1, 1): 2000, D(2026, 2, 1): 3000}
UTC_MONTHS = {D(2026, 1, 1): 4500, D(2026, 2, 1): 500}


def _load(engine: Engine) -> None:
    """The data set, its roll-ups built in UTC (as every database before BI_TIMEZONE mattered)."""
    with use_timezone("UTC"):
        load_sales_dataset(
            engine,
            platforms=PLATFORMS,
            categories=CATEGORIES,
            products=PRODUCTS,
            customers=(1, 2, 3, 4),
            orders=ORDERS,
            customers_since=T(2025, 1, 1),
        )
    with engine.begin() as conn:
        conn.execute(
            insert(Visit),
            [
                {"id": i, "customer_id": c, "platform_id": p, "visited_at": at}
                for i, c, p, at in VISITS
            ],
        )
    refresh_rollups(engine, tz="UTC")  # the visits into the bitmaps


@pytest.fixture
def engines(tmp_path, pg_url):
    """The data set in a fresh SQLite file and a fresh PostgreSQL schema."""
    from tests.conftest import migrate

    built = []
    for url in (f"sqlite:///{tmp_path / 'days.sqlite'}", pg_url):
        migrate(url)
        engine = make_engine(url)
        _load(engine)
        built.append(engine)
    yield built
    for engine in built:
        engine.dispose()


def _days(engine: Engine, table=DailyOrders) -> dict[dt.date, tuple[int, int]]:
    sums: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    with engine.connect() as conn:
        for day, orders, revenue in conn.execute(
            select(table.day, table.orders, table.revenue_cents)
        ):
            sums[_date(day)][0] += orders
            sums[_date(day)][1] += revenue
    return {day: tuple(v) for day, v in sums.items()}


def _months(engine: Engine) -> dict[dt.date, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(MonthlyProductSales.month, func.sum(MonthlyProductSales.revenue_cents)).group_by(
                MonthlyProductSales.month
            )
        ).all()
    return {_date(m): int(r) for m, r in rows}


def _date(value) -> dt.date:
    """A date column's value (SQLite may hand back text)."""
    return value if isinstance(value, dt.date) else D.fromisoformat(str(value))


def _weeks_and_months(engine: Engine) -> set[tuple[dt.date, dt.date, dt.date]]:
    with engine.connect() as conn:
        rows = conn.execute(select(DailyOrders.day, DailyOrders.week, DailyOrders.month)).all()
    return {tuple(_date(v) for v in r) for r in rows}


def _set(engine: Engine, kind: str, start: dt.date, end: dt.date, grains=()) -> set[int]:
    kinds = ("buyers", "repeat") if kind == "repeat" else (kind,)
    with engine.connect() as conn:
        parts = bitmaps.load(conn, start, end, kinds, None, None, grains)
    if kind == "repeat":
        return set(bitmaps.repeat_buyers(parts))
    return set(bitmaps.union(parts, kind))


def test_utc_keeps_the_old_days_and_months(engines):
    for engine in engines:
        assert _days(engine) == UTC_DAYS
        assert _months(engine) == UTC_MONTHS
        assert rollup_timezone(engine) == "UTC"
        assert _set(engine, "buyers", D(2026, 1, 31), D(2026, 1, 31)) == {1, 2}
        assert _set(engine, "visitors", D(2026, 1, 31), D(2026, 1, 31)) == {1, 4}


def test_seoul_days_and_months_on_both_databases(engines):
    contents = []
    for engine in engines:
        summary = refresh_rollups(engine, tz=SEOUL)
        assert summary["tz"] == SEOUL
        assert _days(engine) == SEOUL_DAYS
        assert _days(engine, DailyCategorySales) == SEOUL_DAYS  # one category per order here
        assert _days(engine, DailyProductSales) == SEOUL_DAYS
        assert _months(engine) == SEOUL_MONTHS
        # Sat 01-31 is in the week of Mon 01-26 and in January; Sun 02-01 in February
        assert _weeks_and_months(engine) == {
            (D(2026, 1, 31), D(2026, 1, 26), D(2026, 1, 1)),
            (D(2026, 2, 1), D(2026, 1, 26), D(2026, 2, 1)),
        }
        assert rollup_timezone(engine) == SEOUL
        with engine.connect() as conn:
            contents.append(
                sorted(tuple(r) for r in conn.execute(select(DailyOrders)).all()),
            )
    assert contents[0] == contents[1]


def test_customer_bitmaps_count_local_days(engines):
    for engine in engines:
        refresh_rollups(engine, tz=SEOUL)
        jan31, feb1 = D(2026, 1, 31), D(2026, 2, 1)
        assert _set(engine, "buyers", jan31, jan31) == {1, 3}
        assert _set(engine, "buyers", feb1, feb1) == {1, 2}
        assert _set(engine, "visitors", jan31, jan31) == {1}
        assert _set(engine, "visitors", feb1, feb1) == {4}
        # months and the quarter from the stored coarser bitmaps
        assert _set(engine, "buyers", D(2026, 1, 1), D(2026, 1, 31), ("month",)) == {1, 3}
        assert _set(engine, "buyers", D(2026, 2, 1), D(2026, 2, 28), ("month",)) == {1, 2}
        assert _set(engine, "buyers", D(2026, 1, 1), D(2026, 3, 31), ("quarter",)) == {1, 2, 3}
        # customer 1 bought on two local days: a repeat buyer over the two, not on either
        assert _set(engine, "repeat", jan31, feb1) == {1}
        assert _set(engine, "repeat", jan31, jan31) == set()


def test_partial_refresh_uses_local_bounds(engines):
    """A refresh of one local day reads that day's orders only: no order near midnight is
    counted twice or lost, and it agrees with a full build."""
    for engine in engines:
        refresh_rollups(engine, tz=SEOUL)
        full = _days(engine), _months(engine)
        refresh_rollups(engine, D(2026, 2, 1), D(2026, 2, 1), tz=SEOUL)
        refresh_rollups(engine, D(2026, 1, 31), D(2026, 1, 31), tz=SEOUL)
        assert (_days(engine), _months(engine)) == full
        assert _set(engine, "buyers", D(2026, 2, 1), D(2026, 2, 1)) == {1, 2}


def test_the_app_settings_choose_the_zone(engines, tmp_path):
    """Without an explicit zone, refresh_rollups reads BI_TIMEZONE of the app in context."""
    import flask

    from tests.conftest import make_settings

    engine = engines[0]
    app = flask.Flask("days")
    app.config["BI_SETTINGS"] = make_settings(str(engine.url), timezone=SEOUL)
    with app.app_context():
        assert business_timezone() == SEOUL
        refresh_rollups(engine)
    assert _days(engine) == SEOUL_DAYS


@pytest.fixture
def seoul_db(engines):
    """``bi_app.extensions.db`` bound to each engine in turn's URL, days in Seoul."""
    from bi_app.extensions import db

    yield db, engines


def test_orders_explorer_bounds_are_local(seoul_db):
    from bi_app.data import orders

    db, engines = seoul_db
    for engine in engines:
        db.init(engine.url.render_as_string(hide_password=False))
        try:
            with use_timezone(SEOUL):
                refresh_rollups(engine)
                feb1 = orders.OrderQuery(D(2026, 2, 1), D(2026, 2, 1), sort="ordered_at")
                assert orders._count(feb1) == 2
                page = orders._page(feb1, 0, 10)
                assert sorted(page["order_id"]) == [2, 3]
                jan31 = orders.OrderQuery(D(2026, 1, 31), D(2026, 1, 31))
                assert sorted(orders._page(jan31, 0, 10)["order_id"]) == [1, 4]
            with use_timezone("UTC"):
                utc = orders.OrderQuery(D(2026, 1, 31), D(2026, 1, 31))
                assert sorted(orders._page(utc, 0, 10)["order_id"]) == [1, 2]
        finally:
            db.engine.dispose()


def test_rebuild_when_the_zone_changes(engines):
    lines: list[str] = []
    for engine in engines:
        assert needs_rebuild(engine, SEOUL) and not needs_rebuild(engine, "Etc/UTC")
        summary = ensure_rollup_timezone(engine, SEOUL, lines.append)
        assert summary is not None and summary["tz"] == SEOUL
        assert _days(engine) == SEOUL_DAYS
        assert ensure_rollup_timezone(engine, SEOUL, lines.append) is None  # nothing to do
        with engine.connect() as conn:
            stored = conn.execute(
                select(AppState.value).where(AppState.key == ROLLUP_TIMEZONE_KEY)
            ).scalar_one()
        assert stored == SEOUL
    assert any("rebuilding" in line for line in lines)
    assert any(line.startswith("daily_orders:") for line in lines)
    assert any(line.startswith("customer bitmaps: 2026-02") for line in lines)


def test_an_empty_database_only_records_the_zone(tmp_path):
    from tests.conftest import migrate

    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    try:
        assert not needs_rebuild(engine, SEOUL)
        assert ensure_rollup_timezone(engine, SEOUL) is None
        assert rollup_timezone(engine) == SEOUL
    finally:
        engine.dispose()


def _cli(args: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BI_")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "bi_app.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_upgrade_and_rebuild(tmp_path):
    from tests.conftest import TEST_SECRET, migrate

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    try:
        _load(engine)
        env = {
            "BI_DATABASE_URL": url,
            "BI_SECRET_KEY": TEST_SECRET,
            "BI_INSTANCE_DIR": str(tmp_path / "instance"),
            "BI_TIMEZONE": SEOUL,
            "BI_SCHEDULER": "off",
        }
        upgraded = _cli(["db", "upgrade"], env)
        assert upgraded.returncode == 0, upgraded.stderr
        assert "BI_TIMEZONE is Asia/Seoul but the roll-ups cut days in UTC" in upgraded.stdout
        assert _days(engine) == SEOUL_DAYS and rollup_timezone(engine) == SEOUL

        again = _cli(["db", "upgrade"], env)
        assert again.returncode == 0, again.stderr
        assert "rebuilding" not in again.stdout

        rebuilt = _cli(["rollups", "rebuild"], {**env, "BI_TIMEZONE": "UTC"})
        assert rebuilt.returncode == 0, rebuilt.stderr
        out = rebuilt.stdout
        assert "rebuilding the roll-ups: days in UTC (were Asia/Seoul)" in out
        assert "daily_orders: " in out and "monthly_product_sales: " in out
        assert "customer bitmaps: 2026-01" in out and out.rstrip().splitlines()[-1].startswith(
            "done: "
        )
        assert _days(engine) == UTC_DAYS and rollup_timezone(engine) == "UTC"
    finally:
        engine.dispose()


def test_customer_months_follow_the_zone(engines):
    """Customer tags' activity months are rebuilt, once, when the zone changes; "today" and its
    cutoff are local (order 3 at 23:59:59 in Seoul on 02-01 is before the end of that day)."""
    from bi_app.customer_tags import recompute
    from bi_app.db.analytics_models import CustomerOrderMonth

    def months(engine: Engine) -> dict[int, set[dt.date]]:
        found: dict[int, set[dt.date]] = defaultdict(set)
        with engine.connect() as conn:
            for customer, month in conn.execute(
                select(CustomerOrderMonth.customer_id, CustomerOrderMonth.month)
            ):
                found[customer].add(_date(month))
        return dict(found)

    for engine in engines:
        with use_timezone("UTC"):
            recompute(engine, D(2026, 2, 1))
        # UTC: customer 2's order (01-31 15:30) is in January; order 3 (02-01 14:59) counts
        assert months(engine) == {
            1: {D(2026, 1, 1), D(2026, 2, 1)},
            2: {D(2026, 1, 1)},
            3: {D(2026, 1, 1)},
        }
        with use_timezone(SEOUL):
            summary = recompute(engine, D(2026, 2, 1))
            assert (
                summary["months_rebuilt"] and summary["reason"] == "the business time zone changed"
            )
            assert months(engine) == {
                1: {D(2026, 1, 1), D(2026, 2, 1)},
                2: {D(2026, 2, 1)},
                3: {D(2026, 1, 1)},
            }
            assert not recompute(engine, D(2026, 2, 1))["months_rebuilt"]
        with use_timezone(SEOUL):
            # as of Seoul's 01-31 the cutoff is 01-31 15:00 UTC: order 2 is not in yet
            recompute(engine, D(2026, 1, 31), full=True)
            assert 2 not in months(engine)


def test_periodic_job_rebuilds_all_days_after_a_zone_change(engines):
    """Three days cut in a new zone next to older days cut in the old one would count the
    orders near midnight twice: the job rebuilds everything once, then refreshes recent days."""
    from bi_app.jobs.definitions import refresh_recent_rollups

    engine = engines[0]
    with use_timezone(SEOUL):
        first = refresh_recent_rollups(engine)
        assert (first["start"], first["end"], first["tz"]) == (None, None, SEOUL)
        assert _days(engine) == SEOUL_DAYS
        again = refresh_recent_rollups(engine)
        assert again["start"] is not None and again["tz"] == SEOUL
    assert _days(engine) == SEOUL_DAYS
