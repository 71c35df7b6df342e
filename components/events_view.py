"""The Events page: every event with its cost, revenue, ROI and
attendance; a row opens the event."""

from __future__ import annotations

from dash import dcc, html

from bi_app.i18n import _
from bi_app.viewer import Viewer
from components import attendance_forecast_view
from components.data_grid import data_grid
from components.event_figures import list_columns
from components.ids import Events


def layout(viewer: Viewer, forecast_choices: dict[str, list[str]] | None = None) -> html.Div:
    """The whole Events page; the grid is filled by the page's callback. ``forecast_choices``
    (event types and organizers) fill the attendance forecast form."""
    choices = forecast_choices or {}
    return html.Div(
        [
            html.H1(_("Events"), className="app-page-title mb-1"),
            html.P(
                _(
                    "ROI = (revenue − cost) / cost. Attendance rate and cost per attendee count "
                    "people who attended; n/a where there is nothing to divide by. Click a row to "
                    "open the event."
                ),
                className="text-body-secondary small",
            ),
            html.Div(id=Events.MESSAGE),
            data_grid(
                Events.GRID_NAME,
                list_columns(),
                [],
                title=_("Events and campaigns"),
                height=620,
                currency=viewer.currency,
                can_download=viewer.can_download,
            ),
            attendance_forecast_view.form(
                choices.get("kinds", []), choices.get("organizers", []), viewer.currency
            ),
            dcc.Location(id=Events.NAV, refresh="callback-nav"),
        ],
        className="app-page app-events",
    )
