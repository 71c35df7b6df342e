"""bi_app.data.alerts on SQLite and PostgreSQL: the alert list with its filters and order, an
alert's detail, the history (per rule per local day, MTTA and MTTR computed here by hand), the
badge's count and its few seconds of memory, rules in error, and a database that is down."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import insert, select

from bi_app.data import alerts as data
from bi_app.db.alert_models import OPEN_STATES, Alert, AlertEvent, AlertRule, Silence
from bi_app.db.engine import make_engine
from bi_app.errors import ServiceUnavailable
from tests.conftest import migrate

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 3, 10, 12, 0)
MIN = dt.timedelta(minutes=1)


@pytest.fixture(params=["sqlite_url", "pg_url"])
def engine(request):
    url = request.getfixturevalue(request.param)
    migrate(url)
    engine = make_engine(url)
    data.forget_badge_count()
    yield engine
    engine.dispose()


def _rule(conn, name: str, **values) -> int:
    row = {
        "name": name,
        "kind": "threshold",
        "metric": "disk_free_percent",
        "params": {"operator": "<", "threshold": 10.0},
        "severity": "critical",
        **values,
    }
    return conn.execute(insert(AlertRule).returning(AlertRule.id), row).scalar_one()


def _alert(conn, key: str, **values) -> int:
    row = {
        "fingerprint": key,
        "name": key,
        "labels": {"host": "db1"},
        "annotations": {},
        **values,
    }
    row.setdefault("started_at", row.get("fired_at") or NOW)
    row.setdefault("last_seen_at", NOW)
    return conn.execute(insert(Alert).returning(Alert.id), row).scalar_one()


@pytest.fixture
def seeded(engine):
    """Seven alerts of two rules and the system (see each line); returns their ids by key."""
    with engine.begin() as conn:
        disk = _rule(conn, "disk")
        errors = _rule(conn, "errors", status="error", last_error="the table cannot be read")
        silence = conn.execute(
            insert(Silence).returning(Silence.id),
            {
                "matchers": [{"name": "host", "op": "=", "value": "db1"}],
                "starts_at": NOW - dt.timedelta(days=1),
                "ends_at": NOW + dt.timedelta(days=1),
                "reason": "maintenance",
                "created_by": "admin",
            },
        ).scalar_one()
        ids = {
            # critical, firing since 110 minutes
            "a1": _alert(
                conn,
                "a1",
                rule_id=disk,
                severity="critical",
                state="firing",
                started_at=NOW - 120 * MIN,
                fired_at=NOW - 110 * MIN,
            ),
            # warning, acknowledged after 10 minutes
            "a2": _alert(
                conn,
                "a2",
                rule_id=disk,
                severity="warning",
                state="acknowledged",
                fired_at=NOW - dt.timedelta(days=1),
                acknowledged_at=NOW - dt.timedelta(days=1) + 10 * MIN,
            ),
            # emergency, firing but silenced
            "a3": _alert(
                conn,
                "a3",
                rule_id=errors,
                severity="emergency",
                state="firing",
                fired_at=NOW - 180 * MIN,
                silence_id=silence,
            ),
            # critical, acknowledged after 5 and resolved after 65 minutes; fired at 16:00 UTC
            # on March 9th, which is 01:00 on March 10th in Seoul
            "a4": _alert(
                conn,
                "a4",
                rule_id=errors,
                severity="critical",
                state="resolved",
                fired_at=dt.datetime(2026, 3, 9, 16, 0),
                acknowledged_at=dt.datetime(2026, 3, 9, 16, 5),
                resolved_at=dt.datetime(2026, 3, 9, 17, 5),
                resolved_by="analyst",
            ),
            # a system alert, ignored (not counted in the time to resolve)
            "a5": _alert(
                conn,
                "a5",
                source="system",
                severity="info",
                state="ignored",
                fired_at=NOW - dt.timedelta(days=2),
                resolved_at=NOW - dt.timedelta(days=2) + 30 * MIN,
            ),
            # resolved 40 days ago: outside every range below
            "a6": _alert(
                conn,
                "a6",
                rule_id=disk,
                severity="critical",
                state="resolved",
                fired_at=NOW - dt.timedelta(days=40),
                resolved_at=NOW - dt.timedelta(days=40) + 60 * MIN,
            ),
            # critical, pending (never fired)
            "a7": _alert(
                conn, "a7", rule_id=disk, severity="critical", state="pending", started_at=NOW - MIN
            ),
        }
        conn.execute(
            insert(AlertEvent),
            [
                {
                    "alert_id": ids["a4"],
                    "at": dt.datetime(2026, 3, 9, 16, 0),
                    "kind": "fired",
                    "actor": None,
                    "comment": None,
                },
                {
                    "alert_id": ids["a4"],
                    "at": dt.datetime(2026, 3, 9, 17, 5),
                    "kind": "resolved",
                    "actor": "analyst",
                    "comment": "restarted the worker",
                },
            ],
        )
    return ids


def _names(rows) -> list[str]:
    return [row["name"] for row in rows]


def test_open_alerts_most_severe_first_with_rule_and_silence(engine, seeded):
    rows = data.list_alerts(states=OPEN_STATES, engine=engine)
    assert _names(rows) == ["a3", "a7", "a1", "a2"]
    by_name = {row["name"]: row for row in rows}
    assert by_name["a3"]["silenced"] is True and by_name["a1"]["silenced"] is False
    assert by_name["a1"]["rule_name"] == "disk"
    assert by_name["a1"]["labels"] == {"host": "db1"}


def test_filters_by_severity_state_and_time(engine, seeded):
    week = {"start": NOW - dt.timedelta(days=7), "end": NOW}
    critical = data.list_alerts(severities=["critical"], engine=engine, **week)
    assert _names(critical) == ["a7", "a1", "a4"]  # a6 was resolved before the range
    resolved = data.list_alerts(states=["resolved", "ignored"], engine=engine, **week)
    assert sorted(_names(resolved)) == ["a4", "a5"]
    everything = data.list_alerts(engine=engine)
    assert len(everything) == 7
    assert data.list_alerts(severities=["bogus"], engine=engine) == []
    assert len(data.list_alerts(engine=engine, limit=2)) == 2


def test_an_alerts_detail_has_its_events_and_rule(engine, seeded):
    detail = data.alert_detail(seeded["a4"], engine=engine)
    assert detail["name"] == "a4" and detail["state"] == "resolved"
    assert [e["kind"] for e in detail["events"]] == ["fired", "resolved"]
    assert detail["events"][1]["comment"] == "restarted the worker"
    assert detail["rule"]["name"] == "errors"
    assert detail["rule"]["params"] == {"operator": "<", "threshold": 10.0}
    assert data.alert_detail(seeded["a5"], engine=engine)["rule"] is None
    assert data.alert_detail(10**9, engine=engine) is None


def test_history_per_rule_per_local_day_with_mtta_and_mttr(engine, seeded):
    start = NOW - dt.timedelta(days=7)
    seoul = data.history(start, NOW, engine=engine, tz="Asia/Seoul")
    assert seoul["per_rule_day"] == [
        (dt.date(2026, 3, 8), "a5", 1),  # no rule: the alert's own name
        (dt.date(2026, 3, 9), "disk", 1),
        (dt.date(2026, 3, 10), "disk", 1),
        (dt.date(2026, 3, 10), "errors", 2),
    ]
    utc = data.history(start, NOW, engine=engine, tz="UTC")
    assert (dt.date(2026, 3, 9), "errors", 1) in utc["per_rule_day"]
    # acknowledged: a2 after 600 s, a4 after 300 s; resolved (not ignored): a4 after 3900 s
    assert seoul["mtta_seconds"] == pytest.approx((600 + 300) / 2)
    assert seoul["mttr_seconds"] == pytest.approx(3900)
    assert seoul["by_severity"] == {"critical": 2, "warning": 1, "emergency": 1, "info": 1}
    assert seoul["fired"] == 5
    assert _names(seoul["recent_resolved"]) == ["a4"]
    empty = data.history(NOW + MIN, NOW + 2 * MIN, engine=engine)
    assert empty["per_rule_day"] == [] and empty["mtta_seconds"] is None
    assert empty["mttr_seconds"] is None and empty["fired"] == 0


def test_badge_counts_open_unsilenced_critical_and_remembers_briefly(engine, seeded):
    assert data.open_critical_count(engine=engine, now=100.0) == 2  # a1 and a7
    with engine.begin() as conn:
        _alert(conn, "a8", severity="emergency", state="firing", fired_at=NOW)
    assert data.open_critical_count(engine=engine, now=103.0) == 2  # kept for a few seconds
    assert data.open_critical_count(engine=engine, now=100.0 + data.BADGE_TTL_S + 0.1) == 3
    with engine.begin() as conn:
        _alert(conn, "a9", severity="critical", state="acknowledged", fired_at=NOW)
    data.forget_badge_count()
    assert data.open_critical_count(engine=engine, now=106.0) == 4


def test_rules_in_error(engine, seeded):
    rules = data.rules_in_error(engine=engine)
    assert [(r["name"], r["last_error"]) for r in rules] == [("errors", "the table cannot be read")]


def test_a_database_that_is_down_is_service_unavailable(tmp_path):
    down = make_engine(f"sqlite:///{tmp_path / 'missing' / 'nowhere.sqlite'}")
    data.forget_badge_count()
    for call in (
        lambda: data.list_alerts(engine=down),
        lambda: data.alert_detail(1, engine=down),
        lambda: data.history(NOW - MIN, NOW, engine=down),
        lambda: data.open_critical_count(engine=down),
        lambda: data.rules_in_error(engine=down),
    ):
        with pytest.raises(ServiceUnavailable):
            call()
    # the failed count is remembered as briefly as a count: no query per tick while down
    with pytest.raises(ServiceUnavailable):
        data.open_critical_count(engine=down)
    down.dispose()


# --- the actions through the real callback endpoint ---------------------------------------------


def _act_body(app, alert_id: int, action: str, comment: str) -> dict:
    """The request Dash's renderer sends when ``action``'s button is clicked."""
    from components.ids import App, OpsAlerts

    [key] = [k for k in app.callback_map if OpsAlerts.ACTION_MESSAGE in k]
    outputs = [
        {"id": OpsAlerts.ACTION_MESSAGE, "property": "children"},
        {"id": OpsAlerts.ACTION_STORE, "property": "data"},
        {"id": OpsAlerts.COMMENT, "property": "value"},
        {"id": App.ALERT_BADGE, "property": "hidden"},
        {"id": App.ALERT_BADGE_COUNT, "property": "children"},
    ]
    names = ("acknowledge", "resolve", "ignore", "comment")
    buttons = [
        {
            "id": OpsAlerts.action(name),
            "property": "n_clicks",
            "value": 1 if name == action else None,
        }
        for name in names
    ]
    changed = json.dumps(OpsAlerts.action(action), sort_keys=True, separators=(",", ":"))
    return {
        "output": key,
        "outputs": outputs,
        "inputs": [buttons],
        "changedPropIds": [f"{changed}.n_clicks"],
        "state": [
            {"id": OpsAlerts.SELECTED_STORE, "property": "data", "value": alert_id},
            {"id": OpsAlerts.COMMENT, "property": "value", "value": comment},
            {"id": OpsAlerts.ACTION_STORE, "property": "data", "value": 0},
        ],
    }


def test_only_operators_act_and_every_action_is_audited(app_factory, sqlite_url):
    from bi_app.db.models import AuditLog
    from tests.conftest import _seed_users, signed_in_client

    migrate(sqlite_url)
    _seed_users(sqlite_url)
    app = app_factory(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        alert_id = _alert(conn, "forged", severity="critical", state="firing", fired_at=NOW)

    viewer = signed_in_client(app, "viewer")
    refused = viewer.post("/_dash-update-component", json=_act_body(app, alert_id, "resolve", ""))
    assert refused.status_code == 403

    analyst = signed_in_client(app, "analyst")
    answer = analyst.post(
        "/_dash-update-component", json=_act_body(app, alert_id, "acknowledge", "on it")
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "Acknowledged." in answer.get_data(as_text=True)
    again = analyst.post(
        "/_dash-update-component", json=_act_body(app, alert_id, "acknowledge", "")
    )
    assert "Only a firing alert can be acknowledged" in again.get_data(as_text=True)

    with engine.connect() as conn:
        state = conn.execute(select(Alert.state).where(Alert.id == alert_id)).scalar_one()
        audited = (
            conn.execute(select(AuditLog.action).where(AuditLog.target == f"alert:{alert_id}"))
            .scalars()
            .all()
        )
    assert state == "acknowledged"
    assert audited == ["alert.acknowledge"]
    engine.dispose()
