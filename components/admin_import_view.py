"""Builders of the Admin → Import page: upload form, column help, progress, result, history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.viewer import Viewer
from components.admin_jobs_view import local_time
from components.data_grid import GridColumn, data_grid
from components.ids import AdminImport

ERROR_COLUMNS = (
    GridColumn("row", "Row", "int", width=90),
    GridColumn("column", "Column", "text", width=190),
    GridColumn("value", "Value", "text", width=240),
    GridColumn("message", "Problem", "text"),
)
STATUS_COLORS = {
    "succeeded": "success",
    "validated": "info",
    "rejected": "warning",
    "failed": "danger",
    "running": "primary",
    "queued": "secondary",
}
POLL_MS = 700


def kind_help(columns: Sequence[Mapping[str, Any]], description: str) -> html.Div:
    """The columns a file of one kind must have, as a table with examples."""
    rows = [
        html.Tr(
            [
                html.Td(html.Code(c["column"])),
                html.Td("required" if c["required"] else "optional"),
                html.Td(
                    [c["format"], html.Div(c["note"], className="text-muted")]
                    if c["note"]
                    else c["format"]
                ),
                html.Td(html.Code(c["example"])),
            ]
        )
        for c in columns
    ]
    table = dbc.Table(
        [
            html.Thead(
                html.Tr([html.Th("Column"), html.Th(""), html.Th("Format"), html.Th("Example")])
            ),
            html.Tbody(rows),
        ],
        size="sm",
        bordered=False,
        className="small mb-0 admin-import-help",
    )
    return html.Div([html.P(description, className="small mb-2"), table])


def layout(kinds: Sequence[tuple[str, str]], max_upload_mb: int, viewer: Viewer) -> html.Div:
    """The whole page; ``kinds`` are (value, label) pairs."""
    form = dbc.Card(
        dbc.CardBody(
            [
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                dbc.Label("What does the file contain?", html_for=AdminImport.KIND),
                                dcc.Dropdown(
                                    id=AdminImport.KIND,
                                    options=[{"value": v, "label": l} for v, l in kinds],
                                    value=kinds[0][0],
                                    clearable=False,
                                ),
                            ],
                            md=5,
                        ),
                        dbc.Col(
                            [
                                dbc.Label("Template"),
                                html.Div(
                                    [
                                        dbc.Button(
                                            "CSV",
                                            id=AdminImport.TEMPLATE_CSV,
                                            size="sm",
                                            color="primary",
                                            outline=True,
                                            className="me-2",
                                            n_clicks=0,
                                        ),
                                        dbc.Button(
                                            "Excel",
                                            id=AdminImport.TEMPLATE_XLSX,
                                            size="sm",
                                            color="primary",
                                            outline=True,
                                            n_clicks=0,
                                        ),
                                        dcc.Download(id=AdminImport.TEMPLATE_DOWNLOAD),
                                    ]
                                ),
                            ],
                            md=3,
                        ),
                    ],
                    className="mb-3",
                ),
                dcc.Upload(
                    id=AdminImport.UPLOAD,
                    multiple=False,
                    className="admin-import-upload",
                    children=html.Div(
                        [
                            "Drag a file here or ",
                            html.A("choose one", href="#"),
                            html.Div(
                                f"CSV (UTF-8), Excel .xlsx or Parquet — up to {max_upload_mb} MB",
                                className="small text-muted",
                            ),
                        ]
                    ),
                    style={
                        "border": "1px dashed #888",
                        "borderRadius": "6px",
                        "padding": "1.25rem",
                        "textAlign": "center",
                        "cursor": "pointer",
                    },
                ),
                html.Div(id=AdminImport.FILE_INFO, className="small mt-2"),
                create_missing_option(),
                html.Div(
                    [
                        dbc.Button(
                            "Validate only",
                            id=AdminImport.VALIDATE,
                            color="secondary",
                            className="me-2",
                            n_clicks=0,
                        ),
                        dbc.Button("Import", id=AdminImport.IMPORT, color="primary", n_clicks=0),
                    ],
                    className="mt-3",
                ),
                dbc.Alert(
                    id=AdminImport.MESSAGE,
                    is_open=False,
                    color="warning",
                    className="small mt-3 mb-0",
                ),
                html.Div(
                    [
                        dbc.Progress(
                            id=AdminImport.PROGRESS, value=0, striped=True, className="mt-3"
                        ),
                        html.Div(id=AdminImport.STATUS, className="small text-muted mt-1"),
                    ]
                ),
            ]
        ),
        className="mb-3",
    )
    rules = html.Ul(
        [
            html.Li(
                "Row 1 holds the column names; row numbers in the error report count it, as a "
                "spreadsheet does."
            ),
            html.Li(
                "A file is imported completely or not at all: one invalid row and nothing changes."
            ),
            html.Li("Re-importing a file updates the same records instead of adding copies."),
            html.Li("Cells starting with =, +, - or @ (spreadsheet formulas) are refused."),
        ],
        className="small mb-0",
    )
    return html.Div(
        [
            html.H3("Import data", className="mb-3"),
            dbc.Row(
                [
                    dbc.Col([form, html.Div(id=AdminImport.RESULT)], lg=7),
                    dbc.Col(
                        dbc.Card(
                            [
                                dbc.CardHeader("Columns of this kind"),
                                dbc.CardBody([html.Div(id=AdminImport.HELP), html.Hr(), rules]),
                            ],
                            className="mb-3",
                        ),
                        lg=5,
                    ),
                ]
            ),
            html.Div(
                data_grid(
                    AdminImport.GRID_NAME,
                    ERROR_COLUMNS,
                    title="Error report",
                    height=380,
                    currency=viewer.currency,
                    can_download=viewer.can_download,
                ),
                id=AdminImport.ERRORS,
                style={"display": "none"},
            ),
            dbc.Card(
                [dbc.CardHeader("Recent imports"), dbc.CardBody(html.Div(id=AdminImport.RECENT))]
            ),
            dcc.Store(id=AdminImport.RUN_STORE),
            dcc.Interval(id=AdminImport.INTERVAL, interval=POLL_MS, disabled=True),
        ],
        className="admin-import",
    )


def create_missing_option() -> html.Div:
    """The "Create missing" checkbox with what it does and does not create."""
    return html.Div(
        [
            dbc.Checkbox(
                id=AdminImport.CREATE_MISSING,
                label="Create missing platforms, categories and customers",
                value=False,
                className="mb-0",
            ),
            html.Div(
                "Codes the file refers to that do not exist yet are added, named after their "
                "code (customers after their external id); rename them later under Admin → "
                "Reference data. Products and events are never created: import them first.",
                className="small text-muted",
            ),
        ],
        className="mt-3 admin-import-create-missing",
    )


def file_info(filename: str | None, size: int) -> Any:
    if not filename:
        return None
    return html.Span(["Selected: ", html.Strong(filename), f" ({size / 1024:,.1f} KB)"])


def progress_state(run: Mapping[str, Any] | None) -> tuple[int, str, str]:
    """(percent, bar label, status line) of a run."""
    if run is None:
        return 0, "", ""
    percent = round((run.get("progress") or 0) * 100)
    if run["finished"]:
        return 100, "done", f"{'Validation' if run['dry_run'] else 'Import'} #{run['id']} finished."
    phase = run.get("phase") or (
        "waiting for another import to finish" if run["status"] == "queued" else "starting"
    )
    return percent, f"{percent} %", f"{run['file_name']}: {phase} …"


def result_view(run: Mapping[str, Any] | None) -> Any:
    if run is None or not run["finished"]:
        return None
    mode = "Validation" if run["dry_run"] else "Import"
    facts = (
        f"{run['rows_total']:,} rows · {run['rows_ok']:,} valid · {run['rows_failed']:,} with "
        "errors"
        + (
            f" · {run['inserted']:,} new · {run['updated']:,} updated"
            if run["status"] == "succeeded"
            else ""
        )
    )
    return dbc.Alert(
        [
            html.Strong(f"{mode} of {run['file_name']} ({run['kind']}): {run['status']}. "),
            html.Span(run.get("message") or ""),
            html.Div(facts, className="small mt-1"),
        ],
        color=STATUS_COLORS.get(run["status"], "secondary"),
        className="admin-import-result",
    )


def error_rows(run: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return list((run or {}).get("errors") or [])


SOURCE_LABELS = {"web": "upload", "cli": "command line", "sync": "database sync"}


def _took(run: Mapping[str, Any]) -> str:
    """How long a finished run took (``—`` while it runs)."""
    if not run.get("finished_at") or not run.get("started_at"):
        return "—"
    seconds = (run["finished_at"] - run["started_at"]).total_seconds()
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60)} s"


def recent_table(runs: Sequence[Mapping[str, Any]], tz: str) -> Any:
    if not runs:
        return html.Div("No imports yet.", className="small text-muted")
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in (
                    "Started",
                    "By",
                    "Source",
                    "File",
                    "Kind",
                    "Mode",
                    "Status",
                    "Rows",
                    "Errors",
                    "New",
                    "Updated",
                    "Took",
                )
            ]
        )
    )
    body = [
        html.Tr(
            [
                html.Td(local_time(r["started_at"], tz)),
                html.Td(r.get("actor") or "—"),
                html.Td(SOURCE_LABELS.get(r.get("source") or "", r.get("source") or "—")),
                html.Td(r["file_name"]),
                html.Td(r["kind"]),
                html.Td("validate" if r["dry_run"] else "import"),
                html.Td(dbc.Badge(r["status"], color=STATUS_COLORS.get(r["status"], "secondary"))),
                html.Td(f"{r['rows_total']:,}"),
                html.Td(f"{r['rows_failed']:,}"),
                html.Td(f"{r['inserted']:,}"),
                html.Td(f"{r['updated']:,}"),
                html.Td(_took(r)),
            ],
            **{"data-run": str(r["id"])},
        )
        for r in runs
    ]
    return dbc.Table(
        [head, html.Tbody(body)],
        size="sm",
        hover=True,
        responsive=True,
        className="small mb-0 admin-import-recent",
    )
