"""Admin → Settings: validate every field, save the changes together (admins only, audited)."""

import logging

from dash import ALL, Input, Output, State
from dash.exceptions import PreventUpdate

from bi_app import business_settings
from bi_app.data import settings
from bi_app.errors import ServiceUnavailable
from bi_app.i18n import _
from bi_app.roles import Page
from callbacks._registry import callback
from components.ids import AdminSettings

log = logging.getLogger(__name__)


@callback(
    Output(AdminSettings.MESSAGE, "children"),
    Output(AdminSettings.MESSAGE, "color"),
    Output(AdminSettings.MESSAGE, "is_open"),
    Output(AdminSettings.input(ALL), "invalid"),
    Output(AdminSettings.feedback(ALL), "children"),
    Input(AdminSettings.SAVE, "n_clicks"),
    State(AdminSettings.input(ALL), "value"),
    State(AdminSettings.input(ALL), "id"),
    roles=Page.ADMIN_SETTINGS,
    prevent_initial_call=True,
)
def save(clicks, values, ids):
    """Saves the changed thresholds, or marks each refused field with the reason."""
    if not clicks:
        raise PreventUpdate
    keys = [str(i.get("key")) for i in ids]
    parsed, errors = business_settings.parse_form(dict(zip(keys, values)))
    feedback = [errors.get(k, "") for k in keys]
    if errors:
        return (
            _("Nothing was saved: correct the marked fields."),
            "danger",
            True,
            [bool(f) for f in feedback],
            feedback,
        )
    try:
        changed = settings.save(parsed)
    except (business_settings.SettingError, ServiceUnavailable) as exc:
        text = _("Nothing was saved: %(reason)s", reason=exc)
        return text, "danger", True, [False] * len(keys), [""] * len(keys)
    text = (
        _("Saved %(count)s change(s): %(keys)s.", count=len(changed), keys=", ".join(changed))
        if changed
        else _("No changes to save.")
    )
    return text, "success", True, [False] * len(keys), [""] * len(keys)
