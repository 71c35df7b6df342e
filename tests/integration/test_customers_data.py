"""Customer analytics on a small hand-made data set, on SQLite and PostgreSQL: stored stats,
segments at their boundaries, tags at their day boundaries (and their history), cohorts, KPIs,
RFM, the list, settings changes, and the Recompute button's role check over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import defaultdict

import flask
import pandas as pd
import pytest
from sqlalchemy import insert, select, text

from bi_app import business_settings
from bi_app.analytics.segmentation import SegmentThresholds, segment_of
from bi_app.config import Settings
from bi_app.customer_tags import recompute
from bi_app.data import cache as data_cache
from bi_app.data import customers as data
from bi_app.data import settings as settings_store
from bi_app.db.analytics_models import CustomerStats, CustomerTagHistory
from bi_app.db.models import (
    AuditLog,
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
from tests.conftest import TEST_SECRET, migrate

TODAY = dt.date(2024, 6, 30)


def ago(days: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=days), dt.time(hour))


def every(step: int, last_ago: int, count: int) -> list[int]:
    return [last_ago + step * i for i in range(count)][::-1]


# customer id -> (name, visit days-ago, [(days-ago, cents, status, platform)], expected segment,
# tag)
CUSTOMERS: dict[int, tuple] = {
    1: (
        "Followup exactly 7",
        [7, 6, 5],
        [(6, 10_000, "paid", 1), (5, 50_000, "cancelled", 1)],
        "new",
        "new_customer_followup",
    ),
    2: ("Only 6 days", [6], [], "new", None),
    3: (
        "At risk at 20",
        [40, 20],
        [(40, 20_000, "delivered", 1), (20, 30_000, "shipped", 1)],
        "new",
        "new_customer_at_risk",
    ),
    4: ("Still fine at 19", [30, 19], [], "new", "new_customer_followup"),
    5: (
        "Reactivate at 30",
        [60, 30],
        [(60, 5_000, "paid", 1), (30, 5_000, "paid", 1)],
        "new",
        "reactivation_needed",
    ),
    6: ("New at 29", [29], [], "new", "new_customer_at_risk"),
    7: (
        "Four visits",
        every(10, 10, 4),
        [(40, 7_000, "paid", 1), (10, 7_000, "paid", 1)],
        "growing",
        None,
    ),
    8: ("Growing late", every(4, 20, 5), [], "growing", "growing_delayed"),
    9: ("Ten, on the edge", every(2, 3, 10), [], "growing", None),
    10: ("Eleven, late", every(2, 4, 11), [], "loyal", "loyal_delayed"),
    11: ("VIP exactly", [16, 15], [(15, 100_000_000, "paid", 2)], "vip", None),
    12: ("Almost VIP", every(1, 1, 12), [(81, 99_999_999, "paid", 1)], "loyal", None),
    13: (
        "Orders only",
        [],
        [(76, 1_000, "paid", 1), (29, 1_000, "paid", 1), (28, 1_000, "paid", 2)],
        "new",
        None,
    ),
}


def load(url: str) -> None:
    migrate(url)
    db.init(url)
    engine = db.require_engine()
    with engine.begin() as conn:
        conn.execute(
            insert(Category),
            [
                {"id": 1, "code": "tools", "name": "Tools"},
                {"id": 2, "code": "toys", "name": "Toys"},
            ],
        )
        conn.execute(
            insert(SalesPlatform),
            [{"id": 1, "code": "web", "name": "Web"}, {"id": 2, "code": "store", "name": "Store"}],
        )
        conn.execute(
            insert(Product),
            [
                {
                    "id": 1,
                    "sku": "T1",
                    "name": "Hammer",
                    "category_id": 1,
                    "unit_price_cents": 1000,
                },
                {"id": 2, "sku": "Y1", "name": "Ball", "category_id": 2, "unit_price_cents": 1000},
            ],
        )
        conn.execute(
            insert(Customer),
            [
                {"id": cid, "external_id": f"C{cid:03d}", "name": spec[0], "created_at": ago(100)}
                for cid, spec in CUSTOMERS.items()
            ],
        )
        visits, orders, items = [], [], []
        for cid, (_, visit_days, order_specs, _, _) in CUSTOMERS.items():
            visits += [
                {"customer_id": cid, "platform_id": 1, "visited_at": ago(d)} for d in visit_days
            ]
            for days, cents, status, platform in order_specs:
                oid = len(orders) + 1
                orders.append(
                    {
                        "id": oid,
                        "order_number": f"O{oid}",
                        "customer_id": cid,
                        "platform_id": platform,
                        "status": status,
                        "ordered_at": ago(days, 11),
                        "total_cents": cents,
                    }
                )
                items.append(
                    {
                        "order_id": oid,
                        "product_id": 2 if cid == 13 else 1,
                        "quantity": 1,
                        "unit_price_cents": cents,
                        "amount_cents": cents,
                    }
                )
        conn.execute(insert(Visit), visits)
        conn.execute(insert(Order), orders)
        conn.execute(insert(OrderItem), items)
    refresh_rollups(engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def loaded(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'c.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    load(url)
    yield url
    db.engine.dispose()


@pytest.fixture
def server(loaded):
    """A bare Flask app with the data cache bound, so cache invalidation is exercised too."""
    app = flask.Flask("test-customers")
    data_cache.init_app(
        app, Settings(env="test", database_url=loaded, secret_key=TEST_SECRET), key_prefix="c:"
    )
    with app.app_context():
        yield app


def revenue_orders(cid: int, until: dt.date = TODAY) -> list[tuple]:
    return [
        o
        for o in CUSTOMERS[cid][2]
        if o[2] in ("paid", "shipped", "delivered") and (TODAY - dt.timedelta(days=o[0])) <= until
    ]


def test_stats_segments_and_tags_match_the_hand_made_expectations(server):
    summary = recompute(db.require_engine(), TODAY)
    assert summary["customers"] == len(CUSTOMERS)
    with db.require_engine().connect() as conn:
        stats = {r.customer_id: r for r in conn.execute(select(CustomerStats))}
    for cid, (_, visit_days, _, _, _) in CUSTOMERS.items():
        row = stats[cid]
        assert row.visits == len(visit_days)
        assert row.spend_cents == sum(o[1] for o in revenue_orders(cid))
        assert row.orders == len(revenue_orders(cid))
        if len(visit_days) > 1:
            expected = (max(visit_days) - min(visit_days)) / (len(visit_days) - 1)
            assert row.avg_interval_days == pytest.approx(expected, abs=1e-6)
        else:
            assert row.avg_interval_days is None

    listing = data.customer_list()["rows"].set_index("customer_id")
    for cid, (_, visits, _, segment, tag) in CUSTOMERS.items():
        spend = sum(o[1] for o in revenue_orders(cid))
        assert segment_of(len(visits), spend, SegmentThresholds()) == segment, cid
        assert listing.loc[cid, "segment"] == segment, cid
        assert listing.loc[cid, "tags"] == (tag or ""), cid

    summary_df = data.segment_summary().set_index("segment")
    for segment in ("new", "growing", "loyal", "vip"):
        members = [cid for cid, spec in CUSTOMERS.items() if spec[3] == segment]
        assert summary_df.loc[segment, "customers"] == len(members)
        assert summary_df.loc[segment, "revenue_cents"] == sum(
            o[1] for c in members for o in revenue_orders(c)
        )
    assert summary_df["customer_share"].sum() == pytest.approx(1.0)

    counts = data.tag_counts().set_index("tag")["customers"]
    for tag in counts.index:
        assert counts[tag] == sum(1 for spec in CUSTOMERS.values() if spec[4] == tag)


def test_tag_history_records_additions_and_removals_across_runs(server):
    engine = db.require_engine()
    recompute(engine, TODAY)
    later = TODAY + dt.timedelta(days=15)  # customer 1: 5 + 15 = 20 days without a visit
    recompute(engine, later)
    listing = data.customer_list()["rows"].set_index("customer_id")
    assert listing.loc[1, "tags"] == "new_customer_at_risk"
    assert listing.loc[1, "tag_since"] == later  # a new tag: since the run that gave it
    with engine.connect() as conn:
        history = [
            (r.tag, r.added_as_of, r.removed_as_of)
            for r in conn.execute(
                select(CustomerTagHistory)
                .where(CustomerTagHistory.customer_id == 1)
                .order_by(CustomerTagHistory.id)
            )
        ]
    assert history == [
        ("new_customer_followup", TODAY, later),
        ("new_customer_at_risk", later, None),
    ]
    recompute(engine, later)  # an unchanged run adds no history
    with engine.connect() as conn:
        assert (
            len(
                conn.execute(
                    select(CustomerTagHistory).where(CustomerTagHistory.customer_id == 1)
                ).all()
            )
            == 2
        )


def _day(days_ago: int) -> dt.date:
    return TODAY - dt.timedelta(days=days_ago)


def test_period_kpis_against_an_independent_count(server):
    june = (dt.date(2024, 6, 1), TODAY)
    for platforms, platform_ids in ((None, {1, 2}), (("web",), {1})):
        visitors = {
            cid for cid, spec in CUSTOMERS.items() for d in spec[1] if june[0] <= _day(d) <= june[1]
        }
        per_buyer: dict[int, int] = defaultdict(int)
        for cid in CUSTOMERS:
            for d, _, _, platform in revenue_orders(cid):
                if june[0] <= _day(d) and platform in platform_ids:
                    per_buyer[cid] += 1
        lifetime = [
            (cid, o[1]) for cid in CUSTOMERS for o in revenue_orders(cid) if o[3] in platform_ids
        ]
        figures = data.period_figures(*june, platforms)
        assert figures == {
            "visitors": len(visitors),
            "buyers": len(per_buyer),
            "repeat_buyers": sum(1 for n in per_buyer.values() if n >= 2),
            "lifetime_revenue_cents": sum(c for _, c in lifetime),
            "lifetime_customers": len({cid for cid, _ in lifetime}),
        }, platforms
    kpis = {k.key: k for k in data.customer_kpis(*june)}
    figures = data.period_figures(*june)
    assert kpis["conversion"].value == pytest.approx(figures["buyers"] / figures["visitors"])
    assert kpis["repeat"].value == pytest.approx(figures["repeat_buyers"] / figures["buyers"])
    assert kpis["clv"].value == pytest.approx(
        figures["lifetime_revenue_cents"] / figures["lifetime_customers"]
    )
    # the category filter: only customer 13 bought toys (two of its orders in June)
    assert data.period_figures(*june, None, ("toys",))["repeat_buyers"] == 1
    assert data.period_figures(*june, None, ("toys",))["buyers"] == 1


def test_cohort_retention_by_hand(server):
    firsts: dict[int, dt.date] = {}
    active: dict[dt.date, set[int]] = defaultdict(set)
    for cid in CUSTOMERS:
        for d, *_ in revenue_orders(cid):
            month = _day(d).replace(day=1)
            firsts[cid] = min(firsts.get(cid, month), month)
            active[month].add(cid)
    table = data.cohort_retention(dt.date(2024, 4, 1), TODAY)
    got = {(r.cohort, r.months_since): (r.customers, r.cohort_size) for r in table.itertuples()}
    expected = {}
    for cohort in sorted(set(firsts.values())):
        members = {c for c, m in firsts.items() if m == cohort}
        for month, who in active.items():
            since = (month.year - cohort.year) * 12 + month.month - cohort.month
            if since >= 0 and members & who:
                expected[(cohort, since)] = (len(members & who), len(members))
    assert got == expected
    # written out: April (customers 12, 13) keeps 1 of 2 in June; May (3, 5, 7) keeps 2 of 3
    assert got[(dt.date(2024, 4, 1), 2)] == (1, 2) and got[(dt.date(2024, 5, 1), 1)] == (2, 3)


def _state_at(month_end: dt.date, t: SegmentThresholds) -> dict[int, str]:
    state = {}
    for cid, spec in CUSTOMERS.items():
        visits = [d for d in spec[1] if _day(d) <= month_end]
        orders = revenue_orders(cid, month_end)
        if visits or orders:
            state[cid] = segment_of(len(visits), sum(o[1] for o in orders), t)
    return state


def test_snapshots_trend_and_movement(server):
    recompute(db.require_engine(), TODAY)
    t = SegmentThresholds()
    trend = data.segment_trend(dt.date(2024, 4, 1), TODAY)
    for month, month_end in (
        (dt.date(2024, 4, 1), dt.date(2024, 4, 30)),
        (dt.date(2024, 5, 1), dt.date(2024, 5, 31)),
        (dt.date(2024, 6, 1), TODAY),
    ):
        expected = pd.Series(list(_state_at(month_end, t).values())).value_counts()
        got = trend[trend["month"] == month].set_index("segment")["customers"]
        for segment in ("new", "growing", "loyal", "vip"):
            assert got[segment] == expected.get(segment, 0), (month, segment)
    before, after = _state_at(dt.date(2024, 5, 31), t), _state_at(TODAY, t)
    matrix = data.segment_movement(dt.date(2024, 6, 1), TODAY)
    expected_moves: dict[tuple[str, str], int] = defaultdict(int)
    for cid, segment in after.items():
        expected_moves[(before.get(cid, "none"), segment)] += 1
    for (src, dst), n in expected_moves.items():
        assert matrix.loc[src, dst] == n
    assert int(matrix.to_numpy().sum()) == len(after)


def test_rfm_scores_match_ntile_by_hand(server):
    recompute(db.require_engine(), TODAY)
    buyers = []
    for cid in CUSTOMERS:
        orders = revenue_orders(cid)
        if orders:
            buyers.append(
                {
                    "cid": cid,
                    "last": min(o[0] for o in orders) * -1,
                    "n": len(orders),
                    "spend": sum(o[1] for o in orders),
                }
            )
    frame = pd.DataFrame(buyers)

    def ntile(order: list[str]) -> pd.Series:
        ranked = frame.sort_values(order).reset_index(drop=True)
        size, extra = divmod(len(ranked), 5)
        buckets = [b + 1 for b in range(5) for _ in range(size + (1 if b < extra else 0))]
        return pd.Series(buckets, index=ranked["cid"])

    r, f = ntile(["last", "cid"]), ntile(["n", "cid"])
    expected = pd.DataFrame({"recency": r, "frequency": f.reindex(r.index)}).value_counts()
    grid = data.rfm_grid().set_index(["recency", "frequency"])["customers"]
    assert dict(grid) == {k: int(v) for k, v in expected.items()}


def test_customer_list_limits_filters_and_search(server):
    recompute(db.require_engine(), TODAY)
    top = data.customer_list(limit=3)
    assert top["total"] == len(CUSTOMERS) and len(top["rows"]) == 3
    assert list(top["rows"]["customer_id"]) == [11, 12, 3]  # by spend
    loyal = data.customer_list(segment="loyal")
    assert sorted(loyal["rows"]["customer_id"]) == [10, 12] and loyal["total"] == 2
    delayed = data.customer_list(tag="loyal_delayed")["rows"]
    assert list(delayed["customer_id"]) == [10]
    assert delayed.iloc[0]["next_visit"] == _day(4) + dt.timedelta(days=2)
    # the combined at-risk view: every customer carrying a tag, each with the day it came
    at_risk = data.customer_list(tag="at-risk")
    tagged = sorted(cid for cid, spec in CUSTOMERS.items() if spec[4])
    assert sorted(at_risk["rows"]["customer_id"]) == tagged and at_risk["total"] == len(tagged)
    assert set(at_risk["rows"]["tag_since"]) == {TODAY}
    assert data.customer_count(tag="at-risk") == len(tagged)  # from the stored counts
    untagged = data.customer_list(tag=None)["rows"].set_index("customer_id")
    assert all(untagged.loc[c, "tag_since"] is None for c in CUSTOMERS if not CUSTOMERS[c][4])
    assert list(data.customer_list(search="VIP ex")["rows"]["customer_id"]) == [11]
    assert data.customer_list(search="100%")["total"] == 0  # LIKE wildcards are literal
    with pytest.raises(ValueError):
        data.customer_list(segment="everyone")


def test_searches_are_not_cached_so_typing_cannot_fill_the_cache(loaded, redis_url, redis_prefix):
    """Each distinct search used to be one more cached list of up to 5,000 rows in Redis."""
    import redis

    from tests.conftest import make_settings

    app = flask.Flask("test-customer-search")
    data_cache.init_app(app, make_settings(loaded, redis_url=redis_url), key_prefix=redis_prefix)
    client = redis.Redis.from_url(redis_url)

    def entries() -> set[bytes]:
        return set(client.scan_iter(f"{redis_prefix}customers:*"))

    with app.app_context():
        recompute(db.require_engine(), TODAY)
        data.customer_list()
        data.customer_list(segment="Loyal")
        cached_lists = entries()
        assert len(cached_lists) == 2  # lists without a search are cached as before
        for text in ("VIP ex", " vip EX ", "Four", "y" * 5000, "nobody", "100%"):
            data.customer_list(search=text)
            data.customer_list(segment="new", search=text)
        assert entries() == cached_lists
        assert list(data.customer_list(search="  vIP eX ")["rows"]["customer_id"]) == [11]
        assert data.customer_list(search="Four" + " " * 200 + "zzz")["total"] == 1  # 100 chars
        assert data.customer_list(search="y" * 5000)["total"] == 0
        assert data.customer_list(segment="Loyal", search="eleven")["total"] == 1
        with pytest.raises(ValueError):
            data.customer_list(segment="everyone", search="x")
        before = data_cache.cache_stats()["namespaces"]["customers"]["hits"]
        data.customer_list(segment="loyal")
        assert data_cache.cache_stats()["namespaces"]["customers"]["hits"] == before + 1


def test_a_settings_change_reclassifies_with_the_next_run_and_is_audited(server):
    """Segments are stored by the job: a threshold change shows once a (full) run applied it."""
    recompute(db.require_engine(), TODAY)
    before = data.segment_summary().set_index("segment")["customers"]  # cached now
    settings_store.save_one("customers.new_max_visits", 4, actor="tests")
    assert data.stats_status()["stale_thresholds"] is True
    assert data.segment_summary().set_index("segment")["customers"].equals(before)
    summary = recompute(db.require_engine(), TODAY)
    assert data.stats_status()["stale_thresholds"] is False
    assert summary["mode"] == "full" and summary["reason"] == "thresholds changed"
    after = data.segment_summary().set_index("segment")["customers"]
    assert (
        after["new"] == before["new"] + 1 and after["growing"] == before["growing"] - 1
    )  # customer 7
    assert data.customer_list(segment="new", search="Four")["total"] == 1
    settings_store.save_one("customers.vip_min_spend_cents", 99_999_999, actor="tests")
    with db.session() as session:
        row = session.scalars(
            select(AuditLog)
            .where(AuditLog.action == "business_setting.set")
            .order_by(AuditLog.id.desc())
        ).first()
    assert row.target == "customers.vip_min_spend_cents" and row.username == "tests"
    assert row.detail == {"old": 100_000_000, "new": 99_999_999}
    recompute(db.require_engine(), TODAY)
    assert (
        data.segment_summary().set_index("segment").loc["vip", "customers"] == 2
    )  # customer 12 too
    assert settings_store.get("customers.vip_min_spend_cents") == 99_999_999


def _recompute_body() -> dict:
    return {
        "output": "..customers-recompute-run-store.data...customers-recompute-interval.disabled..."
        "customers-recompute-alert.children...customers-recompute-alert.color..."
        "customers-recompute-alert.is_open..",
        "outputs": [
            {"id": "customers-recompute-run-store", "property": "data"},
            {"id": "customers-recompute-interval", "property": "disabled"},
            {"id": "customers-recompute-alert", "property": "children"},
            {"id": "customers-recompute-alert", "property": "color"},
            {"id": "customers-recompute-alert", "property": "is_open"},
        ],
        "inputs": [{"id": "customers-recompute-button", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["customers-recompute-button.n_clicks"],
        "state": [],
    }


def _login(client, username: str, password: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/login",
            data={"username": username, "password": password, "next": "/", "csrf_token": token},
        ).status_code
        == 302
    )


def test_recompute_button_is_refused_to_a_viewer_and_audited_for_an_analyst(loaded, app_factory):
    from bi_app import auth
    from bi_app.db.analytics_models import CustomerTag

    app = app_factory(loaded)
    with db.session() as session:
        auth.create_user(session, "viewer1", "viewer-password-1", "viewer", actor="tests")
        auth.create_user(session, "analyst1", "analyst-password-1", "analyst", actor="tests")
        session.commit()
    viewer = app.server.test_client()
    _login(viewer, "viewer1", "viewer-password-1")
    assert viewer.post("/_dash-update-component", json=_recompute_body()).status_code == 403
    with db.session() as session:
        assert session.scalars(select(CustomerTag)).first() is None
    analyst = app.server.test_client()
    _login(analyst, "analyst1", "analyst-password-1")
    began = time.perf_counter()
    answer = analyst.post("/_dash-update-component", json=_recompute_body())
    answered = time.perf_counter() - began
    assert answer.status_code == 200
    body = json.loads(answer.get_data(as_text=True))["response"]
    run_id = body["customers-recompute-run-store"]["data"]
    assert body["customers-recompute-interval"]["disabled"] is False
    assert body["customers-recompute-alert"]["children"] == "Recomputing…"
    # the request only started the job: the recomputation finishes in the background
    from bi_app.customer_tags import recompute_status

    with app.server.app_context():
        for _ in range(300):
            status = recompute_status(run_id)
            if status["state"] != "running":
                break
            time.sleep(0.1)
    assert status["state"] == "succeeded", status
    assert status["summary"]["customers"] == 13
    print(f"request answered in {answered:.3f} s; run took {status['summary']['seconds']} s")
    with db.session() as session:
        assert session.scalars(select(CustomerTag)).first() is not None
        row = session.scalars(
            select(AuditLog).where(AuditLog.action == "customer_tags.recompute")
        ).one()
    assert row.username == "analyst1" and row.user_id is not None


def test_admin_settings_form_marks_refused_fields_and_saves_valid_ones(loaded, app_factory):
    from callbacks.admin_settings import save

    app = app_factory(loaded)
    keys = list(business_settings.SPECS)
    ids = [{"type": "admin-settings-input", "key": k} for k in keys]
    texts = {
        k: business_settings.format_text(k, v) for k, v in business_settings.defaults().items()
    }
    with app.server.test_request_context("/"):
        bad = {**texts, "churn.followup_days": "soon", "customers.vip_min_spend_cents": "-5"}
        message, color, _, invalid, feedback = save(1, [bad[k] for k in keys], ids)
        assert color == "danger" and "Nothing was saved" in message
        assert [k for k, flag in zip(keys, invalid) if flag] == [
            "customers.vip_min_spend_cents",
            "churn.followup_days",
        ]
        assert "not a number" in feedback[keys.index("churn.followup_days")]
        good = {**texts, "customers.vip_min_spend_cents": "999,999.99"}
        message, color, *_ = save(1, [good[k] for k in keys], ids)
        assert color == "success" and "customers.vip_min_spend_cents" in message
        assert settings_store.get("customers.vip_min_spend_cents") == 99_999_999


def test_customer_list_is_one_statement_with_every_tag_and_the_expected_visit(server):
    """Several tags per customer (joined alphabetically), and the next expected visit for
    intervals that round half to even, are worked out in one statement."""
    from sqlalchemy import event, update

    from bi_app.analytics.churn import next_expected_visit
    from bi_app.db.analytics_models import CustomerTag

    engine = db.require_engine()
    recompute(engine, TODAY)
    with engine.begin() as conn:
        conn.execute(
            insert(CustomerTag),
            [
                {
                    "customer_id": 10,
                    "tag": "growing_delayed",
                    "as_of": TODAY,
                },  # sorts before loyal_
                {"customer_id": 2, "tag": "reactivation_needed", "as_of": TODAY},
                {"customer_id": 2, "tag": "new_customer_at_risk", "as_of": TODAY},
            ],
        )
        conn.execute(
            update(CustomerStats)
            .where(CustomerStats.customer_id == 7)
            .values(avg_interval_days=2.5)
        )  # half to even: 2 days
        conn.execute(
            update(CustomerStats)
            .where(CustomerStats.customer_id == 8)
            .values(avg_interval_days=3.5)
        )  # 4 days
        conn.execute(
            update(CustomerStats)
            .where(CustomerStats.customer_id == 9)
            .values(avg_interval_days=0.0)
        )  # no expectation
    data_cache.invalidate(data.NAMESPACE)
    sent: list[str] = []

    def record(conn, cursor, statement, *_):
        if "customer_stats" in statement:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        found = data.customer_list()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(sent) == 1
    listing = found["rows"].set_index("customer_id")
    assert found["total"] == len(CUSTOMERS) == len(listing)
    assert listing.loc[10, "tags"] == "growing_delayed, loyal_delayed"
    assert listing.loc[2, "tags"] == "new_customer_at_risk, reactivation_needed"
    assert listing.loc[11, "tags"] == ""
    with engine.connect() as conn:
        stats = {r.customer_id: r for r in conn.execute(select(CustomerStats))}
    for cid, row in stats.items():
        last = row.last_visit.date() if row.last_visit else None
        assert listing.loc[cid, "last_visit"] == last, cid
        assert listing.loc[cid, "next_visit"] == next_expected_visit(
            row.last_visit, row.avg_interval_days
        ), cid
    assert listing.loc[7, "next_visit"] == _day(10) + dt.timedelta(days=2)
    assert listing.loc[8, "next_visit"] == _day(20) + dt.timedelta(days=4)
    assert (
        listing.loc[9, "next_visit"] is None and listing.loc[13, "next_visit"] is None
    )  # 0; no visits
    assert [str(t) for t in found["rows"].dtypes] == [
        "int64",
        "str",
        "str",
        "str",
        "str",
        "object",  # tag_since: dates or None
        "int64",
        "int64",
        "int64",
        "object",
        "object",
        "float64",  # churn_probability: NaN before the classifier scored the customer
    ]
    empty = data.customer_list(search="nobody by that name")
    assert (
        empty["total"] == 0
        and empty["rows"].empty
        and list(empty["rows"].columns) == data.LIST_COLUMNS
    )


def test_list_pages_by_keyset_equal_pages_by_offset(server):
    """Walking the list block by block from each block's last key (what the grid does as it
    scrolls) gives exactly the rows of one long read, for every sort and direction, with and
    without filters and a search."""
    recompute(db.require_engine(), TODAY)
    for sort in data.SORT_KEYS:
        for descending in (True, False):
            for segment, tag, search in (
                (None, None, None),
                ("new", None, None),
                (None, None, "e"),
            ):
                whole = data.customer_page(
                    0, 100, segment, tag, search, sort=sort, descending=descending
                )
                walked, after = [], None
                for start in range(0, len(whole) + 3, 3):
                    block = data.customer_page(
                        start, start + 3, segment, tag, search, sort, descending, after=after
                    )
                    offset = data.customer_page(
                        start, start + 3, segment, tag, search, sort, descending
                    )
                    assert block.equals(offset), (sort, descending, segment, search, start)
                    walked += list(block["customer_id"])
                    after = data.page_key(block, sort)
                assert walked == list(whole["customer_id"]), (sort, descending, segment, search)
    with pytest.raises(ValueError):
        data.customer_page(3, 6, after=[1, "x"])


def _download_body(app, fmt: str, query: dict, request: dict | None) -> dict:
    """The body the renderer posts when a format of the customer list's menu is clicked."""
    from components.ids import Customers, Grid

    output = next(o for o in app.callback_map if str(Customers.LIST_DOWNLOAD) in o)
    items = [
        {
            "id": Customers.download_item(Customers.GRID_NAME, f),
            "property": "n_clicks",
            "value": 1 if f == fmt else 0,
        }
        for f in ("csv", "xlsx", "json")
    ]
    clicked = json.dumps(
        Customers.download_item(Customers.GRID_NAME, fmt), sort_keys=True, separators=(",", ":")
    )
    return {
        "output": output,
        "outputs": [
            {"id": Customers.LIST_DOWNLOAD, "property": "data"},
            {"id": Customers.LIST_DOWNLOAD_MESSAGE, "property": "children"},
        ],
        "inputs": [items],
        "changedPropIds": [f"{clicked}.n_clicks"],
        "state": [
            {"id": Customers.LIST_QUERY_STORE, "property": "data", "value": query},
            {"id": Grid.grid(Customers.GRID_NAME), "property": "getRowsRequest", "value": request},
        ],
    }


