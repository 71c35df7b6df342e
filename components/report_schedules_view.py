"""Builders of the Schedules card on /reports: the table of report schedules (when, what, to whom,
the last run) with per-row actions for admins, and the create/edit form in a modal with a
preview of the next send times (service: bi_app.reports.schedules)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.errors import ServiceError
from bi_app.i18n import LOCALE_NAMES, N_, _, format_period, ngettext
from bi_app.reports.model import SECTIONS
from bi_app.reports.schedules import CRON_PRESETS
from components.ids import ReportSchedules
from components.notice import confirm_delete_modal
from components.reports_view import (
    FORMAT_LABELS,
    KIND_LABELS,
    STATUS_COLORS,
    STATUS_LABELS,
    format_choice,
    language_choice,
    sections_choice,
)
from components.reports_view import field as _field

POLL_MS = 2000
CHANNELS_PATH = "/ops/alerts/channels"
CUSTOM = "custom"
PRESET_ORDER = ("weekly", "monthly", "daily")
SCHEDULE_KINDS = ("daily", "weekly", "monthly")
CUSTOM_LABEL = N_("Custom (cron expression)")
ACTIVE_STATUSES = ("queued", "running")
# examples in the form's empty inputs: a cron and addresses read the same in every language
CRON_EXAMPLE = CRON_PRESETS["weekly"][0] if "weekly" in CRON_PRESETS else "0 8 * * mon"
RECIPIENTS_EXAMPLE = "a@example.com, b@example.com"


# --- small texts ---------------------------------------------------------------------------------


def preset_for(cron: str | None) -> str:
    """The key of the preset whose cron is ``cron`` (blanks normalized), else ``"custom"``."""
    text = " ".join(str(cron or "").split()).lower()
    for key, (preset_cron, _label) in CRON_PRESETS.items():
        if preset_cron.lower() == text:
            return key
    return CUSTOM


def preset_options() -> list[dict[str, str]]:
    keys = [k for k in PRESET_ORDER if k in CRON_PRESETS] + [
        k for k in CRON_PRESETS if k not in PRESET_ORDER
    ]
    return [{"label": _(CRON_PRESETS[k][1]), "value": k} for k in keys] + [
        {"label": _(CUSTOM_LABEL), "value": CUSTOM}
    ]


def cron_of(preset: str | None, cron: str | None) -> str:
    """The cron a form means: the preset's, or the typed one for "custom"."""
    if preset in CRON_PRESETS:
        return CRON_PRESETS[preset][0]
    return " ".join(str(cron or "").split())


def local_time_text(moment: dt.datetime) -> str:
    """A business-time-zone time as "Mon, Dec 7, 2026 08:00" (the locale's order)."""
    wall = moment.replace(tzinfo=None)
    return f"{format_period(wall, 'weekday')} {format_period(wall, 'time')}"


def next_text(moment: dt.datetime | None, tz: str) -> str:
    if moment is None:
        return _("Next: none (paused)")
    return _("Next: %(time)s (%(tz)s)", time=local_time_text(moment), tz=tz)


def recipients_text(recipients: Sequence[str]) -> str:
    count = len(recipients)
    return ngettext("%(num)s recipient", "%(num)s recipients", count)


def kind_text(kind: str) -> str:
    return _(KIND_LABELS.get(kind, kind))


def delete_question(schedule: Mapping[str, Any]) -> str:
    return _(
        "Delete the schedule %(name)s? No more reports are sent by it; the reports it made stay "
        "in the history.",
        name=schedule["name"],
    )


def find(schedules: Sequence[Mapping[str, Any]], schedule_id: Any) -> Mapping[str, Any] | None:
    """The schedule with id ``schedule_id`` in ``schedules`` (None when gone)."""
    try:
        wanted = int(schedule_id)
    except (TypeError, ValueError):
        return None
    return next((s for s in schedules if s["id"] == wanted), None)


