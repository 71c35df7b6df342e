"""Callbacks of /ops/alerts/channels: the form per kind, save, edit, delete after confirmation,
send a test notification, the delivery log per channel. Admins only, checked on the server."""

from __future__ import annotations

from dash import ALL, MATCH, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app.alerts import channel_admin
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from callbacks._registry import callback
from components import fallback
from components import ops_alert_channels_view as view
from components.ids import OpsAlertChannels as Ids


def _clicked() -> dict:
    """The id of the button really clicked (re-rendered buttons arrive with 0 clicks)."""
    if not ctx.triggered_id or not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    return ctx.triggered_id


def _form(values: list, ids: list[dict]) -> dict:
    return {i["field"]: v for i, v in zip(ids, values)}


@callback(
    Output(Ids.TABLE, "children"),
    Output(Ids.LOG_CHANNEL, "options"),
    Input(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_CHANNELS,
    fallback=fallback.each(fallback.message(N_("The list of channels")), fallback.value(no_update)),
    prevent_initial_call=True,
)
def refresh_channels(_version):
    """Shows the channels as stored now."""
    channels = channel_admin.list_channels()
    tz = current_viewer().timezone
    return view.channels_table(channels, tz), view.log_channel_options(channels)


@callback(
    Output(Ids.LOG_GRID, "rowData"),
    Input(Ids.LOG_CHANNEL, "value"),
    Input(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_CHANNELS,
    fallback=fallback.value(no_update),
    prevent_initial_call=True,
)
def show_log(channel_id, _version):
    """Shows the newest deliveries of the chosen channel (or of all)."""
    chosen = channel_id if isinstance(channel_id, int) else None
    rows = channel_admin.delivery_log(chosen, limit=100)
    return view.log_rows(rows, current_viewer().timezone)


@callback(
    *(Output(Ids.section(key), "style") for key in view.SECTIONS),
    Output(Ids.SECRET_LABEL, "children"),
    Output(Ids.SECRET_HELP, "children"),
    Input(Ids.field("kind"), "value"),
    roles=Page.OPS_ALERT_CHANNELS,
    prevent_initial_call=True,
)
def show_kind(kind):
    """Shows the fields of the chosen kind."""
    styles, label, help_text = view.kind_view(kind)
    return (*styles, label, help_text)


@callback(
    Output(Ids.field(ALL), "value"),
    Output(Ids.feedback(ALL), "children", allow_duplicate=True),
    Output(Ids.FORM_TITLE, "children"),
    Output(Ids.EDIT_STORE, "data"),
    Output(Ids.field("kind"), "disabled"),
    Input(Ids.edit(ALL), "n_clicks"),
    Input(Ids.NEW, "n_clicks"),
    State(Ids.field(ALL), "id"),
    roles=Page.OPS_ALERT_CHANNELS,
    prevent_initial_call=True,
)
def open_channel(_edits, _new, ids):
    """Loads a channel into the form (never its secret), or empties it for a new one."""
    channel = None
    if ctx.triggered_id != Ids.NEW:
        channel_id = _clicked()["index"]
        try:
            channel = channel_admin.get_channel(int(channel_id))
        except channel_admin.ChannelNotFound:
            raise PreventUpdate from None
    values = view.form_values(channel)
    return (
        [values[i["field"]] for i in ids],
        [""] * len(ids),
        view.form_title(channel),
        channel["id"] if channel else None,
        channel is not None,  # a channel's kind cannot change
    )


@callback(
    Output(Ids.MESSAGE, "children"),
    Output(Ids.MESSAGE, "color"),
    Output(Ids.MESSAGE, "is_open"),
    Output(Ids.feedback(ALL), "children"),
    Output(Ids.field("secret"), "value", allow_duplicate=True),
    Output(Ids.VERSION_STORE, "data"),
    Output(Ids.EDIT_STORE, "data", allow_duplicate=True),
    Output(Ids.FORM_TITLE, "children", allow_duplicate=True),
    Output(Ids.field("kind"), "disabled", allow_duplicate=True),
    Input(Ids.SAVE, "n_clicks"),
    State(Ids.field(ALL), "value"),
    State(Ids.field(ALL), "id"),
    State(Ids.EDIT_STORE, "data"),
    State(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_CHANNELS,
    prevent_initial_call=True,
)
def save_channel(clicks, values, ids, edit_id, version):
    """Saves the channel, or says which field is wrong (the form keeps what was typed)."""
    if not clicks:
        raise PreventUpdate
    fields = [i["field"] for i in ids]
    form = _form(values, ids)
    try:
        saved = channel_admin.save_channel(
            view.raw_channel(form), None, int(edit_id) if edit_id else None
        )
    except channel_admin.ChannelInvalid as exc:
        feedback = view.field_feedback(exc.field, exc.message, form.get("kind"), fields)
        text = _("Not saved: %(reason)s", reason=exc.message)
        return (text, "danger", True, feedback, *(no_update,) * 5)
    except channel_admin.ChannelNotFound as exc:
        blank = [""] * len(fields)
        return str(exc), "warning", True, blank, "", (version or 0) + 1, None, no_update, False
    text = _("Saved channel %(name)s.", name=saved["name"])
    return (
        text,
        "success",
        True,
        [""] * len(fields),
        "",
        (version or 0) + 1,
        saved["id"],
        view.form_title(saved),
        True,
    )


@callback(
    Output(Ids.result(MATCH), "children"),
    Output(Ids.health(MATCH), "children"),
    Input(Ids.test(MATCH), "n_clicks"),
    roles=Page.OPS_ALERT_CHANNELS,
    prevent_initial_call=True,
)
def send_test(_clicks):
    """Sends a test notification through this channel now; shows the outcome and the
    channel's delivery health after it."""
    channel_id = int(_clicked()["index"])
    try:
        outcome = channel_admin.send_test_notification(channel_id, None)
    except channel_admin.ChannelNotFound as exc:
        return str(exc), no_update
    channel = next((c for c in channel_admin.list_channels() if c["id"] == channel_id), None)
    health = view.health_cell(channel, current_viewer().timezone) if channel else no_update
    return view.test_result(outcome), health


@callback(
    Output(Ids.LOG_GRID, "rowData", allow_duplicate=True),
    Input(Ids.result(ALL), "children"),
    State(Ids.LOG_CHANNEL, "value"),
    roles=Page.OPS_ALERT_CHANNELS,
    prevent_initial_call=True,
)
def log_after_test(results, channel_id):
    """Shows the test message in the delivery log once its outcome is known."""
    if not any(results):
        raise PreventUpdate
    chosen = channel_id if isinstance(channel_id, int) else None
    rows = channel_admin.delivery_log(chosen, limit=100)
    return view.log_rows(rows, current_viewer().timezone)


@callback(
    Output(Ids.DELETE_MODAL, "is_open"),
    Output(Ids.DELETE_TEXT, "children"),
    Output(Ids.MESSAGE, "children", allow_duplicate=True),
    Output(Ids.MESSAGE, "color", allow_duplicate=True),
    Output(Ids.MESSAGE, "is_open", allow_duplicate=True),
    Input(Ids.DELETE, "n_clicks"),
    State(Ids.EDIT_STORE, "data"),
    roles=Page.OPS_ALERT_CHANNELS,
    prevent_initial_call=True,
)
def ask_delete(clicks, edit_id):
    """Asks before a channel is deleted (only a saved one can be)."""
    if not clicks:
        raise PreventUpdate
    if not edit_id:
        return False, no_update, _("Choose a channel with Edit first."), "warning", True
    try:
        channel = channel_admin.get_channel(int(edit_id))
    except channel_admin.ChannelNotFound as exc:
        return False, no_update, str(exc), "warning", True
    return True, view.delete_question(channel["name"]), no_update, no_update, no_update


@callback(
    Output(Ids.DELETE_MODAL, "is_open", allow_duplicate=True),
    Output(Ids.MESSAGE, "children", allow_duplicate=True),
    Output(Ids.MESSAGE, "color", allow_duplicate=True),
    Output(Ids.MESSAGE, "is_open", allow_duplicate=True),
    Output(Ids.VERSION_STORE, "data", allow_duplicate=True),
    Output(Ids.EDIT_STORE, "data", allow_duplicate=True),
    Output(Ids.FORM_TITLE, "children", allow_duplicate=True),
    Output(Ids.field("kind"), "disabled", allow_duplicate=True),
    Input(Ids.DELETE_CONFIRM, "n_clicks"),
    Input(Ids.DELETE_CANCEL, "n_clicks"),
    State(Ids.EDIT_STORE, "data"),
    State(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_CHANNELS,
    prevent_initial_call=True,
)
def confirm_delete(confirm, _cancel, edit_id, version):
    """Deletes the channel once confirmed; Cancel just closes the dialog."""
    if ctx.triggered_id != Ids.DELETE_CONFIRM or not confirm or not edit_id:
        return (False, *(no_update,) * 7)
    try:
        name = channel_admin.delete_channel(int(edit_id), None)
        text, color = _("Deleted channel %(name)s.", name=name), "success"
    except channel_admin.ChannelNotFound as exc:
        text, color = str(exc), "warning"
    return False, text, color, True, (version or 0) + 1, None, view.form_title(None), False
