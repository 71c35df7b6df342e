"""The model registry's figures alert rules can read: failed or rejected trainings per model,
now and as a series for the backtest, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from bi_app.alerts import rule_admin, sources
from bi_app.db.engine import make_engine
from bi_app.db.model_models import ModelVersion
from tests.conftest import migrate

NOW = dt.datetime(2026, 12, 5, 12, 0)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'models.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def trainings(engine, rows) -> None:
    """``rows``: (name, status, trained_at), versions numbered per name in order."""
    versions: dict[str, int] = {}
    with Session(engine) as session:
        for name, status, at in rows:
            versions[name] = versions.get(name, 0) + 1
            session.add(
                ModelVersion(
                    name=name,
                    version=versions[name],
                    status=status,
                    active=False,
                    trained_at=at,
                    format="skops",
                    artifact=None if status == "failed" else b"x",
                )
            )
        session.commit()


def test_each_model_counts_its_failed_and_rejected_trainings_of_the_window(engine):
    trainings(
        engine,
        [
            ("detector", "good", NOW - 30 * HOUR),
            ("detector", "failed", NOW - 26 * HOUR),  # before the day's window
            ("detector", "rejected", NOW - 3 * HOUR),
            ("detector", "failed", NOW - 1 * HOUR),
            ("churn", "good", NOW - 2 * HOUR),
        ],
    )
    samples = sources.read_current("threshold", "model_training_problems", {}, engine, NOW)
    assert {s.labels["model"]: s.value for s in samples} == {"churn": 0.0, "detector": 2.0}
    narrow = sources.read_current(
        "threshold", "model_training_problems", {"window_minutes": 120}, engine, NOW
    )
    assert {s.labels["model"]: s.value for s in narrow} == {"churn": 0.0, "detector": 1.0}


def test_an_empty_registry_gives_no_sample(engine):
    assert sources.read_current("threshold", "model_training_problems", {}, engine, NOW) == []


def test_the_backtest_fires_once_per_failure_episode(engine):
    trainings(
        engine,
        [
            ("detector", "good", NOW - 6 * 24 * HOUR),
            ("detector", "failed", NOW - 5 * 24 * HOUR + HOUR),
            ("detector", "good", NOW - 4 * 24 * HOUR),
            ("detector", "failed", NOW - 2 * 24 * HOUR + HOUR),
        ],
    )
    series = sources.read_series(
        "threshold",
        "model_training_problems",
        {},
        engine,
        NOW - 7 * 24 * HOUR,
        NOW,
    )
    values = [s.value for s in series]
    assert set(values) == {0.0, 1.0}
    assert all(s.labels == {"model": "detector"} for s in series)
    result = rule_admin.backtest_rule(
        {
            "name": "Model training failed",
            "kind": "threshold",
            "metric": "model_training_problems",
            "params": {"operator": ">", "threshold": "0"},
            "severity": "warning",
            "for_seconds": "0",
            "cooldown_seconds": "0",
        },
        now=NOW,
        engine=engine,
    )
    assert result["error"] is None
    assert len(result["fired_7d"]) == 2


def capacity_samples(engine, levels) -> None:
    """A resource of 1,000 units sampled every 5 minutes up to NOW at ``levels``."""
    from bi_app import capacity
    from bi_app.db.capacity_models import CapacitySample

    resource_id = capacity.ensure_resource(
        engine,
        "energy",
        label="Energy",
        unit="energy",
        capacity=1_000.0,
        refill_per_hour=0.0,
        cost_per_transaction=1.0,
    )
    step = dt.timedelta(minutes=5)
    with Session(engine) as session:
        for n, level in enumerate(levels):
            at = NOW - (len(levels) - 1 - n) * step
            session.add(CapacitySample(resource_id=resource_id, sampled_at=at, level=level))
        session.commit()


def test_the_capacity_level_is_the_latest_sample_in_percent(engine):
    capacity_samples(engine, [500.0, 300.0, 150.0])
    (sample,) = sources.read_current("business", "capacity_level_pct", {}, engine, NOW)
    assert sample.labels == {"resource": "energy"}
    assert sample.value == pytest.approx(15.0)
    series = sources.read_series(
        "business", "capacity_level_pct", {}, engine, NOW - dt.timedelta(hours=1), NOW
    )
    assert [s.value for s in series] == pytest.approx([50.0, 30.0])  # [start, end): not NOW


@pytest.mark.parametrize(
    ("level", "severities"),
    [(250.0, set()), (200.0, {"warning"}), (100.0, {"warning", "emergency"})],
)
def test_the_default_capacity_rules_fire_at_20_and_10_percent(engine, level, severities):
    from sqlalchemy import select

    from bi_app.alerts.evaluate import evaluate_rules
    from bi_app.db.alert_models import Alert, AlertRule

    capacity_samples(engine, [900.0, level])
    with Session(engine) as session:
        wanted = {"Capacity below 20 %", "Capacity below 10 %"}
        ids = [r.id for r in session.scalars(select(AlertRule).where(AlertRule.name.in_(wanted)))]
    assert len(ids) == 2  # installed by migration 0029
    evaluate_rules(engine, now=NOW, rule_ids=ids, dispatch=False)
    with Session(engine) as session:
        alerts = session.scalars(select(Alert)).all()
        assert {a.severity for a in alerts} == severities
        assert all(a.labels.get("resource") == "energy" for a in alerts)


def test_a_failed_training_raises_the_default_alert(engine):
    from sqlalchemy import select

    from bi_app.alerts.evaluate import evaluate_rules
    from bi_app.db.alert_models import Alert, AlertRule

    trainings(engine, [("detector", "good", NOW - 30 * HOUR), ("detector", "failed", NOW - HOUR)])
    with Session(engine) as session:
        rule = session.scalar(select(AlertRule).where(AlertRule.name == "Model training failed"))
    evaluate_rules(engine, now=NOW, rule_ids=[rule.id], dispatch=False)
    with Session(engine) as session:
        (alert,) = session.scalars(select(Alert)).all()
        assert alert.labels.get("model") == "detector" and alert.severity == "warning"


def test_likely_churners_are_counted_from_the_latest_scoring(engine):
    from bi_app.db.churn_models import ChurnScore
    from bi_app.db.models import Customer

    assert sources.read_current("business", "churn_likely_customers", {}, engine, NOW) == []
    scored = NOW - 3 * HOUR
    with Session(engine) as session:
        for n, probability in enumerate((0.95, 0.8, 0.79, 0.1)):
            customer = Customer(external_id=f"c{n}", name=f"Customer {n}")
            session.add(customer)
            session.flush()
            session.add(
                ChurnScore(
                    customer_id=customer.id,
                    probability=probability,
                    probability_ppm=int(probability * 1_000_000),
                    scored_at=scored,
                )
            )
        session.commit()
    (now,) = sources.read_current("business", "churn_likely_customers", {}, engine, NOW)
    assert now.value == 2.0 and now.at == NOW
    (then,) = sources.read_series(
        "business", "churn_likely_customers", {}, engine, NOW - 24 * HOUR, NOW
    )
    assert then.value == 2.0 and then.at == scored
    assert (
        sources.read_series("business", "churn_likely_customers", {}, engine, NOW - 2 * HOUR, NOW)
        == []
    )


def test_days_far_outside_the_forecast_band_count_per_series_for_a_week(engine):
    from bi_app.db.periods import use_timezone
    from tests.integration.test_forecast_filters import D0, load_runs

    load_runs(engine)  # orders: day 3 falls 40 below a band of width 20 (far); day 1 just 10
    now = dt.datetime.combine(D0 + dt.timedelta(days=5), dt.time(12))
    with use_timezone("UTC"):
        current = sources.read_current("business", "forecast_band_misses", {}, engine, now)
        assert {s.labels["series"]: s.value for s in current} == {
            "revenue": 0.0,
            "orders": 1.0,
            "new_customers": 0.0,
            "attendance": 0.0,
        }
        series = sources.read_series(
            "business", "forecast_band_misses", {}, engine, datetime_of(D0), datetime_of(D0, 14)
        )
    orders = {s.at.date(): s.value for s in series if s.labels["series"] == "orders"}
    # each local midnight counts the 7 days before it: day 3 from day 4's midnight to day 10's
    assert orders == {
        D0 + dt.timedelta(days=k): (1.0 if 4 <= k <= 10 else 0.0) for k in range(1, 14)
    }


def datetime_of(day: dt.date, plus_days: int = 0) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=plus_days), dt.time(0))