def any_active(schedules: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a schedule's last run is still being made (the table polls meanwhile)."""
    return any(s.get("last_status") in ACTIVE_STATUSES for s in schedules)


def message_saved(name: str, created: bool) -> str:
    if created:
        return _("The schedule %(name)s was created.", name=name)
    return _("The schedule %(name)s was saved.", name=name)


def message_toggled(name: str, enabled: bool) -> str:
    if enabled:
        return _("The schedule %(name)s was resumed.", name=name)
    return _("The schedule %(name)s was paused; it sends nothing until resumed.", name=name)


def message_run(name: str, run_id: int) -> str:
    return _(
        "Report %(id)s of the schedule %(name)s is being made; it is e-mailed when ready.",
        id=run_id,
        name=name,
    )


def message_deleted(name: str) -> str:
    return _("The schedule %(name)s was deleted.", name=name)


# --- the table -----------------------------------------------------------------------------------


def when_cell(schedule: Mapping[str, Any], tz: str) -> list:
    preset = preset_for(schedule["cron"])
    first = (
        [html.Div(_(CRON_PRESETS[preset][1])), html.Code(schedule["cron"], className="small")]
        if preset != CUSTOM
        else [html.Code(schedule["cron"])]
    )
    return [
        *first,
        html.Div(
            next_text(schedule.get("next_run_local"), tz),
            className="report-schedules-next small text-muted",
        ),
    ]


def last_run_cell(schedule: Mapping[str, Any]) -> Any:
    status = schedule.get("last_status")
    if not status:
        return html.Span(_("Never run"), className="text-muted small")
    parts: list = [
        dbc.Badge(
            _(STATUS_LABELS.get(status, status)),
            color=STATUS_COLORS.get(status, "secondary"),
            className="report-schedules-status",
        )
    ]
    when = schedule.get("last_run_local")
    if when is not None:
        parts.append(html.Div(local_time_text(when), className="small text-muted"))
    if status == "failed" and schedule.get("last_error"):
        parts.append(
            html.Div(schedule["last_error"], className="report-schedules-error small text-danger")
        )
    delivery = delivery_text(schedule.get("delivery"))
    if delivery is not None:
        parts.append(delivery)
    return html.Div(parts)


def delivery_text(delivery: Mapping[str, Any] | None) -> html.Div | None:
    """What became of the last run's e-mail: sent (when), being sent, waiting for a retry (why),
    or failed for good (why)."""
    if not delivery:
        return None
    status = delivery.get("status")
    error = str(delivery.get("error") or "")
    if status == "sent":
        when = delivery.get("sent_at_local")
        text = _("E-mail sent %(when)s", when=local_time_text(when)) if when else _("E-mail sent")
        color = "text-success"
    elif status == "failed":
        text = _("E-mail failed: %(error)s", error=error) if error else _("E-mail failed")
        color = "text-danger"
    elif error:  # pending again after a failed attempt
        text = _("E-mail will be retried: %(error)s", error=error)
        color = "text-warning"
    else:
        text, color = _("E-mail queued"), "text-muted"
    return html.Div(text, className=f"report-schedules-delivery small {color}")


def channel_cell(schedule: Mapping[str, Any]) -> Any:
    if schedule.get("channel"):
        return schedule["channel"]
    return html.Span(_("No channel (deleted)"), className="text-danger small")


def recipients_cell(schedule: Mapping[str, Any]) -> Any:
    recipients = list(schedule.get("recipients") or [])
    return html.Div(
        [
            html.Div(recipients_text(recipients)),
            html.Div(", ".join(recipients), className="small text-muted text-break"),
        ]
    )


def enabled_badge(enabled: bool) -> dbc.Badge:
    return dbc.Badge(
        _("Active") if enabled else _("Paused"),
        color="success" if enabled else "secondary",
        className="report-schedules-enabled",
    )


def _action(label: str, component_id: dict, color: str, name: str) -> dbc.Button:
    return dbc.Button(
        label,
        id=component_id,
        color=color,
        outline=True,
        size="sm",
        className=f"report-schedules-{name}",
        n_clicks=0,
    )


def actions(schedule: Mapping[str, Any]) -> html.Div:
    """Pause/Resume, Run now, Edit and Delete (only built for admins)."""
    sid = schedule["id"]
    enabled = bool(schedule.get("enabled"))
    toggle = "pause" if enabled else "resume"
    return html.Div(
        [
            _action(
                _("Pause") if enabled else _("Resume"),
                ReportSchedules.toggle_button(sid, toggle),
                "secondary",
                "toggle",
            ),
            _action(_("Run now"), ReportSchedules.run_button(sid), "primary", "run"),
            _action(_("Edit"), ReportSchedules.edit_button(sid), "secondary", "edit"),
            _action(_("Delete"), ReportSchedules.delete_button(sid), "danger", "delete"),
        ],
        className="d-flex flex-wrap gap-1",
    )


def schedules_table(schedules: Sequence[Mapping[str, Any]], can_edit: bool, tz: str) -> Any:
    """Every schedule: name, when (and its next send), period, format, language, channel,
    recipients, the last run and whether it is active; admins get the row's actions."""
    if not schedules:
        return html.P(
            _("No report is scheduled yet."), className="report-schedules-empty text-muted small"
        )
    titles = [
        _("Name"),
        _("When"),
        _("Period"),
        _("Format"),
        _("Language"),
        _("E-mail channel"),
        _("Recipients"),
        _("Last run"),
        _("State"),
    ]
    header = html.Thead(html.Tr([html.Th(t) for t in titles] + ([html.Th("")] if can_edit else [])))
    rows = []
    for schedule in schedules:
        cells = [
            html.Td(schedule["name"], className="fw-semibold"),
            html.Td(when_cell(schedule, tz)),
            html.Td(kind_text(schedule["kind"])),
            html.Td(_(FORMAT_LABELS.get(schedule["format"], schedule["format"]))),
            html.Td(LOCALE_NAMES.get(schedule["locale"], schedule["locale"])),
            html.Td(channel_cell(schedule)),
            html.Td(recipients_cell(schedule)),
            html.Td(last_run_cell(schedule)),
            html.Td(enabled_badge(bool(schedule.get("enabled")))),
        ]
        if can_edit:
            cells.append(html.Td(actions(schedule)))
        rows.append(
            html.Tr(
                cells,
                className="report-schedules-row",
                **{
                    "data-schedule": str(schedule["id"]),
                    "data-enabled": "true" if schedule.get("enabled") else "false",
                },
            )
        )
    return dbc.Table([header, html.Tbody(rows)], size="sm", hover=True, responsive=True)


# --- the form ------------------------------------------------------------------------------------


def channel_options(channels: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "label": c["name"] if c.get("enabled") else _("%(name)s (disabled)", name=c["name"]),
            "value": c["id"],
        }
        for c in channels
    ]


