"""The transaction detector on SQLite and PostgreSQL: features of a hand-made account history,
training and incremental scoring jobs, large transactions, the alert metric, and
``bi-app evaluate`` on the demo data."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, delete, func, insert, select

from bi_app.db.engine import make_engine
from bi_app.db.model_models import ModelVersion, TransactionFinding
from bi_app.db.models import Account, AppState, Counterparty, DemoAnomaly, Transaction
from bi_app.db.periods import use_timezone
from bi_app.models import registry
from bi_app.models import transactions as tx
from tests.conftest import make_settings, migrate

pytestmark = pytest.mark.integration
T = dt.datetime
LARGE = 10_000 * 100  # BI_LARGE_TRANSACTION's default in EUR cents


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> Iterator[Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    migrate(url)
    eng = make_engine(url)
    registry.clear_cache()
    try:
        with use_timezone("UTC"):
            yield eng
    finally:
        registry.clear_cache()
        eng.dispose()


def _setup(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Account),
            [
                {"id": 1, "code": "HOT", "name": "Hot", "tier": "hot", "currency": "EUR"},
                {"id": 2, "code": "WARM", "name": "Warm", "tier": "warm", "currency": "EUR"},
            ],
        )
        conn.execute(
            insert(Counterparty),
            [
                {"id": i, "code": f"CP{i}", "name": f"Counterparty {i}", "kind": "supplier"}
                for i in range(1, 6)
            ],
        )


def _add(engine: Engine, rows: list[tuple]) -> None:
    """rows: (id, account, counterparty, kind, amount_cents, occurred_at)."""
    with engine.begin() as conn:
        conn.execute(
            insert(Transaction),
            [
                {
                    "id": i,
                    "reference": f"TX-{i}",
                    "account_id": a,
                    "counterparty_id": c,
                    "kind": k,
                    "amount_cents": amount,
                    "occurred_at": at,
                    "note": None,
                }
                for i, a, c, k, amount, at in rows
            ],
        )


def test_features_of_a_hand_made_history_equal_the_values_computed_by_hand(engine):
    _setup(engine)
    _add(
        engine,
        [
            (1, 1, 1, "deposit", 20_000, T(2025, 6, 1, 0, 0)),  # older than the lookback
            (2, 1, 1, "deposit", 100_000, T(2026, 1, 1, 9, 0)),
            (3, 1, 2, "withdrawal", -10_000, T(2026, 1, 2, 10, 0)),
            (4, 2, 2, "deposit", 7, T(2026, 1, 2, 10, 15)),  # another account: not counted
            (5, 1, 2, "withdrawal", -10_000, T(2026, 1, 2, 10, 30)),
            (6, 1, None, "withdrawal", -50_000, T(2026, 1, 3, 3, 0)),  # a Saturday, 03:00
        ],
    )
    with engine.connect() as conn:
        targets = tx._frame(
            conn.execute(select(*tx._COLUMNS).where(Transaction.id.in_([2, 5, 6]))).all()
        )
    features = tx.features_for(engine, targets, tz="UTC")
    assert list(features.index) == [2, 5, 6]

    unknown = features.loc[6]
    assert unknown["amount"] == 50_000
    assert (unknown["hour"], unknown["dow"], unknown["direction"]) == (3, 5, 1)
    assert unknown["days_since_prev"] == pytest.approx(16.5 / 24)  # since 10:30 the day before
    assert unknown["counterparty_count"] == 0
    assert unknown["balance_before"] == 20_000 + 100_000 - 10_000 - 10_000
    assert unknown["balance_share"] == pytest.approx(0.5)
    assert (unknown["velocity_1h"], unknown["velocity_24h"]) == (0, 2)
    assert unknown["daily_rate"] == pytest.approx(3 / tx.LOOKBACK_DAYS)  # #1 is out of reach
    assert unknown["hour_share"] == 0  # 09:00, 10:00, 10:30 are far from 03:00
    assert unknown["account_age_days"] == pytest.approx(216 + 3 / 24)
    # no history with an unknown counterparty: against the account's withdrawals (both 100.00,
    # no spread: the floor of 0.25 in log10 applies)
    expected_z = (math.log10(50_001) - math.log10(10_001)) / tx.Z_STD_FLOOR
    assert unknown["amount_z"] == pytest.approx(expected_z)

    second = features.loc[5]
    assert second["counterparty_count"] == 1  # #3, same counterparty
    assert (second["velocity_1h"], second["velocity_24h"]) == (1, 1)  # #2 is 25.5 h before
    assert second["days_since_prev"] == pytest.approx(0.5 / 24)
    assert second["balance_share"] == pytest.approx(10_000 / 110_000)
    assert second["hour_share"] == pytest.approx(2 / 2)  # 09:00 and 10:00 are within +-1 h

    first = features.loc[2]
    assert first["counterparty_count"] == 1  # #1, counted by the SQL aggregate
    assert first["balance_share"] == pytest.approx(5.0)  # 1,000.00 in on 200.00
    assert first["days_since_prev"] == tx.LOOKBACK_DAYS  # capped


def _history(days: int = 160, seed: int = 3) -> list[tuple]:
    """A hot account paying suppliers in office hours, a weekly sweep, one odd payment."""
    rng = np.random.default_rng(seed)
    rows, next_id = [], 1
    start = T(2026, 1, 1)
    for day in range(days):
        date = start + dt.timedelta(days=day)
        rows.append((next_id, 1, 1, "deposit", 400_000, date + dt.timedelta(hours=7)))
        next_id += 1
        for _ in range(3):
            at = date + dt.timedelta(hours=float(rng.uniform(8, 17)))
            amount = int(rng.lognormal(np.log(100_000), 0.3))
            payee = int(rng.choice([2, 3, 4]))
            rows.append((next_id, 1, payee, "withdrawal", -amount, at))
            next_id += 1
        if day % 7 == 4:
            rows.append((next_id, 1, 5, "sweep", -2_000_000, date + dt.timedelta(hours=21)))
            rows.append((next_id + 1, 2, 5, "sweep", 2_000_000, date + dt.timedelta(hours=21)))
            next_id += 2
    rows.sort(key=lambda r: (r[5], r[0]))
    return [(i + 1, *r[1:]) for i, r in enumerate(rows)]


ODD = (1, None, "withdrawal", -6_000_000)  # at 03:00: unknown beneficiary, 60x the usual


def test_training_and_incremental_scoring(engine):
    _setup(engine)
    history = _history()
    _add(engine, history)
    with engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(Transaction))

    assert tx.score_new(engine, LARGE)["reason"] == "no trained model"
    info = tx.train(engine, days=None)
    assert (info.status, info.active, info.version) == ("good", True, 1)
    assert info.features == list(tx.MODEL_FEATURES)
    assert info.metrics["rows"] == total
    assert set(info.params["thresholds"]) == {"low", "medium", "high", "critical"}

    first = tx.score_new(engine, LARGE, batch_size=200)
    assert first["scored"] == total and first["batches"] == math.ceil(total / 200)
    with engine.connect() as conn:
        assert conn.scalar(select(AppState.value).where(AppState.key == tx.WATERMARK_KEY)) == str(
            total
        )
        large = {
            r.transaction_id
            for r in conn.execute(select(TransactionFinding).where(TransactionFinding.large))
        }
        flagged_before = conn.scalar(
            select(func.count())
            .select_from(TransactionFinding)
            .where(TransactionFinding.level.is_not(None))
        )
    # every sweep (20,000.00) is large; nothing else is
    assert large == {r[0] for r in history if abs(r[4]) >= LARGE}
    assert flagged_before >= 1

    # new transactions arrive: the next run scores only them
    last_day = max(r[5] for r in history).replace(hour=0, minute=0)
    new = [
        (total + 1, 1, 2, "withdrawal", -95_000, last_day + dt.timedelta(days=1, hours=11)),
        (total + 2, *ODD, last_day + dt.timedelta(days=1, hours=3)),
    ]
    _add(engine, new)
    second = tx.score_new(engine, LARGE, batch_size=200)
    assert (second["scored"], second["batches"]) == (2, 1)
    assert tx.score_new(engine, LARGE)["scored"] == 0
    with engine.connect() as conn:
        findings_before = conn.execute(
            select(TransactionFinding.transaction_id, TransactionFinding.level).order_by(
                TransactionFinding.transaction_id
            )
        ).all()
    # a lost watermark scores everything again: the findings are replaced, not duplicated
    with engine.begin() as conn:
        conn.execute(delete(AppState).where(AppState.key == tx.WATERMARK_KEY))
    assert tx.score_new(engine, LARGE)["scored"] == total + 2
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(TransactionFinding.transaction_id, TransactionFinding.level).order_by(
                    TransactionFinding.transaction_id
                )
            ).all()
            == findings_before
        )
    with engine.connect() as conn:
        odd = conn.execute(
            select(TransactionFinding).where(TransactionFinding.transaction_id == total + 2)
        ).one()
        usual = conn.execute(
            select(TransactionFinding).where(TransactionFinding.transaction_id == total + 1)
        ).one_or_none()
    assert odd.level in ("critical", "high")
    assert odd.large is True
    assert {"unusual_hour", "new_counterparty", "abnormal_amount"} <= set(odd.factors)
    assert odd.action in ("block_and_review", "manual_approval")
    assert odd.model_version_id == info.id
    assert usual is None
    since = T(2000, 1, 1)
    with engine.connect() as conn:
        high = conn.scalar(
            select(func.count())
            .select_from(TransactionFinding)
            .where(TransactionFinding.level.in_(("high", "critical")))
        )
    assert tx.count_findings(engine, since, ["high", "critical"]) == high >= 1
    assert (
        tx.count_findings(
            engine,
            dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1),
            ["high", "critical"],
        )
        == 0
    )


def test_features_do_not_depend_on_the_batch_size(engine):
    _setup(engine)
    _add(engine, _history(days=60))
    whole = pd.concat([tx.features_for(engine, b) for b in tx._batches(engine, batch_size=10_000)])
    small = pd.concat([tx.features_for(engine, b) for b in tx._batches(engine, batch_size=37)])
    columns = ["balance_share", "counterparty_count", "amount_z", "hour_share", "velocity_24h"]
    pd.testing.assert_frame_equal(whole[columns], small[columns])
    assert np.allclose(tx.model_matrix(whole), tx.model_matrix(small))


def test_the_scoring_job_trains_when_no_model_exists_and_uses_the_large_setting(engine):
    _setup(engine)
    _add(engine, _history(days=40))
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    settings = type(settings)(**{**settings.__dict__, "large_transaction": 5_000})
    result = tx.scoring_job(engine, settings)
    assert result["scored"] > 0 and result["model_version"] == 1
    with engine.connect() as conn:
        large = conn.scalar(
            select(func.count()).select_from(TransactionFinding).where(TransactionFinding.large)
        )
        expected = conn.scalar(
            select(func.count())
            .select_from(Transaction)
            .where(func.abs(Transaction.amount_cents) >= 500_000)
        )
    assert large == expected > 0


def test_a_training_without_data_is_stored_as_failed_and_keeps_the_model(engine):
    _setup(engine)
    info = tx.train(engine)
    assert (info.status, info.active) == ("failed", False)
    assert "too few transactions" in info.error
    assert tx.training_job(engine) == {"version": 2, "status": "failed", "active": False}
    assert registry.active_version_id(engine, tx.MODEL_NAME) is None
    # the scoring job does not retry a failed training every five minutes
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    assert tx.scoring_job(engine, settings)["reason"] == "no trained model"
    assert len(registry.list_versions(engine, tx.MODEL_NAME)) == 2


def test_evaluate_prints_and_stores_precision_recall_f1(demo_sqlite_url, monkeypatch, capsys):
    from bi_app.cli import main

    monkeypatch.setenv("BI_DATABASE_URL", demo_sqlite_url)
    monkeypatch.setenv("BI_SCHEDULER", "off")
    assert main(["evaluate", "--model", "transactions", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    engine = make_engine(demo_sqlite_url)
    try:
        with engine.connect() as conn:
            anomalies = conn.scalar(
                select(func.count())
                .select_from(DemoAnomaly)
                .where(DemoAnomaly.kind == "unusual_transaction")
            )
            transactions = conn.scalar(select(func.count()).select_from(Transaction))
            large = conn.scalar(
                select(func.count())
                .select_from(Transaction)
                .where(func.abs(Transaction.amount_cents) >= LARGE)
            )
            stored = conn.scalar(select(ModelVersion.metrics).where(ModelVersion.version == 1))
    finally:
        engine.dispose()
    assert (figures["anomalies"], figures["transactions"]) == (anomalies, transactions)
    assert anomalies > 0
    for name in ("iforest", "large_transaction"):
        d = figures["detectors"][name]
        assert d["precision"] == pytest.approx(d["true_positives"] / d["flagged"], abs=1e-4)
        assert d["recall"] == pytest.approx(d["true_positives"] / anomalies, abs=1e-4)
    assert figures["detectors"]["large_transaction"]["flagged"] == large
    assert stored["evaluation"]["detectors"] == figures["detectors"]

    assert main(["evaluate", "--model", "transactions"]) == 0
    table = capsys.readouterr().out
    assert "model transactions_iforest v2" in table
    assert "iforest" in table and "precision" in table and "large_transaction" in table


def test_evaluate_measures_every_model_by_default(demo_sqlite_url, monkeypatch, capsys):
    """The detector, the forecasts' targets, the churn and the attendance hold-outs, each
    printed; their trainings stored as versions of their own. The test demo has too few
    completed events for the attendance forecast: that one says so, the others still run, and
    the exit status is 2."""
    from bi_app.cli import main

    monkeypatch.setenv("BI_DATABASE_URL", demo_sqlite_url)
    monkeypatch.setenv("BI_SCHEDULER", "off")
    assert main(["evaluate", "--json"]) == 2
    out = capsys.readouterr()
    figures = json.loads(out.out)
    assert set(figures) == {"transactions", "forecasts", "churn", "attendance"}
    assert "Too few completed events" in figures["attendance"]["error"]
    assert "bi-app: attendance: Too few completed events" in out.err
    assert figures["transactions"]["detectors"]["iforest"]["recall"] > 0
    assert set(figures["forecasts"]["series"]) == {"revenue", "orders"}
    for series in figures["forecasts"]["series"].values():
        assert 0 < series["mape"] < 1 and 0 < series["coverage"] <= 1
        assert series["ratio"] == pytest.approx(series["mape"] / series["baseline_mape"])
    assert 0.5 < figures["churn"]["auc"] <= 1
    engine = make_engine(demo_sqlite_url)
    try:
        with engine.connect() as conn:
            names = set(conn.scalars(select(ModelVersion.name)))
    finally:
        engine.dispose()
    assert {"transactions_iforest", "customer_churn", "event_attendance"} <= names
    assert main(["evaluate"]) == 2
    text = capsys.readouterr().out
    for words in ("precision", "seasonal-naive", "ROC AUC"):
        assert words in text
