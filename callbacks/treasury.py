"""Treasury: the window's balances, flows, volume and counterparties (the window in the URL),
and the capacity gauge of the hot wallets' transaction energy."""

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from bi_app.data import treasury
from bi_app.db.periods import business_timezone
from bi_app.export import columns_from_spec
from bi_app.i18n import N_
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components import fallback
from components.data_grid import grid_rows
from components.ids import Grid, Treasury
from components.notice import notice_children
from components.treasury_figures import (
    CapacityIds,
    capacity_view,
    counterparty_rows,
    finding_rows,
    findings_message,
    position_view,
    volume_view,
)
from components.treasury_view import picked_window

WINDOW = (
    Input(Treasury.DATE_RANGE, "start_date"),
    Input(Treasury.DATE_RANGE, "end_date"),
    State(Treasury.CURRENCY_STORE, "data"),
)


def _window(start, end, currency):
    window = picked_window(start, end)
    if window is None or not isinstance(currency, str):
        raise PreventUpdate
    return window.start.isoformat(), window.end.isoformat(), currency


@callback(
    Output(Treasury.KPI_ROW, "children"),
    Output(Treasury.RECOMMENDATIONS, "children"),
    Output(Treasury.FLOW_GRAPH, "figure"),
    Output(Treasury.FLOW_MESSAGE, "children"),
    *WINDOW,
    roles=Page.TREASURY,
    cache_output=(treasury.NAMESPACE,),
    fallback=fallback.each(
        fallback.value([]),
        fallback.value(None),
        fallback.figure(N_("The flow of funds")),
        fallback.message(N_("Balances and flows")),
    ),
)
def show_position(start, end, currency):
    """Balances per tier with shares, inflow/outflow/net, recommendations and the Sankey."""
    return (*position_view(treasury.overview(*_window(start, end, currency))), None)


@callback(
    Output(Treasury.VOLUME_GRAPH, "figure"),
    Output(Treasury.PATTERN, "children"),
    Output(Treasury.VOLUME_MESSAGE, "children"),
    *WINDOW,
    roles=Page.TREASURY,
    cache_output=(treasury.NAMESPACE,),
    fallback=fallback.each(
        fallback.figure(N_("Volume over time")),
        fallback.value(None),
        fallback.message(N_("Volume over time")),
    ),
)
def show_volume(start, end, currency):
    """Inflow and outflow per minute (one day) or hour, and the window's flow pattern."""
    return (*volume_view(treasury.volume(*_window(start, end, currency))), None)


@callback(
    Output(Grid.grid(Treasury.GRID_NAME), "rowData"),
    Output(Treasury.GRID_MESSAGE, "children"),
    *WINDOW,
    State(Grid.spec(Treasury.GRID_NAME), "data"),
    roles=Page.TREASURY,
    cache_output=(treasury.NAMESPACE,),
    fallback=fallback.each(fallback.value([]), fallback.message(N_("The counterparty list"))),
)
def show_counterparties(start, end, currency, spec):
    """The counterparties with the most external volume in the window."""
    first, last, code = _window(start, end, currency)
    frame = counterparty_rows(treasury.top_counterparties(first, last, code))
    return grid_rows(frame, columns_from_spec(spec), code), None


@callback(
    Output(Grid.grid(Treasury.FINDINGS_GRID_NAME), "rowData"),
    Output(Treasury.FINDINGS_MESSAGE, "children"),
    *WINDOW,
    State(Grid.spec(Treasury.FINDINGS_GRID_NAME), "data"),
    roles=Page.TREASURY,
    cache_output=(treasury.NAMESPACE,),
    fallback=fallback.each(fallback.value([]), fallback.message(N_("The unusual transactions"))),
)
def show_findings(start, end, currency, spec):
    """The window's transactions the scoring job flagged, most severe first, with their alerts."""
    first, last, code = _window(start, end, currency)
    found = treasury.findings(first, last, code)
    frame = finding_rows(found.frame, business_timezone())
    rows = grid_rows(frame, columns_from_spec(spec), found.currency or code)
    return rows, findings_message(found)


@callback(
    Output(CapacityIds.GAUGE, "figure"),
    Output(CapacityIds.FACTS, "children"),
    Output(CapacityIds.GRAPH, "figure"),
    Output(CapacityIds.MESSAGE, "children"),
    Input(CapacityIds.INTERVAL, "n_intervals"),
    roles=Page.TREASURY,
    fallback=fallback.each(
        fallback.figure(N_("The capacity gauge")),
        fallback.value(None),
        fallback.figure(N_("The capacity gauge")),
        fallback.message(N_("The capacity gauge")),
    ),
)
def show_capacity(_n):
    """The transaction energy's gauge, level, usage rate, predicted depletion and chart."""
    return capacity_view(treasury.capacity(), business_timezone())


@callback(
    Output(Treasury.NOTICE, "children"),
    Output(Treasury.NOTICE, "is_open"),
    Input(Treasury.DATE_RANGE, "start_date"),
    Input(Treasury.DATE_RANGE, "end_date"),
    roles=Page.TREASURY,
    prevent_initial_call=True,
)
def show_window_notice(start, end):
    """Explain a window the server had to correct (too long, swapped)."""
    window = picked_window(start, end)
    if window is None:
        raise PreventUpdate
    return notice_children(window.notices), bool(window.notices)


# The window in the URL (shareable, no re-render). Inline: Dash serves it with a hash the CSP
# allows (bi_app.security_headers).
clientside_callback(
    """
    function (start, end) {
        var params = new URLSearchParams(window.location.search);
        if (start) { params.set("start", String(start).slice(0, 10)); }
        if (end) { params.set("end", String(end).slice(0, 10)); }
        var search = params.toString().replace(/%2C/gi, ",");
        window.history.replaceState(window.history.state, "",
            window.location.pathname + (search ? "?" + search : "") + window.location.hash);
        return window.dash_clientside.no_update;
    }
    """,
    Output(Treasury.URL_DUMMY, "children"),
    Input(Treasury.DATE_RANGE, "start_date"),
    Input(Treasury.DATE_RANGE, "end_date"),
    prevent_initial_call=True,
)
