"""Live refresh of /ops/health (paused while the tab is hidden)."""

from dash import ALL, ClientsideFunction, Input, Output, State, ctx

from bi_app import current_settings
from bi_app.monitoring.dashboard import health_snapshot
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components.ids import OpsHealth as ids
from components.ops_health_view import RESOURCE_GRAPHS, health_refresh

clientside_callback(
    ClientsideFunction("bi", "pauseWhenHidden"),
    Output(ids.INTERVAL, "disabled"),
    Input(ids.INTERVAL, "id"),
    State(ids.VISIBILITY_DUMMY, "id"),
)


@callback(
    Output(ids.OVERALL, "children"),
    Output(ids.CHECKED_AT, "children"),
    Output(ids.BANNER, "children"),
    Output(ids.TILES, "children"),
    Output(ids.tile_status(ALL), "children"),
    Output(ids.tile_latency(ALL), "children"),
    Output(ids.tile_error(ALL), "children"),
    Output(ids.tile_spark(ALL), "figure"),
    *[Output(graph_id, "figure") for graph_id, *_ in RESOURCE_GRAPHS],
    Output(ids.BREAKERS, "children"),
    Input(ids.INTERVAL, "n_intervals"),
    State(RESOURCE_GRAPHS[0][0], "figure"),
    prevent_initial_call=True,
    roles=Page.OPS_HEALTH,
)
def refresh_health(_n, cpu_figure):
    """The tiles, resource charts and breaker states update in place every refresh."""
    settings = current_settings()
    tile_names = [item["id"]["index"] for item in ctx.outputs_list[4]]
    resources_were_empty = not (cpu_figure or {}).get("data")
    return health_refresh(
        health_snapshot(settings), tile_names, settings.timezone, resources_were_empty
    )
