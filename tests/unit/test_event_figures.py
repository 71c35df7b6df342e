"""Events page builders (components/event_figures.py): grid columns, summary cards, figures,
suggestions and the what-if result. Inputs are shaped like what bi_app/data/events.py and the
channel report return; every expected value was worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pandas as pd
import pytest

from bi_app.analytics.event_suggestions import Suggestion
from bi_app.analytics.roi import roi_figures
from bi_app.channels.base import ChannelStats
from bi_app.channels.service import ChannelReport, ChannelResult
from components import event_figures as figs
from components.figures import PRIMARY
from components.ids import EventDetail
from tests.ui_tree import texts as _texts
from tests.ui_tree import walk as _walk

GREY = figs.SECONDARY
ORANGE = figs.INDUSTRY_COLOR


def _message(fig) -> str:
    assert len(fig["data"]) == 0
    (annotation,) = fig["layout"]["annotations"]
    return annotation["text"]


def _of_type(node, name: str) -> list:
    return [n for n in _walk(node) if type(n).__name__ == name]


# --- list columns and percentages ----------------------------------------------------------------


def test_list_columns_name_every_grid_column_with_its_kind():
    columns = figs.list_columns()
    assert [(c.field, c.header, c.kind) for c in columns] == [
        ("code", "Code", "text"),
        ("name", "Event", "text"),
        ("status", "Status", "text"),
        ("starts_at", "Starts", "date"),
        ("cost_cents", "Cost", "money"),
        ("revenue_cents", "Revenue", "money"),
        ("roi", "ROI", "percent"),
        ("cost_per_attendee_cents", "Cost per attendee", "money"),
        ("attendance_rate", "Attendance rate", "percent"),
        ("registered", "Registered", "int"),
        ("attended", "Attended", "int"),
        ("kind", "Kind", "text"),
        ("organizer", "Organizer", "text"),
    ]
    assert columns[0].pinned == "left" and columns[0].width == 130
    assert [c.pinned for c in columns[1:]] == [None] * 12


@pytest.mark.parametrize(
    ("value", "signed", "expected"),
    [
        (Decimal("25.00"), False, "25.0%"),
        (Decimal("-3.46"), False, "-3.5%"),
        (Decimal("12.5"), True, "+12.5%"),
        (0.0, True, "+0.0%"),
        (None, False, "n/a"),
        (float("nan"), True, "n/a"),
    ],
)
def test_format_pct(value, signed, expected):
    assert figs.format_pct(value, signed=signed) == expected


# --- summary cards -------------------------------------------------------------------------------


def _summary(**overrides):
    """An EventSummary-like object (bi_app.data.events.EventSummary's fields that cards read)."""
    values = {
        "target_participants": 200,
        "participants_basis": "attended",
        "goal_pct": Decimal("75.00"),
        "participants": 150,
        "figures": roi_figures(
            cost_cents=1_000_000, revenue_cents=1_250_000, attendees=150, ticket_price_cents=5000
        ),
        "industry_avg_roi_pct": 12.0,
        "sales_growth_pct": Decimal("-3.50"),
        "sales_cents": 500_000,
        "previous_sales_cents": 518_135,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def _channels(**overrides):
    values = {
        "views": 12_500,
        "previous_views": 10_000,
        "previous_name": "Spring fair",
        "views_change_pct": Decimal("25.00"),
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def _card_texts(col) -> tuple[str, str, list[str]]:
    label, value, *lines = col.children.children.children
    return label.children, value.children, [line.children for line in lines]


def test_summary_cards_show_participants_views_roi_and_sales_growth():
    cols = figs.summary_cards(_summary(), _channels(), "EUR")
    assert [c.children.id for c in cols] == [
        EventDetail.summary_card(i) for i in ("participants", "views", "roi", "sales")
    ]
    assert [_card_texts(c) for c in cols] == [
        ("Participants", "150", ["attended", "75.0% of the goal of 200"]),
        ("Views", "12,500", ["+25.0% vs previous event", "Spring fair: 10,000"]),
        ("ROI", "25.0%", ["Industry average 12.0%", "Net profit €2,500.00"]),
        (
            "Sales growth",
            "-3.5%",
            ["€5,000.00 during the event", "€5,181.35 in the same time before"],
        ),
    ]
    assert "app-event-card-roi" in cols[2].children.className


def test_summary_cards_for_an_event_not_held_yet_without_a_goal():
    cols = figs.summary_cards(
        _summary(
            participants_basis="registered",
            target_participants=None,
            goal_pct=None,
            sales_growth_pct=None,
        ),
        _channels(),
        "EUR",
    )
    assert _card_texts(cols[0])[2] == ["registered (not held yet)", "No participant goal set"]
    assert _card_texts(cols[3])[1] == "n/a"


def test_summary_cards_when_channel_statistics_are_unavailable():
    cols = figs.summary_cards(_summary(), None, "EUR")
    assert _card_texts(cols[1]) == ("Views", "n/a", ["Channel statistics unavailable"])


def test_summary_cards_without_an_earlier_event_of_the_organizer():
    cols = figs.summary_cards(
        _summary(), _channels(previous_views=None, previous_name=None, views_change_pct=None), "EUR"
    )
    assert _card_texts(cols[1]) == ("Views", "12,500", ["No earlier event of this organizer"])


def test_summary_cards_name_an_unnamed_previous_event_generically():
    cols = figs.summary_cards(_summary(), _channels(previous_name=None), "EUR")
    assert _card_texts(cols[1])[2][1] == "previous event: 10,000"


# --- channels ------------------------------------------------------------------------------------


def _report(*results) -> ChannelReport:
    return ChannelReport(event_id=7, results=tuple(results), fetched_at=dt.datetime(2024, 3, 1, 12))


def _result(channel, views, clicks, conversions, status="live", source="demo"):
    return ChannelResult(
        channel,
        ChannelStats(channel, views, clicks, conversions),
        status,
        dt.datetime(2024, 3, 1, 11),
        source,
    )


def test_channel_figure_views_as_bars_and_conversion_rate_as_markers():
    report = _report(_result("web", 1000, 200, 10), _result("instagram", 500, 0, 0, status="stale"))
    fig = figs.channel_figure(report)
    bars, markers = fig["data"]
    assert (bars["type"], bars["name"]) == ("bar", "Views")
    assert list(bars["x"]) == ["web", "instagram"]
    assert list(bars["y"]) == [1000, 500]
    assert list(bars["marker"]["color"]) == [PRIMARY, GREY]  # a channel not live is grey
    assert [list(c) for c in bars["customdata"]] == [[200, 10], [0, 0]]
    assert (markers["type"], markers["name"], markers["mode"], markers["yaxis"]) == (
        "scatter",
        "Conversion rate",
        "markers",
        "y2",
    )
    assert list(markers["y"]) == [5.0, None]  # 10 of 200 clicks; no clicks -> no rate
    assert markers["marker"]["color"] == ORANGE
    yaxis, yaxis2 = fig["layout"]["yaxis"], fig["layout"]["yaxis2"]
    assert yaxis["title"]["text"] == "Views"
    assert yaxis2["title"]["text"] == "Conversion rate"
    assert (yaxis2["overlaying"], yaxis2["side"], yaxis2["ticksuffix"]) == ("y", "right", "%")


def test_channel_figure_without_views_or_clicks_says_so():
    report = _report(_result("web", 0, 0, 0), _result("mail", 0, 0, 0, status="missing"))
    assert _message(figs.channel_figure(report)) == "No channel statistics for this event"


def test_channel_table_has_a_row_per_channel_and_marks_non_live_sources():
    report = _report(
        _result("web", 12_345, 200, 10, source="demo"),
        _result("instagram", 500, 0, 0, status="stale", source="api"),
    )
    table = figs.channel_table(report)
    head, body = table.children
    assert [th.children for th in head.children.children] == [
        "Channel",
        "Views",
        "Clicks",
        "Conversions",
        "Conversion rate",
        "Source",
    ]
    assert [[td.children for td in tr.children] for tr in body.children] == [
        ["web", "12,345", "200", "10", "5.0%", "demo"],
        ["instagram", "500", "0", "0", "n/a", "api (stale)"],
    ]


def test_channel_notices_are_one_warning_each():
    alerts = figs.channel_notices(["Channel web unavailable — data from 10:42", "Channel x down"])
    assert [(a.children, a.color) for a in alerts] == [
        ("Channel web unavailable — data from 10:42", "warning"),
        ("Channel x down", "warning"),
    ]
    assert figs.channel_notices([]) == []


# --- check-ins and profile -----------------------------------------------------------------------


def test_checkins_figure_labels_each_hour_as_a_category():
    df = pd.DataFrame(
        {
            "hour": pd.Series(
                [
                    dt.datetime(2024, 3, 1, 9),
                    dt.datetime(2024, 3, 1, 10),
                    dt.datetime(2024, 3, 2, 14),
                ],
                dtype="datetime64[us]",
            ),
            "checkins": pd.array([12, 1500, 3], dtype="int64"),
        }
    )
    fig = figs.checkins_figure(df)
    (bar,) = fig["data"]
    assert bar["type"] == "bar"
    assert list(bar["x"]) == ["Mar 1 09:00", "Mar 1 10:00", "Mar 2 14:00"]
    assert list(bar["y"]) == [12, 1500, 3]
    assert bar["marker"]["color"] == PRIMARY
    assert fig["layout"]["xaxis"]["type"] == "category"
    assert fig["layout"]["yaxis"]["title"]["text"] == "Check-ins"


def test_checkins_figure_without_check_ins_says_so():
    empty = pd.DataFrame(
        {"hour": pd.Series([], dtype="datetime64[us]"), "checkins": pd.array([], dtype="int64")}
    )
    assert _message(figs.checkins_figure(empty)) == "No check-ins recorded"


def test_profile_figure_has_one_small_chart_per_dimension_in_a_fixed_order():
    # the dimensions arrive out of order and one (region) is missing
    df = pd.DataFrame(
        [
            ("returning", "new", 30),
            ("returning", "returning", 10),
            ("age_band", "18-24", 5),
            ("age_band", "25-34", 20),
            ("age_band", "unknown", 15),
            ("gender", "f", 22),
            ("gender", "m", 18),
        ],
        columns=["dimension", "value", "participants"],
    )
    fig = figs.profile_figure(df)
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["Age band", "Gender", "New vs returning"]
    assert [list(t["x"]) for t in fig["data"]] == [
        ["18-24", "25-34", "unknown"],
        ["f", "m"],
        ["new", "returning"],
    ]
    assert [list(t["y"]) for t in fig["data"]] == [[5, 20, 15], [22, 18], [30, 10]]
    assert [t["xaxis"] for t in fig["data"]] == ["x", "x2", "x3"]
    assert all(t["showlegend"] is False for t in fig["data"])
    assert fig["layout"]["xaxis3"]["tickangle"] == -35


def test_profile_figure_without_participants_says_so():
    empty = pd.DataFrame(columns=["dimension", "value", "participants"])
    assert _message(figs.profile_figure(empty)) == "No registered participants"


# --- comparison ----------------------------------------------------------------------------------


def _comparison() -> pd.DataFrame:
    """organizer_comparison(): events_list's columns for this event and the organizer's earlier
    ones."""
    return pd.DataFrame(
        {
            "event_id": [3, 5, 9],
            "code": ["EV-3", "EV-5", "EV-9"],
            "name": ["Winter fair", "Spring fair", "Summer fair"],
            "starts_at": [
                dt.datetime(2023, 12, 2, 10),
                dt.datetime(2024, 3, 9, 10),
                dt.datetime(2024, 6, 1, 9),
            ],
            "roi": pd.array([0.25, None, -0.1], dtype="Float64"),
        }
    )


def test_comparison_figure_highlights_this_event_and_draws_the_industry_average():
    fig = figs.comparison_figure(_comparison(), 5, 12.5)
    (bar,) = fig["data"]
    assert list(bar["x"]) == ["EV-3<br>Dec 2023", "EV-5<br>Mar 2024", "EV-9<br>Jun 2024"]
    y = bar["y"]
    assert y[0] == pytest.approx(25.0) and y[1] is None and y[2] == pytest.approx(-10.0)
    assert list(bar["marker"]["color"]) == [GREY, PRIMARY, GREY]
    assert list(bar["customdata"]) == ["Winter fair", "Spring fair", "Summer fair"]
    (line,) = fig["layout"]["shapes"]
    assert (line["y0"], line["y1"]) == (12.5, 12.5)
    assert line["line"]["color"] == ORANGE and line["line"]["dash"] == "dash"
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["Industry average 12.5%"]
    assert fig["layout"]["yaxis"]["ticksuffix"] == "%"
    assert fig["layout"]["showlegend"] is False


def test_comparison_figure_with_nothing_to_compare_says_so():
    assert (
        _message(figs.comparison_figure(_comparison().iloc[0:0], 5, 12.5)) == "Nothing to compare"
    )


# --- costs and suggestions -----------------------------------------------------------------------


def _costs() -> pd.DataFrame:
    """costs_by_category(): category, cost_cents, share."""
    return pd.DataFrame(
        {
            "category": ["venue", "catering", "marketing"],
            "cost_cents": pd.array([500_000, 250_000, 250_000], dtype="int64"),
            "share": [0.5, 0.25, 0.25],
        }
    )


def test_costs_figure_compares_each_share_with_its_benchmark():
    fig = figs.costs_figure(_costs(), {"venue": 0.4, "catering": 0.2, "staff": 0.3}, "EUR")
    bars, marks = fig["data"]
    assert (bars["type"], bars["orientation"], bars["name"]) == ("bar", "h", "Share of cost")
    assert list(bars["y"]) == ["venue", "catering", "marketing"]
    assert list(bars["x"]) == [50.0, 25.0, 25.0]
    assert list(bars["customdata"]) == [5000.0, 2500.0, 2500.0]  # cents to euros for the hover
    assert (marks["type"], marks["name"], marks["mode"]) == ("scatter", "Benchmark", "markers")
    assert list(marks["y"]) == ["venue", "catering", "marketing"]
    assert list(marks["x"]) == [
        pytest.approx(40.0),
        pytest.approx(20.0),
        None,
    ]  # no benchmark for marketing
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"
    assert fig["layout"]["xaxis"]["ticksuffix"] == "%"


def test_costs_figure_customdata_follows_the_currency_minor_unit():
    fig = figs.costs_figure(_costs(), {}, "KRW")  # KRW has no minor unit
    assert list(fig["data"][0]["customdata"]) == [500_000.0, 250_000.0, 250_000.0]
    assert list(fig["data"][1]["x"]) == [None, None, None]


def test_costs_figure_without_costs_says_so():
    assert (
        _message(figs.costs_figure(_costs().iloc[0:0], {"venue": 0.4}, "EUR"))
        == "No costs recorded"
    )


def test_suggestions_list_without_suggestions_says_everything_is_on_target():
    out = figs.suggestions_list([], "EUR")
    assert type(out).__name__ == "P"
    assert out.children == "No suggestions: attendance and costs are within their targets."


def test_suggestions_list_shows_title_detail_saving_and_actions():
    items = [
        Suggestion(
            "cost",
            "Venue above its benchmark",
            "Venue is 10.0 points above 40%.",
            actions=("Negotiate the rate", "Share the venue"),
            category="venue",
            excess_pct=Decimal("10.0"),
            saving_cents=123_456,
        ),
        Suggestion("attendance", "Low attendance", "60% came."),
    ]
    group = figs.suggestions_list(items, "EUR")
    assert group.flush is True
    first, second = group.children
    assert first.className == "app-suggestion app-suggestion-cost"
    assert second.className == "app-suggestion app-suggestion-attendance"
    assert _texts(first) == [
        "Venue above its benchmark",
        "Venue is 10.0 points above 40%.",
        "Potential saving: €1,234.56",
        "Negotiate the rate",
        "Share the venue",
    ]
    assert [li.children for li in _of_type(first, "Li")] == [
        "Negotiate the rate",
        "Share the venue",
    ]
    assert _texts(second) == ["Low attendance", "60% came."]  # no saving line, no action list
    assert _of_type(second, "Ul") == []


# --- what-if -------------------------------------------------------------------------------------


def test_what_if_result_shows_the_new_roi_and_its_change():
    current = roi_figures(
        cost_cents=1_000_000,
        revenue_cents=1_250_000,
        attendees=100,
        ticket_price_cents=10_000,
        ticket_revenue_cents=1_000_000,
    )
    result = roi_figures(
        cost_cents=1_000_000,
        revenue_cents=1_500_000,
        attendees=125,
        ticket_price_cents=10_000,
        ticket_revenue_cents=1_250_000,
    )
    out = figs.what_if_result(result, current, "EUR")
    assert _texts(out) == [
        "New ROI ",
        "50.0%",
        "Now 25.0% (+25.0 points)",
        "Cost €10,000.00 · revenue €15,000.00 · net profit €5,000.00",
        # the cost minus non-ticket revenue (250,000) at 100.00 a ticket
        "Break-even attendees: 75",
    ]
    assert _of_type(out, "Span")[1].className == "fs-4 fw-semibold app-whatif-roi"


def test_what_if_result_without_costs_or_paid_tickets():
    current = roi_figures(cost_cents=0, revenue_cents=0, attendees=0, ticket_price_cents=0)
    result = roi_figures(cost_cents=100, revenue_cents=0, attendees=10, ticket_price_cents=0)
    texts = _texts(figs.what_if_result(result, current, "EUR"))
    assert texts[1] == "-100.0%"
    assert texts[2] == "Now n/a"  # no change in points without a current ROI
    assert texts[4] == "Break-even attendees: n/a"  # a free ticket never covers the cost


def test_what_if_error_is_a_small_warning():
    alert = figs.what_if_error("Attendance: a whole number between 0 and 1,000,000")
    assert (alert.children, alert.color) == (
        "Attendance: a whole number between 0 and 1,000,000",
        "warning",
    )


# --- not found -----------------------------------------------------------------------------------


def test_not_found_names_the_id_and_links_back_to_the_list():
    page = figs.not_found("abc")
    title, alert, button = page.children
    assert title.children == "Event not found"
    assert alert.id == EventDetail.NOT_FOUND
    assert alert.children == (
        "There is no event with the id 'abc'. It may have been removed, or the link "
        "may be mistyped."
    )
    assert (button.children, button.href) == ("Back to all events", "/events")
