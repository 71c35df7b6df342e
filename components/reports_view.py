"""Builders of the Reports page: the request form (period, sections, format, language), the
progress of the running report, the latest report's first-page preview and the history of
generated reports with download links and (admins) delete."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.i18n import LOCALE_NAMES, N_, _, format_datetime, format_number
from bi_app.reports.content import SECTION_TITLES
from bi_app.reports.model import SECTIONS, Period
from bi_app.reports.periods import period_label
from components.format import to_local
from components.ids import Reports
from components.notice import confirm_delete_modal

POLL_MS = 1000
KIND_LABELS = {
    "daily": N_("Daily (yesterday)"),
    "weekly": N_("Weekly (last complete week)"),
    "monthly": N_("Monthly (last complete month)"),
    "custom": N_("Custom range"),
}
FORMAT_LABELS = {"pdf": N_("PDF"), "xlsx": N_("Excel (xlsx)")}
STATUS_LABELS = {
    "queued": N_("queued"),
    "running": N_("running"),
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "abandoned": N_("abandoned"),
}
STATUS_COLORS = {
    "queued": "secondary",
    "running": "info",
    "succeeded": "success",
    "failed": "danger",
    "abandoned": "warning",
}


def download_href(run_id: int) -> str:
    return dash.get_relative_path(f"/reports/{int(run_id)}/download")


def preview_src(run_id: int) -> str:
    return dash.get_relative_path(f"/reports/{int(run_id)}/preview.png")


def field(label: str, control: Any, **kwargs: Any) -> html.Div:
    """A labelled form control (this form's and the schedule form's)."""
    return html.Div(
        [dbc.Label(label, className="fw-semibold small"), control], className="mb-3", **kwargs
    )


_field = field


def format_choice(component_id: str) -> html.Div:
    """PDF or Excel, PDF chosen."""
    return field(
        _("Format"),
        dbc.RadioItems(
            id=component_id,
            options=[{"label": _(text), "value": key} for key, text in FORMAT_LABELS.items()],
            value="pdf",
            inline=True,
        ),
    )


def language_choice(component_id: str, locale: str) -> html.Div:
    """The report's language, ``locale`` chosen."""
    return field(
        _("Language"),
        dcc.Dropdown(
            id=component_id,
            options=[{"label": name, "value": code} for code, name in LOCALE_NAMES.items()],
            value=locale,
            clearable=False,
            searchable=False,
            style={"maxWidth": "14rem"},
        ),
    )


def sections_choice(component_id: str) -> html.Div:
    """Every report section, all checked, in report order."""
    return field(
        _("Sections"),
        dbc.Checklist(
            id=component_id,
            options=[{"label": _(SECTION_TITLES[key]), "value": key} for key in SECTIONS],
            value=list(SECTIONS),
        ),
    )


def range_row_style(kind: str | None) -> dict[str, str]:
    """The custom date range shows only for a custom period."""
    return {} if kind == "custom" else {"display": "none"}


def request_form(locale: str, today: dt.date) -> dbc.Card:
    """The form: period kind with a custom date range, sections (all checked), format and
    language, and the Generate button."""
    yesterday = today - dt.timedelta(days=1)
    return dbc.Card(
        dbc.CardBody(
            [
                html.H3(_("New report"), className="h6 mb-3"),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                _field(
                                    _("Period"),
                                    dbc.RadioItems(
                                        id=Reports.KIND,
                                        options=[
                                            {"label": _(text), "value": key}
                                            for key, text in KIND_LABELS.items()
                                        ],
                                        value="weekly",
                                    ),
                                ),
                                _field(
                                    _("Custom range (for a custom period)"),
                                    dcc.DatePickerRange(
                                        id=Reports.RANGE,
                                        start_date=(yesterday - dt.timedelta(days=6)).isoformat(),
                                        end_date=yesterday.isoformat(),
                                        max_date_allowed=today.isoformat(),
                                        display_format="YYYY-MM-DD",
                                        minimum_nights=0,
                                    ),
                                    id=Reports.RANGE_ROW,
                                    style=range_row_style("weekly"),
                                ),
                                format_choice(Reports.FORMAT),
                                language_choice(Reports.LOCALE, locale),
                            ],
                            md=6,
                        ),
                        dbc.Col(sections_choice(Reports.SECTIONS), md=6),
                    ]
                ),
                dbc.Button(_("Generate"), id=Reports.GENERATE, color="primary", n_clicks=0),
                dbc.Alert(
                    id=Reports.MESSAGE,
                    is_open=False,
                    dismissable=True,
                    className="mt-3 mb-0 small",
                ),
            ]
        ),
        className="mb-3",
    )


