"""Event page: each card calls one service with the event id from the page's store; a failing
service shows its own message and the other cards go on."""

import logging

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from bi_app import current_settings
from bi_app.analytics import roi
from bi_app.channels.report import event_channels
from bi_app.data import events
from bi_app.i18n import N_
from bi_app.models import attendance
from bi_app.roles import Page
from callbacks._registry import callback
from components import attendance_forecast_view as attendance_view
from components import event_figures as figs
from components import fallback
from components.attendance_forecast_view import Ids as AttendanceIds
from components.ids import EventDetail
from components.notice import error_message

log = logging.getLogger(__name__)


def _event_id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PreventUpdate
    return value


def _or_none(service, event_id: int, what: str):
    """One of the summary's two independent services: a failure hides only its own part."""
    try:
        return service(event_id)
    except Exception:
        log.exception("%s failed for event %s", what, event_id)
        return None


@callback(
    Output(EventDetail.SUMMARY_ROW, "children"),
    Output(EventDetail.CHANNEL_NOTICE, "children"),
    Output(EventDetail.CHANNEL_GRAPH, "figure"),
    Output(EventDetail.CHANNEL_TABLE, "children"),
    Input(EventDetail.EVENT_STORE, "data"),
    roles=Page.EVENT_DETAIL,
)
def show_summary(event_id):
    """Participants vs goal, views vs the previous event, ROI, sales growth; channel performance."""
    event_id, settings = _event_id(event_id), current_settings()
    summary = _or_none(events.event_summary, event_id, "event summary")
    channels = _or_none(event_channels, event_id, "channel statistics")
    cards = (
        figs.summary_cards(summary, channels, settings.currency)
        if summary
        else error_message(N_("Key figures"))
    )
    if channels is None:
        return cards, None, fallback.figure(N_("Channel statistics"))(), None
    report = channels.report
    return (
        cards,
        figs.channel_notices(report.notices(settings.timezone)),
        figs.channel_figure(report),
        figs.channel_table(report),
    )


@callback(
    Output(EventDetail.CHECKINS_GRAPH, "figure"),
    Input(EventDetail.EVENT_STORE, "data"),
    roles=Page.EVENT_DETAIL,
    cache_output=(events.NAMESPACE,),
    fallback=fallback.figure(N_("Participation by hour")),
)
def show_checkins(event_id):
    """Check-ins per hour, in the configured time zone."""
    return figs.checkins_figure(
        events.checkins_by_hour(_event_id(event_id), current_settings().timezone)
    )


@callback(
    Output(EventDetail.PROFILE_GRAPH, "figure"),
    Input(EventDetail.EVENT_STORE, "data"),
    roles=Page.EVENT_DETAIL,
    cache_output=(events.NAMESPACE,),
    fallback=fallback.figure(N_("The participant profile")),
)
def show_profile(event_id):
    """Registered participants by age band, gender, region and new vs returning."""
    return figs.profile_figure(events.participant_profile(_event_id(event_id)))


@callback(
    Output(EventDetail.COMPARISON_GRAPH, "figure"),
    Input(EventDetail.EVENT_STORE, "data"),
    roles=Page.EVENT_DETAIL,
    cache_output=(events.NAMESPACE,),
    fallback=fallback.figure(N_("The comparison")),
)
def show_comparison(event_id):
    """This event's ROI next to the organizer's previous events and the industry average."""
    event_id = _event_id(event_id)
    df = events.organizer_comparison(event_id)
    return figs.comparison_figure(
        df, event_id, float(events.threshold("events.industry_avg_roi_pct"))
    )


@callback(
    Output(EventDetail.COSTS_GRAPH, "figure"),
    Output(EventDetail.SUGGESTIONS, "children"),
    Input(EventDetail.EVENT_STORE, "data"),
    roles=Page.EVENT_DETAIL,
    cache_output=(events.NAMESPACE,),
    fallback=fallback.each(
        fallback.figure(N_("The cost breakdown")), fallback.message(N_("Suggestions"))
    ),
)
def show_costs_and_suggestions(event_id):
    """Cost shares against their benchmarks, and the suggestions they and attendance lead to."""
    advice = events.event_advice(_event_id(event_id))
    if advice is None:
        raise PreventUpdate
    currency = current_settings().currency
    return (
        figs.costs_figure(advice.costs, advice.benchmarks, currency),
        figs.suggestions_list(advice.suggestions, currency),
    )


@callback(
    Output(EventDetail.WHATIF_RESULT, "children"),
    Input(EventDetail.WHATIF_COST, "value"),
    Input(EventDetail.WHATIF_ATTENDANCE, "value"),
    Input(EventDetail.WHATIF_PRICE, "value"),
    State(EventDetail.EVENT_STORE, "data"),
    roles=Page.EVENT_DETAIL,
    fallback=fallback.message(N_("The what-if calculator")),
)
def show_what_if(cost_change, attendance, price, event_id):
    """The ROI after changing costs, attendance and the ticket price."""
    event_id = _event_id(event_id)
    try:
        change, people, price_cents = roi.parse_what_if(cost_change, attendance, price)
    except roi.WhatIfError as exc:
        return figs.what_if_error(str(exc))
    base = events.what_if_base(event_id)
    if base is None:
        raise PreventUpdate
    scenario, current = roi.what_if_against_today(base, change, people, price_cents)
    return figs.what_if_result(scenario, current, current_settings().currency)


@callback(
    Output(AttendanceIds.EVENT_RESULT, "children"),
    Input(AttendanceIds.EVENT_STORE, "data"),
    roles=Page.EVENT_DETAIL,
    fallback=fallback.message(N_("The attendance forecast")),
)
def show_attendance_forecast(event_id):
    """A planned event's attendance forecast from its stored configuration."""
    event_id = _event_id(event_id)
    try:
        forecast = attendance.forecast_for_event(event_id)
    except attendance.AttendanceError as exc:
        return attendance_view.unavailable(str(exc))
    if forecast is None:
        return attendance_view.not_planned()
    return attendance_view.forecast_card(forecast, current_settings().currency)
