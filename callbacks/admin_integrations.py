"""Admin → Integrations: add, edit, enable, delete and check monitored services; configure and
test channel sources. Admins only, checked on the server for every callback."""

from dash import ALL, MATCH, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app import integrations
from bi_app.i18n import N_, _
from bi_app.integrations import channels as channel_admin
from bi_app.integrations import services as service_admin
from bi_app.roles import Page
from callbacks._registry import callback
from components import admin_integrations_view as view
from components import fallback
from components.ids import AdminIntegrations as Ids


def _clicked() -> dict:
    """The id of the button that was really clicked (re-rendered buttons arrive with 0 clicks)."""
    if not ctx.triggered_id or not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    return ctx.triggered_id


def _form(values: list, ids: list[dict]) -> dict:
    return {i["field"]: v for i, v in zip(ids, values)}


@callback(
    Output(Ids.SERVICES_TABLE, "children"),
    Input(Ids.SERVICES_VERSION_STORE, "data"),
    roles=Page.ADMIN_INTEGRATIONS,
    fallback=fallback.message(N_("The list of monitored services")),
    prevent_initial_call=True,
)
def refresh_services(_version):
    """Shows the services table as stored now."""
    return view.services_table(service_admin.list_services())


@callback(
    Output(Ids.SERVICE_MESSAGE, "children"),
    Output(Ids.SERVICE_MESSAGE, "color"),
    Output(Ids.SERVICE_MESSAGE, "is_open"),
    Output(Ids.service_field(ALL), "invalid"),
    Output(Ids.service_feedback(ALL), "children"),
    Output(Ids.SERVICES_VERSION_STORE, "data", allow_duplicate=True),
    Input(Ids.SERVICE_SAVE, "n_clicks"),
    State(Ids.SERVICE_EDIT_STORE, "data"),
    State(Ids.service_field(ALL), "value"),
    State(Ids.service_field(ALL), "id"),
    State(Ids.SERVICES_VERSION_STORE, "data"),
    roles=Page.ADMIN_INTEGRATIONS,
    prevent_initial_call=True,
)
def save_service(clicks, edit_id, values, ids, version):
    """Saves the add/edit form, or marks each refused field with the reason."""
    if not clicks:
        raise PreventUpdate
    fields = [i["field"] for i in ids]
    try:
        form = service_admin.parse_service_form(_form(values, ids))
        if edit_id is None:
            service_admin.create_service(form)
        else:
            service_admin.update_service(int(edit_id), form)
    except integrations.IntegrationError as exc:
        return (
            _("Not saved: correct the marked fields."),
            "danger",
            True,
            *view.field_feedback(exc.errors, fields),
            no_update,
        )
    except integrations.NotFound:
        return (
            _("Not saved: that service was deleted meanwhile."),
            "warning",
            True,
            *view.field_feedback({}, fields),
            (version or 0) + 1,
        )
    return (
        _("Saved service %(name)s.", name=form.name),
        "success",
        True,
        *view.field_feedback({}, fields),
        (version or 0) + 1,
    )


@callback(
    Output(Ids.service_field(ALL), "value"),
    Output(Ids.SERVICE_FORM_TITLE, "children"),
    Output(Ids.SERVICE_EDIT_STORE, "data"),
    Output(Ids.service_field(ALL), "invalid", allow_duplicate=True),
    Output(Ids.service_feedback(ALL), "children", allow_duplicate=True),
    Input(Ids.service_edit(ALL), "n_clicks"),
    Input(Ids.SERVICE_NEW, "n_clicks"),
    Input(Ids.SERVICES_VERSION_STORE, "data"),
    State(Ids.service_field(ALL), "id"),
    roles=Page.ADMIN_INTEGRATIONS,
    prevent_initial_call=True,
)
def fill_service_form(_edits, _new, _version, ids):
    """Loads a service into the form for editing, or empties it ("New", and after a change)."""
    row = None
    if ctx.triggered_id not in (Ids.SERVICE_NEW, Ids.SERVICES_VERSION_STORE):
        service_id = _clicked()["index"]
        rows = service_admin.list_services()
        row = next((r for r in rows if r.id == service_id), None)
    values, title, edit_id = view.service_form_values(row)
    fields = [i["field"] for i in ids]
    return (
        [values[view.SERVICE_FIELDS.index(f)] for f in fields],
        title,
        edit_id,
        *view.field_feedback({}, fields),
    )


