"""Callbacks of /reports: generate a report in the background, follow its progress, refresh the
preview and history, delete a report (admins); the custom range shows only for a custom period."""

from __future__ import annotations

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from bi_app import current_settings
from bi_app.i18n import N_
from bi_app.reports import store
from bi_app.roles import ADMINS, Page
from bi_app.viewer import current_viewer
from callbacks._confirm import confirm_delete
from callbacks._registry import callback, clientside_callback
from components import fallback
from components import reports_view as view
from components.ids import Reports

# the custom date range matters only for a custom period (view.range_row_style, in the browser)
clientside_callback(
    'function (kind) { return kind === "custom" ? {} : {display: "none"}; }',
    Output(Reports.RANGE_ROW, "style"),
    Input(Reports.KIND, "value"),
)


@callback(
    Output(Reports.MESSAGE, "children"),
    Output(Reports.MESSAGE, "color"),
    Output(Reports.MESSAGE, "is_open"),
    Output(Reports.RUN_STORE, "data"),
    Input(Reports.GENERATE, "n_clicks"),
    State(Reports.KIND, "value"),
    State(Reports.RANGE, "start_date"),
    State(Reports.RANGE, "end_date"),
    State(Reports.SECTIONS, "value"),
    State(Reports.FORMAT, "value"),
    State(Reports.LOCALE, "value"),
    roles=Page.REPORTS,
    prevent_initial_call=True,
    fallback=fallback.each(
        fallback.message(N_("Reports")),
        fallback.value("danger"),
        fallback.value(True),
        fallback.value(None),
    ),
)
def generate(clicks, kind, start, end, sections, fmt, locale):
    """Queues the report and starts it in the background, or says what is wrong with the form."""
    if not clicks:
        raise PreventUpdate
    try:
        run_id = store.request_report(kind, start, end, sections, fmt, locale, None)
    except store.ReportError as exc:
        return str(exc), "warning", True, no_update
    return view.message_started(run_id), "info", True, run_id


@callback(
    Output(Reports.PROGRESS, "value"),
    Output(Reports.PROGRESS_TEXT, "children"),
    Output(Reports.PROGRESS_ROW, "style"),
    Output(Reports.PREVIEW, "children"),
    Output(Reports.HISTORY, "children"),
    Output(Reports.POLL, "disabled"),
    Input(Reports.POLL, "n_intervals"),
    Input(Reports.RUN_STORE, "data"),
    Input(Reports.REFRESH_STORE, "data"),
    roles=Page.REPORTS,
    fallback=fallback.each(
        fallback.value(0),
        fallback.value(""),
        fallback.value({"display": "none"}),
        fallback.value(None),
        fallback.message(N_("Report history")),
        fallback.value(True),
    ),
)
def refresh(_ticks, _run, _deleted):
    """Shows the running report's progress, the latest preview and the history; polls while
    a report is being generated."""
    runs = store.list_runs()
    can_delete = current_viewer().may(ADMINS)
    return view.refreshed(runs, can_delete, current_settings().timezone)


def _report_to_delete(trigger):
    try:
        run = store.run_status(int(trigger.get("run")))
    except (store.ReportError, TypeError, ValueError):
        return None
    return view.delete_question(run, current_settings().timezone), run["id"]


ask_delete = confirm_delete(Reports, _report_to_delete, roles=ADMINS)


@callback(
    Output(Reports.MESSAGE, "children", allow_duplicate=True),
    Output(Reports.MESSAGE, "color", allow_duplicate=True),
    Output(Reports.MESSAGE, "is_open", allow_duplicate=True),
    Output(Reports.REFRESH_STORE, "data"),
    Input(Reports.DELETE_CONFIRM, "n_clicks"),
    State(Reports.PENDING_STORE, "data"),
    roles=ADMINS,
    prevent_initial_call=True,
    fallback=fallback.each(
        fallback.message(N_("Reports")),
        fallback.value("danger"),
        fallback.value(True),
        fallback.value(None),
    ),
)
def delete(clicks, pending):
    """Deletes the confirmed report (audited) and says so."""
    if not clicks or pending is None:
        raise PreventUpdate
    try:
        store.delete_run(int(pending), actor=None)
    except store.ReportError as exc:
        return str(exc), "warning", True, no_update
    return view.message_deleted(), "success", True, int(pending)
