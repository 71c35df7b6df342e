"""Report periods: the last complete day, week and month, custom ranges, comparison periods and
labels, on hand-made dates."""

from __future__ import annotations

import datetime as dt

import pytest

from bi_app.reports.model import Period
from bi_app.reports.periods import (
    ReportError,
    custom_period,
    last_year,
    local_today,
    period_for,
    period_label,
    previous,
    utc_bounds,
)

D = dt.date
SEOUL = "Asia/Seoul"


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        (D(2026, 12, 5), D(2026, 12, 4), D(2026, 12, 4)),
        (D(2026, 1, 1), D(2025, 12, 31), D(2025, 12, 31)),
        (D(2024, 3, 1), D(2024, 2, 29), D(2024, 2, 29)),
    ],
)
def test_daily_is_yesterday(today, start, end):
    assert period_for("daily", today, "UTC") == Period("daily", start, end, "UTC")


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (D(2026, 12, 5), D(2026, 11, 23)),  # a Saturday: the week before the current one
        (D(2026, 12, 7), D(2026, 11, 30)),  # a Monday: the week that ended yesterday
        (D(2026, 12, 6), D(2026, 11, 23)),  # a Sunday: the current week is not complete
        (D(2027, 1, 4), D(2026, 12, 28)),  # across a year end
    ],
)
def test_weekly_is_the_last_complete_monday_to_sunday(today, start):
    period = period_for("weekly", today, "UTC")
    assert (period.start, period.end) == (start, start + dt.timedelta(days=6))
    assert period.start.weekday() == 0 and period.end.weekday() == 6 and period.days == 7
    assert period.end < today


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        (D(2026, 12, 5), D(2026, 11, 1), D(2026, 11, 30)),
        (D(2026, 12, 1), D(2026, 11, 1), D(2026, 11, 30)),
        (D(2026, 1, 15), D(2025, 12, 1), D(2025, 12, 31)),
        (D(2024, 3, 31), D(2024, 2, 1), D(2024, 2, 29)),
        (D(2025, 3, 1), D(2025, 2, 1), D(2025, 2, 28)),
    ],
)
def test_monthly_is_the_last_complete_calendar_month(today, start, end):
    assert period_for("monthly", today, SEOUL) == Period("monthly", start, end, SEOUL)


def test_unknown_kind_and_time_zone_are_refused():
    with pytest.raises(ReportError, match="daily, weekly, monthly"):
        period_for("yearly", D(2026, 1, 1), "UTC")
    with pytest.raises(ReportError, match="time zone"):
        period_for("daily", D(2026, 1, 1), "Mars/Olympus")


def test_today_depends_on_the_time_zone():
    instant = dt.datetime(2026, 12, 4, 20, 30)  # naive UTC: already Dec 5 in Seoul
    assert local_today("UTC", instant) == D(2026, 12, 4)
    assert local_today(SEOUL, instant) == D(2026, 12, 5)
    assert local_today("America/Los_Angeles", instant) == D(2026, 12, 4)


def test_custom_period_validation():
    today = D(2026, 12, 5)
    assert custom_period(D(2026, 11, 3), D(2026, 12, 5), "UTC", today=today).days == 33
    with pytest.raises(ReportError, match="before its start"):
        custom_period(D(2026, 12, 2), D(2026, 12, 1), "UTC", today=today)
    with pytest.raises(ReportError, match="at most 366 days; this range has 367"):
        custom_period(D(2025, 12, 1), D(2026, 12, 2), "UTC", today=today)
    assert custom_period(D(2025, 12, 5), D(2026, 12, 5), "UTC", today=today).days == 366
    with pytest.raises(ReportError, match="future"):
        custom_period(D(2026, 12, 1), D(2026, 12, 6), "UTC", today=today)
    with pytest.raises(ReportError, match="start and an end"):
        custom_period(None, D(2026, 12, 1), "UTC", today=today)  # type: ignore[arg-type]


