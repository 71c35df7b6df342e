"""Rules as admins change them (validated, audited) and the backtest the editor shows, on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bi_app.alerts import rule_admin, rules
from bi_app.db.alert_models import AlertRule
from bi_app.db.engine import make_engine
from bi_app.db.models import AuditLog, utcnow
from bi_app.db.monitoring_models import RequestMetricMinute
from tests.conftest import migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rules.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def error_rule(**overrides):
    raw = {
        "name": "Checkout errors",
        "kind": "threshold",
        "metric": "http_error_rate",
        "params": {"operator": ">", "threshold": "5", "window_minutes": "5"},
        "severity": "critical",
        "labels": "team=shop",
        "for_seconds": "0",
        "cooldown_seconds": "0",
        "recommended_action": "Check the payment provider.",
    }
    raw.update(overrides)
    return raw


def test_the_default_pack_is_installed_and_listed(engine):
    listed = rule_admin.list_rules(engine)
    assert len(listed) == 11 and all(r["builtin"] and r["enabled"] for r in listed)
    by_name = {r["name"]: r for r in listed}
    assert by_name["Database unreachable"]["severity"] == "emergency"
    assert by_name["Error rate above 5 %"]["params"]["threshold"] == 5.0
    assert by_name["Revenue far below its seasonal baseline"]["kind"] == "deviation"


def test_a_rule_is_created_edited_disabled_and_deleted_and_each_change_is_audited(engine):
    saved = rule_admin.save_rule(error_rule(), "ana", engine=engine)
    assert saved["labels"] == {"team": "shop"} and saved["params"]["threshold"] == 5.0
    edited = rule_admin.save_rule(error_rule(severity="warning"), "ana", saved["id"], engine=engine)
    assert edited["severity"] == "warning"
    rule_admin.set_enabled(saved["id"], False, "ana", engine=engine)
    assert rule_admin.get_rule(saved["id"], engine)["enabled"] is False
    rule_admin.delete_rule(saved["id"], "ana", engine=engine)
    with pytest.raises(rule_admin.RuleNotFound):
        rule_admin.get_rule(saved["id"], engine)
    with Session(engine) as session:
        audits = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert audits == [
        "alert_rule.create",
        "alert_rule.update",
        "alert_rule.disable",
        "alert_rule.delete",
    ]


def test_an_invalid_rule_is_refused_with_its_field_and_nothing_is_stored(engine):
    with pytest.raises(rules.RuleInvalid) as caught:
        rule_admin.save_rule(error_rule(metric="revenue_day"), "ana", engine=engine)
    assert caught.value.field == "metric"
    with pytest.raises(rules.RuleInvalid) as caught:
        rule_admin.save_rule(error_rule(name="Error rate above 5 %"), "ana", engine=engine)
    assert caught.value.field == "name" and "exists already" in str(caught.value)
    with pytest.raises(rules.RuleInvalid, match="No such channel: pager"):
        rule_admin.save_rule(error_rule(targets=["pager"]), "ana", engine=engine)
    with Session(engine) as session:
        assert len(session.scalars(select(AlertRule)).all()) == 11


def spike(engine, start: dt.datetime, minutes: int) -> None:
    """``minutes`` minutes of requests with 20 % errors, as one worker flushes them."""
    with Session(engine) as session:
        for i in range(minutes):
            session.add(
                RequestMetricMinute(
                    bucket=start + dt.timedelta(minutes=i),
                    source="web-1:1",
                    kind="http",
                    name="/checkout",
                    method="POST",
                    count=50,
                    errors=10,
                    sum_ms=500.0,
                    max_ms=30.0,
                    p50_ms=10.0,
                    p95_ms=20.0,
                    buckets={},
                )
            )
        session.commit()


def test_the_backtest_counts_the_moments_the_rule_would_have_fired(engine):
    now = utcnow().replace(second=0, microsecond=0)
    spike(engine, now - dt.timedelta(hours=30), 30)
    spike(engine, now - dt.timedelta(hours=10), 30)
    result = rule_admin.backtest_rule(error_rule(), now=now, engine=engine)
    assert result["error"] is None and result["unit"] == "percent" and result["threshold"] == 5
    assert len(result["fired_7d"]) == 2 and len(result["fired_30d"]) == 2
    first, second = result["fired_7d"]  # at the 5-minute step
    assert abs(first - (now - dt.timedelta(hours=30))) <= dt.timedelta(minutes=10)
    assert abs(second - (now - dt.timedelta(hours=10))) <= dt.timedelta(minutes=10)
    for moment, expected in zip(result["fired_30d"], (first, second), strict=True):
        assert abs(moment - expected) <= dt.timedelta(hours=1)  # 30 days come by the hour
    assert max(p["value"] for p in result["series"] if p["value"] is not None) == 20.0
    # with a for-duration longer than either spike (by more than the hourly step of the 30
    # days) it would never have fired
    held = rule_admin.backtest_rule(error_rule(for_seconds="7200"), now=now, engine=engine)
    assert held["fired_7d"] == [] and held["fired_30d"] == []


def test_a_backtest_of_an_invalid_rule_says_why_instead_of_charting(engine):
    result = rule_admin.backtest_rule(error_rule(params={"operator": "?"}), engine=engine)
    assert result["series"] == [] and "Choose a comparison" in result["error"]