def test_the_customer_list_downloads_every_match_from_the_server_in_the_grid_order(
    loaded, app_factory
):
    """The grid holds only the blocks it showed: the download reads the matches on the server,
    sorted like the grid, for analysts; viewers are refused."""
    import base64
    import csv
    import io

    from bi_app import auth, customer_tags

    app = app_factory(loaded)
    customer_tags.recompute(db.require_engine(), TODAY)
    with db.session() as session:
        auth.create_user(session, "viewer2", "viewer-password-2", "viewer", actor="tests")
        auth.create_user(session, "analyst2", "analyst-password-2", "analyst", actor="tests")
        session.commit()
    request = {"startRow": 0, "endRow": 100, "sortModel": [{"colId": "visits", "sort": "asc"}]}
    body = _download_body(app, "csv", {"segment": None, "tag": None, "search": None}, request)

    viewer = app.server.test_client()
    _login(viewer, "viewer2", "viewer-password-2")
    assert viewer.post("/_dash-update-component", json=body).status_code == 403

    analyst = app.server.test_client()
    _login(analyst, "analyst2", "analyst-password-2")
    answer = analyst.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    download = json.loads(answer.get_data(as_text=True))["response"]["customers-list-download"][
        "data"
    ]
    text_ = base64.b64decode(download["content"]).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text_)))
    with db.require_engine().connect() as conn:
        expected = conn.execute(
            text("SELECT customer_id, visits FROM customer_stats ORDER BY visits, customer_id")
        ).all()
    assert len(rows) == len(expected) == 13
    visits_header = next(h for h in rows[0] if h.lower().startswith("visits"))
    assert [int(r[visits_header]) for r in rows] == [v for _c, v in expected]
    assert download["filename"].endswith(".csv")
