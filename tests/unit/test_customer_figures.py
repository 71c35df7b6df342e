"""Customers page builders (components/customer_figures.py): small hand-built frames shaped like
what bi_app/data/customers.py returns in, figures and components out. Every expected value below
was worked out by hand from the inputs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bi_app.analytics.kpi import Kpi
from components import customer_figures as figs
from tests.ui_tree import texts as _texts


def _message(fig) -> str:
    """The text of an empty figure (no traces, one annotation, hidden axes)."""
    assert len(fig["data"]) == 0
    layout = fig["layout"]
    assert layout["xaxis"]["visible"] is False and layout["yaxis"]["visible"] is False
    (annotation,) = layout["annotations"]
    return annotation["text"]


# --- segment_summary -> segment_figure ---------------------------------------------------------


def _summary(customers, revenue) -> pd.DataFrame:
    """The columns of customers.segment_summary(): all four segments in order with shares."""
    total_c, total_r = sum(customers), sum(revenue)
    return pd.DataFrame(
        {
            "segment": ["new", "growing", "loyal", "vip"],
            "customers": customers,
            "revenue_cents": revenue,
            "customer_share": [c / total_c if total_c else 0.0 for c in customers],
            "revenue_share": [r / total_r if total_r else 0.0 for r in revenue],
        }
    )


def test_segment_figure_draws_one_bar_per_segment_with_shares():
    fig = figs.segment_figure(_summary([3, 0, 0, 1], [1000, 0, 0, 3000]), "EUR")
    (bar,) = fig.data
    assert bar.type == "bar"
    assert list(bar.x) == ["New", "Growing", "Loyal", "VIP"]
    assert list(bar.y) == [3, 0, 0, 1]
    assert list(bar.customdata) == ["new", "growing", "loyal", "vip"]
    assert list(bar.text) == ["25% of revenue", "0% of revenue", "0% of revenue", "75% of revenue"]
    assert list(bar.marker.color) == ["#0dcaf0", "#20c997", "#0d6efd", "#6f42c1"]
    assert bar.hovertext[0] == "3 customers (75.0%)<br>€10.00 lifetime revenue (25.0%)"
    assert bar.hovertext[3] == "1 customers (25.0%)<br>€30.00 lifetime revenue (75.0%)"
    assert fig.layout.clickmode == "event"
    assert fig.layout.showlegend is False


def test_segment_figure_greys_out_every_segment_but_the_selected_one():
    fig = figs.segment_figure(_summary([3, 2, 4, 1], [100, 200, 300, 400]), "EUR", selected="loyal")
    grey = "rgba(128,128,128,0.35)"
    assert list(fig.data[0].marker.color) == [grey, grey, "#0d6efd", grey]


def test_segment_figure_money_follows_the_currency():
    fig = figs.segment_figure(_summary([1, 0, 0, 0], [1234, 0, 0, 0]), "KRW")
    assert fig.data[0].hovertext[0] == "1 customers (100.0%)<br>₩1,234 lifetime revenue (100.0%)"


@pytest.mark.parametrize(
    "summary",
    [
        _summary([0, 0, 0, 0], [0, 0, 0, 0]),
        pd.DataFrame(
            columns=["segment", "customers", "revenue_cents", "customer_share", "revenue_share"]
        ),
    ],
)
def test_segment_figure_without_customers_says_stats_are_not_computed(summary):
    assert _message(figs.segment_figure(summary, "EUR")) == figs.NO_STATS


# --- segment_trend -> segment_trend_figure -----------------------------------------------------


def test_segment_trend_figure_stacks_the_segments_per_month():
    jan, feb = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    rows = [
        (jan, "new", 5),
        (jan, "growing", 3),
        (jan, "loyal", 2),
        (jan, "vip", 0),
        (feb, "new", 4),
        (feb, "growing", 6),
        (feb, "loyal", 2),
        (feb, "vip", 1),
    ]
    fig = figs.segment_trend_figure(pd.DataFrame(rows, columns=["month", "segment", "customers"]))
    assert [t.type for t in fig.data] == ["bar"] * 4
    assert [t.name for t in fig.data] == ["New", "Growing", "Loyal", "VIP"]
    assert [list(t.y) for t in fig.data] == [[5, 4], [3, 6], [2, 2], [0, 1]]
    assert all(list(t.x) == [jan, feb] for t in fig.data)
    assert [t.marker.color for t in fig.data] == ["#0dcaf0", "#20c997", "#0d6efd", "#6f42c1"]
    assert fig.data[3].hovertemplate == "%{x|%B %Y}: %{y:,} VIP<extra></extra>"
    assert fig.layout.barmode == "stack"
    assert fig.layout.xaxis.tickformat == "%b %Y"


def test_segment_trend_figure_without_snapshots_says_stats_are_not_computed():
    empty = pd.DataFrame(columns=["month", "segment", "customers"])
    assert _message(figs.segment_trend_figure(empty)) == figs.NO_STATS


# --- segment_movement -> movement_figure -------------------------------------------------------


def _matrix(values) -> pd.DataFrame:
    """customers.segment_movement(): rows none + segments (from), columns segments (to)."""
    return pd.DataFrame(
        values,
        index=["none", "new", "growing", "loyal", "vip"],
        columns=["new", "growing", "loyal", "vip"],
        dtype="int64",
    )


def test_movement_figure_is_a_heatmap_from_start_segment_to_end_segment():
    values = [[1200, 0, 0, 0], [0, 7, 3, 0], [0, 0, 5, 2], [0, 0, 0, 9], [0, 0, 0, 4]]
    fig = figs.movement_figure(_matrix(values), dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    (heat,) = fig.data
    assert heat.type == "heatmap"
    assert list(heat.x) == ["New", "Growing", "Loyal", "VIP"]
    assert list(heat.y) == ["Not yet a customer", "New", "Growing", "Loyal", "VIP"]
    assert [list(r) for r in heat.z] == values
    assert list(heat.text[0]) == ["1,200", "0", "0", "0"]
    assert list(heat.text[1]) == ["0", "7", "3", "0"]
    assert heat.showscale is False
    assert fig.layout.xaxis.title.text == "Segment at the end of Mar 2024"
    assert fig.layout.yaxis.title.text == "Before Jan 2024"
    assert fig.layout.yaxis.autorange == "reversed"


def test_movement_figure_with_nobody_moving_says_stats_are_not_computed():
    fig = figs.movement_figure(_matrix([[0] * 4] * 5), dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert _message(fig) == figs.NO_STATS


# --- cohort_retention -> cohort_figure ---------------------------------------------------------

COHORT_COLUMNS = ["cohort", "months_since", "customers", "cohort_size", "retention"]


def test_cohort_figure_rows_are_cohorts_and_columns_months_since_first_order():
    jan, feb = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    # deliberately out of order: the figure sorts the cohorts itself
    table = pd.DataFrame(
        [
            (feb, 0, 4, 4, 1.0),
            (feb, 1, 2, 4, 0.5),
            (jan, 0, 1200, 1200, 1.0),
            (jan, 1, 480, 1200, 0.4),
            (jan, 2, 240, 1200, 0.2),
        ],
        columns=COHORT_COLUMNS,
    )
    fig = figs.cohort_figure(table)
    (heat,) = fig.data
    assert heat.type == "heatmap"
    assert list(heat.x) == ["0", "1", "2"]
    assert list(heat.y) == ["Jan 2024 (1,200)", "Feb 2024 (4)"]
    assert [list(r) for r in heat.text] == [["100%", "40%", "20%"], ["100%", "50%", ""]]
    assert list(heat.z[0]) == [1.0, 0.4, 0.2]
    assert heat.z[1][:2].tolist() == [1.0, 0.5] and pd.isna(heat.z[1][2])
    assert fig.layout.xaxis.title.text == "Months since first order"
    assert fig.layout.xaxis.type == "category"
    assert fig.layout.yaxis.autorange == "reversed"


def test_cohort_figure_without_first_orders_says_so():
    assert (
        _message(figs.cohort_figure(pd.DataFrame(columns=COHORT_COLUMNS)))
        == "No first orders in this period"
    )


# --- rfm_grid -> rfm_figure --------------------------------------------------------------------

RFM_COLUMNS = ["recency", "frequency", "customers", "monetary_avg", "spend_cents"]


def test_rfm_figure_places_each_cell_at_frequency_row_and_recency_column():
    grid = pd.DataFrame([(5, 1, 7, 3.4, 9000), (2, 3, 1500, 2.0, 100)], columns=RFM_COLUMNS)
    fig = figs.rfm_figure(grid)
    (heat,) = fig.data
    assert heat.type == "heatmap"
    assert list(heat.x) == [1, 2, 3, 4, 5] and list(heat.y) == [1, 2, 3, 4, 5]
    expected = [[None] * 5 for _ in range(5)]
    expected[0][4] = 7  # frequency 1, recency 5
    expected[2][1] = 1500  # frequency 3, recency 2
    assert [list(r) for r in heat.z] == expected
    assert heat.customdata[0][4] == "mean monetary score 3.4"
    assert heat.customdata[2][1] == "mean monetary score 2.0"
    assert heat.customdata[1][1] == ""
    assert fig.layout.xaxis.title.text == "Recency score (5 = bought most recently)"
    assert fig.layout.yaxis.title.text == "Frequency score"
    assert fig.layout.xaxis.dtick == 1 and fig.layout.yaxis.dtick == 1


def test_rfm_figure_without_scores_says_stats_are_not_computed():
    assert _message(figs.rfm_figure(pd.DataFrame(columns=RFM_COLUMNS))) == figs.NO_STATS


# --- tag_counts -> tags_figure -----------------------------------------------------------------

TAGS = [
    "new_customer_followup",
    "new_customer_at_risk",
    "reactivation_needed",
    "growing_delayed",
    "loyal_delayed",
]


def test_tags_figure_is_a_horizontal_bar_per_tag():
    counts = pd.DataFrame({"tag": TAGS, "customers": [12, 0, 30, 4, 1]})
    fig = figs.tags_figure(counts)
    (bar,) = fig.data
    assert bar.type == "bar" and bar.orientation == "h"
    assert list(bar.y) == [
        "Follow up (new)",
        "New, at risk",
        "Reactivation needed",
        "Growing, delayed",
        "Loyal, delayed",
    ]
    assert list(bar.x) == [12, 0, 30, 4, 1]
    assert bar.marker.color == "#fd7e14"
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.margin.l == 140


def test_tags_figure_without_tagged_customers_says_so():
    counts = pd.DataFrame({"tag": TAGS, "customers": [0] * 5})
    assert _message(figs.tags_figure(counts)) == "No customer carries a churn-risk tag"


# --- small builders ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("click", "expected"),
    [
        ({"points": [{"customdata": "vip"}]}, "vip"),
        ({"points": [{"customdata": "growing", "x": "Growing"}]}, "growing"),
        ({"points": [{"customdata": "none"}]}, None),  # a code that is not a segment
        ({"points": [{"x": "New"}]}, None),
        ({"points": []}, None),
        ({}, None),
        (None, None),
        ("vip", None),
    ],
)
def test_clicked_segment(click, expected):
    assert figs.clicked_segment(click) == expected


def test_list_count_says_how_many_match():
    assert figs.list_count(12345) == "12,345 matching customers"
    assert figs.list_count(1) == "1 matching customer"


def test_recompute_progress_by_phase():
    def status(phase, done, total):
        return {
            "phase": phase,
            "done": done,
            "total": total,
            "percent": done * 100 // max(total, 1),
        }

    assert figs.recompute_progress(status("starting", 0, 0)) == "Recomputing… starting"
    assert figs.recompute_progress(status("stats", 400_000, 1_000_000)) == (
        "Recomputing… 40 % (400,000 of 1,000,000 customers)"
    )
    assert figs.recompute_progress(status("aggregates", 10, 10)) == (
        "Recomputing… 100 % (10 customers; updating aggregates)"
    )


def test_status_text_before_the_first_recomputation():
    status = {"as_of": None, "computed_at": None, "customers": 0, "tagged": 0}
    assert figs.status_text(status, "UTC") == (
        "Customer profiles, segments and tags have not been computed yet."
    )


def test_status_text_shows_the_computation_time_in_the_business_time_zone():
    # 22:30 UTC on 1 April 2024 is 00:30 on 2 April in Berlin (CEST, UTC+2)
    status = {
        "as_of": dt.date(2024, 3, 31),
        "computed_at": dt.datetime(2024, 4, 1, 22, 30),
        "customers": 12345,
        "tagged": 678,
    }
    assert figs.status_text(status, "Europe/Berlin") == (
        "Profiles, segments and tags as of 2024-03-31, computed 2024-04-02 00:30: "
        "12,345 customers, 678 tagged."
    )


def test_status_text_without_a_computation_time():
    status = {"as_of": dt.date(2024, 3, 31), "computed_at": None, "customers": 3, "tagged": 0}
    assert figs.status_text(status, "UTC") == (
        "Profiles, segments and tags as of 2024-03-31: 3 customers, 0 tagged."
    )


def test_status_text_says_when_the_thresholds_changed_since():
    status = {"as_of": dt.date(2024, 3, 31), "computed_at": None, "customers": 3, "tagged": 0}
    text = figs.status_text({**status, "stale_thresholds": True}, "UTC")
    assert text.startswith("Profiles, segments and tags as of 2024-03-31: 3 customers")
    assert "thresholds changed since" in text


def test_tag_labels():
    assert figs.tag_labels("loyal_delayed, reactivation_needed") == (
        "Loyal, delayed; Reactivation needed"
    )
    assert figs.tag_labels("") == "" and figs.tag_labels(None) == ""


def test_tag_and_segment_options():
    assert figs.tag_options() == [
        {"label": "At risk (any tag)", "value": "at-risk"},
        {"label": "Follow up (new)", "value": "new_customer_followup"},
        {"label": "New, at risk", "value": "new_customer_at_risk"},
        {"label": "Reactivation needed", "value": "reactivation_needed"},
        {"label": "Growing, delayed", "value": "growing_delayed"},
        {"label": "Loyal, delayed", "value": "loyal_delayed"},
    ]
    assert figs.segment_options() == [
        {"label": "New", "value": "new"},
        {"label": "Growing", "value": "growing"},
        {"label": "Loyal", "value": "loyal"},
        {"label": "VIP", "value": "vip"},
    ]


# --- customer_kpis -> kpi_cards -----------------------------------------------------------------


def test_kpi_cards_show_rates_as_percentages_and_the_rest_as_counts_or_money():
    kpis = [
        Kpi("buyers", "Active customers", 120, 100, 20.0, "count"),
        Kpi("conversion", "Conversion rate", 0.125, 0.1, 25.0, "percent"),
        Kpi("repeat", "Repeat-purchase rate", None, 0.2, None, "percent"),
        Kpi("clv", "Lifetime value per customer", 12345, 15000, -17.7, "money"),
    ]
    cols = figs.kpi_cards(kpis, "EUR")
    assert len(cols) == 4
    assert [(c.xs, c.sm, c.xl) for c in cols] == [(12, 6, 3)] * 4
    cards = [c.children for c in cols]
    assert [card.id for card in cards] == [
        {"type": "customers-kpi-card", "index": k}
        for k in ("buyers", "conversion", "repeat", "clv")
    ]
    label, value, delta = cards[0].children.children
    assert (label.children, value.children) == ("Active customers", "120")
    assert "text-success" in delta.className and delta.title == "Previous period: 100"

    label, value, delta = cards[1].children.children
    assert (label.children, value.children) == ("Conversion rate", "12.5%")
    assert _texts(delta) == ["▲ ", "+25.0%", " vs previous period"]
    assert delta.title == "Previous period: 10.0%"
    assert "text-success" in delta.className

    _, value, delta = cards[2].children.children
    assert value.children == "n/a"
    assert _texts(delta)[:2] == ["", "n/a"]
    assert delta.title == "Previous period: 20.0%"
    assert "text-body-secondary" in delta.className

    _, value, delta = cards[3].children.children
    assert value.children == "€123.45"
    assert delta.title == "Previous period: €150.00"
    assert "text-danger" in delta.className
    assert "-17.7%" in _texts(delta)
