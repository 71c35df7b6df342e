"""Builders of the Admin → Import page: upload form, column help, progress, result, history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.i18n import N_, _
from bi_app.viewer import Viewer
from components.admin_jobs_view import local_time
from components.data_grid import GridColumn, data_grid
from components.ids import AdminImport

ERROR_COLUMNS = (  # headers marked only: error_columns() translates them
    GridColumn("row", N_("Row"), "int", width=90),
    GridColumn("column", N_("Column"), "text", width=190),
    GridColumn("value", N_("Value"), "text", width=240),
    GridColumn("message", N_("Problem"), "text"),
)
STATUS_COLORS = {
    "succeeded": "success",
    "validated": "info",
    "rejected": "warning",
    "failed": "danger",
    "running": "primary",
    "queued": "secondary",
}
# how people read a run's stored status (marked only: shown with _())
STATUS_LABELS = {
    "succeeded": N_("succeeded"),
    "validated": N_("validated"),
    "rejected": N_("rejected"),
    "failed": N_("failed"),
    "running": N_("running"),
    "queued": N_("queued"),
}
POLL_MS = 700
# stands for a component inside a translated sentence (a link, a bold file name)
_SLOT = "\x00"


def error_columns() -> list[GridColumn]:
    """The error grid's columns, headed in the request's language."""
    return [replace(c, header=_(c.header)) for c in ERROR_COLUMNS]


def status_label(status: str) -> str:
    """A run's stored status as people read it (an unknown one as stored)."""
    label = STATUS_LABELS.get(status)
    return _(label) if label else status


def _text(value: str | None) -> str | None:
    """A text defined elsewhere as an English message (a kind's label, description, column
    note), in the request's language; nothing stays nothing (``_("")`` is the catalog header)."""
    return _(value) if value else value


def _around(message: str) -> tuple[str, str]:
    """The text before and after the component of a sentence translated with ``_SLOT``."""
    before, _sep, after = message.partition(_SLOT)
    return before, after