def progress_row() -> html.Div:
    """The progress bar of the report being generated (hidden while nothing runs)."""
    return html.Div(
        [
            dbc.Progress(id=Reports.PROGRESS, value=0, striped=True, animated=True),
            html.Div(id=Reports.PROGRESS_TEXT, className="small text-muted mt-1"),
        ],
        id=Reports.PROGRESS_ROW,
        className="mb-3",
        style={"display": "none"},
    )


def layout(locale: str, today: dt.date, schedules: Any = None) -> html.Div:
    """The whole page; the history, progress and preview are filled by a callback.
    ``schedules``: the Schedules card (components.report_schedules_view), below the history."""
    return html.Div(
        [
            html.H2(_("Reports"), className="h4 mb-3"),
            dbc.Row(
                [
                    dbc.Col([request_form(locale, today), progress_row()], lg=8),
                    dbc.Col(html.Div(id=Reports.PREVIEW), lg=4, className="mb-3"),
                ]
            ),
            dbc.Card(
                dbc.CardBody(
                    [html.H3(_("History"), className="h6 mb-3"), html.Div(id=Reports.HISTORY)]
                ),
                className="mb-3",
            ),
            *([schedules] if schedules is not None else []),
            dcc.Interval(id=Reports.POLL, interval=POLL_MS, disabled=True),
            dcc.Store(id=Reports.RUN_STORE),
            dcc.Store(id=Reports.REFRESH_STORE),
            dcc.Store(id=Reports.PENDING_STORE),
            confirm_delete_modal(_("Delete report"), Reports),
        ],
        id=Reports.PAGE,
        className="app-page",
    )


# --- what the refresh shows ----------------------------------------------------------------------


def _local(value: dt.datetime | None, tz: str) -> str:
    return format_datetime(to_local(value, tz), style="short") if value else "—"


def period_text(run: Mapping[str, Any], tz: str) -> str:
    """The run's period as the report names it, in the reader's language."""
    kind = run["kind"] if run["kind"] in KIND_LABELS else "custom"
    return period_label(Period(kind, run["period_start"], run["period_end"], tz))


def size_text(size: int | None) -> str:
    if size is None:
        return "—"
    if size < 1024 * 1024:
        return _("%(size)s KB", size=format_number(max(1, round(size / 1024))))
    return _("%(size)s MB", size=format_number(size / (1024 * 1024), digits=1))


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return _("%(seconds)s s", seconds=format_number(seconds, digits=1))


def status_of(run: Mapping[str, Any]) -> str:
    return "abandoned" if run.get("stale") else str(run["status"])


def status_badge(run: Mapping[str, Any]) -> dbc.Badge:
    status = status_of(run)
    return dbc.Badge(
        _(STATUS_LABELS.get(status, status)),
        color=STATUS_COLORS.get(status, "secondary"),
        className="reports-status",
    )


def _actions(run: Mapping[str, Any], can_delete: bool) -> list:
    items: list = []
    if run["status"] == "succeeded":
        items.append(
            html.A(
                _("Download"),
                href=download_href(run["id"]),
                className="reports-download me-2",
                target="_blank",
                rel="noopener",
            )
        )
    if can_delete and not run.get("active"):
        items.append(
            dbc.Button(
                _("Delete"),
                id=Reports.delete_button(run["id"]),
                color="link",
                size="sm",
                className="reports-delete p-0 text-danger",
                n_clicks=0,
            )
        )
    return items