def channels_or_error(
    read: Callable[[], list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], str | None]:
    """``read()``'s e-mail channels, or none and the service's readable reason."""
    try:
        return read(), None
    except ServiceError as exc:
        return [], str(exc)


def channel_note(channels: Sequence[Mapping[str, Any]], error: str | None = None) -> Any:
    """Nothing when an e-mail channel exists; else why there is none (the service's ``error``)
    or where to create one."""
    if error:
        return dbc.Alert(error, color="danger", className="small py-2 mb-0 mt-2")
    if channels:
        return None
    return dbc.Alert(
        [
            _("There is no e-mail channel yet: a schedule sends its report through one."),
            " ",
            html.A(
                _("Create an e-mail channel under Alerts → Notification channels."),
                href=dash.get_relative_path(CHANNELS_PATH),
                className="report-schedules-channel-link alert-link",
            ),
        ],
        color="warning",
        className="small py-2 mb-0 mt-2",
    )


def form_values(
    schedule: Mapping[str, Any] | None, channels: Sequence[Mapping[str, Any]], locale: str
) -> dict[str, Any]:
    """What the form shows for ``schedule`` (None: a new one, weekly, all sections, PDF, the
    reader's language, the first channel)."""
    if schedule is None:
        return {
            "title": _("New schedule"),
            "name": "",
            "preset": "weekly" if "weekly" in CRON_PRESETS else CUSTOM,
            "cron": CRON_PRESETS["weekly"][0] if "weekly" in CRON_PRESETS else "",
            "kind": "weekly",
            "sections": list(SECTIONS),
            "format": "pdf",
            "locale": locale if locale in LOCALE_NAMES else "en",
            "channel_id": channels[0]["id"] if channels else None,
            "recipients": "",
            "enabled": True,
        }
    return {
        "title": _("Edit schedule %(name)s", name=schedule["name"]),
        "name": schedule["name"],
        "preset": preset_for(schedule["cron"]),
        "cron": schedule["cron"],
        "kind": schedule["kind"],
        "sections": list(schedule.get("sections") or []),
        "format": schedule["format"],
        "locale": schedule["locale"],
        "channel_id": schedule.get("channel_id"),
        "recipients": ", ".join(schedule.get("recipients") or []),
        "enabled": bool(schedule.get("enabled")),
    }


