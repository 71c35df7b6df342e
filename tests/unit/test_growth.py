"""Period-over-period and year-over-year maths, checked against dates and numbers worked out by
hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bi_app.analytics import growth

D = dt.date


@pytest.mark.parametrize(
    ("day", "granularity", "expected"),
    [
        (D(2024, 3, 13), "day", D(2024, 3, 13)),
        (D(2024, 3, 13), "week", D(2024, 3, 11)),  # a Wednesday -> its Monday
        (D(2024, 3, 11), "week", D(2024, 3, 11)),
        (D(2024, 3, 17), "week", D(2024, 3, 11)),  # Sunday ends the ISO week
        (D(2024, 3, 13), "month", D(2024, 3, 1)),
        (D(2024, 12, 31), "year", D(2024, 1, 1)),
    ],
)
def test_period_start(day, granularity, expected):
    assert growth.period_start(day, granularity) == expected


@pytest.mark.parametrize(
    ("day", "granularity", "n", "expected"),
    [
        (D(2024, 3, 1), "day", -1, D(2024, 2, 29)),
        (D(2024, 3, 11), "week", -1, D(2024, 3, 4)),
        (D(2024, 1, 15), "month", -1, D(2023, 12, 15)),
        (D(2024, 3, 31), "month", -1, D(2024, 2, 29)),  # clamped to the shorter month
        (D(2023, 3, 31), "month", -1, D(2023, 2, 28)),
        (D(2024, 12, 1), "month", 1, D(2025, 1, 1)),
        (D(2024, 11, 30), "month", 3, D(2025, 2, 28)),
        (D(2024, 1, 1), "year", -1, D(2023, 1, 1)),
        (D(2024, 2, 29), "year", 1, D(2025, 2, 28)),
    ],
)
def test_shift_period(day, granularity, n, expected):
    assert growth.shift_period(day, granularity, n) == expected


@pytest.mark.parametrize(
    ("day", "granularity", "expected"),
    [
        (D(2024, 2, 29), "day", D(2023, 2, 28)),
        (D(2024, 6, 5), "day", D(2023, 6, 5)),
        (D(2024, 6, 1), "month", D(2023, 6, 1)),
        (D(2024, 1, 1), "year", D(2023, 1, 1)),
        # 52 weeks: Monday 2024-03-11 -> Monday 2023-03-13, the same weekday
        (D(2024, 3, 11), "week", D(2023, 3, 13)),
    ],
)
def test_year_earlier(day, granularity, expected):
    assert growth.year_earlier(day, granularity) == expected
    if granularity == "week":
        assert expected.weekday() == day.weekday() == 0


def test_periods_cover_partial_first_and_last():
    assert growth.periods(D(1998, 7, 1), D(2000, 2, 1), "year") == [
        D(1998, 1, 1),
        D(1999, 1, 1),
        D(2000, 1, 1),
    ]
    assert growth.periods(D(2024, 1, 15), D(2024, 3, 10), "month") == [
        D(2024, 1, 1),
        D(2024, 2, 1),
        D(2024, 3, 1),
    ]
    assert growth.periods(D(2024, 1, 10), D(2024, 1, 22), "week") == [
        D(2024, 1, 8),
        D(2024, 1, 15),
        D(2024, 1, 22),
    ]
    assert growth.periods(D(2024, 1, 30), D(2024, 2, 1), "day") == [
        D(2024, 1, 30),
        D(2024, 1, 31),
        D(2024, 2, 1),
    ]
    with pytest.raises(ValueError):
        growth.periods(D(2024, 2, 1), D(2024, 1, 1), "day")


def test_comparison_windows_shift_the_same_days():
    # Jan 15 .. Mar 10: the partial January is compared with Dec 15..31, March 1-10 with Feb 1-10
    assert growth.comparison_window(D(2024, 1, 15), D(2024, 3, 10), "month", "pop") == (
        D(2023, 12, 15),
        D(2024, 2, 10),
    )
    assert growth.comparison_window(D(2024, 1, 15), D(2024, 3, 10), "month", "yoy") == (
        D(2023, 1, 15),
        D(2023, 3, 10),
    )
    assert growth.comparison_window(D(2024, 1, 10), D(2024, 1, 22), "week", "pop") == (
        D(2024, 1, 3),
        D(2024, 1, 15),
    )
    assert growth.comparison_window(D(2024, 1, 10), D(2024, 1, 22), "week", "yoy") == (
        D(2023, 1, 11),
        D(2023, 1, 23),
    )
    with pytest.raises(ValueError):
        growth.comparison_window(D(2024, 1, 10), D(2024, 1, 22), "week", "mom")
    with pytest.raises(ValueError):
        growth.comparison_window(D(2024, 1, 10), D(2024, 1, 22), "quarter", "pop")


def _frame(rows):
    return pd.DataFrame(rows, columns=["period", "revenue_cents", "orders"])


def test_growth_table_monthly():
    current = _frame([(D(2024, 1, 1), 12000, 4), (D(2024, 2, 1), 9000, 3), (D(2024, 3, 1), 0, 0)])
    previous = _frame(
        [(D(2023, 12, 1), 10000, 5), (D(2024, 1, 1), 12000, 4), (D(2024, 2, 1), 9000, 3)]
    )
    year_ago = _frame([(D(2023, 1, 1), 6000, 2), (D(2023, 2, 1), 0, 0)])  # March 2023 missing = 0
    table = growth.growth_table(current, previous, year_ago, "month")

    assert list(table["period"]) == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    jan, feb, mar = table.to_dict("records")
    # Jan: 12000 vs Dec 10000 = +20 %; orders 4 vs 5 = -20 %; vs Jan 2023 6000 = +100 %
    assert jan["aov_cents"] == 3000
    assert jan["prev_revenue_cents"] == 10000 and jan["revenue_pop_pct"] == pytest.approx(20.0)
    assert jan["orders_pop_pct"] == pytest.approx(-20.0)
    assert jan["yoy_revenue_cents"] == 6000 and jan["revenue_yoy_pct"] == pytest.approx(100.0)
    assert jan["orders_yoy_pct"] == pytest.approx(100.0)
    # Feb: 9000 vs 12000 = -25 %; Feb 2023 had nothing: no YoY change
    assert feb["revenue_pop_pct"] == pytest.approx(-25.0)
    assert feb["yoy_revenue_cents"] == 0 and feb["revenue_yoy_pct"] is None
    # Mar: nothing sold: -100 % on February, no AOV
    assert mar["revenue_pop_pct"] == pytest.approx(-100.0)
    assert mar["aov_cents"] is None
    assert table["revenue_cents"].dtype == "int64"


def test_growth_table_weekly_uses_52_weeks_and_empty_comparisons():
    current = _frame([(D(2024, 3, 11), 700, 7)])
    year_ago = _frame([(D(2023, 3, 13), 350, 5), (D(2023, 3, 6), 9999, 9)])
    table = growth.growth_table(current, None, year_ago, "week")
    row = table.iloc[0]
    assert row["yoy_revenue_cents"] == 350 and row["revenue_yoy_pct"] == pytest.approx(100.0)
    assert row["orders_yoy_pct"] == pytest.approx(40.0)
    assert row["prev_revenue_cents"] == 0 and row["revenue_pop_pct"] is None
    assert growth.growth_table(_frame([]), None, None, "day").empty


def test_share_and_points():
    assert growth.share(1, 4) == 0.25
    assert growth.share(0, 0) is None and growth.share(None, 3) is None
    assert growth.change_points(0.15, 0.10) == pytest.approx(5.0)
    assert growth.change_points(0.15, None) is None


def test_summary_kpis():
    current = {"revenue_cents": 10700, "orders": 4, "lost_orders": 2, "all_orders": 7}
    previous = {"revenue_cents": 2000, "orders": 2, "lost_orders": 1, "all_orders": 3}
    year_ago = {"revenue_cents": 0, "orders": 0, "lost_orders": 0, "all_orders": 0}
    revenue, orders, aov, lost = growth.summary_kpis(current, previous, year_ago)
    assert (revenue.value, revenue.previous, revenue.pop_change) == (
        10700,
        2000,
        pytest.approx(435.0),
    )
    assert revenue.yoy_change is None
    assert orders.pop_change == pytest.approx(100.0)
    assert aov.value == 2675 and aov.previous == 1000 and aov.pop_change == pytest.approx(167.5)
    assert aov.year_ago is None and aov.yoy_change is None
    # 2/7 vs 1/3 of orders lost: -4.76 points; a share has no percent change
    assert lost.kind == "share" and lost.value == pytest.approx(2 / 7)
    assert lost.pop_change == pytest.approx((2 / 7 - 1 / 3) * 100)
    assert lost.year_ago is None and lost.yoy_change is None
