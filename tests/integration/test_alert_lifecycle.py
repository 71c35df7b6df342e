"""The alert lifecycle on SQLite and PostgreSQL, with an injected clock (no sleeps): one open
alert per fingerprint across repeated evaluations and across processes, pending → firing after
the for-duration, auto-resolve with a "resolved" notification, cooldown, silences, escalation on
time, people's actions (audited), system and external alerts."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bi_app.alerts import lifecycle, silences
from bi_app.db.alert_models import (
    Alert,
    AlertEvent,
    AlertRule,
    NotificationChannel,
    OutboxMessage,
)
from bi_app.db.engine import make_engine
from bi_app.db.models import AuditLog
from tests.conftest import migrate

T0 = dt.datetime(2026, 12, 1, 9, 0)
MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    mean: float


@dataclass(frozen=True)
class Sample:
    value: float | None
    labels: dict[str, str] = field(default_factory=dict)
    at: dt.datetime = T0
    expected: Band | None = None


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'alerts.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        session.add_all(
            [
                NotificationChannel(
                    name="mail", kind="email", config={}, severities=["warning", "critical"]
                ),
                NotificationChannel(name="pager", kind="sms", config={}, severities=["emergency"]),
            ]
        )
        session.commit()
    yield engine
    engine.dispose()


def add_rule(engine, **overrides) -> int:
    values = {
        "name": "Errors above 5 %",
        "description": "Too many errors.",
        "kind": "threshold",
        "metric": "http_error_rate",
        "params": {"operator": ">", "threshold": 5.0},
        "severity": "critical",
        "labels": {"team": "ops"},
        "for_seconds": 120,
        "cooldown_seconds": 600,
        "recommended_action": "Read the logs.",
    }
    values.update(overrides)
    with Session(engine) as session:
        rule = AlertRule(**values)
        session.add(rule)
        session.commit()
        return rule.id


def evaluate(engine, rule_id: int, samples, now) -> list[int]:
    with Session(engine) as session:
        rule = session.get(AlertRule, rule_id)
        fired = lifecycle.apply_evaluation(session, rule, samples, now)
        session.commit()
        return [a.id for a in fired]


def alerts(engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def outbox(engine) -> list[tuple[str, str]]:
    """(kind, channel name) of every outbox row, oldest first."""
    with Session(engine) as session:
        rows = session.execute(
            select(OutboxMessage.kind, NotificationChannel.name)
            .join(NotificationChannel, OutboxMessage.channel_id == NotificationChannel.id)
            .order_by(OutboxMessage.id)
        ).all()
        return [tuple(r) for r in rows]


def test_repeated_evaluations_keep_one_alert_which_fires_after_its_for_duration(engine):
    rule_id = add_rule(engine)
    assert evaluate(engine, rule_id, [Sample(9.0)], T0) == []
    assert [(a.state, a.value) for a in alerts(engine)] == [("pending", 9.0)]
    assert outbox(engine) == []  # pending alerts are not notified
    assert evaluate(engine, rule_id, [Sample(9.5)], T0 + MINUTE) == []
    fired = evaluate(engine, rule_id, [Sample(12.0)], T0 + 2 * MINUTE)
    (alert,) = alerts(engine)
    assert fired == [alert.id]
    assert (alert.state, alert.value, alert.fired_at) == ("firing", 12.0, T0 + 2 * MINUTE)
    assert alert.labels == {"team": "ops", "alertname": "Errors above 5 %", "severity": "critical"}
    for minute in range(3, 8):
        evaluate(engine, rule_id, [Sample(11.0)], T0 + minute * MINUTE)
    assert len(alerts(engine)) == 1
    assert outbox(engine) == [("firing", "mail")]  # once, to the channel taking "critical"
    with Session(engine) as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.payload["subject"] == "[CRITICAL] Errors above 5 %"
        assert "Read the logs." in row.payload["text"]
        assert row.group_key == f"rule-{rule_id}-firing"
        assert row.next_attempt_at == T0 + 2 * MINUTE  # no grouping wait by default


def test_a_condition_that_clears_before_the_for_duration_never_notifies(engine):
    rule_id = add_rule(engine)
    evaluate(engine, rule_id, [Sample(9.0)], T0)
    evaluate(engine, rule_id, [Sample(1.0)], T0 + MINUTE)
    (alert,) = alerts(engine)
    assert alert.state == "resolved" and alert.fired_at is None
    assert outbox(engine) == []


def test_auto_resolve_notifies_and_the_cooldown_holds_a_new_firing_back(engine):
    rule_id = add_rule(engine, for_seconds=0, cooldown_seconds=600)
    evaluate(engine, rule_id, [Sample(9.0)], T0)
    evaluate(engine, rule_id, [Sample(1.0)], T0 + MINUTE)
    assert [a.state for a in alerts(engine)] == ["resolved"]
    assert outbox(engine) == [("firing", "mail"), ("resolved", "mail")]
    evaluate(engine, rule_id, [Sample(9.0)], T0 + 5 * MINUTE)  # within the 10-minute cooldown
    assert len(alerts(engine)) == 1
    evaluate(engine, rule_id, [Sample(9.0)], T0 + 12 * MINUTE)  # past it
    assert [a.state for a in alerts(engine)] == ["resolved", "firing"]
    assert outbox(engine)[-1] == ("firing", "mail")


def test_each_series_of_a_rule_is_its_own_alert_and_a_vanished_series_resolves(engine):
    rule_id = add_rule(
        engine,
        kind="business",
        metric="event_attendance_rate",
        params={"operator": "<", "threshold": 70.0},
        severity="warning",
        for_seconds=0,
    )
    evaluate(engine, rule_id, [Sample(50.0, {"event": "a"}), Sample(90.0, {"event": "b"})], T0)
    evaluate(
        engine, rule_id, [Sample(40.0, {"event": "a"}), Sample(60.0, {"event": "b"})], T0 + MINUTE
    )
    assert sorted((a.labels["event"], a.state) for a in alerts(engine)) == [
        ("a", "firing"),
        ("b", "firing"),
    ]
    evaluate(engine, rule_id, [Sample(60.0, {"event": "b"})], T0 + 2 * MINUTE)  # "a" ended
    assert sorted((a.labels["event"], a.state) for a in alerts(engine)) == [
        ("a", "resolved"),
        ("b", "firing"),
    ]


def test_a_deviation_alert_records_its_expected_band(engine):
    rule_id = add_rule(
        engine,
        kind="deviation",
        metric="revenue_day",
        params={"k": 3.0, "weeks": 8, "direction": "below"},
        for_seconds=0,
        severity="warning",
    )
    evaluate(engine, rule_id, [Sample(10.0, expected=Band(80.0, 120.0, 100.0))], T0)
    (alert,) = alerts(engine)
    assert alert.state == "firing"
    assert alert.annotations["expected"] == {"low": 80.0, "high": 120.0, "mean": 100.0}
    evaluate(engine, rule_id, [Sample(10.0)], T0 + MINUTE)  # no band: cannot judge → resolves
    assert alerts(engine)[0].state == "resolved"


def test_a_silence_records_the_alert_but_sends_nothing_until_it_ends(engine):
    rule_id = add_rule(engine, for_seconds=0)
    silence = silences.create_silence(
        "team=ops, severity=~critical|emergency",
        T0 - MINUTE,
        T0 + 30 * MINUTE,
        "maintenance window",
        "ops-lead",
        engine=engine,
        now=T0 - MINUTE,
    )
    evaluate(engine, rule_id, [Sample(9.0)], T0)
    (alert,) = alerts(engine)
    assert alert.state == "firing" and alert.silence_id == silence["id"]
    assert outbox(engine) == []
    assert silences.list_silences(engine, now=T0)[0]["matching_open_alerts"] == 1
    silences.expire_silence(silence["id"], "ops-lead", engine=engine, now=T0 + 5 * MINUTE)
    evaluate(engine, rule_id, [Sample(9.0)], T0 + 6 * MINUTE)
    (alert,) = alerts(engine)
    assert alert.silence_id is None
    assert outbox(engine) == [("firing", "mail")]  # notified once the silence ended
    with Session(engine) as session:
        actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["silence.create", "silence.expire"]


def test_an_unacknowledged_alert_escalates_on_time_and_an_acknowledged_one_does_not(engine):
    rule_id = add_rule(engine, for_seconds=0, escalation_minutes=15, escalation_targets=["pager"])
    evaluate(engine, rule_id, [Sample(9.0, {"host": "a"}), Sample(9.0, {"host": "b"})], T0)
    first, second = alerts(engine)
    lifecycle.acknowledge(second.id, "ops-lead", "looking", engine=engine, now=T0 + MINUTE)
    with Session(engine) as session:
        assert lifecycle.escalate_due(session, T0 + 14 * MINUTE) == 0
        session.commit()
        assert lifecycle.escalate_due(session, T0 + 15 * MINUTE) == 1
        session.commit()
        assert lifecycle.escalate_due(session, T0 + 16 * MINUTE) == 0  # once
        session.commit()
    escalations = [row for row in outbox(engine) if row[0] == "escalation"]
    assert escalations == [("escalation", "pager")]
    with Session(engine) as session:
        assert session.get(Alert, first.id).escalated_at == T0 + 15 * MINUTE
        assert session.get(Alert, second.id).escalated_at is None


def test_people_acknowledge_resolve_and_ignore_and_every_action_is_audited(engine):
    rule_id = add_rule(engine, for_seconds=0)
    evaluate(engine, rule_id, [Sample(9.0, {"host": "a"}), Sample(9.0, {"host": "b"})], T0)
    a, b = alerts(engine)
    lifecycle.acknowledge(a.id, "ana", "on it", engine=engine, now=T0 + MINUTE)
    with pytest.raises(lifecycle.AlertActionError, match="Only a firing alert"):
        lifecycle.acknowledge(a.id, "ana", engine=engine)
    lifecycle.resolve(a.id, "ana", "fixed the config", engine=engine, now=T0 + 2 * MINUTE)
    lifecycle.ignore(b.id, "ana", "known flake", engine=engine, now=T0 + 2 * MINUTE)
    with pytest.raises(lifecycle.AlertActionError, match="already ignored"):
        lifecycle.resolve(b.id, "ana", engine=engine)
    with pytest.raises(lifecycle.AlertActionError, match="There is no alert 999"):
        lifecycle.resolve(999, "ana", engine=engine)
    a, b = alerts(engine)
    assert (a.state, a.acknowledged_by, a.resolved_by) == ("resolved", "ana", "ana")
    assert a.acknowledged_at == T0 + MINUTE and a.resolved_at == T0 + 2 * MINUTE
    assert b.state == "ignored"
    with Session(engine) as session:
        history = session.execute(
            select(AlertEvent.kind, AlertEvent.actor, AlertEvent.comment)
            .where(AlertEvent.alert_id == a.id)
            .order_by(AlertEvent.id)
        ).all()
        audits = session.execute(
            select(AuditLog.action, AuditLog.target).order_by(AuditLog.id)
        ).all()
    assert [tuple(h) for h in history] == [
        ("pending", None, None),
        ("firing", None, None),
        ("notified", None, None),
        ("acknowledged", "ana", "on it"),
        ("resolved", "ana", "fixed the config"),
        ("notified", None, None),
    ]
    assert [tuple(x) for x in audits] == [
        ("alert.acknowledge", f"alert:{a.id}"),
        ("alert.resolve", f"alert:{a.id}"),
        ("alert.ignore", f"alert:{b.id}"),
    ]
    # resolved by hand: "resolved" goes where "firing" went; ignored: nothing more
    assert outbox(engine) == [("firing", "mail")] * 2 + [("resolved", "mail")]


def test_a_system_alert_fires_at_once_and_never_goes_to_the_channel_it_is_about(engine):
    with Session(engine) as session:
        alert = lifecycle.raise_system_alert(
            session,
            "channel:mail",
            "Channel mail keeps failing",
            "critical",
            {"channel": "mail"},
            {"summary": "SMTP refused"},
            T0,
        )
        again = lifecycle.raise_system_alert(
            session,
            "channel:mail",
            "Channel mail keeps failing",
            "critical",
            {"channel": "mail"},
            {"summary": "SMTP refused"},
            T0 + MINUTE,
        )
        session.commit()
        assert again.id == alert.id and alert.state == "firing" and alert.source == "system"
    assert outbox(engine) == []  # "mail" is the failing channel; nothing else takes critical
    with Session(engine) as session:
        assert lifecycle.clear_system_alert(session, "channel:mail", T0 + 2 * MINUTE)
        session.commit()
    assert alerts(engine)[0].state == "resolved"


def test_external_alerts_are_deduplicated_by_fingerprint_and_resolved(engine):
    def record(firing: bool, now):
        with Session(engine) as session:
            alert = lifecycle.record_external(
                session,
                fingerprint="am:abc",
                name="HighLoad",
                severity="emergency",
                labels={"alertname": "HighLoad", "instance": "db1"},
                annotations={"summary": "load 40"},
                firing=firing,
                starts_at=T0,
                now=now,
            )
            session.commit()
            return alert.id if alert is not None else None

    first = record(True, T0)
    assert record(True, T0 + MINUTE) == first
    assert [(a.state, a.source) for a in alerts(engine)] == [("firing", "alertmanager")]
    assert outbox(engine) == [("firing", "pager")]  # emergency routes to the pager
    assert record(False, T0 + 2 * MINUTE) == first
    assert record(False, T0 + 3 * MINUTE) is None  # nothing open: nothing to resolve
    assert [a.state for a in alerts(engine)] == ["resolved"]
    assert outbox(engine) == [("firing", "pager"), ("resolved", "pager")]


def _evaluate_in_process(url: str, rule_id: int, start: float, rounds: int) -> None:
    """A second "worker process" evaluating the same rule at the same moments."""
    import time

    engine = make_engine(url)
    while time.time() < start:
        time.sleep(0.001)
    for i in range(rounds):
        hosts = [Sample(9.0, {"host": f"h{n}"}) for n in range(3)]
        evaluate(engine, rule_id, hosts, T0 + i * MINUTE)
    engine.dispose()


def test_two_processes_evaluating_the_same_rule_open_one_alert_per_fingerprint(pg_url):
    import time

    migrate(pg_url)
    engine = make_engine(pg_url)
    with Session(engine) as session:
        session.add(
            NotificationChannel(name="mail", kind="email", config={}, severities=["critical"])
        )
        session.commit()
    rule_id = add_rule(engine, for_seconds=0, cooldown_seconds=0)
    context = multiprocessing.get_context("spawn")
    start = time.time() + 3
    workers = [
        context.Process(target=_evaluate_in_process, args=(pg_url, rule_id, start, 12))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    with Session(engine) as session:
        per_fingerprint = session.execute(
            select(Alert.fingerprint, func.count()).group_by(Alert.fingerprint)
        ).all()
        notifications = session.scalar(select(func.count()).select_from(OutboxMessage))
    assert len(per_fingerprint) == 3 and all(n == 1 for _, n in per_fingerprint)
    assert {a.state for a in alerts(engine)} == {"firing"}
    assert notifications == 3  # one "firing" message per alert, none twice
    engine.dispose()
