"""The builders of the alert admin pages (rules, silences, channels): the form per kind, the raw
dicts handed to the services, the backtest figure's markers, the matcher text round trip."""

from __future__ import annotations

import datetime as dt
import json

import plotly.graph_objects as go
import pytest

from bi_app.alerts import rules, sources
from components import ops_alert_channels_view as channels_view
from components import ops_alert_rules_view as rules_view
from components import ops_alert_silences_view as silences_view
from components.ids import OpsAlertChannels, OpsAlertRules

NOW = dt.datetime(2026, 12, 5, 3, 0)


def _ids(component) -> list:
    """Every id in a component tree."""
    found = []

    def walk(node):
        if isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
            return
        if not hasattr(node, "to_plotly_json"):
            return
        if getattr(node, "id", None) is not None:
            found.append(node.id)
        walk(getattr(node, "children", None))

    walk(component)
    return found


def _section_styles(component, section_id) -> dict:
    def walk(node):
        if isinstance(node, (list, tuple)):
            for item in node:
                hit = walk(item)
                if hit is not None:
                    return hit
            return None
        if not hasattr(node, "to_plotly_json"):
            return None
        if getattr(node, "id", None) == section_id:
            return node.style
        return walk(getattr(node, "children", None))

    return walk(component)


# --- rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("threshold", {"compare", "window"}),
        ("business", {"compare", "day"}),
        ("health", {"health"}),
        ("deviation", {"deviation", "day"}),
    ],
)
def test_rule_form_shows_the_fields_of_its_kind(kind, shown):
    styles, options, label = rules_view.kind_view(kind, sources.METRICS, sources.HEALTH_CHECKS)
    visible = {
        key for key, style in zip(rules_view.SECTIONS, styles) if style != {"display": "none"}
    }
    assert visible == shown
    values = {o["value"] for o in options}
    if kind == "health":
        assert label == "Health check"
        assert values == set(sources.HEALTH_CHECKS)
    else:
        assert label == "Metric"
        expected = {name for name, info in sources.METRICS.items() if kind in info.kinds}
        assert values == expected and values
    # the layout draws the same sections for a rule of this kind
    form = rules_view.rule_form(
        {**rules_view.DEFAULTS, "kind": kind},
        metrics=sources.METRICS,
        checks=sources.HEALTH_CHECKS,
        channels=["ops-mail"],
        jobs=["refresh_rollups"],
        title="t",
    )
    for key in rules_view.SECTIONS:
        style = _section_styles(form, OpsAlertRules.section(key))
        assert (style != {"display": "none"}) == (key in shown), key
    ids = _ids(form)
    for field in rules_view.FIELDS:
        assert OpsAlertRules.field(field) in ids, field
        assert OpsAlertRules.feedback(field) in ids, field


def test_raw_rule_takes_the_kinds_params_and_seconds():
    form = {
        **rules_view.DEFAULTS,
        "name": " Slow pages ",
        "kind": "threshold",
        "metric": "http_p95_ms",
        "operator": ">=",
        "threshold": 800,
        "window_minutes": 10,
        "k": 3,
        "runs": 2,
        "for_minutes": 5,
        "cooldown_minutes": 1.5,
        "labels": "team=ops",
        "targets": ["ops-mail"],
        "escalation_minutes": "",
        "response_job": "",
    }
    raw = rules_view.raw_rule(form)
    assert raw["name"] == "Slow pages"
    assert raw["params"] == {"operator": ">=", "threshold": 800, "window_minutes": 10}
    assert raw["for_seconds"] == 300 and raw["cooldown_seconds"] == 90
    assert raw["escalation_minutes"] is None and raw["response_job"] is None
    spec = rules.validate_rule(raw, metrics=sources.METRICS)
    assert spec.params == {"operator": ">=", "threshold": 800.0, "window_minutes": 10}
    assert spec.labels == {"team": "ops"}

    deviation = rules_view.raw_rule({**form, "kind": "deviation", "metric": "http_error_rate"})
    assert set(deviation["params"]) == {"k", "weeks", "direction", "day"}


def test_form_values_round_trip_a_stored_rule():
    stored = {
        "id": 7,
        "name": "Disk",
        "kind": "health",
        "metric": "disk",
        "params": {"runs": 3, "status": "degraded"},
        "severity": "critical",
        "labels": {"team": "ops", "area": "infra"},
        "for_seconds": 120,
        "cooldown_seconds": 900,
        "targets": ["pager"],
        "escalation_minutes": 30,
        "escalation_targets": ["boss"],
        "response_job": "health_checks",
        "recommended_action": "Free space",
        "description": "",
        "enabled": False,
    }
    values = rules_view.form_values(stored)
    assert values["labels"] == "area=infra, team=ops"
    assert values["for_minutes"] == 2 and values["cooldown_minutes"] == 15
    raw = rules_view.raw_rule(values)
    spec = rules.validate_rule(raw, health_checks=sources.HEALTH_CHECKS)
    assert spec.params == stored["params"]
    assert spec.for_seconds == 120 and spec.cooldown_seconds == 900
    assert spec.labels == stored["labels"] and spec.enabled is False
    assert spec.targets == ("pager",) and spec.escalation_targets == ("boss",)


