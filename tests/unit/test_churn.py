"""Churn-risk tag rules at their day boundaries, with default and changed thresholds."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bi_app.analytics.churn import ChurnThresholds, churn_tag, next_expected_visit, tag_frame

TODAY = dt.date(2024, 6, 30)
T = ChurnThresholds()


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (6, 6, None),  # 6 days after the first visit: too early
        (7, 7, "new_customer_followup"),  # exactly 7 days
        (7, 2, "new_customer_followup"),
        (30, 19, "new_customer_followup"),  # 19 days silent: not yet at risk
        (30, 20, "new_customer_at_risk"),  # 20 days silent
        (29, 29, "new_customer_at_risk"),  # 29: still "at risk", not yet reactivation
        (30, 30, "reactivation_needed"),  # 30
        (400, 300, "reactivation_needed"),
    ],
)
def test_new_customer_boundaries(first, last, expected):
    assert churn_tag("new", ago(first), ago(last), None, TODAY, T) == expected


@pytest.mark.parametrize(
    ("segment", "interval", "since_last", "expected"),
    [
        ("growing", 10.0, 15, None),  # exactly 50 % over: not late
        ("growing", 10.0, 16, "growing_delayed"),
        ("loyal", 4.0, 7, "loyal_delayed"),
        ("loyal", 4.0, 6, None),
        ("loyal", 40.0, 30, "reactivation_needed"),  # the 30-day rule applies to everyone
        ("loyal", 4.0, 29, "loyal_delayed"),
        ("vip", 2.0, 20, None),  # VIPs only get reactivation
        ("vip", 2.0, 30, "reactivation_needed"),
        ("growing", None, 25, None),  # no interval known: nothing to be late against
    ],
)
def test_delay_and_reactivation(segment, interval, since_last, expected):
    assert churn_tag(segment, ago(200), ago(since_last), interval, TODAY, T) == expected


def test_changed_thresholds_move_the_boundaries():
    t = ChurnThresholds(
        followup_days=3, new_at_risk_days=10, reactivation_days=15, delay_tolerance=0.0
    )
    assert churn_tag("new", ago(3), ago(3), None, TODAY, t) == "new_customer_followup"
    assert churn_tag("new", ago(10), ago(10), None, TODAY, t) == "new_customer_at_risk"
    assert churn_tag("new", ago(15), ago(15), None, TODAY, t) == "reactivation_needed"
    assert churn_tag("growing", ago(50), ago(11), 10.0, TODAY, t) == "growing_delayed"


def test_never_visited_gets_no_tag_and_datetimes_count_by_calendar_day():
    assert churn_tag("new", None, None, None, TODAY, T) is None
    late_evening = dt.datetime.combine(ago(20), dt.time(23, 59))
    assert churn_tag("new", late_evening, late_evening, None, TODAY, T) == "new_customer_at_risk"


def test_tag_frame_and_next_visit():
    stats = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "segment": ["new", "loyal", "growing"],
            "first_visit": [ago(7), ago(100), None],
            "last_visit": [ago(7), ago(9), None],
            "avg_interval_days": [None, 5.0, None],
        }
    )
    assert tag_frame(stats, TODAY, T).values.tolist() == [
        [1, "new_customer_followup"],
        [2, "loyal_delayed"],
    ]
    assert next_expected_visit(ago(9), 5.0) == ago(4)
    assert next_expected_visit(ago(9), None) is None
