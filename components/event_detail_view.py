"""The page of one event: summary cards, channels, participants, comparison, costs, what-if."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app import i18n
from bi_app.i18n import N_, _
from bi_app.viewer import Viewer
from components import attendance_forecast_view
from components.chart_card import chart_card, column, graph
from components.format import format_money, to_local
from components.ids import EventDetail
from components.kpi_card import kpi_placeholders


def _number(component_id: str, label: str, value, step, unit: str) -> dbc.Col:
    # no min/max: the browser would silently send None for an out-of-range value; the server
    # validates and says what is wrong
    return dbc.Col(
        [
            dbc.Label(label, html_for=component_id, className="small mb-1"),
            dbc.InputGroup(
                [
                    dbc.Input(
                        id=component_id, type="number", value=value, step=step, debounce=False
                    ),
                    dbc.InputGroupText(unit),
                ],
                size="sm",
            ),
        ],
        xs=12,
        md=4,
    )


def _what_if(base, currency: str) -> dbc.Card:
    price = base.ticket_price_cents / 100 if base else 0
    inputs = dbc.Row(
        [
            _number(EventDetail.WHATIF_COST, _("Change costs by"), 0, 1, "%"),
            _number(
                EventDetail.WHATIF_ATTENDANCE,
                _("Attendance"),
                base.attendees if base else 0,
                1,
                _("people"),
            ),
            _number(EventDetail.WHATIF_PRICE, _("Ticket price"), price, 0.01, currency),
        ],
        className="g-2 mb-3",
    )
    return chart_card(
        _("ROI what-if"), html.Div([inputs, html.Div(id=EventDetail.WHATIF_RESULT, role="status")])
    )


def layout(event_id: int, summary: Any, base: Any, viewer: Viewer) -> html.Div:
    """The whole page of one event (``summary`` and ``base`` from bi_app.data.events); the
    cards are filled by the page's callbacks."""
    currency = viewer.currency
    starts, ends = (
        to_local(summary.starts_at, viewer.timezone),
        to_local(summary.ends_at, viewer.timezone),
    )
    when = _(
        "%(starts)s – %(ends)s (%(timezone)s)",
        starts=f"{i18n.format_period(starts, 'day')} {starts:%H:%M}",
        ends=f"{i18n.format_period(ends, 'day')} {ends:%H:%M}",
        timezone=viewer.timezone,
    )
    return html.Div(
        [
            dcc.Link(_("← All events"), href="/events", className="small"),
            html.H1(summary.name, className="app-page-title mb-1"),
            html.Div(
                " · ".join(
                    str(part)
                    for part in (
                        summary.code,
                        summary.kind.replace("_", " "),
                        summary.organizer,
                        summary.status,
                        when,
                        summary.venue or _("no venue"),
                        _("budget %(amount)s", amount=format_money(summary.budget_cents, currency)),
                    )
                ),
                className="text-body-secondary small mb-3",
            ),
            dcc.Store(id=EventDetail.EVENT_STORE, data=event_id),
            html.Div(id=EventDetail.CHANNEL_NOTICE, role="status"),
            dbc.Row(
                kpi_placeholders((N_("Participants"), N_("Views"), N_("ROI"), N_("Sales growth"))),
                id=EventDetail.SUMMARY_ROW,
            ),
            dbc.Row([column(attendance_forecast_view.event_card(event_id), 12)])
            if summary.status == "planned"
            else None,
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("Performance by channel"),
                            html.Div(
                                [
                                    graph(EventDetail.CHANNEL_GRAPH, height=300),
                                    html.Div(id=EventDetail.CHANNEL_TABLE, className="mt-2"),
                                ]
                            ),
                        ),
                        7,
                    ),
                    column(
                        chart_card(
                            _("Participation by hour (check-ins)"),
                            graph(EventDetail.CHECKINS_GRAPH),
                        ),
                        5,
                    ),
                ]
            ),
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("Participant profile (registrations)"),
                            graph(EventDetail.PROFILE_GRAPH),
                        ),
                        12,
                    ),
                ]
            ),
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("ROI against the industry and the organizer's previous events"),
                            graph(EventDetail.COMPARISON_GRAPH),
                        ),
                        6,
                    ),
                    column(
                        chart_card(
                            _("Cost breakdown against benchmark shares"),
                            graph(EventDetail.COSTS_GRAPH),
                        ),
                        6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("Optimization suggestions"), html.Div(id=EventDetail.SUGGESTIONS)
                        ),
                        6,
                    ),
                    column(_what_if(base, currency), 6),
                ]
            ),
        ],
        className="app-page app-event-detail",
    )
