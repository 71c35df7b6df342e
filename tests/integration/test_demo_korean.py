"""The Korean demo on PostgreSQL (binary COPY): Hangul and won arrive intact, as on SQLite,
and the VIP segment in won is populated after the customer recompute."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from bi_app.db import demo
from bi_app.db.demo_korean import VIP_MIN_SPEND_WON
from bi_app.db.engine import make_engine
from tests.conftest import migrate

pytestmark = pytest.mark.integration

TODAY = dt.date(2026, 1, 15)
CHECKS = {
    "products": "SELECT name, unit_price_cents FROM products ORDER BY id",
    "customers": "SELECT name, email, region, created_at FROM customers ORDER BY id LIMIT 200",
    "orders": "SELECT COUNT(*), SUM(total_cents), MIN(ordered_at), MAX(ordered_at) FROM orders",
    "events": "SELECT name, organizer, venue, starts_at, budget_cents FROM events ORDER BY id",
    "channels": "SELECT channel, SUM(views), SUM(conversions) FROM event_channel_stats "
    "GROUP BY channel ORDER BY channel",
    "transactions": "SELECT COUNT(*), SUM(amount_cents), MAX(occurred_at) FROM transactions",
    "anomalies": "SELECT kind, day, description FROM demo_anomalies ORDER BY id",
}


def snapshot(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            name: [
                tuple(str(v)[:19] if isinstance(v, (dt.date, str)) else v for v in row)
                for row in conn.execute(text(sql))
            ]
            for name, sql in CHECKS.items()
        }


def test_korean_load_on_postgresql_matches_sqlite_and_has_vips(pg_url, sqlite_url):
    from bi_app.customer_tags import recompute

    migrate(pg_url)
    migrate(sqlite_url)
    pg, lite = make_engine(pg_url), make_engine(sqlite_url)
    pg_summary = demo.load_demo(pg, scale=0.05, seed=5, progress=False, today=TODAY, locale="ko")
    lite_summary = demo.load_demo(
        lite, scale=0.05, seed=5, progress=False, today=TODAY, locale="ko"
    )
    assert pg_summary["counts"] == lite_summary["counts"]
    pg_rows, lite_rows = snapshot(pg), snapshot(lite)
    assert pg_rows == lite_rows
    assert {row[0] for row in pg_rows["channels"]} >= {"우리동네TV", "지니TV"}
    recompute(pg, TODAY, full=True)
    with pg.connect() as conn:
        stored = conn.execute(
            text("SELECT value FROM business_settings WHERE key = 'customers.vip_min_spend_cents'")
        ).scalar_one()
        vip = conn.execute(
            text("SELECT COUNT(*) FROM customer_stats WHERE segment = 'vip'")
        ).scalar_one()
    assert stored == VIP_MIN_SPEND_WON
    assert vip > 0
    pg.dispose()
    lite.dispose()


def test_the_channel_report_lists_the_channels_an_event_has_statistics_for():
    from bi_app.channels.config import DEFAULT_CHANNELS
    from bi_app.channels.report import report_channels

    assert report_channels({}) == DEFAULT_CHANNELS
    korean = {"지니TV": (1, 1, 1), "우리동네TV": (2, 1, 0)}
    assert report_channels(korean) == ("우리동네TV", "지니TV")
    mixed = {"email": (1, 1, 1), "우리동네TV": (2, 1, 0)}
    assert report_channels(mixed) == (*DEFAULT_CHANNELS, "우리동네TV")
