"""Figure builders, number formatting and KPI cards: pure functions from data to what is drawn."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from bi_app.analytics.kpi import Kpi
from bi_app.db.models import ORDER_STATUSES
from components.figures import empty_figure, platform_status_figure, revenue_trend_figure
from components.format import format_change, format_count, format_money, format_value, to_major
from components.kpi_card import kpi_card, trend


def _texts(component) -> list[str]:
    out = []
    for node in component._traverse():
        if isinstance(node, str):
            out.append(node)
        elif isinstance(getattr(node, "children", None), str):
            out.append(node.children)
    return out


def _annotation_texts(fig: dict) -> list[str]:
    return [a["text"] for a in fig["layout"]["annotations"]]


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [
        (123456, "EUR", "€1,234.56"),
        (-5, "EUR", "-€0.05"),
        (0, "USD", "$0.00"),
        (1234567, "JPY", "¥1,234,567"),
        (100, "CHF", "CHF\u00a01.00"),  # CLDR currency spacing, as the browser's Intl writes it
        (1999.5, "EUR", "€20.00"),  # an average order value in cents rounds half up
    ],
)
def test_format_money(cents, currency, expected):
    assert format_money(cents, currency) == expected


@pytest.mark.parametrize("missing", [None, math.nan, math.inf])
def test_undefined_numbers_read_na(missing):
    assert format_money(missing, "EUR") == "n/a"
    assert format_count(missing) == "n/a"
    assert format_change(missing) == "n/a"


def test_change_and_counts():
    assert format_change(12.345) == "+12.3%"
    assert format_change(-0.04) == "-0.0%"
    assert format_count(1234567) == "1,234,567"
    assert format_value(250, "money", "GBP") == "£2.50"
    assert format_value(250, "count", "GBP") == "250"
    assert to_major(12345, "EUR") == 123.45 and to_major(12345, "JPY") == 12345.0


# --- KPI cards --------------------------------------------------------------------------------


def test_kpi_card_up_down_and_undefined():
    up = kpi_card(Kpi("revenue", "Revenue", 250000, 200000, 25.0, "money"), "EUR")
    texts = _texts(up)
    assert "€2,500.00" in texts and "+25.0%" in texts and "▲ " in texts
    assert "text-success" in up.children.children[2].className

    down = kpi_card(Kpi("orders", "Orders", 90, 100, -10.0, "count"), "EUR")
    assert "▼ " in _texts(down) and "text-danger" in down.children.children[2].className

    undefined = kpi_card(Kpi("aov", "Average order value", None, None, None, "money"), "EUR")
    texts = _texts(undefined)
    assert texts.count("n/a") == 2  # the value and the change
    assert not any(t in ("▲ ", "▼ ") for t in texts)
    assert trend(0.0)[1] == "text-body-secondary"


# --- revenue trend ----------------------------------------------------------------------------


def _trend_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": [dt.date(2024, 1, 3), dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
            "revenue_cents": [30000, 10050, 0],
            "orders": [3, 1, 0],
        }
    )


def test_revenue_trend_day_is_a_sorted_line_in_major_units():
    fig = revenue_trend_figure(_trend_frame(), "day", "EUR")
    (trace,) = fig["data"]
    assert trace["type"] == "scatter"
    assert [pd.Timestamp(x).date() for x in trace["x"]] == [dt.date(2024, 1, d) for d in (1, 2, 3)]
    assert list(trace["y"]) == [100.5, 0.0, 300.0]
    assert trace["hovertext"][0] == "2024-01-01<br>Revenue €100.50<br>Orders 1"
    assert fig["layout"]["yaxis"]["tickprefix"] == "€"
    assert fig["layout"]["paper_bgcolor"] == "rgba(0,0,0,0)"


@pytest.mark.parametrize(
    ("granularity", "label"), [("week", "Week of 2024-01-01"), ("month", "January 2024")]
)
def test_revenue_trend_week_and_month_are_bars(granularity, label):
    fig = revenue_trend_figure(_trend_frame(), granularity, "USD")
    assert fig["data"][0]["type"] == "bar"
    assert fig["data"][0]["hovertext"][0].startswith(label)
    assert "$100.50" in fig["data"][0]["hovertext"][0]


def test_revenue_trend_without_data_says_so():
    zeros = pd.DataFrame({"period": [dt.date(2024, 1, 1)], "revenue_cents": [0], "orders": [0]})
    for frame in (zeros, zeros.iloc[0:0]):
        fig = revenue_trend_figure(frame, "day", "EUR")
        assert fig["data"] == []
        assert _annotation_texts(fig) == ["No revenue in the selected period"]


# --- orders by platform and status ------------------------------------------------------------


def test_platform_status_has_every_status_stacked_and_platforms_by_total():
    df = pd.DataFrame(
        [
            ("web", "Web shop", "paid", 5),
            ("web", "Web shop", "refunded", 1),
            ("app", "Mobile app", "delivered", 9),
            ("app", "Mobile app", "cancelled", 2),
            ("app", "Mobile app", "on_hold", 1),
        ],
        columns=["platform", "platform_name", "status", "orders"],
    )
    fig = platform_status_figure(df)
    layout, data = fig["layout"], fig["data"]
    assert layout["barmode"] == "stack" and layout["legend"]["traceorder"] == "normal"
    names = [t["name"] for t in data]
    assert names == [s.capitalize() for s in ORDER_STATUSES] + ["On_hold"]
    by_name = {t["name"]: dict(zip(t["x"], t["y"])) for t in data}
    assert list(data[0]["x"]) == ["Mobile app", "Web shop"]  # 12 orders before 6
    assert by_name["Paid"] == {"Mobile app": 0, "Web shop": 5}
    assert by_name["Delivered"] == {"Mobile app": 9, "Web shop": 0}
    assert by_name["Pending"] == {"Mobile app": 0, "Web shop": 0}
    assert sum(sum(t["y"]) for t in data) == df["orders"].sum()
    assert len({t["marker"]["color"] for t in data}) == len(data)


def test_platform_status_without_data_and_empty_figure():
    empty = pd.DataFrame(columns=["platform", "platform_name", "status", "orders"])
    assert _annotation_texts(platform_status_figure(empty)) == ["No orders in the selected period"]
    fig = empty_figure("Orders by platform is unavailable right now")
    assert fig["layout"]["xaxis"]["visible"] is False and fig["layout"]["yaxis"]["visible"] is False
    assert _annotation_texts(fig) == ["Orders by platform is unavailable right now"]
