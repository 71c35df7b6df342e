"""The demo loader on PostgreSQL (binary COPY): same rows as SQLite, sequences usable after."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from bi_app.db import demo
from bi_app.db.engine import make_engine, make_session_factory
from bi_app.db.models import Order
from tests.conftest import migrate

pytestmark = pytest.mark.integration

TODAY = dt.date(2026, 1, 15)
# Per table: row count and a few sums that would differ if any value were lost or altered.
FINGERPRINT = {
    "customers": "COUNT(*), SUM(birth_year), COUNT(email), COUNT(DISTINCT region)",
    "orders": "COUNT(*), SUM(total_cents), SUM(customer_id), COUNT(DISTINCT status), "
    "MIN(ordered_at), MAX(ordered_at)",
    "order_items": "COUNT(*), SUM(amount_cents), SUM(quantity), SUM(order_id)",
    "visits": "COUNT(*), SUM(customer_id), COUNT(DISTINCT channel), MAX(visited_at)",
    "events": "COUNT(*), SUM(budget_cents), SUM(capacity), MIN(starts_at)",
    "event_costs": "COUNT(*), SUM(amount_cents)",
    "event_revenues": "COUNT(*), SUM(amount_cents)",
    "event_registrations": "COUNT(*), SUM(CASE WHEN attended THEN 1 ELSE 0 END), "
    "COUNT(checked_in_at), COUNT(customer_id)",
    "event_channel_stats": "COUNT(*), SUM(views), SUM(clicks), SUM(conversions), MIN(day)",
    "transactions": "COUNT(*), SUM(amount_cents), COUNT(counterparty_id), MAX(occurred_at)",
    "demo_anomalies": "COUNT(*), SUM(ref_id), MIN(day), ROUND(SUM(magnitude) * 1000)",
    "products": "COUNT(*), SUM(unit_price_cents), SUM(CASE WHEN active THEN 1 ELSE 0 END)",
}


def fingerprint(engine) -> dict[str, tuple]:
    out = {}
    with engine.connect() as conn:
        for table, expr in FINGERPRINT.items():
            row = conn.execute(text(f"SELECT {expr} FROM {table}")).one()
            # Dates and times come back as objects from PostgreSQL and as text from SQLite.
            out[table] = tuple(
                str(v)[:19] if isinstance(v, (dt.date, str)) else int(v) for v in row
            )
    return out


def test_postgresql_load_matches_sqlite(pg_url, sqlite_url):
    migrate(pg_url)
    migrate(sqlite_url)
    pg, lite = make_engine(pg_url), make_engine(sqlite_url)
    assert demo.is_empty(pg)
    pg_summary = demo.load_demo(pg, scale=0.1, seed=5, progress=False, today=TODAY)
    lite_summary = demo.load_demo(lite, scale=0.1, seed=5, progress=False, today=TODAY)
    assert pg_summary["counts"] == lite_summary["counts"]
    assert fingerprint(pg) == fingerprint(lite)
    assert not demo.is_empty(pg)
    with pg.connect() as conn:  # vacuumed after the load: index-only scans read no heap pages
        vacuumed = conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND last_vacuum IS NOT NULL"
            )
        ).scalars()
        assert {"orders", "order_items", "visits", "transactions"} <= set(vacuumed)
    pg.dispose()
    lite.dispose()


def schema_objects(engine) -> set[tuple[str, str]]:
    """Constraint and index definitions of the current schema."""
    with engine.connect() as conn:
        constraints = conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t "
                "ON t.oid = c.conrelid WHERE t.relnamespace = current_schema()::regnamespace"
            )
        ).all()
        indexes = conn.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
        ).all()
    return {tuple(row) for row in constraints + indexes}


def test_orm_inserts_work_after_a_load_and_replace_clears_first(pg_url):
    migrate(pg_url)
    engine = make_engine(pg_url)
    before = schema_objects(engine)
    assert any(name == "fk_order_items_order_id_orders" for name, _ in before)
    summary = demo.load_demo(engine, scale=0.02, seed=9, progress=False, today=TODAY)
    assert schema_objects(engine) == before  # keys and indexes dropped for COPY are back
    with make_session_factory(engine)() as session:
        order = Order(
            order_number="SO-TEST-1",
            customer_id=1,
            platform_id=1,
            status="paid",
            ordered_at=dt.datetime(2026, 1, 15, 9),
            total_cents=1234,
        )
        session.add(order)
        session.commit()
        assert order.id == summary["counts"]["orders"] + 1
    with pytest.raises(demo.DemoDataExists):
        demo.load_demo(engine, scale=0.02, seed=9, progress=False, today=TODAY)
    with engine.begin() as conn:  # another feature's rows per event must not block a replace
        conn.execute(
            text("CREATE TABLE event_notes (event_id INTEGER NOT NULL REFERENCES events(id))")
        )
        conn.execute(text("INSERT INTO event_notes VALUES (1)"))
    again = demo.load_demo(engine, scale=0.02, seed=9, progress=False, replace=True, today=TODAY)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT COUNT(*) FROM orders")).scalar_one()
            == again["counts"]["orders"]
        )
        assert (
            conn.execute(
                text("SELECT COUNT(*) FROM orders WHERE order_number = 'SO-TEST-1'")
            ).scalar_one()
            == 0
        )
        assert conn.execute(text("SELECT COUNT(*) FROM daily_orders")).scalar_one() > 0
        assert conn.execute(text("SELECT COUNT(*) FROM event_notes")).scalar_one() == 0
    engine.dispose()
