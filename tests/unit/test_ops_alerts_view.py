"""The pure builders of /ops/alerts and the header badge: URL parsing, grid rows, durations,
the allowed actions, the history and metric figures, the alert-center tabs."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go

from bi_app.alerts.sources import Band, Sample
from components import alerts_nav, shell
from components import ops_alerts_view as view
from components.ids import OpsAlerts

NOW = dt.datetime(2026, 12, 5, 3, 0)


def _ids(node) -> list:
    found = []

    def walk(item):
        if isinstance(item, (list, tuple)):
            for child in item:
                walk(child)
            return
        if not hasattr(item, "to_plotly_json"):
            return
        if getattr(item, "id", None) is not None:
            found.append(item.id)
        walk(getattr(item, "children", None))

    walk(node)
    return found


def test_the_url_is_parsed_with_defaults_and_notices():
    q = view.parse_alert_query({}, NOW)
    assert q.severities == () and q.states == ("open",) and q.range_key == "7d"
    assert q.alert_states == ("pending", "firing", "acknowledged")
    assert q.start == NOW - dt.timedelta(days=7) and q.end == NOW and q.notices == []

    q = view.parse_alert_query(
        {"severity": "critical,emergency,critical", "state": "open,resolved", "range": "24h"}, NOW
    )
    assert q.severities == ("critical", "emergency")
    assert q.alert_states == ("pending", "firing", "acknowledged", "resolved")
    assert q.start == NOW - dt.timedelta(hours=24)

    q = view.parse_alert_query(
        {"severity": "loud", "state": "weird", "range": "1y", "alert": "12x"}, NOW
    )
    assert q.severities == () and q.states == ("open",) and q.range_key == "7d"
    assert q.alert_id is None and len(q.notices) == 5
    assert view.parse_alert_query({"alert": "42", "state": ["firing"]}, NOW).alert_id == 42
    assert view.parse_alert_query({"state": ["firing"]}, NOW).alert_states == ("firing",)


def test_the_badge_link_uses_the_page_filters():
    q = view.parse_alert_query({"severity": "critical,emergency", "state": "open"}, NOW)
    assert shell.ALERT_BADGE_HREF == view.badge_href()
    assert "severity=critical,emergency" in shell.ALERT_BADGE_HREF
    assert q.severities == ("critical", "emergency") and not q.notices
    assert shell.alert_badge_values(0) == (True, "")
    assert shell.alert_badge_values(3) == (False, "3")


def test_durations_read_well():
    assert view.format_duration(None) == "–"
    assert view.format_duration(42) == "42 s"
    assert view.format_duration(95) == "1 min 35 s"
    assert view.format_duration(7500) == "2 h 5 min"
    assert view.format_duration(200_000) == "2 d 7 h"
    assert view.format_duration(-5) == "0 s"


def _alert(**values):
    base = {
        "id": 7,
        "severity": "critical",
        "state": "firing",
        "name": "Disk free below 10 %",
        "rule_name": "Disk free below 10 %",
        "labels": {"host": "db1", "env": "prod"},
        "value": 4.25,
        "started_at": NOW - dt.timedelta(minutes=20),
        "fired_at": NOW - dt.timedelta(minutes=15),
        "silenced": False,
    }
    return {**base, **values}


def test_grid_rows():
    [row] = view.alert_rows([_alert()], NOW, "Asia/Seoul")
    assert row["id"] == 7 and row["severity"] == "critical"
    assert row["severity_label"] == "critical" and row["state_label"] == "firing"
    assert row["labels"] == "env=prod, host=db1"
    assert row["value_text"] == "4.25"
    assert row["age"] == "15 minutes ago"
    assert row["started"] == "2026-12-05 11:40"  # Seoul is UTC+9
    [silenced] = view.alert_rows([_alert(silenced=True, value=None)], NOW, "UTC")
    assert silenced["state_label"] == "firing, silenced" and silenced["value_text"] == "–"
    assert view.summary_text([], 500) == "No alerts match these filters."
    assert view.summary_text([row], 500) == "Alerts shown: 1"


def test_actions_follow_the_state():
    assert view.allowed_actions(None) == set()
    assert view.allowed_actions({"state": "firing"}) == {
        "acknowledge",
        "resolve",
        "ignore",
        "comment",
    }
    assert view.allowed_actions({"state": "acknowledged"}) == {"resolve", "ignore", "comment"}
    assert view.allowed_actions({"state": "resolved"}) == {"comment"}


def test_a_viewer_gets_no_action_buttons():
    assert _ids(view.actions_panel(False)) == [OpsAlerts.ACTIONS]
    ids = _ids(view.actions_panel(True))
    for name in ("acknowledge", "resolve", "ignore", "comment"):
        assert OpsAlerts.action(name) in ids
    assert OpsAlerts.COMMENT in ids


def test_history_figure_stacks_rules_per_day():
    empty = view.history_figure([])
    assert empty["data"] == []
    fig = view.history_figure(
        [
            (dt.date(2026, 12, 3), "disk", 2),
            (dt.date(2026, 12, 4), "disk", 1),
            (dt.date(2026, 12, 4), "errors", 3),
        ],
        dt.date(2026, 11, 28),
        dt.date(2026, 12, 5),
    )
    assert isinstance(fig, go.Figure) and fig.layout.barmode == "stack"
    by_name = {trace.name: trace for trace in fig.data}
    assert list(by_name["disk"].y) == [2, 1] and list(by_name["errors"].x) == ["2026-12-04"]
    assert fig.layout.xaxis.range[0].startswith("2026-11-27T12")


def test_metric_figure_draws_values_threshold_band_and_firing():
    samples = [
        Sample({"host": "db1"}, 20.0 - i, NOW - dt.timedelta(minutes=5 * (10 - i)), None)
        for i in range(10)
    ]
    other = [Sample({"host": "db2"}, 90.0, NOW - dt.timedelta(minutes=5), None)]
    fig = view.metric_figure(
        samples + other,
        threshold=10.0,
        fired_at=NOW - dt.timedelta(minutes=15),
        resolved_at=None,
        labels={"host": "db1", "severity": "critical"},
        tz="UTC",
    )
    [values] = fig.data
    assert 90.0 not in list(values.y)  # only the alert's own series
    assert 10.0 in [shape.y0 for shape in fig.layout.shapes if shape.type == "line"]
    assert any(a.text == "fired" for a in fig.layout.annotations)

    banded = [
        Sample({}, 100.0, NOW - dt.timedelta(days=i), Band(low=80.0, high=120.0, mean=100.0))
        for i in range(5)
    ]
    fig = view.metric_figure(
        banded, threshold=None, fired_at=None, resolved_at=None, labels={}, tz="UTC"
    )
    assert [trace.name for trace in fig.data] == ["Expected range", "Expected", "Value"]
    nothing = view.metric_figure(
        [Sample({}, None, NOW, None)],
        threshold=None,
        fired_at=None,
        resolved_at=None,
        labels={},
        tz="UTC",
    )
    assert nothing["data"] == []


def test_series_window():
    detail = {"started_at": NOW - dt.timedelta(hours=1), "fired_at": NOW - dt.timedelta(hours=1)}
    start, end = view.series_window(detail, False, NOW)
    assert start == NOW - dt.timedelta(hours=7) and end == NOW
    start, _end = view.series_window(detail, True, NOW)
    assert start == NOW - dt.timedelta(days=30, hours=1)


def test_detail_shows_rule_link_only_to_admins():
    from bi_app.viewer import Viewer

    detail = {
        **_alert(),
        "annotations": {"summary": "Disk almost full"},
        "acknowledged_at": None,
        "resolved_at": None,
        "events": [{"at": NOW, "kind": "comment", "actor": "ann", "comment": "on it"}],
        "rule": {"id": 3, "name": "Disk free below 10 %", "recommended_action": "Free space."},
    }
    admin = view.detail_children(
        detail, figure=None, chart_error="boom", viewer=Viewer("admin", "KRW", "UTC"), now=NOW
    )
    text = str(admin)
    assert "/ops/alerts/rules?rule=3" in text and "Free space." in text and "boom" in text
    assert "on it" in text
    viewer = view.detail_children(
        detail, figure=None, chart_error=None, viewer=Viewer("viewer", "KRW", "UTC"), now=NOW
    )
    assert "/ops/alerts/rules?rule=3" not in str(viewer)


def test_tabs_for_each_role():
    assert [key for key, *_ in alerts_nav.visible_tabs("admin")] == [
        "alerts",
        "rules",
        "silences",
        "channels",
    ]
    assert [key for key, *_ in alerts_nav.visible_tabs("analyst")] == ["alerts"]
    assert [key for key, *_ in alerts_nav.visible_tabs("viewer")] == ["alerts"]
    assert alerts_nav.visible_tabs(None) == []
    assert OpsAlerts.nav_tab("rules") in _ids(alerts_nav.tabs("rules", "admin"))


def test_a_response_event_says_which_job_ran_and_how_it_went():
    from components.ops_alerts_view import event_text

    done = {"kind": "response", "detail": {"job": "customer_tags", "status": "succeeded"}}
    assert event_text(done) == "response job customer_tags: succeeded"
    failed = {
        "kind": "response",
        "detail": {"job": "source_sync", "status": "failed", "error": "TimeoutError: x\nmore"},
    }
    assert event_text(failed) == "response job source_sync: failed (TimeoutError: x)"
    assert event_text({"kind": "acknowledged", "detail": None}) == "acknowledged"
