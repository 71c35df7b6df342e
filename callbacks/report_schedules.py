"""Callbacks of the Schedules card on /reports: the table of report schedules (everyone who may
open the page), the create/edit form with its preview of the next sends, pause/resume, run now
and delete (admins)."""

from __future__ import annotations

import datetime as dt
import time

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app import auth, current_settings
from bi_app.i18n import N_, current_locale
from bi_app.reports import schedules
from bi_app.roles import ADMINS, Page
from bi_app.viewer import current_viewer
from callbacks._confirm import confirm_delete
from callbacks._registry import callback
from components import fallback
from components import report_schedules_view as view
from components.ids import ReportSchedules as RS

_MESSAGE_FALLBACK = (
    fallback.message(N_("Report schedules")),
    fallback.value("danger"),
    fallback.value(True),
)


def _changed() -> float:
    """A fresh value for the refresh store, so the table is read again."""
    return time.time()


def _clicked() -> bool:
    """Whether the trigger is a click (not buttons re-drawn by a refresh, whose n_clicks is 0)."""
    return bool(ctx.triggered and ctx.triggered[0]["value"])


@callback(
    Output(RS.TABLE, "children"),
    Output(RS.POLL, "disabled"),
    Input(RS.REFRESH_STORE, "data"),
    Input(RS.POLL, "n_intervals"),
    roles=Page.REPORTS,
    fallback=fallback.each(fallback.message(N_("Report schedules")), fallback.value(True)),
)
def refresh(_changed_at, _ticks):
    """Shows every schedule; polls while a schedule's report is being made."""
    items = schedules.list_schedules()
    table = view.schedules_table(items, current_viewer().may(ADMINS), current_settings().timezone)
    return table, not view.any_active(items)


@callback(
    Output(RS.FORM_MODAL, "is_open"),
    Output(RS.FORM_TITLE, "children"),
    Output(RS.EDIT_STORE, "data"),
    Output(RS.NAME, "value"),
    Output(RS.PRESET, "value"),
    Output(RS.CRON, "value", allow_duplicate=True),
    Output(RS.KIND, "value"),
    Output(RS.SECTIONS, "value"),
    Output(RS.FORMAT, "value"),
    Output(RS.LOCALE, "value"),
    Output(RS.CHANNEL, "options"),
    Output(RS.CHANNEL, "value"),
    Output(RS.CHANNEL_NOTE, "children"),
    Output(RS.RECIPIENTS, "value"),
    Output(RS.ENABLED, "value"),
    Output(RS.FORM_ERROR, "is_open"),
    Output(RS.NAME, "invalid"),
    Output(RS.CRON, "invalid"),
    Output(RS.RECIPIENTS, "invalid"),
    Input(RS.NEW, "n_clicks"),
    Input(RS.edit_button(ALL), "n_clicks"),
    Input(RS.CANCEL, "n_clicks"),
    roles=ADMINS,
    prevent_initial_call=True,
)
def open_form(_new, _edit, _cancel):
    """Opens the form empty (New) or with the clicked schedule (Edit); Cancel closes it."""
    if not _clicked():
        raise PreventUpdate
    if ctx.triggered_id == RS.CANCEL:
        return (False,) + (no_update,) * 18
    schedule_id = ctx.triggered_id.get("schedule") if isinstance(ctx.triggered_id, dict) else None
    channels, note_error = view.channels_or_error(schedules.email_channels)
    schedule = None
    if schedule_id is not None:
        schedule = view.find(schedules.list_schedules(), schedule_id)
        if schedule is None:
            raise PreventUpdate  # deleted meanwhile; the next refresh drops its row
    v = view.form_values(schedule, channels, current_locale())
    return (
        True,
        v["title"],
        None if schedule is None else schedule["id"],
        v["name"],
        v["preset"],
        v["cron"],
        v["kind"],
        v["sections"],
        v["format"],
        v["locale"],
        view.channel_options(channels),
        v["channel_id"],
        view.channel_note(channels, note_error),
        v["recipients"],
        v["enabled"],
        False,
        *view.invalid_flags(None),
    )


@callback(
    Output(RS.CRON, "value"),
    Output(RS.CRON_ROW, "style"),
    Input(RS.PRESET, "value"),
    roles=ADMINS,
)
def choose_preset(preset):
    """A preset fills in its cron and hides the cron input; "custom" shows it to type one."""
    if preset == view.CUSTOM:
        return no_update, view.cron_row_style(preset)
    return view.cron_of(preset, None), view.cron_row_style(preset)


@callback(
    Output(RS.PREVIEW, "children"),
    Input(RS.PRESET, "value"),
    Input(RS.CRON, "value"),
    roles=ADMINS,
)
def preview(preset, cron):
    """The next three send times of the chosen schedule, in the business time zone."""
    tz = current_settings().timezone
    expression = view.cron_of(preset, cron)
    if not expression:
        return view.preview([], tz, view.cron_missing())
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        slots = schedules.upcoming(expression, tz, now, 3)
    except schedules.ReportError as exc:
        return view.preview([], tz, str(exc))
    return view.preview([schedules.local(s, tz) for s in slots], tz)


