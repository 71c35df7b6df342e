"""The pure parts of the forecasts: quality math against hand-made series, the seasonal-naive
baseline, insights and their wording, the holiday country, the figure and the URL parsing."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bi_app import forecasting as fc
from components import forecasts_view as view

MONDAY = dt.date(2026, 1, 5)


def test_mape_skips_days_without_actuals():
    # |100-90|/100 = 0.1, |200-250|/200 = 0.25; the closed day (0) has no percentage error
    assert fc.mape([100, 0, 200], [90, 5, 250]) == pytest.approx(0.175)
    assert fc.mape([0, 0], [1, 2]) is None


def test_coverage_counts_actuals_inside_the_interval():
    assert fc.coverage([1, 5, 10, 3], [0, 0, 0, 4], [2, 4, 10, 6]) == pytest.approx(0.5)


def test_seasonal_naive_repeats_the_last_week():
    history = pd.Series(range(1, 15), index=pd.date_range(MONDAY, periods=14), dtype=float)
    assert list(fc.seasonal_naive(history, 9)) == [8, 9, 10, 11, 12, 13, 14, 8, 9]


def test_quality_summary_judges_against_the_targets():
    actual = [100.0] * 10
    good = fc.quality_summary(actual, [95] * 10, [90] * 8 + [101] * 2, [110] * 10, [80] * 10)
    assert good["mape"] == pytest.approx(0.05)
    assert good["baseline_mape"] == pytest.approx(0.2)
    assert good["coverage"] == pytest.approx(0.8)
    assert good["beats_baseline"] and good["coverage_ok"]
    # 0.18 > 0.8 x 0.2: not a win; every actual inside: too wide
    bad = fc.quality_summary(actual, [82] * 10, [0] * 10, [200] * 10, [80] * 10)
    assert not bad["beats_baseline"] and not bad["coverage_ok"]
    assert bad["coverage"] == 1.0


def test_backtest_origins_end_one_horizon_before_the_last_day():
    assert fc.backtest_origins(200) == [110, 130, 150, 170]


def test_insights_direction_change_and_peak():
    history = [(MONDAY + dt.timedelta(days=i), 10.0) for i in range(14)]
    ahead = [(MONDAY + dt.timedelta(days=14 + i), 20.0 if i % 7 == 5 else 11.0) for i in range(14)]
    found = fc.insights(history, ahead, 7)
    # forecast week: 6 x 11 + 20 = 86 against 70 -> +22.857 %
    assert found.change_pct == pytest.approx((86 / 70 - 1) * 100)
    assert found.direction == "up"
    assert found.peak_weekday == 5  # Saturday
    flat = fc.insights(history, [(d, 10.1) for d, _v in ahead], 7)
    assert flat.direction == "flat"
    down = fc.insights(history, [(d, 5.0) for d, _v in ahead], 7)
    assert down.direction == "down" and down.change_pct == pytest.approx(-50)
    short = fc.insights(history[:3], ahead, 7)
    assert short.change_pct is None and short.direction == "flat"


def test_insight_sentences_in_plain_words():
    found = fc.Insights("up", 12.0, 112.0, 100.0, 5)
    lines = fc.insight_sentences(found, "orders", 30)
    assert lines == [
        "Orders are expected to grow 12.0% over the next 30 days.",
        "The weekly peak is Saturday.",
    ]
    down = fc.insight_sentences(fc.Insights("down", -3.5, 1, 1, 0), "revenue", 7)
    assert down[0] == "Revenue is expected to fall 3.5% over the next 7 days."
    assert down[1] == "The weekly peak is Monday."


def test_quality_sentences_say_whether_the_baseline_is_beaten():
    good = fc.quality_sentences(
        {"mape": 0.081, "baseline_mape": 0.123, "coverage": 0.8, "beats_baseline": True}
    )
    assert good == [
        "Beats the seasonal-naive baseline: MAPE 8.1% vs 12.3%.",
        "The 80 % interval held 80% of the actual days.",
    ]
    bad = fc.quality_sentences(
        {"mape": 0.2, "baseline_mape": 0.21, "coverage": 0.95, "beats_baseline": False}
    )
    assert bad[0].startswith("Does not beat the seasonal-naive baseline")
    assert "too wide" in bad[1]
    assert (
        "too narrow"
        in fc.quality_sentences(
            {"mape": 0.1, "baseline_mape": 0.2, "coverage": 0.5, "beats_baseline": True}
        )[1]
    )
    assert fc.quality_sentences({"mape": None, "baseline_mape": None}) == [
        "The backtest had no days to measure."
    ]


def test_holiday_country_follows_locale_and_time_zone():
    assert fc.holiday_country("ko", "UTC") == "KR"
    assert fc.holiday_country("en", "Asia/Seoul") == "KR"
    assert fc.holiday_country("en", "UTC") == "US"
    frame = fc.holidays_frame("KR", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert pd.Timestamp("2026-03-01") in set(frame["ds"])  # Independence Movement Day
    # a day either side; the lunar festivals' seasons: test_forecasting_filters
    assert set(frame["lower_window"]) == {-1, -14} and set(frame["upper_window"]) == {1, 5}


def _points(history_days: int = 100, ahead_days: int = 90) -> pd.DataFrame:
    days = [MONDAY + dt.timedelta(days=i) for i in range(history_days + ahead_days)]
    return pd.DataFrame(
        {
            "day": days,
            "yhat": [10.0] * len(days),
            "yhat_lower": [8.0] * len(days),
            "yhat_upper": [12.0] * len(days),
            "actual": [9.0] * history_days + [None] * ahead_days,
        }
    )


def test_figure_shows_history_forecast_and_band():
    fig = view.forecast_figure(_points(), "orders", 7, "EUR")
    band, actual, forecast = fig["data"]
    assert forecast["x"][0].startswith((MONDAY + dt.timedelta(days=100)).isoformat())
    assert len(forecast["y"]) == 7 and forecast["y"] == [10.0] * 7
    assert band["fill"] == "toself" and band["y"] == [12.0] * 7 + [8.0] * 7
    assert len(actual["y"]) == 60  # max(60, 3 x 7) history days
    assert len(view.forecast_figure(_points(), "revenue", 90, "EUR")["data"][1]["y"]) == 100
    empty = view.forecast_figure(pd.DataFrame(), "orders", 7, "EUR")
    assert empty["data"] == []


def test_query_parsing_falls_back_with_a_notice():
    assert view.parse_query({"series": "orders", "horizon": "90"}) == ("orders", 90, [])
    series, horizon, notices = view.parse_query({"series": "x", "horizon": "12"})
    assert (series, horizon) == ("revenue", 30) and len(notices) == 2
    assert view.picked("orders", "7") == ("orders", 7)
    assert view.picked("orders", 8) is None and view.picked("x", 7) is None


def test_no_forecast_says_the_job_has_not_run():
    fig, quality, insights, text = view.forecast_view(None, "revenue", 30, "EUR")
    assert "has not run yet" in text
    assert fig["data"] == [] and "has not run yet" in fig["layout"]["annotations"][0]["text"]
    assert "has not run yet" in quality.children and "has not run yet" in insights.children


def test_too_little_history_and_failures_are_said():
    latest = {"status": "insufficient_history"}
    text = view.status_text({"run": None, "latest": latest, "points": pd.DataFrame()})
    assert text == "The last fit found too little history: at least 60 days of sales are needed."
    fig, *_rest = view.forecast_view(
        {"run": None, "latest": latest, "points": pd.DataFrame()}, "orders", 7, "EUR"
    )
    assert "too little history" in fig["layout"]["annotations"][0]["text"]
    run = {
        "fitted_at": dt.datetime(2026, 1, 2, 3, 4),
        "history_start": dt.date(2025, 1, 1),
        "history_end": dt.date(2026, 1, 1),
        "params": {"country": "KR"},
    }
    text = view.status_text({"run": run, "latest": {"status": "failed"}})
    assert "Jan 1, 2025 – Jan 1, 2026; holidays of South Korea." in text
    assert text.endswith("The last fit failed; the forecast shown is the previous one.")


def test_country_names_follow_the_language():
    assert fc.country_name("US", "en") == "United States"
    assert fc.country_name("KR", "ko") == "대한민국"