def test_a_validation_error_is_shown_under_its_field():
    fields = rules_view.FIELDS
    invalid, messages = rules_view.field_feedback("for_seconds", "too long", fields)
    assert invalid[fields.index("for_minutes")] and sum(invalid) == 1
    assert messages[fields.index("for_minutes")] == "too long"
    invalid, _messages = rules_view.field_feedback("threshold", "a number", fields)
    assert invalid[fields.index("threshold")]


def _series(days: int = 30) -> list[dict]:
    return [
        {"at": NOW - dt.timedelta(hours=h), "value": float(h % 24), "low": None, "high": None}
        for h in range(days * 24, -1, -6)
    ]


def test_backtest_figure_marks_each_firing_and_draws_the_threshold():
    series = _series()
    fired = [NOW - dt.timedelta(hours=18), NOW - dt.timedelta(days=20, hours=6)]
    result = {
        "series": series,
        "fired_7d": fired[:1],
        "fired_30d": fired,
        "error": None,
        "unit": "ms",
        "threshold": 15.0,
    }
    fig = rules_view.backtest_figure(result, "Asia/Seoul")
    go.Figure(fig)  # plotly accepts it
    markers = [t for t in fig["data"] if t.get("mode") == "markers"]
    assert len(markers) == 1 and len(markers[0]["x"]) == 2
    # in the business's time zone (Seoul: UTC+9), at the metric's value at that moment
    assert markers[0]["x"][0].startswith("2026-11-15T06:00")
    assert markers[0]["y"] == [6.0, 18.0]
    threshold = [t for t in fig["data"] if t.get("line", {}).get("dash") == "dash"]
    assert threshold and threshold[0]["y"] == [15.0, 15.0]
    text = rules_view.backtest_summary(result)
    assert text == (
        "This rule would have fired 1 time in the last 7 days and 2 times in the last 30 days."
    )


def test_backtest_figure_of_a_deviation_draws_the_band():
    series = [{**p, "low": 1.0, "high": 5.0} for p in _series(2)]
    result = {"series": series, "fired_7d": [], "fired_30d": [], "error": None, "unit": "percent"}
    fig = rules_view.backtest_figure(result, "UTC")
    assert any(t.get("fill") == "tonexty" for t in fig["data"])
    assert not any(t.get("mode") == "markers" for t in fig["data"])
    assert rules_view.backtest_summary(result).endswith("0 times in the last 30 days.")


def test_backtest_error_is_said_in_the_chart_and_the_text():
    result = {"series": [], "fired_7d": [], "fired_30d": [], "error": "Give the rule a name."}
    fig = rules_view.backtest_figure(result, "UTC")
    assert fig["layout"]["annotations"][0]["text"] == "Give the rule a name."
    assert "Give the rule a name." in rules_view.backtest_summary(result)


def test_rule_rows_show_status_and_errors():
    rows = rules_view.rule_rows(
        [
            {
                "id": 1,
                "name": "a",
                "display_name": "A",
                "kind": "deviation",
                "metric": "m",
                "severity": "critical",
                "enabled": True,
                "status": "error",
                "last_error": "no data",
                "open_alerts": 2,
            }
        ]
    )
    assert rows[0]["name"] == "A"
    assert rows[0]["status"] == "error: no data"
    assert rows[0]["severity"] == "critical" and rows[0]["open_alerts"] == 2


# --- silences ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "team=ops, severity=~critical|emergency",
        "alertname!=Disk, host!~db-.*",
    ],
)
def test_matcher_text_round_trips(text):
    matchers = rules.validate_matchers(text)
    assert silences_view.matchers_text(matchers) == text
    assert rules.validate_matchers(silences_view.matchers_text(matchers)) == matchers


def test_times_are_typed_in_the_business_time_zone():
    start, end = silences_view.default_period(NOW, "Asia/Seoul")
    assert (start, end) == ("2026-12-05 12:00", "2026-12-05 14:00")
    assert silences_view.parse_local(start, "Asia/Seoul") == NOW
    assert silences_view.parse_local("2026-12-05T14:00", "Asia/Seoul") == NOW + dt.timedelta(
        hours=2
    )
    assert silences_view.parse_local("", "Asia/Seoul") is None
    with pytest.raises(ValueError):
        silences_view.parse_local("tomorrow", "Asia/Seoul")


