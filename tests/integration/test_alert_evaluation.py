"""The evaluation job on SQLite and PostgreSQL, over data the app records: the default pack runs
on a fresh database without errors; an error rate above 5 % goes pending, then fires after the
rule's for-duration and resolves when the errors stop; a rule whose data cannot be read is in
the error state and raises its own alert (never silently "fine"); an automatic response runs
its job and is recorded on the alert."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bi_app.alerts.evaluate import evaluate_rules
from bi_app.db.alert_models import Alert, AlertEvent, AlertRule, NotificationChannel, OutboxMessage
from bi_app.db.engine import make_engine
from bi_app.db.job_models import JobRun
from bi_app.db.models import utcnow
from bi_app.db.monitoring_models import RequestMetricMinute
from tests.conftest import migrate

MINUTE = dt.timedelta(minutes=1)
ERROR_RULE = "Error rate above 5 %"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'alerts.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    migrate(url)
    return url


@pytest.fixture
def engine(url):
    engine = make_engine(url)
    with Session(engine) as session:
        session.add(
            NotificationChannel(
                name="ops-mail", kind="email", config={}, severities=["warning", "critical"]
            )
        )
        session.commit()
    yield engine
    engine.dispose()


def record_requests(engine, start: dt.datetime, minutes: int, count: int, errors: int) -> None:
    """Per-minute request metrics as two workers flush them: ``errors`` of ``count`` failed."""
    with Session(engine) as session:
        for i in range(minutes):
            for source, share in (("web-1:100", 0.5), ("web-2:200", 0.5)):
                session.add(
                    RequestMetricMinute(
                        bucket=start + i * MINUTE,
                        source=source,
                        kind="http",
                        name="/",
                        method="GET",
                        count=int(count * share),
                        errors=int(errors * share),
                        sum_ms=10.0 * count,
                        max_ms=50.0,
                        p50_ms=10.0,
                        p95_ms=40.0,
                        buckets={},
                    )
                )
        session.commit()


def state_of(engine, rule_name: str) -> list[str]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Alert.state)
                .join(AlertRule, Alert.rule_id == AlertRule.id)
                .where(AlertRule.name == rule_name)
                .order_by(Alert.id)
            )
        )


def test_the_default_pack_evaluates_on_a_fresh_database_without_errors(engine):
    summary = evaluate_rules(engine, dispatch=False, now=utcnow())
    assert summary["rules"] == 11 and summary["errors"] == 0 and summary["fired"] == 0
    with Session(engine) as session:
        statuses = session.execute(select(AlertRule.name, AlertRule.status)).all()
        assert {s for _, s in statuses} == {"ok"}
        assert session.scalars(select(Alert)).all() == []


def test_an_error_rate_above_5_percent_fires_after_two_minutes_and_resolves(engine):
    now = utcnow().replace(second=0, microsecond=0)
    record_requests(engine, now - 3 * MINUTE, 3, count=200, errors=20)  # 10 % errors
    evaluate_rules(engine, dispatch=False, now=now)
    assert state_of(engine, ERROR_RULE) == ["pending"]
    record_requests(engine, now, 2, count=200, errors=20)
    summary = evaluate_rules(engine, dispatch=False, now=now + 2 * MINUTE)
    assert summary["fired"] == 1
    assert state_of(engine, ERROR_RULE) == ["firing"]
    with Session(engine) as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.value == pytest.approx(10.0)
        assert alert.labels["team"] == "ops" and alert.severity == "critical"
        assert session.scalars(select(OutboxMessage.kind)).all() == ["firing"]
    record_requests(engine, now + 2 * MINUTE, 6, count=200, errors=0)
    evaluate_rules(
        engine, dispatch=False, now=now + 8 * MINUTE
    )  # the 5-minute window holds no errors now
    assert state_of(engine, ERROR_RULE) == ["resolved"]
    with Session(engine) as session:
        assert session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all() == [
            "firing",
            "resolved",
        ]


def test_a_rule_that_cannot_read_its_data_is_in_error_and_raises_its_own_alert(engine):
    with Session(engine) as session:
        session.add(
            AlertRule(
                name="Broken",
                kind="threshold",
                metric="no_such_metric",
                params={"operator": ">", "threshold": 1.0},
                severity="warning",
            )
        )
        session.commit()
    now = utcnow()
    summary = evaluate_rules(engine, dispatch=False, now=now)
    assert summary["errors"] == 1 and summary["rules"] == 12  # the others still ran
    with Session(engine) as session:
        rule = session.scalars(select(AlertRule).where(AlertRule.name == "Broken")).one()
        assert rule.status == "error" and "no_such_metric" in rule.last_error
        alert = session.scalars(select(Alert)).one()
        assert (alert.source, alert.state) == ("system", "firing")
        assert alert.name == "Rule cannot read its data: Broken"
        assert alert.labels["rule"] == "Broken"
        rule.metric = "http_error_rate"  # fixed by an admin
        session.commit()
    evaluate_rules(engine, dispatch=False, now=now + MINUTE)
    with Session(engine) as session:
        assert (
            session.scalars(select(AlertRule.status).where(AlertRule.name == "Broken")).one()
            == "ok"
        )
        assert session.scalars(select(Alert.state)).one() == "resolved"


def test_an_automatic_response_runs_its_job_and_is_recorded_on_the_alert(url, engine, app_factory):
    with Session(engine) as session:
        rule = session.scalars(select(AlertRule).where(AlertRule.name == ERROR_RULE)).one()
        rule.for_seconds = 0
        rule.response_job = "resource_sample"
        session.commit()
    now = utcnow().replace(second=0, microsecond=0)
    record_requests(engine, now - 3 * MINUTE, 3, count=100, errors=50)
    app = app_factory(url)
    with app.server.app_context():
        summary = evaluate_rules(engine, dispatch=False, now=now)
    assert summary["fired"] == 1 and summary["responses"] == 1
    with Session(engine) as session:
        event = session.scalars(select(AlertEvent).where(AlertEvent.kind == "response")).one()
        assert event.detail["job"] == "resource_sample" and event.detail["run_id"]
        alert_id = event.alert_id
    from bi_app.data.alerts import alert_detail

    def outcome():
        (response,) = [
            e for e in alert_detail(alert_id, engine=engine)["events"] if e["kind"] == "response"
        ]
        return response["detail"]

    deadline = time.monotonic() + 30
    while outcome()["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)  # the job runs in the background, as "Run now" does
    assert outcome()["status"] == "succeeded", outcome()
    with Session(engine) as session:
        run = session.get(JobRun, outcome()["run_id"])
        assert (run.job_name, run.actor, run.run_trigger) == (
            "resource_sample",
            f"alert:{alert_id}",
            "manual",
        )


def test_a_pass_sends_its_new_notifications_as_it_ends(url, engine, app_factory):
    """Condition to channel within one evaluation: the pass dispatches what it wrote."""
    from tests.alert_standins import HttpReceiver

    receiver = HttpReceiver()
    with Session(engine) as session:
        session.query(NotificationChannel).delete()
        session.commit()
    app = app_factory(url, outbound_allow=("127.0.0.1/32",))
    with app.server.app_context():
        from bi_app.alerts import channel_admin

        channel_admin.save_channel(
            {
                "name": "hook",
                "kind": "webhook",
                "url": f"{receiver.base}/hook",
                "secret": "s" * 24,
            },
            "tests",
            engine=engine,
        )
        now = utcnow().replace(second=0, microsecond=0)
        record_requests(engine, now - 3 * MINUTE, 3, count=100, errors=50)
        with Session(engine) as session:
            rule = session.scalars(select(AlertRule).where(AlertRule.name == ERROR_RULE)).one()
            rule.for_seconds = 0
            session.commit()
        summary = evaluate_rules(engine, now=now)
    assert summary["fired"] == 1 and summary["dispatched"] == 1
    (request,) = receiver.requests
    assert request["json"]["alert"]["name"] == ERROR_RULE
    assert request["json"]["kind"] == "firing"
    with Session(engine) as session:
        assert session.scalars(select(OutboxMessage.status)).all() == ["sent"]
