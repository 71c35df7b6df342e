"""Event page: each card calls one service with the event id from the page's store; a failing
service shows its own message and the other cards go on."""

import logging
from decimal import Decimal

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from bi_app import current_settings
from callbacks._registry import callback
from components import event_figures as figs
from components.figures import empty_figure
from components.ids import EventDetail
from components.notice import error_message

log = logging.getLogger(__name__)
UNAVAILABLE = "{} is unavailable right now"


def _event_id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PreventUpdate
    return value


@callback(
    Output(EventDetail.SUMMARY_ROW, "children"),
    Output(EventDetail.CHANNEL_NOTICE, "children"),
    Output(EventDetail.CHANNEL_GRAPH, "figure"),
    Output(EventDetail.CHANNEL_TABLE, "children"),
    Input(EventDetail.EVENT_STORE, "data"),
)
def show_summary(event_id):
    """Participants vs goal, views vs the previous event, ROI, sales growth; channel performance."""
    from bi_app.channels.report import event_channels
    from bi_app.data import events

    event_id, settings = _event_id(event_id), current_settings()
    try:
        summary = events.event_summary(event_id)
    except Exception:
        log.exception("event summary failed for event %s", event_id)
        summary = None
    try:
        channels = event_channels(event_id)
    except Exception:
        log.exception("channel statistics failed for event %s", event_id)
        channels = None
    cards = figs.summary_cards(summary, channels, settings.currency) if summary else error_message("Key figures")
    if channels is None:
        return cards, None, empty_figure(UNAVAILABLE.format("Channel statistics")), None
    report = channels.report
    return (cards, figs.channel_notices(report.notices(settings.timezone)), figs.channel_figure(report),
            figs.channel_table(report))


@callback(Output(EventDetail.CHECKINS_GRAPH, "figure"), Input(EventDetail.EVENT_STORE, "data"))
def show_checkins(event_id):
    """Check-ins per hour, in the configured time zone."""
    from bi_app.data import events

    event_id = _event_id(event_id)
    try:
        return figs.checkins_figure(events.checkins_by_hour(event_id, current_settings().timezone))
    except Exception:
        log.exception("check-ins failed for event %s", event_id)
        return empty_figure(UNAVAILABLE.format("Participation by hour"))


@callback(Output(EventDetail.PROFILE_GRAPH, "figure"), Input(EventDetail.EVENT_STORE, "data"))
def show_profile(event_id):
    """Registered participants by age band, gender, region and new vs returning."""
    from bi_app.data import events

    event_id = _event_id(event_id)
    try:
        return figs.profile_figure(events.participant_profile(event_id))
    except Exception:
        log.exception("participant profile failed for event %s", event_id)
        return empty_figure(UNAVAILABLE.format("The participant profile"))


@callback(Output(EventDetail.COMPARISON_GRAPH, "figure"), Input(EventDetail.EVENT_STORE, "data"))
def show_comparison(event_id):
    """This event's ROI next to the organizer's previous events and the industry average."""
    from bi_app.data import events

    event_id = _event_id(event_id)
    try:
        df = events.organizer_comparison(event_id)
        return figs.comparison_figure(df, event_id, float(events.threshold("events.industry_avg_roi_pct")))
    except Exception:
        log.exception("comparison failed for event %s", event_id)
        return empty_figure(UNAVAILABLE.format("The comparison"))


@callback(
    Output(EventDetail.COSTS_GRAPH, "figure"),
    Output(EventDetail.SUGGESTIONS, "children"),
    Input(EventDetail.EVENT_STORE, "data"),
)
def show_costs_and_suggestions(event_id):
    """Cost shares against their benchmarks, and the suggestions they and attendance lead to."""
    from bi_app.data import events

    event_id = _event_id(event_id)
    try:
        advice = events.event_advice(event_id)
    except Exception:
        log.exception("costs/suggestions failed for event %s", event_id)
        return empty_figure(UNAVAILABLE.format("The cost breakdown")), error_message("Suggestions")
    if advice is None:
        raise PreventUpdate
    currency = current_settings().currency
    return (figs.costs_figure(advice.costs, advice.benchmarks, currency),
            figs.suggestions_list(advice.suggestions, currency))


@callback(
    Output(EventDetail.WHATIF_RESULT, "children"),
    Input(EventDetail.WHATIF_COST, "value"),
    Input(EventDetail.WHATIF_ATTENDANCE, "value"),
    Input(EventDetail.WHATIF_PRICE, "value"),
    State(EventDetail.EVENT_STORE, "data"),
)
def show_what_if(cost_change, attendance, price, event_id):
    """The ROI after changing costs, attendance and the ticket price."""
    from bi_app.analytics import roi
    from bi_app.data import events

    event_id = _event_id(event_id)
    try:
        change, people, price_cents = roi.parse_what_if(cost_change, attendance, price)
    except roi.WhatIfError as exc:
        return figs.what_if_error(str(exc))
    base = events.what_if_base(event_id)
    if base is None:
        raise PreventUpdate
    current = roi.what_if(base, Decimal(0), base.attendees, base.ticket_price_cents)
    return figs.what_if_result(roi.what_if(base, change, people, price_cents), current, current_settings().currency)
