"""Range changes and the minute refresh of /ops/performance."""

from dash import ClientsideFunction, Input, Output, State, no_update

from bi_app import current_settings
from bi_app.errors import ServiceUnavailable
from bi_app.monitoring.dashboard import parse_range, performance_data
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components.ids import OpsPerformance as ids
from components.ops_performance_view import performance_figures, performance_message

GRAPHS = (
    ids.ENDPOINTS_GRAPH,
    ids.CALLBACKS_GRAPH,
    ids.THROUGHPUT_GRAPH,
    ids.ERRORS_GRAPH,
    ids.LATENCY_GRAPH,
    ids.CACHE_GRAPH,
)

clientside_callback(
    ClientsideFunction("bi", "pauseWhenHidden"),
    Output(ids.INTERVAL, "disabled"),
    Input(ids.INTERVAL, "id"),
    State(ids.MESSAGE, "id"),
)


@callback(
    Output(ids.MESSAGE, "children"),
    *[Output(g, "figure") for g in GRAPHS],
    Input(ids.RANGE, "value"),
    Input(ids.INTERVAL, "n_intervals"),
    prevent_initial_call=True,
    roles=Page.OPS_PERFORMANCE,
)
def update_performance(range_value, _n):
    """Response times, throughput, error and cache-hit rates for the chosen range."""
    try:
        data = performance_data(parse_range(range_value))
    except ServiceUnavailable as exc:
        return (performance_message(str(exc)), *([no_update] * len(GRAPHS)))
    return (None, *performance_figures(data, current_settings().timezone))