def form_fields(
    name: str | None,
    preset: str | None,
    cron: str | None,
    kind: str | None,
    sections: Sequence[str] | None,
    fmt: str | None,
    locale: str | None,
    channel_id: Any,
    recipients: str | None,
    enabled: Any,
) -> dict[str, Any]:
    """The form's values as ``save_schedule`` takes them (it validates them)."""
    return {
        "name": name or "",
        "cron": cron_of(preset, cron),
        "kind": kind,
        "sections": list(sections or []),
        "format": fmt,
        "locale": locale,
        "channel_id": channel_id,
        "recipients": recipients or "",
        "enabled": bool(enabled),
    }


def pending_id(pending: Any) -> int | None:
    """The id of the schedule waiting for its delete confirmation (None: nothing valid)."""
    if not isinstance(pending, Mapping):
        return None
    try:
        return int(pending.get("id"))
    except (TypeError, ValueError):
        return None


INVALID_FIELDS = ("name", "cron", "recipients")


def invalid_flags(field: str | None) -> tuple[bool, bool, bool]:
    """Which of the name, cron and recipients inputs to mark invalid for the service's
    ``ScheduleInvalid.field`` (None: none of them)."""
    return tuple(field == name for name in INVALID_FIELDS)  # type: ignore[return-value]


def cron_missing() -> str:
    return _("Type a cron expression, e.g. 0 8 * * mon for Mondays at 08:00.")


def cron_row_style(preset: str | None) -> dict[str, str]:
    """The cron input shows only for a custom schedule."""
    return {} if preset == CUSTOM else {"display": "none"}


def preview(moments: Sequence[dt.datetime], tz: str, error: str | None = None) -> Any:
    """The next send times (aware, business time zone), or why there are none."""
    if error:
        return html.Div(error, className="report-schedules-preview-error small text-danger")
    if not moments:
        return html.Div(_("This schedule never sends."), className="small text-muted")
    return html.Div(
        [
            html.Div(
                _("Next sends (%(tz)s):", tz=tz), className="small fw-semibold text-muted mb-1"
            ),
            html.Ul(
                [html.Li(local_time_text(m)) for m in moments],
                className="report-schedules-preview-list small mb-0 ps-3",
            ),
        ]
    )


