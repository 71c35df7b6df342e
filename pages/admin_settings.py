"""/admin/settings: the business thresholds (segments, churn rules, event benchmarks), editable
by admins with a validation message per field (layout: components/admin_settings_view)."""

import dash

from bi_app.data import settings
from bi_app.errors import ServiceUnavailable
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import admin_settings_view as view


def _title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("%(page)s · bi-app", page=_("Settings"))


dash.register_page(
    __name__,
    path="/admin/settings",
    name=N_("Settings"),
    group="Admin",
    order=95,
    title=_title,
    roles=Page.ADMIN_SETTINGS,
)


def layout(**query):
    try:
        items = settings.describe()
    except ServiceUnavailable:
        return view.unavailable()
    return view.layout(items, current_viewer())