def test_previous_period():
    week = Period("weekly", D(2026, 11, 30), D(2026, 12, 6), "UTC")
    assert previous(week) == Period("weekly", D(2026, 11, 23), D(2026, 11, 29), "UTC")
    day = Period("daily", D(2026, 3, 1), D(2026, 3, 1), "UTC")
    assert previous(day) == Period("daily", D(2026, 2, 28), D(2026, 2, 28), "UTC")
    march = Period("monthly", D(2024, 3, 1), D(2024, 3, 31), "UTC")
    assert previous(march) == Period("monthly", D(2024, 2, 1), D(2024, 2, 29), "UTC")
    january = Period("monthly", D(2026, 1, 1), D(2026, 1, 31), "UTC")
    assert previous(january) == Period("monthly", D(2025, 12, 1), D(2025, 12, 31), "UTC")
    custom = Period("custom", D(2026, 3, 1), D(2026, 3, 10), "UTC")
    assert previous(custom) == Period("custom", D(2026, 2, 19), D(2026, 2, 28), "UTC")


def test_last_year_handles_february_29():
    leap_day = Period("daily", D(2024, 2, 29), D(2024, 2, 29), "UTC")
    assert last_year(leap_day) == Period("daily", D(2023, 2, 28), D(2023, 2, 28), "UTC")
    feb_2025 = Period("monthly", D(2025, 2, 1), D(2025, 2, 28), "UTC")
    assert last_year(feb_2025) == Period("monthly", D(2024, 2, 1), D(2024, 2, 29), "UTC")
    feb_2024 = Period("monthly", D(2024, 2, 1), D(2024, 2, 29), "UTC")
    assert last_year(feb_2024) == Period("monthly", D(2023, 2, 1), D(2023, 2, 28), "UTC")
    week = Period("weekly", D(2026, 11, 30), D(2026, 12, 6), "UTC")
    assert last_year(week) == Period("weekly", D(2025, 11, 30), D(2025, 12, 6), "UTC")


def test_utc_bounds_in_the_business_time_zone():
    day = Period("daily", D(2026, 12, 4), D(2026, 12, 4), SEOUL)
    assert utc_bounds(day) == (dt.datetime(2026, 12, 3, 15), dt.datetime(2026, 12, 4, 15))
    utc = Period("monthly", D(2026, 11, 1), D(2026, 11, 30), "UTC")
    assert utc_bounds(utc) == (dt.datetime(2026, 11, 1), dt.datetime(2026, 12, 1))
    # a clock change inside the period: the week is 7 * 24 + 1 hours long in New York
    week = Period("weekly", D(2026, 11, 2), D(2026, 11, 8), "America/New_York")
    assert utc_bounds(week) == (dt.datetime(2026, 11, 2, 5), dt.datetime(2026, 11, 9, 5))
    fall = Period("weekly", D(2026, 10, 26), D(2026, 11, 1), "America/New_York")
    lo, hi = utc_bounds(fall)
    assert hi - lo == dt.timedelta(days=7, hours=1)


def test_labels_in_english_without_an_app():
    assert period_label(Period("daily", D(2026, 12, 4), D(2026, 12, 4), "UTC"), "en") == (
        "Fri, Dec 4, 2026"
    )
    week = Period("weekly", D(2026, 11, 30), D(2026, 12, 6), "UTC")
    assert period_label(week, "en") == "Week of Nov 30\u2009\u2013\u2009Dec 6, 2026"
    month = Period("monthly", D(2026, 11, 1), D(2026, 11, 30), "UTC")
    assert period_label(month, "en") == "November 2026"
    custom = Period("custom", D(2026, 11, 3), D(2026, 12, 2), "UTC")
    assert "Nov 3" in period_label(custom, "en") and "Dec 2, 2026" in period_label(custom, "en")


def test_labels_in_korean_inside_an_app(tmp_path):
    from flask import Flask

    from bi_app import i18n

    server = Flask(__name__)
    i18n.init_app(server)
    with server.app_context():
        month = Period("monthly", D(2026, 11, 1), D(2026, 11, 30), "UTC")
        assert period_label(month, "ko") == "2026년 11월"
        day = Period("daily", D(2026, 12, 4), D(2026, 12, 4), "UTC")
        assert period_label(day, "ko") == "2026년 12월 4일 (금)"
        week = Period("weekly", D(2026, 11, 30), D(2026, 12, 6), "UTC")
        label = period_label(week, "ko")
        assert "2026년 11월 30일~12월 6일" in label
        assert period_label(week, "en").startswith("Week of ")
