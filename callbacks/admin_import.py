"""Callbacks of /admin/import: column help, templates, start an import, follow its progress."""

from __future__ import annotations

from dash import Input, Output, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate

from bi_app import current_settings, importing
from bi_app.auth import current_username
from bi_app.i18n import N_, currency_decimals
from bi_app.roles import Page
from callbacks._registry import callback
from components import fallback
from components.admin_import_view import (
    error_rows,
    file_info,
    kind_help,
    progress_state,
    recent_table,
    result_view,
)
from components.ids import AdminImport, Grid


@callback(
    Output(AdminImport.HELP, "children"), Input(AdminImport.KIND, "value"), roles=Page.ADMIN_IMPORT
)
def show_help(kind):
    """Shows the columns, formats and examples of the chosen kind of file."""
    try:
        spec = importing.get_kind(kind)
    except ValueError:
        raise PreventUpdate from None
    return kind_help(importing.column_help(spec.name), spec.description)


@callback(
    Output(AdminImport.TEMPLATE_DOWNLOAD, "data"),
    Input(AdminImport.TEMPLATE_CSV, "n_clicks"),
    Input(AdminImport.TEMPLATE_XLSX, "n_clicks"),
    State(AdminImport.KIND, "value"),
    roles=Page.ADMIN_IMPORT,
    prevent_initial_call=True,
)
def download_template(_csv, _xlsx, kind):
    """Sends the template (header and an example row) of the chosen kind."""
    fmt = "xlsx" if ctx.triggered_id == AdminImport.TEMPLATE_XLSX else "csv"
    try:
        content, name = importing.template_file(kind, fmt)
    except ValueError:
        raise PreventUpdate from None
    return dcc.send_bytes(content, name)


@callback(
    Output(AdminImport.FILE_INFO, "children"),
    Input(AdminImport.UPLOAD, "filename"),
    State(AdminImport.UPLOAD, "contents"),
    roles=Page.ADMIN_IMPORT,
    large_body=True,
    prevent_initial_call=True,
)
def show_file(filename, contents):
    """Names the chosen file and its size."""
    return file_info(filename, len((contents or "").partition(",")[2]) * 3 // 4)


@callback(
    Output(AdminImport.RUN_STORE, "data"),
    Output(AdminImport.INTERVAL, "disabled"),
    Output(AdminImport.MESSAGE, "children"),
    Output(AdminImport.MESSAGE, "is_open"),
    Input(AdminImport.VALIDATE, "n_clicks"),
    Input(AdminImport.IMPORT, "n_clicks"),
    State(AdminImport.UPLOAD, "contents"),
    State(AdminImport.UPLOAD, "filename"),
    State(AdminImport.KIND, "value"),
    State(AdminImport.CREATE_MISSING, "value"),
    roles=Page.ADMIN_IMPORT,
    large_body=True,
    prevent_initial_call=True,
)
def start(_validate, _import, contents, filename, kind, create_missing):
    """Starts validating (dry run) or importing the uploaded file in the background."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    try:
        importing.get_kind(kind)
        data = importing.decode_upload(contents)
    except ValueError as exc:
        return no_update, True, str(exc), True
    run_id = importing.start_upload(
        data,
        str(filename or "upload"),
        kind,
        actor=current_username(),
        dry_run=ctx.triggered_id == AdminImport.VALIDATE,
        decimals=currency_decimals(current_settings().currency),
        create_missing=create_missing is True,
    )
    return {"run_id": run_id}, False, None, False


@callback(
    Output(AdminImport.PROGRESS, "value"),
    Output(AdminImport.PROGRESS, "label"),
    Output(AdminImport.STATUS, "children"),
    Output(AdminImport.RESULT, "children"),
    Output(Grid.grid(AdminImport.GRID_NAME), "rowData"),
    Output(AdminImport.ERRORS, "style"),
    Output(AdminImport.INTERVAL, "disabled", allow_duplicate=True),
    Output(AdminImport.RECENT, "children"),
    Input(AdminImport.INTERVAL, "n_intervals"),
    Input(AdminImport.RUN_STORE, "data"),
    roles=Page.ADMIN_IMPORT,
    fallback=fallback.each(
        fallback.value(no_update),
        fallback.value(no_update),
        fallback.message(N_("The import's progress")),
        fallback.value(no_update),
        fallback.value(no_update),
        fallback.value(no_update),
        fallback.value(no_update),  # keep polling: the next tick may find the database back
        fallback.message(N_("The list of recent imports")),
    ),
    prevent_initial_call="initial_duplicate",
)
def poll(_ticks, run):
    """Shows the progress of the current import, then its result, errors and the recent imports."""
    current = importing.run_view(run.get("run_id") if isinstance(run, dict) else None)
    percent, label, status = progress_state(current)
    errors = error_rows(current)
    finished = current is None or current["finished"]
    recent = (
        recent_table(importing.recent_imports(), current_settings().timezone)
        if finished
        else no_update
    )
    return (
        percent,
        label,
        status,
        result_view(current),
        errors,
        {"display": "block" if errors else "none"},
        finished,
        recent,
    )
