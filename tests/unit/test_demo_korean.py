"""The Korean demo market: Hangul names, whole-won prices, Seoul hours, Korean holidays,
event channels, a populated VIP segment; and the English default left exactly as it was."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from bi_app.db import demo
from bi_app.db.demo_korean import CHANNELS, VIP_MIN_SPEND_WON
from bi_app.db.demo_sink import python_values
from bi_app.db.models import REVENUE_STATUSES
from tests.conftest import migrate

TODAY = dt.date(2026, 1, 15)
SEOUL = pd.Timedelta(hours=9)
HANGUL = re.compile("[가-힣]")
CHUSEOK_2025, SEOLLAL_2025 = pd.Timestamp("2025-10-06"), pd.Timestamp("2025-01-29")
# English demo at scale 0.1, seed 7, computed before the Korean market was added.
ENGLISH_COUNTS = {
    "categories": 8,
    "sales_platforms": 4,
    "products": 120,
    "customers": 500,
    "orders": 4911,
    "order_items": 9700,
    "visits": 13362,
    "events": 9,
    "event_costs": 92,
    "event_revenues": 16,
    "event_registrations": 3274,
    "event_channel_stats": 970,
    "accounts": 5,
    "counterparties": 19,
    "transactions": 5863,
    "capacity_resources": 1,
    "capacity_samples": 4033,
    "demo_anomalies": 18,
}
ENGLISH_TOTALS = {
    "products.unit_price_cents": 550720,
    "products.unit_cost_cents": 289371,
    "orders.total_cents": 77085899,
    "order_items.unit_price_cents": 49232980,
    "order_items.amount_cents": 77085899,
    "events.budget_cents": 67300000,
    "events.ticket_price_cents": 155400,
    "event_costs.amount_cents": 40551041,
    "event_revenues.amount_cents": 68436401,
    "transactions.amount_cents": 78469194,
}


def frames(data: demo.DemoData) -> dict[str, pd.DataFrame]:
    parts: dict[str, list[pd.DataFrame]] = {}
    for table, columns in data.batches():
        parts.setdefault(table, []).append(
            pd.DataFrame({k: python_values(v) for k, v in columns.items()})
        )
    return {table: pd.concat(chunks, ignore_index=True) for table, chunks in parts.items()}


@pytest.fixture(scope="module")
def korean() -> dict[str, pd.DataFrame]:
    """Scale 0.5 (~25k orders): enough orders per day to see each holiday."""
    return frames(demo.generate_demo(0.5, seed=42, today=TODAY, locale="ko"))


@pytest.fixture(scope="module")
def daily_orders(korean) -> pd.Series:
    """Orders per Seoul calendar day."""
    local_day = (korean["orders"].ordered_at + SEOUL).dt.floor("D")
    days = pd.date_range(TODAY - dt.timedelta(days=730), TODAY - dt.timedelta(days=1))
    return korean["orders"].groupby(local_day).size().reindex(days, fill_value=0)


def hangul(values) -> bool:
    return all(HANGUL.search(str(v)) for v in values)


# --- the English default -----------------------------------------------------------------------


def test_english_default_is_unchanged():
    data = demo.generate_demo(0.1, seed=7, today=TODAY)
    counts: dict[str, int] = {}
    totals: dict[str, int] = {}
    for table, columns in data.batches():
        counts[table] = counts.get(table, 0) + len(columns["id"])
        for name, values in columns.items():
            if name.endswith("_cents"):
                key = f"{table}.{name}"
                totals[key] = totals.get(key, 0) + sum(v or 0 for v in python_values(values))
    assert counts == ENGLISH_COUNTS
    assert totals == ENGLISH_TOTALS
    assert data.locale == "en" and data.market.currency == "EUR"


def test_unknown_locale_is_refused():
    with pytest.raises(ValueError, match="en, ko"):
        demo.generate_demo(0.02, seed=1, today=TODAY, locale="fr")


def test_korean_set_is_deterministic_and_differs_from_english():
    def orders(locale: str) -> list:
        return [
            python_values(columns["total_cents"])
            for table, columns in demo.generate_demo(
                0.02, seed=5, today=TODAY, locale=locale
            ).batches()
            if table == "orders"
        ]

    assert orders("ko") == orders("ko")
    assert orders("ko") != orders("en")


# --- names, channels, money ----------------------------------------------------------------------


def test_names_are_korean(korean):
    assert hangul(korean["categories"].name) and hangul(korean["products"].name)
    assert hangul(korean["sales_platforms"].name)
    assert hangul(korean["customers"].name) and hangul(korean["customers"].region)
    assert korean["customers"].name.str.fullmatch("[가-힣]{2,4}").all()
    emails = korean["customers"].email.dropna()
    assert emails.str.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.\w+").all()
    events = korean["events"]
    assert hangul(events.name) and hangul(events.organizer) and hangul(events.venue)
    assert hangul(korean["event_costs"].description)
    assert hangul(korean["event_revenues"].description)
    assert hangul(korean["accounts"].name) and hangul(korean["counterparties"].name)
    assert hangul(korean["transactions"].note) and hangul(korean["demo_anomalies"].description)
    # codes the app keys on stay as they are
    platforms = set(korean["sales_platforms"].code)
    assert platforms == {"web", "mobile_app", "marketplace", "retail_store"}
    assert "electronics" in set(korean["categories"].code)


def test_event_channels_are_the_korean_ones(korean):
    stats, regs, events = (
        korean["event_channel_stats"],
        korean["event_registrations"],
        korean["events"],
    )
    assert set(stats.channel) == set(CHANNELS)
    assert {"우리동네TV", "지니TV", "인스타그램", "네이버 블로그", "카카오채널"} == set(CHANNELS)
    assert set(regs.channel) == {*CHANNELS, "직접 등록"}
    assert (stats.views >= stats.clicks).all() and (stats.clicks >= stats.conversions).all()
    promoted = events[(events.kind != "campaign") & (events.status != "cancelled")].id
    regs = regs[regs.event_id.isin(promoted) & (regs.channel != "직접 등록")]
    expected = regs.groupby(["event_id", "channel"]).size()
    got = stats[stats.event_id.isin(promoted)].groupby(["event_id", "channel"]).conversions.sum()
    assert got[got > 0].sort_index().equals(expected.sort_index())


def test_amounts_are_plausible_whole_won(korean):
    products, items, orders = korean["products"], korean["order_items"], korean["orders"]
    assert products.unit_price_cents.between(9_900, 389_900).all()
    assert (products.unit_price_cents % 1_000 == 900).all()  # 9,900 / 48,900 won
    assert products.unit_price_cents.max() >= 100_000
    assert (items.unit_price_cents % 100 == 0).all()
    assert items.unit_price_cents.between(5_000, 400_000).all()
    assert (items.amount_cents == items.quantity * items.unit_price_cents).all()
    assert 30_000 <= orders.total_cents.median() <= 120_000
    events = korean["events"]
    assert (events.budget_cents % 500_000 == 0).all() and events.budget_cents.min() >= 1_000_000
    tickets = events.ticket_price_cents[events.ticket_price_cents > 0]
    assert (tickets % 1_000 == 0).all() and tickets.between(9_000, 600_000).all()
    assert set(korean["accounts"].currency) == {"KRW"}
    tx = korean["transactions"]
    running = tx.sort_values(["occurred_at", "id"]).groupby("account_id").amount_cents.cumsum()
    assert running.min() >= 0


# --- time -------------------------------------------------------------------------------------


def test_times_are_seoul_hours_stored_as_utc(korean, daily_orders):
    orders = korean["orders"]
    local = orders.ordered_at + SEOUL
    store = orders.platform_id == 4  # retail_store
    assert local[store].dt.hour.between(10, 21).all()  # stores open 10:30-22:00 in Seoul
    night = local[~store].dt.hour.between(2, 5)
    assert night.mean() < 0.04
    assert orders.ordered_at.dt.hour.between(3, 14).mean() > 0.7  # 12:00-23:59 in Seoul
    assert local.min() >= pd.Timestamp(TODAY - dt.timedelta(days=730))
    assert local.max() < pd.Timestamp(TODAY)
    assert orders.ordered_at.min() < pd.Timestamp(TODAY - dt.timedelta(days=730))  # UTC: earlier
    created = korean["customers"].set_index("id").created_at
    first_visit = korean["visits"].groupby("customer_id").visited_at.min()
    assert (created.reindex(first_visit.index) < first_visit).all()
    assert (daily_orders > 0).all()  # the online shop never closes


# --- holidays ---------------------------------------------------------------------------------


def ordinary(daily: pd.Series, first: str, last: str, weekday: int) -> float:
    """Median orders on one weekday of a stretch without holidays."""
    stretch = daily[first:last]
    return float(stretch[stretch.index.day_of_week == weekday].median())


def test_seollal_and_chuseok_shape_demand(korean, daily_orders):
    monday = ordinary(daily_orders, "2025-10-13", "2025-11-07", CHUSEOK_2025.day_of_week)
    assert daily_orders[CHUSEOK_2025] < 0.5 * monday
    rush = daily_orders["2025-09-22":"2025-10-01"].mean()  # gift sets before the courier cut-off
    autumn = daily_orders["2025-10-13":"2025-11-07"].mean()
    assert rush > 1.15 * autumn
    wednesday = ordinary(daily_orders, "2025-02-10", "2025-03-14", SEOLLAL_2025.day_of_week)
    assert daily_orders[SEOLLAL_2025] < 0.5 * wednesday
    assert daily_orders[pd.Timestamp("2025-11-11")] > 1.5 * autumn
    local_day = (korean["orders"].ordered_at + SEOUL).dt.floor("D")
    stores = korean["orders"][korean["orders"].platform_id == 4]
    assert not local_day[stores.index].isin([CHUSEOK_2025, SEOLLAL_2025]).any()  # closed
    assert local_day[stores.index].dt.day_of_week.eq(6).any()  # open on Sundays


def test_calendar_labels_and_no_settlement_on_holidays():
    data = demo.generate_demo(0.02, seed=1, today=TODAY, locale="ko")
    calendar = data.calendar
    labels = {calendar.start + dt.timedelta(days=i): label for i, label in calendar.labels.items()}
    assert labels[dt.date(2025, 10, 6)] == "추석" and labels[dt.date(2025, 1, 29)] == "설날"
    assert labels[dt.date(2025, 10, 3)] == "택배 마감" and labels[dt.date(2025, 10, 9)] == "한글날"
    assert not calendar.closed.any()
    tx = frames(data)["transactions"]
    settled = set((tx.occurred_at[tx.note == "카드 매출 정산"] + SEOUL).dt.date)
    assert dt.date(2025, 10, 6) not in settled and dt.date(2025, 10, 10) in settled
    assert dt.date(2025, 10, 3) not in settled  # 개천절, a Friday


# --- loading ----------------------------------------------------------------------------------


def test_load_into_sqlite_populates_vip_in_won(sqlite_url):
    from bi_app.customer_tags import recompute
    from bi_app.db.engine import make_engine

    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    summary = demo.load_demo(engine, scale=0.1, seed=3, progress=False, today=TODAY, locale="ko")
    assert summary["serve_with"] == {"BI_CURRENCY": "KRW", "BI_TIMEZONE": "Asia/Seoul"}
    expected = {t: len(f) for t, f in frames(demo.generate_demo(0.1, 3, TODAY, "ko")).items()}
    assert summary["counts"] == expected
    recompute(engine, TODAY, full=True)
    statuses = ", ".join(f"'{s}'" for s in REVENUE_STATUSES)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT value, updated_by FROM business_settings WHERE key = :k"),
            {"k": "customers.vip_min_spend_cents"},
        ).one()
        assert tuple(stored) == (VIP_MIN_SPEND_WON, "demo")
        vip = conn.execute(
            text("SELECT COUNT(*) FROM customer_stats WHERE segment = 'vip'")
        ).scalar_one()
        spenders = conn.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT customer_id FROM orders WHERE status IN "
                f"({statuses}) GROUP BY customer_id HAVING SUM(total_cents) >= :vip) s"
            ),
            {"vip": VIP_MIN_SPEND_WON},
        ).scalar_one()
        names = conn.execute(text("SELECT name FROM products ORDER BY id LIMIT 3")).scalars()
        assert hangul(names)
    assert vip > 0 and vip == spenders
    # An English load over it goes back to the default thresholds.
    demo.load_demo(engine, scale=0.02, seed=3, progress=False, today=TODAY, replace=True)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM business_settings")).scalar_one() == 0
        currency = conn.execute(text("SELECT DISTINCT currency FROM accounts")).scalars().all()
    assert currency == ["EUR"]
    engine.dispose()


def test_admin_settings_of_other_keys_survive_a_korean_load(sqlite_url):
    from bi_app.db.engine import make_engine

    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO business_settings (key, value, updated_at, updated_by) "
                "VALUES ('churn.followup_days', '9', '2025-01-01 00:00:00', 'admin')"
            )
        )
    demo.load_demo(engine, scale=0.02, seed=4, progress=False, today=TODAY, locale="ko")
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT key, updated_by FROM business_settings")).all())
    assert rows == {"churn.followup_days": "admin", "customers.vip_min_spend_cents": "demo"}
    engine.dispose()


def test_scale_sizes_match_english():
    english = demo.generate_demo(0.1, seed=11, today=TODAY)
    korean = demo.generate_demo(0.1, seed=11, today=TODAY, locale="ko")
    # the same number of orders, give or take the injected outages
    assert np.isclose(english.calendar.orders.sum(), korean.calendar.orders.sum(), rtol=0.03)
    assert 4_500 <= korean.calendar.orders.sum() <= 5_500
    assert len(korean.calendar.month_slices()) == len(english.calendar.month_slices())