@callback(
    Output(Ids.SERVICE_MESSAGE, "children", allow_duplicate=True),
    Output(Ids.SERVICE_MESSAGE, "color", allow_duplicate=True),
    Output(Ids.SERVICE_MESSAGE, "is_open", allow_duplicate=True),
    Output(Ids.SERVICES_VERSION_STORE, "data", allow_duplicate=True),
    Input(Ids.service_toggle(ALL), "n_clicks"),
    State(Ids.SERVICES_VERSION_STORE, "data"),
    roles=Page.ADMIN_INTEGRATIONS,
    prevent_initial_call=True,
)
def toggle_service(_clicks, version):
    """Enables or disables one admin-managed service."""
    service_id = _clicked()["index"]
    try:
        name, enabled = service_admin.toggle_service(int(service_id))
    except integrations.NotFound:
        return _("That service was deleted meanwhile."), "warning", True, (version or 0) + 1
    text = _("%(name)s enabled.", name=name) if enabled else _("%(name)s disabled.", name=name)
    return text, "success", True, (version or 0) + 1


@callback(
    Output(Ids.DELETE_MODAL, "is_open"),
    Output(Ids.DELETE_TEXT, "children"),
    Output(Ids.DELETE_STORE, "data"),
    Input(Ids.service_delete(ALL), "n_clicks"),
    roles=Page.ADMIN_INTEGRATIONS,
    prevent_initial_call=True,
)
def ask_delete(_clicks):
    """Asks for confirmation before a service is deleted."""
    service_id = int(_clicked()["index"])
    try:
        name = service_admin.service_name(service_id)
    except integrations.NotFound:
        raise PreventUpdate from None
    return True, view.delete_question(name), service_id


@callback(
    Output(Ids.DELETE_MODAL, "is_open", allow_duplicate=True),
    Output(Ids.SERVICE_MESSAGE, "children", allow_duplicate=True),
    Output(Ids.SERVICE_MESSAGE, "color", allow_duplicate=True),
    Output(Ids.SERVICE_MESSAGE, "is_open", allow_duplicate=True),
    Output(Ids.SERVICES_VERSION_STORE, "data", allow_duplicate=True),
    Input(Ids.DELETE_CONFIRM, "n_clicks"),
    Input(Ids.DELETE_CANCEL, "n_clicks"),
    State(Ids.DELETE_STORE, "data"),
    State(Ids.SERVICES_VERSION_STORE, "data"),
    roles=Page.ADMIN_INTEGRATIONS,
    prevent_initial_call=True,
)
def confirm_delete(_confirm, _cancel, service_id, version):
    """Deletes the service once confirmed; Cancel just closes the dialog."""
    if _clicked() == Ids.DELETE_CANCEL or service_id is None:
        return False, no_update, no_update, no_update, no_update
    try:
        name = service_admin.delete_service(int(service_id))
    except integrations.NotFound:
        text = _("That service was already deleted.")
        return False, text, "warning", True, (version or 0) + 1
    return False, _("Deleted service %(name)s.", name=name), "success", True, (version or 0) + 1


@callback(
    Output(Ids.service_result(MATCH), "children"),
    Input(Ids.service_check(MATCH), "n_clicks"),
    roles=Page.ADMIN_INTEGRATIONS,
    prevent_initial_call=True,
)
def check_now(_clicks):
    """Runs this one service's HTTP check now and shows status, latency and error."""
    name = str(_clicked()["index"])
    try:
        result = service_admin.check_service(name)
    except integrations.NotFound:
        return _("This service no longer exists.")
    return view.check_result(result)


