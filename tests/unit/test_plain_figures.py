"""Figure builders return plain dicts in plotly's canonical form: the exact JSON go.Figure would
send, so skipping go.Figure's validation (~10x the cost of building) changes nothing drawn.

For every builder on representative data: ``go.Figure(result)`` accepts the dict (it validates
every property name and value) and serializes to the same JSON as the dict itself, which holds
plain JSON types only. The two places that used plotly helpers (make_subplots, add_hline) are
compared with what those helpers produce.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from plotly.io.json import to_json_plotly
from plotly.subplots import make_subplots

from bi_app.analytics import growth
from bi_app.channels.base import ChannelStats
from bi_app.channels.service import ChannelReport, ChannelResult
from components import event_figures as ev
from components import fallback
from components import sales_figures as sf
from components.figures import (
    base_layout,
    empty_figure,
    figure,
    iso_times,
    platform_status_figure,
    revenue_trend_figure,
)

STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]


def _daily(start: str, days: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "period": pd.date_range(start, periods=days, freq="D").date,
            "revenue_cents": rng.integers(0, 10**7, days),
            "orders": rng.integers(0, 500, days),
        }
    )


YEAR = _daily("2024-01-01", 366, 1)
TREND = growth.growth_table(YEAR, _daily("2023-01-01", 365, 2), _daily("2023-01-01", 365, 3), "day")
LOST = pd.DataFrame(
    {
        "period": YEAR["period"],
        "cancelled_orders": np.arange(366) % 7,
        "cancelled_cents": np.arange(366) * 101,
        "refunded_orders": np.arange(366) % 3,
        "refunded_cents": np.arange(366) * 57,
        "all_orders": 100 + np.arange(366) % 50,
    }
).assign(lost_share=lambda d: (d.cancelled_orders + d.refunded_orders) / d.all_orders)
PLATFORMS = pd.DataFrame(
    [
        (code, code.title(), status, (i * 7 + j * 3) % 40, 0)
        for i, code in enumerate(("web", "app", "market"))
        for j, status in enumerate([*STATUSES, "on_hold"])
    ],
    columns=["platform", "platform_name", "status", "orders", "revenue_cents"],
)
STATUS = pd.DataFrame(
    {
        "status": STATUSES,
        "orders": [5, 9, 3, 20, 1, 2],
        "revenue_cents": [500, 900, 300, 2000, 100, 250],
        "share": [5 / 40, 9 / 40, 3 / 40, 20 / 40, 1 / 40, 2 / 40],
    }
)
CATEGORIES = pd.DataFrame(
    {
        "category": ["books", "toys", "garden"],
        "category_name": ["Books", "Toys", "Home & Garden"],
        "revenue_cents": [800000, 250000, 1000],
        "units": [5, 10, 1],
        "orders": [3, 2, 1],
        "share": [0.76, 0.238, 0.002],
    }
)
RANKING = pd.DataFrame(
    {
        "rank": range(1, 13),
        "sku": [f"S{i}" for i in range(12)],
        "product": [f"Product {i}" for i in range(12)],
        "category": "Books",
        "units": range(40, 28, -1),
        "orders": 1,
        "revenue_cents": range(12000, 0, -1000),
        "share": 1 / 12,
    }
)
REPORT = ChannelReport(
    7,
    tuple(
        ChannelResult(
            c,
            ChannelStats(c, views, clicks, conv),
            status,
            dt.datetime(2024, 3, 1, 11),
            "demo",
        )
        for c, views, clicks, conv, status in (
            ("web", 1000, 200, 10, "live"),
            ("instagram", 500, 0, 0, "stale"),
            ("mail", 80, 20, 3, "live"),
        )
    ),
    dt.datetime(2024, 3, 1, 12),
)
CHECKINS = pd.DataFrame(
    {
        "hour": pd.Series(pd.date_range("2024-03-01 08:00", periods=30, freq="h")).astype(
            "datetime64[us]"
        ),
        "checkins": pd.array(range(30), dtype="int64"),
    }
)
PROFILE = pd.DataFrame(
    [
        ("returning", "new", 30),
        ("returning", "returning", 10),
        ("age_band", "18-24", 5),
        ("age_band", "25-34", 20),
        ("gender", "f", 22),
        ("gender", "m", 18),
        ("region", "Seoul", 7),
    ],
    columns=["dimension", "value", "participants"],
)
COMPARISON = pd.DataFrame(
    {
        "event_id": [3, 5, 9],
        "code": ["EV-3", "EV-5", "EV-9"],
        "name": ["Winter fair", "Spring fair", "Summer fair"],
        "starts_at": [dt.datetime(2023, 12, 2), dt.datetime(2024, 3, 9), dt.datetime(2024, 6, 1)],
        "roi": pd.array([0.25, None, -0.1], dtype="Float64"),
    }
)
COSTS = pd.DataFrame(
    {
        "category": ["venue", "catering", "marketing"],
        "cost_cents": pd.array([500_000, 250_000, 250_000], dtype="int64"),
        "share": [0.5, 0.25, 0.25],
    }
)

BUILDERS = {
    "trend day": lambda: revenue_trend_figure(YEAR, "day", "EUR"),
    "trend week": lambda: revenue_trend_figure(YEAR, "week", "USD"),
    "trend month": lambda: revenue_trend_figure(YEAR, "month", "KRW"),
    "trend empty": lambda: revenue_trend_figure(YEAR.iloc[0:0], "day", "EUR"),
    "platforms": lambda: platform_status_figure(PLATFORMS),
    "platforms clickable": lambda: platform_status_figure(PLATFORMS, clickable=True),
    "empty": lambda: empty_figure("Nothing to show"),
    "fallback": fallback.figure("The revenue trend"),
    "revenue day": lambda: sf.revenue_figure(TREND, "day", "EUR"),
    "revenue month": lambda: sf.revenue_figure(TREND.head(40), "month", "JPY"),
    "growth year": lambda: sf.growth_figure(TREND, "day"),
    "growth short": lambda: sf.growth_figure(TREND.head(20), "week"),
    "orders": lambda: sf.orders_figure(TREND, "day", "EUR"),
    "orders few": lambda: sf.orders_figure(TREND.head(3).assign(orders=[1, 0, 2]), "week", "USD"),
    "lost": lambda: sf.lost_figure(LOST, "day", "EUR"),
    "lost month": lambda: sf.lost_figure(LOST.head(3), "month", "EUR"),
    "status": lambda: sf.status_figure(STATUS, "EUR"),
    "category": lambda: sf.category_figure(CATEGORIES, "JPY"),
    "ranking revenue": lambda: sf.ranking_figure(RANKING, "revenue", "EUR"),
    "ranking units": lambda: sf.ranking_figure(RANKING, "units", "EUR", top=5),
    "channels": lambda: ev.channel_figure(REPORT),
    "checkins": lambda: ev.checkins_figure(CHECKINS),
    "profile": lambda: ev.profile_figure(PROFILE),
    "profile one": lambda: ev.profile_figure(PROFILE[PROFILE.dimension == "gender"]),
    "comparison": lambda: ev.comparison_figure(COMPARISON, 5, 17.5),
    "costs": lambda: ev.costs_figure(COSTS, {"venue": 0.4, "catering": 0.2}, "EUR"),
    "costs krw": lambda: ev.costs_figure(COSTS, {}, "KRW"),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_returns_the_json_go_figure_would_send(name):
    fig = BUILDERS[name]()
    assert isinstance(fig, dict) and set(fig) == {"data", "layout"}
    assert all(isinstance(t, dict) and "type" in t for t in fig["data"])
    # plain JSON types only (no arrays, Series, timestamps or NaN): cheap and deterministic
    sent = json.loads(json.dumps(fig, allow_nan=False))
    assert sent == json.loads(to_json_plotly(fig))
    # go.Figure validates every property name and value, then serializes the same JSON: the
    # dict already says everything the way plotly would (titles as {"text": ...}, no magic
    # underscores, no None values, the template expanded)
    assert json.loads(pio.to_json(go.Figure(fig))) == sent
    assert sent["layout"]["paper_bgcolor"] == "rgba(0,0,0,0)"


def test_the_template_is_the_one_go_figure_sends_for_none():
    expected = go.Figure(layout={"template": "none"}).to_plotly_json()["layout"]["template"]
    assert figure([], base_layout())["layout"]["template"] == expected
    # base_layout itself keeps the name: go.Figure builders (update_layout) would merge a
    # template dict into plotly's default template instead of replacing it
    assert base_layout()["template"] == "none"
    fig = go.Figure(go.Bar(y=[1]))
    fig.update_layout(**base_layout())
    assert fig.to_plotly_json()["layout"]["template"] == expected


def test_iso_times_are_what_plotly_writes_for_dates():
    days = pd.Series([dt.date(2024, 1, 1), dt.date(2024, 2, 29)])
    hours = pd.Series([dt.datetime(2024, 3, 1, 9), dt.datetime(2024, 3, 1, 23, 30, 5)])
    assert iso_times(days) == ["2024-01-01T00:00:00", "2024-02-29T00:00:00"]
    for values in (days, hours, hours.astype("datetime64[us]")):
        stamps = pd.to_datetime(values)
        assert iso_times(values) == json.loads(to_json_plotly({"x": stamps}))["x"]


def test_trend_periods_are_iso_strings_in_date_order():
    fig = revenue_trend_figure(YEAR.iloc[::-1], "day", "EUR")
    (trace,) = fig["data"]
    assert trace["x"][0] == "2024-01-01T00:00:00" and trace["x"][-1] == "2024-12-31T00:00:00"
    assert len(trace["x"]) == len(trace["y"]) == len(trace["hovertext"]) == 366


@pytest.mark.parametrize("dims", [1, 2, 3, 4])
def test_profile_subplots_are_laid_out_as_make_subplots_does(dims):
    kept = list(ev.PROFILE_TITLES)[:dims]
    fig = ev.profile_figure(PROFILE[PROFILE.dimension.isin(kept)])
    titles = [ev.PROFILE_TITLES[d] for d in kept]
    ref = make_subplots(rows=1, cols=dims, subplot_titles=titles).to_plotly_json()["layout"]
    layout = fig["layout"]
    for i in range(1, dims + 1):
        suffix = "" if i == 1 else str(i)
        for axis in (f"xaxis{suffix}", f"yaxis{suffix}"):
            assert {k: layout[axis][k] for k in ("anchor", "domain")} == ref[axis]
        assert fig["data"][i - 1]["xaxis"] == f"x{suffix}"
        assert fig["data"][i - 1]["yaxis"] == f"y{suffix}"
        assert layout[f"xaxis{suffix}"]["tickangle"] == -35
    assert layout["annotations"] == ref["annotations"]
    assert f"xaxis{dims + 1}" not in layout


@pytest.mark.parametrize("average", [17.5, -2.25, 0.0])
def test_comparison_line_is_what_add_hline_draws(average):
    fig = ev.comparison_figure(COMPARISON, 5, average)
    ref = go.Figure(go.Bar(x=["a"], y=[1]))
    ref.add_hline(
        y=average,
        line={"color": ev.INDUSTRY_COLOR, "dash": "dash"},
        annotation_text=f"Industry average {average:.1f}%",
        annotation_position="top left",
    )
    ref_layout = ref.to_plotly_json()["layout"]
    drawn = go.Figure(fig).to_plotly_json()["layout"]
    assert drawn["shapes"] == ref_layout["shapes"]
    assert drawn["annotations"] == ref_layout["annotations"]


def test_empty_and_fallback_figures_are_dicts_with_one_message():
    for fig, text in (
        (empty_figure("No data"), "No data"),
        (fallback.figure("Orders by platform")(), "Orders by platform is unavailable right now"),
    ):
        assert fig["data"] == []
        assert [a["text"] for a in fig["layout"]["annotations"]] == [text]
        assert fig["layout"]["xaxis"] == {"visible": False}
    # a fresh dict per call: a caller changing one cannot change the next
    first, second = empty_figure("x"), empty_figure("x")
    first["layout"]["annotations"][0]["text"] = "changed"
    assert second["layout"]["annotations"][0]["text"] == "x"
