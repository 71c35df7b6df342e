"""Incremental recomputation equals a full one and an independent computation on the raw tables.

On the hand-made data set of test_customers_data and on demo data, on SQLite and PostgreSQL:
recompute fully, then change the raw tables the ways the app does (new orders and visits, an
import through the importer's writer that inserts and updates orders, a status change, an order
moved to another customer, deletions of a customer's whole activity) and let days pass; after
each step an incremental run must leave exactly what a full run leaves (stats, segments, paths,
tags, every aggregate and every Customers data call), and both must equal figures computed here
in pandas/Python from the raw rows with the pure rules of bi_app.analytics.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import flask
import pandas as pd
import pytest
from sqlalchemy import delete, insert, select, text, update

from bi_app.analytics.churn import ChurnThresholds, churn_tag
from bi_app.analytics.segmentation import SEGMENTS, SegmentThresholds, segment_of
from bi_app.config import Settings
from bi_app.customer_tags import recompute
from bi_app.data import cache as data_cache
from bi_app.data import customers as data
from bi_app.db.analytics_models import (
    CustomerOrderMonth,
    CustomerProfileCount,
    CustomerRecomputeRun,
    CustomerRfmCell,
    CustomerSegmentPath,
    CustomerStats,
    CustomerTag,
    CustomerTagHistory,
    CustomerVisitMonth,
)
from bi_app.db.models import REVENUE_STATUSES, Customer, Order, SalesPlatform, Visit
from bi_app.extensions import db
from bi_app.importing.reader import open_table
from bi_app.importing.schemas import get_kind
from bi_app.importing.validate import validate
from bi_app.importing.write import write
from tests.conftest import TEST_SECRET, migrate
from tests.integration.test_customers_data import TODAY, load

STATS_FIELDS = (
    "customer_id",
    "visits",
    "first_visit",
    "last_visit",
    "orders",
    "spend_cents",
    "first_order",
    "last_order",
    "segment",
    "first_month",
    "growing_month",
    "loyal_month",
    "vip_month",
    "last_visit_day",
    "tag",
    "tag_due",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'inc.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    app = flask.Flask("test-customers-incremental")
    data_cache.init_app(
        app, Settings(env="test", database_url=url, secret_key=TEST_SECRET), key_prefix="ci:"
    )
    with app.app_context():
        yield url
    db.engine.dispose()


def _d(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, dt.datetime) else value


def _ts(value):
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


def stored_state() -> dict:
    """Everything the job stores, in comparable form (run-specific times left out)."""
    engine = db.require_engine()
    with engine.connect() as conn:
        stats = {
            r.customer_id: (
                r.visits,
                _ts(r.first_visit),
                _ts(r.last_visit),
                None if r.avg_interval_days is None else round(r.avg_interval_days, 6),
                r.orders,
                int(r.spend_cents),
                _ts(r.first_order),
                _ts(r.last_order),
                r.segment,
                _d(r.first_month),
                _d(r.growing_month),
                _d(r.loyal_month),
                _d(r.vip_month),
                r.last_visit_day,
                r.tag,
                r.tag_due,
            )
            for r in conn.execute(select(CustomerStats))
        }
        tags = set(conn.execute(select(CustomerTag.customer_id, CustomerTag.tag)).all())
        open_history = set(
            conn.execute(
                select(CustomerTagHistory.customer_id, CustomerTagHistory.tag).where(
                    CustomerTagHistory.removed_at.is_(None)
                )
            ).all()
        )
        profiles = set(conn.execute(select(CustomerProfileCount)).all())
        paths = Counter(
            {
                (_d(r.first_month), _d(r.growing_month), _d(r.loyal_month), _d(r.vip_month)): (
                    r.customers
                )
                for r in conn.execute(select(CustomerSegmentPath))
            }
        )
        rfm = set(conn.execute(select(CustomerRfmCell)).all())
    assert tags == open_history  # every current tag has exactly one open history period
    return {"stats": stats, "tags": tags, "profiles": profiles, "paths": paths, "rfm": rfm}


def served(start: dt.date, end: dt.date) -> dict:
    """What the Customers data calls answer (cache emptied first)."""
    data_cache.invalidate(data.NAMESPACE)
    pages = {}
    for sort in data.SORT_KEYS:
        for descending in (True, False):
            frame = data.customer_page(0, 1000, sort=sort, descending=descending)
            # NaN (a churn probability before any scoring) never equals itself: compare None
            pages[(sort, descending)] = (
                frame.astype(object).where(frame.notna(), None).to_dict("records")
            )
    return {
        "summary": data.segment_summary().to_dict("records"),
        "trend": data.segment_trend(start, end).to_dict("records"),
        "movement": data.segment_movement(start, end).to_dict(),
        "rfm": data.rfm_grid().to_dict("records"),
        "tags": data.tag_counts().to_dict("records"),
        "count": data.customer_count(),
        "counts": {
            (s, t): data.customer_count(s, t)
            for s in SEGMENTS
            for t in (None, "reactivation_needed")
        },
        "pages": pages,
    }


def independent(today: dt.date) -> dict:
    """Stats, segments, tags, month-end segments and RFM from the raw rows, in Python."""
    engine = db.require_engine()
    cutoff = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min)
    with engine.connect() as conn:
        visits = pd.DataFrame(
            [
                (c, _ts(v))
                for c, v in conn.execute(text("SELECT customer_id, visited_at FROM visits"))
            ],
            columns=["customer_id", "at"],
        )
        orders = pd.DataFrame(
            [
                (c, s, _ts(o), int(t), i)
                for c, s, o, t, i in conn.execute(
                    text("SELECT customer_id, status, ordered_at, total_cents, id FROM orders")
                )
            ],
            columns=["customer_id", "status", "at", "cents", "id"],
        )
    visits = visits[visits["at"] < cutoff]
    orders = orders[(orders["at"] < cutoff) & orders["status"].isin(REVENUE_STATUSES)]
    seg_t, churn_t = SegmentThresholds(), ChurnThresholds()
    out = {}
    by_visit = {c: sorted(g["at"]) for c, g in visits.groupby("customer_id")}
    by_order = {c: g.sort_values(["at", "id"]) for c, g in orders.groupby("customer_id")}
    for cid in set(by_visit) | set(by_order):
        vs = by_visit.get(cid, [])
        os_ = by_order.get(cid, orders.iloc[0:0])
        n, spend = len(vs), int(os_["cents"].sum())
        interval = round((vs[-1] - vs[0]).total_seconds() / 86400 / (n - 1), 6) if n > 1 else None
        segment = segment_of(n, spend, seg_t)
        tag = churn_tag(
            segment, vs[0] if vs else None, vs[-1] if vs else None, interval, today, churn_t
        )

        def month(ts):
            return ts.date().replace(day=1)

        firsts = [month(vs[0])] if vs else []
        if len(os_):
            firsts.append(month(os_["at"].iloc[0]))
        running = os_["cents"].cumsum()
        vip_rows = os_[running >= seg_t.vip_min_spend_cents]
        out[cid] = {
            "visits": n,
            "orders": len(os_),
            "spend_cents": spend,
            "interval": interval,
            "segment": segment,
            "tag": tag,
            "first_month": min(firsts),
            "growing_month": month(vs[seg_t.new_max_visits]) if n > seg_t.new_max_visits else None,
            "loyal_month": month(vs[seg_t.growing_max_visits])
            if n > seg_t.growing_max_visits
            else None,
            "vip_month": month(vip_rows["at"].iloc[0]) if len(vip_rows) else None,
            "visit_days": [v.date() for v in vs],
            "order_rows": [(o.date(), c) for o, c in zip(os_["at"], os_["cents"])],
            "last_order": os_["at"].iloc[-1] if len(os_) else None,
        }
    return out


def month_end_segments(expected: dict, month_end: dt.date) -> dict[int, str]:
    state = {}
    t = SegmentThresholds()
    for cid, e in expected.items():
        visits = sum(1 for d in e["visit_days"] if d <= month_end)
        spend = sum(c for d, c in e["order_rows"] if d <= month_end)
        active = visits or any(d <= month_end for d, _ in e["order_rows"])
        if active:
            state[cid] = segment_of(visits, spend, t)
    return state


def check_against_independent(today: dt.date, start: dt.date) -> None:
    expected = independent(today)
    state = stored_state()
    assert set(state["stats"]) == set(expected)
    for cid, e in expected.items():
        row = state["stats"][cid]
        assert (row[0], row[4], row[5]) == (e["visits"], e["orders"], e["spend_cents"]), cid
        assert row[3] == pytest.approx(e["interval"], abs=2e-6), cid
        assert (row[8], row[14]) == (e["segment"], e["tag"]), cid
        assert (row[9], row[10], row[11], row[12]) == (
            e["first_month"],
            e["growing_month"],
            e["loyal_month"],
            e["vip_month"],
        ), cid
    assert state["tags"] == {(c, e["tag"]) for c, e in expected.items() if e["tag"]}
    answer = served(start, today)
    # segments now and tag counts
    by_segment = Counter(e["segment"] for e in expected.values())
    for row in answer["summary"]:
        assert row["customers"] == by_segment[row["segment"]]
    by_tag = Counter(e["tag"] for e in expected.values() if e["tag"])
    assert {r["tag"]: r["customers"] for r in answer["tags"]} == {
        r["tag"]: by_tag[r["tag"]] for r in answer["tags"]
    }
    assert answer["count"] == len(expected)
    # segment sizes at each month's end, and the movement over the period
    for row in answer["trend"]:
        month = row["month"]
        month_end = min(
            (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1),
            today,
        )
        sizes = Counter(month_end_segments(expected, month_end).values())
        assert row["customers"] == sizes[row["segment"]], (month, row["segment"])
    before = month_end_segments(expected, start.replace(day=1) - dt.timedelta(days=1))
    after = month_end_segments(expected, today)
    moves = Counter((before.get(c, "none"), s) for c, s in after.items())
    for src, row in pd.DataFrame(answer["movement"]).iterrows():
        for dst, n in row.items():
            assert n == moves[(src, dst)], (src, dst)
    # RFM cells by NTILE(5) written out
    buyers = pd.DataFrame(
        [
            {"cid": c, "last": e["last_order"], "n": e["orders"], "spend": e["spend_cents"]}
            for c, e in expected.items()
            if e["orders"] > 0
        ]
    )
    if len(buyers):

        def ntile(order: list[str]) -> pd.Series:
            ranked = buyers.sort_values(order).reset_index(drop=True)
            size, extra = divmod(len(ranked), 5)
            tiles = [b + 1 for b in range(5) for _ in range(size + (1 if b < extra else 0))]
            return pd.Series(tiles, index=ranked["cid"])

        r, f = ntile(["last", "cid"]), ntile(["n", "cid"])
        cells = pd.DataFrame({"r": r, "f": f.reindex(r.index)}).value_counts()
        assert {(x["recency"], x["frequency"]): x["customers"] for x in answer["rfm"]} == {
            k: int(v) for k, v in cells.items()
        }
    # the list's first page by spend
    top = sorted(expected.items(), key=lambda kv: (kv[1]["spend_cents"], kv[0]), reverse=True)
    page = answer["pages"][("spend_cents", True)]
    assert [row["customer_id"] for row in page] == [c for c, _ in top[:1000]]
    assert [row["segment"] for row in page] == [e["segment"] for _, e in top[:1000]]


def stored_months() -> tuple[set, set]:
    engine = db.require_engine()
    with engine.connect() as conn:
        visits = {
            (r.customer_id, _d(r.month), r.visits, _ts(r.first_at), _ts(r.last_at))
            for r in conn.execute(select(CustomerVisitMonth))
        }
        orders = {
            (
                r.customer_id,
                _d(r.month),
                r.orders,
                int(r.spend_cents),
                _ts(r.first_at),
                _ts(r.last_at),
            )
            for r in conn.execute(select(CustomerOrderMonth))
        }
    return visits, orders


def independent_months(today: dt.date) -> tuple[set, set]:
    """Visits and revenue orders per customer and month before the cutoff, in Python."""
    engine = db.require_engine()
    cutoff = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min)
    visits, orders = Counter(), {}
    v_first, v_last = {}, {}
    with engine.connect() as conn:
        for c, at in conn.execute(text("SELECT customer_id, visited_at FROM visits")):
            at = _ts(at)
            if at < cutoff:
                key = (c, at.date().replace(day=1))
                visits[key] += 1
                v_first[key] = min(v_first.get(key, at), at)
                v_last[key] = max(v_last.get(key, at), at)
        rows = conn.execute(text("SELECT customer_id, status, ordered_at, total_cents FROM orders"))
        for c, status, at, cents in rows:
            at = _ts(at)
            if at < cutoff and status in REVENUE_STATUSES:
                key = (c, at.date().replace(day=1))
                n, spend, first, last = orders.get(key, (0, 0, at, at))
                orders[key] = (n + 1, spend + int(cents), min(first, at), max(last, at))
    return (
        {(*k, n, v_first[k], v_last[k]) for k, n in visits.items()},
        {(*k, *v) for k, v in orders.items()},
    )


def incremental_equals_full(today: dt.date, start: dt.date) -> dict:
    engine = db.require_engine()
    inc = recompute(engine, today)
    assert inc["mode"] == "incremental" and not inc["months_rebuilt"]
    assert stored_months() == independent_months(today)  # kept exact by the incremental run
    inc_state, inc_served = stored_state(), served(start, today)
    full = recompute(engine, today, full=True)
    assert full["mode"] == "full" and not full["months_rebuilt"]
    assert stored_state() == inc_state
    assert served(start, today) == inc_served
    check_against_independent(today, start)
    return inc


def _next_order_id(conn) -> int:
    return (conn.execute(text("SELECT MAX(id) FROM orders")).scalar() or 0) + 1


def mutate_and_check(today: dt.date, start: dt.date, customer_ids: list[int]) -> None:
    engine = db.require_engine()
    a, b, c, d = customer_ids[:4]
    platform = 1
    # 1. new orders and visits for existing customers (one of them a VIP-sized order)
    with engine.begin() as conn:
        oid = _next_order_id(conn)
        conn.execute(
            insert(Order),
            [
                {
                    "id": oid,
                    "order_number": f"INC-{oid}",
                    "customer_id": a,
                    "platform_id": platform,
                    "status": "paid",
                    "ordered_at": dt.datetime.combine(today, dt.time(9)),
                    "total_cents": 150_000_000,
                },
                {
                    "id": oid + 1,
                    "order_number": f"INC-{oid + 1}",
                    "customer_id": b,
                    "platform_id": platform,
                    "status": "paid",
                    "ordered_at": dt.datetime.combine(today, dt.time(10)),
                    "total_cents": 1_000,
                },
            ],
        )
        conn.execute(
            insert(Visit),
            [
                {
                    "customer_id": b,
                    "platform_id": platform,
                    "visited_at": dt.datetime.combine(today - dt.timedelta(days=k), dt.time(8)),
                }
                for k in range(12)
            ],
        )
    summary = incremental_equals_full(today, start)
    assert summary["recomputed"] < summary["customers"] or summary["customers"] <= 13
    # 2. an import: a new order (inserted) and an existing order's status changed (updated)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # rows above were inserted with explicit ids
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('orders', 'id'), MAX(id)) FROM orders")
            )
        number, ordered_at = conn.execute(
            select(Order.order_number, Order.ordered_at)
            .where(Order.customer_id == c, Order.status.in_(REVENUE_STATUSES))
            .limit(1)
        ).one()
        sku = conn.execute(text("SELECT MIN(sku) FROM products")).scalar_one()
        code = conn.execute(
            select(SalesPlatform.code).where(SalesPlatform.id == platform)
        ).scalar_one()
        ext = dict(conn.execute(select(Customer.id, Customer.external_id)).all())
        when = dt.datetime.combine(today, dt.time(7))
        rows = [
            ("IMPORTED-1", ext[d], "delivered", when),
            (number, ext[c], "refunded", ordered_at),
        ]
        data = "order_number,customer_external_id,platform_code,status,ordered_at,sku,quantity,"
        data += "unit_price\n" + "".join(
            f"{n},{e},{code},{status},{at.isoformat(sep=' ')},{sku},1,50.00\n"
            for n, e, status, at in rows
        )
        kind = get_kind("orders")
        check = validate(
            conn,
            open_table(data.encode(), "o.csv"),
            kind,
            now=dt.datetime.combine(today, dt.time(23)),
        )
        assert check.ok, check.errors
        written = write(conn, kind, check.stage, check.header)
        assert (written.inserted, written.updated) == (1, 1)
    incremental_equals_full(today, start)
    # 3. an order moved to another customer; then all of one customer's activity deleted
    with engine.begin() as conn:
        moved = conn.execute(
            select(Order.id).where(Order.customer_id == a).order_by(Order.id).limit(1)
        ).scalar_one()
        conn.execute(update(Order).where(Order.id == moved).values(customer_id=d))
    incremental_equals_full(today, start)
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders "
                "WHERE customer_id = :c)"
            ),
            {"c": c},
        )
        conn.execute(delete(Order).where(Order.customer_id == c))
        conn.execute(delete(Visit).where(Visit.customer_id == c))
    incremental_equals_full(today, start)
    with engine.connect() as conn:
        assert (
            conn.execute(select(CustomerStats).where(CustomerStats.customer_id == c)).first()
            is None
        )
        assert conn.execute(select(CustomerTag).where(CustomerTag.customer_id == c)).first() is None
    # 4. days pass with no new activity: tags due by time change, nothing else is recomputed
    for later in (today + dt.timedelta(days=9), today + dt.timedelta(days=31)):
        summary = incremental_equals_full(later, start)
        today = later


def test_hand_made_data_incremental_equals_full_and_independent(backend):
    load(backend)
    engine = db.require_engine()
    full = recompute(engine, TODAY)
    assert full["mode"] == "full" and full["reason"] == "no earlier run"
    check_against_independent(TODAY, dt.date(2024, 4, 1))
    quiet = recompute(engine, TODAY)  # nothing changed: only customers whose tag is due
    assert quiet["mode"] == "incremental" and quiet["recomputed"] == 0
    mutate_and_check(TODAY, dt.date(2024, 4, 1), [7, 9, 5, 13])


def test_activity_months_are_built_when_missing_and_after_a_truncate(backend):
    """A run recorded before the months existed (an upgraded database), and a TRUNCATE of a
    source: the next run rebuilds them from every visit and order; otherwise they are kept."""
    load(backend)
    engine = db.require_engine()
    first = recompute(engine, TODAY)
    assert first["months_rebuilt"] and stored_months() == independent_months(TODAY)
    with engine.begin() as conn:
        conn.execute(update(CustomerRecomputeRun).values(activity_months=None))
        conn.execute(delete(CustomerVisitMonth))  # what an upgraded database starts with
        conn.execute(delete(CustomerOrderMonth))
    upgraded = recompute(engine, TODAY)
    assert upgraded["mode"] == "full" and upgraded["reason"] == "activity months not built yet"
    assert upgraded["months_rebuilt"] and stored_months() == independent_months(TODAY)
    before = stored_state()
    kept = recompute(engine, TODAY, full=True)
    assert not kept["months_rebuilt"] and stored_state() == before
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM order_items"))
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE orders CASCADE"))
        else:  # SQLite has no TRUNCATE: the triggers see every order deleted
            conn.execute(delete(Order))
    emptied = recompute(engine, TODAY)
    assert stored_months() == independent_months(TODAY)
    assert not independent_months(TODAY)[1]
    if engine.dialect.name == "postgresql":
        assert emptied["months_rebuilt"]
        assert emptied["reason"] == "orders or visits were truncated"


def test_demo_data_incremental_equals_full_and_independent(backend):
    from bi_app.db import demo

    migrate(backend)
    db.init(backend)
    engine = db.require_engine()
    demo.load_demo(engine, scale=0.2, seed=7)
    with engine.connect() as conn:
        last = conn.execute(text("SELECT MAX(ordered_at) FROM orders")).scalar()
        ids = (
            conn.execute(
                select(Order.customer_id)
                .where(Order.status.in_(REVENUE_STATUSES))
                .distinct()
                .order_by(Order.customer_id)
                .limit(40)
            )
            .scalars()
            .all()
        )
    today = _d(_ts(last))
    start = (today - dt.timedelta(days=120)).replace(day=1)
    recompute(engine, today, full=True)
    check_against_independent(today, start)
    mutate_and_check(today, start, [ids[0], ids[10], ids[20], ids[30]])
