"""Events and campaigns: every event with its cost, revenue, ROI and attendance; a click on a
row opens the event's page."""

import dash
from dash import dcc, html

from bi_app.roles import Page
from components.data_grid import data_grid
from components.event_figures import list_columns
from components.ids import Events

dash.register_page(
    __name__,
    roles=Page.EVENTS,
    path="/events",
    name="Events",
    group="Business",
    order=30,
    title="Events · bi-app",
    description="Events and campaigns: cost, revenue, ROI, attendance",
)


def layout(**_query):
    return html.Div(
        [
            html.H1("Events", className="app-page-title mb-1"),
            html.P("ROI = (revenue − cost) / cost. Attendance rate and cost per attendee count people "
                   "who attended; n/a where there is nothing to divide by. Click a row to open the event.",
                   className="text-body-secondary small"),
            html.Div(id=Events.MESSAGE),
            data_grid(Events.GRID_NAME, list_columns(), [], title="Events and campaigns", height=620),
            dcc.Location(id=Events.NAV, refresh="callback-nav"),
        ],
        className="app-page app-events",
    )