# --- channel sources -------------------------------------------------------------------------


@callback(
    Output(Ids.CHANNELS_TABLE, "children"),
    Input(Ids.CHANNELS_VERSION_STORE, "data"),
    roles=Page.ADMIN_INTEGRATIONS,
    fallback=fallback.message(N_("The list of channel sources")),
    prevent_initial_call=True,
)
def refresh_channels(_version):
    """Shows the channel sources as stored now."""
    return view.channels_table(channel_admin.list_channel_sources())


@callback(
    Output(Ids.channel_field(ALL), "value"),
    Output(Ids.channel_feedback(ALL), "children", allow_duplicate=True),
    Input(Ids.channel_edit(ALL), "n_clicks"),
    State(Ids.channel_field(ALL), "id"),
    roles=Page.ADMIN_INTEGRATIONS,
    prevent_initial_call=True,
)
def fill_channel_form(_clicks, ids):
    """Loads one channel's configuration into the form (the secret stays on the server)."""
    channel = _clicked()["index"]
    row = next((r for r in channel_admin.list_channel_sources() if r.channel == channel), None)
    if row is None:
        raise PreventUpdate
    values = dict(zip(view.CHANNEL_FIELDS, view.channel_form_values(row)))
    return [values[i["field"]] for i in ids], [""] * len(ids)


@callback(
    Output(Ids.CHANNEL_MESSAGE, "children"),
    Output(Ids.CHANNEL_MESSAGE, "color"),
    Output(Ids.CHANNEL_MESSAGE, "is_open"),
    Output(Ids.channel_feedback(ALL), "children"),
    Output(Ids.channel_field(ALL), "value", allow_duplicate=True),
    Output(Ids.CHANNELS_VERSION_STORE, "data"),
    Input(Ids.CHANNEL_SAVE, "n_clicks"),
    State(Ids.channel_field(ALL), "value"),
    State(Ids.channel_field(ALL), "id"),
    State(Ids.CHANNELS_VERSION_STORE, "data"),
    roles=Page.ADMIN_INTEGRATIONS,
    prevent_initial_call=True,
)
def save_channel(clicks, values, ids, version):
    """Saves a channel's source (or puts it back on the demo source), marking refused fields."""
    if not clicks:
        raise PreventUpdate
    fields = [i["field"] for i in ids]
    try:
        form = channel_admin.parse_channel_form(_form(values, ids), channel_admin.channel_names())
        saved = channel_admin.save_channel_source(form)
    except integrations.IntegrationError as exc:
        return (
            _("Not saved: correct the marked fields."),
            "danger",
            True,
            view.field_feedback(exc.errors, fields)[1],
            [no_update] * len(fields),
            no_update,
        )
    text = (
        _("%(channel)s: saved the HTTP JSON source.", channel=form.channel)
        if saved.config
        else _("%(channel)s: using the built-in demo source.", channel=form.channel)
    )
    if saved.notice:
        text = f"{text} {saved.notice}"
    emptied = {"auth_header_value", "auth_header_name"} if saved.notice else {"auth_header_value"}
    cleared = ["" if f in emptied else v for f, v in zip(fields, values)]
    color = "warning" if saved.notice else "success"
    return text, color, True, [""] * len(fields), cleared, (version or 0) + 1


@callback(
    Output(Ids.channel_result(MATCH), "children"),
    Input(Ids.channel_test(MATCH), "n_clicks"),
    State(Ids.CHANNEL_EVENT, "value"),
    roles=Page.ADMIN_INTEGRATIONS,
    prevent_initial_call=True,
)
def run_channel_test(_clicks, event_id):
    """Fetches the chosen event once through this channel's source and shows what came back."""
    channel = str(_clicked()["index"])
    if not isinstance(event_id, int):
        return _("Choose an event first.")
    try:
        result = channel_admin.try_channel_source(channel, event_id)
    except integrations.NotFound as exc:
        return str(exc)
    return view.fetch_result(result)
