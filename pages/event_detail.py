"""One event: summary cards, channels, participation, comparison, costs, suggestions, what-if.

Not in the sidebar (no group); reached from the Events list. An unknown or malformed id shows a
plain "event not found" message.
"""

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.roles import Page
from components.chart_card import chart_card, graph
from components.event_figures import not_found
from components.format import format_money
from components.ids import EventDetail
from components.kpi_card import kpi_placeholders

dash.register_page(
    __name__,
    roles=Page.EVENT_DETAIL,
    path_template="/events/<event_id>",
    name="Event",
    title="Event · bi-app",
    description="An event's ROI, channels, participants and costs",
)

MAX_ID = 2**31 - 1


def parse_event_id(raw: object) -> int | None:
    text = str(raw or "").strip()
    if not text.isdigit() or len(text) > 10 or not 0 < int(text) <= MAX_ID:
        return None
    return int(text)


def _col(card, xl: int) -> dbc.Col:
    return dbc.Col(card, xs=12, xl=xl, className="mb-3")


def _number(component_id: str, label: str, value, step, unit: str) -> dbc.Col:
    # no min/max: the browser would silently send None for an out-of-range value; the server
    # validates and says what is wrong
    return dbc.Col([
        dbc.Label(label, html_for=component_id, className="small mb-1"),
        dbc.InputGroup([
            dbc.Input(id=component_id, type="number", value=value, step=step, debounce=False),
            dbc.InputGroupText(unit),
        ], size="sm"),
    ], xs=12, md=4)


def _what_if(base, currency: str) -> dbc.Card:
    price = base.ticket_price_cents / 100 if base else 0
    inputs = dbc.Row([
        _number(EventDetail.WHATIF_COST, "Change costs by", 0, 1, "%"),
        _number(EventDetail.WHATIF_ATTENDANCE, "Attendance", base.attendees if base else 0, 1, "people"),
        _number(EventDetail.WHATIF_PRICE, "Ticket price", price, 0.01, currency),
    ], className="g-2 mb-3")
    return chart_card("ROI what-if", html.Div([inputs, html.Div(id=EventDetail.WHATIF_RESULT, role="status")]))


def layout(event_id=None, **_query):
    from bi_app import current_settings
    from bi_app.data import events

    parsed = parse_event_id(event_id)
    summary = events.event_summary(parsed) if parsed is not None else None
    if summary is None:
        return not_found(str(event_id)[:40])
    currency = current_settings().currency
    base = events.what_if_base(parsed)
    when = f"{summary.starts_at:%d %b %Y %H:%M} – {summary.ends_at:%d %b %Y %H:%M} UTC"
    return html.Div(
        [
            dcc.Link("← All events", href="/events", className="small"),
            html.H1(summary.name, className="app-page-title mb-1"),
            html.Div(f"{summary.code} · {summary.kind.replace('_', ' ')} · {summary.organizer} · "
                     f"{summary.status} · {when} · {summary.venue or 'no venue'} · budget "
                     f"{format_money(summary.budget_cents, currency)}",
                     className="text-body-secondary small mb-3"),
            dcc.Store(id=EventDetail.EVENT_STORE, data=parsed),
            html.Div(id=EventDetail.CHANNEL_NOTICE, role="status"),
            dbc.Row(kpi_placeholders(("Participants", "Views", "ROI", "Sales growth")),
                    id=EventDetail.SUMMARY_ROW),
            dbc.Row([
                _col(chart_card("Performance by channel", html.Div([
                    graph(EventDetail.CHANNEL_GRAPH, height=300),
                    html.Div(id=EventDetail.CHANNEL_TABLE, className="mt-2"),
                ])), 7),
                _col(chart_card("Participation by hour (check-ins)", graph(EventDetail.CHECKINS_GRAPH)), 5),
            ]),
            dbc.Row([
                _col(chart_card("Participant profile (registrations)", graph(EventDetail.PROFILE_GRAPH)), 12),
            ]),
            dbc.Row([
                _col(chart_card("ROI against the industry and the organizer's previous events",
                                graph(EventDetail.COMPARISON_GRAPH)), 6),
                _col(chart_card("Cost breakdown against benchmark shares", graph(EventDetail.COSTS_GRAPH)), 6),
            ]),
            dbc.Row([
                _col(chart_card("Optimization suggestions", html.Div(id=EventDetail.SUGGESTIONS)), 6),
                _col(_what_if(base, currency), 6),
            ]),
        ],
        className="app-page app-event-detail",
    )
