"""The pure parts of the forecast filters and deviations: filter keys, when a platform's or
category's series is too short or sparse to fit, whether a day deviates from its band, how far
off it is, the URL's platform and category, and the "Recent deviations" table."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bi_app import forecasting as fc
from components import forecasts_view as view

DAY = dt.date(2026, 3, 2)
STORED = [
    {"key": "platform:web", "kind": "platform", "code": "web", "label": "Web shop"},
    {"key": "category:toys", "kind": "category", "code": "toys", "label": "Toys"},
]


def test_filter_keys_round_trip_and_reject_nonsense():
    assert fc.filter_key("platform", "web") == "platform:web"
    assert fc.parse_filter_key("category:home_kitchen") == ("category", "home_kitchen")
    assert fc.parse_filter_key("") is None and fc.parse_filter_key(None) is None
    # a code may hold a colon; only the first one separates
    assert fc.parse_filter_key("platform:a:b") == ("platform", "a:b")
    for bad in ("platform", "channel:x", "category:", ":web"):
        with pytest.raises(ValueError):
            fc.parse_filter_key(bad)
    with pytest.raises(ValueError):
        fc.filter_key("region", "x")


def _series(values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range(DAY, periods=len(values)), dtype=float)


def test_short_or_sparse_slices_are_skipped_with_their_reason():
    assert fc.skip_reason(_series([5.0] * 120)) is None
    short = fc.skip_reason(_series([5.0] * 59))
    assert short == "59 days of history, 60 needed"
    # sales on 1 day in 3 of the last 90: 30 of 90 active (the older busy days do not count)
    sparse = _series([5.0] * 200 + [5.0 if i % 3 == 0 else 0.0 for i in range(90)])
    assert fc.active_share(sparse) == pytest.approx(30 / 90)
    assert fc.skip_reason(sparse) == "sales on 33% of the last 90 days, 50% needed"
    # exactly half is enough
    half = _series([5.0 if i % 2 == 0 else 0.0 for i in range(90)])
    assert fc.active_share(half) == 0.5 and fc.skip_reason(half) is None


def test_a_deviation_lies_outside_the_band_optionally_widened():
    assert not fc.is_deviation(100, 80, 120)
    assert not fc.is_deviation(80, 80, 120) and not fc.is_deviation(120, 80, 120)  # edges inside
    assert fc.is_deviation(121, 80, 120) and fc.is_deviation(79.5, 80, 120)
    # tolerance 0.25 of the 40-wide band: 10 beyond either edge
    assert not fc.is_deviation(130, 80, 120, tolerance=0.25)
    assert fc.is_deviation(130.5, 80, 120, tolerance=0.25)
    assert fc.is_deviation(69, 80, 120, tolerance=0.25)


def test_how_far_a_deviation_is_off():
    above = fc.Deviation("orders", "", DAY, 150.0, 100.0, 80.0, 120.0, 7)
    assert above.outside == 30.0 and above.direction == "above"
    assert above.off_pct == pytest.approx(0.5)
    below = fc.Deviation("orders", "", DAY, 60.0, 100.0, 80.0, 120.0, 7)
    assert below.outside == -20.0 and below.direction == "below"
    assert below.off_pct == pytest.approx(-0.4)
    assert fc.Deviation("attendance", "", DAY, 3.0, 0.0, 0.0, 0.0, 7).off_pct is None


def test_url_filters_are_checked_against_the_stored_runs():
    assert view.parse_filters({"platform": "web"}, STORED) == ("web", None, [])
    assert view.parse_filters({"category": "toys"}, STORED) == (None, "toys", [])
    platform, category, notices = view.parse_filters({"platform": "<script>"}, STORED)
    assert (platform, category) == (None, None)
    assert notices == ["No forecast is stored for platform '<script>'; showing all."]
    platform, category, notices = view.parse_filters(
        {"platform": "web", "category": "toys"}, STORED
    )
    assert (platform, category) == ("web", None) and "not both" in notices[0]
    # a platform code is not a category
    assert view.parse_filters({"category": "web"}, STORED)[:2] == (None, None)


def test_the_controls_pick_a_stored_filter_key():
    assert view.picked_filter("revenue", "web", None) == "platform:web"
    assert view.picked_filter("orders", None, "toys") == "category:toys"
    assert view.picked_filter("orders", "web", "toys") == "platform:web"
    assert view.picked_filter("orders", None, None) is None
    assert view.picked_filter("orders", 5, ["x"]) is None  # whatever the browser sends
    # new customers and attendance have no platform or category split
    assert view.picked_filter("attendance", "web", None) is None


def test_no_forecast_for_a_filter_says_why():
    _figure, *_rest, text = view.forecast_view(None, "revenue", 30, "EUR", filtered=True)
    assert "too short or too sparse" in text
    assert "has not run yet" not in text


def _texts(component) -> list[str]:
    out: list[str] = []

    def walk(node):
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
        elif node is not None and hasattr(node, "children"):
            walk(node.children)

    walk(component)
    return out


def test_deviations_table_rows():
    rows = [
        {
            "series": "revenue",
            "filter_key": "",
            "day": DAY,
            "actual": 1500.0,
            "expected": 1000.0,
            "lower": 800.0,
            "upper": 1200.0,
            "outside": 300.0,
            "off_pct": 0.5,
        },
        {
            "series": "orders",
            "filter_key": "",
            "day": DAY - dt.timedelta(days=1),
            "actual": 40.0,
            "expected": 50.0,
            "lower": 45.0,
            "upper": 55.0,
            "outside": -5.0,
            "off_pct": -0.2,
        },
    ]
    texts = _texts(view.deviations_table(rows, "EUR"))
    assert texts[:6] == ["Series", "Day", "Actual", "Expected", "Band (80 %)", "Deviation (%)"]
    assert "Daily revenue" in texts and "Daily orders" in texts
    assert "€1,500.00" in texts and "€800.00 – €1,200.00" in texts
    assert "+50.0%" in texts and "-20.0%" in texts
    empty = _texts(view.deviations_table([], "EUR"))
    assert empty == ["No day of the last 30 fell outside its forecast's 80 % band."]


def test_a_filtered_run_says_which_slice_it_is():
    run = {
        "filter_key": "platform:web",
        "status": "ok",
        "fitted_at": dt.datetime(2026, 3, 1, 3),
        "history_start": DAY,
        "history_end": DAY,
        "params": {"country": "US", "filter_label": "Web shop"},
    }
    text = view.status_text({"run": run, "latest": run})
    assert text.startswith("Platform Web shop only. Fitted ")
    total = {**run, "filter_key": ""}
    assert view.status_text({"run": total, "latest": total}).startswith("Fitted ")


def test_korean_festivals_span_their_gift_season():
    frame = fc.holidays_frame("KR", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    chuseok = frame[frame["holiday"] == "Chuseok"].iloc[0]
    assert chuseok["ds"] == pd.Timestamp(2026, 9, 25)
    assert (chuseok["lower_window"], chuseok["upper_window"]) == (-14, 5)
    seollal = frame[frame["holiday"] == "Korean New Year"].iloc[0]
    assert (seollal["lower_window"], seollal["upper_window"]) == (-14, 5)
    # every other holiday keeps a day either side, and no other country is touched
    others = frame[~frame["holiday"].isin(["Chuseok", "Korean New Year"])]
    assert set(others["lower_window"]) == {-1} and set(others["upper_window"]) == {1}
    us = fc.holidays_frame("US", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert set(us["lower_window"]) == {-1} and set(us["upper_window"]) == {1}
