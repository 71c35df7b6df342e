"""The pure alert logic: validation, conditions, backtests, fingerprints, silences, routing,
backoff."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from bi_app.alerts import rules

T0 = dt.datetime(2026, 12, 1, 9, 0)
METRICS = {
    "http_error_rate": SimpleNamespace(kinds=("threshold", "deviation")),
    "revenue_day": SimpleNamespace(kinds=("business", "deviation")),
}


def raw(**overrides):
    base = {
        "name": "Errors",
        "kind": "threshold",
        "metric": "http_error_rate",
        "params": {"operator": ">", "threshold": "5", "window_minutes": "5"},
        "severity": "critical",
        "labels": "team=ops, area=shop",
        "for_seconds": "120",
        "cooldown_seconds": "600",
    }
    base.update(overrides)
    return base


def spec(**overrides) -> rules.RuleSpec:
    return rules.validate_rule(raw(**overrides), metrics=METRICS)


def test_a_valid_rule_is_normalized():
    s = spec()
    assert s.params == {"operator": ">", "threshold": 5.0, "window_minutes": 5}
    assert s.labels == {"team": "ops", "area": "shop"}
    assert (s.for_seconds, s.cooldown_seconds, s.severity) == (120, 600, "critical")


@pytest.mark.parametrize(
    "overrides, field_name, text",
    [
        ({"name": " "}, "name", "Give the rule a name."),
        ({"kind": "magic"}, "kind", "Choose a rule type."),
        ({"metric": "revenue_day"}, "metric", "Choose a metric this rule type can watch."),
        ({"params": {"operator": "~", "threshold": 1}}, "operator", "Choose a comparison"),
        ({"params": {"operator": ">", "threshold": "lots"}}, "threshold", "must be a number"),
        ({"params": {"operator": ">", "threshold": "nan"}}, "threshold", "must be a number"),
        ({"severity": "panic"}, "severity", "Choose a severity."),
        ({"for_seconds": "-1"}, "for_seconds", "whole number from 0"),
        ({"for_seconds": "1.5"}, "for_seconds", "whole number from 0"),
        ({"labels": "team"}, "labels", "name=value"),
        ({"labels": "9team=x"}, "labels", "is not valid"),
        ({"escalation_minutes": "15"}, "escalation_targets", "Choose where an escalation goes"),
    ],
)
def test_an_invalid_rule_names_its_field(overrides, field_name, text):
    with pytest.raises(rules.RuleInvalid) as caught:
        spec(**overrides)
    assert caught.value.field == field_name
    assert text in str(caught.value)


def test_targets_and_jobs_are_checked_against_what_exists():
    with pytest.raises(rules.RuleInvalid, match="No such channel: pager"):
        rules.validate_rule(raw(targets=["pager", "mail"]), metrics=METRICS, channels=["mail"])
    with pytest.raises(rules.RuleInvalid, match="No such job: nope"):
        rules.validate_rule(raw(response_job="nope"), metrics=METRICS, jobs=["customer_tags"])
    ok = rules.validate_rule(
        raw(targets="mail", response_job="customer_tags"),
        metrics=METRICS,
        channels=["mail"],
        jobs=["customer_tags"],
    )
    assert ok.targets == ("mail",) and ok.response_job == "customer_tags"


def test_health_and_deviation_params_get_their_defaults():
    health = rules.validate_rule(
        {"name": "db", "kind": "health", "metric": "database", "params": {}},
        health_checks=["database"],
    )
    assert health.params == {"runs": 2}
    deviation = rules.validate_rule(
        {"name": "rev", "kind": "deviation", "metric": "revenue_day", "params": {"k": "2.5"}},
        metrics=METRICS,
    )
    assert deviation.params == {"k": 2.5, "weeks": 8, "direction": "both"}
    with pytest.raises(rules.RuleInvalid, match="from 0.5 to 10"):
        rules.validate_rule(
            {"name": "rev", "kind": "deviation", "metric": "revenue_day", "params": {"k": 20}},
            metrics=METRICS,
        )


@pytest.mark.parametrize(
    "operator, value, holds",
    [(">", 5.1, True), (">", 5.0, False), (">=", 5.0, True), ("<", 4.9, True), ("<=", 5.1, False)],
)
def test_threshold_conditions(operator, value, holds):
    s = spec(params={"operator": operator, "threshold": 5})
    assert rules.condition_holds(s, value) is holds


def test_no_data_never_fires_and_deviation_needs_a_band():
    assert rules.condition_holds(spec(), None) is False
    dev = rules.validate_rule(
        {
            "name": "r",
            "kind": "deviation",
            "metric": "revenue_day",
            "params": {"direction": "below"},
        },
        metrics=METRICS,
    )
    assert rules.condition_holds(dev, 10.0) is False  # no band: cannot judge
    assert rules.condition_holds(dev, 10.0, 50.0, 150.0) is True
    assert rules.condition_holds(dev, 200.0, 50.0, 150.0) is False  # above, but only below counts
    health = rules.validate_rule(
        {"name": "db", "kind": "health", "metric": "database", "params": {"runs": 3}}
    )
    assert rules.condition_holds(health, 2) is False and rules.condition_holds(health, 3) is True


def points(values, step=dt.timedelta(minutes=5)):
    return [rules.Point(T0 + i * step, v) for i, v in enumerate(values)]


def test_backtest_honours_the_for_duration():
    s = spec(for_seconds="600", cooldown_seconds="0")  # 10 minutes = two steps after the first
    series = points([1, 9, 9, 1, 9, 9, 9, 9, 1])
    assert rules.backtest(s, series) == [T0 + 6 * dt.timedelta(minutes=5)]


def test_backtest_honours_the_cooldown():
    s = spec(for_seconds="0", cooldown_seconds="1200")  # 20 minutes
    series = points([9, 1, 9, 1, 1, 1, 1, 9])
    # fires at 0; resolved at 5; true again at 10 (cooldown) and at 35 (past it)
    assert rules.backtest(s, series) == [T0, T0 + 7 * dt.timedelta(minutes=5)]


def test_fingerprints_are_stable_and_label_order_free():
    a = rules.fingerprint("rule:1", {"event": "x", "host": "h"})
    assert a == rules.fingerprint("rule:1", {"host": "h", "event": "x"})
    assert a != rules.fingerprint("rule:2", {"event": "x", "host": "h"})
    assert a != rules.fingerprint("rule:1", {"event": "y", "host": "h"})


def test_matchers_parse_and_match_like_alertmanager():
    matchers = rules.validate_matchers("team=ops, severity=~critical|emergency, env!=dev")
    assert rules.format_matchers(matchers) == "team=ops, severity=~critical|emergency, env!=dev"
    assert rules.silence_matches(matchers, {"team": "ops", "severity": "critical"})
    assert not rules.silence_matches(matchers, {"team": "ops", "severity": "warning"})
    assert not rules.silence_matches(
        matchers, {"team": "ops", "severity": "critical", "env": "dev"}
    )
    # the regex must match the whole value
    assert not rules.silence_matches(
        rules.validate_matchers("severity=~crit"), {"severity": "critical"}
    )
    with pytest.raises(rules.MatchersInvalid, match="not a valid regular expression"):
        rules.validate_matchers("team=~(")
    with pytest.raises(rules.MatchersInvalid, match="at least one matcher"):
        rules.validate_matchers(" ")
    with pytest.raises(rules.MatchersInvalid, match="name=value"):
        rules.validate_matchers("just words")


def test_routing_by_severity_and_targets():
    channels = [
        rules.ChannelRoute("mail", "email", ("warning", "critical", "emergency")),
        rules.ChannelRoute("pager", "sms", ("critical", "emergency")),
        rules.ChannelRoute("off", "slack", ("warning",), enabled=False),
    ]
    assert rules.routes("critical", (), channels) == ["mail", "pager"]
    assert rules.routes("warning", (), channels) == ["mail"]
    assert rules.routes("info", (), channels) == []
    assert rules.routes("info", ("pager",), channels) == ["pager"]
    assert rules.routes("critical", ("off",), channels) == []


def test_backoff_is_exponential_bounded_and_jittered():
    top = [rules.backoff_seconds(n, base=5, cap=600, rand=lambda: 1.0) for n in range(1, 10)]
    assert top == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert rules.backoff_seconds(3, rand=lambda: 0.5) == 10
    assert rules.backoff_seconds(1, rand=lambda: 0.0) == 1.0  # never hammered


def test_a_new_channel_takes_the_issues_routing_by_severity():
    assert rules.default_severities("email") == ["warning", "critical", "emergency"]
    assert rules.default_severities("slack") == ["warning", "critical", "emergency"]
    assert rules.default_severities("sms") == ["critical", "emergency"]
    assert rules.default_severities("webhook") == ["critical", "emergency"]
