"""Callbacks of /ops/logs: filter the lines, tail new ones while the tab is visible."""

from __future__ import annotations

import logging
from typing import Any

from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app import current_settings
from bi_app.errors import ServiceUnavailable
from bi_app.i18n import N_
from bi_app.monitoring import logs as log_capture
from bi_app.monitoring.logs_query import ParsedLogQuery, load_log_view, parse_log_query, tail_logs
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components import fallback
from components.ids import Grid, OpsLogs
from components.ops_logs_view import (
    capture_status,
    log_grid_rows,
    notices,
    page_summary,
    summary_text,
    volume_figure,
)

log = logging.getLogger(__name__)
GRID = Grid.grid(OpsLogs.GRID_NAME)
FILTERS = (OpsLogs.LEVEL, OpsLogs.LOGGER, OpsLogs.RANGE, OpsLogs.START, OpsLogs.END, OpsLogs.SEARCH)


def _parse(
    level: Any, loggers: Any, range_key: Any, start: Any, end: Any, keyword: Any
) -> ParsedLogQuery:
    raw = {
        "level": level,
        "logger": loggers,
        "range": range_key,
        "start": start,
        "end": end,
        "q": keyword,
    }
    return parse_log_query(raw, tz=current_settings().timezone)


@callback(
    Output(GRID, "rowData"),
    Output(OpsLogs.VOLUME_GRAPH, "figure"),
    Output(OpsLogs.SUMMARY, "children"),
    Output(OpsLogs.NOTICE, "children"),
    Output(OpsLogs.NOTICE, "is_open"),
    Output(OpsLogs.TAIL_STORE, "data"),
    Output(OpsLogs.VOLUME_MESSAGE, "children"),
    Output(OpsLogs.CAPTURE_STATUS, "children"),
    *(Input(i, "value") for i in FILTERS),
    roles=Page.OPS_LOGS,
    fallback=fallback.each(
        fallback.value([]),
        fallback.figure(N_("Logs")),
        fallback.value(""),
        fallback.value(no_update),
        fallback.value(no_update),
        fallback.value(None),
        fallback.message(N_("Log storage")),
        fallback.value(no_update),
    ),
)
def show_logs(level, loggers, range_key, start, end, keyword):
    """Shows the newest matching lines, their volume by level, and any notice about the filters."""
    parsed, tz = _parse(level, loggers, range_key, start, end, keyword), current_settings().timezone
    # on first render the layout already explains what it corrected in the URL
    notice = notices(parsed.notices) if ctx.triggered_id else (no_update, no_update)
    status = capture_status(log_capture.stats())
    view = load_log_view(parsed.query)
    return (
        log_grid_rows(view.page.rows, tz),
        volume_figure(view.volume, tz),
        page_summary(view.page),
        *notice,
        view.tail_state,
        None,
        status,
    )


@callback(
    Output(GRID, "rowTransaction"),
    Output(GRID, "rowData", allow_duplicate=True),
    Output(OpsLogs.SUMMARY, "children", allow_duplicate=True),
    Output(OpsLogs.TAIL_STORE, "data", allow_duplicate=True),
    Output(OpsLogs.VOLUME_GRAPH, "figure", allow_duplicate=True),
    Input(OpsLogs.TICK_STORE, "data"),
    *(State(i, "value") for i in FILTERS),
    State(OpsLogs.TAIL_STORE, "data"),
    roles=Page.OPS_LOGS,
    prevent_initial_call=True,
)
def tail(tick, level, loggers, range_key, start, end, keyword, state):
    """Adds lines stored since the last refresh to the top of the grid (live tail)."""
    if not tick or state is None:
        raise PreventUpdate
    parsed, tz = _parse(level, loggers, range_key, start, end, keyword), current_settings().timezone
    try:
        result = tail_logs(parsed.query, state)
    except ServiceUnavailable:  # logged by the service; the next tick tries again
        raise PreventUpdate from None
    if result.volume is None:
        raise PreventUpdate
    figure = volume_figure(result.volume, tz)
    if result.reload is not None:
        return (
            no_update,
            log_grid_rows(result.reload.rows, tz),
            page_summary(result.reload),
            result.state,
            figure,
        )
    added = {"add": log_grid_rows(result.new_rows, tz), "addIndex": 0}
    return added, no_update, summary_text(result.state["shown"], result.total), result.state, figure


# The interval keeps ticking in a hidden tab; only visible ticks reach the server.
clientside_callback(
    ClientsideFunction("bi", "visibleTick"),
    Output(OpsLogs.TICK_STORE, "data"),
    Input(OpsLogs.INTERVAL, "n_intervals"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("bi", "not"),
    Output(OpsLogs.INTERVAL, "disabled"),
    Input(OpsLogs.LIVE, "value"),
)