def kind_help(columns: Sequence[Mapping[str, Any]], description: str) -> html.Div:
    """The columns a file of one kind must have, as a table with examples."""
    rows = [
        html.Tr(
            [
                html.Td(html.Code(c["column"])),
                html.Td(_("required") if c["required"] else _("optional")),
                html.Td(
                    [c["format"], html.Div(_text(c["note"]), className="text-muted")]
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
                html.Tr(
                    [html.Th(_("Column")), html.Th(""), html.Th(_("Format")), html.Th(_("Example"))]
                )
            ),
            html.Tbody(rows),
        ],
        size="sm",
        bordered=False,
        className="small mb-0 admin-import-help",
    )
    return html.Div([html.P(_text(description), className="small mb-2"), table])


def layout(kinds: Sequence[tuple[str, str]], max_upload_mb: int, viewer: Viewer) -> html.Div:
    """The whole page; ``kinds`` are (value, label) pairs."""
    drag_before, drag_after = _around(_("Drag a file here or %(choose)s", choose=_SLOT))
    form = dbc.Card(
        dbc.CardBody(
            [
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                dbc.Label(
                                    _("What does the file contain?"), html_for=AdminImport.KIND
                                ),
                                dcc.Dropdown(
                                    id=AdminImport.KIND,
                                    options=[{"value": v, "label": _text(l)} for v, l in kinds],
                                    value=kinds[0][0],
                                    clearable=False,
                                ),
                            ],
                            md=5,
                        ),
                        dbc.Col(
                            [
                                dbc.Label(_("Template")),
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
                            *([drag_before] if drag_before else []),
                            html.A(_("choose one"), href="#"),
                            *([drag_after] if drag_after else []),
                            html.Div(
                                _(
                                    "CSV (UTF-8), Excel .xlsx or Parquet — up to %(size)s MB",
                                    size=max_upload_mb,
                                ),
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
                            _("Validate only"),
                            id=AdminImport.VALIDATE,
                            color="secondary",
                            className="me-2",
                            n_clicks=0,
                        ),
                        dbc.Button(_("Import"), id=AdminImport.IMPORT, color="primary", n_clicks=0),
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
                _(
                    "Row 1 holds the column names; row numbers in the error report count it, as a "
                    "spreadsheet does."
                )
            ),
            html.Li(
                _(
                    "A file is imported completely or not at all: one invalid row and nothing "
                    "changes."
                )
            ),
            html.Li(_("Re-importing a file updates the same records instead of adding copies.")),
            html.Li(_("Cells starting with =, +, - or @ (spreadsheet formulas) are refused.")),
        ],
        className="small mb-0",
    )
    return html.Div(
        [
            html.H3(_("Import data"), className="mb-3"),
            dbc.Row(
                [
                    dbc.Col([form, html.Div(id=AdminImport.RESULT)], lg=7),
                    dbc.Col(
                        dbc.Card(
                            [
                                dbc.CardHeader(_("Columns of this kind")),
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
                    error_columns(),
                    title=_("Error report"),
                    height=380,
                    currency=viewer.currency,
                    can_download=viewer.can_download,
                ),
                id=AdminImport.ERRORS,
                style={"display": "none"},
            ),
            dbc.Card(
                [dbc.CardHeader(_("Recent imports")), dbc.CardBody(html.Div(id=AdminImport.RECENT))]
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
                label=_("Create missing platforms, categories and customers"),
                value=False,
                className="mb-0",
            ),
            html.Div(
                _(
                    "Codes the file refers to that do not exist yet are added, named after their "
                    "code (customers after their external id); rename them later under Admin → "
                    "Reference data. Products and events are never created: import them first."
                ),
                className="small text-muted",
            ),
        ],
        className="mt-3 admin-import-create-missing",
    )


def file_info(filename: str | None, size: int) -> Any:
    if not filename:
        return None
    before, after = _around(
        _("Selected: %(file)s (%(size)s KB)", file=_SLOT, size=format(size / 1024, ",.1f"))
    )
    return html.Span([before, html.Strong(filename), after])


def progress_state(run: Mapping[str, Any] | None) -> tuple[int, str, str]:
    """(percent, bar label, status line) of a run."""
    if run is None:
        return 0, "", ""
    percent = round((run.get("progress") or 0) * 100)
    if run["finished"]:
        finished = (
            _("Validation #%(id)s finished.", id=run["id"])
            if run["dry_run"]
            else _("Import #%(id)s finished.", id=run["id"])
        )
        return 100, _("done"), finished
    phase = run.get("phase") or (
        _("waiting for another import to finish") if run["status"] == "queued" else _("starting")
    )
    return percent, f"{percent} %", f"{run['file_name']}: {phase} …"


def result_view(run: Mapping[str, Any] | None) -> Any:
    if run is None or not run["finished"]:
        return None
    what = {"file": run["file_name"], "kind": run["kind"], "status": status_label(run["status"])}
    headline = (
        _("Validation of %(file)s (%(kind)s): %(status)s.", **what)
        if run["dry_run"]
        else _("Import of %(file)s (%(kind)s): %(status)s.", **what)
    )
    facts = [
        _(
            "%(total)s rows · %(valid)s valid · %(failed)s with errors",
            total=format(run["rows_total"], ","),
            valid=format(run["rows_ok"], ","),
            failed=format(run["rows_failed"], ","),
        )
    ]
    if run["status"] == "succeeded":
        facts.append(
            _(
                "%(new)s new · %(updated)s updated",
                new=format(run["inserted"], ","),
                updated=format(run["updated"], ","),
            )
        )
    return dbc.Alert(
        [
            html.Strong(headline + " "),
            html.Span(run.get("message") or ""),
            html.Div(" · ".join(facts), className="small mt-1"),
        ],
        color=STATUS_COLORS.get(run["status"], "secondary"),
        className="admin-import-result",
    )


def error_rows(run: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return list((run or {}).get("errors") or [])


SOURCE_LABELS = {"web": N_("upload"), "cli": N_("command line"), "sync": N_("database sync")}


def source_label(source: str | None) -> str:
    """Where a run came from, as people read it (an unknown source as stored)."""
    label = SOURCE_LABELS.get(source or "")
    return _(label) if label else source or "—"


def _took(run: Mapping[str, Any]) -> str:
    """How long a finished run took (``—`` while it runs)."""
    if not run.get("finished_at") or not run.get("started_at"):
        return "—"
    seconds = (run["finished_at"] - run["started_at"]).total_seconds()
    if seconds < 60:
        return _("%(seconds)s s", seconds=format(seconds, ".1f"))
    return _("%(minutes)s min %(seconds)s s", minutes=int(seconds // 60), seconds=int(seconds % 60))


def recent_table(runs: Sequence[Mapping[str, Any]], tz: str) -> Any:
    if not runs:
        return html.Div(_("No imports yet."), className="small text-muted")
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in (
                    _("Started"),
                    _("By"),
                    _("Source"),
                    _("File"),
                    _("Kind"),
                    _("Mode"),
                    _("Status"),
                    _("Rows"),
                    _("Errors"),
                    _("New"),
                    _("Updated"),
                    _("Took"),
                )
            ]
        )
    )
    body = [
        html.Tr(
            [
                html.Td(local_time(r["started_at"], tz)),
                html.Td(r.get("actor") or "—"),
                html.Td(source_label(r.get("source"))),
                html.Td(r["file_name"]),
                html.Td(r["kind"]),
                html.Td(_("validate") if r["dry_run"] else _("import")),
                html.Td(
                    dbc.Badge(
                        status_label(r["status"]), color=STATUS_COLORS.get(r["status"], "secondary")
                    )
                ),
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
