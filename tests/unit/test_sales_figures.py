"""The Sales page's builders: data in, traces, axes and text out; and the cross-filter helpers
with the values Dash really hands a callback."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bi_app.analytics import growth
from bi_app.data.sales import ORDER_STATUSES
from components.cross_filter import clicked_code, filter_chips, toggle_selection
from components.figures import STATUS_COLORS, money_axis, platform_status_figure
from components.ids import Sales
from components.sales_figures import (
    category_figure,
    growth_figure,
    growth_kpi_cards,
    lost_figure,
    orders_figure,
    ranking_figure,
    revenue_figure,
    status_figure,
    trend_figures,
)

D = dt.date


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


@pytest.fixture
def growth_frame() -> pd.DataFrame:
    """Three days of revenue_growth output, built by the real growth maths."""
    current = pd.DataFrame(
        {
            "period": [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3)],
            "revenue_cents": [10000, 0, 25050],
            "orders": [2, 0, 5],
        }
    )
    previous = pd.DataFrame(
        {
            "period": [D(2023, 12, 31), D(2024, 1, 1)],
            "revenue_cents": [5000, 10000],
            "orders": [1, 2],
        }
    )
    year_ago = pd.DataFrame(
        {"period": [D(2023, 1, 1), D(2023, 1, 3)], "revenue_cents": [8000, 20000], "orders": [2, 4]}
    )
    return growth.growth_table(current, previous, year_ago, "day")


# --- KPI cards --------------------------------------------------------------------------------


def test_growth_kpi_cards_show_value_and_both_comparisons():
    kpis = growth.summary_kpis(
        {"revenue_cents": 10000, "orders": 4, "lost_orders": 1, "all_orders": 5},
        {"revenue_cents": 8000, "orders": 4, "lost_orders": 2, "all_orders": 5},
        {"revenue_cents": 0, "orders": 0, "lost_orders": 0, "all_orders": 0},
    )
    cols = growth_kpi_cards(kpis, "EUR")
    assert [c.children.id for c in cols] == [
        Sales.kpi_card(k) for k in ("revenue", "orders", "aov", "lost")
    ]
    revenue, orders, aov, lost = (_texts(c) for c in cols)
    assert "€100.00" in revenue and "+25.0%" in revenue and " vs previous period" in revenue
    assert "n/a" in revenue and " vs last year" in revenue  # nothing sold a year earlier
    assert "4" in orders and "+0.0%" in orders
    assert "€25.00" in aov
    # the lost share is in percent and its change in points; fewer lost orders is good news
    assert "20.0%" in lost and "-20.0 pts" in lost
    lost_delta = cols[3].children.children.children[2]
    assert "text-success" in lost_delta.className and lost_delta.title == "Previous period: 40.0%"
    revenue_delta = cols[0].children.children.children[2]
    assert (
        "text-success" in revenue_delta.className
        and revenue_delta.title == "Previous period: €80.00"
    )


# --- trend figures ----------------------------------------------------------------------------


def test_revenue_figure_bars_and_last_years_line(growth_frame):
    fig = revenue_figure(growth_frame, "day", "EUR")
    bars, line = fig["data"]
    assert bars["type"] == "bar" and list(bars["y"]) == [100.0, 0.0, 250.5]
    assert line["name"] == "Same period last year" and list(line["y"]) == [80.0, 0.0, 200.0]
    assert line["line"]["dash"] == "dot"
    assert (
        "Revenue €250.50" in bars["hovertext"][2]
        and "vs last year +25.2% (€200.00)" in bars["hovertext"][2]
    )
    assert "vs previous day n/a" in bars["hovertext"][2]  # nothing sold the day before
    yaxis = fig["layout"]["yaxis"]
    assert yaxis["tickprefix"] == "€" and yaxis["tickformat"] == "~s"


def test_growth_figure_has_both_comparisons_with_gaps(growth_frame):
    fig = growth_figure(growth_frame, "day")
    pop, yoy = fig["data"]
    assert pop["name"] == "vs previous day" and list(pop["y"]) == [100.0, -100.0, None]
    assert yoy["name"] == "vs last year" and list(yoy["y"]) == [25.0, None, 25.25]
    assert fig["layout"]["yaxis"]["ticksuffix"] == "%"


def test_orders_figure_orders_and_average_order_value(growth_frame):
    fig = orders_figure(growth_frame, "day", "EUR")
    orders, aov = fig["data"]
    assert list(orders["y"]) == [2, 0, 5]
    assert list(aov["y"]) == [50.0, None, 50.1] and aov["yaxis"] == "y2"
    yaxis, yaxis2 = fig["layout"]["yaxis"], fig["layout"]["yaxis2"]
    assert yaxis["tickformat"] == ",d"  # whole orders only
    assert yaxis2["tickprefix"] == "€" and yaxis2["tickformat"] == ",.0f"
    assert yaxis2["overlaying"] == "y" and yaxis2["side"] == "right"


def test_trend_figures_without_sales_say_so(growth_frame):
    nothing = growth_frame.assign(
        revenue_cents=0, orders=0, yoy_revenue_cents=0, revenue_pop_pct=None, revenue_yoy_pct=None
    )
    revenue, growth_fig, orders = trend_figures(nothing, "week", "EUR")
    assert _annotation_texts(revenue) == ["No sales in the selected period"]
    assert _annotation_texts(growth_fig) == ["No earlier sales to compare with"]
    assert _annotation_texts(orders) == ["No orders in the selected period"]
    monthly = trend_figures(growth_frame, "month", "EUR")
    assert all(f["layout"]["xaxis"]["dtick"] == "M1" for f in monthly)


def test_lost_figure_stacks_cancellations_and_refunds_with_their_share():
    df = pd.DataFrame(
        {
            "period": [D(2024, 1, 1), D(2024, 2, 1)],
            "cancelled_orders": [1, 0],
            "cancelled_cents": [1000, 0],
            "refunded_orders": [2, 0],
            "refunded_cents": [6000, 0],
            "all_orders": [8, 4],
            "lost_share": [0.375, 0.0],
        }
    )
    fig = lost_figure(df, "month", "EUR")
    cancelled, refunded, share = fig["data"]
    assert (cancelled["name"], list(cancelled["y"])) == ("Cancelled", [1, 0])
    assert (refunded["name"], list(refunded["y"])) == ("Refunded", [2, 0])
    assert list(refunded["customdata"]) == ["€60.00", "€0.00"]
    assert cancelled["marker"]["color"] == STATUS_COLORS["cancelled"]
    assert list(share["y"]) == [37.5, 0.0] and share["yaxis"] == "y2"
    layout = fig["layout"]
    assert layout["barmode"] == "stack" and layout["yaxis"]["dtick"] == 1  # at most 3 lost a month
    assert _annotation_texts(lost_figure(df.assign(all_orders=0), "month", "EUR")) == [
        "No orders in the selected period"
    ]


# --- breakdowns -------------------------------------------------------------------------------


def test_platform_status_figure_clickable_carries_codes_and_draws_unknown_statuses():
    df = pd.DataFrame(
        [
            ("web", "Web", "paid", 3, 3000),
            ("web", "Web", "on_hold", 2, 0),  # not a known status: must still be drawn
            ("app", "Mobile app", "refunded", 9, 900),
        ],
        columns=["platform", "platform_name", "status", "orders", "revenue_cents"],
    )
    fig = platform_status_figure(df, clickable=True)
    data = fig["data"]
    names = [t["name"] for t in data]
    assert names == [s.capitalize() for s in ORDER_STATUSES] + ["On_hold"]
    on_hold = data[-1]
    assert dict(zip(on_hold["x"], on_hold["y"])) == {"Mobile app": 0, "Web": 2}
    assert on_hold["marker"]["color"] not in STATUS_COLORS.values()
    assert sum(sum(t["y"]) for t in data) == 14  # every order drawn, unknown status included
    assert list(data[0]["x"]) == ["Mobile app", "Web"]  # 9 orders before 5
    assert all(list(t["customdata"]) == ["app", "web"] for t in data)
    assert fig["layout"]["clickmode"] == "event" and "click to filter" in data[0]["hovertemplate"]
    # the Overview's figure is the same chart without the click behaviour
    plain = platform_status_figure(df)
    assert [t["name"] for t in plain["data"]] == names
    assert plain["data"][0].get("customdata") is None
    assert plain["layout"].get("clickmode") is None


def test_status_figure_in_lifecycle_order_with_shares():
    df = pd.DataFrame(
        {
            "status": ["paid", "refunded"],
            "orders": [3, 1],
            "revenue_cents": [4500, 1200],
            "share": [0.75, 0.25],
        }
    )
    fig = status_figure(df, "EUR")
    (bar,) = fig["data"]
    assert list(bar["y"]) == ["Paid", "Refunded"] and list(bar["x"]) == [3, 1]
    assert list(bar["customdata"]) == ["paid", "refunded"]
    assert list(bar["text"]) == ["75.0%", "25.0%"]
    assert list(bar["marker"]["color"]) == [STATUS_COLORS["paid"], STATUS_COLORS["refunded"]]
    assert bar["hovertext"][1] == "Refunded: 1 orders (25.0%)<br>€12.00"
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"
    assert _annotation_texts(status_figure(df.assign(orders=0), "EUR")) == [
        "No orders in the selected period"
    ]


def test_category_figure_revenue_in_major_units_on_a_money_axis():
    df = pd.DataFrame(
        {
            "category": ["books", "toys"],
            "category_name": ["Books", "Toys"],
            "revenue_cents": [800000, 250000],
            "units": [5, 10],
            "orders": [3, 2],
            "share": [0.762, 0.238],
        }
    )
    fig = category_figure(df, "JPY")
    (bar,) = fig["data"]
    assert list(bar["x"]) == [800000.0, 250000.0]  # yen have no minor unit
    assert list(bar["y"]) == ["Books", "Toys"] and list(bar["customdata"]) == ["books", "toys"]
    assert list(bar["text"]) == ["76.2%", "23.8%"]
    assert fig["layout"]["xaxis"]["tickprefix"] == "¥"


def test_ranking_figure_by_revenue_or_units_keeps_the_top():
    df = pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "sku": ["B2", "B1", "T1"],
            "product": ["Atlas", "Novel", "Yo-yo"],
            "category": ["Books", "Books", "Toys"],
            "units": [3, 4, 9],
            "orders": [2, 3, 4],
            "revenue_cents": [7500, 4000, 4500],
            "share": [0.468, 0.25, 0.281],
        }
    )
    by_revenue = ranking_figure(df, "revenue", "EUR", top=2)
    (bar,) = by_revenue["data"]
    assert list(bar["y"]) == ["Atlas (B2)", "Novel (B1)"]
    assert list(bar["x"]) == [75.0, 40.0]
    assert by_revenue["layout"]["xaxis"]["tickprefix"] == "€"
    assert bar["hovertext"][0] == "#1 Atlas (B2)<br>€75.00 · 3 units · 46.8% of revenue"
    by_units = ranking_figure(df, "units", "EUR")
    assert list(by_units["data"][0]["x"]) == [3, 4, 9]
    assert by_units["layout"]["xaxis"].get("tickprefix") is None
    assert _annotation_texts(ranking_figure(df.iloc[0:0], "units", "EUR")) == [
        "No product sales in the selected period"
    ]


def test_money_axis_is_one_definition():
    axis = money_axis("EUR", side="right")
    assert axis["tickprefix"] == "€" and axis["tickformat"] == "~s" and axis["side"] == "right"
    assert money_axis("EUR", tickformat=",.0f")["tickformat"] == ",.0f"


# --- cross-filtering --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("click", "expected"),
    [
        ({"points": [{"curveNumber": 1, "x": "Web", "y": 3, "customdata": "web"}]}, "web"),
        ({"points": [{"customdata": ["refunded"]}]}, "refunded"),  # a bar with array customdata
        ({"points": [{"x": "Web", "y": 3}]}, None),  # a figure without codes
        ({"points": [{"customdata": ""}]}, None),
        ({"points": [{"customdata": []}]}, None),
        ({"points": []}, None),
        (None, None),
    ],
)
def test_clicked_code(click, expected):
    assert clicked_code(click) == expected


def test_toggle_selection_selects_one_and_clears_on_a_second_click():
    assert toggle_selection(None, "web") == ["web"]
    assert toggle_selection(["app"], "web") == ["web"]
    assert toggle_selection(["app", "web"], "web") == ["web"]
    assert toggle_selection(["web"], "web") == []


def test_filter_chips_one_per_active_filter_with_names():
    chips = filter_chips(
        {"platform": ("web",), "category": None, "status": ("refunded", "cancelled")},
        {"platform": {"web": "Web shop"}, "category": {"books": "Books"}},
    )
    label, platform, status = chips
    assert label.children == "Filtered by"
    assert platform.id == Sales.chip_clear("platform") and _texts(platform)[:2] == [
        "Platform: ",
        "Web shop",
    ]
    assert status.id == Sales.chip_clear("status")
    assert _texts(status)[:2] == ["Status: ", "Refunded, Cancelled"]  # no names: capitalized codes
    assert status.title == "Clear the status filter"
    assert getattr(status, "aria-label") == "Clear status filter Refunded, Cancelled"


def test_filter_chips_without_filters_explain_the_clicks():
    (hint,) = filter_chips({"platform": None, "category": [], "status": None}, {})
    assert hint.children.startswith("Click a platform, status or category")
