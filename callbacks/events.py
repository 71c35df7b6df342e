"""Events list: fill the grid once the page is there; a click on a row opens the event."""

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from bi_app.data import events
from bi_app.export import columns_from_spec
from bi_app.i18n import N_
from bi_app.roles import Page
from callbacks._registry import callback
from components import fallback
from components.data_grid import grid_rows
from components.event_figures import event_list_rows
from components.ids import Events, Grid


@callback(
    Output(Grid.grid(Events.GRID_NAME), "rowData"),
    Output(Events.MESSAGE, "children"),
    Input(Grid.spec(Events.GRID_NAME), "data"),
    roles=Page.EVENTS,
    cache_output=(events.NAMESPACE,),
    fallback=fallback.each(fallback.value([]), fallback.message(N_("The event list"))),
)
def show_events(spec):
    """Every event with cost, revenue, ROI, cost per attendee, attendance rate and status."""
    return grid_rows(event_list_rows(events.events_list()), columns_from_spec(spec)), None


@callback(
    Output(Events.NAV, "href"),
    Input(Grid.grid(Events.GRID_NAME), "cellClicked"),
    State(Grid.grid(Events.GRID_NAME), "rowData"),
    roles=Page.EVENTS,
    prevent_initial_call=True,
)
def open_event(cell, rows):
    """Opens the page of the event whose row was clicked."""
    try:
        event_id = int(rows[int(cell["rowId"])]["event_id"])
    except (TypeError, KeyError, IndexError, ValueError):
        raise PreventUpdate from None
    return f"/events/{event_id}"