def history_table(runs: Sequence[Mapping[str, Any]], can_delete: bool, tz: str) -> Any:
    """Every run: who, when, period, sections, format, size, duration, status and links."""
    if not runs:
        return html.P(_("No reports generated yet."), className="text-muted small mb-0")
    header = html.Thead(
        html.Tr(
            [
                html.Th(text)
                for text in (
                    _("Requested by"),
                    _("When"),
                    _("Period"),
                    _("Sections"),
                    _("Format"),
                    _("Size"),
                    _("Duration"),
                    _("Status"),
                    "",
                )
            ]
        )
    )
    body = []
    for run in runs:
        status = html.Div(status_badge(run))
        if run["status"] == "failed" and run.get("error"):
            status = html.Div(
                [status_badge(run), html.Div(run["error"], className="small text-danger")]
            )
        body.append(
            html.Tr(
                [
                    html.Td(run.get("requested_by") or "—"),
                    html.Td(_local(run["created_at"], tz)),
                    html.Td(period_text(run, tz)),
                    html.Td(format_number(len(run.get("sections") or []))),
                    html.Td(_(FORMAT_LABELS.get(run["format"], run["format"]))),
                    html.Td(size_text(run.get("size_bytes"))),
                    html.Td(duration_text(run.get("duration_seconds"))),
                    html.Td(status),
                    html.Td(_actions(run, can_delete)),
                ],
                className="reports-row",
                **{"data-run": str(run["id"]), "data-status": status_of(run)},
            )
        )
    return dbc.Table([header, html.Tbody(body)], size="sm", hover=True, responsive=True)


def preview_card(run: Mapping[str, Any] | None, tz: str) -> Any:
    """The latest finished report: its first page (PDFs) and a download link."""
    if run is None:
        return dbc.Card(
            dbc.CardBody(
                html.P(
                    _("The latest report's first page appears here."),
                    className="text-muted small mb-0",
                )
            )
        )
    image = (
        html.Img(
            src=preview_src(run["id"]),
            alt=_("First page of the report"),
            className="reports-preview-image img-fluid border",
        )
        if run.get("has_preview")
        else html.P(_("No preview for an Excel workbook."), className="text-muted small")
    )
    return dbc.Card(
        dbc.CardBody(
            [
                html.H3(_("Latest report"), className="h6 mb-1"),
                html.Div(period_text(run, tz), className="small text-muted mb-2"),
                image,
                html.A(
                    _("Download"),
                    href=download_href(run["id"]),
                    className="reports-preview-download d-block mt-2",
                    target="_blank",
                    rel="noopener",
                ),
            ]
        )
    )


def progress_state(runs: Sequence[Mapping[str, Any]]) -> tuple[int, str, dict[str, str]]:
    """``(percent, text, style)`` of the newest active run; hidden when nothing runs."""
    active = next((r for r in runs if r.get("active")), None)
    if active is None:
        return 0, "", {"display": "none"}
    text = _(
        "Generating report %(id)s: %(step)s (%(percent)s %%)",
        id=active["id"],
        step=active.get("step_label") or "…",
        percent=int(active.get("progress") or 0),
    )
    return int(active.get("progress") or 0), text, {}


def refreshed(
    runs: Sequence[Mapping[str, Any]], can_delete: bool, tz: str
) -> tuple[int, str, dict[str, str], Any, Any, bool]:
    """Everything the refresh updates: progress value, text and style, the preview card, the
    history table, and whether polling stops (nothing is running)."""
    value, text, style = progress_state(runs)
    latest = next((r for r in runs if r["status"] == "succeeded"), None)
    polling_off = not any(r.get("active") for r in runs)
    return (
        value,
        text,
        style,
        preview_card(latest, tz),
        history_table(runs, can_delete, tz),
        polling_off,
    )


def delete_question(run: Mapping[str, Any], tz: str) -> str:
    return _(
        "Delete the report of %(period)s requested by %(who)s? Its file is removed for everyone.",
        period=period_text(run, tz),
        who=run.get("requested_by") or "—",
    )


def message_started(run_id: int) -> str:
    return _(
        "Report %(id)s has started; its progress and the finished file appear below.", id=run_id
    )


def message_deleted() -> str:
    return _("The report was deleted.")
