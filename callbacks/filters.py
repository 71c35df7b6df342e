"""The global filter bar: URL sync (clientside) and server-side re-validation notices."""

from dash import ClientsideFunction, Output

from bi_app.filters import load_filter_context, raw_query
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components.filter_bar import filter_inputs
from components.ids import FilterBar
from components.notice import notice_children

clientside_callback(
    ClientsideFunction("bi", "syncFilters"),
    Output(FilterBar.STATE_STORE, "data"),
    *filter_inputs(),
    prevent_initial_call=True,
)


@callback(
    Output(FilterBar.NOTICE, "children"),
    Output(FilterBar.NOTICE, "is_open"),
    *filter_inputs(),
    roles=Page.SHELL,
    prevent_initial_call=True,
)
def show_filter_notices(start, end, platforms, categories):
    """Explain any filter value the server had to correct or ignore."""
    notices = load_filter_context(raw_query(start, end, platforms, categories)).parsed.notices
    return notice_children(notices), bool(notices)
