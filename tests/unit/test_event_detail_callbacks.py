"""Event page callbacks (callbacks/event_detail.py) called as plain functions.

Each callback imports its services when it runs, so the stubs go on those modules:
``bi_app.data.events.<function>`` and ``callbacks.event_detail.event_channels``. A bare Flask
app carries the settings ``current_settings()`` reads (EUR, Europe/Berlin).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from types import SimpleNamespace

import flask
import pandas as pd
import pytest
from dash.exceptions import PreventUpdate

from bi_app.analytics.event_suggestions import Suggestion
from bi_app.analytics.roi import WhatIfBase, roi_figures
from bi_app.channels.base import ChannelStats
from bi_app.channels.service import ChannelReport, ChannelResult
from bi_app.data import events as data
from callbacks import event_detail as cb
from callbacks._registry import call
from components.ids import EventDetail
from tests.conftest import make_settings
from tests.ui_tree import texts as _texts

EVENT = 7
DRIVER_TEXT = "could not connect to server at 10.0.0.5"


@pytest.fixture(autouse=True)
def app_context():
    app = flask.Flask(__name__)
    app.config["BI_SETTINGS"] = make_settings("sqlite://", currency="EUR", timezone="Europe/Berlin")
    with app.app_context():
        yield app


def _stub(monkeypatch, target, name, result):
    calls = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        return result

    monkeypatch.setattr(target, name, fake)
    return calls


def _break(monkeypatch, target, name):
    def boom(*args, **kwargs):
        raise RuntimeError(DRIVER_TEXT)

    monkeypatch.setattr(target, name, boom)


def _message(fig) -> str:
    assert len(fig["data"]) == 0
    (annotation,) = fig["layout"]["annotations"]
    return annotation["text"]


def _is_error_alert(alert, what: str) -> bool:
    return (
        type(alert).__name__ == "Alert"
        and alert.color == "danger"
        and alert.children
        == f"{what} is unavailable right now. The rest of the page still works; "
        "try again in a moment."
    )


def _logged(caplog, text: str) -> logging.LogRecord:
    found = [
        r for r in caplog.records if r.name == "callbacks.event_detail" and text in r.getMessage()
    ]
    assert found, f"nothing logged with {text!r}"
    assert found[0].levelno == logging.ERROR
    assert str(found[0].exc_info[1]) == DRIVER_TEXT
    return found[0]


# --- the event id from the page's store ----------------------------------------------------------

CALLBACKS = [
    lambda event_id: call(cb.show_summary, event_id),
    lambda event_id: call(cb.show_checkins, event_id),
    lambda event_id: call(cb.show_profile, event_id),
    lambda event_id: call(cb.show_comparison, event_id),
    lambda event_id: call(cb.show_costs_and_suggestions, event_id),
    lambda event_id: call(cb.show_what_if, "0", "10", "5", event_id),
]


@pytest.mark.parametrize("call", CALLBACKS)
@pytest.mark.parametrize("event_id", [None, 0, -3, True, "7", 7.0])
def test_every_card_waits_for_a_valid_event_id(call, event_id, monkeypatch):
    for name in (
        "event_summary",
        "checkins_by_hour",
        "participant_profile",
        "organizer_comparison",
        "event_advice",
        "what_if_base",
    ):
        _break(monkeypatch, data, name)  # must not even be asked
    with pytest.raises(PreventUpdate):
        call(event_id)


# --- summary and channels ------------------------------------------------------------------------


def _summary():
    return SimpleNamespace(
        target_participants=100,
        participants_basis="attended",
        goal_pct=Decimal("90.00"),
        participants=90,
        figures=roi_figures(
            cost_cents=400_000, revenue_cents=500_000, attendees=90, ticket_price_cents=5000
        ),
        industry_avg_roi_pct=15.0,
        sales_growth_pct=Decimal("10.00"),
        sales_cents=110_000,
        previous_sales_cents=100_000,
    )


def _channels():
    results = (
        ChannelResult(
            "web", ChannelStats("web", 800, 100, 4), "live", dt.datetime(2024, 3, 1, 9), "demo"
        ),
        ChannelResult("instagram", ChannelStats("instagram", 0, 0, 0), "missing", None, "api"),
    )
    report = ChannelReport(EVENT, results, dt.datetime(2024, 3, 1, 9))
    return SimpleNamespace(
        report=report,
        views=800,
        previous_views=1000,
        previous_name="EV-3",
        views_change_pct=Decimal("-20.00"),
    )


def _card_values(cards) -> list[str]:
    return [col.children.children.children[1].children for col in cards]


def test_show_summary_passes_both_services_results_to_the_builders(monkeypatch):
    summary_calls = _stub(monkeypatch, data, "event_summary", _summary())
    channel_calls = _stub(monkeypatch, cb, "event_channels", _channels())
    cards, notices, fig, table = call(cb.show_summary, EVENT)
    assert summary_calls == channel_calls == [((EVENT,), {})]
    assert [c.children.id for c in cards] == [
        EventDetail.summary_card(i) for i in ("participants", "views", "roi", "sales")
    ]
    assert _card_values(cards) == ["90", "800", "25.0%", "+10.0%"]
    assert "Net profit €1,000.00" in _texts(cards[2])
    assert "-20.0% vs previous event" in _texts(cards[1])
    assert [n.children for n in notices] == [
        "Channel instagram unavailable — no earlier data, showing 0"
    ]
    bars, rates = fig["data"]
    assert list(bars["x"]) == ["web", "instagram"] and list(bars["y"]) == [800, 0]
    assert list(rates["y"]) == [4.0, None]
    body = table.children[1]
    assert [td.children for td in body.children[1].children] == [
        "instagram",
        "0",
        "0",
        "0",
        "n/a",
        "api (missing)",
    ]


def test_show_summary_failing_summary_keeps_the_channels(monkeypatch, caplog):
    _break(monkeypatch, data, "event_summary")
    _stub(monkeypatch, cb, "event_channels", _channels())
    with caplog.at_level(logging.ERROR, logger="callbacks.event_detail"):
        cards, notices, fig, table = call(cb.show_summary, EVENT)
    assert _is_error_alert(cards, "Key figures")
    assert DRIVER_TEXT not in str(cards.to_plotly_json())
    assert (
        len(notices) == 1
        and list(fig["data"][0]["y"]) == [800, 0]
        and len(table.children[1].children) == 2
    )
    assert (
        _logged(caplog, "event summary failed").getMessage() == "event summary failed for event 7"
    )


def test_show_summary_failing_channels_keeps_the_key_figures(monkeypatch, caplog):
    _stub(monkeypatch, data, "event_summary", _summary())
    _break(monkeypatch, cb, "event_channels")
    with caplog.at_level(logging.ERROR, logger="callbacks.event_detail"):
        cards, notices, fig, table = call(cb.show_summary, EVENT)
    assert _card_values(cards) == ["90", "n/a", "25.0%", "+10.0%"]
    assert "Channel statistics unavailable" in _texts(cards[1])
    assert (notices, table) == (None, None)
    assert _message(fig) == "Channel statistics is unavailable right now"
    _logged(caplog, "channel statistics failed for event 7")


def test_show_summary_of_an_unknown_event(monkeypatch):
    _stub(monkeypatch, data, "event_summary", None)
    _stub(monkeypatch, cb, "event_channels", None)
    cards, notices, fig, table = call(cb.show_summary, EVENT)
    assert _is_error_alert(cards, "Key figures")
    assert (notices, table) == (None, None)
    assert _message(fig) == "Channel statistics is unavailable right now"


# --- check-ins, profile, comparison --------------------------------------------------------------


def test_show_checkins_asks_for_hours_in_the_business_time_zone(monkeypatch):
    df = pd.DataFrame(
        {
            "hour": pd.Series([dt.datetime(2024, 3, 1, 10)], dtype="datetime64[us]"),
            "checkins": pd.array([42], dtype="int64"),
        }
    )
    calls = _stub(monkeypatch, data, "checkins_by_hour", df)
    fig = call(cb.show_checkins, EVENT)
    assert calls == [((EVENT, "Europe/Berlin"), {})]
    assert (list(fig["data"][0]["x"]), list(fig["data"][0]["y"])) == (["Mar 1 10:00"], [42])


def test_show_checkins_failing_service(monkeypatch, caplog):
    _break(monkeypatch, data, "checkins_by_hour")
    with caplog.at_level(logging.ERROR, logger="callbacks.event_detail"):
        fig = call(cb.show_checkins, EVENT)
    assert _message(fig) == "Participation by hour is unavailable right now"
    _logged(caplog, "show_checkins failed for inputs (7,")


def test_show_profile_draws_the_service_profile(monkeypatch):
    df = pd.DataFrame(
        [("gender", "f", 3), ("gender", "m", 2)], columns=["dimension", "value", "participants"]
    )
    calls = _stub(monkeypatch, data, "participant_profile", df)
    fig = call(cb.show_profile, EVENT)
    assert calls == [((EVENT,), {})]
    assert [(list(t["x"]), list(t["y"])) for t in fig["data"]] == [(["f", "m"], [3, 2])]
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["Gender"]


def test_show_profile_failing_service(monkeypatch, caplog):
    _break(monkeypatch, data, "participant_profile")
    with caplog.at_level(logging.ERROR, logger="callbacks.event_detail"):
        fig = call(cb.show_profile, EVENT)
    assert _message(fig) == "The participant profile is unavailable right now"
    _logged(caplog, "show_profile failed for inputs (7,")


def _comparison():
    return pd.DataFrame(
        {
            "event_id": [3, EVENT],
            "code": ["EV-3", "EV-7"],
            "name": ["Before", "This one"],
            "starts_at": [dt.datetime(2023, 9, 1), dt.datetime(2024, 3, 1)],
            "roi": pd.array([0.1, 0.25], dtype="Float64"),
        }
    )


def test_show_comparison_uses_the_configured_industry_average(monkeypatch):
    calls = _stub(monkeypatch, data, "organizer_comparison", _comparison())
    keys = _stub(monkeypatch, data, "threshold", Decimal("17.5"))
    fig = call(cb.show_comparison, EVENT)
    assert calls == [((EVENT,), {})]
    assert keys == [(("events.industry_avg_roi_pct",), {})]
    assert list(fig["data"][0]["marker"]["color"]) == ["#adb5bd", "#0d6efd"]  # this one highlighted
    assert fig["layout"]["shapes"][0]["y0"] == 17.5
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["Industry average 17.5%"]


@pytest.mark.parametrize("broken", ["organizer_comparison", "threshold"])
def test_show_comparison_failing_service(monkeypatch, caplog, broken):
    _stub(monkeypatch, data, "organizer_comparison", _comparison())
    _stub(monkeypatch, data, "threshold", 10)
    _break(monkeypatch, data, broken)
    with caplog.at_level(logging.ERROR, logger="callbacks.event_detail"):
        fig = call(cb.show_comparison, EVENT)
    assert _message(fig) == "The comparison is unavailable right now"
    _logged(caplog, "show_comparison failed for inputs (7,")


# --- costs and suggestions -----------------------------------------------------------------------


def test_show_costs_and_suggestions_hands_the_advice_to_both_builders(monkeypatch):
    costs = pd.DataFrame(
        {
            "category": ["venue", "catering"],
            "cost_cents": pd.array([300_000, 100_000], dtype="int64"),
            "share": [0.75, 0.25],
        }
    )
    advice = SimpleNamespace(
        costs=costs,
        benchmarks={"venue": 0.5},
        suggestions=[
            Suggestion(
                "cost", "Venue above its benchmark", "25.0 points above 50%.", saving_cents=100_000
            )
        ],
    )
    calls = _stub(monkeypatch, data, "event_advice", advice)
    fig, suggestions = call(cb.show_costs_and_suggestions, EVENT)
    assert calls == [((EVENT,), {})]
    assert list(fig["data"][0]["x"]) == [75.0, 25.0]
    assert list(fig["data"][0]["customdata"]) == [3000.0, 1000.0]  # EUR: cents / 100
    assert list(fig["data"][1]["x"]) == [50.0, None]
    assert _texts(suggestions) == [
        "Venue above its benchmark",
        "25.0 points above 50%.",
        "Potential saving: €1,000.00",
    ]


def test_show_costs_and_suggestions_of_an_unknown_event_does_nothing(monkeypatch):
    _stub(monkeypatch, data, "event_advice", None)
    with pytest.raises(PreventUpdate):
        call(cb.show_costs_and_suggestions, EVENT)


def test_show_costs_and_suggestions_failing_service(monkeypatch, caplog):
    _break(monkeypatch, data, "event_advice")
    with caplog.at_level(logging.ERROR, logger="callbacks.event_detail"):
        fig, suggestions = call(cb.show_costs_and_suggestions, EVENT)
    assert _message(fig) == "The cost breakdown is unavailable right now"
    assert _is_error_alert(suggestions, "Suggestions")
    _logged(caplog, "show_costs_and_suggestions failed for inputs (7,")


# --- what-if -------------------------------------------------------------------------------------

BASE = WhatIfBase(
    cost_cents=1_000_000,
    ticket_revenue_cents=1_000_000,
    other_revenue_cents=250_000,
    attendees=100,
    ticket_price_cents=10_000,
)


def test_show_what_if_computes_the_new_roi_against_the_current_one(monkeypatch):
    calls = _stub(monkeypatch, data, "what_if_base", BASE)
    out = call(cb.show_what_if, "-10", 125, "100", EVENT)
    assert calls == [((EVENT,), {})]
    # cost 1,000,000 - 10 % = 900,000; tickets 125 x 10,000 at the observed yield 1.0 = 1,250,000,
    # plus 250,000 other revenue = 1,500,000; ROI 600,000 / 900,000 = 66.67 % (now 25.00 %)
    # break-even: (900,000 - 250,000) / 10,000 = 65 attendees
    assert _texts(out) == [
        "New ROI ",
        "66.7%",
        "Now 25.0% (+41.7 points)",
        "Cost €9,000.00 · revenue €15,000.00 · net profit €6,000.00",
        "Break-even attendees: 65",
    ]


@pytest.mark.parametrize(
    ("cost", "attendance", "price", "message"),
    [
        ("abc", 10, "5", "Cost change: 'abc' is not a number"),
        ("-150", 10, "5", "Cost change: between −100 % and +1000 %"),
        ("0", 2.5, "5", "Attendance: a whole number between 0 and 1,000,000"),
        ("0", None, "5", "Attendance: enter a number"),
        ("0", 10, "1.999", "Ticket price: 0 or more, at most two decimals"),
        # bounded before any arithmetic: Decimal overflowed here and the card broke
        ("0", 10, "1e999999999", "Ticket price: '1e999999999' is out of range"),
        ("0", 10, "1e-999999999", "Ticket price: '1e-999999999' is out of range"),
        ("1e999999999", 10, "5", "Cost change: '1e999999999' is out of range"),
        ("0", "9" * 5000, "5", "Attendance: too long for a number"),
    ],
)
def test_show_what_if_invalid_input_shows_why(monkeypatch, cost, attendance, price, message):
    _break(monkeypatch, data, "what_if_base")  # invalid input never reaches the service
    alert = call(cb.show_what_if, cost, attendance, price, EVENT)
    assert type(alert).__name__ == "Alert" and alert.color == "warning"
    assert alert.children == message


def test_show_what_if_of_an_unknown_event_does_nothing(monkeypatch):
    _stub(monkeypatch, data, "what_if_base", None)
    with pytest.raises(PreventUpdate):
        call(cb.show_what_if, "0", 10, "5", EVENT)


def test_show_what_if_failing_service_shows_a_readable_message(monkeypatch, caplog):
    _break(monkeypatch, data, "what_if_base")
    with caplog.at_level(logging.ERROR, logger="callbacks.event_detail"):
        out = call(cb.show_what_if, "0", 10, "5", EVENT)
    assert "unavailable" in " ".join(_texts(out))
    assert DRIVER_TEXT not in " ".join(_texts(out))
    _logged(caplog, "show_what_if failed for inputs ('0', 10, '5', 7)")