def test_silences_table_offers_expire_only_while_running():
    rows = [
        {
            "id": 1,
            "matchers": [{"name": "team", "op": "=", "value": "ops"}],
            "starts_at": NOW - dt.timedelta(hours=1),
            "ends_at": NOW + dt.timedelta(hours=1),
            "reason": "deploy",
            "created_by": "admin",
            "active": True,
            "matching_open_alerts": 3,
        },
        {
            "id": 2,
            "matchers_text": "team=web",
            "starts_at": NOW - dt.timedelta(days=2),
            "ends_at": NOW - dt.timedelta(days=1),
            "reason": "old",
            "created_by": "admin",
            "active": False,
            "matching_open_alerts": 0,
        },
    ]
    table = silences_view.silences_table(rows, "UTC", NOW)
    ids = _ids(table)
    assert {"type": "ops-alert-silences-expire-button", "index": 1} in ids
    assert {"type": "ops-alert-silences-expire-button", "index": 2} not in ids
    body = json.dumps(table.to_plotly_json(), default=lambda o: o.to_plotly_json())
    assert "team=ops" in body and "team=web" in body


# --- channels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "shown", "secret"),
    [
        ("email", {"email"}, "SMTP password"),
        ("slack", set(), "Slack webhook URL"),
        ("webhook", {"url"}, "Signing secret"),
        ("sms", {"url", "sms"}, "Gateway token"),
    ],
)
def test_channel_form_shows_the_fields_of_its_kind(kind, shown, secret):
    styles, label, _help = channels_view.kind_view(kind)
    visible = {k for k, s in zip(channels_view.SECTIONS, styles) if s != {"display": "none"}}
    assert visible == shown
    assert label.startswith(secret)
    form = channels_view.channel_form(channels_view.form_values(None) | {"kind": kind}, "t")
    for key in channels_view.SECTIONS:
        style = _section_styles(form, OpsAlertChannels.section(key))
        assert (style != {"display": "none"}) == (key in shown), key


def test_channel_secret_is_never_filled_and_raw_config_per_kind():
    stored = {
        "id": 3,
        "name": "ops-mail",
        "kind": "email",
        "config": {
            "host": "smtp.example.com",
            "port": 587,
            "security": "starttls",
            "username": "bi",
            "from": "bi@example.com",
            "to": ["a@example.com", "b@example.com"],
        },
        "severities": ["critical"],
        "enabled": True,
        "has_secret": True,
    }
    values = channels_view.form_values(stored)
    assert values["secret"] == ""
    assert values["email_to"] == "a@example.com, b@example.com"
    raw = channels_view.raw_channel(values)
    assert raw["config"]["to"] == ["a@example.com", "b@example.com"]
    assert raw["config"]["host"] == "smtp.example.com" and raw["secret"] == ""
    hook = channels_view.raw_channel(
        {
            "name": "h",
            "kind": "webhook",
            "url": " https://x.example/h ",
            "secret": "k" * 16,
            "severities": ["emergency", "critical"],
            "enabled": True,
        }
    )
    assert hook["config"] == {"url": "https://x.example/h"}
    assert hook["severities"] == ["critical", "emergency"]
    sms = channels_view.raw_channel({"kind": "sms", "url": "https://g", "sms_to": "+821, +822"})
    assert sms["config"] == {"url": "https://g", "to": ["+821", "+822"]}
    assert (
        channels_view.field_feedback("to", "bad", "sms", channels_view.FIELDS)[
            channels_view.FIELDS.index("sms_to")
        ]
        == "bad"
    )


def test_test_result_and_log_rows():
    sent = channels_view.test_result({"status": "sent", "error": None})
    assert sent.children[0].children == "sent"
    failed = channels_view.test_result({"status": "failed", "error": "HTTP 500 from x:80"})
    assert failed.children[1].children == "HTTP 500 from x:80"
    rows = channels_view.log_rows(
        [
            {
                "id": 1,
                "channel": "hook",
                "created_at": NOW,
                "sent_at": NOW,
                "kind": "test",
                "status": "sent",
                "attempts": 1,
                "last_error": None,
                "subject": "Test",
            }
        ],
        "Asia/Seoul",
    )
    assert rows[0]["created_at"] == "2026-12-05 12:00:00" and rows[0]["status"] == "sent"


def test_backtest_figure_draws_a_line_per_series_without_a_legend_flood():
    series = [
        {"at": NOW - dt.timedelta(days=d), "value": float(e), "series": f"event={e}"}
        for e in range(10)
        for d in range(3)
    ]
    result = {"series": series, "fired_7d": [], "fired_30d": [], "error": None, "unit": "percent"}
    fig = rules_view.backtest_figure(result, "UTC")
    go.Figure(fig)
    lines = [t for t in fig["data"] if t.get("mode") == "lines"]
    assert len(lines) == 10 and all(len(t["x"]) == 3 for t in lines)
    assert sum(t["showlegend"] for t in lines) == 1
    few = rules_view.backtest_figure({**result, "series": series[:6]}, "UTC")
    assert [t["name"] for t in few["data"]] == ["event=0", "event=1"]
