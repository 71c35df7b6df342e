"""Callbacks of /ops/alerts/silences: create a silence from the form, expire a running one, show
the list as stored. Admins only, checked on the server."""

from __future__ import annotations

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app.alerts import silences
from bi_app.db.models import utcnow
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from callbacks._registry import callback
from components import fallback
from components import ops_alert_silences_view as view
from components.ids import OpsAlertSilences as Ids


@callback(
    Output(Ids.TABLE, "children"),
    Input(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_SILENCES,
    fallback=fallback.message(N_("The list of silences")),
    prevent_initial_call=True,
)
def refresh_silences(_version):
    """Shows the silences as stored now."""
    now = utcnow()
    return view.silences_table(silences.list_silences(now=now), current_viewer().timezone, now)


@callback(
    Output(Ids.MESSAGE, "children"),
    Output(Ids.MESSAGE, "color"),
    Output(Ids.MESSAGE, "is_open"),
    Output(Ids.VERSION_STORE, "data"),
    Output(Ids.REASON, "value"),
    Input(Ids.CREATE, "n_clicks"),
    State(Ids.MATCHERS, "value"),
    State(Ids.START, "value"),
    State(Ids.END, "value"),
    State(Ids.REASON, "value"),
    State(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_SILENCES,
    prevent_initial_call=True,
)
def create_silence(clicks, matchers, start, end, reason, version):
    """Creates the silence, or says what is wrong (the form keeps what was typed)."""
    if not clicks:
        raise PreventUpdate
    tz = current_viewer().timezone
    try:
        starts_at, ends_at = view.parse_local(start, tz), view.parse_local(end, tz)
    except ValueError:
        text = _("Write the times as YYYY-MM-DD HH:MM (%(timezone)s).", timezone=tz)
        return text, "danger", True, no_update, no_update
    try:
        created = silences.create_silence(matchers or "", starts_at, ends_at, reason or "", None)
    except silences.SilenceInvalid as exc:
        return _("Not created: %(reason)s", reason=str(exc)), "danger", True, no_update, no_update
    return view.created_text(created), "success", True, (version or 0) + 1, ""


@callback(
    Output(Ids.MESSAGE, "children", allow_duplicate=True),
    Output(Ids.MESSAGE, "color", allow_duplicate=True),
    Output(Ids.MESSAGE, "is_open", allow_duplicate=True),
    Output(Ids.VERSION_STORE, "data", allow_duplicate=True),
    Input(Ids.expire(ALL), "n_clicks"),
    State(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_SILENCES,
    prevent_initial_call=True,
)
def expire_silence(_clicks, version):
    """Ends one silence now."""
    # re-rendered buttons arrive with 0 clicks: only a real click counts
    if not ctx.triggered_id or not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    try:
        silences.expire_silence(int(ctx.triggered_id["index"]), None)
    except silences.SilenceInvalid as exc:
        return str(exc), "warning", True, (version or 0) + 1
    return _("Silence expired."), "success", True, (version or 0) + 1
