"""The global filter bar: URL sync (clientside), date presets and server-side re-validation
notices."""

from dash import ClientsideFunction, Input, Output, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app.date_presets import parse_preset, preset_range
from bi_app.filters import load_filter_context, local_today, raw_query
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

clientside_callback(
    ClientsideFunction("bi", "syncPreset"),
    Output(FilterBar.STATE_STORE, "data", allow_duplicate=True),
    Input(FilterBar.PRESET, "value"),
    prevent_initial_call=True,
)


@callback(
    Output(FilterBar.PRESET, "value"),
    Output(FilterBar.DATE_RANGE, "start_date"),
    Output(FilterBar.DATE_RANGE, "end_date"),
    Input(FilterBar.PRESET, "value"),
    Input(FilterBar.DATE_RANGE, "start_date"),
    Input(FilterBar.DATE_RANGE, "end_date"),
    roles=Page.SHELL,
    prevent_initial_call=True,
)
def apply_preset(preset, start, end):
    """A chosen preset sets the dates; dates changed by hand clear the preset."""
    code = parse_preset(preset)
    if code is None:
        if ctx.triggered_id == FilterBar.PRESET and preset:  # not one of ours: say "custom"
            return None, no_update, no_update
        raise PreventUpdate
    first, last = (d.isoformat() for d in preset_range(code, local_today()))
    if ctx.triggered_id == FilterBar.PRESET:
        return no_update, first, last
    if (str(start or "")[:10], str(end or "")[:10]) != (first, last):
        return None, no_update, no_update
    raise PreventUpdate


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