def form_modal() -> dbc.Modal:
    """The create/edit form; a callback fills it when it opens."""
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(_("New schedule"), id=ReportSchedules.FORM_TITLE)),
            dbc.ModalBody(
                [
                    _field(
                        _("Name"),
                        dbc.Input(id=ReportSchedules.NAME, type="text", maxLength=100),
                    ),
                    dbc.Row(
                        [
                            dbc.Col(
                                [
                                    _field(
                                        _("Schedule"),
                                        dcc.Dropdown(
                                            id=ReportSchedules.PRESET,
                                            options=preset_options(),
                                            value="weekly",
                                            clearable=False,
                                            searchable=False,
                                        ),
                                    ),
                                    _field(
                                        _("Cron expression (minute hour day month weekday)"),
                                        dbc.Input(
                                            id=ReportSchedules.CRON,
                                            type="text",
                                            placeholder=CRON_EXAMPLE,
                                            debounce=True,
                                        ),
                                        id=ReportSchedules.CRON_ROW,
                                        style=cron_row_style("weekly"),
                                    ),
                                ],
                                md=7,
                            ),
                            dbc.Col(html.Div(id=ReportSchedules.PREVIEW, className="mb-3"), md=5),
                        ]
                    ),
                    dbc.Row(
                        [
                            dbc.Col(
                                [
                                    _field(
                                        _("Period"),
                                        dbc.RadioItems(
                                            id=ReportSchedules.KIND,
                                            options=[
                                                {"label": kind_text(k), "value": k}
                                                for k in SCHEDULE_KINDS
                                            ],
                                            value="weekly",
                                        ),
                                    ),
                                    format_choice(ReportSchedules.FORMAT),
                                    language_choice(ReportSchedules.LOCALE, "en"),
                                ],
                                md=6,
                            ),
                            dbc.Col(sections_choice(ReportSchedules.SECTIONS), md=6),
                        ]
                    ),
                    _field(
                        _("E-mail channel"),
                        html.Div(
                            [
                                dcc.Dropdown(
                                    id=ReportSchedules.CHANNEL,
                                    options=[],
                                    clearable=False,
                                    placeholder=_("Choose an e-mail channel"),
                                ),
                                html.Div(id=ReportSchedules.CHANNEL_NOTE),
                            ]
                        ),
                    ),
                    _field(
                        _("Recipients (e-mail addresses, separated by commas)"),
                        dbc.Input(
                            id=ReportSchedules.RECIPIENTS,
                            type="text",
                            placeholder=RECIPIENTS_EXAMPLE,
                        ),
                    ),
                    dbc.Switch(
                        id=ReportSchedules.ENABLED,
                        label=_("Active (sends on schedule)"),
                        value=True,
                    ),
                    dbc.Alert(
                        id=ReportSchedules.FORM_ERROR,
                        color="danger",
                        is_open=False,
                        className="report-schedules-form-error small mt-3 mb-0",
                    ),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button(
                        _("Cancel"), id=ReportSchedules.CANCEL, color="secondary", n_clicks=0
                    ),
                    dbc.Button(_("Save"), id=ReportSchedules.SAVE, color="primary", n_clicks=0),
                ]
            ),
        ],
        id=ReportSchedules.FORM_MODAL,
        is_open=False,
        size="lg",
        backdrop="static",
    )


def schedules_card(can_edit: bool) -> html.Div:
    """The Schedules card: its table (filled by a callback) and, for admins, the New button,
    the form and the delete dialog."""
    header = [html.H3(_("Schedules"), className="h6 mb-0")]
    if can_edit:
        header.append(
            dbc.Button(
                _("New schedule"),
                id=ReportSchedules.NEW,
                color="primary",
                size="sm",
                n_clicks=0,
            )
        )
    extra = (
        [form_modal(), confirm_delete_modal(_("Delete schedule"), ReportSchedules)]
        if can_edit
        else []
    )
    return html.Div(
        [
            dbc.Card(
                dbc.CardBody(
                    [
                        html.Div(
                            header, className="d-flex justify-content-between align-items-center"
                        ),
                        html.P(
                            _(
                                "Reports made on a schedule in the business time zone and "
                                "e-mailed to their recipients."
                            ),
                            className="small text-muted mb-3",
                        ),
                        dbc.Alert(
                            id=ReportSchedules.MESSAGE,
                            is_open=False,
                            dismissable=True,
                            className="report-schedules-message small",
                        ),
                        html.Div(id=ReportSchedules.TABLE),
                    ]
                ),
                id=ReportSchedules.CARD,
                className="mb-3",
            ),
            dcc.Interval(id=ReportSchedules.POLL, interval=POLL_MS, disabled=True),
            dcc.Store(id=ReportSchedules.REFRESH_STORE),
            dcc.Store(id=ReportSchedules.EDIT_STORE),
            dcc.Store(id=ReportSchedules.PENDING_STORE),
            *extra,
        ]
    )
