"""The churn classifier on SQLite and PostgreSQL: features of a hand-made history, training on the
time-based hold-out, scoring and its stored rows (replaced on each run), the alert metric, a
worse or failed training keeping the active version, and the customer list sorted by the stored
probability."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import flask
import numpy as np
import pytest
from sqlalchemy import Engine, func, insert, select

from bi_app.config import Settings
from bi_app.data import cache as data_cache
from bi_app.db.analytics_models import CustomerStats
from bi_app.db.churn_models import ChurnScore
from bi_app.db.engine import make_engine
from bi_app.db.model_models import ModelVersion
from bi_app.db.models import Customer, Order, SalesPlatform, Visit
from bi_app.db.periods import use_timezone
from bi_app.extensions import db
from bi_app.models import churn, registry
from tests.conftest import TEST_SECRET, migrate

pytestmark = pytest.mark.integration
# the history ends an hour ago: scores are as of now
END = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(hours=1)
START = END - dt.timedelta(days=500)
CUSTOMERS = 240


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> Iterator[str]:
    found = (
        f"sqlite:///{tmp_path / 'churn.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(found)
    registry.clear_cache()
    yield found
    registry.clear_cache()


@pytest.fixture
def engine(url) -> Iterator[Engine]:
    eng = make_engine(url)
    try:
        with use_timezone("UTC"):
            yield eng
    finally:
        eng.dispose()


def _history(engine: Engine, seed: int = 7) -> dict[int, list[dt.datetime]]:
    """Customers who visit every ``gap`` days from sign-up until they stop (some never do), an
    order with every third visit; customer CUSTOMERS + 1 never visits. Returns their visits."""
    rng = np.random.default_rng(seed)
    visits: dict[int, list[dt.datetime]] = {}
    customers, orders, rows = [], [], []
    for cid in range(1, CUSTOMERS + 2):
        created = START + dt.timedelta(days=int(rng.integers(0, 200)))
        customers.append(
            {
                "id": cid,
                "external_id": f"C{cid:04d}",
                "name": f"Customer {cid}",
                "created_at": created,
            }
        )
        if cid > CUSTOMERS:
            continue
        gap = float(rng.choice([4, 7, 12, 20]))
        stop = created + dt.timedelta(days=float(rng.uniform(30, 700)))
        at, mine = created, []
        while at < min(stop, END):
            mine.append(at)
            at += dt.timedelta(days=gap * float(rng.uniform(0.7, 1.3)))
        visits[cid] = mine
        for i, when in enumerate(mine):
            rows.append({"customer_id": cid, "platform_id": 1, "visited_at": when})
            if i % 3 == 0:
                orders.append(
                    {
                        "order_number": f"O{cid}-{i}",
                        "customer_id": cid,
                        "platform_id": 1,
                        "status": "paid",
                        "ordered_at": when,
                        "total_cents": 1_000 * (1 + i % 5),
                    }
                )
    with engine.begin() as conn:
        conn.execute(insert(SalesPlatform), [{"id": 1, "code": "web", "name": "Web"}])
        conn.execute(insert(Customer), customers)
        conn.execute(insert(Visit), rows)
        conn.execute(insert(Order), orders)
    return visits


def test_features_of_a_hand_made_history(engine):
    with engine.begin() as conn:
        conn.execute(insert(SalesPlatform), [{"id": 1, "code": "web", "name": "Web"}])
        conn.execute(
            insert(Customer),
            [
                {"id": 1, "external_id": "A", "name": "A", "created_at": dt.datetime(2026, 1, 1)},
                {"id": 2, "external_id": "B", "name": "B", "created_at": dt.datetime(2026, 1, 1)},
            ],
        )
        conn.execute(
            insert(Visit),
            [
                {"customer_id": 1, "platform_id": 1, "visited_at": dt.datetime(2026, 3, 1)},
                {"customer_id": 1, "platform_id": 1, "visited_at": dt.datetime(2026, 3, 11)},
                {"customer_id": 1, "platform_id": 1, "visited_at": dt.datetime(2026, 3, 31)},
                # on the cutoff itself: after it, so neither a feature nor counted
                {"customer_id": 1, "platform_id": 1, "visited_at": dt.datetime(2026, 4, 10)},
                {"customer_id": 2, "platform_id": 1, "visited_at": dt.datetime(2026, 4, 20)},
            ],
        )
        conn.execute(
            insert(Order),
            [
                {
                    "order_number": n,
                    "customer_id": 1,
                    "platform_id": 1,
                    "status": status,
                    "ordered_at": at,
                    "total_cents": cents,
                }
                for n, status, at, cents in [
                    ("O1", "paid", dt.datetime(2026, 3, 1), 5_000),
                    ("O2", "cancelled", dt.datetime(2026, 3, 11), 9_000),  # not revenue
                    ("O3", "delivered", dt.datetime(2026, 3, 31), 2_000),
                ]
            ],
        )
    cutoff = dt.datetime(2026, 4, 10)
    features = churn.features_as_of(engine, cutoff)
    assert features.index.tolist() == [1]  # customer 2 visits only after the cutoff
    row = features.loc[1]
    assert row["visits"] == 3
    assert row["recency_days"] == pytest.approx(10.0)
    assert row["avg_interval_days"] == pytest.approx(15.0)  # 30 days over 2 intervals
    assert row["recency_ratio"] == pytest.approx(10 / 15)
    assert row["visits_30"] == 2 and row["visits_90"] == 3
    assert row["tenure_days"] == pytest.approx(99.0)
    assert row["orders"] == 2 and row["log_spend"] == pytest.approx(np.log1p(7_000))
    assert row["order_recency_days"] == pytest.approx(10.0)
    assert row["segment"] == churn.SEGMENT_CODES["new"]
    assert churn.returned(engine, cutoff, days=10) == {1}  # [Apr 10, Apr 20): 2 is one too late
    assert churn.returned(engine, cutoff, days=11) == {1, 2}


def test_training_scoring_and_the_stored_scores(engine):
    visits = _history(engine)
    info = churn.train(engine, trained_by="test")
    assert info.status == "good" and info.active
    m = info.metrics
    assert 0.8 <= m["auc"] <= 1.0
    assert 0.0 <= m["top_decile_precision"] <= 1.0 and 0.0 < m["base_rate"] < 1.0
    last_visit = max(max(v) for v in visits.values())
    assert m["holdout_to"] == last_visit.isoformat(timespec="seconds")
    assert m["holdout_from"] == (last_visit - dt.timedelta(days=60)).isoformat(timespec="seconds")
    assert info.features == list(churn.MODEL_FEATURES)
    assert info.params["churn_days"] == churn.CHURN_DAYS

    summary = churn.score_all(engine)
    assert summary["scored"] == CUSTOMERS  # everyone with a visit; not the one without
    with engine.connect() as conn:
        rows = {r.customer_id: r for r in conn.execute(select(ChurnScore))}
    assert set(rows) == set(visits)
    assert all(0.0 <= r.probability <= 1.0 for r in rows.values())
    assert all(r.probability_ppm == round(r.probability * 1_000_000) for r in rows.values())
    assert {r.model_version_id for r in rows.values()} == {info.id}
    # next expected visit: the last visit's day plus the average interval, rounded
    cid = next(c for c, v in visits.items() if len(v) >= 3)
    mine = visits[cid]
    interval = (mine[-1] - mine[0]) / dt.timedelta(days=1) / (len(mine) - 1)
    assert rows[cid].next_expected_visit == mine[-1].date() + dt.timedelta(days=round(interval))
    # the lapsed score higher than the regulars who still come
    lapsed = [rows[c].probability for c, v in visits.items() if v[-1] < END - dt.timedelta(200)]
    regular = [rows[c].probability for c, v in visits.items() if v[-1] > END - dt.timedelta(5)]
    assert lapsed and regular and np.mean(lapsed) > np.mean(regular) + 0.3

    high = sum(r.probability >= 0.5 for r in rows.values())
    assert churn.count_at_risk(engine, 0.5) == high
    assert churn.count_at_risk(engine, 1.01) == 0
    with engine.connect() as conn:  # the alert sources hold a connection
        assert churn.count_at_risk(conn, 0.5) == high

    # a new run replaces the rows (no duplicates, nothing left of the old run)
    with engine.begin() as conn:
        conn.execute(
            insert(ChurnScore),
            [
                {
                    "customer_id": CUSTOMERS + 1,
                    "probability": 0.9,
                    "probability_ppm": 900_000,
                    "scored_at": END,
                }
            ],
        )
    again = churn.training_job(engine)
    assert again["scored"] == CUSTOMERS and again["version"] == 2
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ChurnScore)) == CUSTOMERS
        assert (
            conn.scalar(select(ChurnScore.customer_id).where(ChurnScore.customer_id > CUSTOMERS))
            is None
        )


def test_a_worse_or_failed_training_keeps_the_active_version(engine, monkeypatch):
    _history(engine)
    first = churn.train(engine)
    assert first.active
    real = churn.quality

    def worse(y, p):
        return {**real(y, p), "auc": 0.5}

    monkeypatch.setattr(churn, "quality", worse)
    second = churn.train(engine)
    assert second.status == "rejected" and not second.active
    monkeypatch.setattr(churn, "fit", lambda x, y: 1 / 0)
    third = churn.train(engine)
    assert third.status == "failed" and "division by zero" in third.error
    with engine.connect() as conn:
        active = conn.scalar(
            select(ModelVersion.version).where(
                ModelVersion.name == churn.MODEL_NAME, ModelVersion.active.is_(True)
            )
        )
    assert active == first.version
    assert churn.score_all(engine)["model_version"] == first.version


def test_no_visits_is_a_failed_training_and_no_scores(engine):
    info = churn.train(engine)
    assert info.status == "failed" and "no visits" in info.error
    assert churn.score_all(engine) == {"scored": 0, "reason": "no trained model"}


def test_the_list_sorts_on_the_stored_probability_and_the_card_reads_the_metrics(url, engine):
    from bi_app.customer_tags import recompute
    from bi_app.data import customers as data

    _history(engine)
    info = churn.train(engine)
    churn.score_all(engine)
    recompute(engine, END.date())
    db.init(url)
    app = flask.Flask("test-churn")
    data_cache.init_app(
        app, Settings(env="test", database_url=url, secret_key=TEST_SECRET), key_prefix="ch:"
    )
    try:
        with app.app_context():
            card = data.churn_model_summary()
            assert card["trained"] and card["version"] == info.version
            assert card["auc"] == info.metrics["auc"]
            assert card["scored"] == CUSTOMERS and card["latest_problem"] is None
            with engine.connect() as conn:
                expected = conn.execute(
                    select(CustomerStats.customer_id, func.coalesce(ChurnScore.probability_ppm, -1))
                    .outerjoin(ChurnScore, ChurnScore.customer_id == CustomerStats.customer_id)
                    .order_by(
                        func.coalesce(ChurnScore.probability_ppm, -1).desc(),
                        CustomerStats.customer_id.desc(),
                    )
                ).all()
            first = data.customer_page(0, 50, sort="churn_probability", descending=True)
            assert first["customer_id"].tolist() == [r[0] for r in expected[:50]]
            assert first["churn_probability"].iloc[0] == pytest.approx(expected[0][1] / 1e6)
            # the keyset read of the next block continues exactly where the first ended
            after = data.page_key(first, "churn_probability")
            second = data.customer_page(50, 100, sort="churn_probability", after=after)
            assert second["customer_id"].tolist() == [r[0] for r in expected[50:100]]
            ascending = data.customer_page(0, 3, sort="churn_probability", descending=False)
            assert ascending["customer_id"].tolist() == [r[0] for r in expected[::-1][:3]]
    finally:
        db.engine.dispose()
