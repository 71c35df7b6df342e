"""/admin/settings: the business thresholds (segments, churn rules, event benchmarks), editable
by admins with a validation message per field (layout: components/admin_settings_view)."""

import dash

from bi_app.data import settings
from bi_app.errors import ServiceUnavailable
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import admin_settings_view as view

dash.register_page(
    __name__,
    path="/admin/settings",
    name="Settings",
    group="Admin",
    order=95,
    title="Settings · bi-app",
    roles=Page.ADMIN_SETTINGS,
)


def layout(**query):
    try:
        items = settings.describe()
    except ServiceUnavailable:
        return view.unavailable()
    return view.layout(items, current_viewer())
