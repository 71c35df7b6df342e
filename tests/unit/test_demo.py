"""The demo generator: determinism, plausible distributions, ground truth, SQLite loading."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select, text

from bi_app.db import demo
from bi_app.db.demo_sink import clear_tables, python_values
from bi_app.db.models import COST_CATEGORIES, ORDER_STATUSES, REVENUE_STATUSES, TRANSACTION_KINDS
from tests.conftest import migrate

TODAY = dt.date(2026, 1, 15)


def checksum(data: demo.DemoData) -> str:
    digest = hashlib.sha256()
    for table, columns in data.batches():
        digest.update(table.encode())
        for name, values in columns.items():
            digest.update(name.encode())
            digest.update(repr(python_values(values)).encode())
    return digest.hexdigest()


def frames(data: demo.DemoData) -> dict[str, pd.DataFrame]:
    parts: dict[str, list[pd.DataFrame]] = {}
    for table, columns in data.batches():
        parts.setdefault(table, []).append(
            pd.DataFrame({k: python_values(v) for k, v in columns.items()})
        )
    return {table: pd.concat(chunks, ignore_index=True) for table, chunks in parts.items()}


@pytest.fixture(scope="module")
def full() -> dict[str, pd.DataFrame]:
    """Scale 1.0 (~50k orders), generated once for the distribution checks."""
    return frames(demo.generate_demo(1.0, seed=42, today=TODAY))


@pytest.fixture(scope="module")
def daily_revenue(full) -> pd.Series:
    orders = full["orders"]
    paid = orders[orders.status.isin(REVENUE_STATUSES)]
    days = pd.date_range(TODAY - dt.timedelta(days=730), TODAY - dt.timedelta(days=1))
    return paid.groupby(paid.ordered_at.dt.floor("D")).total_cents.sum().reindex(days, fill_value=0)


# --- determinism and shape ---------------------------------------------------------------------


def test_same_seed_gives_identical_rows_and_another_seed_differs():
    first = checksum(demo.generate_demo(0.1, seed=7, today=TODAY))
    assert checksum(demo.generate_demo(0.1, seed=7, today=TODAY)) == first
    assert checksum(demo.generate_demo(0.1, seed=8, today=TODAY)) != first


def test_span_is_730_days_ending_yesterday(full):
    ordered = full["orders"].ordered_at
    assert ordered.min() >= pd.Timestamp(TODAY - dt.timedelta(days=730))
    assert ordered.max() < pd.Timestamp(TODAY)
    assert ordered.dt.floor("D").nunique() >= 720  # only a few closed days are missing
    assert full["transactions"].occurred_at.max() < pd.Timestamp(TODAY)


def test_sizes_follow_the_scale(full):
    assert 47_000 <= len(full["orders"]) <= 53_000
    assert len(full["customers"]) == 5_000
    assert len(full["products"]) == 120 and len(full["categories"]) == 8
    assert set(full["sales_platforms"].code) == {"web", "mobile_app", "marketplace", "retail_store"}
    small = frames(demo.generate_demo(0.1, seed=42, today=TODAY))
    assert 4_500 <= len(small["orders"]) <= 5_500
    assert len(small["events"]) >= 8


def test_invalid_scale_is_refused():
    with pytest.raises(ValueError, match="scale"):
        demo.generate_demo(0, seed=1, today=TODAY)


# --- distributions -----------------------------------------------------------------------------


def test_weekends_differ_from_weekdays_and_q4_beats_q2(daily_revenue):
    open_days = daily_revenue[daily_revenue > 0]
    by_weekday = open_days.groupby(open_days.index.day_of_week).mean()
    assert by_weekday[5] > 1.15 * by_weekday[1]  # Saturday vs Tuesday
    by_quarter = daily_revenue.groupby(daily_revenue.index.quarter).mean()
    assert by_quarter[4] > 1.2 * by_quarter[2]


def test_growth_over_the_two_years(daily_revenue):
    first, second = daily_revenue.iloc[:365].sum(), daily_revenue.iloc[365:].sum()
    assert second > 1.1 * first


def test_black_friday_is_a_peak_and_christmas_is_closed(full, daily_revenue):
    black_friday = pd.Timestamp("2025-11-28")
    assert daily_revenue[black_friday] > 2 * daily_revenue["2025-11-01":"2025-11-14"].mean()
    ordered_days = set(full["orders"].ordered_at.dt.date)
    assert dt.date(2024, 12, 25) not in ordered_days and dt.date(2025, 1, 1) not in ordered_days


def test_few_customers_hold_much_revenue_and_many_buy_once(full):
    orders = full["orders"]
    spend = orders[orders.status.isin(REVENUE_STATUSES)].groupby("customer_id").total_cents.sum()
    top = spend.sort_values(ascending=False).head(len(spend) // 10).sum()
    assert top / spend.sum() > 0.4
    per_customer = orders.groupby("customer_id").size()
    assert (per_customer == 1).mean() > 0.15
    assert per_customer.max() > 10 * per_customer.median()


def test_order_values_are_heavy_tailed_and_products_have_best_sellers(full):
    totals = full["orders"].total_cents
    assert totals.mean() > 1.2 * totals.median()
    assert totals.quantile(0.99) > 5 * totals.median()
    units = full["order_items"].groupby("product_id").quantity.sum().sort_values(ascending=False)
    assert units.head(12).sum() > 0.35 * units.sum()  # top 10% of 120 products


def test_order_total_is_the_sum_of_its_items(full):
    items = full["order_items"]
    assert (items.amount_cents == items.quantity * items.unit_price_cents).all()
    sums = items.groupby("order_id").amount_cents.sum()
    orders = full["orders"].set_index("id")
    assert sums.reindex(orders.index).eq(orders.total_cents).all()
    lines = items.groupby("order_id").size()
    assert lines.min() >= 1 and lines.max() <= 5 and len(lines) == len(orders)


def test_statuses_are_allowed_and_settle_with_age(full):
    orders = full["orders"]
    assert set(orders.status) <= set(ORDER_STATUSES)
    shares = orders.status.value_counts(normalize=True)
    assert 0.03 <= shares["cancelled"] <= 0.05
    assert 0.01 <= shares["refunded"] <= 0.035
    assert shares["delivered"] > 0.85
    age = (pd.Timestamp(TODAY) - orders.ordered_at).dt.days
    assert not orders[age > 30].status.isin(["pending", "paid", "shipped"]).any()
    assert orders[age <= 2].status.isin(["pending", "paid", "shipped"]).mean() > 0.5


def test_visits_outnumber_and_precede_orders(full):
    visits, orders, customers = full["visits"], full["orders"], full["customers"]
    assert len(visits) > 2 * len(orders)
    first_visit = visits.groupby("customer_id").visited_at.min()
    first_order = orders.groupby("customer_id").ordered_at.min()
    assert (first_visit.reindex(first_order.index) < first_order).all()
    created = customers.set_index("id").created_at
    assert (created.reindex(first_visit.index) < first_visit).all()


def test_customers_have_profiles(full):
    customers = full["customers"]
    assert customers.region.notna().all() and customers.birth_year.between(1930, 2010).all()
    assert {"female", "male"} <= set(customers.gender.dropna())
    assert customers.external_id.is_unique and customers.email.dropna().is_unique


# --- events and treasury -----------------------------------------------------------------------


def test_events_have_costs_revenues_attendance_and_channels(full):
    events, costs = full["events"], full["event_costs"]
    assert 20 <= len(events) <= 40
    assert set(costs.category) == set(COST_CATEGORIES)
    assert {"tickets", "sponsorship", "sales"} <= set(full["event_revenues"].source)
    assert {"completed", "planned"} <= set(events.status)
    regs = full["event_registrations"]
    held = events[events.status == "completed"].id
    rates = regs[regs.event_id.isin(held)].groupby("event_id").attended.mean()
    assert rates.min() < 0.7 < rates.max()
    assert regs.checked_in_at.notna().eq(regs.attended).all()
    assert {"age_band", "gender", "region", "is_returning"} <= set(regs.columns)
    stats = full["event_channel_stats"]
    assert set(stats.channel) == {"email", "social", "search", "display", "partner"}
    assert (stats.views >= stats.clicks).all() and (stats.clicks >= stats.conversions).all()


def test_channel_conversions_are_the_registrations_of_that_channel(full):
    regs, stats, events = full["event_registrations"], full["event_channel_stats"], full["events"]
    promoted = events[(events.kind != "campaign") & (events.status != "cancelled")].id
    regs = regs[regs.event_id.isin(promoted) & (regs.channel != "direct")]
    expected = regs.groupby(["event_id", "channel"]).size()
    got = stats[stats.event_id.isin(promoted)].groupby(["event_id", "channel"]).conversions.sum()
    assert got[got > 0].sort_index().equals(expected.sort_index())


def test_treasury_accounts_flows_and_balances(full):
    tx, accounts = full["transactions"], full["accounts"]
    assert set(accounts.tier) == {"hot", "warm", "cold"}
    assert set(tx.kind) == set(TRANSACTION_KINDS)
    assert tx.reference.is_unique
    internal = tx[tx.kind.isin(["sweep", "cold_storage"])]
    assert internal.amount_cents.sum() == 0  # transfers move money, they do not create it
    running = tx.sort_values(["occurred_at", "id"]).groupby("account_id").amount_cents.cumsum()
    assert running.min() >= 0


# --- ground truth ------------------------------------------------------------------------------


def test_revenue_drop_days_are_low_against_their_neighbours(full, daily_revenue):
    drops = full["demo_anomalies"].query("kind == 'revenue_drop'")
    assert 6 <= len(drops) <= 10
    for day, magnitude in zip(pd.to_datetime(drops.day), drops.magnitude):
        assert 0.4 <= magnitude <= 0.8
        around = [daily_revenue[day + pd.Timedelta(days=k)] for k in range(-7, 8) if k]
        assert daily_revenue[day] < 0.75 * np.median(around), day


def test_unusual_transactions_are_really_unusual(full):
    tx = full["transactions"].set_index("id")
    unusual = full["demo_anomalies"].query("kind == 'unusual_transaction'")
    assert len(unusual) >= 6
    typical = -tx[tx.kind == "withdrawal"].amount_cents.median()
    for ref, description, day in zip(unusual.ref_id, unusual.description, unusual.day):
        row = tx.loc[int(ref)]
        assert row.occurred_at.date() == day and row.kind == "withdrawal"
        if description.startswith("huge amount"):
            assert -row.amount_cents > 10 * typical
        elif description.startswith("odd hour"):
            assert row.occurred_at.hour < 5
        else:
            assert description.startswith("unknown counterparty") and pd.isna(row.counterparty_id)
    normal = tx.drop(index=unusual.ref_id.astype(int))
    assert normal.counterparty_id.notna().all()
    assert not (normal.kind.eq("withdrawal") & (normal.occurred_at.dt.hour < 5)).any()


# --- loading into SQLite -----------------------------------------------------------------------


def test_load_into_migrated_sqlite(sqlite_url):
    from bi_app.db.engine import make_engine

    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    assert demo.is_empty(engine)
    summary = demo.load_demo(engine, scale=0.1, seed=3, progress=False, today=TODAY)
    assert not demo.is_empty(engine)
    expected = {t: len(f) for t, f in frames(demo.generate_demo(0.1, seed=3, today=TODAY)).items()}
    assert summary["counts"] == expected
    assert summary["start"] == "2024-01-16" and summary["end"] == "2026-01-14"
    with engine.connect() as conn:
        for table, count in expected.items():
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() == count
        mismatched = conn.execute(
            text(
                "SELECT COUNT(*) FROM orders o JOIN (SELECT order_id, SUM(amount_cents) s "
                "FROM order_items GROUP BY order_id) i ON i.order_id = o.id WHERE i.s != "
                "o.total_cents"
            )
        ).scalar_one()
        assert mismatched == 0
        assert conn.execute(text("SELECT COUNT(*) FROM daily_orders")).scalar_one() > 0
    engine.dispose()


def test_loading_twice_needs_replace_which_keeps_users(sqlite_url):
    from bi_app.db.engine import make_engine
    from bi_app.db.models import Role, User

    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    demo.load_demo(engine, scale=0.02, seed=1, progress=False, today=TODAY)
    with engine.begin() as conn:
        if not conn.execute(select(Role.name).where(Role.name == "admin")).first():
            conn.execute(Role.__table__.insert(), {"name": "admin", "description": "all"})
        conn.execute(
            User.__table__.insert(),
            {
                "username": "keeper",
                "password_hash": "x",
                "role": "admin",
                "active": True,
                "created_at": dt.datetime(2025, 1, 1),
            },
        )
        # someone else's table holding rows per event must not block a replace
        conn.execute(
            text("CREATE TABLE event_notes (event_id INTEGER NOT NULL REFERENCES events(id))")
        )
        conn.execute(text("INSERT INTO event_notes VALUES (1)"))
    with pytest.raises(demo.DemoDataExists, match="replace"):
        demo.load_demo(engine, scale=0.02, seed=1, progress=False, today=TODAY)
    with engine.begin() as conn, pytest.raises(RuntimeError, match="event_notes"):
        clear_tables(conn, demo.DEMO_TABLES, protected=("event_notes",))
    summary = demo.load_demo(engine, scale=0.02, seed=2, progress=False, replace=True, today=TODAY)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(User.__table__)).scalar_one() == 1
        orders = conn.execute(text("SELECT COUNT(*) FROM orders")).scalar_one()
        assert conn.execute(text("SELECT COUNT(*) FROM event_notes")).scalar_one() == 0
    assert orders == summary["counts"]["orders"]
    engine.dispose()