@callback(
    Output(RS.FORM_ERROR, "children"),
    Output(RS.FORM_ERROR, "is_open", allow_duplicate=True),
    Output(RS.FORM_MODAL, "is_open", allow_duplicate=True),
    Output(RS.MESSAGE, "children"),
    Output(RS.MESSAGE, "color"),
    Output(RS.MESSAGE, "is_open"),
    Output(RS.REFRESH_STORE, "data"),
    Output(RS.NAME, "invalid", allow_duplicate=True),
    Output(RS.CRON, "invalid", allow_duplicate=True),
    Output(RS.RECIPIENTS, "invalid", allow_duplicate=True),
    Input(RS.SAVE, "n_clicks"),
    State(RS.EDIT_STORE, "data"),
    State(RS.NAME, "value"),
    State(RS.PRESET, "value"),
    State(RS.CRON, "value"),
    State(RS.KIND, "value"),
    State(RS.SECTIONS, "value"),
    State(RS.FORMAT, "value"),
    State(RS.LOCALE, "value"),
    State(RS.CHANNEL, "value"),
    State(RS.RECIPIENTS, "value"),
    State(RS.ENABLED, "value"),
    roles=ADMINS,
    prevent_initial_call=True,
    fallback=fallback.each(
        fallback.message(N_("Report schedules")),
        fallback.value(True),
        *(fallback.value(no_update),) * 8,
    ),
)
def save(clicks, editing, name, preset, cron, kind, sections, fmt, locale, channel, to, enabled):
    """Creates or changes the schedule and closes the form, or shows what is wrong in it and
    marks the field (the form keeps everything typed)."""
    if not clicks:
        raise PreventUpdate
    fields = view.form_fields(name, preset, cron, kind, sections, fmt, locale, channel, to, enabled)
    try:
        schedules.save_schedule(fields, auth.request_user(), schedule_id=editing)
    except schedules.ReportError as exc:
        flags = view.invalid_flags(getattr(exc, "field", None))
        return (str(exc), True) + (no_update,) * 5 + flags
    text = view.message_saved(" ".join(str(name or "").split()), editing is None)
    return (None, False, False, text, "success", True, _changed(), *view.invalid_flags(None))


@callback(
    Output(RS.MESSAGE, "children", allow_duplicate=True),
    Output(RS.MESSAGE, "color", allow_duplicate=True),
    Output(RS.MESSAGE, "is_open", allow_duplicate=True),
    Output(RS.REFRESH_STORE, "data", allow_duplicate=True),
    Input(RS.toggle_button(ALL, ALL), "n_clicks"),
    Input(RS.run_button(ALL), "n_clicks"),
    roles=ADMINS,
    prevent_initial_call=True,
    fallback=fallback.each(*_MESSAGE_FALLBACK, fallback.value(no_update)),
)
def act(_toggles, _runs):
    """Pauses, resumes or runs now the clicked schedule and says so."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not _clicked():
        raise PreventUpdate
    schedule = view.find(schedules.list_schedules(), trigger.get("schedule"))
    if schedule is None:
        raise PreventUpdate
    try:
        if trigger.get("type") == RS.run_button(0)["type"]:
            run_id = schedules.run_now(schedule["id"], auth.request_user())
            text = view.message_run(schedule["name"], run_id)
        else:
            enable = trigger.get("action") == "resume"
            schedules.set_enabled(schedule["id"], enable, auth.request_user())
            text = view.message_toggled(schedule["name"], enable)
    except schedules.ReportError as exc:
        return str(exc), "warning", True, _changed()
    return text, "success", True, _changed()


def _schedule_to_delete(trigger):
    schedule = view.find(schedules.list_schedules(), trigger.get("schedule"))
    if schedule is None:
        return None
    return view.delete_question(schedule), {"id": schedule["id"], "name": schedule["name"]}


ask_delete = confirm_delete(RS, _schedule_to_delete, roles=ADMINS)


@callback(
    Output(RS.MESSAGE, "children", allow_duplicate=True),
    Output(RS.MESSAGE, "color", allow_duplicate=True),
    Output(RS.MESSAGE, "is_open", allow_duplicate=True),
    Output(RS.REFRESH_STORE, "data", allow_duplicate=True),
    Input(RS.DELETE_CONFIRM, "n_clicks"),
    State(RS.PENDING_STORE, "data"),
    roles=ADMINS,
    prevent_initial_call=True,
    fallback=fallback.each(*_MESSAGE_FALLBACK, fallback.value(no_update)),
)
def delete(clicks, pending):
    """Deletes the confirmed schedule (audited) and says so."""
    schedule_id = view.pending_id(pending)
    if not clicks or schedule_id is None:
        raise PreventUpdate
    try:
        schedules.delete_schedule(schedule_id, auth.request_user())
    except schedules.ReportError as exc:
        return str(exc), "warning", True, _changed()
    return view.message_deleted(str(pending.get("name") or "")), "success", True, _changed()
